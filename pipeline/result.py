"""The result tree: Page -> lines -> words, with ``to_dict()`` / ``from_dict()`` (schema ``ocr-page/1``).

Boxes are ``[x0, y0, x1, y1]`` and quads ``[[x, y] x4]`` clockwise from top-left, in pixels of the image
the user gave (after EXIF orientation). Scores live in their own named fields, never inside boxes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Word", "Line", "Block", "Page", "SCHEMA"]

SCHEMA = "ocr-page/1"


def _box(b) -> list[float]:
    return [float(v) for v in b]


@dataclass
class Word:
    box: list[float]
    text: str
    confidence: float = 1.0

    def to_dict(self) -> dict:
        return {"box": _box(self.box), "text": self.text, "confidence": float(self.confidence)}

    @classmethod
    def from_dict(cls, d: dict) -> "Word":
        return cls(_box(d["box"]), str(d["text"]), float(d.get("confidence", 1.0)))


@dataclass
class Line:
    box: list[float]
    text: str = ""
    confidence: float = 1.0
    quad: list[list[float]] | None = None
    words: list[Word] = field(default_factory=list)
    block: int = 0
    id: int = 0

    def __post_init__(self):
        if self.quad is None:
            x0, y0, x1, y1 = self.box
            self.quad = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

    def to_dict(self) -> dict:
        return {"id": self.id, "box": _box(self.box), "quad": [_box(p) for p in self.quad],
                "text": self.text, "confidence": float(self.confidence), "block": self.block,
                "words": [w.to_dict() for w in self.words]}

    @classmethod
    def from_dict(cls, d: dict) -> "Line":
        return cls(_box(d["box"]), str(d.get("text", "")), float(d.get("confidence", 1.0)),
                   [_box(p) for p in d["quad"]] if d.get("quad") else None,
                   [Word.from_dict(w) for w in d.get("words", [])], int(d.get("block", 0)), int(d.get("id", 0)))


@dataclass
class Block:
    id: int
    box: list[float]
    lines: list[int]

    def to_dict(self) -> dict:
        return {"id": self.id, "box": _box(self.box), "lines": list(self.lines)}

    @classmethod
    def from_dict(cls, d: dict) -> "Block":
        return cls(int(d["id"]), _box(d["box"]), [int(i) for i in d["lines"]])


@dataclass
class Page:
    """One page of OCR output; ``text`` is the page text in reading order."""
    width: int
    height: int
    lines: list[Line] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    source: str | None = None
    page: int = 0
    angle: float = 0.0
    text: str | None = None
    orientation_confidence: float | None = None   # how clearly the models decided ``angle``'s quarter turn
                                                  # (0..1); None when the orientation was given
    lang: str = "en"                              # the recognizer that read it: en or zh (--lang auto picks)

    def __post_init__(self):
        if self.text is None:
            self.text = "\n".join(ln.text for ln in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "source": self.source, "page": self.page, "width": self.width,
                "height": self.height, "angle": float(self.angle),
                "orientation_confidence": (None if self.orientation_confidence is None
                                           else float(self.orientation_confidence)),
                "lines": [ln.to_dict() for ln in self.lines],
                "blocks": [b.to_dict() for b in self.blocks], "lang": self.lang, "text": self.text}

    @classmethod
    def from_dict(cls, d: dict) -> "Page":
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not an {SCHEMA} result (schema={d.get('schema')!r})")
        return cls(int(d["width"]), int(d["height"]), [Line.from_dict(x) for x in d.get("lines", [])],
                   [Block.from_dict(b) for b in d.get("blocks", [])], d.get("source"), int(d.get("page", 0)),
                   float(d.get("angle", 0.0)), d.get("text"),
                   None if d.get("orientation_confidence") is None else float(d["orientation_confidence"]),
                   str(d.get("lang", "en")))

    def save(self, path: str | Path, image=None) -> None:
        """Write this page to ``path`` in the format its suffix names (.txt .json .hocr .html .xml .alto .tsv
        .pdf), atomically. A PDF needs the page image: ``image`` (RGB array) or else ``source`` is re-read."""
        from pipeline.exporters import export, file_date, format_of, write_atomic

        fmt = format_of(path)
        images = None
        if fmt == "pdf":
            if image is None:
                if not self.source or not Path(self.source).is_file():
                    raise ValueError("a PDF needs the page image: pass image=..., or keep source pointing to the file")
                from pipeline.images import pages

                image = next(a for i, a in pages(self.source) if i == self.page)
            images = [image]
        write_atomic(path, export([self], fmt, images, file_date(self.source) if self.source else None))
