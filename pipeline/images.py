"""Loading page images: a path, raw bytes, a numpy array or a PIL image -> RGB ``uint8`` (H,W,3).

EXIF orientation is applied, so boxes are in the pixels of the page as a viewer shows it; 16-bit, gray,
gray+alpha, RGBA, palette and CMYK images are converted. A file that cannot be read raises
:class:`ImageError` with one line naming it.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageError", "load"]

MAX_PIXELS = 200_000_000  # refuse decompression bombs before decoding them


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
    """The page as RGB ``uint8``; ``source`` is a path, bytes, a numpy array or a PIL image."""
    if isinstance(source, np.ndarray):
        a = source
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        if a.ndim == 2:
            return np.repeat(a[..., None], 3, axis=2)
        if a.ndim == 3 and a.shape[2] in (3, 4):
            return np.ascontiguousarray(a[..., :3])
        raise ImageError(f"{name or 'array'}: expected an H,W or H,W,3 array, got shape {a.shape}")
    if isinstance(source, Image.Image):
        return _from_pil(source)
    label = name or (str(source) if isinstance(source, (str, Path)) else "bytes")
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
        with fh, Image.open(fh) as im:
            im.load()
            return _from_pil(im)
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{label}: not a readable image ({type(exc).__name__})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: cannot read image ({exc})") from None
