"""What exporting either network to ONNX shares (``detection.export``, ``recognition.export``): tracing,
float16 weight storage, metadata with the source file's SHA-256, an atomic write, the command line. The
export needs the ``onnx`` package (the ``export`` extra); :func:`sha256` is also what
:mod:`pipeline.integrity` checks shipped files with. :func:`quantize` writes the int8 version of an export
(``--int8``)."""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import warnings
from pathlib import Path

__all__ = ["OPSET", "export", "quantize", "int8_path", "main", "float16_storage", "write_model", "sha256"]

OPSET = 17


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def float16_storage(model_bytes: bytes, min_size: int = 16):
    """The ONNX model ``model_bytes`` with every float32 initializer of at least ``min_size`` values that
    float16 holds exactly stored as float16 and cast back to float32 by a ``Cast`` node at the top of the graph. The networks compute in
    float32 as before; ONNX Runtime folds the casts when a session loads, so they cost nothing per run.
    Export without constant folding, so that the weights of the ``.pt`` file (float16 there) reach this
    unchanged: folded batch norms would give float32 values that stay float32 here."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    casts, keep = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if (init.data_type != onnx.TensorProto.FLOAT or arr.size < min_size
                or not np.array_equal(arr.astype(np.float16).astype(np.float32), arr)):   # only where exact
            keep.append(init)
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16")
        keep.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=init.name + "__cast"))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def write_model(model, path: Path, metadata: dict[str, str]) -> Path:
    """Write ONNX ``model`` to ``path`` atomically with ``metadata`` as its ``metadata_props``."""
    import onnx

    del model.metadata_props[:]
    for k, v in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, tmp)
    os.replace(tmp, path)
    return path


def export(network, example: tuple, weights: Path, out: str | Path | None, inputs: list[str], outputs: list[str],
           dynamic_axes: dict, metadata: dict[str, str], provenance: dict) -> Path:
    """Trace torch module ``network`` on ``example`` with the TorchScript-based exporter (``dynamo=False``:
    the dynamo exporter freezes a BiLSTM's time axis) and no constant folding (so float16 weights stay
    float16), and write it to ``out`` (default: ``weights`` with suffix ``.onnx``) with ``metadata`` and
    ``provenance`` plus the name and SHA-256 of ``weights``, the file it came from."""
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():          # the exporter's notes on LSTM batch sizes and packed sequences
        warnings.simplefilter("ignore")
        torch.onnx.export(network.eval(), example, buf, dynamo=False, opset_version=OPSET, do_constant_folding=False,
                          input_names=inputs, output_names=outputs, dynamic_axes=dynamic_axes)
    source = {"file": weights.name, "sha256": sha256(weights)}
    meta = {**metadata, "provenance": json.dumps({**provenance, "exported_from": source}, ensure_ascii=False,
                                                 default=str)}
    return write_model(float16_storage(buf.getvalue()), Path(out) if out else weights.with_suffix(".onnx"), meta)


def int8_path(path: str | Path) -> Path:
    """Where the int8 version of ONNX file ``path`` lives: ``crnn_s.onnx`` -> ``crnn_s.int8.onnx``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".onnx") + ".int8.onnx")


def quantize(src: str | Path, calibration: list[dict], out: str | Path | None = None) -> Path:
    """Write the int8 version of exported model ``src`` to ``out`` (default :func:`int8_path`): every
    convolution int8 in QDQ form, weights per output channel, activations on fixed ranges (min-max) that the
    ``calibration`` inputs (a list of feed dicts, synthetic data: never the evaluation sets) reach. The
    LSTMs and the output layer stay float32: ONNX Runtime's dynamic quantization of them scales each input
    by its whole batch, so a line would read differently beside other lines (measured: a receipt's
    "Cashier" read "CashIer" in one batch). The graph is first optimized as a session would (the float16
    casts and batch norms folded) so the quantizer sees plain float32 weights. Metadata is ``src``'s, its
    provenance extended by the name and SHA-256 of ``src`` and how it was quantized."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Feeds(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calibration)

        def get_next(self):
            return next(self.it, None)

    src = Path(src)
    out = Path(out) if out else int8_path(src)
    meta = {p.key: p.value for p in onnx.load(src, load_external_data=False).metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        opt = Path(tmp) / "opt.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(opt)
        opts.log_severity_level = 3
        ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
        with warnings.catch_warnings():      # the quantizer's advice to pre-process first: the session did
            warnings.simplefilter("ignore")
            quantize_static(opt, Path(tmp) / "int8.onnx", Feeds(), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv"], activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax)
        model = onnx.load(Path(tmp) / "int8.onnx")
    prov = json.loads(meta.get("provenance", "{}"))
    prov["quantized_from"] = {"file": src.name, "sha256": sha256(src),
                              "how": "int8 convolutions (QDQ, per-channel weights, activation ranges min-max over "
                                     f"{len(calibration)} synthetic calibration batches); LSTMs and output float32"}
    return write_model(model, out, {**meta, "provenance": json.dumps(prov, ensure_ascii=False, default=str)})


def main(prog: str, kind: str, export_file, errors: tuple, argv: list[str] | None = None,
         calibration=None) -> int:
    """``python -m PROG WEIGHTS [--out FILE] [--int8]``: ``export_file(weights, out)`` for a ``kind`` weight
    file, and with ``--int8`` :func:`quantize` of it on ``calibration(weights)``; ``errors`` are reported on
    one line (exit 2)."""
    ap = argparse.ArgumentParser(prog=f"python -m {prog}", description=f"A {kind} weight file -> ONNX.")
    ap.add_argument("weights", type=Path, help=f"a {kind} .pt file")
    ap.add_argument("--out", type=Path, help="the .onnx file (default: beside the .pt file)")
    ap.add_argument("--int8", action="store_true", help="also write its int8 version (NAME.int8.onnx beside it), "
                    "calibrated on synthetic data")
    args = ap.parse_args(argv)
    try:
        paths = [export_file(args.weights, args.out)]
        if args.int8:
            paths.append(quantize(paths[0], calibration(args.weights)))
    except (*errors, ImportError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
