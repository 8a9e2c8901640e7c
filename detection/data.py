"""Detector training data: page-set records and synthetic pages -> scaled, cropped, augmented samples.

Naming: ``gt_*`` ground truth; quads are ``(4, 2)`` arrays clockwise from top-left in the pixels of the
image they belong to.

Real pages label text *segments* (FUNSD: phrases of a form field; SROIE: mostly whole receipt lines, split
where the layout splits them). The detector is asked for lines, so :func:`merge_row_segments` joins
segments of one row that are at most ``max_gap`` line heights apart, the way a reader (and
:mod:`detection.textlines`, which links proposals up to 1.2 heights apart) sees them; farther segments
(a form's label and its value across the page, a receipt's "TOTAL" and its amount) stay separate lines.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["merge_row_segments", "merged_quad", "line_height", "sample_crop", "photometric"]


def merge_row_segments(boxes: np.ndarray, max_gap: float = 1.0, min_v_overlap: float = 0.6,
                       min_size_sim: float = 0.6) -> list[list[int]]:
    """Groups of indices of ``boxes (N, 4)`` that form one line, each group left to right."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    n = len(b)
    h = b[:, 3] - b[:, 1]
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):  # link each segment to the nearest fitting one on its right
        small, big = np.minimum(h[i], h), np.maximum(h[i], h)
        gap = b[:, 0] - b[i, 2]
        ov = np.minimum(b[i, 3], b[:, 3]) - np.maximum(b[i, 1], b[:, 1])
        ok = ((b[:, 0] > b[i, 0]) & (gap >= -0.5 * small) & (gap <= max_gap * (h[i] + h) / 2)
              & (ov >= min_v_overlap * small) & (small >= min_size_sim * big))
        if ok.any():
            best = int(np.argmin(np.where(ok, gap, np.inf)))
            parent[find(best)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [sorted(g, key=lambda k: b[k, 0]) for g in sorted(groups.values(), key=lambda g: (b[g, 1].min(), b[g, 0].min()))]


def merged_quad(boxes: np.ndarray) -> np.ndarray:
    """Quad around segment boxes of one row: a shared slope (least squares through the segment centres)
    and top/bottom edges that contain every segment."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    slope = float(np.polyfit(cx, cy, 1)[0]) if len(b) > 1 and np.ptp(cx) > 0 else 0.0
    xs = np.concatenate([b[:, 0], b[:, 2]])
    top = float(np.min(np.concatenate([b[:, 1], b[:, 1]]) - slope * xs))
    bot = float(np.max(np.concatenate([b[:, 3], b[:, 3]]) - slope * xs))
    xl, xr = float(b[:, 0].min()), float(b[:, 2].max())
    return np.array([[xl, slope * xl + top], [xr, slope * xr + top], [xr, slope * xr + bot], [xl, slope * xl + bot]])


def line_height(quads: list[np.ndarray]) -> float | None:
    """Median height of lines (quad height measured at the middle of each line)."""
    hs = [float(((q[3, 1] - q[0, 1]) + (q[2, 1] - q[1, 1])) / 2) for q in quads]
    hs = [h for h in hs if h > 0]
    return float(np.median(hs)) if hs else None


def sample_crop(image: np.ndarray, gt_quads: list[np.ndarray], ignore_quads: list[np.ndarray], rng: np.random.Generator,
                size: tuple[int, int] = (512, 512), target_height: float = 18.0,
                jitter: tuple[float, float] = (0.7, 1.4), text_bias: float = 0.85):
    """Scale the page so its median line is ``target_height`` x a random factor from ``jitter`` tall, then
    cut a ``size`` (h, w) window: around a random line with probability ``text_bias``, anywhere otherwise.
    Pages smaller than the window are padded with their paper colour. Returns the crop and the quads in
    crop pixels (lines cut by the window edge keep their outside parts, so no false ends are made)."""
    med = line_height(gt_quads) or target_height
    s = target_height * float(rng.uniform(*jitter)) / med
    h, w = image.shape[:2]
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    ch, cw = size
    sub = img[::4, ::4]                                   # paper colour: a median over every 16th pixel is plenty
    paper = np.median(sub.reshape(-1, sub.shape[-1]) if sub.ndim == 3 else sub.reshape(-1), axis=0).astype(np.uint8)
    if gt_quads and rng.random() < text_bias:
        q = gt_quads[int(rng.integers(len(gt_quads)))] * s
        cx, cy = float(rng.uniform(q[:, 0].min(), q[:, 0].max())), float(q[:, 1].mean())
        x0 = int(np.clip(cx - rng.uniform(0.1, 0.9) * cw, min(0, nw - cw), max(0, nw - cw)))
        y0 = int(np.clip(cy - rng.uniform(0.1, 0.9) * ch, min(0, nh - ch), max(0, nh - ch)))
    else:
        x0 = int(rng.integers(min(0, nw - cw), max(0, nw - cw) + 1))
        y0 = int(rng.integers(min(0, nh - ch), max(0, nh - ch) + 1))
    crop = np.empty((ch, cw) + img.shape[2:], np.uint8)
    crop[...] = paper
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(nw, x0 + cw), min(nh, y0 + ch)
    crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    shift = np.array([x0, y0], np.float64)
    keep = lambda qs: [q * s - shift for q in qs if _meets(q * s - shift, cw, ch)]
    return crop, keep(gt_quads), keep(ignore_quads)


def _meets(q: np.ndarray, w: int, h: int) -> bool:
    return q[:, 0].max() > 0 and q[:, 0].min() < w and q[:, 1].max() > 0 and q[:, 1].min() < h


def photometric(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Light appearance changes for real pages (geometry untouched): contrast and brightness, gamma,
    blur, noise, JPEG, occasionally gray."""
    out = img.astype(np.float32)
    a = 1.0 + strength * rng.uniform(-0.35, 0.2)
    out = (out - 128.0) * a + 128.0 + strength * rng.uniform(-30, 30)
    out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** float(np.exp(strength * rng.uniform(-0.4, 0.4)))
    if rng.random() < 0.3 * strength:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.4 * strength:
        out = out + rng.normal(0, rng.uniform(2, 10), out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3 * strength:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(out.shape)
    if out.ndim == 3 and rng.random() < 0.2 * strength:
        out = np.repeat(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return out
