"""``--lang auto`` on pages of both scripts: which recognizer it picks, page by page, and what that costs.

    python benchmarks/zh_pages.py /tmp/zh_pages --pages 20          # Chinese pages (the reserved fonts)
    python benchmarks/lang_auto.py --zh /tmp/zh_pages [--en ../shared/data/real/funsd ...] [--limit 40]
                                   [--recognizer-zh FILE] [--json benchmarks/figures/lang_auto.json]

Pages: every image of each ``--zh`` folder is Chinese, every image of each ``--en`` folder English (default
``--en``: the FUNSD and SROIE val pages, the phone photos of receipts and ``samples/``; the first ``--limit``
of each folder). Each page is cut into line strips as ``ocr-page`` cuts it (shipped detector, orientation
decided), then :func:`pipeline.language.choose` has the ``zh`` recognizer (the shipped file, or
``--recognizer-zh``) read its sample and picks. Printed per folder: pages, pages picked right, the range of
the hanzi share of the sample's reading (what decides, against ``language.min_han``), the wrong pages by
name, the pages the orientation step (which weighs both recognizers' readings under ``--lang auto``) turned by
a quarter or half turn, by name, and the choice's time per page (the sample's reading; the detection is not counted). A
benchmark: it prints figures and asserts nothing.
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
_EXT = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def _images(folder: Path, which: str, limit: int) -> list[Path]:
    """The images of a folder; for a page set with a val split (FUNSD, SROIE) only its val pages."""
    from synth import pageset

    if which == "en" and folder.name.lower() in ("funsd", "sroie"):
        files = [p.image for p in pageset.split(pageset.read(folder), "val", folder.name)]
    else:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _EXT)
    return files[:limit] if limit else files


def main(argv: list[str] | None = None) -> int:
    import recognition
    from pipeline import load
    from pipeline.images import load as load_image
    from pipeline.language import choose, han_share
    from recognition.predictor import Recognizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zh", type=Path, nargs="*", default=[], help="folders of Chinese pages")
    ap.add_argument("--en", type=Path, nargs="*", default=[_REAL / "funsd", _REAL / "sroie", _REAL / "photos",
                                                          _ROOT / "samples"], help="folders of English pages")
    ap.add_argument("--limit", type=int, default=0, help="at most this many pages of each folder (0: all)")
    ap.add_argument("--recognizer-zh", type=Path, help="zh recognizer weight file (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)

    zh_file = args.recognizer_zh or recognition.weights_path("zh")
    if zh_file is None:
        print("lang_auto: no zh recognizer: give --recognizer-zh", file=sys.stderr)
        return 2
    ocr = load(threads=args.threads, lang="auto")          # the shipped system, as ocr-page --lang auto loads it
    if args.recognizer_zh:
        ocr.readers["zh"] = Recognizer.from_file(zh_file, beam_width=1, lm_weight=0.0)
    zh = ocr.readers["zh"]
    cfg = ocr.config.language
    results = {}
    for lang, folders in (("zh", args.zh), ("en", args.en)):
        for folder in folders:
            files = _images(folder, lang, args.limit)
            right, wrong, seconds, han, turned, evidence = 0, [], 0.0, [], [], []
            for f in files:
                _, orient, _, strips = ocr.line_strips(load_image(f))
                if abs(orient.angle) > 45:
                    turned.append(f"{f.name} ({orient.angle:+.0f})")
                t = time.perf_counter()
                c = choose(zh, [s.image for s in strips], cfg)
                seconds += time.perf_counter() - t
                han.append(round(c.han, 3))
                evidence.append({"page": f.name, "han": round(c.han, 3), "zh_conf": round(c.confidence, 3),
                                 "han_any_conf": round(han_share("".join(r.text for r in c.reads)), 3)})
                if c.lang == lang:
                    right += 1
                else:
                    wrong.append(f"{f.name} (hanzi {c.han:.2f}, zh confidence {c.confidence:.2f}, {len(c.reads)} lines)")
            key = f"{lang}:{folder.name}"
            results[key] = {"pages": len(files), "right": right, "wrong": wrong, "turned": turned, "han": han,
                            "evidence": evidence,
                            "ms_per_page": 1000 * seconds / max(1, len(files))}
            print(f"{key:20s} {right}/{len(files)} right, hanzi share {min(han, default=0):.2f}-{max(han, default=0):.2f}, "
                  f"{results[key]['ms_per_page']:.0f} ms/page, {len(turned)} turned by the orientation step"
                  + (f" ({', '.join(turned)})" if turned else "")
                  + (f"; wrong: {'; '.join(wrong)}" if wrong else ""), flush=True)
    total = sum(r["pages"] for r in results.values())
    ok = sum(r["right"] for r in results.values())
    print(f"all: {ok}/{total} pages picked right")
    if args.json:
        args.json.write_text(json.dumps({"zh_recognizer": str(zh_file), "min_han": cfg.min_han, "sets": results,
                                         "right": ok, "pages": total}, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
