"""``ocr-synth``: write synthetic pages, line images, the README samples and contact sheets.

    ocr-synth pages OUT_DIR --count 100 --seed 1      # page-set folder (image + JSON per page)
    ocr-synth lines OUT_DIR --count 10000 --seed 1    # PNG per line + labels.jsonl (text, box)
    ocr-synth lines OUT_DIR --pageset --count 1000    # one page-set record per line: ocr-eval OUT_DIR --crops
    ocr-synth samples samples/                        # the sample pages the README and tests use
    ocr-synth sheet sheet.png --seed 7                # contact sheet of lines and pages, to look at
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from synth import config as synth_config
from synth import pageset
from synth.lines import LineGenerator
from synth.pages import LAYOUTS, PageGenerator
from synth.text import EXTRA_KINDS, KINDS

# name -> (layout, seed, index, profile): the pages in samples/, reproducible with `ocr-synth samples`
SAMPLES = {"letter": ("letter", 2024, 1, "scan"), "two_column": ("columns", 2024, 6, "clean"),
           "form": ("form", 2024, 3, "scan"), "receipt": ("receipt", 2024, 4, "thermal")}


def write_samples(out: Path, cfg=None) -> list[Path]:
    from dataclasses import replace

    cfg = cfg or synth_config.load()
    paths = []
    for name, (layout, seed, index, profile) in SAMPLES.items():
        pcfg = replace(cfg.page, skew_deg=1.5, perspective_share=0.0, handwriting=0.0, dpi=(150, 150), dpi_high=0.0)
        gen = PageGenerator(pcfg, seed=seed)
        if layout == "columns":
            for i in range(index, index + 50):  # the first page of this seed that has two columns
                p = gen.page(i, layout=layout, profile=profile)
                if _columns(p) == 2:
                    break
        else:
            p = gen.page(index, layout=layout, profile=profile)
        paths.append(pageset.write(out, name, p.image, p.to_json(f"{name}.jpg"), ext=".jpg"))
    return paths


def _columns(p) -> int:
    xs = sorted({round(ln["box"][0] / (p.image.shape[1] / 8)) for ln in p.lines})
    return len([x for x in xs if sum(1 for ln in p.lines if round(ln["box"][0] / (p.image.shape[1] / 8)) == x) > 8])


def contact_sheet(seed: int = 7, n_lines: int = 36, n_pages: int = 8, width: int = 2400) -> np.ndarray:
    """One image: a column of line samples at their natural look, then a row of whole pages."""
    cfg = synth_config.load()
    lg, pg = LineGenerator(cfg.line, seed=seed), PageGenerator(cfg.page, seed=seed)
    rows, h = [], 44
    col_w = width // 2 - 10
    for i in range(n_lines):
        im = lg.line(i).image
        im = cv2.resize(im, (max(1, int(im.shape[1] * h / im.shape[0])), h), interpolation=cv2.INTER_AREA)[:, :col_w]
        rows.append(np.pad(im, ((3, 3), (0, col_w - im.shape[1])), constant_values=160))
    half = len(rows) // 2
    left, right = np.concatenate(rows[:half]), np.concatenate(rows[half:2 * half])
    lines_img = cv2.cvtColor(np.concatenate([left, np.full((left.shape[0], 20), 160, np.uint8), right], 1),
                             cv2.COLOR_GRAY2RGB)
    ph = 900
    pages = []
    for i, layout in zip(range(n_pages), list(LAYOUTS) * 2):
        im = pg.page(i, layout=layout).image
        pages.append(cv2.resize(im, (max(1, int(im.shape[1] * ph / im.shape[0])), ph), interpolation=cv2.INTER_AREA))
    strip = np.concatenate([np.pad(p, ((0, 0), (0, 10), (0, 0)), constant_values=160) for p in pages], 1)
    strip = strip[:, :width] if strip.shape[1] >= width else np.pad(strip, ((0, 0), (0, width - strip.shape[1]), (0, 0)), constant_values=160)
    lines_img = np.pad(lines_img, ((0, 10), (0, width - lines_img.shape[1]), (0, 0)), constant_values=160)
    return np.concatenate([lines_img, strip], 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-synth", description="Synthetic training data for the OCR models.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("pages", "lines"):
        s = sub.add_parser(name, help=f"write synthetic {name}")
        s.add_argument("out", type=Path)
        s.add_argument("--count", type=int, default=100)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--start", type=int, default=0, help="first index (to extend a set)")
        s.add_argument("--config", type=Path, help="synth YAML (default: configs/synth/default.yaml)")
        if name == "pages":
            s.add_argument("--layout", choices=sorted(LAYOUTS))
        else:
            s.add_argument("--pageset", action="store_true", help="write each line as a page-set record "
                           "(image + JSON, one box spanning the image) so ocr-eval --crops can read them")
            s.add_argument("--kind", choices=KINDS + EXTRA_KINDS, help="every line one string of this "
                           "kind (separator: typed rules and dot leaders); default: mixed document lines")
    s = sub.add_parser("samples", help="write the sample pages (samples/)")
    s.add_argument("out", type=Path)
    s = sub.add_parser("sheet", help="write a contact sheet PNG of lines and pages")
    s.add_argument("out", type=Path)
    s.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    try:
        cfg = synth_config.load(getattr(args, "config", None))
    except (ValueError, OSError) as exc:
        print(f"ocr-synth: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "pages":
        gen = PageGenerator(cfg.page, seed=args.seed, lang=cfg.lang)
        for i in tqdm(range(args.start, args.start + args.count), desc="pages", unit="page"):
            p = gen.page(i, layout=args.layout)
            pageset.write(args.out, f"{args.seed}_{i:07d}", p.image, p.to_json(""))
    elif args.cmd == "lines" and args.pageset:
        gen = LineGenerator(cfg.line, seed=args.seed, lang=cfg.lang)
        for i in tqdm(range(args.start, args.start + args.count), desc="lines", unit="line"):
            s = gen.line(i, kind=args.kind)
            h, w = s.image.shape
            rec = {"width": w, "height": h, "set": "synth-lines",
                   "lines": [{"box": [0, 0, w, h], "text": s.text, "ignore": False}]}
            pageset.write(args.out, f"{args.seed}_{i:07d}", s.image, rec)
    elif args.cmd == "lines":
        gen = LineGenerator(cfg.line, seed=args.seed, lang=cfg.lang)
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "labels.jsonl", "a", encoding="utf-8") as fh:
            for i in tqdm(range(args.start, args.start + args.count), desc="lines", unit="line"):
                s = gen.line(i, kind=args.kind)
                name = f"{args.seed}_{i:07d}.png"
                cv2.imwrite(str(args.out / name), s.image)
                fh.write(json.dumps({"image": name, "text": s.text, "box": list(s.box)}, ensure_ascii=False) + "\n")
    elif args.cmd == "samples":
        for p in write_samples(args.out, cfg):
            print(p)
    elif args.cmd == "sheet":
        img = contact_sheet(args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.out), img[..., ::-1])
        print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
