"""Public API: ``ocr = pipeline.load(); page = ocr("scan.jpg")``; ``ocr.detect(image)`` finds text lines,
``ocr.recognize(crops)`` reads line crops.

The detector and recognizer weights ship inside the package (``detection/weights``,
``recognition/weights``); nothing is downloaded at run time. :func:`load` works with either model's
weights alone: the one that is present works, and asking for the other raises :class:`NoWeightsError`.
"""
from __future__ import annotations

import functools
from pathlib import Path

import detection
import recognition
from pipeline.result import Block, Line, Page, Word

__all__ = ["load", "OCR", "NoWeightsError", "resolve_precision", "Page", "Line", "Word", "Block"]


class NoWeightsError(RuntimeError):
    """The package holds no trained weights for a model that was asked for."""


class OCR:
    """The loaded system. ``detect(image)`` -> :class:`detection.predictor.DetectedLine` per text line
    (``.quad``, ``.box``, ``.score`` in the image's pixels); ``recognize(crops)`` ->
    :class:`recognition.predictor.Recognition` per crop (``.text``, ``.confidence``, ``.char_conf``,
    ``.char_x``), in input order."""

    def __init__(self, recognizer=None, detector=None, config=None, readers: dict | None = None):
        from pipeline.config import PipelineConfig

        self.recognizer, self.detector = recognizer, detector
        self.config = config or PipelineConfig()
        # --lang auto: every language's recognizer (recognizer is the en one); else just recognizer's
        self.readers = readers or {self.config.recognizer.lang: recognizer}

    @property
    def auto(self) -> bool:
        """Is the language chosen per page (``recognizer.lang: auto``)?"""
        return len(self.readers) > 1

    def language(self, crops) -> str:
        """The language the crops are read in: the configured one, or with ``auto`` the one
        :func:`pipeline.language.choose` picks from a sample of them."""
        if not self.auto:
            return next(iter(self.readers))
        from pipeline.language import choose

        return choose(self.readers["zh"], crops, self.config.language).lang

    def recognize(self, crops) -> list:
        """Read horizontal text-line crops (RGB or gray uint8 arrays of any size); with ``auto`` all of them
        in the language :meth:`language` picks for them."""
        if self.recognizer is None:
            raise NoWeightsError(_missing("recognizer", recognition.WEIGHTS_DIR))
        crops = list(crops)
        return self.readers[self.language(crops)](crops)

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
        """Read one page (path, bytes, array or PIL image; the first page of a multi-page file).

        >>> ocr = load()                                     # doctest: +SKIP
        >>> print(ocr("samples/receipt.jpg").text)           # doctest: +SKIP
        """
        pages = self.iter_read(image, source=source)
        try:
            return next(pages)
        finally:
            pages.close()                                    # a PDF is closed without rendering the rest

    def read(self, document, dpi: float | None = None) -> list[Page]:
        """Read every page of a document (multi-page TIFF, PDF rendered at ``dpi``, or one image)."""
        return list(self.iter_read(document, dpi))

    def iter_read(self, document, dpi: float | None = None, source: str | None = None, with_images: bool = False):
        """Yield the :class:`Page` of each page as it is read (memory stays flat on long documents);
        ``with_images`` yields ``(page, rgb)`` pairs (for a searchable PDF)."""
        from pipeline import images

        self.check_pages()
        if source is None and isinstance(document, (str, Path)):
            source = str(document)
        for index, rgb in images.pages(document, source, dpi or images.PDF_DPI):
            page = self.read_array(rgb, source, index)
            yield (page, rgb) if with_images else page

    def read_array(self, rgb, source: str | None = None, page: int = 0) -> Page:
        """Read one page given as an RGB uint8 array: orient -> detect -> crop -> recognize -> assemble.

        The page is turned upright (quarter turns and skew, :mod:`pipeline.orientation`) for detection and
        layout only; lines are cut from the image as given and every box is in its pixels. ``Page.angle``
        is the rotation that made it upright, degrees counter-clockwise (e.g. 90.4: text ran up the page),
        and ``Page.orientation_confidence`` how clearly the models' evidence decided it."""
        return self.read_arrays([rgb], [source], [page])[0]

    def read_arrays(self, rgbs: list, sources: list | None = None, pages: list | None = None) -> list[Page]:
        """:meth:`read_array` for several pages at once: the line crops of all of them go through the
        recognizer together, in width-sorted batches."""
        from pipeline import geometry, layout

        self.check_pages()
        cfg = self.config
        sources = sources or [None] * len(rgbs)
        pages = pages or list(range(len(rgbs)))
        prepared = [self.line_strips(rgb) for rgb in rgbs]       # (gray, orientation, quads, strips) per page
        langs = [self.language([s.image for s in p[3]]) for p in prepared]
        page_reads = self._read_by_language([[s.image for s in p[3]] for p in prepared], langs)
        self._second_look(prepared, page_reads, langs)
        out = []
        for (gray, orient, quads, strips), reads, lang, rgb, source, index in zip(prepared, page_reads, langs, rgbs,
                                                                                  sources, pages):
            to_up, _ = geometry.upright_map(*rgb.shape[:2], orient.angle)
            quads_up = [q @ to_up[:, :2].T + to_up[:, 2] for q in quads]
            page = layout.assemble(rgb.shape[:2], quads, quads_up, strips, reads, cfg.layout,
                                   source=source, page=index, angle=orient.angle)
            page.orientation_confidence, page.lang = orient.confidence, lang
            out.append(page)
        _return_freed_memory()
        return out

    def _read_by_language(self, page_strips: list[list], langs: list[str]) -> list[list]:
        """The readings of each page's strips, by its language's recognizer: the strips of all pages of one
        language go through it together, in width-sorted batches."""
        out: list[list] = [[] for _ in page_strips]
        for lang in dict.fromkeys(langs):
            mine = [i for i, g in enumerate(langs) if g == lang]
            strips = [s for i in mine for s in page_strips[i]]
            reads, k = (self.readers[lang](strips, pad_tight=False) if strips else []), 0
            for i in mine:
                out[i], k = reads[k:k + len(page_strips[i])], k + len(page_strips[i])
        return out

    def _second_look(self, prepared: list, page_reads: list[list], langs: list[str]) -> None:
        """The lines of pages in ``crop.retry_langs`` read less confidently than ``crop.retry_below`` are cut
        again from the page with ``crop.retry_pad_y`` above and below and read again; where that reads more
        confidently, its reading and strip replace the first (in place). A detector box a few pixels too
        tight clips the tops and bottoms of the characters, which the recognizer then reads badly."""
        from dataclasses import replace

        from pipeline import crop

        cfg = self.config.crop
        if cfg.retry_pad_y <= 0:
            return
        wide = replace(cfg, pad_y=cfg.retry_pad_y)
        redo = [[k for k, r in enumerate(reads) if r.confidence < cfg.retry_below] if lang in cfg.retry_langs else []
                for reads, lang in zip(page_reads, langs)]
        if not any(redo):
            return
        again = [[crop.crop_line(p[0], p[2][k], wide) for k in ks] for p, ks in zip(prepared, redo)]
        second = self._read_by_language([[s.image for s in strips] for strips in again], langs)
        for (_, _, _, strips), reads, ks, new_strips, new_reads in zip(prepared, page_reads, redo, again, second):
            for k, s, r in zip(ks, new_strips, new_reads):
                if r.confidence > reads[k].confidence:
                    strips[k], reads[k] = s, r

    def line_strips(self, rgb) -> tuple:
        """``(gray, orientation, quads, strips)`` of one RGB page: its gray copy, the
        :class:`pipeline.orientation.Orientation` that turns it upright (the detector reads the upright
        copy), its lines' quads in the page's own pixels, and their strips (:class:`pipeline.crop.LineCrop`)
        cut from the page as given: what the recognizer reads."""
        from pipeline import crop

        gray = crop.to_gray(rgb)
        orient, quads = self.orient(rgb, gray)
        return gray, orient, quads, crop.crop_lines(gray, quads, self.config.crop)

    def orient(self, rgb, gray=None) -> tuple:
        """``(orientation, quads)`` of one RGB page (``gray``: its gray copy, made when not given): the
        :class:`pipeline.orientation.Orientation` that turns it upright under the config's ``page`` settings,
        and the quads of the lines found on it turned so, in the page's own pixels."""
        from pipeline import crop, orientation
        from pipeline.language import MostConfident

        self.check_detector()
        reader = self.recognizer.plain() if self.recognizer else None
        if self.auto:                                 # the language is not known yet: every one's evidence
            reader = MostConfident(r.plain() for r in self.readers.values())
        return orientation.decide(self.detector, reader, rgb, crop.to_gray(rgb) if gray is None else gray,
                                  self.config.page)


@functools.cache
def _malloc_trim():
    try:
        import ctypes
        import ctypes.util

        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):                # not glibc (musl, macOS, Windows): nothing to call
        return None


def _return_freed_memory() -> None:
    """Give the memory freed after a page back to the system (glibc's ``malloc_trim``). The page's arrays
    are freed once it is read, but glibc keeps freed memory in its per-thread heaps: without this the
    resident memory grew by about 2.5 MB a page, 755 -> 954 MB over 80 identical PDF pages, and stays
    flat at 482 MB with it (``benchmarks/memory.py`` shows the peaks)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _missing(name: str, where: Path) -> str:
    return f"no weights yet for the {name}: this build ships no trained {name} (expected *.pt in {where})"


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """``"fp32"`` or ``"bf16"`` for a configured ``precision`` of the torch backend: ``"auto"`` picks bfloat16
    on a CPU with AMX tiles (its bf16 matrix unit runs these networks ~3x faster than float32) and float32
    otherwise (CPUs without AMX gain little or lose from bf16; CUDA stays float32 unless asked). The onnx
    backend's precisions are its files' (:func:`_onnx_of`)."""
    if precision != "auto":
        return precision
    from pipeline.backends import cpu_has_amx

    return "bf16" if device == "cpu" and cpu_has_amx() else "fp32"


def load(config: str | Path | None = None, device: str = "cpu", threads: int | None = None,
         min_confidence: float | None = None, orientation: str | int | None = None,
         detector_weights: str | Path | None = None, recognizer_weights: str | Path | None = None,
         lang: str | None = None, backend: str | None = None) -> OCR:
    """Build the OCR system from the shipped weights and ``config`` (default ``configs/default.yaml``);
    ``device`` = ``"cpu"`` or ``"cuda"``, ``threads`` = torch CPU threads (default: torch's). The networks
    run in the config's ``runtime.precision`` (:func:`resolve_precision`). ``min_confidence``, when given,
    replaces the config's ``layout.min_confidence``: lines read less confidently are left off the page
    (0 keeps every line). ``orientation``, when given, replaces the config's ``page.orientation``: ``"auto"``
    (the models decide), ``"none"`` (as given) or a quarter turn 0, 90, 180 or 270 (:mod:`pipeline.orientation`).
    ``detector_weights`` / ``recognizer_weights``: a weight file that ``ocr-train`` wrote (``best.pt``,
    ``final.pt``), read in place of the shipped one; only the shipped files are checked against their
    recorded SHA-256. ``lang``, when given, replaces the config's ``recognizer.lang``: ``"en"`` (Latin
    script, the default) or ``"zh"`` (Simplified Chinese + English), the shipped recognizer of that
    language (:data:`recognition.WEIGHT_FILES`), or ``"auto"``: both, each page read by the one that
    :mod:`pipeline.language` picks (``Page.lang`` says which). ``backend``, when given, replaces the config's
    ``runtime.backend``: ``"torch"`` runs the shipped ``.pt`` files, ``"onnx"`` their ``.onnx`` exports with
    ONNX Runtime (CPU only), ``"auto"`` the faster of the two on this machine (:func:`pipeline.backends.resolve`;
    the system's ``config.runtime.backend`` says which ran). A weight file given by name runs by its suffix:
    ``.onnx`` with ONNX Runtime, anything else with torch."""
    from dataclasses import replace

    from detection.predictor import Detector
    from pipeline import integrity
    from pipeline.backends import installed, resolve as resolve_backend
    from pipeline.config import load as load_config
    from recognition.predictor import Recognizer

    cfg = load_config(config)
    if min_confidence is not None:
        cfg = replace(cfg, layout=replace(cfg.layout, min_confidence=float(min_confidence)))
    if orientation is not None:
        cfg = replace(cfg, page=replace(cfg.page, orientation=str(orientation)))
    if lang is not None:
        cfg = replace(cfg, recognizer=replace(cfg.recognizer, lang=str(lang)))
    if backend is not None:
        cfg = replace(cfg, runtime=replace(cfg.runtime, backend=str(backend)))
    chosen = cfg.runtime.backend == "auto"
    cfg = replace(cfg, runtime=replace(cfg.runtime, backend=resolve_backend(cfg.runtime.backend, device,
                                                                            cfg.runtime.precision)))
    auto = cfg.recognizer.lang == "auto"
    if auto and recognizer_weights:
        raise ValueError("--lang auto chooses between the shipped recognizers; a recognizer weight file reads one "
                         "language: give its --lang")
    langs = recognition.LANGS if auto else (cfg.recognizer.lang,)
    rec_paths = {g: Path(recognizer_weights) if recognizer_weights else recognition.weights_path(g) for g in langs}
    for g, path in rec_paths.items():
        if path is None and g != "en":
            raise NoWeightsError(f"no weights yet for the {g} recognizer: this build ships no "
                                 f"{recognition.WEIGHTS_DIR / recognition.WEIGHT_FILES[g]}"
                                 + ("; --lang auto needs every language's" if auto else ""))
    det_path = Path(detector_weights) if detector_weights else detection.weights_path()
    if cfg.runtime.backend == "onnx":               # the shipped files' ONNX exports, beside them
        try:
            exports = ({g: _onnx_of(p, cfg.runtime.precision) for g, p in rec_paths.items()}
                       if not recognizer_weights else rec_paths,
                       _onnx_of(det_path, cfg.runtime.precision) if not detector_weights else det_path)
        except NoWeightsError:
            if not chosen or cfg.runtime.precision == "int8":
                raise
            cfg = replace(cfg, runtime=replace(cfg.runtime, backend="torch"))   # auto, and weights put in
        else:                                                                   # place without their export
            rec_paths, det_path = exports
    if cfg.runtime.backend != "onnx" and cfg.runtime.precision == "int8":
        raise ValueError("precision int8 runs on the onnx backend (runtime.backend: auto or onnx), not torch")
    rec_path = rec_paths[langs[0]]
    for given in (p for p in (detector_weights, recognizer_weights) if p):
        if not Path(given).is_file():
            raise FileNotFoundError(f"{given}: no such weight file")
    if rec_path is None and det_path is None:
        raise NoWeightsError("no weights yet: this build ships no trained detector or recognizer "
                             f"(expected *.pt in {detection.WEIGHTS_DIR} and {recognition.WEIGHTS_DIR})")
    if device != "cpu" and any(p is not None and p.suffix == ".onnx" for p in (*rec_paths.values(), det_path)):
        raise ValueError("the onnx backend runs on the CPU; use --device cpu or runtime.backend: torch")
    precision = "fp32"
    # torch is imported only where a network runs with it: the onnx backend needs no torch installed
    if any(p is not None and p.suffix != ".onnx" for p in (*rec_paths.values(), det_path)):
        if not installed("torch"):
            raise ValueError("the torch backend needs torch: pip install 'ocr-page[torch]' "
                             "(or use runtime.backend: auto or onnx)")
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but no CUDA GPU is visible")
        if threads:
            torch.set_num_threads(int(threads))
        precision = resolve_precision(cfg.runtime.precision, device)
    det = None
    # each language's recognizer reads with that language's shipped character language model
    lm_paths = {g: recognition.lm_path(g) if p is not None and cfg.recognizer.lm_weight > 0 else None
                for g, p in rec_paths.items()}
    for path, given in [*((p, recognizer_weights) for p in rec_paths.values()), (det_path, detector_weights),
                        *((p, None) for p in lm_paths.values())]:
        if path is not None and not given:
            integrity.verify(path)                  # the recorded SHA-256 (pipeline/integrity.py)
    readers = {}
    if rec_path is not None:
        from dataclasses import asdict

        # RecognizerConfig's fields are Recognizer's keyword arguments, one for one, but lang
        kwargs = {k: v for k, v in asdict(cfg.recognizer).items() if k != "lang"}
        for g, path in rec_paths.items():
            kw = {**kwargs, "lm": lm_paths[g]}
            if path.suffix == ".onnx":
                from pipeline.backends.onnx_runtime import RecognizerNetwork

                readers[g] = Recognizer.from_network(RecognizerNetwork(path, threads), **kw)
            else:
                readers[g] = Recognizer.from_file(path, device=device, precision=precision, **kw)
    if det_path is not None and det_path.suffix == ".onnx":
        from pipeline.backends.onnx_runtime import DetectorNetwork

        det = Detector.from_network(DetectorNetwork(det_path, threads), cfg.detector)
    elif det_path is not None:
        det = Detector.from_file(det_path, cfg.detector, device=device, precision=precision)
    return OCR(readers.get(langs[0]), det, cfg, readers if auto else None)


def _onnx_of(path: Path | None, precision: str = "fp32") -> Path | None:
    """The ONNX export shipped beside weight file ``path`` (None for None): its int8 version
    (``NAME.int8.onnx``) for precision ``int8``, and for ``auto`` where one ships (only those that read as
    well as float32 do: docs/evaluation.md); NoWeightsError when there is none."""
    if path is None:
        return None
    if precision == "bf16":
        raise ValueError("precision bf16 runs on the torch backend (runtime.backend: auto or torch), not onnx")
    out = path.with_suffix(".onnx")
    pkg = "recognition" if path.parent == recognition.WEIGHTS_DIR else "detection"
    int8 = out.with_name(path.stem + ".int8.onnx")
    if precision == "int8" and not int8.is_file():
        raise NoWeightsError(f"no int8 version of {path} for precision int8: write it with "
                             f"python -m {pkg}.export {path} --int8")
    if precision in ("int8", "auto") and int8.is_file():
        return int8
    if not out.is_file():
        raise NoWeightsError(f"no ONNX export of {path} for runtime.backend onnx: write it with "
                             f"python -m {pkg}.export {path}")
    return out
