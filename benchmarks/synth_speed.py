"""Synthetic generator speed on one CPU core: line images/s and pages/s (targets: >= 100 and >= 2).

    python benchmarks/synth_speed.py [--lines 500] [--pages 40] [--seed 0]

Pins the process to one core and OpenCV to one thread, warms up (font discovery, caches), then times
generation only (no file writing), overall and per page layout, and prints the figures side by side.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=500)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    from synth.lines import LineGenerator
    from synth.pages import LAYOUTS, PageGenerator

    lg, pg = LineGenerator(seed=args.seed), PageGenerator(seed=args.seed)
    lg.line(10**6), pg.page(10**6)  # warm-up

    t = time.perf_counter()
    for i in range(args.lines):
        lg.line(i)
    lines_s = args.lines / (time.perf_counter() - t)

    t = time.perf_counter()
    sizes = []
    for i in range(args.pages):
        sizes.append(pg.page(i).image.shape[:2])
    pages_s = args.pages / (time.perf_counter() - t)

    per = {}
    n = max(3, args.pages // len(LAYOUTS))
    for layout in LAYOUTS:
        t = time.perf_counter()
        for i in range(n):
            pg.page(10**5 + i, layout=layout)
        per[layout] = n / (time.perf_counter() - t)

    mpx = sum(h * w for h, w in sizes) / len(sizes) / 1e6
    print(f"cores used: 1 (affinity {sorted(os.sched_getaffinity(0))}), opencv threads: {cv2.getNumThreads()}")
    print(f"{'product':<22}{'rate':>10}  target")
    print(f"{'line images':<22}{lines_s:>8.1f}/s  >= 100/s")
    print(f"{'pages (mixed layouts)':<22}{pages_s:>8.2f}/s  >= 2/s   (mean page {mpx:.2f} Mpx)")
    for layout, r in per.items():
        print(f"  {layout:<20}{r:>8.2f}/s")


if __name__ == "__main__":
    main()
