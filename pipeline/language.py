"""Which recognizer reads a page: ``--lang auto`` (``recognizer.lang: auto``).

The ``zh`` recognizer (Simplified Chinese + English) reads a sample of the page's lines with greedy
decoding: its ``sample_lines`` widest strips, each cut to its first ``window`` pixels (at height 32). The
page is Chinese when at least ``min_han`` of the non-space characters of that reading are hanzi read at
``han_conf`` or more (noise on an English page, read by ``zh``, comes out as unsure hanzi), and
English (read by ``en``, the better reader of Latin script) otherwise. ``zh`` reads Latin script as Latin
letters, so an English page gives it next to no hanzi, and a Chinese page, even a receipt full of prices,
mostly hanzi.

Confidence does not decide it: the ``en`` recognizer reads hanzi as Latin letters at a mean character
confidence of 0.62-0.70 on the Chinese test pages (``benchmarks/lang_auto.py``), as high as on many
English lines, so comparing the two recognizers' confidences picks ``en`` for Chinese pages whenever the
``zh`` recognizer is less sure of itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import numpy as np

from synth.zh import is_han

__all__ = ["LanguageConfig", "Choice", "MostConfident", "choose", "han_share"]


@dataclass(frozen=True)
class LanguageConfig:
    sample_lines: int = 8       # the widest strips of a page that the zh recognizer reads ...
    window: int = 480           # ... each cut to its first this-many pixels (at height 32, ~15 hanzi) ...
    min_han: float = 0.1        # ... and the page is Chinese when at least this share of the reading is hanzi
    han_conf: float = 0.5       # read at least this confidently (a hanzi read less surely does not count)

    def __post_init__(self):
        if self.sample_lines < 1 or self.window < 32 or not 0 < self.min_han <= 1:
            raise ValueError("language.sample_lines must be >= 1, window >= 32 and min_han within (0, 1]")


@dataclass(frozen=True)
class Choice:
    """The language chosen and the evidence: the share of hanzi in the ``zh`` reading of the sample, its
    mean character confidence, and that reading (one :class:`recognition.predictor.Recognition` a line)."""
    lang: str
    han: float
    confidence: float
    reads: tuple = ()


def han_share(text: str, conf: list[float] | None = None, min_conf: float = 0.0) -> float:
    """Share of the non-space characters of ``text`` that are CJK unified ideographs (0 for no characters),
    with ``conf`` (one per character of ``text``) only those read at ``min_conf`` or more; a hanzi in a run
    of three or more of itself does not count."""
    conf = conf if conf is not None else [1.0] * len(text)
    chars = [(c, p) for c, p in zip(text, conf) if not c.isspace()]
    # a run of one hanzi 3 or more times is a row of symbols read as it (a card number masked with
    # asterisks reads 来来来来), not Chinese text: its characters count, but not as hanzi
    runs = [list(run) for _, run in groupby(chars, key=lambda cp: cp[0])]
    han = sum(is_han(c) and p >= min_conf for run in runs if len(run) < 3 for c, p in run)
    return han / len(chars) if chars else 0.0


def sample(strips: list[np.ndarray], cfg: LanguageConfig) -> list[np.ndarray]:
    """The ``sample_lines`` widest strips for their height, in page order, each cut to ``window`` pixels per 32
    of its height."""
    aspect = [s.shape[1] / max(1, s.shape[0]) for s in strips]
    widest = sorted(sorted(range(len(strips)), key=lambda i: -aspect[i])[:cfg.sample_lines])
    return [strips[i][:, :max(1, cfg.window * strips[i].shape[0] // 32)] for i in widest]


def choose(zh, strips: list[np.ndarray], cfg: LanguageConfig = LanguageConfig()) -> Choice:
    """The language of the line crops ``strips`` (gray or RGB arrays), from the ``zh`` recognizer's
    (:class:`recognition.predictor.Recognizer`) greedy reading of :func:`sample`; no lines: ``en``."""
    if not strips:
        return Choice("en", 0.0, 0.0)
    reads = tuple(zh.plain()(sample(strips, cfg)))
    conf = [c for r in reads for c in r.char_conf]
    han = han_share("".join(r.text for r in reads), conf, cfg.han_conf)
    return Choice("zh" if han >= cfg.min_han else "en", han, float(np.mean(conf)) if conf else 0.0, reads)


class MostConfident:
    """A reader over several recognizers: each crop's reading by whichever of them reads it most
    confidently. The orientation step weighs every language's evidence with it under ``--lang auto``, where
    the page's language is not known yet: the ``en`` recognizer alone reads a Chinese line about as
    (un)surely upright as turned 180 degrees, so it once turned an upright Chinese page upside down."""

    def __init__(self, readers):
        self.readers = list(readers)

    def __call__(self, crops) -> list:
        crops = list(crops)
        reads = [reader(crops) for reader in self.readers]
        return [max(rs, key=lambda r: r.confidence) for rs in zip(*reads)]
