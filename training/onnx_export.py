"""What exporting either network to ONNX needs once the graph is traced (``detection.export``,
``recognition.export``): float16 weight storage, metadata, an atomic write. Needs the ``onnx`` package
(the ``export`` extra); nothing at inference time imports this module."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["float16_storage", "write_model", "sha256"]


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
