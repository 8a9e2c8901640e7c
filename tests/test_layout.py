"""pipeline.layout: reading order, rows, blocks, page text and word boxes on hand-made pages."""
import numpy as np

from pipeline.crop import crop_line
from pipeline.layout import group, layout_text, page_text, reading_order, words

H = 20   # line height of the hand-made pages


def _line(x0, y, length_chars, h=H):
    """A box ``length_chars`` characters long (half a line height each) with its top at ``y``."""
    return [x0, y, x0 + length_chars * h * 0.5, y + h]


def test_two_columns_of_running_text_read_left_column_first():
    # rows aligned across the gutter, as in typeset two-column pages; both sides are long running text
    left = [_line(100, 100 + 30 * k, 40) for k in range(6)]
    right = [_line(600, 100 + 30 * k, 40) for k in range(6)]
    boxes = left + right
    assert reading_order(boxes) == list(range(12))


def test_header_then_two_columns_then_footer():
    boxes = [_line(100, 40, 60)]                                            # 0: title across both columns
    boxes += [_line(100, 120 + 30 * k, 40) for k in range(4)]               # 1-4: left column
    boxes += [_line(600, 135 + 30 * k, 40) for k in range(4)]               # 5-8: right column, rows offset
    boxes += [_line(100, 400, 30)]                                          # 9: footer
    assert reading_order(boxes) == list(range(10))


def test_receipt_items_and_prices_read_row_by_row():
    names = ["NASI LEMAK", "TEH TARIK", "ROTI CANAI", "Total"]
    boxes, texts = [], []
    for k, name in enumerate(names):
        boxes.append(_line(20, 200 + 28 * k, len(name)))
        texts.append(name)
        boxes.append(_line(330, 201 + 28 * k, 4))                            # prices, right-aligned column
        texts.append(["9.00", "2.50", "1.20", "12.70"][k])
    order = reading_order(boxes)
    assert order == list(range(8))
    rows, blocks = group(boxes, order)
    assert rows == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert page_text(texts, rows, blocks).splitlines()[-1] == "Total 12.70"


def test_form_labels_and_values_pair_up():
    boxes = [_line(50, 100, 6), _line(300, 102, 12), _line(50, 140, 8), _line(300, 139, 20)]
    assert reading_order(boxes) == [0, 1, 2, 3]


def test_paragraphs_become_blocks_with_a_blank_line_between():
    boxes = [_line(100, 100, 40), _line(100, 126, 38), _line(100, 200, 40), _line(100, 226, 20)]
    texts = ["first para line one", "first para line two", "second para one", "second para two"]
    order = reading_order(boxes)
    rows, blocks = group(boxes, order)
    assert blocks == [[0, 1], [2, 3]]
    assert page_text(texts, rows, blocks) == ("first para line one\nfirst para line two\n\n"
                                              "second para one\nsecond para two")


def test_lines_touching_through_descenders_still_read_top_to_bottom():
    # tight leading: each box overlaps the next by 3 px, no clean projection gap
    boxes = [_line(100, 100 + 17 * k, 30) for k in range(5)]
    assert reading_order(boxes) == [0, 1, 2, 3, 4]


def test_lines_less_than_a_pixel_tall_do_not_send_the_xy_cut_round_forever():
    # two lines clipped to 0 px at the image's top edge (FUNSD 716552.png): their trimmed spans came out
    # inverted, the widest cut left every line on one side, and the recursion never ended
    boxes = [[276, 0, 301, 0], [241, 0, 396, 0], [276, 160, 316, 170]]
    assert reading_order(boxes) == [1, 0, 2]


def test_empty_page():
    assert reading_order([]) == []
    assert group([], []) == ([], [])
    assert page_text([], [], []) == ""


def test_layout_text_keeps_columns():
    boxes = [_line(0, 0, 10), _line(200, 0, 4), _line(0, 30, 6), _line(200, 30, 4)]
    texts = ["Coffee x 2", "6.00", "Muffin", "3.50"]
    rows, _ = group(boxes, reading_order(boxes))
    lines = layout_text(boxes, texts, rows).splitlines()
    # character width = 10 px (the boxes are half a line height per character), so x=200 is column 20
    assert lines == ["Coffee x 2          6.00", "Muffin              3.50"]


def test_word_boxes_come_back_on_the_page():
    page = np.full((200, 1000), 255, np.uint8)
    quad = [[100, 50], [700, 50], [700, 80], [100, 80]]                     # a 30-px line, 600 px long
    crop = crop_line(page, quad)
    text = "ab cd"
    # characters at page x 150, 200 | 400, 450: put them where the strip shows those page columns
    page_x = [150, 200, 300, 400, 450]
    char_x = [float(crop.to_strip([[x, 65]])[0, 0]) for x in page_x]
    ws = words(text, char_x, [0.9, 0.8, 0.99, 0.7, 0.95], crop)
    assert [w.text for w in ws] == ["ab", "cd"]
    assert [w.confidence for w in ws] == [0.8, 0.7]
    (a0, ay0, a1, ay1), (b0, _, b1, _) = ws[0].box, ws[1].box
    # pitch = median spacing of the visible characters (50, 200, 50 page px) = 50 -> half a pitch either side
    assert abs(a0 - 125) < 1.5 and abs(a1 - 225) < 1.5
    assert abs(b0 - 375) < 1.5 and abs(b1 - 475) < 1.5
    # the box spans the strip's height: the line plus its padding (0.15 x 30 px above and below)
    assert abs(ay0 - 45.5) < 1.0 and abs(ay1 - 84.5) < 1.0


def test_chinese_runs_and_latin_or_digit_tokens_are_words_of_their_own():
    crop = crop_line(np.full((100, 700), 255, np.uint8), [[100, 50], [620, 50], [620, 80], [100, 80]])
    text = "发票号码：05467891 iPhone手机壳"
    char_x = [float(crop.to_strip([[110 + 20 * k, 65]])[0, 0]) for k in range(len(text))]
    ws = words(text, char_x, [0.9] * len(text), crop)
    assert [w.text for w in ws] == ["发票号码：", "05467891", "iPhone", "手机壳"]   # no space invented
    assert all(a.box[2] <= b.box[0] + 1e-6 for a, b in zip(ws, ws[1:]))             # boxes in order, apart


def test_words_of_an_empty_reading():
    crop = crop_line(np.zeros((50, 50), np.uint8), [[0, 0], [40, 0], [40, 10], [0, 10]])
    assert words("", [], [], crop) == []


def test_assemble_orders_lines_and_maps_words_to_the_page():
    from types import SimpleNamespace as NS

    from pipeline.layout import assemble

    page = np.full((300, 800), 255, np.uint8)
    quads = [np.array([[100, 200], [500, 200], [500, 230], [100, 230]], float),     # lower line, found first
             np.array([[100, 100], [600, 100], [600, 130], [100, 130]], float),
             np.array([[650, 100], [700, 100], [700, 130], [650, 130]], float)]     # read as blank
    strips = [crop_line(page, q) for q in quads]

    def read(text, crop, xs):
        cx = [float(crop.to_strip([[x, 0]])[0, 0]) for x in xs]
        return NS(text=text, confidence=0.9, char_x=cx, char_conf=[0.9] * len(text), rotation=0)

    reads = [read("Total 9", strips[0], [110, 130, 150, 170, 190, 230, 250]),
             read("Hi", strips[1], [120, 140]),
             read(" ", strips[2], [660])]
    p = assemble(page.shape, quads, quads, strips, reads, source="x.png")
    assert [ln.text for ln in p.lines] == ["Hi", "Total 9"]
    assert [ln.id for ln in p.lines] == [0, 1]
    assert p.lines[1].quad == quads[0].tolist()
    assert [w.text for w in p.lines[1].words] == ["Total", "9"]
    assert p.lines[1].words[0].box[0] < 110 < p.lines[1].words[0].box[2] < 230
    assert p.text == "Hi\n\nTotal 9" and len(p.blocks) == 2 and p.blocks[1].lines == [1]
    assert (p.width, p.height, p.source) == (800, 300, "x.png")
    assert type(p).from_dict(p.to_dict()).to_dict() == p.to_dict()


def test_assemble_leaves_off_lines_read_below_the_confidence_floor():
    from types import SimpleNamespace as NS

    import pytest

    from pipeline.layout import LayoutConfig, assemble

    page = np.full((300, 800), 255, np.uint8)
    quads = [np.array([[100, 40], [500, 40], [500, 70], [100, 70]], float),
             np.array([[100, 100], [500, 100], [500, 130], [100, 130]], float),    # a rule read as garbage
             np.array([[100, 160], [500, 160], [500, 190], [100, 190]], float)]
    strips = [crop_line(page, q) for q in quads]

    def read(text, conf):
        return NS(text=text, confidence=conf, char_x=[4.0 * i for i in range(len(text))],
                  char_conf=[conf] * len(text), rotation=0)

    reads = [read("Invoice", 0.97), read("MAMMAAM", 0.31), read("Total", 0.5)]
    p = assemble(page.shape, quads, quads, strips, reads)
    assert LayoutConfig().min_confidence == 0.5                 # the default: PaddleOCR's drop_score too
    assert [ln.text for ln in p.lines] == ["Invoice", "Total"]  # 0.5 itself is kept
    assert [ln.id for ln in p.lines] == [0, 1] and "MAMM" not in p.text
    everything = assemble(page.shape, quads, quads, strips, reads, LayoutConfig(min_confidence=0.0))
    assert [ln.text for ln in everything.lines] == ["Invoice", "MAMMAAM", "Total"]
    with pytest.raises(ValueError, match="min_confidence"):
        LayoutConfig(min_confidence=1.5)


def test_a_lone_box_needs_a_sure_letter_or_digit_and_a_lone_stroke_hanzi_is_none():
    from types import SimpleNamespace as NS

    from pipeline.layout import assemble

    # four one-box lines (30 px wide, 30 px tall: under 1.5 heights) and one long line, all read surely
    page = np.full((400, 800), 255, np.uint8)
    quads = [np.array([[x, y], [x + w, y], [x + w, y + 30], [x, y + 30]], float)
             for x, y, w in ((700, 20, 30), (700, 80, 30), (700, 140, 30), (700, 200, 30), (100, 260, 400))]
    strips = [crop_line(page, q) for q in quads]
    texts = ["8", "一", "-", "8", "第一章 一二三"]
    confs = [0.95, 0.99, 0.99, 0.8, 0.95]
    reads = [NS(text=t, confidence=c, char_x=[4.0 * i for i in range(len(t))], char_conf=[c] * len(t), rotation=0)
             for t, c in zip(texts, confs)]
    p = assemble(page.shape, quads, quads, strips, reads)
    # a sure lone digit stays; 一 alone is a rule's end drawn like a dash (a receipt's dashed rule read so),
    # as is "-"; an unsure lone digit goes; 一 within a line is a character like any other
    assert [ln.text for ln in p.lines] == ["8", "第一章 一二三"]
