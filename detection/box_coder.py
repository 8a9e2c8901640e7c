"""CTPN box coding: vertical deltas and the side-refinement offset, pure numpy.

Shapes: ``N`` boxes or anchors, each ``x0, y0, x1, y1``. For an anchor with centre ``c_y^a``, height
``h^a``, centre ``c_x^a`` and width ``w^a``:

* vertical: ``v_c = (c_y - c_y^a) / h^a`` and ``v_h = log(h / h^a)`` (Tian et al. 2016, eq. 2);
* side: ``o = (x_side - c_x^a) / w^a`` for the left or right end ``x_side`` of a text line (eq. 4).

Round-trip invariant: ``decode(encode(gt, a), a) == gt`` for any ``gt`` with ``y1 > y0`` whose ``x`` extent is
the anchor's (a fine box in the anchor's column): the vertical code keeps ``y0, y1`` and the horizontal
extent comes from the anchor. Likewise ``decode_side(encode_side(x, a), a) == x`` for any ``x``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["encode", "decode", "encode_side", "decode_side"]


def _cy_h(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (b[:, 1] + b[:, 3]) / 2.0, b[:, 3] - b[:, 1]


def encode(gt: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``(N, 2)`` targets ``[v_c, v_h]`` of boxes ``gt (N, 4)`` relative to ``anchors (N, 4)``."""
    gt, anchors = np.asarray(gt, np.float64), np.asarray(anchors, np.float64)
    cy, h = _cy_h(gt)
    cya, ha = _cy_h(anchors)
    if np.any(h <= 0):
        raise ValueError("encode: boxes need y1 > y0")
    return np.stack([(cy - cya) / ha, np.log(h / ha)], axis=1)


def decode(deltas: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``(N, 4)`` boxes from ``deltas (N, 2)``: the anchors' ``x`` extent with the decoded ``y0, y1``."""
    deltas, anchors = np.asarray(deltas, np.float64), np.asarray(anchors, np.float64)
    cya, ha = _cy_h(anchors)
    cy = deltas[:, 0] * ha + cya
    h = np.exp(np.clip(deltas[:, 1], -10.0, 10.0)) * ha  # clip: an untrained head must not overflow
    return np.stack([anchors[:, 0], cy - h / 2, anchors[:, 2], cy + h / 2], axis=1)


def encode_side(x_side: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``(N,)`` side offsets ``o`` of line ends ``x_side (N,)`` relative to ``anchors (N, 4)``."""
    anchors = np.asarray(anchors, np.float64)
    return (np.asarray(x_side, np.float64) - (anchors[:, 0] + anchors[:, 2]) / 2.0) / (anchors[:, 2] - anchors[:, 0])


def decode_side(o: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``(N,)`` line-end ``x`` from side offsets ``o (N,)``."""
    anchors = np.asarray(anchors, np.float64)
    return np.asarray(o, np.float64) * (anchors[:, 2] - anchors[:, 0]) + (anchors[:, 0] + anchors[:, 2]) / 2.0
