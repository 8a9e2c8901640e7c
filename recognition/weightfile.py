"""Recognizer weight files: one ``.pt`` dict that :func:`torch.load` reads with ``weights_only=True``.

Layout (format ``ocr-recognizer/1``)::

    {"format": "ocr-recognizer/1",
     "arch": {"num_classes", "width", "hidden"[, "rank"]},  # CRNN constructor arguments
     "charset": {"chars", "blank"},                      # recognition.charset.Charset.to_dict()
     "state_dict": {name: tensor},                       # float16 where the tensor is floating point
     "provenance": {"data": [...], "steps": int, "val": {...}, "config": {...}, "created": str}}
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from recognition.charset import Charset
from recognition.crnn import CRNN

__all__ = ["FORMAT", "save", "load", "WeightFileError"]

FORMAT = "ocr-recognizer/1"


class WeightFileError(ValueError):
    """A file that is not a readable recognizer weight file; the message names the file."""


def save(path: str | Path, model: CRNN, charset: Charset, provenance: dict, half: bool = True) -> Path:
    """Write ``model`` (fp16 floats when ``half``) atomically to ``path``."""
    path = Path(path)
    if model.num_classes != len(charset):
        raise ValueError(f"model has {model.num_classes} classes but the charset {len(charset)}")
    sd = {k: (v.detach().to("cpu").half() if half and v.is_floating_point() else v.detach().to("cpu")).clone()
          for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "arch": model.arch(), "charset": charset.to_dict(), "state_dict": sd,
            "provenance": provenance}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load(path: str | Path, device: str = "cpu") -> tuple[CRNN, Charset, dict]:
    """(model in eval mode, charset, provenance) from a weight file written by :func:`save`."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightFileError(f"{path}: no such weight file") from None
    except Exception as exc:  # unpickling refused or a damaged file
        raise WeightFileError(f"{path}: not a readable weight file ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WeightFileError(f"{path}: not a recognizer weight file (format {blob.get('format') if isinstance(blob, dict) else None!r}, expected {FORMAT!r})")
    charset = Charset.from_dict(blob["charset"])
    model = CRNN(**blob["arch"])
    if model.num_classes != len(charset):
        raise WeightFileError(f"{path}: model has {model.num_classes} classes but its charset {len(charset)}")
    sd = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise WeightFileError(f"{path}: weights do not fit the stored architecture ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), charset, blob.get("provenance", {})
