"""A detector weight file -> ONNX, for the ONNX Runtime backend.

    python -m detection.export detection/weights/ctpn.pt [--out detection/weights/ctpn.onnx]

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
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import warnings
from pathlib import Path

__all__ = ["FORMAT", "export", "main"]

FORMAT = "ocr-detector-onnx/1"
OPSET = 17


def export(weights: str | Path, out: str | Path | None = None) -> Path:
    """Write the ONNX graph of detector weight file ``weights`` to ``out`` (default: beside it, ``.onnx``)."""
    import torch

    from detection import weightfile
    from training.onnx_export import float16_storage, sha256, write_model

    class WithProb(torch.nn.Module):
        def __init__(self, ctpn):
            super().__init__()
            self.ctpn = ctpn

        def forward(self, x):
            out = self.ctpn(x)
            return out["scores"], out["vert"], out["side"], torch.softmax(out["scores"], dim=-1)[..., 1]

    weights = Path(weights)
    model, anchors, prov = weightfile.load(weights)
    x = torch.zeros(2, 3, 96, 160)
    grid = {0: "B", 1: "h", 2: "w"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(WithProb(model).eval(), (x,), buf, dynamo=False, opset_version=OPSET,
                          do_constant_folding=False, input_names=["x"], output_names=["scores", "vert", "side", "prob"],
                          dynamic_axes={"x": {0: "B", 2: "H", 3: "W"}, **{k: grid for k in ("scores", "vert", "side", "prob")}})
    meta = {"format": FORMAT, "arch": json.dumps(model.arch()), "anchors": json.dumps(anchors), "stride": str(model.stride),
            "provenance": json.dumps({**prov, "exported_from": {"file": weights.name, "sha256": sha256(weights)}},
                                     ensure_ascii=False, default=str)}
    return write_model(float16_storage(buf.getvalue()), Path(out) if out else weights.with_suffix(".onnx"), meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m detection.export", description=__doc__.splitlines()[0])
    ap.add_argument("weights", type=Path, help="a detector .pt file")
    ap.add_argument("--out", type=Path, help="the .onnx file (default: beside the .pt file)")
    args = ap.parse_args(argv)
    from detection.weightfile import WeightFileError

    try:
        path = export(args.weights, args.out)
    except (WeightFileError, ImportError) as exc:
        print(f"detection.export: {exc}", file=sys.stderr)
        return 2
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
