"""pipeline.exporters and pipeline.pdf: every format parses back, escapes text and keeps the geometry."""
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.exporters import export, format_of
from pipeline.result import Block, Line, Page, Word

NASTY = "<script>alert('x')</script> & \"q\""


def _page(source="scan 1.png", page=0) -> Page:
    l0 = Line([100, 100, 500, 130], "Hello & world", 0.9, block=0, id=0,
              words=[Word([100, 100, 200, 130], "Hello", 0.91), Word([210, 100, 230, 130], "&", 0.5),
                     Word([400, 100, 500, 130], "world", 0.99)])
    l1 = Line([100, 200, 420, 230], NASTY, 0.8, block=1, id=1,
              words=[Word([100, 200, 420, 230], NASTY, 0.8)])
    l2 = Line([100, 240, 300, 270], "Total 9.00 €", 0.7, block=1, id=2)       # no words: line-level only
    blocks = [Block(0, [100, 100, 500, 130], [0]), Block(1, [100, 200, 420, 270], [1, 2])]
    return Page(800, 600, [l0, l1, l2], blocks, source, page, 0.0, "Hello & world\n\n" + NASTY + "\nTotal 9.00 €")


def test_format_of_suffixes():
    assert [format_of(f"a{s}") for s in (".txt", ".json", ".hocr", ".html", ".xml", ".tsv", ".PDF")] == \
        ["txt", "json", "hocr", "hocr", "alto", "tsv", "pdf"]
    with pytest.raises(ValueError, match="unknown output suffix '.docx'"):
        format_of("a.docx")
    with pytest.raises(ValueError, match="unknown format"):
        export([_page()], "docx")


def test_txt_separates_pages_with_a_form_feed():
    out = export([_page(), _page(page=1)], "txt").decode()
    assert out == _page().text + "\f" + _page().text + "\n"


def test_json_round_trips_one_page_and_lists_several():
    one = json.loads(export([_page()], "json"))
    assert one["schema"] == "ocr-page/1" and Page.from_dict(one).to_dict() == _page().to_dict()
    two = json.loads(export([_page(), _page(page=1)], "json"))
    assert isinstance(two, list) and [d["page"] for d in two] == [0, 1]


def test_hocr_is_well_formed_xhtml_with_escaped_words():
    raw = export([_page()], "hocr")
    assert b"<script>" not in raw and b"&amp;" in raw
    root = ET.fromstring(raw)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    assert root.find(".//h:div[@class='ocr_page']", ns).get("title") == 'image "scan 1.png"; bbox 0 0 800 600; ppageno 0'
    assert len(root.findall(".//h:div[@class='ocr_carea']", ns)) == 2
    assert len(root.findall(".//h:p[@class='ocr_par']", ns)) == 2
    lines = root.findall(".//h:span[@class='ocr_line']", ns)
    assert [ln.get("title") for ln in lines][0] == "bbox 100 100 500 130; x_size 30"
    words = root.findall(".//h:span[@class='ocrx_word']", ns)
    assert [w.text for w in words] == ["Hello", "&", "world", NASTY]
    assert words[0].get("title") == "bbox 100 100 200 130; x_wconf 91"
    assert "".join(lines[2].itertext()).strip() == "Total 9.00 €"         # a line without words keeps its text


def test_alto_v4_strings_and_spaces():
    raw = export([_page()], "alto")
    root = ET.fromstring(raw)
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    page = root.find(".//a:Page", ns)
    assert (page.get("WIDTH"), page.get("HEIGHT")) == ("800", "600")
    assert len(root.findall(".//a:TextBlock", ns)) == 2
    strings = root.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings] == ["Hello", "&", "world", NASTY, "Total 9.00 €"]
    s0 = strings[0]
    assert (s0.get("HPOS"), s0.get("VPOS"), s0.get("WIDTH"), s0.get("HEIGHT"), s0.get("WC")) == ("100", "100", "100", "30", "0.91")
    sp = root.findall(".//a:TextLine", ns)[0].findall("a:SP", ns)
    assert [(s.get("HPOS"), s.get("WIDTH")) for s in sp] == [("200", "10"), ("230", "170")]


def test_tsv_has_tesseract_columns():
    rows = [r.split("\t") for r in export([_page()], "tsv").decode().splitlines()]
    assert rows[0] == ["level", "page_num", "block_num", "par_num", "line_num", "word_num",
                       "left", "top", "width", "height", "conf", "text"]
    assert all(len(r) == 12 for r in rows)
    words = [r for r in rows[1:] if r[0] == "5"]
    assert [w[11] for w in words] == ["Hello", "&", "world", NASTY, "Total 9.00 €"]
    assert words[0][6:11] == ["100", "100", "100", "30", "91.00"]
    assert [r[0] for r in rows[1:5]] == ["1", "2", "3", "4"]
    assert [w[4] for w in words] == ["1", "1", "1", "1", "2"]              # line numbers within their block


def test_searchable_pdf_text_comes_back_in_place():
    import pypdf

    img = np.full((600, 800, 3), 255, np.uint8)
    raw = export([_page(), _page(page=1)], "pdf", [img, img])
    reader = pypdf.PdfReader(io.BytesIO(raw))
    assert len(reader.pages) == 2
    assert [float(v) for v in reader.pages[0].mediabox] == [0, 0, 800 * 72 / 300, 600 * 72 / 300]
    text = reader.pages[0].extract_text()
    assert "Hello & world" in text and NASTY in text and "Total 9.00 €" in text
    at = {}

    def visit(t, cm, tm, font, size):
        if t.strip():
            at.setdefault(t.strip(), tm[4])

    reader.pages[0].extract_text(visitor_text=visit)
    assert abs(at["world"] - 400 * 72 / 300) < 0.5                          # x of its word box, in points
    assert abs(at["Hello"] - 100 * 72 / 300) < 0.5
    with pytest.raises(ValueError, match="page image"):
        export([_page()], "pdf")


def test_the_pdf_font_file_is_shared_and_outlives_a_killed_process(tmp_path):
    """Processes that end without running atexit (ocr-batch's workers on Ctrl-C) used to leave one
    randomly named font file each in the temporary folder; now every process uses the one file."""
    code = ("import os; from pipeline.pdf import glyphless_font; "
            "print(glyphless_font().name, flush=True); os._exit(130)")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    names = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            check=False).stdout.strip() for _ in range(2)]
    assert names[0] == names[1] and names[0].startswith("ocr-glyphless-")
    assert sorted(p.name for p in tmp_path.iterdir()) == [names[0]]
    (tmp_path / names[0]).write_bytes(b"not a font")                        # a stale or foreign file is remade
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False)
    assert (tmp_path / names[0]).read_bytes()[:4] == b"\x00\x01\x00\x00"      # a TrueType header again
    assert len(list(tmp_path.iterdir())) == 1


XML_OK = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=80, deadline=None)
@given(text=XML_OK)
def test_any_text_survives_json_and_stays_well_formed_xml(text):
    p = Page(100, 50, [Line([1, 2, 90, 20], text, 0.5, words=[Word([1, 2, 90, 20], text, 0.5)])], text=text)
    assert Page.from_dict(json.loads(export([p], "json"))).lines[0].text == text
    for fmt in ("hocr", "alto"):
        ET.fromstring(export([p], fmt))                                      # parses: escaped and legal
    rows = export([p], "tsv").decode().split("\n")
    assert all(len(r.split("\t")) == 12 for r in rows if r)


def _chinese_page() -> Page:
    words = [Word([100, 100, 260, 140], "发票号码：", 0.95), Word([260, 100, 420, 140], "05467891", 0.97),
             Word([100, 160, 200, 200], "合计", 0.9), Word([210, 160, 380, 200], "￥1,234.50", 0.93)]
    lines = [Line([100, 100, 420, 140], "发票号码：05467891", 0.96, block=0, id=0, words=words[:2]),
             Line([100, 160, 380, 200], "合计 ￥1,234.50", 0.91, block=0, id=1, words=words[2:])]
    return Page(800, 600, lines, [Block(0, [100, 100, 420, 200], [0, 1])], "票.png", 0, 0.0,
                "发票号码：05467891\n合计 ￥1,234.50")


def test_chinese_words_come_back_from_hocr_alto_tsv_and_the_pdf():
    import shutil

    import pypdf

    page = _chinese_page()
    want = [w.text for ln in page.lines for w in ln.words]
    hocr = ET.fromstring(export([page], "hocr"))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    assert [w.text for w in hocr.findall(".//h:span[@class='ocrx_word']", ns)] == want
    alto = ET.fromstring(export([page], "alto"))
    assert [s.get("CONTENT") for s in alto.findall(".//{http://www.loc.gov/standards/alto/ns-v4#}String")] == want
    tsv = [r.split("\t") for r in export([page], "tsv").decode("utf-8").splitlines()]
    assert [r[11] for r in tsv if r[0] == "5"] == want
    raw = export([page], "pdf", [np.full((600, 800, 3), 255, np.uint8)])
    text = pypdf.PdfReader(io.BytesIO(raw)).pages[0].extract_text()
    assert "发票号码：05467891" in text and "合计" in text and "?" not in text
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: bash scripts/setup.sh --test")
    out = subprocess.run(["pdftotext", "-", "-"], input=raw, capture_output=True, check=True).stdout.decode("utf-8")
    assert "发票号码：05467891" in out and "合计 ￥1,234.50" in out                # no space invented
