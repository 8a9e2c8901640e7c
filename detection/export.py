"""A detector weight file -> ONNX, for the ONNX Runtime backend.

    python -m detection.export detection/weights/ctpn.pt [--out detection/weights/ctpn.onnx] [--int8]

The graph is :class:`detection.ctpn.CTPN`'s forward, exported by the TorchScript-based exporter
(``dynamo=False``, as the recognizer) with an example batch of 2, so batch, height and width stay free:

- input ``x`` ``(B, 3, H, W)`` float32, normalized as :func:`detection.predictor.to_array` does;
- outputs ``scores`` ``(B, h, w, A, 2)``, ``vert`` ``(B, h, w, A, 2)`` and ``side`` ``(B, h, w, A)``, the raw
  head outputs of :meth:`CTPN.forward` on the stride-16 feature grid, and ``prob`` ``(B, h, w, A)``, the
  text probability of each anchor (the softmax of ``scores``: what the predictor reads).

Weights are stored as float16 (exactly the ``.pt`` file's values; batch norms stay separate, and ONNX
Runtime folds them into the convolutions when a session loads). The file's metadata: format
``ocr-detector-onnx/1``, ``arch``, ``anchors``, ``stride`` and ``provenance`` (JSON), with the name and SHA-256 of the
``.pt`` file it was exported from.

``--int8`` also writes ``ctpn.int8.onnx``: :func:`training.onnx_export.quantize`, its convolutions
calibrated on synthetic English and Chinese pages at their working scale (:func:`calibration`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["FORMAT", "export", "calibration", "main"]

FORMAT = "ocr-detector-onnx/1"


def export(weights: str | Path, out: str | Path | None = None) -> Path:
    """Write the ONNX graph of detector weight file ``weights`` to ``out`` (default: beside it, ``.onnx``)."""
    import torch

    from detection import weightfile
    from training import onnx_export

    class WithProb(torch.nn.Module):
        def __init__(self, ctpn):
            super().__init__()
            self.ctpn = ctpn

        def forward(self, x):
            out = self.ctpn(x)
            return out["scores"], out["vert"], out["side"], torch.softmax(out["scores"], dim=-1)[..., 1]

    weights = Path(weights)
    model, anchors, prov = weightfile.load(weights)
    names = ["scores", "vert", "side", "prob"]
    return onnx_export.export(
        WithProb(model), (torch.zeros(2, 3, 96, 160),), weights, out, ["x"], names,
        {"x": {0: "B", 2: "H", 3: "W"}, **{k: {0: "B", 1: "h", 2: "w"} for k in names}},
        {"format": FORMAT, "arch": json.dumps(model.arch()), "anchors": json.dumps(anchors), "stride": str(model.stride)},
        prov)


CALIBRATION_SEED = 8101                  # synthetic pages no training cache draws


def calibration(weights: str | Path, pages: int = 8) -> list[dict]:
    """Inputs to calibrate the int8 convolutions on (:func:`training.onnx_export.quantize`): ``pages``
    synthetic pages, three in four English (``configs/synth/default.yaml``) and one in four Chinese, each
    scaled to its working size and normalized as the predictor does."""
    import cv2

    import configs
    from detection import weightfile
    from detection.predictor import DetectorConfig, estimate_line_height, to_array, working_size
    from synth.config import load as load_synth
    from synth.pages import PageGenerator

    model, _, _ = weightfile.load(weights)
    cfg = DetectorConfig()
    gens = [PageGenerator(load_synth().page, seed=CALIBRATION_SEED),
            PageGenerator(load_synth(configs.path("synth/zh.yaml")).page, seed=CALIBRATION_SEED, lang="zh")]
    feeds = []
    for i in range(pages):
        img = gens[i % 4 == 3].page(i).image
        h, w = img.shape[:2]
        hh, ww = working_size(h, w, estimate_line_height(img, cfg.cc_to_line), cfg, model.stride)
        work = cv2.resize(img, (ww, hh), interpolation=cv2.INTER_AREA if ww < w else cv2.INTER_LINEAR)
        feeds.append({"x": to_array(work)})
    return feeds


def main(argv: list[str] | None = None) -> int:
    from detection.weightfile import WeightFileError
    from training import onnx_export

    return onnx_export.main("detection.export", "detector", export, (WeightFileError,), argv, calibration)


if __name__ == "__main__":
    sys.exit(main())
