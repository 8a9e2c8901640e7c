"""Loading page images: a path, raw bytes, a numpy array or a PIL image -> RGB ``uint8`` (H,W,3).

EXIF orientation is applied, so boxes are in the pixels of the page as a viewer shows it; 16-bit, gray,
gray+alpha, RGBA, palette and CMYK images are converted. A file that cannot be read raises
:class:`ImageError` with one line naming it.

:func:`load` gives one page (the first frame of a multi-page file); :func:`pages` yields every page of a
document one at a time (each frame of a TIFF, each page of a PDF rasterized at ``dpi``), so a 200-page
file never sits in memory at once. PDF needs the optional ``pdf`` extra (pypdfium2, PDFium's renderer).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageError", "load", "pages", "is_pdf", "PDF_DPI"]

MAX_PIXELS = 150_000_000  # pages with more pixels are refused from their header, before decoding (bombs,
                          # corrupt sizes): an A0 sheet at 300 dpi is 139 Mpx, a 600-dpi A3 70 Mpx
PDF_DPI = 300


class ImageError(ValueError):
    """An input that is not a readable image."""


def _from_pil(im: Image.Image) -> np.ndarray:
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        a = (a / max(1.0, float(a.max())) * 255.0) if a.max() > 255 else a
        return np.repeat(a.astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def load(source, name: str | None = None) -> np.ndarray:
    """The page as RGB ``uint8`` (the first page of a multi-page file); ``source`` is a path, bytes, a
    numpy array or a PIL image."""
    if isinstance(source, (np.ndarray, Image.Image)):
        return _in_memory(source, name)
    gen = pages(source, name)
    try:
        return next(gen)[1]
    finally:
        gen.close()                                  # the rest of a TIFF or PDF is never decoded


def _check_size(im: Image.Image, label: str, where: str = "") -> None:
    """Refuse an image whose header claims more than :data:`MAX_PIXELS` before any pixel is decoded."""
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{label}: refused: {where + ' is ' if where else ''}{w} x {h} pixels, over the "
                         f"{MAX_PIXELS:,}-pixel limit (a decompression bomb or a corrupt size)")


def _in_memory(source, name: str | None) -> np.ndarray:
    if isinstance(source, Image.Image):
        _check_size(source, name or "image")
        return _from_pil(source)
    a = source
    if a.size == 0:
        raise ImageError(f"{name or 'array'}: an empty image (shape {a.shape})")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255                 # a bilevel page: True is white
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return np.ascontiguousarray(a[..., :3])
    raise ImageError(f"{name or 'array'}: expected an H,W or H,W,3 array, got shape {a.shape}")


def is_pdf(source) -> bool:
    """Whether ``source`` (a path or bytes) is a PDF, by its first bytes."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:5]) == b"%PDF-"
    if isinstance(source, (str, Path)):
        try:
            with open(source, "rb") as fh:
                return fh.read(5) == b"%PDF-"
        except OSError:
            return False
    return False


def pages(source, name: str | None = None, dpi: float = PDF_DPI):
    """Yield ``(index, rgb)`` for every page of ``source``: each frame of a multi-page image, each page of
    a PDF rendered at ``dpi``, or the one page of anything else :func:`load` takes."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "bytes")
    if isinstance(source, (np.ndarray, Image.Image)):
        yield 0, _in_memory(source, name)
        return
    if is_pdf(source):
        yield from _pdf_pages(source, label, dpi)
        return
    try:
        fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(f"{label}: cannot read image ({exc.strerror or exc})") from None
    with fh:
        try:
            with warnings.catch_warnings():           # PIL warns above its own limit; sizes are checked below
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(fh)                   # reads the header only: nothing decoded yet
        except Image.DecompressionBombError as exc:   # PIL refuses twice its limit (179 Mpx by default) itself
            raise ImageError(f"{label}: refused: {str(exc).split(',')[0]} (a decompression bomb or a "
                             "corrupt size)") from None
        except UnidentifiedImageError as exc:
            raise ImageError(f"{label}: not a readable image ({type(exc).__name__})") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{label}: cannot read image ({exc})") from None
        with im:
            try:
                n = getattr(im, "n_frames", 1)
            except (OSError, EOFError, SyntaxError, ValueError) as exc:
                raise ImageError(f"{label}: cannot read its pages ({exc})") from None
            for i in range(n):
                where = f"page {i + 1}" if n > 1 else "image"
                try:
                    im.seek(i)
                except (OSError, EOFError, SyntaxError, ValueError) as exc:
                    raise ImageError(f"{label}: cannot read {where} ({exc})") from None
                _check_size(im, label, where if n > 1 else "")
                try:
                    im.load()
                    frame = _from_pil(im)
                except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                    raise ImageError(f"{label}: cannot read {where} ({exc})") from None
                yield i, frame


def _pdf_pages(source, label: str, dpi: float):
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ImageError(f"{label}: reading PDF needs the optional 'pdf' extra (pip install 'ocr-page[pdf]')") from None
    try:
        doc = pdfium.PdfDocument(bytes(source) if isinstance(source, (bytes, bytearray)) else str(source))
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        why = "it is encrypted (password protected)" if "password" in msg else f"broken or not a PDF ({exc})"
        raise ImageError(f"{label}: cannot open PDF: {why}") from None
    try:
        for i in range(len(doc)):
            page = doc[i]
            try:
                w, h = page.get_size()
                scale = dpi / 72.0
                if w * h * scale * scale > MAX_PIXELS:
                    raise ImageError(f"{label}: page {i + 1} would be {round(w * scale)} x {round(h * scale)} "
                                     f"pixels at {dpi:g} dpi, over the {MAX_PIXELS:,}-pixel limit")
                bitmap = page.render(scale=scale)
                rgb = np.asarray(bitmap.to_pil().convert("RGB"), dtype=np.uint8).copy()
                bitmap.close()
            except pdfium.PdfiumError as exc:
                raise ImageError(f"{label}: cannot render PDF page {i + 1} ({exc})") from None
            finally:
                page.close()
            yield i, rgb
    finally:
        doc.close()
