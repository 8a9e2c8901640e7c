"""Recognizer speed on real line crops, 2 CPU threads, systems side by side on the same crops.

    python benchmarks/recognizer_speed.py [--crops 600] [--threads 2] [PAGESET ...]

Crops are the ground-truth boxes of the page sets' *validation* pages (evenly spaced, cut as ``ocr-eval
--crops`` cuts them). Systems:
- ``shipped``: the packaged recognizer through ``pipeline.load()`` (its configured decoder: beam search
  fused with the character language model for the less confident readings; its precision: bf16 on CPUs
  with AMX), and again in fp32 (where that differs), with greedy decoding and no language model (which
  shows what the beams cost), and without reading dense readings again 1.3x wider
  (``recognizer.reread_stretch: 1``, which shows what that second reading costs);
- every other preset in ``configs/recognizer/`` at random init in the shipped precision and without the
  second reading (a random model's readings are not dense the way a trained one's are), speed only (the
  speed side of choosing the shipped preset; their accuracy needs a training run);
- ``pp-ocrv4``: the PP-OCRv4 recognizer of ``rapidocr-onnxruntime`` on its own batched path, if installed
  (``pip install rapidocr-onnxruntime``, only for this benchmark);
- ``tesseract``: ``tesseract --psm 7``, one process per crop, ``threads`` processes at a time, if installed.
Each system reads all crops once to warm up, then the best of ``--repeat`` timed passes is reported.
This is a benchmark, not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import best_time  # noqa: E402  (benchmarks/timing.py, beside this script)

DEFAULT_SETS = ["../shared/data/real/funsd", "../shared/data/real/sroie"]


def crops_of(pagesets: list[str], n: int) -> list[np.ndarray]:
    from pipeline.evaluate import gt_crops
    from synth import pageset

    items = []
    for folder in pagesets:
        pages = pageset.split(pageset.read(folder), "val", Path(folder).name)
        items += [c for c, _ in gt_crops(pages)]
    idx = np.linspace(0, len(items) - 1, min(n, len(items))).astype(int)
    return [items[i] for i in idx]


def systems(threads: int):
    from dataclasses import asdict

    import configs
    import recognition
    from pipeline.evaluate import RapidOCRSystem, SystemUnavailable, TesseractSystem
    from recognition.charset import Charset
    from recognition.crnn import CRNN
    from recognition.predictor import Recognizer
    from recognition.train import load_config

    import pipeline

    ocr = pipeline.load(threads=threads)                   # the shipped weights and configs/default.yaml
    a, prec = ocr.recognizer.model.arch(), ocr.recognizer.precision
    rc, w, lm = asdict(ocr.config.recognizer), recognition.weights_path(), recognition.lm_path()
    gated = (rc["beam_above"], rc["beam_below"]) != (0, 1)
    gate = f" for confidence {rc['beam_above']}-{rc['beam_below']}" if gated else ""
    how = f"beam {rc['beam_width']}{gate}" + (f", LM {rc['lm_weight']}" if rc["lm_weight"] > 0 else "")
    yield f"shipped (width {a['width']}, hidden {a['hidden']}, {how}, {prec})", \
        lambda cs: [r.text for r in ocr.recognize(cs)]
    variants = {f"shipped, {how}, fp32": {"precision": "fp32"}} if prec != "fp32" else {}
    if rc["beam_width"] > 1:                                # what the beams (and language model) cost
        variants[f"shipped, greedy, {prec}"] = {"beam_width": 1, "lm_weight": 0.0}
    variants[f"shipped, {how}, {prec}, dense readings not read again"] = {"reread_stretch": 1.0}
    for label, change in variants.items():
        kw = {**rc, "precision": prec, **change}
        other = Recognizer.from_file(w, lm=lm, **kw)
        yield label, lambda cs, other=other: [r.text for r in other(cs)]
    for yaml in sorted(configs.ROOT.glob("recognizer/*.yaml")):
        if yaml.name == "shipped.yaml":                     # the recipe, not a preset
            continue
        m = load_config(yaml).model
        if (m.width, m.hidden) == (a["width"], a["hidden"]):
            continue
        cs = Charset.from_file(m.charset)
        rec = Recognizer(CRNN(len(cs), m.width, m.hidden), cs, precision=prec, reread_stretch=1.0)
        yield f"{yaml.stem} (width {m.width}, hidden {m.hidden}; untrained, not read again, speed only)", \
            lambda crops, rec=rec: [r.text for r in rec(crops)]
    for cls, label in ((RapidOCRSystem, "pp-ocrv4 (rapidocr-onnxruntime)"), (TesseractSystem, "tesseract --psm 7")):
        try:
            sysm = cls(threads)
        except SystemUnavailable as exc:
            print(f"  ({label}: skipped, {exc})")
            continue
        yield label, sysm.crops


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pagesets", nargs="*", default=DEFAULT_SETS)
    ap.add_argument("--crops", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    crops = crops_of(args.pagesets, args.crops)
    px = sum(c.shape[1] * 32 / c.shape[0] for c in crops) / len(crops)
    print(f"{len(crops)} crops from the val pages of {', '.join(Path(p).name for p in args.pagesets)}, "
          f"mean width {px:.0f} px at height 32; {args.threads} threads")
    print(f"{'system':58s} {'crops/s':>9s} {'ms/crop':>8s}")
    rows = []
    for name, fn in systems(args.threads):
        best = best_time(fn, crops, args.repeat)
        rows.append({"system": name, "crops_s": round(len(crops) / best, 1), "ms_crop": round(1000 * best / len(crops), 2)})
        print(f"{name:58s} {rows[-1]['crops_s']:9.1f} {rows[-1]['ms_crop']:8.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"crops": len(crops), "mean_width": round(px), "threads": args.threads,
                                         "results": rows}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
