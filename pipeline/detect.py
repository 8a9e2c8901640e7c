"""``python -m pipeline.detect PAGE [--draw out.png] [--weights FILE]``: run the detector alone on one page,
read as the pipeline reads it, with the pipeline's detector settings; print its lines (score and quad, one per
line, tab-separated) and optionally draw the fine proposals and the lines over it. A debugging aid: it lives
here, above the detector, because it reads pages and settings through the pipeline."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.detect", description="Detect text lines on one page.")
    ap.add_argument("page", type=Path)
    ap.add_argument("--draw", type=Path, metavar="OUT.png", help="write the page with proposals and lines drawn")
    ap.add_argument("--weights", type=Path, help="detector weight file (default: the shipped one)")
    ap.add_argument("--config", type=Path, help="pipeline YAML (default: configs/default.yaml)")
    args = ap.parse_args(argv)

    import cv2

    import detection
    from detection import weightfile
    from detection.draw import draw_detections
    from detection.predictor import Detector
    from pipeline import images
    from pipeline.config import load as load_config

    weights = args.weights or detection.weights_path()
    if weights is None:
        print(f"python -m pipeline.detect: no weights yet for the detector (expected *.pt in {detection.WEIGHTS_DIR})",
              file=sys.stderr)
        return 3
    try:
        det = Detector.from_file(weights, load_config(args.config).detector)
        page = images.load(args.page)
    except (weightfile.WeightFileError, images.ImageError, ValueError, FileNotFoundError) as exc:
        print(f"python -m pipeline.detect: {exc}", file=sys.stderr)
        return 2
    lines, boxes, scores = det.run(page)
    for ln in lines:
        print(f"{ln.score:.3f}\t" + " ".join(f"{x:.1f},{y:.1f}" for x, y in ln.quad))
    if args.draw:
        img = draw_detections(page, lines, boxes, scores)
        if not cv2.imwrite(str(args.draw), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            print(f"python -m pipeline.detect: {args.draw}: could not write the image", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
