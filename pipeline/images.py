"""Loading page images: a path, raw bytes, a numpy array or a PIL image -> RGB ``uint8`` (H,W,3).

EXIF orientation is applied, so boxes are in the pixels of the page as a viewer shows it; 16-bit, gray,
gray+alpha, RGBA, palette and CMYK images are converted, transparent pixels onto white paper. Arrays
follow the same rules: float arrays in 0..1 (scikit-image's convention) or 0..255, NaN read as white,
integers past 255 scaled like a 16-bit file, (H,W,1), (H,W,2) gray+alpha and (H,W,4) RGBA. A file that
cannot be read raises :class:`ImageError` with one line naming it; anything but a regular file (a named
pipe, a device) is refused before it is opened for reading, so nothing blocks on it. Text chunks of a PNG
(metadata) are never what refuses it: one too large for Pillow is skipped.

:func:`load` gives one page (the first frame of a multi-page file); :func:`pages` yields every page of a
document one at a time (each frame of a TIFF, each page of a PDF rasterized at ``dpi``), so a 200-page
file never sits in memory at once. PDF needs the optional ``pdf`` extra (pypdfium2, PDFium's renderer).
"""
from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageError", "load", "pages", "page_count", "is_pdf", "file_problem", "read_stream", "PDF_DPI",
           "MAX_STREAM_BYTES"]

MAX_PIXELS = 150_000_000  # pages with more pixels are refused from their header, before decoding (bombs,
                          # corrupt sizes): an A0 sheet at 300 dpi is 139 Mpx, a 600-dpi A3 70 Mpx
PDF_DPI = 300
MAX_STREAM_BYTES = 1 << 30  # standard input is read whole (PIL and PDFium need to seek): at most 1 GiB of it


class ImageError(ValueError):
    """An input that is not a readable image."""


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Pixel values as ``uint8``: floats all within 0..1 are scaled by 255 (else read as 0..255), NaN and
    +inf are white, -inf black; integers past 255 are scaled by their maximum (as 16-bit files); bool True
    is white."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        finite = np.isfinite(a)
        hi = float(a[finite].max()) if finite.any() else 1.0
        lo = float(a[finite].min()) if finite.any() else 0.0
        scale = 255.0 if hi <= 1.0 and lo >= 0.0 else 1.0
        a = np.nan_to_num(a.astype(np.float32) * scale, nan=255.0, posinf=255.0, neginf=0.0)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        hi = int(a.max())
        if hi > 255:
            return np.clip(np.rint(a.astype(np.float64) / hi * 255.0), 0, 255).astype(np.uint8)
        return np.clip(a, 0, 255).astype(np.uint8)
    raise ImageError(f"unsupported pixel type {a.dtype}")


def _on_white(gray_or_rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite ``uint8`` pixels with ``uint8`` alpha onto white paper (as a viewer shows them)."""
    a = alpha.astype(np.uint16)[..., None] if gray_or_rgb.ndim == 3 else alpha.astype(np.uint16)
    return ((gray_or_rgb.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def _from_pil(im: Image.Image) -> np.ndarray:
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = _to_uint8(np.asarray(im))
        return np.repeat(a[..., None], 3, axis=2)
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
    a, label = source, name or "array"
    if a.size == 0:
        raise ImageError(f"{label}: an empty image (shape {a.shape})")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 2, 3, 4))):
        raise ImageError(f"{label}: expected an H,W or H,W,C array with C 1 to 4, got shape {a.shape}")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ImageError(f"{label}: refused: {a.shape[1]} x {a.shape[0]} pixels, over the {MAX_PIXELS:,}-pixel limit")
    try:
        a = _to_uint8(a)
    except ImageError as exc:
        raise ImageError(f"{label}: {exc}") from None
    if a.ndim == 3 and a.shape[2] in (2, 4):                    # gray or RGB + alpha: onto white, as files are
        a = _on_white(a[..., :-1], a[..., -1])
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a)


def is_pdf(source) -> bool:
    """Whether ``source`` (a path or bytes) is a PDF, by its first bytes (False for anything but a regular
    file)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:5]) == b"%PDF-"
    if isinstance(source, (str, Path)):
        try:
            with _open_regular(source, str(source)) as fh:
                return fh.read(5) == b"%PDF-"
        except (ImageError, OSError):
            return False
    return False


def file_problem(path) -> str | None:
    """Why ``path`` cannot be read as an input file ("no such file", "is a folder, not an image", "not a
    regular file (a named pipe)"), or None; looks at the file's type only and never opens it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read image ({exc.strerror or exc})"
    return _type_problem(st.st_mode)


def _type_problem(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not an image"
    kind = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")
    return f"not a regular file ({kind}); use '-' for standard input"


def _open_regular(path, label: str):
    """``path`` opened for binary reading, after its type is checked on the open descriptor: opening
    does not wait for a named pipe's writer, and only a regular file is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(f"{label}: cannot read image ({exc.strerror or exc})") from None
    problem = _type_problem(os.fstat(fd).st_mode)
    if problem:
        os.close(fd)
        raise ImageError(f"{label}: {problem}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_stream(fh, label: str = "stdin", limit: int | None = None) -> bytearray:
    """All of a binary stream (standard input), refused past ``limit`` bytes (default
    :data:`MAX_STREAM_BYTES`) with one line. One growing buffer, never a second copy of it."""
    limit = MAX_STREAM_BYTES if limit is None else limit
    data = bytearray()
    while True:
        block = fh.read(min(1 << 22, limit + 1 - len(data)))
        if not block:
            return data
        data += block
        if len(data) > limit:
            raise ImageError(f"{label}: refused: more than {limit:,} bytes ({limit / (1 << 30):g} GiB); "
                             "give the file's path instead")


def _without_png_text(fh) -> io.BytesIO | None:
    """A copy of a PNG stream without its text chunks (``tEXt``, ``zTXt``, ``iTXt``: metadata), or None
    when it is not a PNG. The chunks are walked by their length fields; nothing is decompressed."""
    fh.seek(0)
    if fh.read(8) != b"\x89PNG\r\n\x1a\n":
        return None
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    while True:
        head = fh.read(8)
        if len(head) < 8:
            break
        length, kind = struct.unpack(">I", head[:4])[0], head[4:]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            fh.seek(length + 4, io.SEEK_CUR)
            continue
        out.write(head)
        out.write(fh.read(length + 4))
        if kind == b"IEND":
            break
    out.seek(0)
    return out


def _text_chunk_error(exc: BaseException) -> bool:
    """Pillow refusing a PNG for the size of its text chunks (``MAX_TEXT_CHUNK``, ``MAX_TEXT_MEMORY``)."""
    return isinstance(exc, ValueError) and ("MAX_TEXT_CHUNK" in str(exc) or "MAX_TEXT_MEMORY" in str(exc))


def pages(source, name: str | None = None, dpi: float = PDF_DPI):
    """Yield ``(index, rgb)`` for every page of ``source``: each frame of a multi-page image, each page of
    a PDF rendered at ``dpi``, or the one page of anything else :func:`load` takes."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "bytes")
    if isinstance(source, (np.ndarray, Image.Image)):
        yield 0, _in_memory(source, name)
        return
    is_bytes = isinstance(source, (bytes, bytearray))
    fh = io.BytesIO(source) if is_bytes else _open_regular(source, label)
    with fh:
        try:
            head = fh.read(5)
            fh.seek(0)
        except OSError as exc:
            raise ImageError(f"{label}: cannot read image ({exc.strerror or exc})") from None
        if head != b"%PDF-":
            yield from _frames(fh, label)
            return
    yield from _pdf_pages(bytes(source) if is_bytes else str(source), label, dpi)


def page_count(source) -> int | None:
    """How many pages :func:`pages` would yield, from the file's header or page tree (no pixel is
    decoded); None when that cannot be told (:func:`pages` then says why)."""
    if isinstance(source, (np.ndarray, Image.Image)):
        return 1
    try:
        if is_pdf(source):
            import pypdfium2 as pdfium

            doc = pdfium.PdfDocument(bytes(source) if isinstance(source, (bytes, bytearray)) else str(source))
            try:
                return len(doc)
            finally:
                doc.close()
        fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else _open_regular(source, "")
        with fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fh) as im:
                return int(getattr(im, "n_frames", 1))
    except Exception:                                          # noqa: BLE001 - unknown; pages() reports it
        return None


def _frames(fh, label: str, text_chunks: bool = True):
    """The frames of the image file open as ``fh``; a PNG that Pillow refuses for its text chunks alone
    is read again without them (``text_chunks`` False)."""
    try:
        with warnings.catch_warnings():               # PIL warns above its own limit; sizes are checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fh)                       # reads the header only: nothing decoded yet
    except Image.DecompressionBombError as exc:       # PIL refuses twice its limit (179 Mpx by default) itself
        raise ImageError(f"{label}: refused: {str(exc).split(',')[0]} (a decompression bomb or a "
                         "corrupt size)") from None
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: not a readable image ({type(exc).__name__})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if text_chunks and _text_chunk_error(exc) and (stripped := _without_png_text(fh)) is not None:
            yield from _frames(stripped, label, text_chunks=False)
            return
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
                if i == 0 and text_chunks and _text_chunk_error(exc) and (stripped := _without_png_text(fh)):
                    yield from _frames(stripped, label, text_chunks=False)     # a text chunk after the pixels
                    return
                raise ImageError(f"{label}: cannot read {where} ({exc})") from None
            yield i, frame


def _pdf_pages(source, label: str, dpi: float):
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ImageError(f"{label}: reading PDF needs the optional 'pdf' extra (pip install 'ocr-page[pdf]')") from None
    try:
        doc = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        why = ("it is encrypted (password protected)" if "password" in msg else
               "it has no pages" if _declared_pages(source) == 0 else f"broken or not a PDF ({exc})")
        raise ImageError(f"{label}: cannot open PDF: {why}") from None
    try:
        if len(doc) == 0:
            raise ImageError(f"{label}: cannot open PDF: it has no pages")
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



def _declared_pages(source) -> int | None:
    """The page count of a PDF's page tree as pypdf reads it, or None when it cannot. PDFium refuses a
    valid document of zero pages without setting an error code of its own (the one it reports is left over
    from an earlier call), so pypdf tells that case from a broken file."""
    try:
        from pypdf import PdfReader

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return len(PdfReader(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source).pages)
    except Exception:                                          # noqa: BLE001 - broken: not known
        return None
