"""Line crops cut tight to their text, or loose, against crops with the margins the recognizers learned.

    python benchmarks/crop_margins.py [--limit 200] [--renderings clean,photo] [--margins normal,tight,loose]
                                      [--system project --system rapidocr] [--threads 2] [--recognizer-zh PT]
                                      [--json benchmarks/figures/crop_margins.json]

``pipeline.load(lang).recognize(crops)`` reads whatever crops a user cuts. The recognizers learned lines
with a margin of ground (5-40 % of the text's height above and below, ``synth.config.LineConfig``), and a
crop cut tight reads worse; ``recognizer.pad_tight`` also reads crops that
``recognition.preprocess.cut_tight`` finds tight with a margin added and keeps the more confident reading.
Lines: Chinese, the first ``--limit`` document strings of ``../shared/data/zh`` drawn as
``benchmarks/zh_lines.py`` draws them (the reserved fonts); English, synthetic lines of seed 4343 (not a
training seed) in the English training fonts. Each is cut with the margins of ``zh_lines.MARGINS`` and read by
this project with ``pad_tight`` off and on (and, for Chinese, by PP-OCRv4 with ``--system rapidocr``).
Printed: CER (whitespace removed, as zh_lines scores), line accuracy, the share of crops found tight, ms/line.
A benchmark: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / "benchmarks"))


def english(n: int, rendering: str, margins: str) -> list[tuple]:
    """``(image, ground truth)`` of ``n`` synthetic English lines cut with ``margins``."""
    from synth.config import LineConfig
    from synth.lines import LineGenerator
    from zh_lines import MARGINS

    mx, my = MARGINS[margins]
    cfg = LineConfig(height=(28, 40), neighbours=0.0, rules=0.0, rotate_deg=0.5 if rendering != "clean" else 0.0,
                     margin_x=mx, margin_y=my)
    gen = LineGenerator(cfg, seed=4343)
    return [(s.image, s.text) for s in (gen.line(i, profile=None if rendering == "clean" else rendering,
                                                 degrade=rendering != "clean") for i in range(n))]


def main(argv: list[str] | None = None) -> int:
    import pipeline
    from pipeline.evaluate import SystemUnavailable, make_system
    from recognition.preprocess import cut_tight, to_gray
    from zh_lines import MARGINS, RENDERINGS, _STRINGS, read_timed, render, score, write_figures

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=200, help="lines per language, rendering and margin")
    ap.add_argument("--renderings", default="clean,photo", help=f"of {','.join(RENDERINGS)}")
    ap.add_argument("--margins", default=",".join(MARGINS))
    ap.add_argument("--langs", default="zh,en")
    ap.add_argument("--system", action="append", choices=("project", "rapidocr"), help="default: project")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recognizer-zh", type=Path, metavar="PT", help="the zh weight file in place of the shipped one")
    ap.add_argument("--json", type=Path, metavar="FILE")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    readers = {}
    for lang in args.langs.split(","):
        ocr = pipeline.load(lang=lang, recognizer_weights=args.recognizer_zh if lang == "zh" else None)
        for on in (False, True):
            rec = ocr.readers[lang]
            readers[lang, f"project pad_tight={'on' if on else 'off'}"] = \
                lambda crops, rec=rec, on=on: [r.text for r in rec(crops, pad_tight=on)]
        if "rapidocr" in (args.system or []) and lang == "zh":
            try:
                peer = make_system("rapidocr", args.threads, lang="zh")
                readers[lang, "PP-OCRv4"] = peer.crops
            except SystemUnavailable as exc:
                print(f"rapidocr: skipped: {exc}")
    strings = [s.strip() for s in (_STRINGS / "document_dev.txt").read_text(encoding="utf-8").splitlines()]
    strings = [s for s in strings if s][: args.limit]
    rows = []
    print(f"{'lang':<4} {'rendering':<9} {'margins':<7} {'system':<24} {'lines':>5} {'CER':>7} {'line acc':>8} "
          f"{'tight':>6} {'ms/line':>7}")
    for lang in args.langs.split(","):
        for rendering in args.renderings.split(","):
            for margins in args.margins.split(","):
                items = (render(strings, rendering, margins=margins) if lang == "zh"
                         else english(args.limit, rendering, margins))
                truths, crops = [t for _, t in items], [im for im, _ in items]
                tight = sum(cut_tight(to_gray(c)) for c in crops) / max(1, len(crops))
                for (lg, name), read in readers.items():
                    if lg != lang:
                        continue
                    reads, ms = read_timed(read, crops, f"{lang}/{rendering}/{margins}/{name}")
                    row = {"lang": lang, "rendering": rendering, "margins": margins, "system": name,
                           **score(truths, reads), "tight": round(tight, 3), "ms_per_line": round(ms, 1)}
                    rows.append(row)
                    print(f"{lang:<4} {rendering:<9} {margins:<7} {name:<24} {row['lines']:>5} {row['cer']:>7.4f} "
                          f"{row['line_acc']:>8.4f} {tight:>6.3f} {ms:>7.1f}", flush=True)
    if args.json:
        write_figures(args.json, {"threads": args.threads, "limit": args.limit,
                                  "recognizer_zh": str(args.recognizer_zh or "shipped")}, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
