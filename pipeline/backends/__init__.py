"""How the networks run (``runtime.backend``): ``torch`` (the ``.pt`` files, :class:`detection.predictor.TorchNetwork`
and :class:`recognition.predictor.TorchNetwork`) or ``onnx`` (the ``.onnx`` files exported from them, run by
ONNX Runtime: :mod:`pipeline.backends.onnx_runtime`). Both give the predictors the same interface, numpy
arrays in and out, so everything around the networks is shared. ``auto`` picks one per machine
(:func:`resolve`)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["BACKENDS", "resolve", "installed", "cpu_has_amx"]

BACKENDS = ("auto", "torch", "onnx")


def installed(module: str) -> bool:
    """Can ``module`` be imported (without importing it)?"""
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):             # blocked in sys.modules, or a broken parent package
        return False


def cpu_has_amx() -> bool:
    """Does this CPU have AMX tiles (the bfloat16 matrix unit torch's bf16 networks run ~3x faster on)? Read
    from the kernel's CPU flags where there are any, so that asking needs no torch; else torch's own check."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        return any(line.startswith("flags") and " amx_tile" in line for line in cpuinfo.read_text().splitlines())
    if not installed("torch"):
        return False
    from training.loop import cpu_has_amx as torch_says

    return torch_says()


def resolve(backend: str, device: str = "cpu", precision: str = "auto") -> str:
    """``torch`` or ``onnx`` for a configured ``backend``. ``auto`` is torch where torch is the faster (a
    CUDA device; bfloat16, asked for or picked by ``precision: auto`` on a CPU with AMX) or ONNX Runtime is
    not installed, and onnx elsewhere: float32 on a CPU without AMX, where ONNX Runtime reads a page faster
    (``benchmarks/page_stages.py``; docs/evaluation.md) and needs no torch installed."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend
    if not installed("onnxruntime"):
        return "torch"
    if not installed("torch"):
        return "onnx"
    if precision == "int8":                       # int8 files run by ONNX Runtime only
        return "onnx"
    if device != "cpu" or precision == "bf16" or (precision == "auto" and cpu_has_amx()):
        return "torch"
    return "onnx"
