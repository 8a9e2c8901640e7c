"""The orientation decision on every real dev page, as given and turned 90, 180 and 270 degrees.

    python benchmarks/orientation.py [--sets DIR ...] [--limit N] [--threads 2]
                                     [--json benchmarks/figures/orientation.json]

Pages: every image of the SROIE and FUNSD folders (all upright as scanned) and every phone photo of
``../shared/data/real/photos``, whose true quarter turn was labelled by eye in
``benchmarks/data/photo_orientation.json`` (3 of 200 lie sideways once EXIF is applied). Each page is turned
counter-clockwise by 0, 90, 180 and 270 degrees (``np.rot90``: turning an upright page by 90 makes its text
run up the page, so the right answer is its true quarter plus the turn) and
:func:`pipeline.orientation.decide` is asked, with the shipped models and ``configs/default.yaml``.

It prints, per set and over all, the confusion table (rows: the right quarter; columns: the quarter
decided), the share of right decisions, how many upright pages were turned, and the cost: the decision
takes ms per page (mean and 95th percentile, ``threads`` CPU threads), the page's own line detection
included (the lines of the decided orientation are the page's lines); and, for each page as given, what
it costs over finding the lines with ``orientation: none``. Every wrong decision is listed with its
candidates' scores, and the figures go to ``--json``. A diagnostic with printed figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_REAL = _ROOT.parent / "shared/data/real"
_LABELS = _ROOT / "benchmarks/data/photo_orientation.json"
QUARTERS = (0, 90, 180, 270)


def _pages(folder: Path, limit: int) -> list[tuple[Path, int]]:
    """``(image, true quarter)`` for every page image of ``folder`` (first ``limit`` when given)."""
    labels = json.loads(_LABELS.read_text()) if folder.name == "photos" else {"default": 0, "turned": {}}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff"))
    files = files[:limit] if limit else files
    return [(p, int(labels["turned"].get(p.name, labels["default"]))) for p in files]


def _table(rows: list[dict]) -> str:
    n = {(t, d): 0 for t in QUARTERS for d in QUARTERS}
    for r in rows:
        n[r["true"], r["decided"]] += 1
    out = ["true \\ decided" + "".join(f"{d:>7}" for d in QUARTERS)]
    out += [f"{t:>14}" + "".join(f"{n[t, d]:>7}" for d in QUARTERS) for t in QUARTERS]
    return "\n".join(out)


def _summary(rows: list[dict]) -> dict:
    import numpy as np

    ms = np.array([r["ms"] for r in rows]) if rows else np.zeros(1)
    given = [r for r in rows if r["ms_as_given"] is not None]
    extra = np.array([r["ms"] - r["ms_as_given"] for r in given]) if given else np.zeros(1)
    return {"decisions": len(rows), "right": sum(r["true"] == r["decided"] for r in rows),
            "extra_ms_as_given_mean": round(float(extra.mean()), 1),
            "upright_turned": sum(r["true"] == 0 and r["decided"] != 0 for r in rows),
            "upright": sum(r["true"] == 0 for r in rows),
            "ms_mean": round(float(ms.mean()), 1), "ms_p95": round(float(np.percentile(ms, 95)), 1)}


def main(argv: list[str] | None = None) -> int:
    from dataclasses import replace

    import numpy as np
    import torch
    from tqdm import tqdm

    import pipeline
    from pipeline import crop, images, orientation

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", type=Path, default=[_REAL / "sroie", _REAL / "funsd", _REAL / "photos"])
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ocr = pipeline.load(threads=args.threads)
    rec, cfg = ocr.recognizer.plain(), ocr.config.page
    rows: dict[str, list[dict]] = {}
    for folder in args.sets:
        if not folder.is_dir():
            print(f"orientation: {folder}: no such folder", file=sys.stderr)
            return 2
        rows[folder.name] = []
        for path, true in tqdm(_pages(folder, args.limit), desc=folder.name, unit="page"):
            rgb = images.load(path)
            for turn in QUARTERS:
                img = np.ascontiguousarray(np.rot90(rgb, turn // 90))
                gray = crop.to_gray(img)
                t0 = time.perf_counter()
                o, _ = orientation.decide(ocr.detector, rec, img, gray, cfg)
                ms = (time.perf_counter() - t0) * 1000
                plain = None
                if turn == 0:                     # the same page's lines found with no decision (as given)
                    t0 = time.perf_counter()
                    orientation.decide(ocr.detector, rec, img, gray, replace(cfg, orientation="none"))
                    plain = round((time.perf_counter() - t0) * 1000, 1)
                rows[folder.name].append({"page": path.name, "turn": turn, "true": (true + turn) % 360,
                                          "decided": o.quarter, "skew": o.skew, "confidence": o.confidence,
                                          "scores": {str(q): round(v, 4) for q, v in o.scores.items()},
                                          "ms": round(ms, 1), "ms_as_given": plain})
    every = [r for rs in rows.values() for r in rs]
    report = {name: _summary(rs) for name, rs in rows.items()} | {"all": _summary(every)}
    for name, rs in list(rows.items()) + [("all", every)]:
        s = report[name]
        print(f"\n{name}: {s['right']}/{s['decisions']} right ({100 * s['right'] / max(1, s['decisions']):.2f} %), "
              f"upright pages turned {s['upright_turned']}/{s['upright']}, "
              f"decision with the page's detection {s['ms_mean']:.0f} ms/page (p95 {s['ms_p95']:.0f}); "
              f"pages as given: {s['extra_ms_as_given_mean']:+.0f} ms/page over no decision")
        print(_table(rs))
    wrong = [(name, r) for name, rs in rows.items() for r in rs if r["true"] != r["decided"]]
    for name, r in wrong:
        print(f"wrong: {name}/{r['page']} turned {r['turn']}: true {r['true']}, decided {r['decided']}, "
              f"scores {r['scores']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": report, "config": {k: getattr(cfg, k) for k in (
            "probe_lines", "probe_window", "probe_letters", "probe_skip", "flip_margin",
            "turn_margin", "turn_min_score", "max_skew")}, "threads": args.threads, "wrong": [
            {"set": name, **r} for name, r in wrong]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
