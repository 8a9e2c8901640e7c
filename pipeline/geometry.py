"""Page geometry: skew angle and the maps between the page and its upright copy.

Conventions: angles in degrees, counter-clockwise positive as the page is seen (image y runs down). The
*upright* copy of a page is the page turned by ``-angle`` about its centre (and onto a canvas that holds
all of it); :class:`Upright` carries the (2,3) maps both ways so boxes found on the upright copy go back
to the pixels of the image the user gave.

Skew (:func:`estimate_skew`): the ink of a page of horizontal text lines, projected onto the vertical
axis, gives sharp peaks (lines) and empty valleys (leading) only at the right angle. The score of an
angle is the sum of squares of that projection's histogram (:func:`_score`); it is searched from
``-max_angle`` to ``max_angle`` in 0.5-degree steps on a quarter of the points, then refined in
0.05-degree steps around the best on all of them: the ink pixels of a copy of the page at most 1000 px
long, sampled to 40k points. A few tens of milliseconds, no image rotation.

Which quarter turn makes a page upright is not decided here: ink layout alone mistakes tall receipts and
columns of figures for sideways text, so :mod:`pipeline.orientation` asks the models.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ink_points", "estimate_skew", "Upright", "upright", "upright_map"]


def _ink_points(gray: np.ndarray, side: int = 1000, max_points: int = 40000, seed: int = 0) -> tuple[np.ndarray, float]:
    """(N,2) x,y of ink pixels of a copy at most ``side`` px long, and that copy's scale."""
    h, w = gray.shape
    s = min(1.0, side / max(h, w))
    g = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else gray
    block = max(15, int(min(g.shape) / 25) | 1)
    ink = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 15)
    # drop big blobs (photos, black borders, rules thicker than text): they carry no line structure
    n, lab, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    big = (st[:, 3] > 0.08 * g.shape[0]) | (st[:, 2] > 0.5 * g.shape[1])
    big[0] = True
    keep = ~big[lab]
    ys, xs = np.nonzero(keep)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    if len(pts) > max_points:
        pts = pts[np.random.default_rng(seed).choice(len(pts), max_points, replace=False)]
    return pts, s


def _score(pts: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """Peakiness of the ink projected across lines tilted by each angle: the sum of squared row counts,
    over that of all the ink in one row (1). Only angles of one point set are compared. It is not divided
    by the number of rows the projection spans: tilting a lone line spreads its ink over more rows, and
    a score relative to ink spread evenly over those rows stays flat for one line whatever the angle
    (one short line of a born-digital page came out 5-9 degrees off, and misread)."""
    t = np.deg2rad(angles_deg)[:, None]
    y = pts[None, :, 1] * np.cos(t) - pts[None, :, 0] * np.sin(t)   # A,N: height across a line tilted by t
    y = np.round(y - y.min(1, keepdims=True)).astype(np.int64)
    out = np.empty(len(angles_deg))
    for i in range(len(angles_deg)):
        c = np.bincount(y[i])
        out[i] = float(np.dot(c, c)) / len(pts) ** 2
    return out


def _thin(pts: np.ndarray, n: int = 10000) -> np.ndarray:
    """Every k-th point, at most about ``n``: enough for the coarse searches (the 0.5-degree skew grid, the
    quarter-turn skews); the 0.05-degree refinement uses every point."""
    return pts[::max(1, len(pts) // n)]


def ink_points(gray: np.ndarray) -> np.ndarray:
    """The ink sample :func:`estimate_skew` measures (find it once, pass it to each call)."""
    return _ink_points(gray)[0]


def estimate_skew(gray: np.ndarray | None, max_angle: float = 15.0, pts: np.ndarray | None = None) -> float:
    """Skew of the text lines of a gray page in degrees (counter-clockwise positive, as seen), 0.0 when
    there is too little ink to tell; ``-max_angle..max_angle`` is searched."""
    pts = ink_points(gray) if pts is None else pts
    if len(pts) < 200:
        return 0.0
    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.5)
    best = float(coarse[np.argmax(_score(_thin(pts), coarse))])
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.05)
    fine = fine[np.abs(fine) <= max_angle + 1e-9]
    sc = _score(pts, fine)
    if sc.max() - sc.min() < 1e-6 * sc.max():
        return 0.0
    # image y runs down: lines rising to the right (counter-clockwise as seen) need t < 0 above
    return round(-float(fine[np.argmax(sc)]), 2)


@dataclass
class Upright:
    """The upright copy of a page: ``image``, the page turned by ``-angle``; ``to_upright`` / ``to_page``
    (2,3) maps between page pixels and upright pixels."""
    image: np.ndarray
    angle: float
    to_upright: np.ndarray
    to_page: np.ndarray

    def points_to_page(self, pts) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        return p @ self.to_page[:, :2].T + self.to_page[:, 2]

    def points_to_upright(self, pts) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        return p @ self.to_upright[:, :2].T + self.to_upright[:, 2]


def upright_map(h: int, w: int, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """(2,3) map from the pixels of an ``h`` x ``w`` page to its upright copy (the page turned by ``-angle``
    degrees about its centre onto a canvas that holds all of it), and that canvas's ``(H, W)``."""
    a = float(angle) % 360.0
    quarter = round(a / 90.0) % 4
    if abs(a - 90.0 * round(a / 90.0)) < 1e-9:                   # exact quarter turns: pixels move, none blend
        m = {0: [[1, 0, 0], [0, 1, 0]], 1: [[0, -1, h - 1], [1, 0, 0]],
             2: [[-1, 0, w - 1], [0, -1, h - 1]], 3: [[0, 1, 0], [-1, 0, w - 1]]}[quarter]
        return np.array(m, np.float64), ((h, w) if quarter % 2 == 0 else (w, h))
    c = ((w - 1) / 2, (h - 1) / 2)
    m = cv2.getRotationMatrix2D(c, -a, 1.0)                      # cv2: positive = counter-clockwise as seen
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += (nw - 1) / 2 - c[0]
    m[1, 2] += (nh - 1) / 2 - c[1]
    return m, (nh, nw)


def upright(image: np.ndarray, angle: float, border=(255, 255, 255)) -> Upright:
    """The page turned by ``-angle`` degrees onto a canvas that holds all of it (multiples of 90 are exact
    pixel turns; the rest are interpolated, with ``border`` filling the corners)."""
    h, w = image.shape[:2]
    m, (nh, nw) = upright_map(h, w, angle)
    a = float(angle) % 360.0
    if abs(a - 90.0 * round(a / 90.0)) < 1e-9:
        quarter = round(a / 90.0) % 4
        rot = [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE][quarter]
        out = image if rot is None else cv2.rotate(image, rot)
    else:
        border = border if image.ndim == 3 else int(np.mean(border))
        out = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border)
    return Upright(out, float(angle), m, cv2.invertAffineTransform(m))
