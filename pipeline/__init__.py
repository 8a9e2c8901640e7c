"""Public API: ``ocr = pipeline.load(); page = ocr("scan.jpg")``; ``ocr.detect(image)`` finds text lines,
``ocr.recognize(crops)`` reads line crops.

The detector and recognizer weights ship inside the package (``detection/weights``,
``recognition/weights``); nothing is downloaded at run time. :func:`load` works with either model's
weights alone: the one that is present works, and asking for the other raises :class:`NoWeightsError`.
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
    """The loaded system. ``detect(image)`` -> :class:`detection.predictor.DetectedLine` per text line
    (``.quad``, ``.box``, ``.score`` in the image's pixels); ``recognize(crops)`` ->
    :class:`recognition.predictor.Recognition` per crop (``.text``, ``.confidence``, ``.char_conf``,
    ``.char_x``), in input order."""

    def __init__(self, recognizer=None, detector=None, config=None):
        from pipeline.config import PipelineConfig

        self.recognizer, self.detector = recognizer, detector
        self.config = config or PipelineConfig()

    def recognize(self, crops) -> list:
        """Read horizontal text-line crops (RGB or gray uint8 arrays of any size)."""
        if self.recognizer is None:
            raise NoWeightsError(_missing("recognizer", recognition.WEIGHTS_DIR))
        return self.recognizer(list(crops))

    def detect(self, image) -> list:
        """Text lines of a page (path, bytes, array or PIL image), top to bottom, in its own pixels."""
        self.check_detector()
        from pipeline.images import load as load_image

        return self.detector(load_image(image))

    def check_detector(self) -> None:
        """Raise :class:`NoWeightsError` unless the detector's weights are loaded."""
        if self.detector is None:
            raise NoWeightsError(_missing("detector", detection.WEIGHTS_DIR))

    def check_pages(self) -> None:
        """Raise :class:`NoWeightsError` unless whole pages can be read (needs both models' weights)."""
        for name, model, where in (("detector", self.detector, detection.WEIGHTS_DIR),
                                   ("recognizer", self.recognizer, recognition.WEIGHTS_DIR)):
            if model is None:
                raise NoWeightsError(_missing(name, where) + "; whole pages need both models")

    def __call__(self, image, source: str | None = None) -> Page:
        """Read a whole page (path, bytes, array or PIL image)."""
        self.check_pages()
        from pipeline.images import load as load_image

        if source is None and isinstance(image, (str, Path)):
            source = str(image)
        return self.read_array(load_image(image), source)

    def read_array(self, rgb, source: str | None = None, page: int = 0) -> Page:
        """Read one page given as an RGB uint8 array: detect -> crop -> recognize -> assemble."""
        from pipeline import crop, layout

        self.check_pages()
        found = self.detector(rgb)
        strips = crop.crop_lines(rgb, [d.quad for d in found], self.config.crop)
        reads = self.recognizer([s.image for s in strips]) if strips else []
        return layout.assemble(rgb.shape[:2], found, strips, reads, self.config.layout, source=source, page=page)


def _missing(name: str, where: Path) -> str:
    return f"no weights yet for the {name}: this build ships no trained {name} (expected *.pt in {where})"


def load(config: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> OCR:
    """Build the OCR system from the shipped weights and ``config`` (default ``configs/default.yaml``);
    ``device`` = ``"cpu"`` or ``"cuda"``, ``threads`` = torch CPU threads (default: torch's)."""
    import torch

    from detection.predictor import Detector
    from pipeline.config import load as load_config
    from recognition.predictor import Recognizer

    cfg = load_config(config)
    rec_path, det_path = recognition.weights_path(), detection.weights_path()
    if rec_path is None and det_path is None:
        raise NoWeightsError("no weights yet: this build ships no trained detector or recognizer "
                             f"(expected *.pt in {detection.WEIGHTS_DIR} and {recognition.WEIGHTS_DIR})")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is visible")
    if threads:
        torch.set_num_threads(int(threads))
    rec = det = None
    if rec_path is not None:
        r = cfg.recognizer
        rec = Recognizer.from_file(rec_path, device=device, beam_width=r.beam_width, batch_size=r.batch_size,
                                   batch_pixels=r.batch_pixels, max_width=r.max_width, rotate_tall=r.rotate_tall)
    if det_path is not None:
        det = Detector.from_file(det_path, cfg.detector, device=device)
    return OCR(rec, det, cfg)
