"""How the networks run (``runtime.backend``): ``torch`` (the ``.pt`` files, :class:`detection.predictor.TorchNetwork`
and :class:`recognition.predictor.TorchNetwork`) or ``onnx`` (the ``.onnx`` files exported from them, run by
ONNX Runtime: :mod:`pipeline.backends.onnx_runtime`). Both give the predictors the same interface, numpy
arrays in and out, so everything around the networks is shared."""
from __future__ import annotations

__all__ = ["BACKENDS"]

BACKENDS = ("torch", "onnx")
