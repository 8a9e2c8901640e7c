"""The recognizer's alphabet: CTC class indices, encode/decode, and the blank.

Class ``0`` is the CTC blank; the characters take ``1..len(chars)`` in charset order, so a model with
``num_classes = len(charset)`` outputs scores for the blank plus every character. The charset is saved
inside each weight file (:meth:`to_dict`), so a model always decodes with the alphabet it was trained on.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["Charset", "UnknownCharacterError", "is_cjk"]


_HALF_WIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}


class UnknownCharacterError(ValueError):
    """A label holds a character the charset does not know."""


class Charset:
    """``Charset("abc")``: blank = 0, ``a`` = 1, ``b`` = 2, ``c`` = 3; ``len()`` = 4 classes."""

    blank = 0

    def __init__(self, chars: str | Sequence[str]):
        chars = list(chars)
        if not chars:
            raise ValueError("a charset needs at least one character")
        bad = [c for c in chars if len(c) != 1]
        if bad:
            raise ValueError(f"charset entries must be single characters, got {bad[:3]!r}")
        seen: set[str] = set()
        dup = [c for c in chars if c in seen or seen.add(c)]
        if dup:
            raise ValueError(f"charset lists {dup[0]!r} twice")
        self.chars = "".join(chars)
        self._index = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def from_file(cls, file: str | Path = "charsets/default.txt") -> "Charset":
        """A charset file in the format of :func:`configs.read_charset` (shipped name or path)."""
        import configs

        return cls(configs.read_charset(file))

    def __len__(self) -> int:
        return len(self.chars) + 1

    def __contains__(self, ch: str) -> bool:
        return ch in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Charset) and other.chars == self.chars

    def __repr__(self) -> str:
        return f"Charset({len(self.chars)} chars)"

    def normalize(self, text: str) -> str:
        """What labels are compared in: NFC form, tabs and newlines as spaces, and each full-width form of
        ASCII (U+FF01-FF5E: ``Ａ１％``) that the charset does not list as its ASCII character (NFKC for that
        range only), the ideographic space as a space. A charset that lists a full-width form (the
        Chinese comma ``，``) keeps it as written."""
        text = unicodedata.normalize("NFC", text).replace("\t", " ").replace("\n", " ")
        if any("\uff01" <= c <= "\uff5e" or c == "\u3000" for c in text):
            text = "".join(c if c in self._index else _HALF_WIDTH.get(c, c) for c in text)
        return text

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` (normalized) that the charset lacks, in order of first appearance."""
        return list(dict.fromkeys(c for c in self.normalize(text) if c not in self._index))

    def encode(self, text: str) -> list[int]:
        """Class indices of ``text``; an unknown character raises :class:`UnknownCharacterError`."""
        text = self.normalize(text)
        try:
            return [self._index[c] for c in text]
        except KeyError:
            bad = self.unknown(text)
            names = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
            raise UnknownCharacterError(f"label {text!r} has characters outside the charset: {names}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Characters of class indices, blanks dropped (no CTC collapsing: see :mod:`recognition.decoding`)."""
        n = len(self.chars)
        out = []
        for i in ids:
            i = int(i)
            if i == self.blank:
                continue
            if not 0 < i <= n:
                raise ValueError(f"class index {i} is outside this charset (1..{n})")
            out.append(self.chars[i - 1])
        return "".join(out)

    def case_pairs(self) -> list[tuple[int, int]]:
        """(upper, lower) class indices of every letter present in both cases, for case-blind losses."""
        return [(i, self._index[c.lower()]) for c, i in self._index.items()
                if c.isupper() and c.lower() != c and c.lower() in self._index]

    def to_dict(self) -> dict:
        return {"chars": self.chars, "blank": self.blank}

    @classmethod
    def from_dict(cls, d: dict) -> "Charset":
        if d.get("blank", 0) != cls.blank:
            raise ValueError(f"weight file uses blank index {d.get('blank')}, this code uses {cls.blank}")
        return cls(d["chars"])


def is_cjk(ch: str) -> bool:
    """A character of Chinese script: a hanzi, CJK punctuation (U+3000-303F) or a full-width form."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef" or "\u3400" <= ch <= "\u4dbf"
