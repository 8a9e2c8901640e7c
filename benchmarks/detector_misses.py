"""What the detector misses on the dev pages, by kind of text.

    python benchmarks/detector_misses.py [--sets DIR ...] [--split val] [--detector FILE ...]
                                         [--threads 2] [--json benchmarks/figures/detector_misses.json]

Every ground-truth segment (``ignore`` left out) of the SROIE and FUNSD pages of ``--split`` is found or
missed as ``ocr-eval --detect`` counts it (at least half its box under the detected lines). Each segment
is put in the kinds below; a segment may be of several kinds, or of none ("plain"). Per kind: how many
segments, how many missed, the miss rate, and the kind's share of all misses, so what to fix first reads
off the table:

- ``vertical``: a box over twice as tall as wide holding 3 or more characters (text running up the page,
  such as the document numbers along FUNSD's margins; a horizontal-line detector is not built for it);
- ``small``: box height below 0.6 of the page's median segment height; ``large``: above 1.8 of it
  (headings, logos; vertical boxes are neither);
- ``short``: at most 2 characters (a tick, a lone digit, "x");
- ``light``: the ink's contrast with the paper around it (the box's 5th and 95th gray percentiles) below 80
  gray levels out of 255: light print, faded thermal paper, stamps;
- ``edge``: the box within 1 % of the page's size of its border;
- ``rule``: a row or column within a third of the box's height of its edges is dark over 85 % of the box's
  width or height: a form rule, a table line or an underline touching the text.

``--detector`` adds a column set for each weight file (``pipeline.load(detector_weights=)``) beside the
shipped detector, so a fine-tune is judged on what it finds, kind by kind. Detection only: no recognizer.
A diagnostic with printed figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_REAL = _ROOT.parent / "shared/data/real"
KINDS = ("vertical", "small", "large", "short", "light", "edge", "rule", "plain")


def kinds(gray, box, text: str, med_h: float) -> list[str]:
    """The kinds (module docstring) of the segment ``text`` at ``box`` = (x0, y0, x1, y1) on page ``gray``;
    ``["plain"]`` when it is of none."""
    import numpy as np

    H, W = gray.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    h, w = max(1, y1 - y0), max(1, x1 - x0)
    chars = len("".join(text.split()))
    out = ["short"] if chars <= 2 else []
    if h > 2 * w and chars >= 3:
        out.append("vertical")
    elif h < 0.6 * med_h:
        out.append("small")
    elif h > 1.8 * med_h:
        out.append("large")
    patch = gray[y0:y1, x0:x1]
    if patch.size:
        lo, hi = np.percentile(patch, (5, 95))
        if hi - lo < 80:
            out.append("light")
    m = 0.01 * max(H, W)
    if x0 <= m or y0 <= m or x1 >= W - m or y1 >= H - m:
        out.append("edge")
    g = max(2, h // 3)
    dark = gray < 128
    rows = dark[max(0, y0 - g):min(H, y1 + g), x0:x1]
    cols = dark[y0:y1, max(0, x0 - g):min(W, x1 + g)]
    if (rows.size and rows.mean(1).max() > 0.85) or (cols.size and cols.mean(0).max() > 0.85 and h > 4):
        out.append("rule")
    return out or ["plain"]


def main(argv: list[str] | None = None) -> int:
    import cv2
    import numpy as np
    import torch
    from tqdm import tqdm

    import pipeline
    from pipeline import images
    from training.metrics import poly as _poly
    from shapely.ops import unary_union
    from synth import pageset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="*", type=Path, default=[_REAL / "sroie", _REAL / "funsd"])
    ap.add_argument("--split", default="val", choices=("all", "train", "val"))
    ap.add_argument("--detector", nargs="*", type=Path, default=[], help="weight files measured beside the shipped one")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    for folder in args.sets:
        if not folder.is_dir():
            print(f"detector_misses: {folder}: no such folder", file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    systems = [("shipped", pipeline.load(threads=args.threads))]
    systems += [(str(f), pipeline.load(threads=args.threads, detector_weights=f)) for f in args.detector]
    names = [n for n, _ in systems]
    # counts[set][system][kind] = [segments, missed]
    counts = {f.name: {n: {k: [0, 0] for k in KINDS + ("all",)} for n in names} for f in args.sets}
    for folder in args.sets:
        pages = pageset.split(pageset.read(folder), args.split, folder.name)
        for page in tqdm(pages, desc=folder.name, unit="page"):
            rgb = images.load(page.image)
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            segs = [ln for ln in page.lines if not ln.ignore]
            if not segs:
                continue
            med_h = float(np.median([ln.box[3] - ln.box[1] for ln in segs]))
            seg_kinds = [kinds(gray, ln.box, ln.text, med_h) for ln in segs]
            for name, ocr in systems:
                polys = [p for p in (_poly(ln.quad.tolist()) for ln in ocr.detect(rgb)) if p.area > 0]
                u = unary_union(polys) if polys else None
                for ln, ks in zip(segs, seg_kinds):
                    poly = _poly(ln.box)
                    found = u is not None and poly.area > 0 and poly.intersection(u).area >= 0.5 * poly.area
                    for k in ks + ["all"]:
                        counts[folder.name][name][k][0] += 1
                        counts[folder.name][name][k][1] += not found
    head = f"{'kind':<8}" + "".join(f"{'segs':>7}{'missed':>8}{'rate':>7}{'share':>7}" for _ in names)
    print("\n" + "  ".join(f"[{i + 1}] {n}" for i, n in enumerate(names)))
    for set_name, per in counts.items():
        print(f"\n{set_name} ({args.split})\n{head}")
        for k in KINDS + ("all",):
            line = f"{k:<8}"
            for n in names:
                segs, missed = per[n][k]
                total = per[n]["all"][1]
                line += f"{segs:>7}{missed:>8}{missed / max(1, segs):>7.3f}{missed / max(1, total):>7.2f}"
            print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"split": args.split, "systems": names, "counts": counts}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
