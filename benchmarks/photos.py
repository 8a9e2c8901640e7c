"""The phone photos, read whole: per photo, what this project decided and read beside PP-OCRv4.

    python benchmarks/photos.py [--photos ../shared/data/real/photos] [--limit N] [--threads 2]
                                [--detector FILE] [--recognizer FILE] [--no-rapidocr]
                                [--json benchmarks/figures/photos.json] [--sheet benchmarks/figures/photos_sheet.png]

The photos have no transcription, so this measures what needs none: per photo, the angle the pipeline
decided (``Page.angle``; the true quarter turn is in ``benchmarks/data/photo_orientation.json``), its
orientation confidence, the number of lines it read and their mean confidence, beside PP-OCRv4's
(``rapidocr-onnxruntime``) number of lines and mean score on the same photo. Every line is counted
(``min_confidence`` 0), and ``>= 0.5`` counts those the shipped confidence floor keeps.

``--detector`` and ``--recognizer`` read the photos again with that weight file in place of the shipped
one (loaded as ``pipeline.load()`` loads it: same config, precision and language model), side by side, so
new weights can be compared with the shipped ones in one run; given both, each is read alone with the
other shipped network, and then the two together. ``--sheet`` draws the lines of 12 photos (spread over
the set) as the last of those systems read them into one PNG. A diagnostic with printed figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_PHOTOS = _ROOT.parent / "shared/data/real/photos"
_LABELS = _ROOT / "benchmarks/data/photo_orientation.json"


def _sheet(tiles: list, path: Path, cell: int = 420) -> None:
    """A 4 x 3 grid of photos with their lines drawn (``pipeline.draw.draw_page``), each fit into ``cell``."""
    from PIL import Image, ImageDraw

    from pipeline.draw import draw_page

    sheet = Image.new("RGB", (4 * cell, 3 * ((cell * 4) // 3)), "white")
    d = ImageDraw.Draw(sheet)
    for k, (name, rgb, page) in enumerate(tiles[:12]):
        im = Image.fromarray(draw_page(rgb, page))
        im.thumbnail((cell - 6, (cell * 4) // 3 - 22))
        x, y = (k % 4) * cell, (k // 4) * ((cell * 4) // 3)
        sheet.paste(im, (x + 3, y + 18))
        d.text((x + 4, y + 3), f"{name}  angle {page.angle:.1f}  {len(page.lines)} lines", fill=(200, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(256).save(path, optimize=True)       # 256 colours: a third of the bytes, lines as clear


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    import pipeline
    from pipeline import images
    from pipeline.evaluate import RapidOCRSystem, SystemUnavailable

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=_PHOTOS)
    ap.add_argument("--limit", type=int, default=0, help="only the first N photos")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--detector", type=Path, default=None, help="a detector weight file read beside the shipped one")
    ap.add_argument("--recognizer", type=Path, default=None, help="a recognizer weight file read beside the shipped one")
    ap.add_argument("--no-rapidocr", action="store_true", help="leave PP-OCRv4 out")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help="PNG of 12 photos with their detected lines")
    args = ap.parse_args(argv)
    if not args.photos.is_dir():
        print(f"photos: {args.photos}: no such folder", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    labels = json.loads(_LABELS.read_text())
    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    files = files[:args.limit] if args.limit else files
    ocr = pipeline.load(threads=args.threads, min_confidence=0.0)
    ship_rec, ship_det = ocr.recognizer, ocr.detector
    if args.detector or args.recognizer:
        other = pipeline.load(threads=args.threads, min_confidence=0.0, detector_weights=args.detector,
                              recognizer_weights=args.recognizer)
    det = args.detector and other.detector
    rec = args.recognizer and other.recognizer
    readers = [("shipped", ship_det, ship_rec)]       # (name, detector, recognizer)
    readers += [(f"detector {args.detector}", det, ship_rec)] if det else []
    readers += [(f"recognizer {args.recognizer}", ship_det, rec)] if rec else []
    readers += [("both", det, rec)] if det and rec else []
    try:
        rapid = None if args.no_rapidocr else RapidOCRSystem(args.threads)
    except SystemUnavailable as exc:
        print(f"photos: {exc}; reading without PP-OCRv4", file=sys.stderr)
        rapid = None
    picks = set(np.linspace(0, len(files) - 1, 12).round().astype(int).tolist()) if args.sheet else set()
    rows, tiles = [], []
    for k, path in enumerate(tqdm(files, desc="photos", unit="photo")):
        rgb = images.load(path)
        row = {"photo": path.name, "true_quarter": int(labels["turned"].get(path.name, labels["default"]))}
        for name, ocr.detector, ocr.recognizer in readers:
            t0 = time.perf_counter()
            page = ocr(rgb)
            conf = [ln.confidence for ln in page.lines]
            row[name] = {"angle": page.angle, "orientation_confidence": page.orientation_confidence,
                         "lines": len(conf), "lines_0.5": sum(c >= 0.5 for c in conf),
                         "mean_conf": round(float(np.mean(conf)), 4) if conf else None,
                         "s": round(time.perf_counter() - t0, 2)}
            if name == readers[-1][0] and k in picks:
                tiles.append((path.name, rgb, page))
        if rapid is not None:
            t0 = time.perf_counter()
            result, _ = rapid.engine(np.ascontiguousarray(rgb[..., ::-1]))
            scores = [float(s) for _, _, s in result or []]
            row["ppocrv4"] = {"lines": len(scores), "mean_score": round(float(np.mean(scores)), 4) if scores else None,
                              "s": round(time.perf_counter() - t0, 2)}
        rows.append(row)
    ocr.detector, ocr.recognizer = ship_det, ship_rec
    names = [n for n, _, _ in readers]
    cols = f"{'angle':>8}{'o_conf':>7}{'lines':>6}{'>=0.5':>6}{'conf':>7}"
    head = f"{'photo':<16}{'true':>5}" + cols * len(names)
    head += f"{'PP lines':>9}{'PP score':>9}" if rapid is not None else ""
    print("\n" + "  ".join(f"[{i + 1}] {n}" for i, n in enumerate(names)) + (";  PP = PP-OCRv4" if rapid else ""))
    print(head)
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    for r in rows:
        line = f"{r['photo']:<16}{r['true_quarter']:>5}"
        for n in names:
            c = r[n]
            line += (f"{c['angle']:>8.1f}{fmt(c['orientation_confidence'], '.2f'):>7}{c['lines']:>6}"
                     f"{c['lines_0.5']:>6}{fmt(c['mean_conf'], '.3f'):>7}")
        if rapid is not None:
            line += f"{r['ppocrv4']['lines']:>9}{fmt(r['ppocrv4']['mean_score'], '.3f'):>9}"
        print(line)
    summary = {}
    for n in names:
        turned = sum(round(((r[n]["angle"] - r["true_quarter"] + 180) % 360 - 180) / 90) != 0 for r in rows)
        confs = [r[n]["mean_conf"] for r in rows if r[n]["mean_conf"] is not None]
        summary[n] = {"photos": len(rows), "wrong_quarter": int(turned),
                      "mean_conf": round(float(np.mean(confs)), 4) if confs else None,
                      "lines": int(sum(r[n]["lines"] for r in rows)),
                      "lines_0.5": int(sum(r[n]["lines_0.5"] for r in rows)),
                      "s_per_photo": round(float(np.mean([r[n]["s"] for r in rows])), 2)}
        print(f"[{names.index(n) + 1}] {n}: {turned} of {len(rows)} photos on the wrong quarter turn; mean line "
              f"confidence {summary[n]['mean_conf']}; {summary[n]['lines']} lines ({summary[n]['lines_0.5']} at "
              f">= 0.5); {summary[n]['s_per_photo']} s/photo")
    if rapid is not None:
        sc = [r["ppocrv4"]["mean_score"] for r in rows if r["ppocrv4"]["mean_score"] is not None]
        summary["ppocrv4"] = {"lines": int(sum(r["ppocrv4"]["lines"] for r in rows)),
                              "mean_score": round(float(np.mean(sc)), 4) if sc else None,
                              "s_per_photo": round(float(np.mean([r["ppocrv4"]["s"] for r in rows])), 2)}
        print(f"PP-OCRv4: mean line score {summary['ppocrv4']['mean_score']}; {summary['ppocrv4']['lines']} lines; "
              f"{summary['ppocrv4']['s_per_photo']} s/photo")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "threads": args.threads, "photos": rows}, indent=1) + "\n")
    if args.sheet and tiles:
        _sheet(tiles, args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
