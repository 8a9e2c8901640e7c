"""Which recognizer reads a page: ``--lang auto`` (``recognizer.lang: auto``).

Both shipped recognizers, ``en`` (Latin script) and ``zh`` (Simplified Chinese + English), read a sample
of the page's lines, its ``sample_lines`` widest strips, with greedy decoding. The page is Chinese when the
``zh`` reading of that sample holds Chinese characters (at least ``min_han`` of its non-space characters)
and ``zh`` reads it more confidently than ``en`` does (mean character confidence, by ``margin``); else it
is read as English. A Chinese page read by ``en`` comes out as a few low-confidence Latin letters, and a
Latin page read by ``zh`` as Latin letters too: both tests must agree before ``zh`` is chosen, since ``en``
is the better reader of Latin script.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LanguageConfig", "Choice", "choose", "han_share"]


@dataclass(frozen=True)
class LanguageConfig:
    sample_lines: int = 8       # the widest strips of a page that both recognizers read
    min_han: float = 0.1        # zh: at least this share of its sample's non-space characters are hanzi ...
    margin: float = 0.0         # ... and its mean character confidence beats en's by more than this

    def __post_init__(self):
        if self.sample_lines < 1 or not 0 <= self.min_han <= 1:
            raise ValueError("language.sample_lines must be >= 1 and min_han within 0 and 1")


@dataclass(frozen=True)
class Choice:
    """The language chosen and the evidence: each recognizer's mean character confidence on the sample,
    and the share of hanzi in the ``zh`` reading."""
    lang: str
    confidence: dict
    han: float


def han_share(text: str) -> float:
    """Share of the non-space characters of ``text`` that are CJK unified ideographs (0 for no characters)."""
    chars = [c for c in text if not c.isspace()]
    return sum("\u4e00" <= c <= "\u9fff" for c in chars) / len(chars) if chars else 0.0


def _char_confidence(reads) -> float:
    conf = [c for r in reads for c in r.char_conf]
    return float(np.mean(conf)) if conf else 0.0


def choose(readers: dict, strips: list[np.ndarray], cfg: LanguageConfig = LanguageConfig()) -> Choice:
    """The language of the line crops ``strips`` (gray or RGB arrays; the widest for their height are read), read by ``readers`` (``"en"`` and
    ``"zh"`` -> :class:`recognition.predictor.Recognizer`); a page without lines is ``en``."""
    if not strips:
        return Choice("en", {}, 0.0)
    widest = sorted(range(len(strips)), key=lambda i: -strips[i].shape[1] / max(1, strips[i].shape[0]))
    widest = widest[:cfg.sample_lines]
    sample = [strips[i] for i in sorted(widest)]
    reads = {lang: rec.plain()(sample) for lang, rec in readers.items()}
    conf = {lang: _char_confidence(r) for lang, r in reads.items()}
    han = han_share("".join(r.text for r in reads["zh"]))
    lang = "zh" if han >= cfg.min_han and conf["zh"] > conf["en"] + cfg.margin else "en"
    return Choice(lang, conf, han)
