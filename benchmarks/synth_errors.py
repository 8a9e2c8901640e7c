"""Where the recognizer's errors on synthetic test lines are: CER by degradation profile, font size and
the generator's legibility score, for one or more weight files side by side on the same lines.

    python benchmarks/synth_errors.py [--seed 31337] [--count 1000] [--beam 1] [--no-reread] [WEIGHTS ...]

Lines are ``synth.lines.LineGenerator(seed).line(i)`` for i < count, the lines ``ocr-synth lines OUT
--pageset --seed 31337 --count 1000`` writes for the recognizer's synthetic target (a seed no training
config uses). Without WEIGHTS the shipped recognizer is read. Every file is read as ``pipeline.load()``
reads the shipped one: in the precision it picks (bf16 on CPUs with AMX) and with dense readings read
again wider (``recognizer.reread_*`` in ``configs/default.yaml``; ``--no-reread`` turns that off). Texts
are compared as ``ocr-eval --crops`` compares them (whitespace runs as one space, case-sensitive). Each
column is one weight file; each row is CER over the lines of that group, with the group's line count and,
for the first weight file, its share of all errors. This is a diagnostic, not a test: it prints figures
and asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_SIZES = (10, 12, 16, 20, 28)                   # font-size bucket edges in px (LineConfig.height)
_CONTRAST = (0.0, 1.0, 1.5, 2.5)                # synth.degrade.ink_contrast bucket edges


def _bucket(rank: int, name: str, value: float, edges: tuple, unit: str = "") -> tuple:
    """(sort key, ``name lo-hi``) of the half-open bucket [lo, hi) holding ``value``; ``name lo+`` for the last."""
    i = max(0, sum(value >= e for e in edges) - 1)
    hi = f"-{edges[i + 1]:g}" if i + 1 < len(edges) else "+"
    return (rank, i), f"{name} {edges[i]:g}{hi}{unit}"


def _groups(meta: dict) -> list[tuple]:
    """The (sort key, label) of every group a line belongs to; rows print in sort-key order."""
    con = meta["contrast"]
    return [((0, 0), "all"), ((1, meta["profile"]), f"profile {meta['profile']}"),
            _bucket(2, "size", meta["size"], _SIZES, "px"),
            ((3, -1), "contrast none") if con is None else _bucket(3, "contrast", con, _CONTRAST)]


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch

    import recognition
    from pipeline import resolve_precision
    from pipeline.config import load as load_pipeline_config
    from training.metrics import edit_distance
    from recognition.predictor import Recognizer
    from synth.config import load as load_synth
    from synth.lines import LineGenerator

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="*", type=Path, help="recognizer weight files (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=31337)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-reread", action="store_true",
                    help="do not read dense readings again wider (recognizer.reread_stretch: 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    files = args.weights or [recognition.weights_path()]
    rc = load_pipeline_config().recognizer                 # configs/default.yaml, as pipeline.load() reads it
    settings = {**asdict(rc), "beam_width": args.beam, **({"reread_stretch": 1.0} if args.no_reread else {})}
    gen = LineGenerator(load_synth().line, seed=args.seed)
    samples = [gen.line(i) for i in range(args.count)]
    gts = [" ".join(s.text.split()) for s in samples]
    tagged = [_groups(s.meta) for s in samples]
    groups = [[label for _, label in t] for t in tagged]
    names = [label for _, label in sorted({g for t in tagged for g in t})]
    cols = []
    for f in files:
        rec = Recognizer.from_file(f, precision=resolve_precision("auto", "cpu"), **settings)
        preds = [" ".join(r.text.split()) for r in rec([s.image for s in samples])]
        eds = np.array([edit_distance(g, p) for g, p in zip(gts, preds)])
        err, chars, n = defaultdict(int), defaultdict(int), defaultdict(int)
        for gs, e, g in zip(groups, eds, gts):
            for k in gs:
                err[k] += int(e)
                chars[k] += len(g)
                n[k] += 1
        rate = eds / np.maximum(1, [len(g) for g in gts])                  # each line's CER
        top = np.argsort(-rate)[:max(1, args.count // 20)]
        cols.append({"file": f, "err": err, "chars": chars, "n": n,
                     "worst5": eds[top].sum() / max(1, eds.sum()), "bad": int((rate > 0.5).sum())})
    head = f"{'group':<22}{'lines':>6}" + "".join(f"{'CER ' + str(i + 1):>9}" for i in range(len(cols))) + "  share1"
    print(f"seed {args.seed}, {args.count} lines, beam {args.beam}, "
          + ("no re-reading" if args.no_reread else f"dense readings read again {rc.reread_stretch}x wider"))
    for i, c in enumerate(cols):
        print(f"  {i + 1}: {c['file']}")
    print(head)
    base = cols[0]
    for k in names:
        row = f"{k:<22}{base['n'][k]:>6}" + "".join(f"{c['err'][k] / max(1, c['chars'][k]):>9.4f}" for c in cols)
        print(row + f"  {base['err'][k] / max(1, base['err']['all']):>6.2f}")
    print(f"{'errors in worst 5 %':<28}" + "".join(f"{c['worst5']:>9.2f}" for c in cols))
    print(f"{'lines with CER > 0.5':<28}" + "".join(f"{c['bad']:>9d}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
