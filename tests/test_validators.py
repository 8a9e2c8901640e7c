"""Every export checked by the validators the field uses, not by our own reading of the format:

- hOCR: ``hocr-spec`` (the hOCR 1.2 checker), ``hocr-check`` (hocr-tools), and OCRmyPDF's own hOCR parser
  and renderer (``python -m ocrmypdf.hocrtransform``) read back by ``pdftotext``;
- ALTO: the official ALTO 4.4 XSD (``tests/data/alto``, with the Library of Congress xlink schema it
  imports, resolved from that folder: nothing is fetched);
- PDF: ``pdftotext`` and pypdf give the page text back word for word and in place; ``qpdf --check``;
- TSV: pandas reads it as it reads Tesseract's own TSV of the same page (same columns, same dtypes).

The documents: the four samples as read by the shipped models, the four as one multi-page document, a page
of hostile text (markup, ``&``, control characters) and a Chinese page.
"""
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pipeline
from pipeline.exporters import export
from pipeline.images import load as load_image
from pipeline.result import Block, Line, Page, Word
from test_exporters import _chinese_page as exporters_chinese_page   # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples").glob("*.jpg"))
ALTO_XSD = ROOT / "tests" / "data" / "alto" / "alto-4-4.xsd"
XLINK_XSD = ROOT / "tests" / "data" / "alto" / "xlink.xsd"
BIN = Path(sys.executable).parent
HOSTILE = "<script>alert('x')</script> & \"q\" \x07bell\x1b[0m </span>"


def _tool(name: str) -> str:
    """A validator's command, from this environment's bin folder (the test extra installs them) or PATH."""
    path = BIN / name if (BIN / name).is_file() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: bash scripts/setup.sh --test")
    return str(path)


@pytest.fixture(scope="module")
def read():
    """(pages, images) of the samples, read by the shipped models."""
    ocr = pipeline.load(threads=2)
    images = [load_image(p) for p in SAMPLES]
    return [ocr.read_array(im, str(p.relative_to(ROOT))) for p, im in zip(SAMPLES, images)], images


def _hostile_page() -> Page:
    words = [Word([100, 100, 400, 130], HOSTILE, 0.8), Word([420, 100, 500, 130], "&amp;", 0.7)]
    line = Line([100, 100, 500, 130], HOSTILE + " &amp;", 0.75, block=0, id=0, words=words)
    return Page(800, 600, [line], [Block(0, [100, 100, 500, 130], [0])], "<evil>&.png", 0, 0.0, line.text)


def _chinese_page() -> Page:
    page = exporters_chinese_page()                          # test_exporters' invoice lines, read as zh
    page.lang = "zh"
    return page


def _documents(read) -> dict[str, list[Page]]:
    pages, _ = read
    docs = {p.source: [p] for p in pages}
    docs["multi-page"] = [Page.from_dict({**p.to_dict(), "page": i}) for i, p in enumerate(pages)]
    docs["hostile"], docs["chinese"] = [_hostile_page()], [_chinese_page()]
    return docs


# ---- hOCR ---------------------------------------------------------------------------------------------
# hocr-spec 0.2 predates hOCR 1.2's x_size / x_ascenders / x_descenders (Tesseract writes them, readers use
# them): only that error is left out, by name
KNOWN = re.compile(r"has no attribute '(x_size|x_ascenders|x_descenders)'")


def _hocr_spec_errors(path: Path) -> list[str]:
    out = subprocess.run([_tool("hocr-spec"), str(path)], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln.startswith("[ERROR]") and not KNOWN.search(ln)]


def _quads_overlap(page: Page, limit: float = 0.2) -> bool:
    """Do two of the page's line quads (the rotated rectangles the detector found) overlap by more than
    ``limit`` of the larger one's area: hocr-check's own measure, on the lines as they lie?"""
    from shapely.geometry import Polygon

    polys = [Polygon(ln.quad) for ln in page.lines if ln.quad]
    return any(a.intersection(b).area > limit * max(a.area, b.area)
               for i, a in enumerate(polys) for b in polys[i + 1:])


def test_hocr_spec_and_hocr_check_pass_every_document(read, tmp_path):
    for name, pages in _documents(read).items():
        path = tmp_path / "doc.hocr"
        path.write_bytes(export(pages, "hocr"))
        assert _hocr_spec_errors(path) == [], name
        # hocr-check compares the boxes of every page with every other page's (its XPath is document-wide),
        # so a multi-page document is checked without its overlap heuristics (its pages are checked alone)
        flags = ["--nooverlap"] if len(pages) > 1 else []
        check = subprocess.run([_tool("hocr-check"), *flags, str(path)], capture_output=True, text=True)
        report = check.stdout + check.stderr                   # hocr-check writes its TAP report to stderr
        assert check.returncode == 0 and "ok 1 " in report, (name, report[-500:])
        failed = [ln.split(" - ", 1)[1] for ln in report.splitlines() if ln.startswith("not ok")]
        # Axis-aligned boxes of lines that lean (the letter is skewed 1 degree) overlap where the lines do
        # not: Tesseract 5's hOCR of samples/letter.jpg fails this heuristic too. It is let pass only where
        # the lines' own quads keep clear of each other.
        if failed == ["mostly_nonoverlapping/line"] and len(pages) == 1 and pages[0].angle != 0:
            assert not _quads_overlap(pages[0]), name
        else:
            assert failed == [], name


def test_hocr_spec_catches_a_broken_hocr(tmp_path):
    """The check can fail: lines outside any ``ocr_page`` are errors."""
    raw = export([_hostile_page()], "hocr").decode()
    path = tmp_path / "broken.hocr"
    path.write_text(raw.replace('class="ocr_page"', 'class="ocr_pages"'))
    assert any("must be descendant of exactly one 'ocr_page'" in e for e in _hocr_spec_errors(path))


def test_ocrmypdf_hocr_transform_makes_a_pdf_whose_text_pdftotext_extracts(read, tmp_path):
    pages, images = read
    for page, image, src in zip(pages, images, SAMPLES):
        hocr, pdf = tmp_path / "p.hocr", tmp_path / "p.pdf"
        hocr.write_bytes(export([page], "hocr"))
        subprocess.run([sys.executable, "-m", "ocrmypdf.hocrtransform", "-r", "300", "-i", str(src), str(hocr),
                        str(pdf)], check=True, capture_output=True)
        text = subprocess.run([_tool("pdftotext"), "-raw", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout                          # -raw: in the text layer's order
        assert text.split() == page.text.split(), src.name


# ---- ALTO ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def alto_schema():
    from lxml import etree

    class Local(etree.Resolver):                 # the xlink import names its LoC address: this folder's copy
        def resolve(self, url, public_id, context):
            if url.endswith("/xlink.xsd"):
                return self.resolve_filename(str(XLINK_XSD), context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(Local())
    return etree.XMLSchema(etree.parse(str(ALTO_XSD), parser))


def test_every_alto_we_write_validates_against_the_alto_4_4_schema(read, alto_schema):
    from lxml import etree

    for name, pages in _documents(read).items():
        doc = etree.fromstring(export(pages, "alto"))
        assert alto_schema.validate(doc), (name, str(alto_schema.error_log)[:1000])


def test_a_broken_alto_does_not_validate(read, alto_schema):
    from lxml import etree

    raw = export(read[0][:1], "alto")
    for broken in (raw.replace(b' CONTENT="', b' TEXT="', 1),                      # a String without CONTENT
                   raw.replace(b"<PrintSpace", b"<Margin/><PrintSpace", 1),          # an element ALTO lacks
                   re.sub(rb'WC="[0-9.]+"', b'WC="1.7"', raw, count=1)):             # a confidence above 1
        assert not alto_schema.validate(etree.fromstring(broken))


# ---- PDF ----------------------------------------------------------------------------------------------
def _pdftotext_words(raw: bytes) -> list[tuple[str, float, float, float, float]]:
    """(word, xmin, ymin, xmax, ymax) in points, in the order of the text layer (``-raw -bbox``)."""
    html = subprocess.run([_tool("pdftotext"), "-raw", "-bbox", "-", "-"], input=raw, capture_output=True,
                          check=True).stdout.decode("utf-8")
    import html as h

    pat = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
    return [(h.unescape(m[5]), *map(float, m.groups()[:4])) for m in pat.finditer(html)]


def test_pdf_text_comes_back_word_for_word_and_in_place(read):
    import pypdf

    pages, images = read
    for page, image in zip(pages, images):
        raw = export([page], "pdf", [image])
        words = [w for ln in page.lines for w in ln.words]
        got = _pdftotext_words(raw)
        assert [g[0] for g in got] == [w.text for w in words], page.source
        k = 72.0 / 300                                             # the PDF's points per image pixel
        for (text, x0, y0, x1, y1), w, ln in zip(got, words, (ln for ln in page.lines for _ in ln.words)):
            height = (ln.box[3] - ln.box[1]) * k                   # within a line height of its box
            assert abs(x0 - w.box[0] * k) < height and abs(y0 - w.box[1] * k) < height, (page.source, text)
        extracted = pypdf.PdfReader(io.BytesIO(raw)).pages[0].extract_text()
        assert extracted.split() == page.text.split(), page.source


def test_pdf_passes_qpdf_check(read, tmp_path):
    pages, images = read
    path = tmp_path / "all.pdf"
    path.write_bytes(export(pages, "pdf", images))
    out = subprocess.run([_tool("qpdf"), "--check", str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and "No syntax or stream encoding errors found" in out.stdout, out.stdout[-800:]


# ---- TSV ----------------------------------------------------------------------------------------------
def test_tsv_reads_like_tesseracts_own(read, tmp_path):
    import pandas as pd

    pages, _ = read
    tess = subprocess.run([_tool("tesseract"), str(SAMPLES[0]), "-", "tsv"], capture_output=True, check=True).stdout
    theirs = pd.read_csv(io.BytesIO(tess), sep="\t", quoting=3)
    for name, doc in _documents(read).items():
        ours = pd.read_csv(io.BytesIO(export(doc, "tsv")), sep="\t", quoting=3)
        assert list(ours.columns) == list(theirs.columns), name
        assert ours.dtypes.to_dict() == theirs.dtypes.to_dict(), name
        words = ours[ours.level == 5]
        assert list(words.text.astype(str)) == [" ".join(w.text.split()) for p in doc for ln in p.lines
                                                 for w in (ln.words or [ln])], name
        assert np.all(ours.conf[ours.level < 5] == -1) and words.conf.between(0, 100).all(), name
