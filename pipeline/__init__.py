"""Public API: ``ocr = pipeline.load(); page = ocr("scan.jpg")``; ``ocr.recognize(crops)`` reads line crops.

The detector and recognizer weights ship inside the package (``detection/weights``,
``recognition/weights``); nothing is downloaded at run time. :func:`load` needs the recognizer's weights;
without the detector's, :meth:`OCR.recognize` works and reading whole pages raises :class:`NoWeightsError`.
"""
from __future__ import annotations

from pathlib import Path

import detection
import recognition
from pipeline.result import Block, Line, Page, Word

__all__ = ["load", "OCR", "NoWeightsError", "Page", "Line", "Word", "Block"]


class NoWeightsError(RuntimeError):
    """The package holds no trained weights for a model that was asked for."""


class OCR:
    """The loaded system. ``recognize(crops)`` -> :class:`recognition.predictor.Recognition` per crop
    (``.text``, ``.confidence``, ``.char_conf``, ``.char_x``), in input order."""

    def __init__(self, recognizer):
        self.recognizer = recognizer

    def recognize(self, crops) -> list:
        """Read horizontal text-line crops (RGB or gray uint8 arrays of any size)."""
        return self.recognizer(list(crops))

    def check_pages(self) -> None:
        """Raise :class:`NoWeightsError` unless whole pages can be read (needs the detector's weights)."""
        raise NoWeightsError("no weights yet for the detector: this build reads line crops "
                             f"(ocr.recognize) but not whole pages (expected *.pt in {detection.WEIGHTS_DIR})")

    def __call__(self, image) -> Page:
        """Read a whole page (path, bytes, array or PIL image)."""
        self.check_pages()


def load(config: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> OCR:
    """Build the OCR system from the shipped weights and ``config`` (default ``configs/default.yaml``);
    ``device`` = ``"cpu"`` or ``"cuda"``, ``threads`` = torch CPU threads (default: torch's)."""
    import torch

    from pipeline.config import load as load_config
    from recognition.predictor import Recognizer

    cfg = load_config(config)
    rec_path = recognition.weights_path()
    if rec_path is None:
        raise NoWeightsError("no weights yet for the recognizer: this build ships no trained recognizer "
                             f"(expected *.pt in {recognition.WEIGHTS_DIR})")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is visible")
    if threads:
        torch.set_num_threads(int(threads))
    r = cfg.recognizer
    rec = Recognizer.from_file(rec_path, device=device, beam_width=r.beam_width, batch_size=r.batch_size,
                               batch_pixels=r.batch_pixels, max_width=r.max_width, rotate_tall=r.rotate_tall)
    return OCR(rec)
