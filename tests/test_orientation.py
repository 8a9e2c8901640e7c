"""pipeline.orientation: the quarter turn of a page, decided from the detector's lines and the recognizer's
confidence; never from ink layout alone, and a page with weak evidence stays as given."""
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import pipeline
from pipeline import orientation
from pipeline.config import PageConfig
from pipeline.crop import to_gray
from recognition.predictor import Recognition

CFG = PageConfig()
PAGE = np.full((64, 48, 3), 255, np.uint8)
QUAD = np.array([[0.0, 0], [40, 0], [40, 10], [0, 10]])


def _decide(monkeypatch, axes: dict, cfg=CFG):
    """decide() with probe() answering ``axes[0 or 90] = (as_found, turned)`` window confidences; returns
    the decision and the axes that were probed."""
    probed = []

    def probe(detector, recognizer, rgb, gray, angle, cfg):
        axis = int(round(angle / 90.0)) * 90 % 180
        probed.append(axis)
        found, turned = axes.get(axis, ([], []))
        return [QUAD + axis], np.array(found, float), np.array(turned, float)

    monkeypatch.setattr(orientation, "probe", probe)
    o, quads = orientation.decide(None, object(), PAGE, to_gray(PAGE), replace(cfg, deskew=False))
    return o, quads, probed


def test_a_page_that_reads_well_as_given_is_not_probed_turned(monkeypatch):
    o, quads, probed = _decide(monkeypatch, {0: ([0.95] * 8, [0.3] * 8)})
    assert probed == [0] and o.quarter == 0 and o.angle == 0
    assert o.confidence == pytest.approx(0.65) and o.scores == {0: pytest.approx(0.95), 180: pytest.approx(0.3)}
    assert np.array_equal(quads[0], QUAD)                   # the page's lines are the probe's own


def test_a_sideways_page_is_turned_when_its_turned_axis_reads_clearly_better(monkeypatch):
    o, quads, probed = _decide(monkeypatch, {0: ([0.45] * 8, [0.4] * 8), 90: ([0.3] * 8, [0.88] * 8)})
    assert probed == [0, 90] and o.quarter == 270 and o.confidence == pytest.approx(0.88 - 0.45)
    assert np.array_equal(quads[0], (QUAD + 90)[[2, 3, 0, 1]])  # axis 90's lines, read the other way round


@pytest.mark.parametrize("axes", [
    {0: ([0.42] * 8, [0.40] * 8), 90: ([0.48] * 8, [0.2] * 8)},     # nothing reads at 0.5: no evidence
    {0: ([0.70] * 8, [0.40] * 8), 90: ([0.78] * 8, [0.2] * 8)},     # turned 90 better, but by under 0.1
    {0: ([0.30] * 8, [0.45] * 8), 90: ([], [])},                    # turned 180 better, but below 0.5
])
def test_weak_evidence_keeps_the_page_as_given(monkeypatch, axes):
    o, _, _ = _decide(monkeypatch, axes)
    assert o.quarter == 0


def test_upside_down_is_the_median_window_not_the_mean(monkeypatch):
    """A few windows that read better turned do not flip a page (the mean would), most windows do."""
    o, _, _ = _decide(monkeypatch, {0: ([0.8] * 5 + [0.3] * 3, [0.6] * 5 + [0.99] * 3)})
    assert o.scores[180] > o.scores[0] and o.quarter == 0
    o, _, _ = _decide(monkeypatch, {0: ([0.7] * 5 + [0.9] * 3, [0.72] * 5 + [0.5] * 3)})
    assert o.quarter == 0                    # the median gains 0.02 turned, but the mean loses: no turn
    o, quads, _ = _decide(monkeypatch, {0: ([0.3] * 6 + [0.9] * 2, [0.8] * 6 + [0.2] * 2)})
    assert o.quarter == 180 and np.array_equal(quads[0], QUAD[[2, 3, 0, 1]])


def test_given_orientations_are_kept_and_weigh_no_evidence(monkeypatch):
    for mode, quarter in (("none", 0), ("0", 0), ("90", 90), ("180", 180), ("270", 270)):
        o, _, probed = _decide(monkeypatch, {0: ([0.1] * 8, [0.99] * 8)}, replace(CFG, orientation=mode))
        assert (o.quarter, o.confidence, len(probed)) == (quarter, None, 1)


def test_bad_orientation_settings_are_refused():
    with pytest.raises(ValueError, match="orientation must be one of"):
        PageConfig(orientation="sideways")
    assert PageConfig(orientation=90).orientation == "90"              # YAML's 90 is a number


def test_probe_counts_only_windows_with_letters_either_way():
    """Two lines: a row of asterisks (reads better turned, no letters) and a word line; only the word line
    takes part. The fake recognizer tells the lines apart by their gray level."""
    gray = np.full((60, 200), 255, np.uint8)
    gray[5:25, 10:190], gray[35:55, 10:190] = 0, 200
    quads = [np.array([[10.0, y0], [190, y0], [190, y0 + 20], [10, y0 + 20]]) for y0 in (5, 35)]

    class Line:
        def __init__(self, q):
            self.quad = q

    def read(crops):
        out = []
        for i, c in enumerate(crops):
            turned, stars = i >= len(crops) // 2, float(c.mean()) < 140
            text, conf = ("* * * *", (0.9 if turned else 0.2)) if stars else ("Total", (0.3 if turned else 0.8))
            out.append(Recognition(text, conf))
        return out

    rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    got, found, turned = orientation.probe(lambda img: [Line(q) for q in quads], read, rgb, gray, 0.0, CFG)
    assert len(got) == 2 and found.tolist() == [0.8] and turned.tolist() == [0.3]


# ---- with the shipped models ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ocr():
    return pipeline.load(threads=2)


def _decide_real(ocr, rgb, turn):
    img = np.ascontiguousarray(np.rot90(rgb, turn // 90))           # counter-clockwise: text runs up at 90
    return orientation.decide(ocr.detector, ocr.recognizer.plain(), img, to_gray(img), ocr.config.page)[0]


@pytest.fixture(scope="module")
def synth_pages():
    from synth.pages import PageGenerator

    gen = PageGenerator(seed=20261203)
    return {lay: gen.page(i, layout=lay).image for i, lay in enumerate(["letter", "form", "invoice", "receipt"])}


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
@pytest.mark.parametrize("layout", ["letter", "form", "invoice", "receipt"])
def test_synthetic_pages_are_turned_upright_from_every_quarter(ocr, synth_pages, layout, turn):
    o = _decide_real(ocr, synth_pages[layout], turn)
    assert o.quarter == turn and o.confidence > 0


def test_a_tall_narrow_receipt_column_is_never_turned(ocr):
    """The shape ink projection mistook for sideways text: a narrow column of short lines, much taller than
    wide. Here: the sample receipt's middle third, the column of item names cut off from the prices."""
    rgb = cv2.cvtColor(cv2.imread("samples/receipt.jpg"), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    column = np.ascontiguousarray(rgb[:, w // 6: w // 2])
    assert column.shape[0] > 4 * column.shape[1]
    o = _decide_real(ocr, column, 0)
    assert o.quarter == 0


REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
REAL_PAGES = ["sroie/010.jpg", "funsd/0000971160.png", "photos/photo_010.jpeg", "photos/photo_025.jpeg"]


@pytest.mark.skipif(not REAL.is_dir(), reason="the real dev pages are not on this machine")
@pytest.mark.parametrize("name", REAL_PAGES)
def test_real_dev_pages_are_turned_upright_from_every_quarter(ocr, name):
    from pipeline.images import load

    rgb = load(REAL / name)
    true = 90 if name.endswith("photo_025.jpeg") else 0        # benchmarks/data/photo_orientation.json
    turns = (0, 90, 180, 270)
    assert [_decide_real(ocr, rgb, t).quarter for t in turns] == [(true + t) % 360 for t in turns]
