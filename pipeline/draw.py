"""``--draw``: the page with its lines, words and recognized text drawn over it, for checking results."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.result import Page

__all__ = ["draw_page"]


def draw_page(image: np.ndarray, page: Page) -> np.ndarray:
    """RGB copy of ``image`` with each line's quad (green), its words' boxes (blue) and its text (red,
    above the line, sized to the line), plus block boxes (grey)."""
    im = Image.fromarray(np.asarray(image)).convert("RGB")
    d = ImageDraw.Draw(im)
    t = max(1, round(max(im.size) / 1500))
    for b in page.blocks:
        d.rectangle([float(v) for v in b.box], outline=(150, 150, 150), width=t)
    for ln in page.lines:
        d.polygon([tuple(map(float, p)) for p in ln.quad], outline=(0, 160, 0), width=2 * t)
        for w in ln.words:
            d.rectangle([float(v) for v in w.box], outline=(40, 90, 255), width=t)
        h = max(8, int(0.6 * (ln.box[3] - ln.box[1])))
        try:
            font = ImageFont.load_default(size=h)
        except TypeError:                                   # Pillow < 10.1 has one fixed-size default
            font = ImageFont.load_default()
        d.text((float(ln.box[0]), float(ln.box[1]) - h - 1), ln.text, fill=(220, 0, 0), font=font)
    return np.asarray(im)
