"""Drawing primitives shared by the line and page generators.

A :class:`Canvas` is an RGB page plus a label map (``labels[y, x] = i + 1`` where line ``i`` has ink)
and the list of labelled text lines. :meth:`Canvas.put` draws one text line from one or more pieces
placed on a common baseline and records its *tight* ink box; it refuses a line whose box would touch
another line's box, so every labelled box holds its own ink and no ink of another line. Graphics (rules,
boxes, logos, stamps, barcodes, signatures) are drawn without labels: they are not text.

Coordinates: ``x`` to the right, ``y`` down, in canvas pixels; boxes are ``[x0, y0, x1, y1]`` with the
far edge exclusive (``x1 = last ink column + 1``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synth.fonts import FontInfo

__all__ = ["Canvas", "TextLine", "FontBook", "text_mask"]

INK_LABEL = 64  # alpha (0-255) from which a pixel counts as ink of its line in the label map


@dataclass
class TextLine:
    text: str
    box: tuple[int, int, int, int]
    size: int
    font: str
    ignore: bool = False
    extra: dict = field(default_factory=dict)


def text_mask(font: ImageFont.FreeTypeFont, text: str) -> tuple[np.ndarray, int, int]:
    """Antialiased coverage (uint8) of ``text`` and the offset of its top-left from the baseline origin."""
    l, t, r, b = font.getbbox(text, anchor="ls")
    w, h = max(1, r - l), max(1, b - t)
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).text((-l, -t), text, font=font, fill=255, anchor="ls")
    return np.asarray(im), l, t


class FontBook:
    """Picks fonts by category and style from the discovered set, deterministically from ``rng``."""

    def __init__(self, fonts: list[FontInfo]):
        self.fonts = fonts
        self.by_cat: dict[str, list[FontInfo]] = {}
        for f in fonts:
            self.by_cat.setdefault(f.category, []).append(f)

    def pick(self, rng: np.random.Generator, category: str | tuple[str, ...] | None = None,
             bold: bool | None = None, italic: bool | None = False) -> FontInfo:
        cats = (category,) if isinstance(category, str) else category
        pool = [f for c in (cats or tuple(self.by_cat)) for f in self.by_cat.get(c, [])] or self.fonts
        styled = [f for f in pool if (bold is None or f.bold == bold) and (italic is None or f.italic == italic)]
        pool = styled or pool
        return pool[int(rng.integers(len(pool)))]


class Canvas:
    """An RGB page with labelled text lines; see the module docstring."""

    def __init__(self, width: int, height: int, background=(255, 255, 255)):
        self.img = np.empty((height, width, 3), np.uint8)
        self.img[:] = background
        self.labels = np.zeros((height, width), np.int32)
        self.lines: list[TextLine] = []
        self.graphics: list[tuple[int, int, int, int]] = []

    @property
    def width(self) -> int:
        return self.img.shape[1]

    @property
    def height(self) -> int:
        return self.img.shape[0]

    # ---- text ----------------------------------------------------------------------------------------
    def put(self, pieces: list[tuple[float, str]], baseline: float, font: FontInfo, size: int,
            color=(20, 20, 20), tracking: float = 0.0, ignore: bool = False, gap: int = 1) -> TextLine | None:
        """Draw pieces ``[(x, text), ...]`` on one baseline as one labelled line; ``None`` if refused.

        The line's text is the pieces joined by single spaces. It is refused (nothing drawn) when its ink
        would leave the canvas or its box would come within ``gap`` pixels of another line's box.
        """
        pil = font.font(size)
        masks = []
        for x, s in pieces:
            if tracking:
                cx = x
                for ch in s:
                    if ch != " ":
                        masks.append((text_mask(pil, ch), cx))
                    cx += pil.getlength(ch) + tracking
            elif s.strip():
                masks.append((text_mask(pil, s), x))
        if not masks:
            return None
        placed = []
        for (m, l, t), x in masks:
            x0, y0 = int(round(x + l)), int(round(baseline + t))
            placed.append((m, x0, y0))
        x0 = min(p[1] for p in placed)
        y0 = min(p[2] for p in placed)
        x1 = max(p[1] + p[0].shape[1] for p in placed)
        y1 = max(p[2] + p[0].shape[0] for p in placed)
        if x0 < 0 or y0 < 0 or x1 > self.width or y1 > self.height:
            return None
        alpha = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for m, px, py in placed:
            sub = alpha[py - y0:py - y0 + m.shape[0], px - x0:px - x0 + m.shape[1]]
            np.maximum(sub, m, out=sub)
        ys, xs = np.nonzero(alpha)
        if len(ys) == 0:
            return None
        bx0, by0, bx1, by1 = x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1
        for other in self.lines:
            ox0, oy0, ox1, oy1 = other.box
            if bx0 < ox1 + gap and ox0 < bx1 + gap and by0 < oy1 + gap and oy0 < by1 + gap:
                return None
        self.blend(alpha, x0, y0, color)
        lab = self.labels[y0:y1, x0:x1]
        lab[alpha >= INK_LABEL] = len(self.lines) + 1
        text = " ".join(s.strip() for _, s in pieces if s.strip())
        line = TextLine(text, (int(bx0), int(by0), int(bx1), int(by1)), size, font.path, ignore)
        self.lines.append(line)
        return line

    def blend(self, alpha: np.ndarray, x0: int, y0: int, color) -> None:
        """Composite ``color`` with coverage ``alpha`` (uint8) at ``(x0, y0)``."""
        h, w = alpha.shape
        region = self.img[y0:y0 + h, x0:x0 + w]
        a = alpha[..., None].astype(np.float32) / 255.0
        region[:] = (region * (1.0 - a) + np.asarray(color, np.float32) * a).astype(np.uint8)

    def free(self, box: tuple[float, float, float, float], pad: int = 2) -> bool:
        """True when ``box`` touches no text line and no graphic drawn so far."""
        x0, y0, x1, y1 = box
        if x0 < 0 or y0 < 0 or x1 > self.width or y1 > self.height:
            return False
        for ox0, oy0, ox1, oy1 in [l.box for l in self.lines] + self.graphics:
            if x0 < ox1 + pad and ox0 < x1 + pad and y0 < oy1 + pad and oy0 < y1 + pad:
                return False
        return True

    # ---- graphics (unlabelled) -----------------------------------------------------------------------
    def rule(self, x0, y0, x1, y1, thickness=1, color=(30, 30, 30), dash: int = 0) -> None:
        p0, p1 = np.array([x0, y0], float), np.array([x1, y1], float)
        if dash:
            n = max(1, int(np.linalg.norm(p1 - p0) / (2 * dash)))
            for i in range(n):
                a = p0 + (p1 - p0) * (2 * i) / (2 * n)
                b = p0 + (p1 - p0) * (2 * i + 1) / (2 * n)
                cv2.line(self.img, tuple(int(v) for v in a), tuple(int(v) for v in b), color, thickness, cv2.LINE_AA)
        else:
            cv2.line(self.img, (int(x0), int(y0)), (int(x1), int(y1)), color, thickness, cv2.LINE_AA)

    def rect(self, x0, y0, x1, y1, thickness=1, color=(30, 30, 30), fill=None) -> None:
        if fill is not None:
            cv2.rectangle(self.img, (int(x0), int(y0)), (int(x1), int(y1)), fill, -1)
        if thickness > 0:
            cv2.rectangle(self.img, (int(x0), int(y0)), (int(x1), int(y1)), color, thickness, cv2.LINE_AA)

    def logo(self, rng: np.random.Generator, x0: int, y0: int, size: int) -> None:
        """A wordless logo: a few filled or outlined shapes in one or two colours."""
        colors = [tuple(int(c) for c in rng.integers(0, 200, 3)) for _ in range(2)]
        c = (x0 + size // 2, y0 + size // 2)
        for i in range(int(rng.integers(1, 4))):
            col, t = colors[i % 2], (-1 if rng.random() < 0.6 else max(1, size // 12))
            r = int(size * rng.uniform(0.2, 0.5))
            k = rng.random()
            if k < 0.35:
                cv2.circle(self.img, c, r, col, t, cv2.LINE_AA)
            elif k < 0.65:
                cv2.rectangle(self.img, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), col, t, cv2.LINE_AA)
            else:
                n = int(rng.integers(3, 9))
                ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi)
                rad = r * (1 + (np.arange(n) % 2) * rng.uniform(-0.5, 0.0))
                pts = np.stack([c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang)], 1).astype(np.int32)
                if t < 0:
                    cv2.fillPoly(self.img, [pts], col, cv2.LINE_AA)
                else:
                    cv2.polylines(self.img, [pts], True, col, t, cv2.LINE_AA)
        self.graphics.append((x0, y0, x0 + size, y0 + size))

    def stamp(self, rng: np.random.Generator, cx: int, cy: int, size: int) -> None:
        """A rubber stamp without words: double ring or double frame with an inner motif, tinted ink."""
        color = ((190, 40, 50), (40, 60, 170), (120, 40, 140))[int(rng.integers(3))]
        layer = np.zeros((self.height, self.width), np.uint8)
        t = max(1, size // 30)
        if rng.random() < 0.5:
            cv2.circle(layer, (cx, cy), size // 2, 255, t * 2, cv2.LINE_AA)
            cv2.circle(layer, (cx, cy), int(size * 0.4), 255, t, cv2.LINE_AA)
            for a in np.linspace(0, 2 * np.pi, 5, endpoint=False):
                cv2.circle(layer, (int(cx + 0.25 * size * np.cos(a)), int(cy + 0.25 * size * np.sin(a))),
                           max(2, size // 20), 255, -1, cv2.LINE_AA)
        else:
            w, h = size, size // 2
            box = cv2.boxPoints(((cx, cy), (w, h), rng.uniform(-20, 20))).astype(np.int32)
            cv2.polylines(layer, [box], True, 255, t * 2, cv2.LINE_AA)
            inner = cv2.boxPoints(((cx, cy), (w * 0.85, h * 0.7), 0)).astype(np.int32)
            cv2.polylines(layer, [inner], True, 255, t, cv2.LINE_AA)
            cv2.line(layer, (cx - w // 3, cy), (cx + w // 3, cy), 255, t * 2, cv2.LINE_AA)
        layer = (layer.astype(np.float32) * rng.uniform(0.5, 0.9)).astype(np.uint8)
        holes = rng.random(layer.shape, dtype=np.float32) < 0.25  # uneven stamp ink
        layer[holes] //= 3
        ys, xs = np.nonzero(layer)
        if len(ys):
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            self.blend(layer[y0:y1, x0:x1], x0, y0, color)
            self.graphics.append((int(x0), int(y0), int(x1), int(y1)))

    def barcode(self, rng: np.random.Generator, x0: int, y0: int, w: int, h: int) -> None:
        x = x0
        while x < x0 + w:
            bw = int(rng.integers(1, 4))
            if rng.random() < 0.5:
                self.img[y0:y0 + h, x:min(x + bw, x0 + w)] = 10
            x += bw
        self.graphics.append((x0, y0, x0 + w, y0 + h))

    def signature(self, rng: np.random.Generator, x0: int, y0: int, w: int, h: int) -> None:
        n = 60
        t = np.linspace(0, 1, n)
        xs = x0 + t * w
        ys = y0 + h / 2 + np.sin(t * rng.uniform(8, 25)) * h / 3 * rng.uniform(0.5, 1, n)
        pts = np.stack([xs, ys], 1).astype(np.int32)
        color = ((20, 30, 120), (20, 20, 20))[int(rng.integers(2))]
        cv2.polylines(self.img, [pts], False, color, max(1, h // 15), cv2.LINE_AA)
        self.graphics.append((x0, y0, x0 + w, y0 + h))
