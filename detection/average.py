"""Weight averaging: one detector weight file whose parameters are the weighted mean of several others.

    ocr-train average-detector A.pt B.pt [--weights 0.5 0.5] --out averaged.pt

The mean of a fine-tune and the weights it started from keeps much of what each is good at ("model
soups", Wortsman et al. 2022): the shipped detector is the 0.5 / 0.5 mean of the detector before the
phone-photo fine-tune and that fine-tune's best checkpoint (configs/detector/shipped.yaml). Every
floating tensor (batch-norm running statistics included) is averaged in float32, integer buffers come
from the first file (:func:`training.loop.mean_of`). The inputs must share the architecture and the
anchors, else one clear error; the result's provenance names each input with its weight, steps and
training-time validation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detection import weightfile
from detection.ctpn import CTPN

__all__ = ["average", "write"]


def average(paths: list[str | Path], weights: list[float] | None = None) -> tuple[CTPN, dict, dict]:
    """(model, anchors, provenance) whose floating tensors are ``sum(w_i * file_i) / sum(w_i)``.

    ``weights`` defaults to equal ones. Raises ``ValueError`` when fewer than two files are given, the
    weights do not match the files or are not positive, or the files differ in architecture or anchors.
    """
    from training.loop import mean_of

    def differs(a, b) -> str:
        if b[0].arch() != a[0].arch():
            return f"architecture {b[0].arch()} differs from"
        return f"anchors {b[1]} differ from" if b[1] != a[1] else ""

    return mean_of(paths, weights, weightfile.load, differs)     # weightfile.load gives float32 tensors


def write(files: list[str | Path], weights, out: Path, cfg=None, cache: Path | None = None) -> dict:
    """Write the mean of ``files`` to ``out`` (fp16, as training writes); returns the provenance. The
    detector's means are not scored here (``cfg`` must be None): ``ocr-eval --detect`` scores weight files."""
    if cfg is not None:
        raise ValueError("a detector mean is not scored on a training config (drop score_on; use ocr-eval --detect)")
    model, anchors, prov = average(files, weights)
    weightfile.save(out, model, prov, heights=tuple(anchors["heights"]), width=anchors["width"])
    print(f"wrote {out}: mean of " + ", ".join(f"{a['file']} {a['weight']:.2f}" for a in prov["averaged"]))
    return prov


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-train average-detector", description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="detector weight files of one architecture")
    ap.add_argument("--weights", nargs="+", type=float, help="one positive weight per file (default: equal)")
    ap.add_argument("--out", type=Path, required=True, help="weight file to write (fp16, as training writes them)")
    args = ap.parse_args(argv)
    try:
        write(args.files, args.weights, args.out)
    except (OSError, ValueError) as exc:                 # WeightFileError is a ValueError
        print(f"detection.average: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
