"""Synthetic document pages for the detector, with exact line ground truth.

:class:`PageGenerator` draws one page per ``(seed, index)``: a layout (letter, 1-3 columns, form, table,
receipt, invoice, mixed sizes, sparse), then a page geometry (skew up to ``skew_deg``, slight perspective;
the ground-truth quads go through the same homography) and a degradation profile (``synth.degrade``).
A "photo" page is shot as a phone photo (``photo_scene`` of them): lying on a textured background
(:func:`background`: wood, cloth, desk, dark counter, carpet), tilted up to ``photo_skew_deg`` with a
camera keystone of up to ``photo_keystone``, and ``photo_small`` of them shrunk whole to a long side of
400-800 px (lines 6-9 px tall, like the smallest real photos). The scene draws from a random stream of its
own, so no other page changes with these settings.
Ground truth is in the ``shared/data/real`` page-set format: ``{"box", "quad", "text", "ignore"}`` per
line, boxes in output-image pixels, quads clockwise from top-left.

Line rule: one labelled line is one run of text on one baseline whose words are separated by ordinary
spaces; runs separated by a wider gap (table cells, a form label and its distant value, a receipt price
on the right) are separate lines, as a reader and the real annotations see them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from synth import degrade as deg
from synth.config import PageConfig
from synth.fonts import FontInfo, discover
from synth.render import Canvas, FontBook, TextLine
from synth.text import TextSource

__all__ = ["PageGenerator", "PageSample", "LAYOUTS", "BACKGROUNDS", "background"]


@dataclass
class PageSample:
    """A rendered page: RGB image, its lines, and how it was made."""
    image: np.ndarray
    lines: list[dict]
    meta: dict = field(default_factory=dict)
    labels: np.ndarray | None = None   # line id + 1 per ink pixel, after geometry (only when asked for)

    def to_json(self, image_name: str) -> dict:
        h, w = self.image.shape[:2]
        return {"image": image_name, "width": w, "height": h, "set": "synth", "split": "train",
                "level": "line", **self.meta, "lines": self.lines}


class _Ctx:
    """Everything one layout function needs; ``pt`` converts points to pixels at the page's dpi."""

    def __init__(self, canvas: Canvas, rng: np.random.Generator, ts: TextSource, book: FontBook, dpi: int):
        self.c, self.rng, self.ts, self.book, self.dpi = canvas, rng, ts, book, dpi
        self.ink = (int(rng.integers(0, 50)),) * 3 if rng.random() < 0.85 else (20, 30, int(rng.integers(80, 140)))

    def tr(self, s: str) -> str:
        """A layout's fixed wording (``"Invoice No:"``) in the text source's language."""
        return self.ts.labels.get(s, s)

    def pt(self, size_pt: float) -> int:
        return max(6, int(round(size_pt * self.dpi / 72.0)))

    def mm(self, v: float) -> int:
        return int(round(v * self.dpi / 25.4))

    def text(self, font: FontInfo, size: int, kind: str | None = None, max_chars: int = 60) -> str:
        return self.ts.fit(self.ts(kind, max_chars=max_chars), font.chars) or "text"

    def width(self, font: FontInfo, size: int, s: str) -> float:
        return font.font(size).getlength(s)

    def write(self, x: float, top: float, s: str, font: FontInfo, size: int, align: str = "left",
              color=None, **kw) -> TextLine | None:
        """One line whose *top of the em box* is at ``top``; ``x`` is the left, centre or right edge."""
        s = self.ts.fit(s, font.chars)
        if not s:
            return None
        w = self.width(font, size, s)
        x0 = x - w / 2 if align == "center" else x - w if align == "right" else x
        asc = font.font(size).getmetrics()[0]
        return self.c.put([(x0, s)], top + asc, font, size, color or self.ink, **kw)

    def paragraph(self, x: float, top: float, width: float, font: FontInfo, size: int, leading: float,
                  n_words: int, justify: bool = False, bottom: float | None = None) -> float:
        """Flow ``n_words`` of running text into ``width``; returns the top of the next line."""
        words, sep = [], self.ts.sep          # Chinese: no spaces, a line may break after any character
        n_words = int(n_words * self.ts.width_factor)
        while len(words) < n_words:
            s = self.ts.fit(self.ts.sentence(), font.chars)
            words.extend(s.split() if sep else [c for c in s if not c.isspace()])
        pil = font.font(size)
        space = pil.getlength(" ")
        asc = pil.getmetrics()[0]
        lines, cur = [], []
        justify = justify and bool(sep)
        for wd in words[:n_words]:
            if cur and pil.getlength(sep.join(cur + [wd])) > width:
                lines.append(cur)
                cur = []
            cur.append(wd)
        if cur:
            lines.append(cur)
        y = top
        for i, ln in enumerate(lines):
            if bottom is not None and y + leading > bottom:
                break
            if justify and i < len(lines) - 1 and len(ln) > 1:
                widths = [pil.getlength(wd) for wd in ln]
                gap = (width - sum(widths)) / (len(ln) - 1)
                if gap > 3 * space:
                    gap = space
                xs = x + np.concatenate([[0], np.cumsum(np.array(widths[:-1]) + gap)])
                self.c.put(list(zip(xs.tolist(), ln)), y + asc, font, size, self.ink)
            else:
                self.c.put([(x, sep.join(ln))], y + asc, font, size, self.ink)
            y += leading
        return y


# ---- layouts ------------------------------------------------------------------------------------------
def _letterhead(k: _Ctx, x0: float, x1: float, top: float) -> float:
    c, rng = k.c, k.rng
    head = k.book.pick(rng, ("sans", "serif"), bold=True)
    size = k.pt(rng.uniform(14, 24))
    logo = int(size * rng.uniform(1.5, 2.5))
    right = rng.random() < 0.5
    if rng.random() < 0.8:
        c.logo(rng, int(x1 - logo) if right else int(x0), int(top), logo)
    tx = x0 + (0 if right else logo * 1.3)
    k.write(tx, top, k.ts.company(), head, size, color=k.ink if rng.random() < 0.6 else
            tuple(int(v) for v in rng.integers(0, 150, 3)))
    small = k.book.pick(rng, ("sans", "serif", "condensed"))
    ss = k.pt(rng.uniform(7, 9))
    y = top + size * 1.4
    for kind in ("address", "address", "phone", "email")[:int(rng.integers(2, 5))]:
        k.write(tx, y, k.ts(kind, 50), small, ss)
        y += ss * 1.3
    y = max(y, top + logo) + ss
    if rng.random() < 0.7:
        c.rule(x0, y, x1, y, max(1, k.pt(0.8)), k.ink)
    return y + ss


def layout_letter(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng = k.rng
    y = _letterhead(k, x0, x1, y0)
    body = k.book.pick(rng, ("serif", "sans", "typewriter", "mono"), bold=False)
    size = k.pt(rng.uniform(9.5, 12.5))
    lead = size * rng.uniform(1.2, 1.6)
    k.write(x1 if rng.random() < 0.5 else x0, y, k.ts.date(), body, size,
            align="right" if rng.random() < 0.5 else "left")
    y += 2 * lead
    for s in (k.ts.name(), k.ts.company(), k.ts.address(), k.ts.address()):
        k.write(x0, y, s, body, size)
        y += lead
    y += lead
    bold = k.book.pick(rng, body.category, bold=True)
    k.write(x0, y, k.tr("Re: ") + k.ts.words_(int(rng.integers(2, 7))), bold, size)
    y += 2 * lead
    k.write(x0, y, k.tr("Dear {},").format(k.ts.name()), body, size)
    y += 1.8 * lead
    justify = rng.random() < 0.5
    for _ in range(int(rng.integers(2, 6))):
        y = k.paragraph(x0, y, x1 - x0, body, size, lead, int(rng.integers(20, 90)), justify, y1 - 6 * lead)
        y += lead * rng.uniform(0.6, 1.2)
        if y > y1 - 6 * lead:
            break
    k.write(x0, y, k.tr(str(rng.choice(["Sincerely,", "Yours faithfully,", "Kind regards,", "Best regards,"]))),
            body, size)
    k.c.signature(rng, int(x0), int(y + lead), int(size * 6), int(lead * 1.5))
    k.write(x0, y + 3 * lead, k.ts.name(), body, size)


def layout_columns(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng = k.rng
    head = k.book.pick(rng, ("serif", "sans", "condensed"), bold=True)
    hs = k.pt(rng.uniform(16, 30))
    k.write(x0 if rng.random() < 0.6 else (x0 + x1) / 2, y0, k.ts.heading(), head, hs,
            align="left" if rng.random() < 0.6 else "center")
    y = y0 + hs * 1.5
    body = k.book.pick(rng, ("serif", "sans", "condensed"), bold=False)
    size = k.pt(rng.uniform(8.5, 11.5))
    lead = size * rng.uniform(1.15, 1.45)
    if rng.random() < 0.6:
        k.write(x0, y, f"{k.ts.name()} - {k.ts.date()}", k.book.pick(rng, body.category, italic=None), size)
        y += 2 * lead
    ncol = int(rng.choice([1, 2, 2, 3]))
    gutter = k.mm(rng.uniform(5, 10))
    cw = (x1 - x0 - gutter * (ncol - 1)) / ncol
    justify = rng.random() < 0.6
    sub = k.book.pick(rng, body.category, bold=True)
    for ci in range(ncol):
        cx = x0 + ci * (cw + gutter)
        cy = y
        if ci and rng.random() < 0.5:
            k.c.rule(cx - gutter / 2, y, cx - gutter / 2, y1, 1, k.ink)
        while cy < y1 - 3 * lead:
            if rng.random() < 0.3:
                k.write(cx, cy, k.ts.heading(), sub, int(size * rng.uniform(1.0, 1.4)))
                cy += 1.6 * lead
            cy = k.paragraph(cx, cy, cw, body, size, lead, int(rng.integers(15, 120)), justify, y1)
            cy += lead * rng.uniform(0.5, 1.2)


def layout_form(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng, c = k.rng, k.c
    head = k.book.pick(rng, ("sans", "serif"), bold=True)
    hs = k.pt(rng.uniform(13, 20))
    k.write((x0 + x1) / 2, y0, k.ts.heading(), head, hs, align="center")
    y = y0 + hs * 2.2
    label = k.book.pick(rng, ("sans", "serif", "condensed"))
    value = k.book.pick(rng, ("typewriter", "mono", "sans", "serif"))
    size = k.pt(rng.uniform(8, 11))
    vcolor = k.ink if rng.random() < 0.6 else (25, 35, 120)
    ncol = int(rng.choice([1, 2]))
    cw = (x1 - x0) / ncol
    boxed = rng.random() < 0.4
    while y < y1 - 4 * size:
        kind = rng.random()
        if kind < 0.12:  # a section bar: heading on a shaded band
            c.rect(x0, y - size * 0.3, x1, y + size * 1.4, 0, fill=(int(rng.integers(190, 235)),) * 3)
            k.write(x0 + size * 0.5, y, k.ts.heading(), k.book.pick(rng, label.category, bold=True), size)
            y += size * 2.6
            continue
        if kind < 0.22:  # checkboxes
            bx = x0
            k.write(bx, y, k.ts.words_(int(rng.integers(1, 5))) + k.tr("?"), label, size)
            bx += cw * 0.55
            for opt in ("Yes", "No") if rng.random() < 0.6 else ("A", "B", "C"):
                c.rect(bx, y + size * 0.15, bx + size * 0.9, y + size * 1.05, max(1, size // 12), k.ink)
                if rng.random() < 0.4:
                    c.rule(bx + 2, y + size * 0.6, bx + size * 0.4, y + size, max(1, size // 8), vcolor)
                    c.rule(bx + size * 0.4, y + size, bx + size * 1.1, y - size * 0.1, max(1, size // 8), vcolor)
                k.write(bx + size * 1.4, y, k.tr(opt), label, size)
                bx += size * 5
            y += size * 2.4
            continue
        for ci in range(ncol):
            fx = x0 + ci * cw
            lab = rng.choice(["Name", "Date", "Address", "City", "Phone", "E-mail", "Account No.", "Amount",
                              "Signature", "Department", "Reference", "Approved by", "Position", "Company"])
            lab = k.tr(str(lab)) + (k.tr(":") if rng.random() < 0.7 else "")
            if boxed:  # label small inside the top-left of a box, value below
                bh = size * 2.6
                c.rect(fx, y, fx + cw - size, y + bh, 1, k.ink)
                k.write(fx + 3, y + 2, lab, label, int(size * 0.75))
                if rng.random() < 0.85:
                    k.write(fx + size * 0.6, y + size * 1.25, k.text(value, size, None, 30), value, size,
                            color=vcolor)
            else:  # label, then an underlined field holding the value
                ln = k.write(fx, y, lab, label, size)
                lx = (ln.box[2] if ln else fx) + size * rng.uniform(0.8, 2.0)
                base = y + size * 1.15
                c.rule(lx, base + size * 0.3, fx + cw - size, base + size * 0.3, 1, k.ink,
                       dash=int(size * 0.3) if rng.random() < 0.3 else 0)
                if rng.random() < 0.85:
                    k.write(lx + size * 0.5, y, k.text(value, size, None, int((fx + cw - lx) / size)), value, size,
                            color=vcolor)
        y += size * (3.4 if boxed else 2.4)
    if rng.random() < 0.5:
        c.stamp(rng, int(rng.uniform(x0 + size * 5, x1 - size * 5)), int(rng.uniform(y0, y1)), int(size * 7))


def _table(k: _Ctx, x0, y, x1, y1, font, size, n_rows=None) -> float:
    rng, c = k.rng, k.c
    cols = int(rng.integers(3, 6))
    kinds = ["words"] + [str(rng.choice(["number", "money", "date", "code", "sku", "percent"])) for _ in range(cols - 1)]
    weights = np.array([3.0] + [1.0] * (cols - 1))
    edges = x0 + np.concatenate([[0], np.cumsum(weights / weights.sum() * (x1 - x0))])
    rowh = size * rng.uniform(1.6, 2.2)
    grid = rng.random() < 0.4
    bold = k.book.pick(rng, font.category, bold=True)
    pad = size * 0.4
    top = y
    if rng.random() < 0.5:
        c.rect(x0, y, x1, y + rowh, 0, fill=(int(rng.integers(200, 235)),) * 3)
    heads = ["Description", "Qty", "Price", "Amount", "Date", "Code", "Item", "Rate", "Total", "Ref", "Tax"]
    for ci in range(cols):
        h = heads[0] if ci == 0 else heads[int(rng.integers(1, len(heads)))]
        k.write(edges[ci] + pad if ci == 0 else edges[ci + 1] - pad, y + (rowh - size) / 2, k.tr(h), bold, size,
                align="left" if ci == 0 else "right")
    y += rowh
    c.rule(x0, y, x1, y, max(1, size // 10), k.ink)
    rows = n_rows or 10 ** 6
    while y + rowh < y1 and rows > 0:
        for ci in range(cols):
            s = k.ts(kinds[ci], max_chars=int((edges[ci + 1] - edges[ci]) / (size * 0.55 * k.ts.width_factor)))
            k.write(edges[ci] + pad if ci == 0 else edges[ci + 1] - pad, y + (rowh - size) / 2, s, font, size,
                    align="left" if ci == 0 else "right")
        y += rowh
        rows -= 1
        if grid or rng.random() < 0.3:
            c.rule(x0, y, x1, y, 1, k.ink)
    if grid:
        for e in edges:
            c.rule(e, top, e, y, 1, k.ink)
        c.rule(x0, top, x1, top, 1, k.ink)
    return y


def layout_table(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng = k.rng
    head = k.book.pick(rng, ("sans", "serif"), bold=True)
    hs = k.pt(rng.uniform(12, 18))
    k.write(x0, y0, k.ts.heading(), head, hs)
    font = k.book.pick(rng, ("sans", "serif", "condensed", "mono"), bold=False)
    size = k.pt(rng.uniform(8, 11))
    y = y0 + hs * 2
    while y < y1 - size * 8:
        y = _table(k, x0, y, x1, y1, font, size, int(rng.integers(3, 25))) + size * 2
        if rng.random() < 0.5 and y < y1 - size * 6:
            y = k.paragraph(x0, y, x1 - x0, font, size, size * 1.3, int(rng.integers(10, 50)), False, y1) + size


def layout_invoice(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng = k.rng
    y = _letterhead(k, x0, (x0 + x1) / 2 + (x1 - x0) * 0.2, y0)
    big = k.book.pick(rng, ("sans", "serif"), bold=True)
    k.write(x1, y0, k.tr(str(rng.choice(["INVOICE", "TAX INVOICE", "Invoice", "QUOTATION", "STATEMENT"]))), big,
            k.pt(rng.uniform(18, 28)), align="right")
    font = k.book.pick(rng, ("sans", "serif", "condensed"), bold=False)
    size = k.pt(rng.uniform(8.5, 11))
    lead = size * 1.45
    my = y0 + k.pt(34)
    for lab in ("Invoice No:", "Date:", "Due Date:", "Customer ID:")[:int(rng.integers(2, 5))]:
        val = k.ts.code() if "No" in lab or "ID" in lab else k.ts.date()
        k.write(x1 - size * 12, my, k.tr(lab), font, size, align="right")
        k.write(x1, my, val, font, size, align="right")
        my += lead
    y = max(y, my) + lead
    k.write(x0, y, k.tr("Bill To:"), k.book.pick(rng, font.category, bold=True), size)
    y += lead
    for s in (k.ts.name(), k.ts.company(), k.ts.address(), k.ts.address()):
        k.write(x0, y, s, font, size)
        y += lead
    y = _table(k, x0, y + lead, x1, y1 - 8 * lead, font, size, int(rng.integers(2, 14)))
    y += lead
    for lab in ("Subtotal", "Tax", "Shipping", "Total Due")[:int(rng.integers(2, 5))]:
        k.write(x1 - size * 10, y, k.tr(lab), font, size, align="right")
        k.write(x1, y, k.ts.money(), font, size, align="right")
        y += lead
    y = k.paragraph(x0, y + lead, (x1 - x0) * 0.7, font, int(size * 0.85), lead * 0.85, int(rng.integers(10, 40)),
                    False, y1)
    if rng.random() < 0.4:
        k.c.stamp(rng, int(rng.uniform(x0 + size * 8, x1 - size * 8)), int(rng.uniform(y0 + size * 10, y1 - size * 5)),
                  int(size * 8))


def layout_receipt(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng, c = k.rng, k.c
    font = k.book.pick(rng, ("receipt", "mono", "mono", "typewriter", "condensed", "sans"), bold=None)
    size = k.pt(rng.uniform(7.5, 10))
    lead = size * rng.uniform(1.15, 1.5)
    mid = (x0 + x1) / 2
    track = size * 0.08 if rng.random() < 0.2 else 0.0
    y = y0
    if rng.random() < 0.3:
        c.logo(rng, int(mid - size * 1.5), int(y), int(size * 3))
        y += size * 3.5
    big = k.book.pick(rng, font.category, bold=True)
    k.write(mid, y, k.ts.company().upper() if rng.random() < 0.6 else k.ts.company(), big, int(size * rng.uniform(1.1, 1.8)),
            align="center")
    y += lead * 1.8
    for kind in ("code", "address", "address", "phone")[:int(rng.integers(2, 5))]:
        k.write(mid, y, k.ts(kind, 40), font, size, align="center", tracking=track)
        y += lead

    def sep(y):
        kind = rng.random()
        if kind < 0.6:
            c.rule(x0, y + lead / 2, x1, y + lead / 2, 1, k.ink, dash=max(2, size // 4))
        elif kind < 0.8:
            c.rule(x0, y + lead / 2, x1, y + lead / 2, max(1, size // 10), k.ink)
        else:
            c.rule(x0, y + lead * 0.4, x1, y + lead * 0.4, 1, k.ink, dash=1)
        return y + lead

    y = sep(y)
    for lab in ("Date", "Cashier", "Receipt No", "Table")[:int(rng.integers(1, 4))]:
        val = {"Date": f"{k.ts.date()} {k.ts.time()}", "Cashier": k.ts.faker.first_name().upper(),
               "Receipt No": k.ts.code(), "Table": str(rng.integers(1, 40))}[lab]
        if rng.random() < 0.5:
            k.write(x0, y, f"{k.tr(lab)}{k.tr(': ')}{val}", font, size, tracking=track)
        else:
            k.write(x0, y, f"{k.tr(lab)}{k.tr(':')}", font, size, tracking=track)
            k.write(x1, y, val, font, size, align="right", tracking=track)
        y += lead
    y = sep(y)
    leaders = rng.random() < 0.2
    for _ in range(int(rng.integers(2, 14))):
        if y > y1 - 8 * lead:
            break
        item = k.ts.fit(k.ts(str(rng.choice(["words", "words", "sku", "mixed"])), 24), font.chars)
        price = k.ts.money() if rng.random() < 0.3 else f"{rng.lognormal(2, 1):.2f}"
        if leaders:  # "Item ......... 9.00" drawn and labelled as one line
            pil = font.font(size)
            room = x1 - x0 - pil.getlength(item) - pil.getlength(price) - 2 * pil.getlength(" ")
            dots = "." * max(3, int(room / max(1.0, pil.getlength("."))))
            k.c.put([(x0, f"{item} {dots}"), (x1 - pil.getlength(price), price)], y + pil.getmetrics()[0],
                    font, size, k.ink)
        else:
            k.write(x0, y, item.upper() if rng.random() < 0.5 else item, font, size, tracking=track)
            if rng.random() < 0.4:
                y += lead
                k.write(x0 + size * 2, y, f"{rng.integers(1, 9)} x {rng.lognormal(1.5, 0.8):.2f}", font, size)
            k.write(x1, y, price, font, size, align="right", tracking=track)
        y += lead
    y = sep(y)
    for lab in ("SUBTOTAL", "TAX", "ROUNDING", "TOTAL", "CASH", "CHANGE")[:int(rng.integers(2, 7))]:
        f = big if lab == "TOTAL" else font
        k.write(x0 if rng.random() < 0.7 else mid - size * 4, y, k.tr(lab) if rng.random() < 0.6 else k.tr(lab).title(),
                f, size)
        k.write(x1, y, f"{rng.lognormal(2.5, 1):.2f}", f, size, align="right")
        y += lead
    y = sep(y)
    if rng.random() < 0.4 and y < y1 - 4 * lead:
        c.barcode(rng, int(mid - size * 6), int(y), int(size * 12), int(size * 2.5))
        y += size * 3
        k.write(mid, y, str(rng.integers(10**11, 10**12)), font, size, align="center")
        y += lead
    for s in (k.tr("THANK YOU"), k.tr("PLEASE COME AGAIN"), k.ts.url())[:int(rng.integers(1, 4))]:
        k.write(mid, y, s, font, size, align="center")
        y += lead


def layout_mixed_sizes(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng = k.rng
    y = y0
    while y < y1:
        size = k.pt(float(np.exp(rng.uniform(np.log(6), np.log(72)))))
        font = k.book.pick(rng, None, bold=None)
        align = str(rng.choice(["left", "center", "right"]))
        x = {"left": x0, "center": (x0 + x1) / 2, "right": x1}[align]
        for _ in range(int(rng.integers(1, 4))):
            s = k.text(font, size, None, max(3, int((x1 - x0) / (size * 0.6 * k.ts.width_factor))))
            if k.write(x, y, s, font, size, align=align) is None and size > k.pt(20):
                k.write(x, y, s.split(" ")[0], font, size, align=align)
            y += size * rng.uniform(1.2, 1.6)
        y += size * rng.uniform(0.3, 1.5)


def layout_sparse(k: _Ctx, box) -> None:
    x0, y0, x1, y1 = box
    rng = k.rng
    if rng.random() < 0.5:
        k.c.logo(rng, int(rng.uniform(x0, x1 - k.pt(60))), int(y0), k.pt(60))
    for _ in range(int(rng.integers(2, 12))):
        font = k.book.pick(rng, None, bold=None)
        size = k.pt(rng.uniform(8, 28))
        k.write(rng.uniform(x0, x0 + (x1 - x0) * 0.6), rng.uniform(y0, y1 - size), k.text(font, size, None, 40),
                font, size)
    if rng.random() < 0.4:
        k.c.stamp(rng, int(rng.uniform(x0 + 100, x1 - 100)), int(rng.uniform(y0 + 100, y1 - 100)), k.pt(70))


LAYOUTS = {"letter": layout_letter, "columns": layout_columns, "form": layout_form, "table": layout_table,
           "receipt": layout_receipt, "invoice": layout_invoice, "mixed_sizes": layout_mixed_sizes,
           "sparse": layout_sparse}


# ---- geometry -----------------------------------------------------------------------------------------
def _homography(rng: np.random.Generator, w: int, h: int, cfg: PageConfig, margin: int):
    """Rotation by up to ``skew_deg`` about the centre, optional corner jitter, then a shift that keeps
    the whole page inside the output with ``margin`` pixels to spare. Returns (H, out_w, out_h, angle)."""
    angle = float(rng.uniform(-cfg.skew_deg, cfg.skew_deg))
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    dst = cv2.transform(src[None], rot)[0]
    if rng.random() < cfg.perspective_share:
        dst = dst + rng.uniform(-cfg.perspective, cfg.perspective, (4, 2)).astype(np.float32) * np.array([w, h], np.float32)
    return _placed(src, dst, margin, angle)


def _placed(src: np.ndarray, dst: np.ndarray, margin: int, angle: float):
    """(H, out_w, out_h, angle): the homography taking the page corners ``src`` to ``dst`` shifted so the
    page lies ``margin`` pixels inside an output just big enough for it."""
    dst = dst - dst.min(0) + margin
    out_w, out_h = (np.ceil(dst.max(0)) + margin).astype(int)
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32)), int(out_w), int(out_h), angle


def _photo_homography(rng: np.random.Generator, w: int, h: int, cfg: PageConfig, margin: int):
    """A phone camera's view of a ``w`` x ``h`` page: a keystone (the far edge up to ``photo_keystone`` of
    its length shorter, on a random side), corner jitter, rotation by up to ``photo_skew_deg``, and a
    shift that keeps the page inside the output. Returns (H, out_w, out_h, angle)."""
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src.copy()
    side, k = int(rng.integers(4)), rng.uniform(0, cfg.photo_keystone)
    a, b = side, (side + 1) % 4                                         # the far edge: corners a and b
    dst[a] += (dst[b] - dst[a]) * k / 2
    dst[b] += (dst[a] - dst[b]) * k / 2
    dst += rng.uniform(-0.02, 0.02, (4, 2)).astype(np.float32) * np.array([w, h], np.float32)
    angle = float(rng.uniform(-cfg.photo_skew_deg, cfg.photo_skew_deg))
    dst = cv2.transform(dst[None], cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0))[0]
    return _placed(src, dst, margin, angle)


BACKGROUNDS = ("wood", "cloth", "desk", "dark", "carpet")


def background(rng: np.random.Generator, w: int, h: int, kind: str | None = None) -> np.ndarray:
    """An RGB ``h`` x ``w`` surface a receipt is photographed on: wood grain, woven cloth, a plain desk, a
    dark counter or carpet, each with its own colour, scale and noise."""
    kind = kind or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    def smooth(s: int) -> np.ndarray:                                   # noise with features ~s px across
        small = rng.normal(0, 1, (max(2, h // s), max(2, w // s))).astype(np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)

    if kind == "wood":
        t = np.deg2rad(rng.uniform(-20, 20))
        u = xx * np.sin(t) + yy * np.cos(t)                             # across the grain
        period = rng.uniform(0.01, 0.04) * max(w, h)
        v = np.sin(2 * np.pi * u / period + 3 * smooth(max(8, int(period)))) * 0.5 + 0.5
        base = np.array([rng.uniform(90, 200), rng.uniform(55, 140), rng.uniform(25, 90)], np.float32)
        img = base * (0.75 + 0.35 * v[..., None]) + 6 * smooth(2)[..., None]
    elif kind == "cloth":
        period = rng.uniform(4, 14)
        weave = (np.sin(2 * np.pi * xx / period) * np.sin(2 * np.pi * yy / period)) * 0.5 + 0.5
        c1, c2 = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
        cell = rng.uniform(20, 80)
        check = ((xx // cell + yy // cell) % 2 == 1)[..., None] & (rng.random() < 0.5)   # checked or plain
        img = np.where(check, c2, c1) * (0.8 + 0.3 * weave[..., None])
    elif kind == "desk":
        img = rng.uniform(120, 235, 3) + 10 * smooth(max(4, w // 6))[..., None] + 3 * smooth(1)[..., None]
    elif kind == "dark":
        img = rng.uniform(5, 60, 3) + 8 * smooth(max(4, w // 8))[..., None] + 4 * smooth(1)[..., None]
    elif kind == "carpet":
        img = rng.uniform(90, 190, 3) * (0.85 + 0.15 * smooth(1))[..., None] + 5 * smooth(3)[..., None]
    else:
        raise ValueError(f"unknown background {kind!r}; choose from {', '.join(BACKGROUNDS)}")
    return np.clip(img, 0, 255).astype(np.uint8)


class PageGenerator:
    """Deterministic page factory: ``PageGenerator(seed=1).page(i)`` is the same page on every call."""

    def __init__(self, cfg: PageConfig | None = None, seed: int = 0, fonts: list[FontInfo] | None = None,
                 charset: str | None = None, allow_fallback_fonts: bool = False, lang: str = "en", text=None):
        self.cfg = cfg or PageConfig()
        self.seed = int(seed)
        if lang == "zh":                             # Chinese text, wording and fonts (synth.zh)
            from synth.fonts import discover_zh
            from synth.zh import ZhTextSource

            self.book = FontBook(fonts if fonts is not None else discover_zh())
            self.ts = text or ZhTextSource(seed, charset=charset)
        elif lang == "en":
            self.book = FontBook(fonts if fonts is not None else discover(allow_fallback=allow_fallback_fonts))
            self.ts = text or TextSource(seed, charset=charset)
        else:
            raise ValueError(f"unknown language {lang!r}: en or zh")

    def page(self, index: int, layout: str | None = None, profile: str | None = None, geometry: bool = True,
             degrade: bool = True, labels: bool = False) -> PageSample:
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, int(index)])
        self.ts.reseed(np.random.default_rng([self.seed, int(index), 1]), self.seed * 1_000_003 + int(index))
        names = list(cfg.layouts)
        p = np.array([cfg.layouts[n] for n in names], float)
        layout = layout or names[int(rng.choice(len(names), p=p / p.sum()))]
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
        dpi = 300 if rng.random() < cfg.dpi_high else int(rng.integers(cfg.dpi[0], cfg.dpi[1] + 1))
        if layout == "receipt":
            w_mm, h_mm = float(rng.choice([58, 72, 80])), float(rng.uniform(120, 300))
            margin_mm = rng.uniform(2, 5)
        else:
            w_mm, h_mm = ((210, 297), (216, 279))[int(rng.integers(2))]
            margin_mm = rng.uniform(12, 25)
        w, h = int(w_mm * dpi / 25.4), int(h_mm * dpi / 25.4)
        canvas = Canvas(w, h)
        k = _Ctx(canvas, rng, self.ts, self.book, dpi)
        m = k.mm(margin_mm)
        LAYOUTS[layout](k, (m, m, w - m, h - m))
        lines = canvas.lines
        quads = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]] for x0, y0, x1, y1 in (l.box for l in lines)],
                         np.float32).reshape(-1, 4, 2)
        img, lab = canvas.img, canvas.labels
        angle = 0.0
        scale = float(np.median([l.size for l in lines])) if lines else k.pt(10)
        pw = dict(cfg.profiles)
        if layout != "receipt":
            pw.pop("thermal", None)
        names = list(pw)
        pp = np.array([pw[n] for n in names], float)
        drawn = names[int(rng.choice(len(names), p=pp / pp.sum()))]  # drawn even when given: same stream
        profile = profile or drawn
        scene = False                                   # shot as a phone photo (below)
        if geometry:
            photo = profile == "photo"
            margin = int(rng.uniform(0.01, 0.06 if photo else 0.02) * max(w, h))
            H, ow, oh, angle = _homography(rng, w, h, cfg, margin)
            base = rng.integers(20, 120) if photo else rng.integers(190, 256)  # desk or scanner lid
            border = tuple(int(np.clip(base + d, 0, 255)) for d in rng.integers(-12, 13, 3))
            # a phone photo's scene draws from a stream of its own, so every other page stays as it was
            prng = np.random.default_rng([self.seed, int(index), 2])
            scene = photo and prng.random() < cfg.photo_scene
            if scene:
                H, ow, oh, angle = _photo_homography(prng, w, h, cfg, int(prng.uniform(0.03, 0.2) * max(w, h)))
                img = cv2.warpPerspective(img, H, (ow, oh), dst=background(prng, ow, oh), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_TRANSPARENT)
            else:
                img = cv2.warpPerspective(img, H, (ow, oh), flags=cv2.INTER_LINEAR, borderValue=border)
            if labels:
                lab = cv2.warpPerspective(lab.astype(np.float32), H, (ow, oh), flags=cv2.INTER_NEAREST).astype(np.int32)
            if len(quads):
                quads = cv2.perspectiveTransform(quads.reshape(1, -1, 2), H).reshape(-1, 4, 2)
        profile_name = "none"
        if degrade:
            if rng.random() < cfg.handwriting:
                img = deg.handwriting(img, rng, scale)
            img, profile_name = deg.degrade(img, rng, scale, profile)
        if scene and prng.random() < cfg.photo_small:      # a small photo: lines 6-9 px tall
            s = prng.uniform(400, 800) / max(img.shape[:2])
            if s < 1:
                size = (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s)))
                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                quads = quads * np.array([size[0] / ow, size[1] / oh], np.float32)
                if labels:
                    lab = cv2.resize(lab.astype(np.float32), size, interpolation=cv2.INTER_NEAREST).astype(np.int32)
        oh, ow = img.shape[:2]
        out = []
        for ln, q in zip(lines, quads):
            q = np.clip(q, 0, [ow, oh])
            bx = [int(np.floor(q[:, 0].min())), int(np.floor(q[:, 1].min())),
                  int(np.ceil(q[:, 0].max())), int(np.ceil(q[:, 1].max()))]
            out.append({"box": bx, "quad": [[round(float(x), 1), round(float(y), 1)] for x, y in q],
                        "text": ln.text, "ignore": ln.ignore})
        meta = {"layout": layout, "profile": profile_name, "dpi": dpi, "angle": round(angle, 3),
                "scene": bool(scene),
                "seed": self.seed, "index": int(index)}
        return PageSample(img, out, meta, lab if labels else None)
