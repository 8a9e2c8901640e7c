"""The figure tables of the README and docs/, rendered from the files the benchmarks write.

    python benchmarks/tables.py            # rewrite every marked block from benchmarks/figures/*.json
    python benchmarks/tables.py --check    # exit 1 naming each block that differs (tests/test_docs.py)

A block is the text between ``<!-- table:NAME -->`` and ``<!-- /table -->``; NAME picks its renderer
below. So a figure in the docs is always the one a benchmark last wrote, and a re-run benchmark shows up
as a diff of the docs.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "benchmarks" / "figures"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SYSTEMS = {"project": "**this project**", "tesseract": "Tesseract 5", "rapidocr": "PP-OCRv4 (`rapidocr-onnxruntime`)"}
SETS = {"funsd": "FUNSD forms, fax scans", "sroie": "SROIE receipts, scans", "photos": "phone photos of receipts",
        "zh_pages": "Chinese notices, receipts, invoices, forms", "all": "all"}
BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table -->)", re.S)


def _load(name: str) -> dict:
    return json.loads((FIGURES / name).read_text(encoding="utf-8"))


def _rows(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _by_set(results: list[dict]) -> list[tuple[str, list[dict]]]:
    sets = list(dict.fromkeys(r["set"] for r in results))
    return [(s, [r for r in results if r["set"] == s]) for s in sets]


def pages(figures: str = "pages_val.json") -> str:
    """Every system's page metrics per set; a set without ground truth (the photos) has its s/page only."""
    out = []
    for s, rs in _by_set(_load(figures)["results"]):
        for i, r in enumerate(rs):
            scores = ([f"{r['tok_F']:.3f}", f"{r['seg_CER']:.3f}", r["bad_pages"], f"{r['det_F']:.3f}"] if "tok_F" in r
                      else ["-"] * 4)
            out.append([f"{SETS.get(s, s)} ({r['pages']})" if i == 0 else "", SYSTEMS.get(r["system"], r["system"]),
                        *scores, f"{r['s_per_page']:.2f}"])
    return _rows(["val pages", "system", "tok_F", "seg_CER", "pages read as garbage", "det_F", "s/page"], out)


def page_stages() -> str:
    """Where a page's time goes, per backend and set (``benchmarks/page_stages.py``)."""
    d = _load("page_stages.json")
    out = []
    for backend, sets in d["backends"].items():
        for s, r in sets.items():
            ms = r["ms_per_page"]
            rest = 1000 * r["s_per_page"] - ms["recognizer network"] - ms["detector network"] - ms["decoding"]
            out.append([backend, f"{SETS.get(s, s)} ({r['pages']})", f"{r['s_per_page']:.2f}",
                        f"{ms['recognizer network']:.0f}", f"{ms['detector network']:.0f}", f"{ms['decoding']:.0f}",
                        f"{rest:.0f}"])
    return _rows(["backend", "pages", "s/page", "recognizer network, ms", "detector network, ms", "decoding, ms",
                  "the rest, ms"], out)


def int8() -> str:
    """int8 networks against float32 (``benchmarks/int8.py``): time alone, crop CER, page tok_F."""
    d = _load("int8.json")
    ms = d["network_ms"]
    out = [[f"{kind} network alone", f"{ms[kind + ' fp32']:.0f} ms", f"{ms[kind + ' int8']:.0f} ms", ""]
           for kind in ("recognizer", "detector")]
    base = {(r["what"], r["set"]): r for r in d["results"] if r["networks"] == "fp32"}
    for r in d["results"]:
        if r["networks"] == "fp32":
            continue
        key = "CER" if r["what"] == "crops" else "tok_F"
        b = base[(r["what"], r["set"])]
        what = f"{SETS.get(r['set'], r['set'])}: {r['what'][:-1]} {key}" + (" (int8 recognizer)" if r["networks"] == "int8 recognizer"
                                                                           else " (both int8)" if r["what"] == "pages" else "")
        out.append([what, f"{b[key]:.4f}", f"{r[key]:.4f}", "yes" if r["holds"] else "**no**"])
    return _rows(["", "float32", "int8", "within 0.002"], out)


def throughput() -> str:
    d = _load("throughput.json")
    names = {"project": "**this project** (`ocr-batch --workers N`)", "tesseract": "Tesseract 5 (N processes)",
             "rapidocr": "PP-OCRv4 (N threads)"}
    ns = sorted({r["workers"] for r in d["results"]})
    out = [[names[sys_]] + [f"{r['pages_per_s']:.2f}" for n in ns for r in d["results"]
                            if r["system"] == sys_ and r["workers"] == n] for sys_ in names]
    return _rows([f"pages/s, {d['results'][0]['pages']} pages"] + [f"N = {n}" for n in ns], out)


def ray_batch() -> str:
    d = _load("ray_batch.json")
    out = [[r["system"], f"{r['seconds']:.1f}", f"{r['pages_per_s']:.2f}", f"{r['one_page_seconds']:.1f}",
            f"{r['s_per_page_after_start']:.3f}"] for r in d["results"]]
    return _rows([f"{d['results'][0]['pages']} pages, {d['cpus']} CPUs", "seconds", "pages/s", "one page alone (s)",
                  "s a page beyond the first"], out)


def crops() -> str:
    out = []
    for s, rs in _by_set(_load("crops_val.json")["results"]):
        for i, r in enumerate(rs):
            out.append([f"{SETS.get(s, s)} ({r['crops']} crops)" if i == 0 else "", SYSTEMS.get(r["system"], r["system"]),
                        f"{r['CER']:.4f}", f"{r['CER_ci']:.4f}", f"{r['exact']:.3f}", f"{1000 * r['s_per_crop']:.1f}"])
    return _rows(["val crops", "system", "CER", "CER_ci", "read exactly", "ms/crop"], out)


def detect() -> str:
    out = [[f"{SETS.get(r['set'], r['set'])} ({r['pages']})", f"{r['det_R']:.3f}", f"{r['det_P']:.3f}",
            f"{r['det_F']:.3f}", f"{r['s_per_page']:.2f}"] for r in _load("detect_val.json")["results"]]
    return _rows(["val pages", "det_R", "det_P", "det_F", "s/page"], out)


def recognizer_speed() -> str:
    d = _load("recognizer_speed.json")
    return (f"{d['crops']} crops, mean width {d['mean_width']} px at height 32.\n\n"
            + _rows(["system", "crops/s", "ms/crop"], [[r["system"], f"{r['crops_s']:.1f}", f"{r['ms_crop']:.2f}"]
                                                      for r in d["results"]]))


def detector_speed() -> str:
    return _rows(["system", "A4 200 dpi s/page", "A4 300 dpi s/page"],
                 [[r["system"], f"{r['s_page_200dpi']:.2f}", f"{r['s_page_300dpi']:.2f}"]
                  for r in _load("detector_speed.json")["results"]])


MEMORY_CASES = {"tiff": "multi-page TIFF of 160-dpi A4 letters", "pdf": "PDF of the same pages, rendered at 150 dpi",
                "a3-600dpi": "one 600-dpi A3 scan (7016 x 9921, 70 Mpx)"}


def memory() -> str:
    return _rows(["case", "pages", "MB after loading the models", "after 3 pages", "peak"],
                 [[MEMORY_CASES.get(r["case"], r["case"]), r["pages"], r["mb_models"], r["mb_3_pages"] or "", r["mb_peak"]]
                  for r in _load("memory.json")["results"]])


def orientation() -> str:
    out = []
    for s, r in _load("orientation.json")["summary"].items():
        name = f"**{SETS[s]}**" if s == "all" else f"{SETS.get(s, s)} ({r['upright']})"
        out.append([name, r["decisions"], f"{r['right']} ({100 * r['right'] / r['decisions']:.2f} %)",
                    f"{r['upright_turned']} of {r['upright']}", f"{r['extra_ms_as_given_mean']:.0f}"])
    return _rows(["pages", "decisions", "right", "upright pages turned", "ms/page over `--orientation none`"], out)


def photos() -> str:
    d = _load("photos.json")["summary"]
    ours, pp = d["shipped"], d["ppocrv4"]
    return _rows(["200 phone photos", "wrong quarter turn", "lines", "lines read at >= 0.5", "mean line confidence"],
                 [["**this project**", ours["wrong_quarter"], ours["lines"], ours["lines_0.5"], f"{ours['mean_conf']:.3f}"],
                  ["PP-OCRv4", "(never turns)", pp["lines"], "", f"{pp['mean_score']:.3f} (its score)"]])


def scale() -> str:
    """The project's val pages read whole, at full size and shrunk to 1/3 and 1/4 (``ocr-eval --scale``)."""
    runs = [("full size", "pages_val.json"), ("1/3", "pages_val_scale0.33.json"), ("1/4", "pages_val_scale0.25.json")]
    out = []
    for label, name in runs:
        for r in _load(name)["results"]:
            if r["system"] == "project" and "tok_F" in r:
                out.append([SETS.get(r["set"], r["set"]), label, f"{r['tok_F']:.3f}", f"{r['seg_CER']:.3f}",
                            r["bad_pages"], f"{r['det_F']:.3f}"])
    out.sort(key=lambda row: row[0])
    return _rows(["val pages", "read at", "tok_F", "seg_CER", "pages read as garbage", "det_F"], out)


def zh_lines(subsets: tuple[str, ...] = ("document", "scene", "web")) -> str:
    """The Chinese benchmark strings in the reserved fonts (``benchmarks/zh_lines.py``): CER, line accuracy."""
    d = _load("zh_lines.json")
    names = {"project": "**this project**", "rapidocr": "PP-OCRv4", "tesseract": "Tesseract 5 `chi_sim`"}
    out, last = [], None
    for r in (r for r in d["results"] if r["subset"] in subsets):
        group = f"{r['subset']}, {r['rendering']} ({r['lines']})"
        out.append([group if group != last else "", names.get(r["system"], r["system"]), f"{r['cer']:.4f}",
                    f"{r['line_acc']:.3f}", f"{r['ms_per_line']:.1f}"])
        last = group
    return _rows(["strings, rendering (lines)", "system", "CER", "line accuracy", "ms/line"], out)


def crop_margins() -> str:
    """Crops cut tight or loose against crops with margins (``benchmarks/crop_margins.py``): CER per
    language, rendering and margins, ``recognizer.pad_tight`` off and on (and PP-OCRv4 where run)."""
    d = _load("crop_margins.json")
    langs, out, last = {"zh": "Chinese document strings", "en": "English synthetic lines"}, [], None
    for r in d["results"]:
        group = f"{langs[r['lang']]}, {r['rendering']}, {r['margins']} ({r['lines']})"
        out.append([group if group != last else "", r["system"].replace("project ", "**this project** "),
                    f"{r['cer']:.4f}", f"{r['line_acc']:.3f}", f"{r['tight']:.2f}", f"{r['ms_per_line']:.1f}"])
        last = group
    return _rows(["lines, rendering, margins (lines)", "system", "CER", "line accuracy", "found tight",
                  "ms/line"], out)


def zh_document() -> str:
    """The README's share of :func:`zh_lines`: the document strings."""
    return zh_lines(("document",))


def zh_pages() -> str:
    """``ocr-eval --lang zh`` on the Chinese test pages of ``benchmarks/zh_pages.py``, three systems."""
    return pages("zh_pages.json").replace("| val pages |", "| Chinese test pages |", 1)


def lang_auto() -> str:
    """``--lang auto`` on pages of both scripts (``benchmarks/lang_auto.py``)."""
    d = _load("lang_auto.json")
    names = {"zh": "Chinese", "en": "English"}
    out = [[f"{names[k.split(':')[0]]}: {k.split(':', 1)[1]}", r["pages"], r["right"],
            f"{min(r['han']):.2f}-{max(r['han']):.2f}", len(r["turned"]), f"{r['ms_per_page']:.0f}"]
           for k, r in d["sets"].items()]
    out.append(["**all**", d["pages"], d["right"], f"zh from {d['min_han']}",
                sum(len(r["turned"]) for r in d["sets"].values()), ""])
    return _rows(["set", "pages", "given the right recognizer", "hanzi share of the zh sample reading",
                  "turned by the orientation step", "ms/page for the choice"], out)


RENDER = {f.__name__: f for f in (pages, ray_batch, crops, detect, recognizer_speed, detector_speed, memory, orientation, photos,
                                  scale, zh_lines, zh_document, zh_pages, lang_auto, throughput, page_stages, int8,
                                  crop_margins)}


def render(text: str) -> str:
    def block(m: re.Match) -> str:
        if m.group(2) not in RENDER:
            raise KeyError(f"no table named {m.group(2)!r} (known: {', '.join(RENDER)})")
        return m.group(1) + RENDER[m.group(2)]() + m.group(4)
    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block differs")
    args = ap.parse_args(argv)
    stale = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(doc.relative_to(ROOT))
            if not args.check:
                doc.write_text(new, encoding="utf-8")
    for doc in stale:
        print(f"{doc}: {'differs from' if args.check else 'rewritten from'} benchmarks/figures", file=sys.stderr)
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
