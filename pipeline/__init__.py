"""Public API: ``ocr = pipeline.load(); page = ocr("scan.jpg")``.

The detector and recognizer weights ship inside the package (``detection/weights``,
``recognition/weights``); nothing is downloaded at run time. Until they are trained, :func:`load`
raises :class:`NoWeightsError` with one clear line.
"""
from __future__ import annotations

import detection
import recognition
from pipeline.result import Block, Line, Page, Word

__all__ = ["load", "NoWeightsError", "Page", "Line", "Word", "Block"]


class NoWeightsError(RuntimeError):
    """The package holds no trained weights for a model that was asked for."""


def load(config=None, device: str = "cpu", threads: int | None = None):
    """Build the OCR pipeline from the shipped weights (``device`` = ``"cpu"`` or ``"cuda"``)."""
    missing = [name for name, mod in (("detector", detection), ("recognizer", recognition)) if mod.weights_path() is None]
    if len(missing) == 2:
        raise NoWeightsError("no weights yet: this build ships no trained detector or recognizer "
                             f"(expected *.pt in {detection.WEIGHTS_DIR} and {recognition.WEIGHTS_DIR})")
    raise NoWeightsError(f"no weights yet for the {' and '.join(missing)}; the pipeline lands with them")
