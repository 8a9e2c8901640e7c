"""CTPN anchors: ``A`` fixed-width vertical anchors at every position of a stride-``s`` feature grid.

Shape shorthand: ``H,W`` feature map, ``A`` anchors per position (10 by default). Boxes are
``x0, y0, x1, y1`` floats in *continuous* input-pixel coordinates: pixel ``k`` spans ``[k, k + 1)``, so
feature column ``j`` covers input ``x`` in ``[j*s, (j+1)*s)``. The anchor centre is ``(j*s + offset,
i*s + offset)``; with ``offset = s / 2`` (what the detector passes) the anchors of column ``j`` span that
column exactly, which is also where :mod:`detection.targets` puts the ground-truth fine boxes.
"""
from __future__ import annotations

import numpy as np

__all__ = ["HEIGHTS", "WIDTH", "base_anchors", "grid"]

HEIGHTS = (11, 16, 23, 33, 48, 68, 97, 139, 198, 283)  # ~x1.43 apart: every text height is within 18% of one
WIDTH = 16


def base_anchors(heights: tuple[float, ...] = HEIGHTS, width: float = WIDTH) -> np.ndarray:
    """``(A, 4)`` anchors centred on ``(0, 0)``: ``[-w/2, -h/2, w/2, h/2]``, in the order of ``heights``."""
    h = np.asarray(heights, np.float64)
    w = np.full_like(h, float(width))
    return np.stack([-w / 2, -h / 2, w / 2, h / 2], axis=1)


def grid(feat_h: int, feat_w: int, stride: int, offset: float, heights: tuple[float, ...] = HEIGHTS,
         width: float = WIDTH) -> np.ndarray:
    """All anchors of an ``H x W`` feature map, ``(H*W*A, 4)``, ordered like ``reshape(H, W, A, 4)``.

    The order matches the detector head's outputs flattened from ``(B, H, W, A, ...)``.
    """
    base = base_anchors(heights, width)                                       # A,4
    ys = np.arange(feat_h, dtype=np.float64) * stride + offset                # H
    xs = np.arange(feat_w, dtype=np.float64) * stride + offset                # W
    cy, cx = np.meshgrid(ys, xs, indexing="ij")                               # H,W
    centres = np.stack([cx, cy, cx, cy], axis=-1)[:, :, None, :]              # H,W,1,4
    return (centres + base[None, None]).reshape(-1, 4)                        # H*W*A,4
