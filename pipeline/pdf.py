"""Searchable PDF: each page image with an invisible text layer placed over its words.

This is what Tesseract and OCRmyPDF write: the page is the scanned image, and every recognized word is
drawn over it in PDF text render mode 3 (invisible) with a *glyphless* font, scaled so it covers its box
exactly. A viewer shows the scan; selecting, searching and copying text work on the words underneath.

The glyphless font is made here with fontTools (a dependency of the PDF library): one empty glyph of
half an em per character, for the characters the recognizers can emit plus Latin, Greek, Cyrillic,
general punctuation, currency signs and CJK (ideographs, punctuation, full-width forms); anything else
goes into the text layer as ``?``. The PDF library embeds only the glyphs a document uses. The PDF library
(fpdf2) loads fonts from files, so the font is written to the temporary folder under a name made of its
bytes' hash, once, and shared by every process after that: a killed process (Ctrl-C ends ocr-batch's
workers with ``os._exit``, skipping ``atexit``) leaves nothing new behind.

Page size: the image's pixels at ``dpi`` (300 unless a page says otherwise), so a 2480 x 3508 scan is an
A4 page. Images are embedded as JPEG (quality 85) to keep scans of many pages small.
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

import configs
from recognition.charset import is_cjk

__all__ = ["searchable_pdf", "page_jpeg", "glyphless_font", "COVERED"]

UPM = 1000
ADVANCE = 500                       # every glyph is half an em wide; text is stretched to its box anyway


_LATIN = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x2000, 0x206F), (0x20A0, 0x20CF),
          (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF), (0x25A0, 0x25FF), (0x2600, 0x26FF)]
_CJK = [(0x3000, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF)]


def _covered(cjk: bool) -> frozenset[int]:
    """Latin, Greek, Cyrillic and symbols (and with ``cjk`` ideographs, CJK punctuation, full-width
    forms), plus whatever the shipped charsets read."""
    cps = {c for a, b in _LATIN + (_CJK if cjk else []) for c in range(a, b + 1)}
    for name in ("charsets/default.txt",) + (("charsets/zh.txt",) if cjk else ()):
        cps |= {ord(ch) for ch in configs.read_charset(name)}
    return frozenset(cps)


LATIN = _covered(cjk=False)
COVERED = _covered(cjk=True)


def _glyphless_bytes(cjk: bool = True) -> bytes:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.misc.timeTools import timestampFromString
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    cps = sorted(COVERED if cjk else LATIN)
    names = [".notdef"] + [f"u{c:04X}" for c in cps]
    fb = FontBuilder(UPM, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({c: f"u{c:04X}" for c in cps})
    empty = TTGlyphPen(None).glyph()
    fb.setupGlyf({n: empty for n in names})
    fb.setupHorizontalMetrics({n: (ADVANCE, 0) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "GlyphLess", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    stamp = timestampFromString("Thu Jan  1 00:00:00 2026")   # fixed dates: the same bytes every run
    fb.updateHead(created=stamp, modified=stamp)
    fb.font.recalcTimestamp = False
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


_FONT_FORMAT = 2                     # bump when _glyphless_bytes changes what it builds


def _ours(path: Path) -> bool:
    """Whether ``path`` is a TrueType file of this user's (the temporary folder is shared: a file someone
    else made under the name is never used; ours are written whole, by rename)."""
    try:
        if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
            return False
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x00\x01\x00\x00"
    except OSError:
        return False


@functools.lru_cache(maxsize=2)
def glyphless_font(cjk: bool = False) -> Path:
    """Path of the glyphless TrueType font: ``ocr-glyphless-<hash>.ttf`` in the temporary folder, made by
    the first process that needs it and kept for the next ones. Two of them: Latin and symbols (25 KB),
    and with ``cjk`` also CJK (360 KB, about a second to build, and a fifth of a second to load into each
    PDF, so only documents with Chinese text use it). The name is a hash of what the font covers and how
    it is built, known without building it. Where that name is taken by another user's file, this
    process writes a private copy and removes it when it ends."""
    digest = hashlib.sha256(f"{_FONT_FORMAT}:{sorted(COVERED if cjk else LATIN)}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"ocr-glyphless-{digest}.ttf"
    if _ours(path):
        return path
    data = _glyphless_bytes(cjk)
    fd, tmp = tempfile.mkstemp(prefix=f"ocr-glyphless-{digest}-", suffix=".ttf", dir=path.parent)
    with open(fd, "wb") as fh:
        fh.write(data)
    try:
        os.replace(tmp, path)                               # atomic: a process racing us writes the same bytes
    except OSError:
        atexit.register(_unlink, tmp)
        return Path(tmp)
    return path


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _safe(text: str) -> str:
    return "".join(ch if ord(ch) in COVERED else "?" for ch in text)


def _runs(line) -> list[tuple[list[float], str]]:
    """``(box, text)`` of the space-separated runs of a line's words: Chinese words and the Latin or digit
    tokens beside them are written without a space, so they are drawn as one run (a reader puts a space
    between separately placed runs, and copying must not invent one)."""
    if not line.words:
        return [(line.box, line.text)]
    runs, pos = [], 0
    for w in line.words:
        at = line.text.find(w.text, pos)
        joined = runs and at == pos and at > 0                   # right after the previous word: no space
        pos = at + len(w.text) if at >= 0 else pos
        if joined:
            box, text = runs[-1]
            runs[-1] = ([min(box[0], w.box[0]), min(box[1], w.box[1]), max(box[2], w.box[2]), max(box[3], w.box[3])],
                        text + w.text)
        else:
            runs.append((list(w.box), w.text))
    return runs


def page_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """The JPEG a searchable PDF embeds for a page (long jobs keep these instead of the pixels)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb)).convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def searchable_pdf(pages: list, images: list | None, dpi: float = 300.0, created=None) -> bytes:
    """PDF bytes of ``pages`` (:class:`pipeline.result.Page`) over ``images``, one per page in the pixels
    the page's boxes use: RGB uint8 arrays, or their :func:`page_jpeg` bytes. ``created`` (a datetime,
    default now) is the PDF's creation date; the same pages, images and date give the same bytes (the
    CLI and ocr-batch pass the input file's modification time, so a re-run rewrites identical files)."""
    import warnings

    from fpdf import FPDF
    from fpdf.enums import TextMode
    from PIL import Image

    if images is None or len(images) != len(pages):
        raise ValueError("a searchable PDF needs the page image of every page")
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_creator("ocr-page")
    if created is not None:
        pdf.set_creation_date(created)
    cjk = any(ord(c) not in LATIN for page in pages for line in page.lines for c in line.text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # fontTools notes about the empty glyph table
        pdf.add_font("GlyphLess", "", str(glyphless_font(cjk)))
    k = 72.0 / dpi                                          # points per pixel
    for page, img in zip(pages, images):
        if isinstance(img, (bytes, bytearray)):
            jpeg = bytes(img)
            with Image.open(io.BytesIO(jpeg)) as im:
                w, h = im.size
        else:
            img, jpeg = np.asarray(img), None
            h, w = img.shape[:2]
        if (w, h) != (page.width, page.height):
            raise ValueError(f"page is {page.width} x {page.height} but its image is {w} x {h}")
        pdf.add_page(format=(w * k, h * k))
        pdf.image(io.BytesIO(jpeg if jpeg is not None else page_jpeg(img)), x=0, y=0, w=w * k, h=h * k)
        pdf.text_mode = TextMode.INVISIBLE
        for line in page.lines:
            items = _runs(line)
            for n, (box, text) in enumerate(items):
                text = _safe(text)
                x0, y0, x1, y1 = (float(v) * k for v in box)
                if not text or x1 <= x0 or y1 <= y0:
                    continue
                tail = ""
                if n + 1 < len(items):
                    text += " "                             # so extracted text keeps its word breaks
                    x1 = max(x1, float(items[n + 1][0][0]) * k)
                elif not is_cjk(text[-1]):
                    tail = " "      # past the box: a reader must not join the line's end to the next line's start
                size = (y1 - y0)                            # an em the height of the box
                pdf.set_font("GlyphLess", size=size)
                natural = len(text) * ADVANCE / UPM * size
                pdf.set_stretching(100.0 * (x1 - x0) / natural)
                pdf.text(x0, y1 - 0.2 * size, text + tail)    # baseline a fifth of the box above its bottom
    return bytes(pdf.output())
