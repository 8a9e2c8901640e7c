"""Text-line construction: fine text proposals -> oriented line quads, pure numpy.

Shapes: ``N`` proposals, each a box ``x0, y0, x1, y1`` one stride wide (input pixels) with a text score
and optionally a side-refinement offset (:func:`detection.box_coder.decode_side`).

Steps (after Tian et al. 2016, sec. 3.1, adapted to documents):

1. keep proposals scoring at least ``score_thresh``; non-maximum suppression at ``nms_iou``;
2. link each proposal to its nearest successor to the right: a proposal whose left edge lies within
   ``max_gap`` x (its height) of its right edge, overlapping it vertically by ``min_v_overlap`` of the
   smaller height, with heights within ``min_size_sim`` of each other. Among the candidates of the
   nearest column the best-scoring one is taken, and the link holds only if the proposal is also that
   successor's best predecessor (so a line does not jump to the line below through one noisy box);
3. chains of at least ``min_proposals`` become lines: the centre line is fitted by least squares (keeps a
   small skew) pulled toward level by ``slope_prior`` (short chains have noisy slopes), top and bottom
   edges are the median offsets of the proposals' tops and bottoms from it;
4. the ends move to the side-refinement estimate of the end proposals (when given and the chain has more
   than one proposal: a lone box keeps its own edges); the line score is the
   mean proposal score, and lines under ``min_line_score`` are dropped;
5. a line lying more than ``line_overlap`` (by box area) inside a longer line (more proposals; then a
   better score) is dropped: two chains through the upper and lower halves of one row are one line.

The gap scales with text height: a fixed pixel gap (the original 50 px) merges the columns of a small-
print page and splits the words of a big heading.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detection import box_coder

__all__ = ["TextLineConfig", "TextLine", "nms", "build_lines"]


@dataclass(frozen=True)
class TextLineConfig:
    score_thresh: float = 0.7
    nms_iou: float = 0.3
    max_gap: float = 1.2           # in heights of the left proposal
    min_v_overlap: float = 0.6     # vertical overlap / smaller height
    min_size_sim: float = 0.6      # smaller height / larger height
    min_proposals: int = 1         # 1: a lone box (a digit, a tick) is a line
    min_line_score: float = 0.75
    line_overlap: float = 0.5      # a line more than this much inside a longer / better one is dropped
    slope_prior: float = 4.0       # pulls the slope of short lines toward level (x line height^2)


@dataclass
class TextLine:
    quad: np.ndarray               # 4,2 clockwise from top-left
    score: float
    proposals: np.ndarray          # indices into the proposals given to build_lines

    @property
    def box(self) -> np.ndarray:
        return np.concatenate([self.quad.min(0), self.quad.max(0)])


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first. Boxes that cannot
    overlap (disjoint runs along x: the columns of fine proposals) are suppressed group by group."""
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    if not len(boxes):
        return np.zeros(0, np.int64)
    by_x = np.argsort(boxes[:, 0], kind="stable")
    reach = np.maximum.accumulate(boxes[by_x, 2])
    starts = np.nonzero(boxes[by_x[1:], 0] >= reach[:-1])[0] + 1            # a new group: nothing reaches it
    keep = np.concatenate([g[_greedy_nms(boxes[g], scores[g], iou)] for g in np.split(by_x, starts)])
    return keep[np.argsort(-scores[keep], kind="stable")].astype(np.int64)


def _greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = iw * ih
        order = rest[inter / np.maximum(area[i] + area[rest] - inter, 1e-9) <= iou]
    return np.asarray(keep, np.int64)


def _pairs(b: np.ndarray, cfg: TextLineConfig, right: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(i, c)`` where ``c`` is a candidate neighbour of ``i`` on one side: its left edge
    within ``max_gap`` x (``i``'s height) of ``i``'s facing edge, overlapping ``i`` vertically by
    ``min_v_overlap`` of the smaller height, heights within ``min_size_sim``. Candidates come from
    slices of the proposals sorted by left edge, so this is about linear in N."""
    n = len(b)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    h = b[:, 3] - b[:, 1]
    gap = cfg.max_gap * h
    order = np.argsort(b[:, 0], kind="stable")
    x0 = b[order, 0]
    if right:   # b[i, 0] < b[c, 0] <= b[i, 2] + gap
        lo, hi = np.searchsorted(x0, b[:, 0], "right"), np.searchsorted(x0, b[:, 2] + gap, "right")
    else:       # b[c, 0] < b[i, 0] and b[i, 0] - b[c, 2] <= gap (so b[c, 0] >= b[i, 0] - gap - widest)
        wmax = float((b[:, 2] - b[:, 0]).max())
        lo, hi = np.searchsorted(x0, b[:, 0] - gap - wmax, "left"), np.searchsorted(x0, b[:, 0], "left")
    count = np.maximum(hi - lo, 0)
    i = np.repeat(np.arange(n), count)
    c = order[np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.repeat(lo, count)]
    ok = np.ones(len(i), bool) if right else b[i, 0] - b[c, 2] <= gap[i]
    ov = np.minimum(b[i, 3], b[c, 3]) - np.maximum(b[i, 1], b[c, 1])
    small = np.minimum(h[i], h[c])
    ok &= (ov >= cfg.min_v_overlap * small) & (small >= cfg.min_size_sim * np.maximum(h[i], h[c]))
    return i[ok], c[ok]


def _first_per(i: np.ndarray, n: int, *keys: np.ndarray) -> np.ndarray:
    """For each of ``0..n-1``, the position of its first pair in the order of ``keys`` (most significant
    last, as :func:`numpy.lexsort`), or -1 when it has no pair."""
    srt = np.lexsort(keys + (i,))
    first = np.full(n, -1, np.int64)
    head = np.r_[True, i[srt][1:] != i[srt][:-1]] if len(srt) else np.zeros(0, bool)
    first[i[srt][head]] = srt[head]
    return first


def _fit(b: np.ndarray, s: np.ndarray, side: np.ndarray | None, prior: float = 0.0) -> tuple[np.ndarray, float]:
    cx = (b[:, 0] + b[:, 2]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    dx, dy = cx - cx.mean(), cy - cy.mean()
    h = float(np.median(b[:, 3] - b[:, 1]))
    # least squares pulled toward level by ``prior`` x h^2: a 3-box chain's slope is mostly noise of its
    # boxes' centres (shrunk ~4x at the default), a 15-box line's barely (~2 %)
    slope = float((dx * dy).sum() / ((dx * dx).sum() + prior * h * h)) if np.ptp(cx) > 0 else 0.0
    top = float(np.median(b[:, 1] - slope * cx))
    bot = float(np.median(b[:, 3] - slope * cx))
    left, right = int(np.argmin(b[:, 0])), int(np.argmax(b[:, 2]))
    xl, xr = float(b[left, 0]), float(b[right, 2])
    if side is not None and left != right:   # one proposal: one side estimate cannot place both ends
        w = b[0, 2] - b[0, 0]
        sl = float(box_coder.decode_side(side[[left]], b[[left]])[0])
        sr = float(box_coder.decode_side(side[[right]], b[[right]])[0])
        xl = float(np.clip(sl, b[left, 0] - w, b[left, 2])) if np.isfinite(sl) else xl
        xr = float(np.clip(sr, b[right, 0], b[right, 2] + w)) if np.isfinite(sr) else xr
    quad = np.array([[xl, slope * xl + top], [xr, slope * xr + top], [xr, slope * xr + bot], [xl, slope * xl + bot]])
    return quad, float(s.mean())


def _suppress(lines: list[TextLine], overlap: float) -> list[TextLine]:
    """Drop a line when more than ``overlap`` of it (by box area) lies in a better-scoring line: two
    chains through one row of text (one along its upper half, one along its lower) read as one."""
    if overlap >= 1 or len(lines) < 2:
        return lines
    order = sorted(range(len(lines)), key=lambda i: (-len(lines[i].proposals), -lines[i].score))
    boxes = np.array([ln.box for ln in lines])
    kept: list[int] = []
    for i in order:
        a, k = boxes[i], boxes[kept]
        area = max(1e-9, (a[2] - a[0]) * (a[3] - a[1]))
        inter = (np.clip(np.minimum(a[2], k[:, 2]) - np.maximum(a[0], k[:, 0]), 0, None)
                 * np.clip(np.minimum(a[3], k[:, 3]) - np.maximum(a[1], k[:, 1]), 0, None))
        if not (inter > overlap * area).any():
            kept.append(i)
    return [lines[i] for i in sorted(kept)]


def build_lines(boxes: np.ndarray, scores: np.ndarray, side: np.ndarray | None = None,
                cfg: TextLineConfig = TextLineConfig()) -> list[TextLine]:
    """Text lines from proposals ``boxes (N, 4)``, ``scores (N,)`` and optional ``side (N,)`` offsets,
    sorted top to bottom, then left to right."""
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    idx = np.nonzero(scores >= cfg.score_thresh)[0]
    idx = idx[nms(boxes[idx], scores[idx], cfg.nms_iou)] if len(idx) else idx
    b, s = boxes[idx], scores[idx]
    sd = None if side is None else np.asarray(side, np.float64).reshape(-1)[idx]
    n = len(b)
    succ = np.full(n, -1, np.int64)
    has_pred = np.zeros(n, bool)
    # each proposal's successor candidate: in the nearest column of its right neighbours, the best score
    # (lowest index on a tie); and each proposal's best predecessor score, from its nearest left column
    nxt, best_prev = np.full(n, -1, np.int64), np.full(n, -np.inf)
    ri, rc = _pairs(b, cfg, right=True)
    first = _first_per(ri, n, rc, -s[rc], b[rc, 0])
    nxt[first >= 0] = rc[first[first >= 0]]
    li, lc = _pairs(b, cfg, right=False)
    first = _first_per(li, n, -s[lc], -b[lc, 0])
    best_prev[first >= 0] = s[lc[first[first >= 0]]]
    for i in np.argsort(-s, kind="stable"):  # best first, so a tie for one successor goes to the best
        j = nxt[i]
        # gaps scale with each proposal's own height, so a shorter j may not reach back to i at all
        if j >= 0 and s[i] >= best_prev[j] and not has_pred[j]:
            succ[i], has_pred[j] = j, True
    lines = []
    for start in np.nonzero(~has_pred)[0]:
        chain, k = [], int(start)
        while k >= 0 and len(chain) <= n:
            chain.append(k)
            k = int(succ[k])
        if len(chain) < cfg.min_proposals:
            continue
        c = np.asarray(chain)
        quad, score = _fit(b[c], s[c], None if sd is None else sd[c], cfg.slope_prior)
        if score >= cfg.min_line_score:
            lines.append(TextLine(quad, score, idx[c]))
    lines = _suppress(lines, cfg.line_overlap)
    lines.sort(key=lambda ln: (float(ln.quad[:, 1].mean()), float(ln.quad[0, 0])))
    return lines
