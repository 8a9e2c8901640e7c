"""The upside-down check on real pages: every validation page of the real page sets and every sample,
read upright and turned 180 degrees, for one or more recognizer weight files side by side.

    python benchmarks/flip_check.py [--sets ../shared/data/real/funsd ../shared/data/real/sroie]
                                    [--limit N] [WEIGHTS ...]

Each page goes through the whole pipeline (``pipeline.load()`` with ``configs/default.yaml``; a WEIGHTS
file replaces the shipped recognizer, read as ``pipeline.load()`` reads it). A reading is right when the
page comes out turned the right way: ``Page.angle`` within 90 degrees of 0 for the page as given, of 180
for the turned one. Beside the count of right readings it prints what :meth:`pipeline.OCR.flip_evidence`
weighed, which says how close the check came to failing:

- ``upright gain max``: the largest confidence an upright page's median line gained by being read turned
  (the page is turned when this exceeds ``page.flip_margin``, 0);
- ``turned gain min``: the smallest gain of a page given upside down (it must exceed the margin);
- ``turned skip max``: the highest mean upright confidence of an upside-down page's longest lines (at
  ``page.flip_skip``, 0.94, the check would not run and the page would stay upside down);
- ``upright skipped``: upright pages whose lines read confidently enough to skip the turned reading.

This is a diagnostic for choosing weights, not a test: it prints figures and asserts nothing. Run it with
nothing else busy; a whole page takes about a second on 2 CPU threads, so 74 pages read both ways take
about 2.5 minutes per weight file.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_SETS = (_ROOT.parent / "shared/data/real/funsd", _ROOT.parent / "shared/data/real/sroie")


def _pages(sets: list[Path], limit: int) -> list[Path]:
    """Validation page images of each page set (the split ``ocr-eval --split val`` uses), then the samples."""
    from synth import pageset

    out = []
    for folder in sets:
        val = pageset.split(pageset.read(folder), "val", folder.resolve().name)
        out += [Path(p.image) for p in (val[:limit] if limit else val)]
    return out + sorted((_ROOT / "samples").glob("*.jpg"))


def _check(ocr, images: list, label: str) -> dict:
    """Read every page as given and turned 180 degrees; the counts and extremes described above."""
    import numpy as np
    from tqdm import tqdm

    seen = []                                         # (upright, gain) of the latest page's check

    def upside_down(strips, reads):                   # OCR._upside_down, noting what it weighed
        seen.append(ocr.flip_evidence(strips, reads))
        return seen[-1][1] is not None and seen[-1][1] > ocr.config.page.flip_margin

    ocr._upside_down = upside_down
    res = {"right": 0, "total": 0, "upright_gain": [], "turned_gain": [], "turned_skip": [], "skipped": 0, "wrong": []}
    for path, rgb in tqdm(images, desc=label, unit="page"):
        for turned, img in ((False, rgb), (True, np.ascontiguousarray(rgb[::-1, ::-1]))):
            seen.clear()
            angle = ocr.read_array(img, str(path)).angle
            upright, gain = seen[0] if seen else (math.nan, None)
            right = abs((angle - (180.0 if turned else 0.0) + 180.0) % 360.0 - 180.0) < 90.0
            res["right"] += right
            res["total"] += 1
            if not right:
                res["wrong"].append(f"{path.name} ({'turned' if turned else 'upright'}, angle {angle:.1f})")
            if turned:
                res["turned_skip"].append(upright)      # a turned page that skipped the check is wrong
            elif gain is None:
                res["skipped"] += 1
            if gain is not None:
                res["turned_gain" if turned else "upright_gain"].append(gain)
    return res


def main(argv: list[str] | None = None) -> int:
    from dataclasses import asdict

    import torch

    import pipeline
    import recognition
    from pipeline import images as imageio
    from recognition.predictor import Recognizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="*", type=Path, help="recognizer weight files (default: the shipped one)")
    ap.add_argument("--sets", nargs="+", type=Path, default=list(_SETS), help="page-set folders (val split)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N validation pages of each set")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        pages = [(p, imageio.load(p)) for p in _pages(args.sets, args.limit)]
    except (FileNotFoundError, ValueError) as exc:
        print(f"flip_check: {exc}", file=sys.stderr)
        return 2
    ocr = pipeline.load()
    rec = ocr.recognizer
    files = args.weights or [recognition.weights_path()]
    cols = []
    for i, f in enumerate(files):
        ocr.recognizer = (rec if not args.weights else
                          Recognizer.from_file(f, precision=rec.precision, **asdict(ocr.config.recognizer)))
        cols.append(_check(ocr, pages, f"weights {i + 1}"))
    fmt = lambda xs, agg: f"{agg(xs):+.3f}" if xs else "-"
    rows = [("right", lambda c: f"{c['right']}/{c['total']}"),
            ("upright gain max", lambda c: fmt(c["upright_gain"], max)),
            ("turned gain min", lambda c: fmt(c["turned_gain"], min)),
            ("turned skip max", lambda c: f"{max((u for u in c['turned_skip'] if u == u), default=math.nan):.3f}"),
            ("upright skipped", lambda c: f"{c['skipped']}/{c['total'] // 2}")]
    print(f"{len(pages)} pages, each read as given and turned 180 degrees")
    for i, f in enumerate(files):
        print(f"  {i + 1}: {f}")
    print(f"{'':<18}" + "".join(f"{'weights ' + str(i + 1):>12}" for i in range(len(cols))))
    for name, cell in rows:
        print(f"{name:<18}" + "".join(f"{cell(c):>12}" for c in cols))
    for i, c in enumerate(cols):
        for w in c["wrong"]:
            print(f"weights {i + 1} wrong: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
