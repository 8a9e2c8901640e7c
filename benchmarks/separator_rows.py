"""How the recognizer reads typed separator rows (``------``, ``= = =``, ``***** TOTAL *****``, dot leaders),
for one or more weight files side by side on the same synthetic lines.

    python benchmarks/separator_rows.py [--seed 31338] [--count 500] [WEIGHTS ...]

Lines are ``synth.lines.LineGenerator(seed).line(i, kind="separator")`` for i < count, the lines
``ocr-synth lines OUT --pageset --kind separator --seed 31338 --count 500`` writes. Without WEIGHTS the shipped
recognizer is read, with the shipped decoding (``configs/default.yaml``, language model on), as
``pipeline.load()`` reads it. Per file:

- ``CER``: as ``ocr-eval --crops`` scores (whitespace runs as one space, case-sensitive). How many symbols a
  run holds is often unknowable (underscores merge into one rule), so this counts a 30-dash rule read as 28
  dashes as 2 errors;
- ``CER runs``: the same with every run of one symbol (3 or more, spaced or not) written as 3 of it;
- ``invented``: lines whose reading holds a letter or digit their text does not (the garbage a user sees:
  ``*****`` read as ``soloicicl``), and the letters and digits read beyond the text's count.

A diagnostic, not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_RUN = re.compile(r"([^A-Za-z0-9 ])(?: ?\1){2,}")


def collapse_runs(text: str) -> str:
    """``text`` with every run of one symbol (3 or more, maybe spaced) as 3 of it: ``a -----`` -> ``a ---``."""
    return " ".join(_RUN.sub(lambda m: m.group(1) * 3, text).split())


def invented(gt: str, pred: str) -> tuple[bool, int]:
    """(whether ``pred`` holds a letter or digit ``gt`` does not, how many more letters and digits it holds)."""
    g, p = [c for c in gt if c.isalnum()], [c for c in pred if c.isalnum()]
    return bool(set(p) - set(g)), max(0, len(p) - len(g))


def main(argv: list[str] | None = None) -> int:
    import torch

    import recognition
    from pipeline import resolve_precision
    from pipeline.config import load as load_pipeline_config
    from training.metrics import crop_scores
    from recognition.predictor import Recognizer
    from synth.config import load as load_synth
    from synth.lines import LineGenerator

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="*", type=Path, help="recognizer weight files (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=31338)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    files = args.weights or [recognition.weights_path()]
    settings = asdict(load_pipeline_config().recognizer)
    gen = LineGenerator(load_synth().line, seed=args.seed)
    samples = [gen.line(i, kind="separator") for i in range(args.count)]
    gts = [s.text for s in samples]
    print(f"seed {args.seed}, {args.count} separator lines, shipped decoding")
    print(f"{'weights':<44}{'CER':>8}{'exact':>8}{'CER runs':>10}{'invented lines':>16}{'chars':>7}")
    for f in files:
        rec = Recognizer.from_file(f, lm=recognition.lm_path(), precision=resolve_precision("auto", "cpu"), **settings)
        preds = [r.text for r in rec([s.image for s in samples])]
        s = crop_scores(gts, preds)
        c = crop_scores([collapse_runs(t) for t in gts], [collapse_runs(t) for t in preds])
        inv = [invented(g, p) for g, p in zip(gts, preds)]
        name = str(f) if len(str(f)) <= 42 else "..." + str(f)[-39:]
        print(f"{name:<44}{s['CER']:>8.4f}{s['exact']:>8.3f}{c['CER']:>10.4f}"
              f"{sum(b for b, _ in inv):>10d} / {len(inv):<3d}{sum(n for _, n in inv):>7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
