"""Chinese text lines: the benchmark strings rendered with the reserved fonts, read by three systems.

    python benchmarks/zh_lines.py [--strings ../shared/data/zh] [--limit N] [--renderings clean,scan,photo]
                                  [--system project --system rapidocr --system tesseract]
                                  [--recognizer FILE] [--threads 2] [--json benchmarks/figures/zh_lines.json]

Strings: ``document_dev.txt``, ``scene_dev.txt`` and ``web_dev.txt`` of ``../shared/data/zh`` (3 000 each,
the first ``--limit`` of each with ``--limit``). They are evaluation strings: nothing trains on them.
Each is drawn once per rendering with the fonts reserved for evaluation (AR PL UKai and LXGW WenKai,
``synth.fonts.discover_zh(reserved=True)``, which no training sample uses) by the line generator of
``synth.lines`` with no clutter: ``clean`` (no degradation), ``scan`` and ``photo`` (the generator's
degradation profiles). A character a font lacks is left out of that line's image and its ground truth;
characters outside this project's charset stay in both, so they count against it.

Scoring: ground truth and reading are compared after the zh charset's normalization (full-width ASCII
folded to ASCII) with all whitespace removed: CER is the edit distance over the ground truth's length,
summed over lines; line accuracy the share of lines read exactly. The systems: this project
(``pipeline.load(lang="zh").recognize``, or ``--recognizer FILE`` in place of the shipped weights), PP-OCRv4
(``rapidocr-onnxruntime``'s shipped Chinese + English recognizer, its own batched path) and Tesseract 5
``chi_sim`` (``--psm 7``, one process per line), in one run on the same images. A benchmark: it prints
figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_STRINGS = _ROOT.parent / "shared/data/zh"
SUBSETS = ("document", "scene", "web")
RENDERINGS = ("clean", "scan", "photo")
# crop margins (left/right, above/below) in text heights: as this benchmark cuts its lines, cut tight to the
# text as datasets and users often cut them, and loose (benchmarks/crop_margins.py)
MARGINS = {"normal": ((0.1, 0.6), (0.1, 0.3)), "tight": ((0.0, 0.03), (0.0, 0.03)), "loose": ((0.8, 1.5), (0.4, 0.6))}


def render(strings: list[str], rendering: str, seed: int = 20261204, margins: str = "normal") -> list[tuple]:
    """``(image, ground truth)`` of each string drawn in the reserved fonts (see the module docstring), cut
    with ``margins`` (a :data:`MARGINS` key)."""
    from synth.config import LineConfig
    from synth.fonts import discover_zh
    from synth.lines import LineGenerator
    from synth.zh import charset_chars

    (mx, my) = MARGINS[margins]
    cfg = LineConfig(height=(28, 40), neighbours=0.0, rules=0.0, rotate_deg=0.5 if rendering != "clean" else 0.0,
                     margin_x=mx, margin_y=my)
    chars = "".join(dict.fromkeys(charset_chars() + "".join(strings)))   # draw what is there, known or not
    gen = LineGenerator(cfg, seed=seed + RENDERINGS.index(rendering), fonts=discover_zh(reserved=True),
                        charset=chars, lang="zh")
    out = []
    for i, s in enumerate(strings):
        sample = gen.line(i, text=s, profile=None if rendering == "clean" else rendering,
                          degrade=rendering != "clean")
        out.append((sample.image, sample.text))
    return out


def score(truths: list[str], reads: list[str]) -> dict:
    from recognition.charset import Charset
    from training.metrics import edit_distance

    cs = Charset.from_file("charsets/zh.txt")
    norm = lambda t: "".join(cs.normalize(t).split())
    errs = chars = exact = 0
    for t, r in zip(truths, reads):
        t, r = norm(t), norm(r)
        errs += edit_distance(r, t)
        chars += len(t)
        exact += r == t
    return {"lines": len(truths), "cer": round(errs / max(1, chars), 4), "line_acc": round(exact / max(1, len(truths)), 4)}


def read_timed(read, crops: list, desc: str = "") -> tuple[list[str], float]:
    """``read`` (crops -> texts) over ``crops`` in batches of 64, and its ms per crop."""
    from tqdm import tqdm

    t0, reads = time.perf_counter(), []
    for k in tqdm(range(0, len(crops), 64), desc=desc, leave=False, disable=not sys.stderr.isatty()):
        reads += read(crops[k:k + 64])
    return reads, 1000 * (time.perf_counter() - t0) / max(1, len(crops))


def write_figures(path: Path, meta: dict, rows: list[dict]) -> None:
    text = json.dumps({**meta, "results": rows}, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from pipeline.evaluate import SystemUnavailable, make_system

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strings", type=Path, default=_STRINGS)
    ap.add_argument("--limit", type=int, default=0, help="the first N strings of each subset (default all)")
    ap.add_argument("--subsets", default=",".join(SUBSETS))
    ap.add_argument("--renderings", default=",".join(RENDERINGS))
    ap.add_argument("--system", action="append", choices=("project", "rapidocr", "tesseract"),
                    help="default: all three")
    ap.add_argument("--recognizer", type=Path, metavar="PT", help="the project reads with this weight file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, metavar="FILE")
    args = ap.parse_args(argv)
    names = args.system or ["project", "rapidocr", "tesseract"]
    systems = {}
    for name in names:
        try:
            systems[name] = make_system(name, args.threads, recognizer=args.recognizer, lang="zh")
        except SystemUnavailable as exc:
            print(f"{name}: skipped: {exc}")
    rows = []
    print(f"{'subset':<9} {'rendering':<9} {'system':<10} {'lines':>6} {'CER':>7} {'line acc':>9} {'ms/line':>8}")
    for subset in args.subsets.split(","):
        strings = [s.strip() for s in (args.strings / f"{subset}_dev.txt").read_text(encoding="utf-8").splitlines()]
        strings = [s for s in strings if s][: args.limit or None]
        for rendering in args.renderings.split(","):
            items = render(strings, rendering)
            truths, crops = [t for _, t in items], [im for im, _ in items]
            for name, system in systems.items():
                reads, ms = read_timed(system.crops, crops, f"{subset}/{rendering}/{name}")
                row = {"subset": subset, "rendering": rendering, "system": name, **score(truths, reads),
                       "ms_per_line": round(ms, 1)}
                rows.append(row)
                print(f"{subset:<9} {rendering:<9} {name:<10} {row['lines']:>6} {row['cer']:>7.4f} "
                      f"{row['line_acc']:>9.4f} {ms:>8.1f}", flush=True)
    if args.json:
        write_figures(args.json, {"threads": args.threads, "limit": args.limit,
                                  "recognizer": str(args.recognizer or "shipped")}, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
