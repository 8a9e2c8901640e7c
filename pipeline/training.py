"""Pieces both trainers share (``recognition.train``, ``detection.train``): the learning-rate schedule,
atomic checkpoint writes, and the loss/validation plot drawn from a run's CSV log."""
from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path

import torch

__all__ = ["lr_factor", "atomic_save", "plot_log"]


def lr_factor(step: int, warmup: int, steps: int, final: float) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``final`` x the base rate at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed run never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


_warned = False


def plot_log(log: Path, png: Path, loss_label: str, val_label: str, val_log: bool = True) -> None:
    """Two panels from ``log`` (CSV with ``step``, ``loss`` and ``val_*`` columns): training loss, and
    every validation column over steps. Skipped, with one warning, when matplotlib is missing."""
    global _warned
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if not _warned:
            print("ocr-train: matplotlib is not installed (pip install 'ocr-page[train]'), so no curves.png",
                  file=sys.stderr)
            _warned = True
        return
    with open(log, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    tr = [r for r in rows if r["loss"]]
    a.plot([int(r["step"]) for r in tr], [float(r["loss"]) for r in tr])
    a.set(xlabel="step", ylabel=loss_label, yscale="log", title="training loss")
    for col in [c for c in rows[0] if c.startswith("val_")]:
        pts = [(int(r["step"]), float(r[col])) for r in rows if r[col]]
        if pts:
            b.plot(*zip(*pts), marker="o", label=col[4:])
    b.set(xlabel="step", ylabel=val_label, yscale="log" if val_log else "linear", title="validation")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
