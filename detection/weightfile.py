"""Detector weight files: one ``.pt`` dict that :func:`torch.load` reads with ``weights_only=True``.

Layout (format ``ocr-detector/1``)::

    {"format": "ocr-detector/1",
     "arch": {"width", "batch_norm", "lstm_hidden", "fc", "num_anchors"},   # CTPN constructor arguments
     "anchors": {"heights": [...], "width": 16},                           # what the head was trained for
     "state_dict": {name: tensor},                                         # float16 floats when saved half
     "provenance": {"data": [...], "steps": int, "val": {...}, "config": {...}, "created": str}}
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from detection import anchors as anchors_mod
from detection.ctpn import CTPN

__all__ = ["FORMAT", "save", "load", "WeightFileError"]

FORMAT = "ocr-detector/1"


class WeightFileError(ValueError):
    """A file that is not a readable detector weight file; the message names the file."""


def save(path: str | Path, model: CTPN, provenance: dict, heights=anchors_mod.HEIGHTS, width=anchors_mod.WIDTH,
         half: bool = True) -> Path:
    """Write ``model`` (fp16 floats when ``half``) atomically to ``path``."""
    path = Path(path)
    if len(heights) != model.num_anchors:
        raise ValueError(f"model has {model.num_anchors} anchors per position but {len(heights)} heights were given")
    sd = {k: (v.detach().to("cpu").half() if half and v.is_floating_point() else v.detach().to("cpu")).clone()
          for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "arch": model.arch(), "anchors": {"heights": [float(h) for h in heights], "width": float(width)},
            "state_dict": sd, "provenance": provenance}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load(path: str | Path, device: str = "cpu") -> tuple[CTPN, dict, dict]:
    """(model in eval mode, anchors {"heights", "width"}, provenance) from a file written by :func:`save`."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightFileError(f"{path}: no such weight file") from None
    except Exception as exc:  # unpickling refused or a damaged file
        raise WeightFileError(f"{path}: not a readable weight file ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WeightFileError(f"{path}: not a detector weight file (format {blob.get('format') if isinstance(blob, dict) else None!r}, expected {FORMAT!r})")
    model = CTPN(**blob["arch"])
    if len(blob["anchors"]["heights"]) != model.num_anchors:
        raise WeightFileError(f"{path}: {model.num_anchors} anchors per position but {len(blob['anchors']['heights'])} heights")
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    except RuntimeError as exc:
        raise WeightFileError(f"{path}: weights do not fit the stored architecture ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), blob["anchors"], blob.get("provenance", {})
