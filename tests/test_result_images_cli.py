import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline import images
from pipeline.cli import ocr_page, ocr_train
from pipeline.result import Line, Page, Word


def test_page_round_trips_through_dict():
    page = Page(100, 50, [Line([1, 2, 30, 12], "Invoice 2024", 0.9, words=[Word([1, 2, 14, 12], "Invoice", 0.95)])],
                source="a.png", angle=0.7)
    d = page.to_dict()
    assert d["schema"] == "ocr-page/1" and d["text"] == "Invoice 2024"
    assert d["lines"][0]["quad"] == [[1, 2], [30, 2], [30, 12], [1, 12]]
    assert Page.from_dict(d).to_dict() == d
    with pytest.raises(ValueError, match="ocr-page/1"):
        Page.from_dict({"schema": "other"})


def test_images_load_sources_and_modes(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    p = tmp_path / "a.png"
    Image.fromarray(rgb).save(p)
    assert np.array_equal(images.load(p), rgb)
    assert np.array_equal(images.load(p.read_bytes()), rgb)
    assert images.load(np.zeros((4, 6), np.uint8)).shape == (4, 6, 3)
    rgba = Image.new("RGBA", (3, 2), (0, 0, 0, 0))
    assert (images.load(rgba) == 255).all()  # transparent -> white paper
    im16 = Image.fromarray(np.full((2, 2), 4000, np.uint16))
    assert images.load(im16).dtype == np.uint8


def test_images_exif_orientation(tmp_path):
    im = Image.new("RGB", (6, 4), "white")
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    p = tmp_path / "o.jpg"
    im.save(p, exif=exif)
    assert images.load(p).shape == (6, 4, 3)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_images_bad_input_is_one_clear_line(tmp_path, content):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(images.ImageError) as err:
        images.load(p)
    assert "bad.jpg" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(images.ImageError, match="no such file"):
        images.load(tmp_path / "missing.png")


def test_ocr_page_says_no_weights_yet(capsys, monkeypatch):
    import detection
    import recognition

    monkeypatch.setattr(detection, "weights_path", lambda: None)
    monkeypatch.setattr(recognition, "weights_path", lambda lang="en": None)
    assert ocr_page(["samples/letter.jpg"]) == 3
    assert "no weights yet" in capsys.readouterr().err
    assert ocr_page(["missing.png"]) == 2


def test_each_language_reads_its_own_weight_file(capsys, monkeypatch, tmp_path):
    import pipeline
    import recognition

    assert recognition.weights_path("en").name == "crnn_s.pt"              # en stays the default
    assert pipeline.load(threads=1).config.recognizer.lang == "en"
    monkeypatch.setattr(recognition, "WEIGHTS_DIR", tmp_path)              # a build without the zh weights
    with pytest.raises(pipeline.NoWeightsError, match="zh recognizer.*crnn_zh.pt"):
        pipeline.load(lang="zh")
    assert ocr_page(["--lang", "zh", "samples/letter.jpg"]) == 3
    assert "no weights yet for the zh recognizer" in capsys.readouterr().err
    with pytest.raises(pipeline.NoWeightsError, match="zh recognizer.*--lang auto needs every language's"):
        pipeline.load(lang="auto")
    assert ocr_page(["--lang", "auto", "samples/letter.jpg"]) == 3
    with pytest.raises(ValueError, match="--lang auto chooses between the shipped recognizers"):
        pipeline.load(lang="auto", recognizer_weights=recognition.WEIGHTS_DIR / "crnn_s.pt")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        recognition.weights_path("fr")
    with pytest.raises(ValueError, match="recognizer.lang must be one of en, zh"):
        pipeline.load(lang="fr")


def test_ocr_train_is_clear_about_bad_configs(capsys, tmp_path):
    assert ocr_train(["detector", "--config", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err.strip() == f"ocr-train: {tmp_path / 'none.yaml'}: config file not found"
    (tmp_path / "bad_det.yaml").write_text("data:\n  crop: [100, 100]\n  cropz: 1\n")
    assert ocr_train(["detector", "--config", str(tmp_path / "bad_det.yaml")]) == 2
    assert "unknown key 'data.cropz' (did you mean 'data.crop'?)" in capsys.readouterr().err
    assert ocr_train(["recognizer", "--config", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err.strip() == f"ocr-train: {tmp_path / 'none.yaml'}: config file not found"
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  stepz: 3\n")
    assert ocr_train(["recognizer", "--config", str(bad)]) == 2
    assert "unknown key 'optim.stepz' (did you mean 'optim.steps'?)" in capsys.readouterr().err
    assert ocr_train(["average-recognizer", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--out",
                      str(tmp_path / "m.pt")]) == 2
    assert capsys.readouterr().err.startswith(f"ocr-train: {tmp_path / 'a.pt'}")


def test_console_script_entry_exits_with_code():
    r = subprocess.run([sys.executable, "-c", "from pipeline.cli import page_main; page_main()", "x.png"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == "ocr-page: x.png: no such file"


def _pdf_bytes(n_pages: int, encrypt: str | None = None) -> bytes:
    """A PDF of ``n_pages`` 2 x 1 inch pages, each with a black bar whose width grows with the page number."""
    import io

    from fpdf import FPDF

    pdf = FPDF(unit="pt")
    for k in range(n_pages):
        pdf.add_page(format=(144, 72))
        pdf.rect(10, 10, 20 * (k + 1), 20, style="F")
    raw = bytes(pdf.output())
    if encrypt is None:
        return raw
    import pypdf

    w = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(raw)))
    w.encrypt(encrypt)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_pages_of_multi_page_tiff_and_pdf(tmp_path):
    frames = [Image.fromarray(np.full((8, 12), v, np.uint8)) for v in (10, 120, 250)]
    tif = tmp_path / "three.tif"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    got = list(images.pages(tif))
    assert [i for i, _ in got] == [0, 1, 2] and [int(a[0, 0, 0]) for _, a in got] == [10, 120, 250]
    assert images.load(tif)[0, 0, 0] == 10                          # load() is the first page
    pdf = tmp_path / "two.pdf"
    pdf.write_bytes(_pdf_bytes(2))
    got = list(images.pages(pdf, dpi=144))
    assert [a.shape for _, a in got] == [(144, 288, 3), (144, 288, 3)]
    dark = [int((a[:, :, 0] < 128).sum(axis=1).max()) for _, a in got]   # bar 20 pt wide, then 40 pt
    assert abs(dark[0] - 40) <= 2 and abs(dark[1] - 80) <= 2
    assert len(list(images.pages(pdf.read_bytes(), dpi=72))) == 2   # bytes too


def test_broken_and_encrypted_pdfs_are_one_clear_line(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(images.ImageError, match="broken.pdf: cannot open PDF: broken"):
        list(images.pages(bad))
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(_pdf_bytes(1, encrypt="secret"))
    with pytest.raises(images.ImageError) as err:
        list(images.pages(locked))
    assert "locked.pdf" in str(err.value) and "encrypted" in str(err.value) and "\n" not in str(err.value)
