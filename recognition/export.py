"""A recognizer weight file -> ONNX, for the ONNX Runtime backend.

    python -m recognition.export recognition/weights/crnn_s.pt [--out recognition/weights/crnn_s.onnx]

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
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import warnings
from pathlib import Path

__all__ = ["FORMAT", "export", "main"]

FORMAT = "ocr-recognizer-onnx/1"
OPSET = 17


def export(weights: str | Path, out: str | Path | None = None) -> Path:
    """Write the ONNX graph of recognizer weight file ``weights`` to ``out`` (default: beside it, ``.onnx``)."""
    import torch

    from recognition import weightfile
    from training.onnx_export import float16_storage, sha256, write_model

    class WithProbs(torch.nn.Module):
        def __init__(self, crnn):
            super().__init__()
            self.crnn = crnn

        def forward(self, x, widths):
            logits = self.crnn(x, widths)
            return logits, logits.softmax(-1)

    weights = Path(weights)
    model, charset, prov = weightfile.load(weights)
    x = torch.zeros(2, 1, 32, 96)
    widths = torch.tensor([96, 60])
    buf = io.BytesIO()
    with warnings.catch_warnings():          # the exporter's notes on LSTM batch sizes and packed sequences
        warnings.simplefilter("ignore")
        torch.onnx.export(WithProbs(model).eval(), (x, widths), buf, dynamo=False, opset_version=OPSET,
                          do_constant_folding=False, input_names=["x", "widths"], output_names=["logits", "probs"],
                          dynamic_axes={"x": {0: "B", 3: "W"}, "widths": {0: "B"}, "logits": {0: "T", 1: "B"},
                                        "probs": {0: "T", 1: "B"}})
    meta = {"format": FORMAT, "arch": json.dumps(model.arch()), "charset": json.dumps(charset.to_dict(), ensure_ascii=False),
            "provenance": json.dumps({**prov, "exported_from": {"file": weights.name, "sha256": sha256(weights)}},
                                     ensure_ascii=False, default=str)}
    return write_model(float16_storage(buf.getvalue()), Path(out) if out else weights.with_suffix(".onnx"), meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recognition.export", description=__doc__.splitlines()[0])
    ap.add_argument("weights", type=Path, help="a recognizer .pt file")
    ap.add_argument("--out", type=Path, help="the .onnx file (default: beside the .pt file)")
    args = ap.parse_args(argv)
    from recognition.weightfile import WeightFileError

    try:
        path = export(args.weights, args.out)
    except (WeightFileError, ImportError) as exc:
        print(f"recognition.export: {exc}", file=sys.stderr)
        return 2
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
