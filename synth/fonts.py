"""Font discovery for the synthetic generator.

Fonts come from Debian font packages that ``scripts/setup.sh`` installs (Liberation, URW base35, DejaVu,
croscore, FreeFont, Go, Lato, Open Sans, Libertine, Courier Prime, OCR-B, DotGothic16, GNU Typewriter,
...). :func:`discover` scans the usual font folders, reads each font's character map once (fontTools)
and sorts it into a *category* from its family name:

``serif`` (Times-like), ``sans`` (Helvetica/Arial-like), ``mono`` (Courier-like), ``condensed``
(narrow sans/serif), ``receipt`` (dot-matrix and printer-like monospace) and ``typewriter``.

Fonts that lack basic Latin (symbol and dingbat fonts), hairline weights and display styles whose glyphs
are not plain ink (outline, inverted-box, shadow, stencil) are skipped. When no font is
installed, :func:`discover` raises :class:`NoFontsError`, unless ``allow_fallback=True`` (tests), which
returns Pillow's built-in scalable font so tests stay hermetic.
"""
from __future__ import annotations

import functools
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

__all__ = ["FontInfo", "NoFontsError", "discover", "FONT_DIRS", "CATEGORIES"]

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
             "/usr/share/texmf/fonts/opentype")
CATEGORIES = ("serif", "sans", "mono", "condensed", "receipt", "typewriter")
REQUIRED = set(string.ascii_letters + string.digits + ".,:;-/()$%&@#'\"!?")
SKIP = re.compile(r"outline|inverted|inline|shadow|stencil|symbol|dingbat|math|hairline|thin|extralight|smallcaps|z003|d050000l|cantarell-light|keyboard|chorus", re.I)
_RULES = (  # (category, pattern on "family style filename"), first match wins
    ("receipt", re.compile(r"dotgothic|ocr-?b|ocrb", re.I)),
    ("typewriter", re.compile(r"typewriter|courier ?prime|anonymous", re.I)),
    ("mono", re.compile(r"mono|courier|cousine|inconsolata|hack|code|cursor", re.I)),
    ("condensed", re.compile(r"condensed|narrow|cond|heros cn", re.I)),
    ("serif", re.compile(r"serif|roman|times|tinos|caladea|garamond|libertine|bookman|c059|p052|"
                         r"schoolbook|palatino|termes|pagella|bonum|schola", re.I)),
)


class NoFontsError(RuntimeError):
    """No usable font is installed."""


@dataclass(frozen=True)
class FontInfo:
    """One font file: where it is, what it looks like and which characters it has."""
    path: str
    family: str
    style: str
    category: str
    bold: bool
    italic: bool
    chars: frozenset

    def covers(self, text: str) -> bool:
        return all(c in self.chars or c == " " for c in text)

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        """The Pillow font at ``size`` pixels (cached)."""
        return _truetype(self.path, int(size))


@functools.lru_cache(maxsize=4096)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    if path == "<pillow-default>":
        return ImageFont.load_default(size=size)  # type: ignore[return-value]
    return ImageFont.truetype(path, size)


def _classify(family: str, style: str, filename: str) -> str:
    key = f"{family} {style} {filename}"
    for category, pattern in _RULES:
        if pattern.search(key):
            return category
    return "sans"


def _read(path: Path) -> FontInfo | None:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True, fontNumber=0) as tt:
            cmap = tt.getBestCmap() or {}
            name = tt["name"]
            family = str(name.getBestFamilyName() or path.stem)
            style = str(name.getBestSubFamilyName() or "Regular")
    except (TTLibError, OSError, KeyError, AssertionError, ValueError):
        return None
    chars = frozenset(chr(c) for c in cmap)
    if not REQUIRED <= chars or SKIP.search(f"{family} {style} {path.name}"):
        return None
    lower = f"{style} {path.stem}".lower()
    return FontInfo(path=str(path), family=family, style=style,
                    category=_classify(family, style, path.name),
                    bold=bool(re.search(r"bold|black|heavy|demi|semibold|\bb\b", lower)),
                    italic=bool(re.search(r"italic|oblique|\bi\b", lower)), chars=chars)


def _fallback() -> list[FontInfo]:
    ImageFont.load_default(size=20)  # raises if Pillow was built without FreeType
    chars = frozenset(string.printable)
    return [FontInfo("<pillow-default>", "Pillow default", "Regular", cat, False, False, chars)
            for cat in ("sans", "serif", "mono")]


@functools.lru_cache(maxsize=8)
def _scan(dirs: tuple[str, ...]) -> tuple[FontInfo, ...]:
    seen: dict[tuple[str, str], FontInfo] = {}
    for d in dirs:
        root = Path(os.path.expanduser(d))
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() not in (".ttf", ".otf") or not p.is_file():
                continue
            info = _read(p)
            if info is not None:  # the same face from two packages counts once
                seen.setdefault((info.family, info.style), info)
    return tuple(sorted(seen.values(), key=lambda f: f.path))


def discover(dirs: tuple[str, ...] | None = None, allow_fallback: bool = False) -> list[FontInfo]:
    """All usable fonts under ``dirs`` (default :data:`FONT_DIRS`), sorted by path for determinism."""
    fonts = list(_scan(tuple(dirs or FONT_DIRS)))
    if fonts:
        return fonts
    if allow_fallback:
        return _fallback()
    raise NoFontsError("no usable fonts found in " + ", ".join(dirs or FONT_DIRS)
                       + "; install them with: bash scripts/setup.sh")
