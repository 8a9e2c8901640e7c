"""int8 networks against the shipped float32 ones: network time, crop CER and page tok_F, in one run.

    python benchmarks/int8.py [--threads 2] [--json benchmarks/figures/int8.json]

Writes the int8 versions of the shipped English recognizer and the detector into a temporary folder, as
``python -m recognition.export ... --int8`` and ``python -m detection.export ... --int8`` do
(:func:`training.onnx_export.quantize`, calibrated on synthetic data), then:

- times each network alone, float32 ``.onnx`` and int8, the best of 5 runs after a warm-up: the recognizer
  on 16 lines 400 px wide, the detector on a 1024 x 768 page;
- reads the FUNSD and SROIE val crops (``ocr-eval --crops``) with each recognizer;
- reads the val pages (``ocr-eval``) with float32 networks, the int8 recognizer, and both int8.

The rule (issue 38): an int8 file ships only where crop CER and page tok_F hold to within 0.002.
A diagnostic with printed figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_REAL = _ROOT.parent / "shared/data/real"
TOLERANCE = 0.002


def network_ms(network, args: tuple) -> float:
    """ms of the fastest of 5 calls ``network(*args)`` (a backend network, as the predictors call it)."""
    from timing import best_time

    return 1000 * best_time(lambda a: network(*a), args, 5)


def evaluate(args: list[str]) -> list[dict]:
    from pipeline.evaluate import main as ocr_eval

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        if ocr_eval([str(_REAL / "funsd"), str(_REAL / "sroie"), "--split", "val", "--quiet", "--json", out.name,
                     *args]) != 0:
            raise SystemExit(f"int8: ocr-eval {' '.join(args)} failed")
        return json.loads(Path(out.name).read_text())["results"]


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    import detection
    import recognition
    from detection.export import calibration as detector_calibration
    from pipeline.backends.onnx_runtime import DetectorNetwork, RecognizerNetwork
    from recognition.export import calibration as recognizer_calibration
    from training.onnx_export import int8_path, quantize

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    rec_pt, det_pt = recognition.weights_path("en"), detection.weights_path()
    rec32, det32 = rec_pt.with_suffix(".onnx"), det_pt.with_suffix(".onnx")
    rng = np.random.default_rng(0)
    inputs = {"recognizer": (rng.uniform(-1, 1, (16, 1, 32, 432)).astype(np.float32), np.full(16, 400, np.int64)),
              "detector": (rng.uniform(-2, 2, (1, 3, 768, 1024)).astype(np.float32),)}
    networks = {"recognizer": RecognizerNetwork, "detector": DetectorNetwork}
    with tempfile.TemporaryDirectory() as tmp:
        rec8 = quantize(rec32, recognizer_calibration(rec_pt), Path(tmp) / int8_path(rec32).name)
        det8 = quantize(det32, detector_calibration(det_pt), Path(tmp) / int8_path(det32).name)
        ms = {f"{kind} {label}": round(network_ms(networks[kind](path, args.threads), inputs[kind]), 1)
              for kind, pair in (("recognizer", (rec32, rec8)), ("detector", (det32, det8)))
              for label, path in zip(("fp32", "int8"), pair)}
        for k, v in ms.items():
            print(f"{k:16s} {v:7.1f} ms", flush=True)
        threads = ["--threads", str(args.threads)]
        crops = {"fp32": evaluate(["--crops", "--recognizer", str(rec32), *threads]),
                 "int8": evaluate(["--crops", "--recognizer", str(rec8), *threads])}
        pages = {"fp32": evaluate(["--recognizer", str(rec32), "--detector", str(det32), *threads]),
                 "int8 recognizer": evaluate(["--recognizer", str(rec8), "--detector", str(det32), *threads]),
                 "int8 both": evaluate(["--recognizer", str(rec8), "--detector", str(det8), *threads])}
    rows = []
    for label, results in crops.items():
        for r in results:
            rows.append({"what": "crops", "networks": label, "set": r["set"], "CER": r["CER"], "CER_ci": r["CER_ci"]})
    for label, results in pages.items():
        for r in results:
            rows.append({"what": "pages", "networks": label, "set": r["set"], "tok_F": r["tok_F"],
                         "det_F": r["det_F"], "s_per_page": r["s_per_page"]})
    base = {(r["what"], r["set"]): r for r in rows if r["networks"] == "fp32"}
    for r in rows:
        b = base[(r["what"], r["set"])]
        key = "CER" if r["what"] == "crops" else "tok_F"
        r["holds"] = abs(r[key] - b[key]) <= TOLERANCE
        print(f"{r['what']:5s} {r['set']:6s} {r['networks']:16s} {key} {r[key]:.4f} "
              f"({r[key] - b[key]:+.4f}){'' if r['holds'] else '  beyond 0.002'}")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "network_ms": ms, "results": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
