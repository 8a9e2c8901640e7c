"""Crop/deskew: a text-line quad on the page -> a horizontal gray strip of height 32, aspect ratio kept.

Geometry. A detected line is a quad (4,2) clockwise from top-left. Its reading direction ``u`` is the mean
of its top and bottom edges, ``n`` is ``u`` turned 90 degrees (pointing down the page), its length ``L`` the
mean edge length along ``u`` and its height ``h`` the mean extent along ``n``. The strip is the rotated
rectangle around the quad's centre, grown by ``pad_x * h`` at both ends and ``pad_y * h`` above and below
(descenders, accents and a loose detector edge stay inside), scaled so its height is 32. The map from
page pixels to strip pixels is therefore one affine map (rotation, scale and shift; the scale is the
same along and across the line unless a very long line is squeezed to ``max_width``):
the line's own skew is removed, character shapes are not sheared, and :meth:`LineCrop.to_page` inverts it
exactly (that is how the recognizer's character positions become word boxes on the page).

Sampling. When the strip is smaller than the line on the page (the usual case at 200-600 dpi) the line
is first warped at its own resolution and then reduced with area averaging, so thin strokes of large text
do not alias; when it is larger, it is warped straight to the strip with bilinear interpolation.
Pixels outside the page repeat the page edge (no black bars for the recognizer to read).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CropConfig", "LineCrop", "line_frame", "crop_line", "crop_lines", "to_gray"]

HEIGHT = 32


@dataclass(frozen=True)
class CropConfig:
    pad_y: float = 0.15       # added above and below, as a fraction of the line height
    pad_x: float = 0.3        # added at each end, as a fraction of the line height
    height: int = HEIGHT      # strip height (the recognizer's input height)
    max_width: int = 4096     # strips wider than this are squeezed to it
    retry_pad_y: float = 0.3  # a line of a page in one of retry_langs read less confidently than
    retry_below: float = 0.9  # retry_below is cut again with this pad_y and read again, the more
    retry_langs: tuple[str, ...] = ("zh",)  # confident reading kept (retry_pad_y 0: never)

    def __post_init__(self):
        import recognition

        if self.pad_y < 0 or self.pad_x < 0 or self.retry_pad_y < 0:
            raise ValueError(f"crop paddings must be >= 0, got pad_y {self.pad_y}, pad_x {self.pad_x}, "
                             f"retry_pad_y {self.retry_pad_y}")
        if not 0.0 <= self.retry_below <= 1.0:
            raise ValueError(f"retry_below must be within 0 and 1, got {self.retry_below}")
        if not set(self.retry_langs) <= set(recognition.LANGS):
            raise ValueError(f"retry_langs must be among {', '.join(recognition.LANGS)}, got {list(self.retry_langs)}")


@dataclass
class LineCrop:
    """A line strip and the map back to the page: ``matrix`` (2,3) takes page (x, y) to strip (x, y)."""
    image: np.ndarray          # (height, w) uint8 gray
    matrix: np.ndarray         # (2, 3) float64, page -> strip

    def to_page(self, points) -> np.ndarray:
        """Strip pixels (N,2) -> page pixels (N,2)."""
        inv = cv2.invertAffineTransform(self.matrix)
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return p @ inv[:, :2].T + inv[:, 2]

    def to_strip(self, points) -> np.ndarray:
        """Page pixels (N,2) -> strip pixels (N,2)."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return p @ self.matrix[:, :2].T + self.matrix[:, 2]


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 gray of an RGB or gray page."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def line_frame(quad) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(centre, u, length, height)`` of a quad: centre (2,), unit reading direction ``u`` (2,),
    length along ``u`` and height along ``n = (-u_y, u_x)`` (down the page when ``u`` points right)."""
    q = np.asarray(quad, np.float64).reshape(4, 2)
    tl, tr, br, bl = q
    d = (tr - tl) + (br - bl)
    norm = float(np.hypot(*d))
    u = d / norm if norm > 1e-9 else np.array([1.0, 0.0])
    n = np.array([-u[1], u[0]])
    rel = q - q.mean(0)
    along, across = rel @ u, rel @ n
    length = float(((along[1] - along[0]) + (along[2] - along[3])) / 2)
    height = float(((across[3] - across[0]) + (across[2] - across[1])) / 2)
    centre = q.mean(0)
    return centre, u, max(length, 1.0), max(height, 1.0)


def _similarity(centre: np.ndarray, u: np.ndarray, sx: float, sy: float, out_w: float, out_h: float) -> np.ndarray:
    """(2,3) map: page point p -> (sx (p - centre) . u, sy (p - centre) . n) + (out - 1) / 2, so the centre
    lands mid-image (pixel centres sit on integers: an image ``out`` wide spans -0.5 ... out - 0.5)."""
    n = np.array([-u[1], u[0]])
    rot = np.stack([u * sx, n * sy])                                           # 2,2
    return np.concatenate([rot, ((np.array([out_w, out_h]) - 1) / 2 - rot @ centre)[:, None]], axis=1)


def crop_line(gray: np.ndarray, quad, cfg: CropConfig = CropConfig()) -> LineCrop:
    """The strip of one line of a gray page (see the module docstring)."""
    if gray.ndim != 2:
        raise ValueError(f"crop_line expects a gray page (H,W), got shape {gray.shape}")
    centre, u, length, height = line_frame(quad)
    box_w = length + 2 * cfg.pad_x * height                                   # page pixels
    box_h = height * (1 + 2 * cfg.pad_y)
    scale = cfg.height / box_h
    out_w = int(np.clip(round(box_w * scale), 8, cfg.max_width))
    sx = out_w / box_w                                                         # = scale unless clipped
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
    if scale < 1:                                                              # warp at native size, then area-reduce
        nw, nh = max(out_w, int(round(box_w))), max(cfg.height, int(round(box_h)))
        native = cv2.warpAffine(gray, _similarity(centre, u, 1.0, 1.0, nw, nh), (nw, nh), flags=flags, borderMode=border)
        img = cv2.resize(native, (out_w, cfg.height), interpolation=cv2.INTER_AREA)
        fx, fy = out_w / nw, cfg.height / nh                                   # cv2.resize keeps pixel centres:
        m = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5]]) @ np.vstack(   # x' = f x + f/2 - 1/2
            [_similarity(centre, u, 1.0, 1.0, nw, nh), [0, 0, 1]])
    else:
        m = _similarity(centre, u, sx, scale, out_w, cfg.height)
        img = cv2.warpAffine(gray, m, (out_w, cfg.height), flags=flags, borderMode=border)
    return LineCrop(img, m)


def crop_lines(image: np.ndarray, quads, cfg: CropConfig = CropConfig()) -> list[LineCrop]:
    """Strips of every quad of a page (RGB or gray), in the order given."""
    gray = to_gray(image)
    return [crop_line(gray, q, cfg) for q in quads]
