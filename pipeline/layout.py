"""Page assembly: words from character positions, reading order, rows, blocks and page text.

Everything here is pure numpy on boxes ``(N, 4)`` = ``[x0, y0, x1, y1]`` in page pixels of an upright
page (the pipeline straightens the page before detection).

Reading order (:func:`reading_order`) is a recursive XY-cut: a region is split at the widest whitespace
gap of its lines' projections, across (top / bottom) or down (left / right), and each part is read in
turn. A split down the page is taken only when it separates *columns*; it is refused when the two sides
pair up row by row (a receipt's item names and prices, a form's labels and values, a table): such a
region is read row by row, left to right, so ``Total ....... 9.00`` reads as one line and a two-column
letter reads its left column before its right. Sides count as columns when fewer than
``table_rows`` of the lines of the smaller side have a partner on the same row on the other side, or
when both sides hold long lines (median length of ``column_chars`` line heights or more: running text).

Rows and blocks (:func:`group`): consecutive lines in reading order that share a row are one row (joined
by a space in the page text); consecutive rows no more than ``block_gap`` line heights apart that overlap
horizontally form a block; the page text puts a blank line between blocks.

Words (:func:`words`): the recognizer gives, for each character, the x of its strip column; a word runs
from half a character pitch before its first character to half a pitch after its last, trimmed to the
strip's inked columns, across the strip's full height, and is mapped back to the page through the crop's
own transform.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.crop import LineCrop
from pipeline.result import Block, Line, Page, Word
from recognition.charset import is_cjk

__all__ = ["LayoutConfig", "reading_order", "group", "page_text", "layout_text", "page_layout_text", "words", "assemble"]


LONE = 1.5  # a line shorter than this many of its heights is one detector box: a character or two
RULE_SHAPED = frozenset("一丨")  # hanzi drawn as one straight stroke: alone, a dash or a piece of a rule


@dataclass(frozen=True)
class LayoutConfig:
    column_gap: float = 1.0     # narrowest gap (line heights) that may separate two columns
    table_rows: float = 0.5     # sides pairing up row by row at least this often are a table, not columns
    column_chars: float = 12.0  # median line length (line heights) from which both sides count as running text
    row_overlap: float = 0.5    # vertical overlap (of the smaller line) for two lines to share a row
    block_gap: float = 1.0      # largest vertical gap (line heights) between rows of one block
    trim: float = 0.2           # share of each line's height ignored at top and bottom in projections
                                # (ascenders and descenders of tight leading touch the next line)
    min_confidence: float = 0.5  # lines read less confidently are left off the page: nearly all are
                                # rules, stamps, logos and scanner edges the detector took for text
    lone_confidence: float = 0.9  # a line less than 1.5 heights long (a lone digit, a tick, a tax code: one
                                # detector box) is kept only when read this confidently and holding a letter
                                # or digit: lone dots, dashes and colons are mostly specks and rule ends
                                # (min_confidence 0 keeps every line, these too)

    def __post_init__(self):
        for name in ("min_confidence", "lone_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0 and 1, got {getattr(self, name)}")


def _heights(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)


def _gaps(lo: np.ndarray, hi: np.ndarray) -> list[tuple[float, float]]:
    """Whitespace gaps ``(width, position)`` in the union of intervals ``[lo, hi]``."""
    order = np.argsort(lo, kind="stable")
    out, reach = [], hi[order[0]]
    for i in order[1:]:
        if lo[i] > reach:
            out.append((float(lo[i] - reach), float((lo[i] + reach) / 2)))
        reach = max(reach, hi[i])
    return out


def _same_row(a: np.ndarray, b: np.ndarray, overlap: float) -> bool:
    inter = min(a[3], b[3]) - max(a[1], b[1])
    return inter >= overlap * min(a[3] - a[1], b[3] - b[1])


def _is_table(boxes: np.ndarray, left: np.ndarray, right: np.ndarray, cfg: LayoutConfig) -> bool:
    """Do the two sides of a vertical split pair up row by row (and not hold running text on both)?"""
    h = _heights(boxes)
    runs = [float(np.median((boxes[s, 2] - boxes[s, 0]) / h[s])) for s in (left, right)]
    if min(runs) >= cfg.column_chars:
        return False
    small, big = (left, right) if len(left) <= len(right) else (right, left)
    paired = sum(any(_same_row(boxes[i], boxes[j], cfg.row_overlap) for j in big) for i in small)
    return paired >= cfg.table_rows * len(small)


def reading_order(boxes, cfg: LayoutConfig = LayoutConfig()) -> list[int]:
    """Indices of ``boxes`` in reading order (see the module docstring)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return []
    h = _heights(boxes)
    unit = float(np.median(h))
    trimmed = boxes.copy()
    trimmed[:, 1] += cfg.trim * h
    trimmed[:, 3] -= cfg.trim * h
    mid = (boxes[:, 1] + boxes[:, 3]) / 2       # a box under 1 px tall (a line clipped at the image edge)
    trimmed[:, 1] = np.minimum(trimmed[:, 1], mid)  # would come out inverted: it keeps its centre
    trimmed[:, 3] = np.maximum(trimmed[:, 3], mid)
    return _xy(np.arange(len(boxes)), boxes, trimmed, unit, cfg)


def _xy(ids: np.ndarray, boxes: np.ndarray, trimmed: np.ndarray, unit: float, cfg: LayoutConfig) -> list[int]:
    if len(ids) <= 1:
        return [int(i) for i in ids]
    b, t = boxes[ids], trimmed[ids]
    cuts = []                                                        # (width, axis, position)
    for width, pos in _gaps(b[:, 0], b[:, 2]):
        if width >= cfg.column_gap * unit:
            left, right = ids[b[:, 2] <= pos], ids[b[:, 0] > pos]
            if not _is_table(boxes, left, right, cfg):
                cuts.append((width, 0, pos))
    cuts += [(width, 1, pos) for width, pos in _gaps(t[:, 1], t[:, 3])]
    for _, axis, pos in sorted(cuts, reverse=True):                  # the widest cut that splits the lines
        lo = (b[:, 2] <= pos) if axis == 0 else (t[:, 3] <= pos)
        if lo.any() and not lo.all():                                # (one that does not would recurse forever)
            return _xy(ids[lo], boxes, trimmed, unit, cfg) + _xy(ids[~lo], boxes, trimmed, unit, cfg)
    centre = (b[:, 1] + b[:, 3]) / 2                                # one row (or a tangle): left to right,
    return [int(ids[i]) for i in _row_sort(b, centre, cfg)]         # top to bottom where they do not overlap


def _row_sort(b: np.ndarray, centre: np.ndarray, cfg: LayoutConfig) -> list[int]:
    """Lines with no clean cut between them: chain them into rows top to bottom, each row left to right."""
    order = list(np.argsort(centre, kind="stable"))
    rows: list[list[int]] = []
    for i in order:
        if rows and any(_same_row(b[i], b[j], cfg.row_overlap) for j in rows[-1]):
            rows[-1].append(int(i))
        else:
            rows.append([int(i)])
    return [i for row in rows for i in sorted(row, key=lambda k: b[k, 0])]


def group(boxes, order: list[int], cfg: LayoutConfig = LayoutConfig()) -> tuple[list[list[int]], list[list[int]]]:
    """``(rows, blocks)``: rows as lists of line indices (in reading order), blocks as lists of row indices."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    rows: list[list[int]] = []
    for i in order:
        if rows and _same_row(boxes[rows[-1][-1]], boxes[i], cfg.row_overlap) and boxes[i, 0] >= boxes[rows[-1][-1], 0]:
            rows[-1].append(i)
        else:
            rows.append([i])
    blocks: list[list[int]] = []
    prev = None                                                       # box of the previous row
    for r, row in enumerate(rows):
        rb = np.concatenate([boxes[row, :2].min(0), boxes[row, 2:].max(0)])
        h = float(np.median(_heights(boxes[row])))
        if prev is not None:
            gap = rb[1] - prev[3]
            x_overlap = min(rb[2], prev[2]) - max(rb[0], prev[0])
            if -0.5 * h <= gap <= cfg.block_gap * h and x_overlap > 0:
                blocks[-1].append(r)
                prev = rb
                continue
        blocks.append([r])
        prev = rb
    return rows, blocks


def page_text(texts: list[str], rows: list[list[int]], blocks: list[list[int]]) -> str:
    """Rows one per line (their lines joined by a space), a blank line between blocks."""
    paras = ["\n".join(" ".join(t for t in (texts[i] for i in rows[r]) if t) for r in blk) for blk in blocks]
    return "\n\n".join(p for p in paras if p.strip())


def layout_text(boxes, texts: list[str], rows: list[list[int]]) -> str:
    """Text that keeps horizontal positions (like ``pdftotext -layout``): one text row per row, each line
    starting at the column of its left edge (a column is the page's median character width), blank
    lines where rows are far apart."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    widths = [(boxes[i, 2] - boxes[i, 0]) / len(texts[i]) for i in range(len(texts)) if texts[i]]
    if not widths:
        return ""
    cw = max(float(np.median(widths)), 1.0)
    x0 = min(boxes[i, 0] for row in rows for i in row)
    heights = _heights(boxes)
    unit = float(np.median(heights))
    out, last_bottom = [], None
    for row in sorted(rows, key=lambda r: float(np.mean([(boxes[i, 1] + boxes[i, 3]) / 2 for i in r]))):
        top = float(np.min(boxes[row, 1]))
        if last_bottom is not None:
            out += [""] * min(3, int((top - last_bottom) / (1.5 * unit)))
        s = ""
        for i in sorted(row, key=lambda k: boxes[k, 0]):
            if not texts[i]:
                continue
            col = int(round((boxes[i, 0] - x0) / cw))
            s += " " * max(col - len(s), 1 if s else 0) + texts[i]
        out.append(s.rstrip())
        last_bottom = float(np.max(boxes[row, 3]))
    return "\n".join(out)


def page_layout_text(page: Page, cfg: LayoutConfig = LayoutConfig()) -> str:
    """:func:`layout_text` of a finished :class:`Page` (rows rebuilt from its lines in reading order)."""
    boxes = np.array([ln.box for ln in page.lines], np.float64).reshape(-1, 4)
    rows, _ = group(boxes, list(range(len(page.lines))), cfg)
    return layout_text(boxes, [ln.text for ln in page.lines], rows)


def _ink_columns(strip: np.ndarray) -> np.ndarray | None:
    """Which columns of a gray line strip hold ink (bool per column), from an Otsu threshold on the rows of
    the line itself (not the padding above and below, where a neighbour's descenders may show); None when
    the strip has too little contrast to tell, or when most of it is dark and no darker text stands out of
    that (bold blurred print, light text on a dark ground). Dark text on a shaded ground (a form's label
    boxes) counts as ink; horizontal rules (a form's field lines, underlines: dark runs longer than two line
    heights) do not."""
    h = strip.shape[0]
    body = np.ascontiguousarray(strip[int(0.15 * h):max(int(0.15 * h) + 1, int(0.85 * h))])
    if int(body.max()) - int(body.min()) < 40:
        return None
    _, dark = cv2.threshold(body, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if dark.mean() > 0.5:                     # mostly "dark": text on a shaded ground, or light text on a dark one
        values = body[dark > 0].reshape(-1, 1)
        t, _ = cv2.threshold(values, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        lower, upper = values[values <= t], values[values > t]
        if len(lower) and len(upper) and float(upper.mean()) - float(lower.mean()) >= 40:
            dark = (body <= t).astype(np.uint8)             # dark text on the shaded ground
        else:
            return None                                     # bold, blurred or light text: cannot tell
    rules = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, 2 * h), np.uint8))   # a form's rules, underlines
    return (dark & (1 - rules)).sum(0) >= max(1, int(0.05 * body.shape[0]))


def _hug(ink: np.ndarray | None, a: float, b: float) -> tuple[float, float]:
    """The strip span ``[a, b]`` trimmed to its inked columns (unchanged when none of them is inked)."""
    if ink is None:
        return a, b
    cols = np.arange(max(0, int(np.ceil(a))), min(len(ink) - 1, int(np.floor(b))) + 1)
    inked = cols[ink[cols]] if len(cols) else cols
    if not len(inked):
        return a, b
    return max(a, inked[0] - 0.5), min(b, inked[-1] + 0.5)


def _widest_blank(ink: np.ndarray | None, x0: float, x1: float) -> tuple[float, float] | None:
    """The widest run of blank columns strictly between strip positions ``x0`` and ``x1`` (the last
    character of a word and the first of the next), as strip x of its two edges; None without one."""
    if ink is None:
        return None
    cols = np.arange(max(0, int(np.floor(x0)) + 1), min(len(ink), int(np.ceil(x1))))
    if not len(cols):
        return None
    blank = ~ink[cols]
    best, run = None, None
    for c, b in zip(cols, blank):
        if b:
            run = (run[0], c) if run else (c, c)
            if best is None or run[1] - run[0] > best[1] - best[0]:
                best = run
        else:
            run = None
    return None if best is None else (best[0] - 0.5, best[1] + 0.5)


def words(text: str, char_x: list[float], char_conf: list[float], crop: LineCrop, quad=None) -> list[Word]:
    """Words of one line with boxes in page pixels, from the recognizer's per-character strip positions.
    Words end at spaces and where Chinese script meets Latin letters or digits: Chinese is written without
    spaces, so each run of Chinese characters (with its CJK punctuation) is one word, and each Latin or
    digit token another (``发票号码：05467891`` is two). With the line's ``quad``, word boxes stop at its
    ends (not in the strip's padding) unless a character was read out there. A box spans half a character
    pitch either side of its first and last characters' positions, trimmed to the strip's ink, so that it
    hugs the word as Tesseract's do: words that touch would read as one in a PDF text layer (pdftotext
    tells words apart by the gap between them)."""
    xs = np.asarray(char_x, np.float64)
    if not text or len(xs) != len(text):
        return []
    strip_h, strip_w = crop.image.shape[:2]
    lo, hi = -0.5, strip_w - 0.5
    if quad is not None:
        ends = crop.to_strip(quad)[:, 0]
        lo, hi = max(lo, float(ends.min())), min(hi, float(ends.max()))
    visible = [i for i, ch in enumerate(text) if not ch.isspace()]
    ink = _ink_columns(crop.image)
    pitch = float(np.median(np.diff(xs[visible]))) if len(visible) > 1 else 0.5 * strip_h
    pitch = float(np.clip(pitch, 0.2 * strip_h, 1.5 * strip_h))
    spans, i = [], 0                                       # (first, last) character of each word
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j + 1 < len(text) and not text[j + 1].isspace() and is_cjk(text[j + 1]) == is_cjk(text[i]):
            j += 1
        spans.append((i, j))
        i = j + 1
    ends = [[max(xs[i] - pitch / 2, min(lo, xs[i])), min(xs[j] + pitch / 2, max(hi, xs[j]))] for i, j in spans]
    for k in range(len(spans) - 1):                        # words apart: each stops at the blank between them
        gap = _widest_blank(ink, xs[spans[k][1]], xs[spans[k + 1][0]])
        if gap is not None:
            ends[k][1], ends[k + 1][0] = min(ends[k][1], gap[0]), max(ends[k + 1][0], gap[1])
        if text[spans[k][1] + 1].isspace():                # and at least a space apart (half a pitch)
            mid = (ends[k][1] + ends[k + 1][0]) / 2
            ends[k][1] = max(xs[spans[k][1]], min(ends[k][1], mid - pitch / 4))      # never past a character's
            ends[k + 1][0] = min(xs[spans[k + 1][0]], max(ends[k + 1][0], mid + pitch / 4))  # own position
    out = []
    for (i, j), (a, b) in zip(spans, ends):
        a, b = _hug(ink, a, b)
        corners = crop.to_page([[a, -0.5], [b, -0.5], [b, strip_h - 0.5], [a, strip_h - 0.5]])
        box = [*corners.min(0), *corners.max(0)]
        out.append(Word([float(v) for v in box], text[i:j + 1], float(min(char_conf[i:j + 1]))))
    return out


def assemble(shape: tuple[int, int], quads: list, quads_up: list, strips: list[LineCrop], reads: list,
             cfg: LayoutConfig = LayoutConfig(), source: str | None = None, page: int = 0, angle: float = 0.0) -> Page:
    """The :class:`Page` of one image of ``shape`` (H, W). ``quads[i]`` is a line in the image's pixels,
    ``quads_up[i]`` the same line on the upright page (reading order is decided there), ``strips[i]`` its
    crop and ``reads[i]`` the recognizer's reading. Lines read as empty or with a confidence below
    ``cfg.min_confidence`` are dropped, and lone ones (less than ``LONE`` of their heights long on the
    upright page) below ``cfg.lone_confidence`` or without a letter or digit (:data:`RULE_SHAPED` hanzi,
    one straight stroke, count as none: alone they are dashes and rule ends); the rest get ids in reading
    order, words, rows and blocks; boxes are in the image's pixels."""
    def kept(i: int) -> bool:
        r = reads[i]
        if not r.text.strip() or r.confidence < cfg.min_confidence:
            return False
        (x0, y0), (x1, y1) = np.min(quads_up[i], 0), np.max(quads_up[i], 0)
        lone = x1 - x0 < LONE * (y1 - y0) and cfg.min_confidence > 0     # min_confidence 0 keeps every line
        return not lone or (r.confidence >= cfg.lone_confidence
                            and any(c.isalnum() and c not in RULE_SHAPED for c in r.text))

    keep = [i for i in range(len(reads)) if kept(i)]
    q_page = [np.asarray(quads[i], np.float64) for i in keep]
    boxes = np.array([[*q.min(0), *q.max(0)] for q in q_page], np.float64).reshape(-1, 4)
    up = np.array([[*np.min(quads_up[i], 0), *np.max(quads_up[i], 0)] for i in keep], np.float64).reshape(-1, 4)
    order = reading_order(up, cfg)
    rows, blocks = group(up, order, cfg)
    texts = [reads[i].text.strip() for i in keep]
    block_of = {i: b for b, blk in enumerate(blocks) for r in blk for i in rows[r]}
    new_id = {old: k for k, old in enumerate(i for row in rows for i in row)}
    lines = []
    for k in sorted(new_id, key=new_id.get):
        r = reads[keep[k]]
        if r.rotation:                       # read turned: character positions run along the other axis
            ws = [Word(boxes[k].tolist(), t, float(r.confidence)) for t in r.text.split()]
        else:
            ws = words(r.text, r.char_x, r.char_conf, strips[keep[k]], q_page[k])
        lines.append(Line(boxes[k].tolist(), texts[k], float(r.confidence), q_page[k].tolist(), ws,
                          block_of[k], new_id[k]))
    out_blocks = []
    for b, blk in enumerate(blocks):
        members = [i for r in blk for i in rows[r]]
        bb = boxes[members]
        out_blocks.append(Block(b, [*bb[:, :2].min(0).tolist(), *bb[:, 2:].max(0).tolist()],
                                sorted(new_id[i] for i in members)))
    rows_new = [[new_id[i] for i in row] for row in rows]
    text = page_text([ln.text for ln in lines], rows_new, blocks)
    return Page(int(shape[1]), int(shape[0]), lines, out_blocks, source, page, float(angle), text)
