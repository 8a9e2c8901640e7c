"""The CRNN's geometry without torch: input height, stride, and the map between input pixels and output
timesteps (:mod:`recognition.crnn` explains the numbers). The predictor and pre-processing read it, so a
page read with ONNX Runtime needs no torch installed."""
from __future__ import annotations

__all__ = ["HEIGHT", "STRIDE", "timesteps", "step_x"]

HEIGHT = 32
STRIDE = 4


def timesteps(width: int) -> int:
    """Output steps for an input ``width``: pools 2 and 2 give ``W//4``; the two (2,1) pools with padding 1
    add one step each, and the final 2x2 conv without padding removes one: ``W//4 + 1``."""
    return int(width) // 4 + 1


def step_x(t):
    """Centre of timestep ``t`` in input pixels. After the two 2x2 pools a column ``j`` covers pixels
    ``[4j, 4j+4)`` (centre ``4j + 1.5``); each padded (2,1) pool and the 2x2 conv average two neighbouring
    columns, shifting the centre by -2, -0.5 ... net ``4t - 0.5`` as a pixel index, i.e. ``4t`` as a
    continuous coordinate."""
    return STRIDE * t
