"""How the recognizer puts letters in case on real line crops, for one or more weight files side by side.

    python benchmarks/case_check.py [--sets FOLDER ...] [WEIGHTS ...]

Reads the validation ground-truth crops of each page-set folder (default ``../shared/data/real/funsd`` and
``../shared/data/real/sroie``, cut as ``ocr-eval --crops`` cuts them) with the shipped decoding
(``configs/default.yaml``, language model on), as ``pipeline.load()`` reads them. Without WEIGHTS the shipped
recognizer is read. Per set and file:

- ``CER`` and ``CER_ci`` as ``ocr-eval --crops`` scores them; their difference is the share of edits that are
  case alone. SROIE's labels are all upper case even where the print is lower case, so its ``CER`` says
  nothing about case; only ``CER_ci`` and the next column count there;
- ``mixed``: words (runs of 3 or more letters) read in a case that is none of UPPER, lower and Capitalized
  (``PrICE``, ``ROUNdING``, ``GrANd``), out of all such words read. Real text holds few (``McDonald``); the
  ground truth's own count is printed for scale;
- ``lower``: the share of those words read with a lower-case letter (lower or Capitalized).

A diagnostic, not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_WORD = re.compile(r"[A-Za-z]{3,}")


def case_kinds(texts: list[str]) -> tuple[int, int, int]:
    """(words of 3+ letters, those in mixed case, those with a lower-case letter) over ``texts``."""
    words = [w for t in texts for w in _WORD.findall(t)]
    mixed = [w for w in words if not (w.isupper() or w.islower() or (w[0].isupper() and w[1:].islower()))]
    return len(words), len(mixed), sum(not w.isupper() for w in words)


def main(argv: list[str] | None = None) -> int:
    import torch

    import recognition
    from pipeline import resolve_precision
    from pipeline.config import load as load_pipeline_config
    from pipeline.evaluate import crop_scores, gt_crops
    from recognition.predictor import Recognizer
    from synth import pageset

    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="*", type=Path, help="recognizer weight files (default: the shipped one)")
    ap.add_argument("--sets", nargs="+", type=Path,
                    default=[root.parent / "shared/data/real/funsd", root.parent / "shared/data/real/sroie"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    files = args.weights or [recognition.weights_path()]
    settings = asdict(load_pipeline_config().recognizer)
    sets = []
    for folder in args.sets:
        pages = pageset.split(pageset.read(folder), "val", folder.resolve().name)
        items = list(gt_crops(pages))
        sets.append((folder.resolve().name, [c for c, _ in items], [t for _, t in items]))
    print(f"{'set':<8}{'weights':<44}{'CER':>8}{'CER_ci':>8}{'mixed':>14}{'lower':>8}")
    for name, _, gts in sets:
        n, mixed, lower = case_kinds(gts)
        print(f"{name:<8}{'(ground truth)':<44}{'':>8}{'':>8}{mixed:>7d} / {n:<5d}{lower / max(1, n):>8.3f}")
    for f in files:
        rec = Recognizer.from_file(f, lm=recognition.lm_path(), precision=resolve_precision("auto", "cpu"), **settings)
        label = str(f) if len(str(f)) <= 42 else "..." + str(f)[-39:]
        for name, crops, gts in sets:
            preds = [r.text for r in rec(crops)]
            s = crop_scores(gts, preds)
            n, mixed, lower = case_kinds(preds)
            print(f"{name:<8}{label:<44}{s['CER']:>8.4f}{s['CER_ci']:>8.4f}{mixed:>7d} / {n:<5d}{lower / max(1, n):>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
