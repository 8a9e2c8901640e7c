"""Synthetic text-line images for the recognizer, with their exact string and tight ink box.

:class:`LineGenerator` draws one line per ``(seed, index)``: a font (serif, sans, mono, condensed,
receipt, typewriter; bold/italic), a size (small sizes common, as on 100-dpi faxes), a string from
:class:`synth.text.TextSource`, optional clutter a real line crop carries (cut-off ink of the lines above
and below, an underline or a table rule), a crop with random margins, a small residual rotation and a
degradation profile, redrawn while the result would be unreadable (``LineConfig.min_contrast``). The image is
gray ``uint8``; ``box`` is the text's ink box in image pixels (for a row of symbols alone, ``-----``, the box
of a line of type of its size: capital height and descenders, as a detector would box it).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth import degrade as deg
from synth.config import LineConfig
from synth.fonts import FontInfo, discover
from synth.render import Canvas, FontBook
from synth.text import TextSource

__all__ = ["LineGenerator", "LineSample"]

_DRAWS = 4
_CATEGORY_WEIGHTS = {"serif": 0.24, "sans": 0.3, "mono": 0.12, "condensed": 0.12, "receipt": 0.1, "typewriter": 0.12}


@dataclass
class LineSample:
    image: np.ndarray          # H,W uint8 gray
    text: str
    box: tuple[int, int, int, int]
    meta: dict


class LineGenerator:
    """Deterministic line factory: ``LineGenerator(seed=1).line(i)`` is the same sample on every call."""

    def __init__(self, cfg: LineConfig | None = None, seed: int = 0, fonts: list[FontInfo] | None = None,
                 charset: str | None = None, allow_fallback_fonts: bool = False, lang: str = "en"):
        self.cfg = cfg or LineConfig()
        self.seed = int(seed)
        if lang == "zh":                             # Chinese text in the Chinese training fonts (synth.zh)
            from synth.fonts import discover_zh
            from synth.zh import ZhTextSource

            self.book = FontBook(fonts if fonts is not None else discover_zh())
            self.ts = ZhTextSource(seed, charset=charset, rare=self.cfg.rare)
        elif lang == "en":
            self.book = FontBook(fonts if fonts is not None else discover(allow_fallback=allow_fallback_fonts))
            self.ts = TextSource(seed, charset=charset)
        else:
            raise ValueError(f"unknown language {lang!r}: en or zh")
        cats = [c for c in _CATEGORY_WEIGHTS if c in self.book.by_cat]
        w = np.array([_CATEGORY_WEIGHTS[c] for c in cats])
        self._cats, self._cat_p = cats, w / w.sum()

    def line(self, index: int, text: str | None = None, profile: str | None = None,
             degrade: bool = True, kind: str | None = None) -> LineSample:
        """Line ``index`` of this seed; its string is ``text`` if given, else one string of ``kind`` (a
        :class:`synth.text.TextSource` kind, e.g. ``"separator"``), else a mixed document line."""
        cfg, rng = self.cfg, np.random.default_rng([self.seed, int(index)])
        self.ts.reseed(np.random.default_rng([self.seed, int(index), 1]), self.seed * 1_000_003 + int(index))
        cat = self._cats[int(rng.choice(len(self._cats), p=self._cat_p))] if self._cats else None
        font = self.book.pick(rng, cat, bold=rng.random() < 0.2, italic=rng.random() < 0.1)
        lo, hi = cfg.height
        size = int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
        if text is None:
            text = self.ts(kind, cfg.max_chars) if kind else self.ts.line(cfg.max_chars)
        s = self.ts.fit(text, font.chars)
        if not s:
            s = self.ts.fit("0", font.chars) or "0"
        pil = font.font(size)
        tracking = size * rng.uniform(0.05, 0.25) if rng.random() < 0.08 else 0.0
        width = pil.getlength(s) + tracking * len(s)
        pad = int(size * 2)
        cw, ch = int(width + 2 * pad + size), int(size * 4)
        invert = rng.random() < 0.03
        canvas = Canvas(cw, ch)
        asc = pil.getmetrics()[0]
        base = ch / 2 + asc / 2
        gray = int(rng.integers(0, 90))
        line = canvas.put([(pad, s)], base, font, size, (gray,) * 3, tracking=tracking)
        if line is None:
            raise RuntimeError(f"could not render {s!r} in {font.path} at {size}px")
        x0, y0, x1, y1 = line.box
        if not any(c.isalnum() for c in s):
            # a row of symbols (------, *****, ____) has a thin ink box, but a detector's box around it, and so
            # the crop a recognizer gets, is as tall as a line of type: box it as if it held capitals and descenders
            y0, y1 = min(y0, int(base - 0.7 * size)), max(y1, int(np.ceil(base + 0.2 * size)))
        th = max(1, y1 - y0)
        lead = size * rng.uniform(1.05, 1.5)
        if rng.random() < cfg.neighbours:  # ink of the lines above/below reaching into the crop
            for sgn in (-1, 1):
                if rng.random() < 0.6:
                    other = self.ts.fit(self.ts.line(cfg.max_chars), font.chars)
                    canvas.put([(pad + rng.uniform(-size, size * 3), other)], base + sgn * lead, font, size,
                               (gray,) * 3, gap=-10**6)
        if rng.random() < cfg.rules:
            t = max(1, size // 12)
            if rng.random() < 0.6:
                yy = y1 + rng.uniform(1, 0.3 * size)
                canvas.rule(0, yy, cw, yy, t, (gray,) * 3)
            else:
                xx = x0 - rng.uniform(0.3, 1.0) * size
                canvas.rule(xx, 0, xx, ch, t, (gray,) * 3)
        img = canvas.img
        # crop with random margins around the ink box, after a small rotation about its centre
        mx = [rng.uniform(*cfg.margin_x) * th for _ in range(2)]
        my = [rng.uniform(*cfg.margin_y) * th for _ in range(2)]
        ang = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
        c = ((x0 + x1) / 2, (y0 + y1) / 2)
        rot = cv2.getRotationMatrix2D(c, ang, 1.0)
        img = cv2.warpAffine(img, rot, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
        corners = cv2.transform(np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float32), rot)[0]
        bx0, by0 = corners.min(0)
        bx1, by1 = corners.max(0)
        cx0, cy0 = int(max(0, np.floor(bx0 - mx[0]))), int(max(0, np.floor(by0 - my[0])))
        cx1, cy1 = int(min(cw, np.ceil(bx1 + mx[1]))), int(min(ch, np.ceil(by1 + my[1])))
        img = np.ascontiguousarray(img[cy0:cy1, cx0:cx1])
        box = (int(max(0, np.floor(bx0 - cx0))), int(max(0, np.floor(by0 - cy0))),
               int(min(cx1 - cx0, np.ceil(bx1 - cx0))), int(min(cy1 - cy0, np.ceil(by1 - cy0))))
        name, score = "none", None
        if degrade:
            # an unreadable line is label noise in training and an impossible target in testing: redraw
            # the degradation while the ink does not stand out, keeping the best of _DRAWS draws
            best = None
            for _ in range(_DRAWS):
                out, name = deg.degrade(img, rng, float(th), profile, dict(cfg.profiles))
                score = deg.ink_contrast(img, out)
                if best is None or score > best[0]:
                    best = (score, out, name)
                if score >= cfg.min_contrast:
                    break
            score, img, name = best
        out = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
        if invert:
            # light text on a dark band is degraded as dark ink on paper and then inverted: the ink effects
            # (bleed, broken strokes, thinning, fading) act on the letters' strokes; applied to the dark
            # band instead they punched stroke-sized holes all over it (a leopard pattern nobody can read)
            out = cv2.bitwise_not(out)
        return LineSample(out, s, box, {"font": font.path, "size": size, "profile": name,
                                        "inverted": invert, "seed": self.seed, "index": int(index),
                                        "contrast": score})
