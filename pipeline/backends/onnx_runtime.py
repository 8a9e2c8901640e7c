"""The networks run by ONNX Runtime, from the ``.onnx`` files that ``python -m detection.export`` and
``python -m recognition.export`` write beside the ``.pt`` files.

:class:`RecognizerNetwork` and :class:`DetectorNetwork` take and give what the torch networks of the
predictors do (:class:`recognition.predictor.TorchNetwork`, :class:`detection.predictor.TorchNetwork`), so
``Recognizer(RecognizerNetwork(path), network.charset)`` and ``Detector(DetectorNetwork(path), cfg, ...)``
read exactly as with torch, to float32 rounding. What a ``.pt`` file carries beside its weights (charset,
anchors, provenance) is read from the ONNX file's metadata.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from detection.export import FORMAT as DETECTOR_FORMAT
from recognition.export import FORMAT as RECOGNIZER_FORMAT

__all__ = ["OnnxModelError", "RecognizerNetwork", "DetectorNetwork"]


class OnnxModelError(ValueError):
    """A file that is not a readable ONNX model of the expected kind; the message names the file."""


def _session(path: Path, threads: int | None, kind: str):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ValueError("the onnx backend needs ONNX Runtime: pip install onnxruntime "
                         "(or use runtime.backend: torch)") from None

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3                 # errors only: no notes on folded initializers
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:                    # missing, truncated or not ONNX at all
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise OnnxModelError(f"{path}: not a readable ONNX model ({first})") from None
    meta = sess.get_modelmeta().custom_metadata_map
    if meta.get("format") != kind:
        raise OnnxModelError(f"{path}: not a {kind} file (format {meta.get('format')!r}); export one with "
                             f"python -m {'recognition' if 'recognizer' in kind else 'detection'}.export")
    return sess, meta


class RecognizerNetwork:
    """The CRNN of an exported recognizer file: ``(x (B,1,32,W) float32, widths (B,) int64)`` ->
    character probabilities ``(T, B, C)`` float32. ``threads``: ONNX Runtime's intra-op threads (default:
    its own choice, one per physical core)."""

    backend = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None):
        from recognition.charset import Charset

        self.path = Path(path)
        self.session, meta = _session(self.path, threads, RECOGNIZER_FORMAT)
        self.arch = json.loads(meta["arch"])
        self.charset = Charset.from_dict(json.loads(meta["charset"]))
        self.provenance = json.loads(meta.get("provenance", "{}"))
        self.num_classes = int(self.arch["num_classes"])

    def __call__(self, x: np.ndarray, widths: np.ndarray) -> np.ndarray:
        return self.session.run(["probs"], {"x": np.ascontiguousarray(x, np.float32),
                                            "widths": np.asarray(widths, np.int64)})[0]


class DetectorNetwork:
    """The CTPN of an exported detector file: ``x (1,3,H,W)`` float32 -> ``prob`` ``(1,h,w,A)``, ``vert``
    ``(1,h,w,A,2)``, ``side`` ``(1,h,w,A)`` on the stride-16 grid; ``anchors`` as the ``.pt`` file has them."""

    backend = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        self.session, meta = _session(self.path, threads, DETECTOR_FORMAT)
        self.arch = json.loads(meta["arch"])
        self.anchors = json.loads(meta["anchors"])
        self.stride = int(meta["stride"])
        self.provenance = json.loads(meta.get("provenance", "{}"))

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        prob, vert, side = self.session.run(["prob", "vert", "side"], {"x": np.ascontiguousarray(x, np.float32)})
        return {"prob": prob, "vert": vert, "side": side}
