"""Training targets for CTPN: ground-truth lines -> fine boxes -> anchor labels and regression targets.

Shape shorthand: ``L`` text lines, ``K`` fine boxes, ``H,W`` feature map, ``A`` anchors per position,
``M = H*W*A`` anchors in :func:`detection.anchors.grid` order. Naming: ``gt_*`` ground truth.

A line (its quad, clockwise from top-left, in input pixels) is cut into fine boxes one stride wide
aligned to the feature columns (:func:`fine_boxes`): column ``j`` gets box ``[j*s, y0, (j+1)*s, y1]``
where ``y0..y1`` is the quad's vertical extent inside the column, so a skewed line becomes a staircase.
Because an anchor of column ``j`` spans that same column, the IoU of an anchor and a fine box is their
vertical IoU in the same column and 0 elsewhere; :func:`assign` uses that to stay fast on full pages.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection import box_coder

__all__ = ["TargetConfig", "Targets", "as_quad", "column_extent", "fine_boxes", "assign", "sample"]


@dataclass(frozen=True)
class TargetConfig:
    pos_iou: float = 0.7          # positive above this IoU with a fine box (or best anchor of a fine box)
    neg_iou: float = 0.5          # negative below this IoU with every fine box
    side_range: float = 32.0      # side-refinement targets for anchors this close to a line's end (pixels)
    samples: int = 256            # anchors sampled per image for the score loss
    pos_fraction: float = 0.5     # at most this share of the sample is positive
    min_cover: float = 0.5        # a column gets a fine box when the line covers this share of its width


@dataclass
class Targets:
    labels: np.ndarray      # M int8: 1 text, 0 background, -1 not scored
    vert: np.ndarray        # M,2 float32 [v_c, v_h]; meaningful where labels == 1
    side: np.ndarray        # M float32 side offset o; meaningful where side_mask
    side_mask: np.ndarray   # M bool


def as_quad(shape) -> np.ndarray:
    """``(4, 2)`` quad from a box ``[x0, y0, x1, y1]`` or a quad ``[[x, y]] * 4``."""
    a = np.asarray(shape, np.float64)
    if a.shape == (4,):
        x0, y0, x1, y1 = a
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if a.shape == (4, 2):
        return a
    raise ValueError(f"expected a box [x0, y0, x1, y1] or a quad of 4 points, got shape {a.shape}")


def column_extent(quad: np.ndarray, xa: float, xb: float) -> tuple[float, float] | None:
    """Vertical extent ``(y0, y1)`` of a convex quad between ``x = xa`` and ``x = xb``, or None if it misses."""
    q = np.asarray(quad, np.float64)
    ys = list(q[(q[:, 0] >= xa) & (q[:, 0] <= xb), 1])                  # corners inside the strip
    p, r = q, np.roll(q, -1, axis=0)                                     # edges p -> r
    for x in (xa, xb):
        span = (p[:, 0] - x) * (r[:, 0] - x) <= 0                       # edges crossing this vertical
        dx = r[:, 0] - p[:, 0]
        ok = span & (np.abs(dx) > 1e-12)
        t = (x - p[ok, 0]) / dx[ok]
        ys += list(p[ok, 1] + t * (r[ok, 1] - p[ok, 1]))
    return (min(ys), max(ys)) if ys else None


def fine_boxes(lines: list, stride: int, min_cover: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Cut lines (boxes or quads) into ``(K, 4)`` stride-wide fine boxes; also ``(K,)`` their line index.

    A column is kept when the line covers at least ``min_cover`` of its width; a line too short for any
    such column keeps the column holding its centre, so every line has at least one fine box.
    """
    boxes, owner = [], []
    for li, shape in enumerate(lines):
        q = as_quad(shape)
        xl, xr = q[:, 0].min(), q[:, 0].max()
        if xr <= xl:
            continue
        cols = range(int(np.floor(xl / stride)), int(np.ceil(xr / stride)))
        keep = [j for j in cols if min(xr, (j + 1) * stride) - max(xl, j * stride) >= min_cover * stride]
        if not keep:
            keep = [int(np.floor((xl + xr) / 2 / stride))]
        for j in keep:
            ext = column_extent(q, max(xl, j * stride), min(xr, (j + 1) * stride))
            if ext is None or ext[1] - ext[0] < 1.0:
                continue
            boxes.append([j * stride, ext[0], (j + 1) * stride, ext[1]])
            owner.append(li)
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(owner, np.int64)


def _vertical_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` IoU of ``y`` intervals (columns 1 and 3 of boxes)."""
    inter = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    union = (a[:, None, 3] - a[:, None, 1]) + (b[None, :, 3] - b[None, :, 1]) - inter
    return inter / np.maximum(union, 1e-9)


def assign(anchors: np.ndarray, feat_shape: tuple[int, int, int], stride: int, gt_lines: list,
           ignore: list | None = None, cfg: TargetConfig = TargetConfig()) -> Targets:
    """Label the ``M`` anchors of a ``(H, W, A)`` grid against ground-truth lines (boxes or quads).

    Positive: IoU > ``pos_iou`` with a fine box, or the best anchor of a fine box. Negative: IoU below
    ``neg_iou`` with every fine box and not overlapping an ``ignore`` line (IoU >= ``neg_iou`` with one of
    its fine boxes). The rest are not scored. Positives regress to their best fine box; those whose
    centre lies within ``side_range`` of their line's left or right end also get a side target.
    """
    h, w, a = feat_shape
    m = h * w * a
    assert anchors.shape == (m, 4), (anchors.shape, feat_shape)
    grid_a = anchors.reshape(h, w, a, 4)
    labels = np.zeros(m, np.int8)
    best_iou = np.zeros(m)
    best_fine = np.full(m, -1, np.int64)
    gt_fine, gt_owner = fine_boxes(gt_lines, stride, cfg.min_cover)
    ig_fine, _ = fine_boxes(ignore or [], stride, cfg.min_cover)
    flat = np.arange(m).reshape(h, w, a)
    forced = []
    for j in range(w):
        col = grid_a[:, j].reshape(-1, 4)                                   # H*A,4
        idx = flat[:, j].reshape(-1)                                        # H*A
        if len(ig_fine):
            sel = np.nonzero((ig_fine[:, 0] // stride).astype(np.int64) == j)[0]
            if len(sel):
                labels[idx[_vertical_iou(col, ig_fine[sel]).max(1) >= cfg.neg_iou]] = -1
        sel = np.nonzero((gt_fine[:, 0] // stride).astype(np.int64) == j)[0] if len(gt_fine) else []
        if not len(sel):
            continue
        iou = _vertical_iou(col, gt_fine[sel])                              # H*A,n_j
        k = iou.argmax(1)
        best_iou[idx] = iou[np.arange(len(idx)), k]
        best_fine[idx] = sel[k]
        for c in range(len(sel)):                                           # best anchor of each fine box
            top = int(iou[:, c].argmax())
            if iou[top, c] > 0:
                forced.append((idx[top], sel[c]))
    labels[(best_iou >= cfg.neg_iou) & (labels == 0)] = -1
    labels[best_iou > cfg.pos_iou] = 1
    for i, f in forced:
        labels[i], best_fine[i] = 1, f
    vert = np.zeros((m, 2), np.float32)
    side = np.zeros(m, np.float32)
    side_mask = np.zeros(m, bool)
    pos = np.nonzero(labels == 1)[0]
    if len(pos):
        vert[pos] = box_coder.encode(gt_fine[best_fine[pos]], anchors[pos])
        quads = [as_quad(s) for s in gt_lines]
        ends = np.array([[q[:, 0].min(), q[:, 0].max()] for q in quads])[gt_owner[best_fine[pos]]]  # P,2
        cx = (anchors[pos, 0] + anchors[pos, 2]) / 2
        dl, dr = np.abs(cx - ends[:, 0]), np.abs(cx - ends[:, 1])
        x_side = np.where(dl <= dr, ends[:, 0], ends[:, 1])
        near = np.minimum(dl, dr) <= cfg.side_range
        side[pos[near]] = box_coder.encode_side(x_side[near], anchors[pos[near]])
        side_mask[pos[near]] = True
    return Targets(labels, vert, side, side_mask)


def sample(labels: np.ndarray, rng: np.random.Generator, n: int, pos_fraction: float) -> np.ndarray:
    """Keep at most ``n`` scored anchors, at most ``pos_fraction`` of them positive; the rest become -1."""
    out = np.full_like(labels, -1)
    pos, neg = np.nonzero(labels == 1)[0], np.nonzero(labels == 0)[0]
    n_pos = min(len(pos), int(n * pos_fraction))
    n_neg = min(len(neg), n - n_pos)
    out[rng.choice(pos, n_pos, replace=False)] = 1
    out[rng.choice(neg, n_neg, replace=False)] = 0
    return out
