"""OCRmyPDF engine plugin: ``ocrmypdf --ocr-engine ocr-page in.pdf out.pdf`` reads the pages with this
project's models (``pip install "ocr-page[ocrmypdf]"`` registers it through the ``ocrmypdf`` entry-point
group).

- It is chosen only when asked for: with ``--ocr-engine auto`` (OCRmyPDF's default) Tesseract stays the
  engine.
- OCRmyPDF 17's ``generate_ocr`` path: the page's lines and words as an ``OcrElement`` tree (page -> lines ->
  words) in pixels of the image OCRmyPDF hands over, which OCRmyPDF renders as the text layer.
  ``generate_hocr`` writes this project's hOCR for the renderers that want a file.
- ``--rotate-pages`` and ``--deskew`` use this project's page geometry, not Tesseract's:
  :meth:`OcrPageEngine.get_orientation` is the models' quarter-turn decision (:mod:`pipeline.orientation`),
  :meth:`OcrPageEngine.get_deskew` the ink-projection skew (:func:`pipeline.geometry.estimate_skew`).
- ``-l``: ``eng`` reads with the English recognizer, ``chi_sim`` with the Chinese one (which reads mixed
  Chinese and English lines), ``eng+chi_sim`` picks per page (``--lang auto``).
- Options: ``--ocr-page-min-confidence`` (lines read less confidently are left out, 0..1) and
  ``--ocr-page-device`` (``cpu``, or ``cuda`` where a GPU and torch are present).

OCRmyPDF reads pages in parallel (``--jobs``, threads or processes). Each worker loads the models once, on
first use, into its own thread's cache, so no network is shared between threads; each gets ``jobs / pages``
of the CPU's cores (at least one) for its network calls, as OCRmyPDF does for Tesseract, so ``--jobs 2`` on
two cores runs two single-threaded readers instead of four threads fighting for two cores.
"""
from __future__ import annotations

import logging
import os
import threading
from math import atan2, degrees
from pathlib import Path

from ocrmypdf import hookimpl
from ocrmypdf.exceptions import BadArgsError
from ocrmypdf.hocrtransform import BoundingBox, OcrClass, OcrElement
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from pydantic import BaseModel

log = logging.getLogger(__name__)

ENGINE = "ocr-page"
LANGS = {"eng": "en", "chi_sim": "zh"}          # OCRmyPDF's (Tesseract's) language names -> ours
# OCRmyPDF turns a page when the engine's confidence reaches --rotate-pages-threshold (default 14, on
# Tesseract's arbitrary 0-15 scale). The models' decision already weighs its own margins
# (pipeline.orientation), so a quarter turn they decide reports 14 plus their score margin (0..1): the
# default threshold follows the models, and a higher one (14.2, say) asks for a clearer margin.
DECIDED = 14.0
_local = threading.local()


class OcrPageOptions(BaseModel):
    """The plugin's options, as OCRmyPDF hands them over (``options.ocr_page``)."""
    min_confidence: float | None = None
    device: str = "cpu"
    threads: int | None = None                  # set by the validate hook: cores per worker


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ocr-page")
    except PackageNotFoundError:                # a checkout that was never installed
        return "0+unknown"


def _lang(options) -> str:
    """Our language for OCRmyPDF's ``-l`` list: one language, or ``auto`` for both."""
    langs = {LANGS[g] for g in (options.languages or ["eng"]) if g in LANGS} or {"en"}
    return langs.pop() if len(langs) == 1 else "auto"


def _ocr(options):
    """This thread's loaded system for ``options`` (loaded on first use, then kept)."""
    import pipeline

    opts = options.ocr_page
    key = (_lang(options), opts.device, opts.min_confidence, opts.threads)
    cached = getattr(_local, "ocr", None)
    if cached is None or cached[0] != key:
        log.debug("ocr-page: loading the models (%s) in thread %s", key, threading.current_thread().name)
        ocr = pipeline.load(device=opts.device, threads=opts.threads, min_confidence=opts.min_confidence,
                            lang=key[0], orientation="auto")
        _local.ocr = cached = (key, ocr)
    return cached[1]


def _image(input_file: Path):
    """(RGB array, dpi) of the page image OCRmyPDF hands over."""
    from PIL import Image

    from pipeline.images import load

    with Image.open(input_file) as im:
        dpi = im.info.get("dpi", (300.0, 300.0))
    dpi = float(dpi[0] if isinstance(dpi, tuple) else dpi) or 300.0
    return load(input_file), dpi


def _textangle(quad) -> float:
    """The quarter turn (0, 90, 180, 270 degrees counter-clockwise) nearest to a line's direction (its quad's
    top edge, as the line reads), as Tesseract's hOCR gives ``textangle``. The skew within the quarter is
    left out: with it, OCRmyPDF's renderer tilts each line's text, and pdftotext then ran the words of the
    skewed letter together (token agreement with ocr-page 0.90; 0.975 without)."""
    (x0, y0), (x1, y1) = quad[0], quad[1]
    return float(round(degrees(atan2(-(y1 - y0), x1 - x0)) / 90.0) % 4 * 90)


def _box(box) -> BoundingBox:
    x0, y0, x1, y1 = (float(v) for v in box)
    return BoundingBox(left=x0, top=y0, right=max(x1, x0), bottom=max(y1, y0))


def page_tree(page, dpi: float, page_number: int = 0) -> OcrElement:
    """The ``OcrElement`` tree of a :class:`pipeline.result.Page`: page -> lines -> words, boxes in the
    page image's pixels, confidences 0..1. A line read without word boxes is one word."""
    lang = {v: k for k, v in LANGS.items()}.get(page.lang)
    lines = []
    for ln in page.lines:
        words = ln.words or ([ln] if ln.text else [])
        children = [OcrElement(ocr_class=OcrClass.WORD, bbox=_box(w.box), text=w.text,
                               confidence=float(w.confidence)) for w in words if w.text.strip()]
        if children:
            lines.append(OcrElement(ocr_class=OcrClass.LINE, bbox=_box(ln.box), children=children,
                                    textangle=_textangle(ln.quad) if ln.quad else 0.0,
                                    confidence=float(ln.confidence), language=lang))
    return OcrElement(ocr_class=OcrClass.PAGE, bbox=BoundingBox(left=0, top=0, right=page.width, bottom=page.height),
                      dpi=dpi, page_number=page_number, language=lang, children=lines)


class OcrPageEngine(OcrEngine):
    """This project's detector and recognizer as an OCRmyPDF engine."""

    @staticmethod
    def version() -> str:
        return _version()

    @staticmethod
    def creator_tag(options) -> str:
        return f"ocr-page {_version()}"

    def __str__(self) -> str:
        return f"ocr-page {_version()}"

    @staticmethod
    def languages(options) -> set[str]:
        import recognition

        return {g for g, ours in LANGS.items() if recognition.weights_path(ours) is not None}

    @staticmethod
    def get_orientation(input_file: Path, options) -> OrientationConfidence:
        """The quarter turn the models read on the page, in OCRmyPDF's terms: the page's text turned that far
        clockwise (90: the tops of the letters face right), which OCRmyPDF undoes; ours count
        counter-clockwise (:mod:`pipeline.orientation`), hence the sign. Confidence: :data:`DECIDED` + the
        models' margin, 0 when the evidence was too weak to turn (the page stays as given)."""
        rgb, _ = _image(input_file)
        orient, _ = _ocr(options).orient(rgb)
        confidence = DECIDED + float(orient.confidence) if orient.confidence else 0.0
        return OrientationConfidence(angle=-int(orient.quarter) % 360, confidence=confidence)

    @staticmethod
    def get_deskew(input_file: Path, options) -> float:
        """Degrees to turn the page counter-clockwise to level its lines (OCRmyPDF turns by this)."""
        from pipeline import crop, geometry
        from pipeline.config import load as load_config

        cfg = load_config().page                              # the settings alone: no models needed
        rgb, _ = _image(input_file)
        skew = geometry.estimate_skew(crop.to_gray(rgb), max_angle=cfg.max_skew)
        return -skew if abs(skew) >= cfg.min_skew else 0.0      # the lines lean by +skew: turn back by it

    @staticmethod
    def supports_generate_ocr() -> bool:
        return True

    @staticmethod
    def _read(input_file: Path, options):
        rgb, dpi = _image(input_file)
        return _ocr(options).read_array(rgb, str(input_file)), dpi

    @staticmethod
    def generate_ocr(input_file: Path, options, page_number: int = 0) -> tuple[OcrElement, str]:
        page, dpi = OcrPageEngine._read(input_file, options)
        return page_tree(page, dpi, page_number), page.text

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options) -> None:
        from pipeline.exporters import export

        page, _ = OcrPageEngine._read(input_file, options)
        Path(output_hocr).write_bytes(export([page], "hocr"))
        Path(output_text).write_text(page.text, encoding="utf-8")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options) -> None:
        raise NotImplementedError("ocr-page gives OCRmyPDF its text as an OcrElement tree (or hOCR); "
                                  "use --pdf-renderer auto or fpdf2, not sandwich")


@hookimpl
def register_options():
    return {"ocr_page": OcrPageOptions}


@hookimpl
def add_options(parser):
    for action in parser._actions:              # argparse has no public way to extend a choice list
        if action.dest == "ocr_engine" and action.choices is not None and ENGINE not in action.choices:
            action.choices = [*action.choices, ENGINE]
    group = parser.add_argument_group("ocr-page", "Options of the ocr-page engine (--ocr-engine ocr-page)")
    group.add_argument("--ocr-page-min-confidence", dest="ocr_page_min_confidence", type=float, default=None,
                       metavar="C", help="leave out lines read less confidently than C (0..1; default: "
                                         "the shipped config's)")
    group.add_argument("--ocr-page-device", dest="ocr_page_device", default="cpu", metavar="DEVICE",
                       help="cpu (default) or cuda (needs torch and a CUDA GPU)")


def _selected(options) -> bool:
    return options is not None and getattr(options, "ocr_engine", "auto") == ENGINE


@hookimpl
def check_options(options):
    if not _selected(options):
        return
    opts = options.ocr_page
    if opts.min_confidence is not None and not 0.0 <= opts.min_confidence <= 1.0:
        raise BadArgsError(f"--ocr-page-min-confidence must be between 0 and 1, not {opts.min_confidence}")
    if opts.device != "cpu" and not opts.device.startswith("cuda"):
        raise BadArgsError(f"--ocr-page-device must be cpu or cuda, not {opts.device!r}")
    missing = [g for g in options.languages or [] if g not in LANGS]
    if missing:
        raise BadArgsError(f"ocr-page reads {' and '.join(LANGS)} (-l eng, -l chi_sim or -l eng+chi_sim), "
                           f"not {'+'.join(missing)}")


@hookimpl
def validate(pdfinfo, options):
    """Cores per worker: OCRmyPDF runs ``min(jobs, pages)`` workers at once, one page each, and each gets an
    equal share of the cores (at least one)."""
    if not _selected(options):
        return
    cores = os.cpu_count() or 1
    jobs = options.jobs or cores
    threads = max(1, cores // max(1, min(jobs, len(pdfinfo))))
    options.extra_attrs["ocr_page_threads"] = threads
    options.ocr_page.threads = threads
    log.debug("ocr-page: %d thread(s) per worker (%d jobs, %d pages)", threads, jobs, len(pdfinfo))


@hookimpl
def get_ocr_engine(options):
    """This engine for ``--ocr-engine ocr-page``; None otherwise, so that ``auto`` stays with Tesseract."""
    return OcrPageEngine() if _selected(options) else None
