"""Line crops -> network input: gray, height 32 with the aspect ratio kept, batched with right padding.

Shapes: a prepared crop is ``(32, w)`` uint8; :func:`batch` gives ``(B, 1, 32, Wmax + PAD)`` float in
[-1, 1] plus the crop widths ``(B,)``. Padding is mid-gray (0.0 after scaling) and the model masks the
padded steps. Every crop gets at least ``PAD`` columns of it: the CNN's receptive field is 54 pixels wide
(27 either side of a step's centre), so with 32 columns the crop's own steps see the same input whether it is
alone or beside wider crops, and its text cannot depend on its batch.
"""
from __future__ import annotations

import cv2
import numpy as np

from recognition.geometry import HEIGHT

__all__ = ["to_gray", "border", "light_on_dark", "cut_tight", "add_margins", "resize_height", "batch_array",
           "batch", "MIN_WIDTH", "PAD"]

MIN_WIDTH = 8
PAD = 32


def to_gray(img: np.ndarray) -> np.ndarray:
    """uint8 gray of an RGB, RGBA or gray array."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"crops must be uint8 arrays, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        code = cv2.COLOR_RGBA2GRAY if img.shape[2] == 4 else cv2.COLOR_RGB2GRAY
        img = cv2.cvtColor(img, code)
    if img.ndim != 2 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"a crop must be a non-empty HxW or HxWxC array, got shape {img.shape}")
    return img


def border(a: np.ndarray) -> np.ndarray:
    """The outermost pixels of a 2-D array (top and bottom rows, first and last columns), flat: mostly the
    ground around a line crop's text."""
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def light_on_dark(gray: np.ndarray) -> bool:
    """Whether a gray crop looks like light text on a dark ground: the dark side of its Otsu threshold holds
    most of its pixels (the ground outweighs the strokes) and most of its edge pixels (top and bottom rows,
    first and last columns: mostly the ground around a line). Dark text on a light ground, what nearly
    every page and training line shows, gives False, also in a cell whose dark rules frame the crop."""
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = gray <= t
    return bool(dark.mean() > 0.5 and border(dark).mean() > 0.5)


def cut_tight(gray: np.ndarray, band: float = 0.08) -> bool:
    """Whether a gray crop is cut tight to its text, above and below: characters (ink components no wider
    than two heights) reach from its middle row into its top ``band`` of rows, and others (or the same) into
    its bottom band. The network learned lines with a margin of ground (5-40 % of the text's height above and
    below, :class:`synth.config.LineConfig`); a crop without one, as users and datasets cut them, it reads
    about twice as badly. Taken at height 32; ink is what is darker than 3/4 of the local ground (a closing
    half that height wide, which follows shading as in phone photos and fills strokes); a light-on-dark crop
    is inverted first. A shadow in a photo's corner, or a rule, does not reach the middle row as one narrow
    component, and lines with margins of their own are not cut tight."""
    g = resize_height(gray)
    if light_on_dark(g):
        g = 255 - g
    k = HEIGHT // 2 | 1
    ground = cv2.morphologyEx(g, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    ink = (g.astype(np.float32) < 0.75 * ground.astype(np.float32)).astype(np.uint8)
    _, label, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    chars = set(np.flatnonzero(stats[:, cv2.CC_STAT_WIDTH] <= 2 * HEIGHT).tolist()) - {0}   # 0: the ground
    middle = chars & set(label[HEIGHT // 2].tolist())
    b = max(1, round(band * HEIGHT))
    return bool(middle & set(label[:b].ravel().tolist()) and middle & set(label[-b:].ravel().tolist()))


def add_margins(gray: np.ndarray, y: float = 0.1, x: float = 0.2) -> tuple[np.ndarray, int]:
    """The crop with ``y`` of its height added above and below and ``x`` of it at each end, in the median
    gray of its outermost rows and columns (mostly ground), and the columns added at the left."""
    h = gray.shape[0]
    py, px = int(round(y * h)), int(round(x * h))
    return cv2.copyMakeBorder(gray, py, py, px, px, cv2.BORDER_CONSTANT, value=int(np.median(border(gray)))), px


def resize_height(gray: np.ndarray, max_width: int = 4096, stretch: float = 1.0) -> np.ndarray:
    """Resize to height 32 keeping the aspect ratio (times ``stretch``), width clamped to [8, max_width]."""
    h, w = gray.shape
    nw = int(np.clip(round(w * HEIGHT / h * stretch), MIN_WIDTH, max_width))
    interp = cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR
    return cv2.resize(gray, (nw, HEIGHT), interpolation=interp)


def batch_array(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack prepared (32, w) uint8 crops into (B,1,32,Wmax+PAD) float32 in [-1, 1], right-padded with 0,
    and their widths (B,) int64: what every backend's network takes."""
    widths = [ln.shape[1] for ln in lines]
    wmax = max(widths) + PAD
    x = np.zeros((len(lines), 1, HEIGHT, wmax), np.float32)
    for i, ln in enumerate(lines):
        x[i, 0, :, :ln.shape[1]] = ln.astype(np.float32) / 127.5 - 1.0
    return x, np.array(widths, np.int64)


def batch(lines: list[np.ndarray]):
    """:func:`batch_array` as torch tensors (training)."""
    import torch

    x, widths = batch_array(lines)
    return torch.from_numpy(x), torch.from_numpy(widths)


def width_batches(widths: list[int], batch_size: int, batch_pixels: int) -> list[list[int]]:
    """Indices grouped into batches of similar widths (sorted narrow to wide), each at most ``batch_size`` lines
    and ``batch_pixels`` columns in all once padded to its widest line (a single wider line still gets a batch)."""
    order = np.argsort(widths, kind="stable").tolist()
    groups, cur = [], []
    for i in order:
        if cur and (len(cur) >= batch_size or (len(cur) + 1) * widths[i] > batch_pixels):
            groups.append(cur)
            cur = []
        cur.append(i)
    return groups + ([cur] if cur else [])
