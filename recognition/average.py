"""Weight averaging: one recognizer weight file whose parameters are the weighted mean of several others.

    ocr-train average-recognizer A.pt B.pt [--weights 0.5 0.5] [--config CFG --cache DIR] --out averaged.pt
    (recognition.train.average_main: scoring the mean needs the trainer's validation sets)

Averaging the weights of runs that share a trajectory (one started from the other's last checkpoint) lands
between their optima and often reads better than either ("model soups", Wortsman et al. 2022; stochastic
weight averaging, Izmailov et al. 2018); the shipped recognizer is such a mean (configs/recognizer/shipped.yaml).
Every floating-point tensor (batch-norm running statistics included) is averaged in float32;
integer buffers (batch norm's step counters, unused in eval mode) are taken from the first file. The inputs
must share the architecture and the charset, else one clear error. The result's provenance names each
input with its weight, steps and training-time validation, and carries the union of their data sources;
with ``--config`` the mean itself is scored on that training config's validation sets (``val``), as a run
scores its checkpoints (``--cache``: the run's cache folder, so the sets are not drawn or cut again).
"""
from __future__ import annotations

from pathlib import Path

from recognition import weightfile
from recognition.charset import Charset
from recognition.crnn import CRNN

__all__ = ["average"]


def average(paths: list[str | Path], weights: list[float] | None = None) -> tuple[CRNN, Charset, dict]:
    """(model, charset, provenance) whose floating tensors are ``sum(w_i * file_i) / sum(w_i)``.

    ``weights`` defaults to equal ones. Raises ``ValueError`` when fewer than two files are given, the
    weights do not match the files or are not positive, or the files differ in architecture or charset.
    """
    from training.loop import mean_of

    def differs(a, b) -> str:
        if b[0].arch() != a[0].arch():
            return f"architecture {b[0].arch()} differs from"
        return "charset differs from" if b[1] != a[1] else ""

    return mean_of(paths, weights, weightfile.load, differs)     # weightfile.load gives float32 tensors
