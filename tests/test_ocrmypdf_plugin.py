"""The OCRmyPDF engine plugin, run by the real ``ocrmypdf`` (the ``ocrmypdf`` extra installs it and
registers the plugin through its entry point) on scanned PDFs built from the samples."""
import collections
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import pipeline
from pipeline.images import load as load_image

pytest.importorskip("ocrmypdf", reason="the ocrmypdf extra is not installed: bash scripts/setup.sh --test")
from pipeline.integrations import ocrmypdf_plugin as plugin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("letter", "receipt", "form")
OCRMYPDF = Path(sys.executable).parent / "ocrmypdf"


def _scan_pdf(images, path: Path) -> Path:
    """A scanned PDF of ``images`` (PIL images) at 300 dpi, as a scanner writes one (img2pdf: OCRmyPDF's)."""
    import img2pdf

    files = []
    for k, im in enumerate(images):
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=90, dpi=(300, 300))
        files.append(buf.getvalue())
    path.write_bytes(img2pdf.convert(files))
    return path


def _ocrmypdf(*args, check=True):
    out = subprocess.run([str(OCRMYPDF), *map(str, args)], capture_output=True, text=True)
    if check and out.returncode != 0:
        pytest.fail(f"ocrmypdf {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return out


def _pdftotext(path: Path, page: int) -> list[str]:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"], capture_output=True,
                          text=True, check=True).stdout.split()


def _agreement(a: list[str], b: list[str]) -> float:
    """Tokens in common (as multisets) over the longer list's length."""
    return sum((collections.Counter(a) & collections.Counter(b)).values()) / max(len(a), len(b), 1)


@pytest.fixture(scope="module")
def three_pages(tmp_path_factory):
    from PIL import Image

    tmp = tmp_path_factory.mktemp("ocrmypdf")
    images = [Image.open(ROOT / "samples" / f"{n}.jpg") for n in PAGES]
    return _scan_pdf(images, tmp / "three.pdf"), images


def test_ocrmypdf_with_our_engine_writes_a_searchable_pdf(three_pages, tmp_path):
    import pypdf

    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is not installed: bash scripts/setup.sh --test")
    src, images = three_pages
    out = tmp_path / "out.pdf"
    _ocrmypdf("--ocr-engine", "ocr-page", "--jobs", "2", src, out)
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) == 3
    assert "ocr-page" in str(reader.metadata["/Creator"])                  # OCRmyPDF + this engine's tag
    ocr = pipeline.load(threads=2)
    ours, theirs = [], []
    for k, im in enumerate(images, 1):
        ours += ocr.read_array(load_image(im)).text.split()
        theirs += _pdftotext(out, k)
    assert _agreement(ours, theirs) >= 0.9


def test_auto_keeps_tesseract_and_ocr_page_selects_ours():
    from ocrmypdf._options import OcrOptions
    from ocrmypdf._plugin_manager import get_plugin_manager

    pm = get_plugin_manager([])
    opts = lambda engine: OcrOptions(input_file="in.pdf", output_file="out.pdf", ocr_engine=engine)  # noqa: E731
    assert "Tesseract" in str(pm.get_ocr_engine(options=opts("auto")))
    assert isinstance(pm.get_ocr_engine(options=opts("ocr-page")), plugin.OcrPageEngine)
    assert "Tesseract" in str(pm.get_ocr_engine(options=opts("tesseract")))


def test_a_sideways_page_comes_out_upright_with_rotate_pages(tmp_path):
    import pypdfium2
    from PIL import Image

    upright = Image.open(ROOT / "samples" / "receipt.jpg")
    src = _scan_pdf([upright.transpose(Image.Transpose.ROTATE_90)], tmp_path / "sideways.pdf")  # text runs up
    ocr = pipeline.load(threads=2)

    def quarter_of_first_page(path: Path) -> int:
        doc = pypdfium2.PdfDocument(str(path))
        rgb = np.asarray(doc[0].render(scale=150 / 72).to_pil().convert("RGB"))     # as a viewer shows it
        doc.close()
        return ocr.orient(rgb)[0].quarter

    assert quarter_of_first_page(src) == 90                                   # the check can fail
    out = tmp_path / "upright.pdf"
    _ocrmypdf("--ocr-engine", "ocr-page", "--rotate-pages", src, out)
    assert quarter_of_first_page(out) == 0
    assert _agreement(_pdftotext(out, 1), ocr.read_array(load_image(upright)).text.split()) >= 0.9


def test_deskew_angle_levels_the_page_the_way_ocrmypdf_turns_it(tmp_path):
    """OCRmyPDF turns the page image by ``PIL.Image.rotate(get_deskew(...))``: that must level it."""
    from PIL import Image

    from pipeline import crop, geometry

    opts = SimpleNamespace(languages=["eng"], ocr_page=plugin.OcrPageOptions(threads=2))
    page = Image.open(ROOT / "samples" / "letter.jpg").convert("RGB")
    for turn in (3.0, -2.0):
        path = tmp_path / "skewed.png"
        page.rotate(turn, resample=Image.Resampling.BICUBIC, fillcolor="white", expand=True).save(path)
        angle = plugin.OcrPageEngine.get_deskew(path, opts)
        with Image.open(path) as im:
            levelled = np.asarray(im.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor="white"))
        assert abs(geometry.estimate_skew(crop.to_gray(levelled))) < 0.3, (turn, angle)


def test_threads_per_worker_share_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    for jobs, pages, want in ((2, 3, 1), (2, 1, 2), (1, 5, 2), (4, 10, 1)):
        opts = SimpleNamespace(ocr_engine="ocr-page", jobs=jobs, extra_attrs={}, ocr_page=plugin.OcrPageOptions())
        plugin.validate(pdfinfo=[None] * pages, options=opts)
        assert opts.ocr_page.threads == want and opts.extra_attrs["ocr_page_threads"] == want, (jobs, pages)


def test_languages_and_bad_options_give_one_line_errors(three_pages, tmp_path):
    assert plugin.OcrPageEngine.languages(None) == {"eng", "chi_sim"}
    src, _ = three_pages
    for args, says in ((["--ocr-page-min-confidence", "2"], "--ocr-page-min-confidence must be between 0 and 1"),
                       (["-l", "deu"], "ocr-page reads eng and chi_sim")):
        out = _ocrmypdf("--ocr-engine", "ocr-page", *args, src, tmp_path / "x.pdf", check=False)
        assert out.returncode != 0 and says in out.stderr, out.stderr[-1000:]
        assert not (tmp_path / "x.pdf").exists()


def test_generate_hocr_and_generate_ocr_give_ocrmypdf_the_same_words(tmp_path):
    """The hOCR path (for renderers that want a file) parses, with OCRmyPDF's own parser, into the words of
    the OcrElement path, in the same boxes."""
    from ocrmypdf.hocrtransform import HocrParser
    from PIL import Image

    opts = SimpleNamespace(languages=["eng"], ocr_page=plugin.OcrPageOptions(threads=2))
    image = tmp_path / "page.png"
    Image.open(ROOT / "samples" / "receipt.jpg").save(image, dpi=(300, 300))
    tree, text = plugin.OcrPageEngine.generate_ocr(image, opts, page_number=0)
    plugin.OcrPageEngine.generate_hocr(image, tmp_path / "p.hocr", tmp_path / "p.txt", opts)
    parsed = HocrParser(tmp_path / "p.hocr").parse()
    words = lambda page: [(w.text, round(w.bbox.left), round(w.bbox.top), round(w.bbox.right))  # noqa: E731
                          for ln in page.children for w in ln.children if w.ocr_class == "ocrx_word"]

    def leaves(el):                                      # hOCR nests lines in blocks and paragraphs
        return [el] if el.ocr_class == "ocr_line" else [x for c in el.children for x in leaves(c)]

    flat = SimpleNamespace(children=leaves(parsed))
    assert tree.ocr_class == "ocr_page" and tree.dpi == pytest.approx(300, abs=1)
    assert len(words(tree)) > 40 and words(tree) == [(t, x0, y0, x1) for t, x0, y0, x1 in words(flat)]
    assert (tmp_path / "p.txt").read_text() == text and "THANK YOU" in text


def test_lines_carry_their_quarter_turn_but_not_their_skew():
    """textangle as Tesseract's hOCR has it: quarter turns only (a 1-degree skew left to the boxes)."""
    from pipeline.result import Line, Page, Word

    quads = {"level": [[0, 10], [300, 5], [300, 35], [0, 40]],               # skewed 1 degree
             "up": [[10, 300], [10, 0], [40, 0], [40, 300]],                 # runs up the page
             "down": [[40, 0], [40, 300], [10, 300], [10, 0]]}               # runs down it
    lines = [Line([0, 0, 300, 40], name, 0.9, quad=q, words=[Word([0, 0, 300, 40], name, 0.9)])
             for name, q in quads.items()]
    tree = plugin.page_tree(Page(400, 400, lines, text="level\nup\ndown"), dpi=300)
    assert [ln.textangle for ln in tree.children] == [0.0, 90.0, 270.0]
    assert [w.text for ln in tree.children for w in ln.children] == ["level", "up", "down"]
