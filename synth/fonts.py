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

Chinese fonts (:data:`ZH_FONTS`: Noto Sans/Serif CJK SC, WenQuanYi Zen Hei and Micro Hei, AR PL UMing,
AR PL SungtiL and KaitiM GB, Smiley Sans, and the two reserved for evaluation, AR PL UKai and LXGW WenKai)
are never in the Latin pool :func:`discover` gives, so the English training data stays as it was.
:func:`discover_zh` gives them, the simplified-Chinese face of each collection (``.ttc``), and leaves out
:data:`ZH_RESERVED` unless asked: the held-out renderings are made with those, and no training sample.
"""
from __future__ import annotations

import functools
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

__all__ = ["FontInfo", "NoFontsError", "discover", "discover_zh", "FONT_DIRS", "CATEGORIES", "ZH_FONTS",
           "ZH_RESERVED"]

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


ZH_FONTS = re.compile(r"NotoSansCJK|NotoSerifCJK|wqy-|uming|ukai|gbsn00lp|gkai00mp|SmileySans|LXGWWenKai", re.I)
ZH_RESERVED = re.compile(r"ukai|LXGWWenKai", re.I)       # evaluation only: never rendered for training
_ZH_FACE = re.compile(r"\bSC\b|\bCN\b|GB|WenQuanYi|Smiley|LXGW", re.I)   # the simplified face of a collection
_HAN = range(0x4E00, 0xA000)


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
    index: int = 0                   # the face within a font collection (.ttc)

    def covers(self, text: str) -> bool:
        return all(c in self.chars or c == " " for c in text)

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        """The Pillow font at ``size`` pixels (cached)."""
        return _truetype(self.path, int(size), self.index)


@functools.lru_cache(maxsize=4096)
def _truetype(path: str, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    if path == "<pillow-default>":
        return ImageFont.load_default(size=size)  # type: ignore[return-value]
    return ImageFont.truetype(path, size, index=index)


def _classify(family: str, style: str, filename: str) -> str:
    key = f"{family} {style} {filename}"
    for category, pattern in _RULES:
        if pattern.search(key):
            return category
    return "sans"


def _read(path: Path, index: int = 0) -> FontInfo | None:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True, fontNumber=index) as tt:
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
                    italic=bool(re.search(r"italic|oblique|\bi\b", lower)), chars=chars, index=index)


def _fallback() -> list[FontInfo]:
    ImageFont.load_default(size=20)  # raises if Pillow was built without FreeType
    chars = frozenset(string.printable)
    return [FontInfo("<pillow-default>", "Pillow default", "Regular", cat, False, False, chars)
            for cat in ("sans", "serif", "mono")]


def _font_files(dirs: tuple[str, ...], suffixes: tuple[str, ...], zh: bool):
    """Font files under ``dirs`` with one of ``suffixes``: the Chinese packages' (``zh``) or the others."""
    for d in dirs:
        root = Path(os.path.expanduser(d))
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.suffix.lower() in suffixes and p.is_file() and bool(ZH_FONTS.search(p.name)) == zh:
                    yield p


@functools.lru_cache(maxsize=8)
def _scan(dirs: tuple[str, ...]) -> tuple[FontInfo, ...]:
    seen: dict[tuple[str, str], FontInfo] = {}
    for p in _font_files(dirs, (".ttf", ".otf"), zh=False):
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


@functools.lru_cache(maxsize=8)
def _scan_zh(dirs: tuple[str, ...]) -> tuple[FontInfo, ...]:
    from fontTools.ttLib import TTCollection, TTLibError

    seen: dict[tuple[str, str], FontInfo] = {}
    for p in _font_files(dirs, (".ttf", ".otf", ".ttc"), zh=True):
        faces = [0]
        if p.suffix.lower() == ".ttc":
            try:
                with TTCollection(str(p), lazy=True) as coll:
                    faces = list(range(len(coll.fonts)))
            except (TTLibError, OSError):
                continue
        for i in faces:
            info = _read(p, i)
            if info is None or sum(ord(c) in _HAN for c in info.chars) < 6000:
                continue
            if len(faces) > 1 and not _ZH_FACE.search(info.family):
                continue                                      # the Japanese, Korean, traditional faces
            seen.setdefault((info.family, info.style), info)
    return tuple(sorted(seen.values(), key=lambda f: (f.path, f.index)))


def discover_zh(dirs: tuple[str, ...] | None = None, reserved: bool = False) -> list[FontInfo]:
    """The Chinese fonts under ``dirs`` (see the module docstring), sorted; :data:`ZH_RESERVED` only with
    ``reserved=True`` (then only those: the evaluation fonts)."""
    fonts = [f for f in _scan_zh(tuple(dirs or FONT_DIRS)) if bool(ZH_RESERVED.search(f.path)) == reserved]
    if not fonts:
        raise NoFontsError(f"no {'reserved evaluation' if reserved else 'training'} Chinese fonts found in "
                           + ", ".join(dirs or FONT_DIRS) + "; install them with: bash scripts/setup.sh")
    return fonts
