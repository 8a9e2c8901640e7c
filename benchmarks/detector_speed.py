"""Detector speed on A4 pages at 200 and 300 dpi, 2 CPU threads, systems side by side on the same pages.

    python benchmarks/detector_speed.py [--threads 2] [--repeat 3] [--widths 0.25 0.5 1.0]

Pages: a synthetic letter on A4 paper (``synth``, clean, no skew, no border) rendered at 200 and at 300 dpi
(1653 x 2338 and 2480 x 3507 px). Systems:
- ``shipped``: the packaged detector through ``pipeline.load().detect`` (working-scale estimate, network,
  text-line construction) in its configured precision (bf16 on CPUs with AMX), and in fp32, when the
  package has detector weights;
- CTPN at each ``--widths`` backbone width at random init in the same precision, speed only (the speed side of choosing the
  shipped width; accuracy needs a training run). An untrained head proposes little, so these times are
  the network and pre-processing; a trained one adds text-line construction (milliseconds);
- ``pp-ocrv4 det``: the DB detector of ``rapidocr-onnxruntime`` (detection only), if installed;
- ``tesseract --psm 3``: Tesseract's page layout analysis + recognition (it has no detection-only mode),
  for scale, if installed.
Each system runs once to warm up, then the best of ``--repeat`` timed passes is reported.
This is a benchmark, not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import best_time  # noqa: E402  (benchmarks/timing.py, beside this script)


def a4_page(dpi: int):
    from synth import config as synth_config
    from synth.pages import PageGenerator

    cfg = synth_config.load()
    pcfg = replace(cfg.page, skew_deg=0.0, perspective_share=0.0, handwriting=0.0, dpi=(dpi, dpi), dpi_high=0.0)
    gen = PageGenerator(pcfg, seed=11)
    a4 = (int(297 * dpi / 25.4), int(210 * dpi / 25.4))
    for index in range(50):             # the generator draws A4 or US Letter paper: take the first A4 page
        img = gen.page(index, layout="letter", profile="clean", geometry=False).image
        if img.shape[:2] == a4:
            return img
    raise RuntimeError("no A4 page among the first 50 synthetic letters")


def systems(threads: int, widths: list[float]):
    import numpy as np
    import torch

    import detection
    import pipeline
    from detection.ctpn import CTPN
    from detection.predictor import Detector
    from pipeline.config import load as load_config
    from pipeline.evaluate import SystemUnavailable, TesseractSystem

    torch.set_num_threads(threads)
    cfg = load_config().detector
    if detection.weights_path() is not None:
        ocr = pipeline.load(threads=threads)
        a, prec = ocr.detector.model.arch(), ocr.detector.precision
        yield f"shipped (width {a['width']}, {prec})", ocr.detect
        if prec != "fp32":
            yield f"shipped (width {a['width']}, fp32)", Detector.from_file(detection.weights_path(), cfg)
    else:
        prec = pipeline.resolve_precision(load_config().runtime.precision)
        print("  (shipped: no detector weights in this build)")
    from detection.backbone import fuse_batch_norm

    for w in widths:
        torch.manual_seed(0)
        model = CTPN(width=w).eval()
        model.backbone.features = fuse_batch_norm(model.backbone.features)   # as the shipped one runs
        det = Detector(model, cfg, precision=prec)
        yield f"ctpn width {w} (untrained, {prec}, speed only)", det
    try:
        from rapidocr_onnxruntime import RapidOCR

        try:
            eng = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        except TypeError:
            eng = RapidOCR()
        yield "pp-ocrv4 det (rapidocr-onnxruntime)", lambda img: eng(np.ascontiguousarray(img[..., ::-1]),
                                                                      use_cls=False, use_rec=False)
    except ImportError:
        print("  (pp-ocrv4 det: skipped, pip install rapidocr-onnxruntime)")
    try:
        yield "tesseract --psm 3 (layout + recognition)", TesseractSystem(threads).page
    except SystemUnavailable as exc:
        print(f"  (tesseract: skipped, {exc})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--widths", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from detection.predictor import estimate_line_height, working_size
    from pipeline.config import load as load_config

    cfg = load_config().detector
    pages = {dpi: a4_page(dpi) for dpi in (200, 300)}
    for dpi, img in pages.items():
        h, w = img.shape[:2]
        wh = working_size(h, w, estimate_line_height(img, cfg.cc_to_line), cfg)
        print(f"A4 at {dpi} dpi: {w} x {h} px, detector working size {wh[1]} x {wh[0]}")
    print(f"{args.threads} threads\n{'system':52s} {'200 dpi s/page':>15s} {'300 dpi s/page':>15s}")
    rows = []
    for name, fn in systems(args.threads, args.widths):
        row = [best_time(fn, img, args.repeat) for img in pages.values()]
        rows.append({"system": name, "s_page_200dpi": round(row[0], 3), "s_page_300dpi": round(row[1], 3)})
        print(f"{name:52s} {row[0]:15.3f} {row[1]:15.3f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "results": rows}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
