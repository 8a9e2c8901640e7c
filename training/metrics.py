"""Pure metrics shared by ``ocr-eval`` (:mod:`pipeline.evaluate`) and both trainers' validation.

Ground truth and predictions come as plain tuples: ``gt`` = ``[(box, text, ignore)]`` or ``[(box, ignore)]``,
``pred`` = ``[(box, text)]`` or ``[box or quad]``; a box is ``(x0, y0, x1, y1)`` in page pixels, a quad four
``(x, y)`` points. Texts are compared with whitespace runs as one space (lines) or removed (segments).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

__all__ = ["edit_distance", "token_counts", "seg_cer_counts", "coverage_counts", "prf", "poly", "crop_scores"]


# ---- page and segment metrics -----------------------------------------------------------------------------------
def edit_distance(a: str, b: str, substring: bool = False) -> int:
    """Levenshtein distance from ``a`` to ``b``; with ``substring=True``, to the best substring of ``b``.

    Row-by-row dynamic programming over ``a``; the insertion chain within a row is the running minimum
    ``D[i][j] = j + min_{k<=j}(E[k] - k)``, which vectorises the row with numpy.
    """
    n, m = len(a), len(b)
    if n == 0:
        return 0 if substring else m
    if m == 0:
        return n
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    j = np.arange(m + 1)
    prev = np.zeros(m + 1, np.int64) if substring else j.copy()
    for i, ch in enumerate(a, 1):
        cost = (bb != ord(ch)).astype(np.int64)
        e = np.empty(m + 1, np.int64)
        e[0] = i
        e[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = j + np.minimum.accumulate(e - j)
    return int(prev.min() if substring else prev[m])


_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff])")


def _norm_tokens(text: str) -> Counter:
    """Case-folded whitespace tokens; each Chinese character is a token of its own (Chinese is written
    without spaces, so a whitespace token would be a whole line: character level, as CER is)."""
    return Counter(_HAN.sub(r" \1 ", text.casefold()).split())


def token_counts(gt_texts: list[str], pred_texts: list[str]) -> tuple[int, int, int]:
    """(matched, n_gt, n_pred) tokens (:func:`_norm_tokens`), case-folded, as multisets."""
    g = _norm_tokens(" ".join(gt_texts))
    p = _norm_tokens(" ".join(pred_texts))
    return sum((g & p).values()), sum(g.values()), sum(p.values())


def _same_row(g, p) -> bool:
    gh, ph = g[3] - g[1], p[3] - p[1]
    v = min(g[3], p[3]) - max(g[1], p[1])
    h = min(g[2], p[2]) - max(g[0], p[0])
    return v > 0.5 * min(gh, ph) and h > 0


def seg_cer_counts(gt: list[tuple], pred: list[tuple]) -> tuple[int, int]:
    """(edits, chars) of seg_CER for ``gt`` = [(box, text, ignore)] and ``pred`` = [(box, text)]."""
    edits = chars = 0
    norm_pred = [(b, "".join(t.split()).casefold()) for b, t in pred]
    for box, text, ignore in gt:
        g = "".join(text.split()).casefold()
        if ignore or not g:
            continue
        chars += len(g)
        cands = [t for b, t in norm_pred if _same_row(box, b)]
        edits += min((edit_distance(g, t, substring=True) for t in cands), default=len(g))
    return edits, chars


def poly(points_or_box, grow: float = 0.0):
    from shapely.geometry import Polygon, box as sbox

    if len(points_or_box) == 4 and not hasattr(points_or_box[0], "__len__"):
        x0, y0, x1, y1 = points_or_box
        if x1 - x0 < 1:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 - y0 < 1:
            y0, y1 = y0 - 0.5, y1 + 0.5
        return sbox(x0 - grow, y0 - grow, x1 + grow, y1 + grow)
    p = Polygon(points_or_box)
    if not p.is_valid:
        p = p.buffer(0)
    return p.buffer(grow, join_style=2) if grow else p


def coverage_counts(gt: list[tuple], pred: list) -> tuple[int, int, int, int]:
    """(found, n_gt, precise, n_pred) for ``gt`` = [(box, ignore)] and ``pred`` = [box or quad]."""
    from shapely.ops import unary_union

    pred_polys = [p for p in (poly(x) for x in pred) if p.area > 0]
    gt_polys = [(poly(b), ig) for b, ig in gt]
    found = n_gt = precise = 0
    if pred_polys:
        u = unary_union(pred_polys)
        for g, ig in gt_polys:
            if ig:
                continue
            n_gt += 1
            found += g.area > 0 and g.intersection(u).area >= 0.5 * g.area
    else:
        n_gt = sum(1 for _, ig in gt_polys if not ig)
    if gt_polys:
        ug = unary_union([poly(b, grow=3.0) for b, _ in gt])
        precise = sum(1 for p in pred_polys if p.intersection(ug).area >= 0.5 * p.area)
    return found, n_gt, precise, len(pred_polys)


def prf(hit_p: int, n_p: int, hit_r: int, n_r: int) -> tuple[float, float, float]:
    p = hit_p / n_p if n_p else (1.0 if n_r == 0 else 0.0)
    r = hit_r / n_r if n_r else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def crop_scores(gt_texts: list[str], pred_texts: list[str]) -> dict:
    """``CER``, ``CER_ci`` (case-folded) and ``exact`` of line readings, whitespace runs as one space."""
    e = eci = chars = exact = 0
    for gt, pred in zip(gt_texts, pred_texts):
        g, p = " ".join(gt.split()), " ".join(pred.split())
        e += edit_distance(g, p)
        eci += edit_distance(g.casefold(), p.casefold())
        chars += len(g)
        exact += g == p
    n = len(gt_texts)
    return {"CER": e / chars if chars else 0.0, "CER_ci": eci / chars if chars else 0.0,
            "exact": exact / n if n else 0.0}
