"""Golden tests for every ocr-eval metric; each expected number is worked out in the comment beside it."""
import json

import numpy as np
import pytest

from pipeline import evaluate as ev
from training import metrics


@pytest.mark.parametrize("a, b, substring, expected", [
    ("kitten", "sitting", False, 3),   # k->s, e->i, +g
    ("abc", "abc", False, 0),
    ("", "abc", False, 3),             # three insertions
    ("abc", "", False, 3),             # three deletions
    ("abc", "xxabcxx", True, 0),       # "abc" is a substring
    ("abd", "xxabcxx", True, 1),       # "abc" with one substitution
    ("abc", "", True, 3),              # nothing to match: the whole length
    ("total", "subtotal:", True, 0),
    ("12.50", "RM12.5O", True, 1),     # 0 vs O
    ("flaw", "lawn", False, 2),        # -f, +n
])
def test_edit_distance(a, b, substring, expected):
    assert ev.edit_distance(a, b, substring) == expected


def test_edit_distance_matches_plain_dynamic_programming():
    rng = np.random.default_rng(0)
    def slow(a, b):
        d = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            prev, d[0] = d[0], i
            for j, cb in enumerate(b, 1):
                prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
        return d[-1]
    for _ in range(200):
        a = "".join(rng.choice(list("abc "), int(rng.integers(0, 8))))
        b = "".join(rng.choice(list("abc "), int(rng.integers(0, 8))))
        assert ev.edit_distance(a, b) == slow(a, b)


def test_token_counts_multiset_casefolded():
    # gt tokens: total, 9.00, total, tax ; pred: TOTAL, 9.00, tax, tax, x
    # matches: total x1 (pred has one), 9.00, tax x1 -> 3 ; n_gt 4 ; n_pred 5
    assert ev.token_counts(["Total 9.00", "total tax"], ["TOTAL 9.00 tax", "tax x"]) == (3, 4, 5)


def test_chinese_tokens_are_characters():
    # gt: 合 计 9.00 元 ; pred: 合 针 9.00 元 x -> 3 of 4 match, 5 read; a spaced Latin word stays one token
    assert ev.token_counts(["合计9.00元"], ["合针 9.00元 x"]) == (3, 4, 5)
    assert ev.token_counts(["iPhone手机"], ["iphone 手机"]) == (3, 3, 3)


def test_seg_cer_counts():
    gt = [((0, 0, 100, 20), "Total: 9.00", False),   # 9 chars w/o spaces "total:9.00"? -> "total:9.00" is 10
          ((0, 40, 100, 60), "Tax", False),            # no prediction on this row -> costs 3
          ((0, 80, 50, 100), "skip", True)]            # ignored
    pred = [((0, 2, 300, 22), "SUB TOTAL: 9.0O and more"),  # same row; best substring "total:9.0o" -> 1 edit
            ((0, 100, 300, 120), "Tax")]                     # not the same row as "Tax" (no vertical overlap)
    assert ev.seg_cer_counts(gt, pred) == (1 + 3, 10 + 3)


def test_seg_cer_requires_vertical_overlap_over_half_the_smaller_height():
    gt = [((0, 0, 10, 10), "ab", False)]
    assert ev.seg_cer_counts(gt, [((0, 4, 10, 14), "ab")]) == (0, 2)   # overlap 6 > 5
    assert ev.seg_cer_counts(gt, [((0, 5, 10, 15), "ab")]) == (2, 2)   # overlap 5 is not > 5
    assert ev.seg_cer_counts(gt, [((20, 0, 30, 10), "ab")]) == (2, 2)  # no horizontal overlap


def test_coverage_counts():
    gt = [((0, 0, 100, 10), False),     # covered 63 % (0-60 and 97-100) -> found
          ((0, 50, 100, 60), False),    # covered 40 % -> missed
          ((200, 0, 210, 10), True)]    # ignored: not required, but makes predictions precise
    pred = [(0, 0, 30, 10), (30, 0, 60, 10),   # precise (inside gt 0)
            (0, 50, 40, 60),                    # precise
            (200, 0, 210, 10),                  # precise (ignored box)
            (500, 500, 600, 600),               # not precise
            (97, 0, 120, 10)]                   # 23 wide; 6 px inside gt0+3px -> 26 % -> not precise
    assert ev.coverage_counts(gt, pred) == (1, 2, 4, 6)


def test_coverage_accepts_quads():
    gt = [((0, 0, 10, 10), False)]
    quad = [[0, 0], [10, 0], [10, 10], [0, 10]]
    assert ev.coverage_counts(gt, [quad]) == (1, 1, 1, 1)


def test_prf_edge_cases():
    assert metrics.prf(0, 0, 0, 0) == (1.0, 1.0, 1.0)     # nothing to find, nothing predicted
    assert metrics.prf(0, 0, 0, 5) == (0.0, 0.0, 0.0)     # predicted nothing, missed all


class FakeSystem:
    """Predicts the ground truth of one page exactly and nothing on the others."""
    name = "fake"

    def __init__(self, pages):
        self.answers = {p.image.name: p for p in pages[:1]}
        self.seen = []

    def page(self, img):
        self.seen.append(img.shape)
        p = self.answers.pop(next(iter(self.answers)), None) if self.answers else None
        return [ev.PredLine(ln.box, ln.text) for ln in p.lines if not ln.ignore] if p else []

    def crops(self, crops):
        return ["" for _ in crops]


def test_evaluate_pages_on_a_small_pageset(tmp_path):
    from synth import pageset
    from synth.pages import PageGenerator

    gen = PageGenerator(seed=3, allow_fallback_fonts=True)
    for i in range(2):
        p = gen.page(i, layout="letter", degrade=False)
        pageset.write(tmp_path, f"p{i}", p.image, p.to_json(""))
    pages = pageset.read(tmp_path)
    res = ev.evaluate_pages(FakeSystem(pages), pages, progress=False)
    n0 = sum(1 for ln in pages[0].lines for _ in ln.text.split())
    n1 = sum(1 for ln in pages[1].lines for _ in ln.text.split())
    assert res["pages"] == 2 and res["failed"] == 0
    assert res["tok_P"] == 1.0 and res["tok_R"] == pytest.approx(n0 / (n0 + n1))
    assert res["det_P"] == 1.0 and res["det_R"] == pytest.approx(len(pages[0].lines) / (len(pages[0].lines) + len(pages[1].lines)))
    c0 = sum(len("".join(ln.text.split())) for ln in pages[0].lines)
    c1 = sum(len("".join(ln.text.split())) for ln in pages[1].lines)
    assert res["seg_CER"] == pytest.approx(c1 / (c0 + c1))
    assert res["bad_pages"] == 1 and res["page_CER_med"] == pytest.approx(0.5)   # page CERs 0 and 1

    class Shrunk:                 # reads every line right, in the pixels of the image it is given
        name = "shrunk"

        def page(self, img):
            k = img.shape[1] / pages[0].width
            return [ev.PredLine(tuple(v * k for v in ln.box), ln.text) for ln in pages[0].lines]

    half = ev.evaluate_pages(Shrunk(), pages[:1], progress=False, scale=0.5)
    assert half["seg_CER"] == 0.0 and half["det_R"] == 1.0 and half["bad_pages"] == 0
    assert ev.evaluate_pages(Shrunk(), pages[:1], progress=False, scale=1.0)["seg_CER"] == 0.0
    crops = ev.evaluate_crops(FakeSystem(pages), pages, progress=False)
    assert crops["crops"] == len(pages[0].lines) + len(pages[1].lines) and crops["CER"] == 1.0 and crops["exact"] == 0.0


def test_eval_cli_errors_are_one_line(tmp_path, capsys):
    assert ev.main([str(tmp_path / "missing"), "--system", "tesseract"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ocr-eval:") and "missing" in err and "\n" not in err


def test_eval_cli_project_system_with_and_without_detector_weights(tmp_path, capsys, monkeypatch):
    import json

    import detection
    from synth import pageset
    from synth.pages import PageGenerator

    p = PageGenerator(seed=1, allow_fallback_fonts=True).page(0, layout="sparse")
    folder = tmp_path / "set"
    pageset.write(folder, "a", p.image, p.to_json(""))
    assert ev.main([str(folder), "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    (row,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert row["system"] == "project" and row["pages"] == 1 and row["failed"] == 0 and row["det_F"] > 0.5
    photos = tmp_path / "photos"                      # images without JSONs: read whole and timed, not scored
    photos.mkdir()
    for name in ("b.png", "c.jpg"):
        (photos / name).write_bytes((folder / "a.png").read_bytes())
    (photos / "notes.txt").write_text("not a page")
    assert ev.main([str(folder), str(photos), "--split", "val", "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [(r["set"], r["split"], r["pages"]) for r in rows] == [("set", "val", 1), ("photos", "all", 2)]
    assert rows[1]["s_per_page"] > 0 and "tok_F" not in rows[1] and "det_F" not in rows[1]
    assert " - " in capsys.readouterr().out.splitlines()[-1]           # the photos' row: no scores
    assert ev.main([str(photos), "--crops"]) == 2
    assert "--crops needs ground truth" in capsys.readouterr().err
    monkeypatch.setattr(detection, "weights_path", lambda: None)
    assert ev.main([str(folder)]) == 3
    assert "no weights yet for the detector" in capsys.readouterr().err
    assert ev.main([str(folder), "--detect"]) == 3
    assert "no weights yet for the detector" in capsys.readouterr().err
    assert ev.main([str(folder), "--crops", "--quiet"]) == 0   # the recognizer alone still works
    assert "project" in capsys.readouterr().out


@pytest.mark.skipif(not __import__("shutil").which("tesseract"), reason="tesseract not installed")
def test_eval_cli_with_tesseract_prints_all_metrics(tmp_path, capsys):
    from synth import pageset
    from synth.pages import PageGenerator

    p = PageGenerator(seed=5, allow_fallback_fonts=True).page(0, layout="letter", degrade=False, geometry=False)
    pageset.write(tmp_path, "a", p.image, p.to_json(""))
    out_json = tmp_path / "r.json"
    assert ev.main([str(tmp_path), "--system", "tesseract", "--quiet", "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    for col in ev.PAGE_COLS:
        assert col in table
    row = json.loads(out_json.read_text())["results"][0]
    assert row["system"] == "tesseract" and row["pages"] == 1
    assert row["det_R"] > 0.8 and row["tok_F"] > 0.6 and row["seg_CER"] < 0.3  # a clean rendered letter


# A detected line 400 x 20 px at the top-left of the page: h = 20, so the strip's 0.3 h margin is 6 px and
# the end slack 1.2 h is 24 px.
ROW = (0, 100, 400, 120)
TOTAL = ((10, 100, 150, 120), "  TOTAL\n", False)
AMOUNT = ((210, 101, 390, 119), "RM 5.90", False)


@pytest.mark.parametrize("extra, expected", [
    ([], "TOTAL RM 5.90"),                                         # left to right, whitespace collapsed
    ([((0, 116, 200, 136), "next row", False)], "TOTAL RM 5.90"),  # 4 px of 20 = 0.2 <= 0.3: a neighbour
    ([((0, 110, 200, 130), "half", False)], None),                 # 10 px of 20 = 0.5: the line straddles rows
    ([((160, 100, 200, 120), "x", True)], None),                   # an ignored segment on the line
    ([((160, 100, 200, 120), "  ", False)], None),                 # a segment with no text
    ([((160, 95, 200, 126), "tall", False)], None),                # 31 px > 1.5 x 20: a box spanning rows
    ([((390, 100, 407, 120), "S", False)], None),                  # ends 7 px past the line (> 6): cut off
    ([((390, 100, 405, 120), "S", False)], "TOTAL RM 5.90 S"),     # ends 5 px past: inside the margin
])
def test_row_text(extra, expected):
    assert ev.row_text(ROW, [AMOUNT, TOTAL] + extra) == expected


def test_row_text_refuses_unannotated_ends_and_empty_rows():
    assert ev.row_text(ROW, [((25, 100, 390, 120), "x", False)]) is None     # 25 px before the first: > 24
    assert ev.row_text(ROW, [((24, 100, 376, 120), "x", False)]) == "x"      # 24 px at both ends: allowed
    assert ev.row_text(ROW, [((0, 130, 100, 150), "below", False)]) is None  # nothing on the line
    assert ev.row_text(ROW, [((-7, 100, 100, 120), "x", False)]) is None     # starts 7 px before the line


def test_detected_rows_pairs_each_labelled_strip_with_its_text(monkeypatch):
    from types import SimpleNamespace as NS

    from pipeline.crop import LineCrop

    quads = [np.array([[0, 100], [400, 100], [400, 120], [0, 120]], float),    # TOTAL RM 5.90
             np.array([[0, 200], [300, 200], [300, 220], [0, 220]], float),    # unannotated: left out
             np.array([[20, 300], [120, 300], [120, 316], [20, 316]], float)]  # Date:
    strips = [LineCrop(np.full((32, w), k, np.uint8), np.eye(2, 3)) for k, w in enumerate((640, 480, 200))]

    class FakeOCR:
        def line_strips(self, rgb):
            return None, 0.0, quads, strips

    lines = [NS(box=b, text=t, ignore=i) for b, t, i in (TOTAL, AMOUNT, ((20, 300, 110, 316), "Date:", False))]
    monkeypatch.setattr(ev, "_load", lambda page: None)
    rows = list(ev.detected_rows(FakeOCR(), [NS(lines=lines)], progress=False))
    assert [t for _, t in rows] == ["TOTAL RM 5.90", "Date:"]
    assert [(im.shape[1], int(im[0, 0])) for im, _ in rows] == [(640, 0), (200, 2)]


def test_detected_rows_matches_tilted_lines_in_their_own_frame(monkeypatch):
    """On a page tilted 20 degrees, two close lines' axis boxes overlap each other, so an axis-box match
    labels a detected line with both lines' text; in the line's own frame each covers exactly its own."""
    from types import SimpleNamespace as NS

    from pipeline.crop import LineCrop

    a = np.deg2rad(20.0)
    u, v = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])

    def quad(origin, length, height):
        o = np.asarray(origin, float)
        return np.array([o, o + length * u, o + length * u + height * v, o + height * v])

    gt = [quad((100, 100), 400, 20), quad((100, 128), 400, 20)]
    found = [quad((98, 99), 404, 22), quad((99, 127), 402, 21)]
    strips = [LineCrop(np.full((32, 300), k, np.uint8), np.eye(2, 3)) for k in range(2)]

    class FakeOCR:
        def line_strips(self, rgb):
            return None, 0.0, found, strips

    boxes = [tuple(np.r_[q.min(0), q.max(0)]) for q in gt]
    lines = [NS(box=b, quad=tuple(map(tuple, q)), text=t, ignore=False) for b, q, t in zip(boxes, gt, ("first", "second"))]
    monkeypatch.setattr(ev, "_load", lambda page: None)
    rows = list(ev.detected_rows(FakeOCR(), [NS(lines=lines)], progress=False))
    assert [(t, int(im[0, 0])) for im, t in rows] == [("first", 0), ("second", 1)]
    flat = [NS(box=b, quad=None, text=t, ignore=False) for b, t in zip(boxes, ("first", "second"))]
    assert "first second" in [t for _, t in ev.detected_rows(FakeOCR(), [NS(lines=flat)], progress=False)]
