"""A recognizer weight file -> ONNX, for the ONNX Runtime backend.

    python -m recognition.export recognition/weights/crnn_s.pt [--out recognition/weights/crnn_s.onnx] [--int8]

The graph is :class:`recognition.crnn.CRNN`'s forward, exported by the TorchScript-based exporter
(``dynamo=False``: the dynamo exporter freezes the BiLSTM's time axis) with an example batch of 2 lines of
different widths, so batch and width stay free:

- inputs ``x`` ``(B, 1, 32, W)`` float32 in [-1, 1] (:func:`recognition.preprocess.batch`) and ``widths``
  ``(B,)`` int64, the unpadded widths (the BiLSTM reads each line to its own length, as in torch);
- outputs ``logits`` ``(T, B, C)`` float32 and ``probs``, their softmax over the classes (what the predictor
  decodes); steps past ``timesteps(widths[b])`` are padding.

The weights are stored as float16 and cast to float32 when the session loads (ONNX Runtime folds the casts):
the ``.pt`` files hold float16 weights already, so the values are the same and the file stays as small.
The file's metadata (``metadata_props``) carries what the ``.pt`` file carries beside the weights: format
``ocr-recognizer-onnx/1``, ``arch``, ``charset`` and ``provenance`` (JSON), with the name and SHA-256 of the
``.pt`` file it was exported from.

``--int8`` also writes ``crnn_s.int8.onnx``: :func:`training.onnx_export.quantize`, its convolutions
calibrated on synthetic lines of the recognizer's language (:func:`calibration`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["FORMAT", "export", "calibration", "main"]

FORMAT = "ocr-recognizer-onnx/1"


def export(weights: str | Path, out: str | Path | None = None) -> Path:
    """Write the ONNX graph of recognizer weight file ``weights`` to ``out`` (default: beside it, ``.onnx``)."""
    import torch

    from recognition import weightfile
    from training import onnx_export

    class WithProbs(torch.nn.Module):
        def __init__(self, crnn):
            super().__init__()
            self.crnn = crnn

        def forward(self, x, widths):
            logits = self.crnn(x, widths)
            return logits, logits.softmax(-1)

    weights = Path(weights)
    model, charset, prov = weightfile.load(weights)
    steps = {0: "T", 1: "B"}
    return onnx_export.export(
        WithProbs(model), (torch.zeros(2, 1, 32, 96), torch.tensor([96, 60])), weights, out,
        ["x", "widths"], ["logits", "probs"], {"x": {0: "B", 3: "W"}, "widths": {0: "B"}, "logits": steps, "probs": steps},
        {"format": FORMAT, "arch": json.dumps(model.arch()), "charset": json.dumps(charset.to_dict(), ensure_ascii=False)},
        prov)


CALIBRATION_SEED = 8101                  # synthetic lines no training cache draws (those use seeds 1-9)


def calibration(weights: str | Path, batches: int = 32, per_batch: int = 4) -> list[dict]:
    """Inputs to calibrate the int8 convolutions on (:func:`training.onnx_export.quantize`): ``batches``
    batches of ``per_batch`` synthetic lines of the recognizer's language (Chinese when its charset holds
    hanzi: ``configs/synth/zh.yaml``), prepared as the predictor prepares crops."""
    import configs
    from recognition import preprocess, weightfile
    from synth.config import load as load_synth
    from synth.lines import LineGenerator
    from synth.zh import is_han

    _, charset, _ = weightfile.load(weights)
    lang = "zh" if any(is_han(c) for c in charset.chars) else "en"
    cfg = load_synth(configs.path("synth/zh.yaml") if lang == "zh" else None)
    gen = LineGenerator(cfg.line, seed=CALIBRATION_SEED, lang=lang)
    feeds = []
    for b in range(batches):
        crops = [preprocess.resize_height(preprocess.to_gray(gen.line(b * per_batch + i).image))
                 for i in range(per_batch)]
        x, widths = preprocess.batch_array(crops)
        feeds.append({"x": x, "widths": widths})
    return feeds


def main(argv: list[str] | None = None) -> int:
    from recognition.weightfile import WeightFileError
    from training import onnx_export

    return onnx_export.main("recognition.export", "recognizer", export, (WeightFileError,), argv, calibration)


if __name__ == "__main__":
    sys.exit(main())
