"""The whole pipeline with the shipped weights: pages in, text, boxes and files out."""
import io
import json
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

import pipeline
from pipeline.cli import ocr_batch, ocr_page
from pipeline.evaluate import token_counts
from synth.fonts import FONT_DIRS, _scan_zh
from synth.pageset import _parse

RECEIPT = "samples/receipt.jpg"


@pytest.fixture(scope="module")
def ocr():
    return pipeline.load(threads=2)


def _tok_f(pred: str, gt_lines: list[str]) -> float:
    m, g, p = token_counts(gt_lines, pred.splitlines())
    return 2 * m / max(1, g + p)


def _gt(sample: str) -> list[str]:
    from pathlib import Path

    return [ln.text for ln in _parse(Path(f"samples/{sample}.json")).lines if not ln.ignore]


@pytest.fixture(scope="module")
def receipt_page(ocr):
    return ocr(RECEIPT)


def test_a_receipt_reads_end_to_end(receipt_page):
    p = receipt_page
    h, w = cv2.imread(RECEIPT).shape[:2]
    assert (p.width, p.height, p.source) == (w, h, RECEIPT)
    assert _tok_f(p.text, _gt("receipt")) > 0.7
    assert [ln.id for ln in p.lines] == list(range(len(p.lines)))
    for ln in p.lines:
        assert 0 <= ln.box[0] < ln.box[2] <= w + 1 and 0 <= ln.box[1] < ln.box[3] <= h + 1
        assert ln.text and 0 <= ln.confidence <= 1
        assert " ".join(wd.text for wd in ln.words) == " ".join(ln.text.split())
        for wd in ln.words:                                   # words sit inside their line (a few px of slack)
            assert wd.box[0] >= ln.box[0] - 6 and wd.box[2] <= ln.box[2] + 6
    assert sorted(i for b in p.blocks for i in b.lines) == list(range(len(p.lines)))
    assert pipeline.Page.from_dict(json.loads(json.dumps(p.to_dict()))).to_dict() == p.to_dict()


@pytest.mark.parametrize("turn,angle", [(cv2.ROTATE_90_COUNTERCLOCKWISE, 90), (cv2.ROTATE_180, 180),
                                        (cv2.ROTATE_90_CLOCKWISE, -90)])
def test_sideways_and_upside_down_pages_are_read_upright(ocr, receipt_page, turn, angle):
    img = cv2.cvtColor(cv2.rotate(cv2.imread(RECEIPT), turn), cv2.COLOR_BGR2RGB)
    p = ocr(img)
    assert abs(((p.angle - angle) + 180) % 360 - 180) < 3
    assert p.orientation_confidence > 0.05 and receipt_page.orientation_confidence > 0.05
    assert _tok_f(p.text, receipt_page.text.splitlines()) > 0.8
    h, w = img.shape[:2]
    assert all(ln.box[2] <= w + 1 and ln.box[3] <= h + 1 for ln in p.lines)   # in the pixels given


def test_orientation_none_keeps_a_sideways_page_as_given_and_a_number_turns_it(tmp_path):
    img = cv2.rotate(cv2.imread(RECEIPT), cv2.ROTATE_90_COUNTERCLOCKWISE)      # the text runs up the page
    path = tmp_path / "sideways.png"
    cv2.imwrite(str(path), img)
    for mode, angle, slack in (("none", 0, 15), ("90", 90, 3)):   # none: no quarter turn (skew still measured)
        out = tmp_path / f"{mode}.json"
        assert ocr_page([str(path), "--orientation", mode, "-o", str(out)]) == 0
        d = json.loads(out.read_text())
        assert abs(d["angle"] - angle) <= slack and d["orientation_confidence"] is None
    assert pipeline.load(orientation="none").config.page.orientation == "none"


def test_a_bad_orientation_is_one_line_of_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        ocr_page([RECEIPT, "--orientation", "45"])
    assert exc.value.code == 2 and "invalid choice: '45'" in capsys.readouterr().err


def test_an_exif_rotated_photo_gives_boxes_in_upright_pixels(ocr, receipt_page, tmp_path):
    from PIL import Image

    path = tmp_path / "phone.jpg"
    im = Image.open(RECEIPT)
    exif = im.getexif()
    exif[0x0112] = 6                               # "turn 90 degrees clockwise to display"
    im.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)   # pixels stored turned left
    p = ocr(str(path))
    assert (p.width, p.height) == (receipt_page.width, receipt_page.height)
    assert abs(p.angle) < 3                        # upright once EXIF is applied: nothing left to turn
    assert _tok_f(p.text, receipt_page.text.splitlines()) > 0.9
    ref = np.array([ln.box for ln in receipt_page.lines], float)
    near = [np.abs(ref - np.array(ln.box)).max(1).min() <= 4 for ln in p.lines]
    assert sum(near) >= 0.9 * len(p.lines)         # the same lines, in the upright image's pixels


def test_precision_auto_means_bf16_only_on_amx_cpus():
    import torch

    amx = torch.cpu._is_amx_tile_supported()
    assert pipeline.resolve_precision("auto", "cpu") == ("bf16" if amx else "fp32")
    assert pipeline.resolve_precision("auto", "cuda") == "fp32"
    assert pipeline.resolve_precision("fp32", "cpu") == "fp32" and pipeline.resolve_precision("bf16", "cuda") == "bf16"


def test_a_confident_upright_page_is_probed_on_its_own_axis_only(ocr, monkeypatch):
    calls = []
    det = ocr.detector
    monkeypatch.setattr(ocr, "detector", lambda image: calls.append(image.shape) or det(image))
    p = ocr(RECEIPT)
    assert p.angle == pytest.approx(0, abs=3) and len(calls) == 1      # the probe's lines are the page's


def test_a_multi_page_tiff_reads_every_page(ocr, tmp_path):
    from PIL import Image

    ims = [Image.open(RECEIPT).convert("RGB"), Image.open("samples/form.jpg").convert("RGB")]
    path = tmp_path / "two.tif"
    ims[0].save(path, save_all=True, append_images=ims[1:])
    pages = ocr.read(path)
    assert [p.page for p in pages] == [0, 1]
    assert _tok_f(pages[1].text, _gt("form")) > 0.5


def test_ocr_page_writes_every_format(tmp_path, capsys):
    assert ocr_page([RECEIPT]) == 0
    assert "SUBTOTAL" in capsys.readouterr().out
    out = tmp_path / "r.json"
    assert ocr_page([RECEIPT, "-o", str(out), "--threads", "2"]) == 0
    assert json.loads(out.read_text())["schema"] == "ocr-page/1"
    for fmt in ("hocr", "alto"):
        assert ocr_page([RECEIPT, "-f", fmt, "-o", str(tmp_path / f"r.{fmt}")]) == 0
        ET.parse(tmp_path / f"r.{fmt}")
    assert ocr_page([RECEIPT, "-o", str(tmp_path / "r.pdf"), "--draw", str(tmp_path / "d.png"),
                     "--dump-crops", str(tmp_path / "crops")]) == 0
    import pypdf

    text = pypdf.PdfReader(io.BytesIO((tmp_path / "r.pdf").read_bytes())).pages[0].extract_text()
    assert "SUBTOTAL" in text
    assert cv2.imread(str(tmp_path / "d.png")).shape == cv2.imread(RECEIPT).shape
    rows = (tmp_path / "crops" / "crops.tsv").read_text().splitlines()
    assert len(rows) > 10 and all(cv2.imread(str(tmp_path / "crops" / r.split("\t")[0])).shape[0] == 32 for r in rows[1:])
    assert ocr_page([RECEIPT, "--layout"]) == 0
    assert ocr_page([RECEIPT, "-o", str(tmp_path / "x.docx")]) == 2
    capsys.readouterr()
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    assert ocr_page([str(tmp_path / "bad.jpg"), RECEIPT]) == 1             # the good one is still read
    captured = capsys.readouterr()
    assert "SUBTOTAL" in captured.out and captured.err.count("\n") == 1 and "bad.jpg" in captured.err


def test_ocr_batch_converts_a_folder_and_lists_failures(tmp_path, capsys):
    import shutil

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(RECEIPT, src / "sub" / "r.jpg")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    assert ocr_batch([str(src), str(out), "-f", "txt,json", "--quiet"]) == 1
    assert "SUBTOTAL" in (out / "sub" / "r.txt").read_text()
    report = json.loads((out / "ocr-batch-report.json").read_text())
    assert report["converted"] == 1 and [f["input"] for f in report["failed"]] == ["broken.png"]
    assert "broken.png" in capsys.readouterr().err
    assert ocr_batch([str(src), str(src / "sub" / "o")]) == 2                # output inside input: refused


def test_lines_cut_too_tight_are_cut_again_with_more_margin_and_read_again(ocr, monkeypatch):
    # the detector's boxes of the form squeezed to 70 % of their height: the strips clip the tops and bottoms
    # of the letters, read badly; cut again with crop.retry_pad_y, the lines read less surely than
    # retry_below read better, and only those are read twice
    from dataclasses import replace

    def tight(orient):
        def squeezed(rgb, gray=None):
            o, quads = orient(rgb, gray)
            out = []
            for q in quads:
                q = np.asarray(q, float)
                mid = (q[[0, 1]] + q[[3, 2]]) / 2                      # the quad's midline, left to right
                top, bottom = mid + 0.7 * (q[[0, 1]] - mid), mid + 0.7 * (q[[3, 2]] - mid)
                out.append(np.array([top[0], top[1], bottom[1], bottom[0]]))
            return o, out
        return squeezed

    assert ocr.config.crop.retry_langs == ("zh",)           # as shipped, English pages get no second look
    pages, seen = {}, []
    for pad, langs in ((0.0, ("en",)), (0.3, ("en",)), (0.3, ("zh",))):
        cfg = replace(ocr.config, crop=replace(ocr.config.crop, retry_pad_y=pad, retry_langs=langs))
        sys_ = pipeline.OCR(ocr.recognizer, ocr.detector, cfg, ocr.readers)
        monkeypatch.setattr(sys_, "orient", tight(sys_.orient))
        read = sys_._read_by_language
        monkeypatch.setattr(sys_, "_read_by_language", lambda strips, langs, read=read: seen.append(
            [len(s) for s in strips]) or read(strips, langs))
        pages[pad, langs] = sys_("samples/form.jpg").text
    # off: one reading of every line; on for en: a second of fewer lines; on for zh only: no second reading
    assert len(seen) == 4 and seen[0] == seen[1] == seen[3]
    assert 0 < seen[2][0] < seen[1][0]
    assert pages[0.3, ("zh",)] == pages[0.0, ("en",)]
    assert _tok_f(pages[0.3, ("en",)], _gt("form")) > _tok_f(pages[0.0, ("en",)], _gt("form")) + 0.03


def test_a_pages_strips_are_not_read_padded_but_crops_given_to_recognize_are(ocr, receipt_page, monkeypatch):
    from pipeline.images import load
    from recognition import preprocess

    # the page pipeline cuts its strips with margins of its own (neighbouring lines reach their edges): even
    # were every strip taken for one cut tight to its text, none is read again with a margin added
    padded, add_margins = [], preprocess.add_margins
    monkeypatch.setattr(preprocess, "cut_tight", lambda g: True)
    monkeypatch.setattr(preprocess, "add_margins", lambda g: padded.append(g.shape) or add_margins(g))
    assert ocr(RECEIPT).to_dict() == receipt_page.to_dict() and padded == []
    strips = [s.image for s in ocr.line_strips(load(RECEIPT))[3][:3]]
    ocr.recognize(strips)                                          # a user's crops: each read padded too
    assert padded == [preprocess.to_gray(s).shape for s in strips]


def test_lines_read_below_the_confidence_floor_are_left_off_unless_asked_for(tmp_path, capsys):
    # samples/form.jpg: its dashed fill rules and other marks are found as lines and read as garbage
    # ("wawaw", "=****owews.ew...") at confidence 0.1-0.5; its printed and typed text reads above 0.5
    kept, every = tmp_path / "kept.json", tmp_path / "every.json"
    assert ocr_page(["samples/form.jpg", "-o", str(kept)]) == 0
    assert ocr_page(["samples/form.jpg", "-o", str(every), "--min-confidence", "0"]) == 0
    kept, every = json.loads(kept.read_text())["lines"], json.loads(every.read_text())["lines"]
    assert all(ln["confidence"] >= 0.5 for ln in kept)
    low = [ln["text"] for ln in every if ln["confidence"] < 0.5]
    # a lone box (under 1.5 of its heights long: the page is upright) needs 0.9 and a letter or digit
    lone = lambda ln: ln["box"][2] - ln["box"][0] < 1.5 * (ln["box"][3] - ln["box"][1])
    doubtful = [ln["text"] for ln in every if ln["confidence"] >= 0.5 and lone(ln)
                and (ln["confidence"] < 0.9 or not any(c.isalnum() for c in ln["text"]))]
    assert len(low) >= 5 and len(kept) == len(every) - len(low) - len(doubtful)
    assert sorted(ln["text"] for ln in kept) == sorted(
        ln["text"] for ln in every if ln["confidence"] >= 0.5 and ln["text"] not in doubtful)
    assert all(not lone(ln) or ln["confidence"] >= 0.9 for ln in kept)
    assert _tok_f("\n".join(ln["text"] for ln in kept), _gt("form")) > _tok_f(
        "\n".join(ln["text"] for ln in every), _gt("form"))
    capsys.readouterr()
    assert ocr_page(["samples/form.jpg", "--min-confidence", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "min_confidence" in err


@pytest.mark.skipif(not _scan_zh(FONT_DIRS), reason="no Chinese fonts installed")
def test_a_chinese_line_goes_through_the_whole_pipeline_with_a_tiny_model(tmp_path):
    """The zh path end to end: a page with one Chinese + digits line, the shipped detector, a tiny zh
    recognizer taught that one strip (the strip the pipeline itself cuts), its words and exports."""
    import torch
    from PIL import Image, ImageDraw

    from pipeline.exporters import export
    from recognition import preprocess, weightfile
    from recognition.charset import Charset
    from recognition.crnn import CRNN
    from recognition.train import ctc_loss
    from synth.fonts import discover_zh

    text = "发票号码：05467891"
    font = next(f for f in discover_zh() if "NotoSansCJK-Regular" in f.path).font(40)
    im = Image.new("RGB", (900, 220), "white")
    ImageDraw.Draw(im).text((60, 80), text, font=font, fill=(20, 20, 20))
    page = np.asarray(im)
    base = pipeline.load(threads=2, orientation="none")
    _, _, quads, strips = base.line_strips(page)
    assert len(strips) == 1
    # as a real zh recognizer does, it also reads Latin script as Latin: it learns the windows of the
    # letter's lines that --lang auto samples, labelled with the English recognizer's reading
    from pipeline.images import load as load_image
    from pipeline.language import LanguageConfig, sample

    letter_rgb = load_image("samples/letter.jpg")
    choice = LanguageConfig(sample_lines=2, window=160)        # a small sample keeps the test quick
    latin = sample([s.image for s in base.line_strips(letter_rgb)[3]], choice)
    latin_text = [r.text for r in base.recognizer.plain()(latin)]
    cs = Charset(sorted(set(text + "".join(latin_text))))      # the characters it learns: a quick test
    torch.manual_seed(0)
    model = CRNN(len(cs), width=0.25, hidden=32, rank=16)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x, widths = preprocess.batch([preprocess.resize_height(preprocess.to_gray(s)) for s in [strips[0].image, *latin]])
    labels = [cs.encode(t) for t in [text, *latin_text]]
    for _ in range(600):
        loss, _ = ctc_loss(model(x, widths), widths, labels, torch.zeros(len(labels), dtype=torch.bool), [], cs.blank)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    path = weightfile.save(tmp_path / "crnn_zh_tiny.pt", model.eval(), cs, {"data": ["test lines"]})
    ocr = pipeline.load(threads=2, orientation="none", lang="zh", recognizer_weights=path)
    assert ocr.config.recognizer.lang == "zh" and ocr.config.recognizer.lm_weight > 0
    assert ocr.recognizer.lm.provenance["lang"] == "zh"           # the zh recognizer reads with the zh model
    result = ocr(page)
    assert result.text == text
    assert [w.text for w in result.lines[0].words] == ["发票号码：", "05467891"]
    root = ET.fromstring(export([result], "alto"))
    assert [s.get("CONTENT") for s in root.iter("{http://www.loc.gov/standards/alto/ns-v4#}String")] == \
        ["发票号码：", "05467891"]

    # --lang auto: the shipped English recognizer and this zh one side by side, each page read by its own
    from dataclasses import replace

    cfg = replace(base.config, recognizer=replace(base.config.recognizer, lang="auto"), language=choice)
    auto = pipeline.OCR(base.recognizer, base.detector, cfg, {"en": base.recognizer, "zh": ocr.recognizer})
    assert auto.auto and auto.language([s.image for s in strips]) == "zh"
    zh_page, letter = auto.read_arrays([page, letter_rgb])
    assert (zh_page.lang, zh_page.text) == ("zh", text)
    assert (letter.lang, letter.text) == ("en", base("samples/letter.jpg").text)
    assert pipeline.Page.from_dict(zh_page.to_dict()).lang == "zh"
    html = ET.fromstring(export([zh_page, letter], "hocr").split(b"\n", 2)[2])
    pages = [d for d in html.iter("{http://www.w3.org/1999/xhtml}div") if d.get("class") == "ocr_page"]
    assert html.get("lang") == "zh" and [d.get("lang") for d in pages] == [None, "en"]
    alto = ET.fromstring(export([zh_page, letter], "alto"))
    assert {b.get("LANG") for b in alto.iter("{http://www.loc.gov/standards/alto/ns-v4#}TextBlock")} == {"zh", "en"}
