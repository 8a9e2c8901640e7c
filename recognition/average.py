"""Weight averaging: one recognizer weight file whose parameters are the weighted mean of several others.

    ocr-train average-recognizer A.pt B.pt [--weights 0.5 0.5] [--config CFG --cache DIR] --out averaged.pt

Averaging the weights of runs that share a trajectory (one started from the other's last checkpoint) lands
between their optima and often reads better than either ("model soups", Wortsman et al. 2022; stochastic
weight averaging, Izmailov et al. 2018). Stage 18 ships such a mean of stage 17's and stage 18's last
checkpoints. Every floating-point tensor (batch-norm running statistics included) is averaged in float32;
integer buffers (batch norm's step counters, unused in eval mode) are taken from the first file. The inputs
must share the architecture and the charset, else one clear error. The result's provenance names each
input with its weight, steps and training-time validation, and carries the union of their data sources;
with ``--config`` the mean itself is scored on that training config's validation sets (``val``), as a run
scores its checkpoints (``--cache``: the run's cache folder, so the sets are not drawn or cut again).
A config with detected-row validation sets needs the page pipeline's row cutter, which ``ocr-train
average-recognizer`` passes (``python -m recognition.average`` serves the other configs).
"""
from __future__ import annotations

import argparse
import sys
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


def main(argv: list[str] | None = None, rows=None) -> int:
    """``rows``: the row cutter for the config's detected-row validation sets (recognition.train.RowCutter)."""
    ap = argparse.ArgumentParser(prog="ocr-train average-recognizer", description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="recognizer weight files of one architecture and charset")
    ap.add_argument("--weights", nargs="+", type=float, help="one positive weight per file (default: equal)")
    ap.add_argument("--config", type=Path, help="training config whose validation sets score the mean")
    ap.add_argument("--cache", type=Path, help="cache folder of that config's run (default: none, draw and cut anew)")
    ap.add_argument("--out", type=Path, required=True, help="weight file to write (fp16, as training writes them)")
    args = ap.parse_args(argv)
    try:
        model, charset, prov = average(args.files, args.weights)
        cfg = None
        if args.config is not None:
            from recognition.train import load_config
            cfg = load_config(args.config)
    except (OSError, ValueError) as exc:                 # WeightFileError is a ValueError
        print(f"recognition.average: {exc}", file=sys.stderr)
        return 2
    if cfg is not None:
        from recognition.predictor import Recognizer
        from recognition.train import val_sets, validate

        prov["val"] = validate(Recognizer(model, charset), val_sets(cfg, charset, args.cache, rows))
        prov["val_note"] = f"training-time validation subset of {args.config}, read by the mean"
    weightfile.save(args.out, model, charset, prov)
    shares = ", ".join(f"{a['file']} {a['weight']:.2f}" for a in prov["averaged"])
    print(f"wrote {args.out}: mean of {shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
