"""Recognizer: charset, CTC decoding, batching/masking, weight files, training (tiny), public API."""
import argparse
import csv
import re

import numpy as np
import pytest
import torch

from recognition import decoding, preprocess, weightfile
from recognition.charset import Charset, UnknownCharacterError
from recognition.crnn import CRNN, step_x, timesteps
from recognition.predictor import Recognizer
from synth.fonts import FONT_DIRS, _scan_zh


# ---- charset ------------------------------------------------------------------------------------------
def test_charset_round_trip_and_blank():
    cs = Charset("ab c")
    assert cs.blank == 0 and len(cs) == 5               # blank + 4 characters
    assert cs.encode("a cab") == [1, 3, 4, 1, 2]
    assert cs.decode([0, 1, 0, 3, 4, 1, 2, 0]) == "a cab"  # blanks dropped, nothing collapsed
    assert Charset.from_dict(cs.to_dict()) == cs
    with pytest.raises(ValueError, match="outside"):
        cs.decode([5])
    with pytest.raises(ValueError, match="twice"):
        Charset("abca")


def test_charset_refuses_unknown_characters_clearly():
    cs = Charset.from_file()
    assert len(cs) == len(cs.chars) + 1 and "€" in cs and "…" in cs and " " in cs
    assert cs.decode(cs.encode("Total: €12.50 – “paid” …")) == "Total: €12.50 – “paid” …"
    with pytest.raises(UnknownCharacterError) as err:
        cs.encode("box ☐ here")
    assert "U+2610" in str(err.value) and "\n" not in str(err.value)
    assert cs.unknown("a☐b☑☐") == ["☐", "☑"]


def test_the_chinese_charset_round_trips_and_folds_full_width_ascii():
    from synth.zh import charset_chars, gb2312_hanzi

    cs = Charset.from_file("charsets/zh.txt")
    assert cs.chars == charset_chars()                          # the shipped file is what synth.zh writes
    hanzi = gb2312_hanzi()
    assert len(hanzi) == 6763 and len(gb2312_hanzi(1)) == 3755 and hanzi[:2] == "啊阿"
    assert all(c in cs for c in hanzi) and all(c in cs for c in Charset.from_file().chars)   # English too
    line = "发票号码：05467891，金额￥1,234.50（壹仟贰佰叁拾肆元伍角）iPhone 15"
    assert cs.decode(cs.encode(line)) == line
    # full-width ASCII the charset lacks reads as ASCII; the Chinese comma and colon it lists stay
    assert cs.normalize("ＡＢＣ１２３％，：\u3000ｅｎｄ") == "ABC123%，： end"
    assert cs.decode(cs.encode("ｉＰｈｏｎｅ１５")) == "iPhone15"
    assert Charset.from_file().normalize("Ｔｏｔａｌ，") == "Total,"    # English: every full-width form folds
    assert Charset.from_dict(cs.to_dict()) == cs


def test_case_pairs_cover_ascii_letters():
    cs = Charset.from_file()
    pairs = dict(cs.case_pairs())
    assert len(pairs) == 26
    assert cs.decode([next(iter(pairs))]).isupper()
    assert pairs[cs.encode("Q")[0]] == cs.encode("q")[0]


# ---- decoding -----------------------------------------------------------------------------------------
def _probs(rows, n_classes=4):
    """Each row: {class: prob}; the rest of the mass spread evenly (tiny) so rows sum to 1."""
    p = np.full((len(rows), n_classes), 0.0)
    for t, r in enumerate(rows):
        for c, v in r.items():
            p[t, c] = v
        rest = [c for c in range(n_classes) if c not in r]
        p[t, rest] = (1 - sum(r.values())) / max(1, len(rest))
    return p


def test_greedy_collapses_repeats_and_reports_steps():
    # path: a a _ a b b _  -> "aab"; the second 'a' starts at t=3; 'b' is most probable at t=5
    p = _probs([{1: .9}, {1: .6}, {0: .8}, {1: .7}, {2: .5}, {2: .95}, {0: .9}])
    d = decoding.greedy(p)
    assert d.ids == [1, 1, 2]
    assert d.steps == [0, 3, 5]
    assert d.confs == pytest.approx([.9, .7, .95])
    assert d.confidence == pytest.approx((.9 + .7 + .95) / 3)
    assert decoding.greedy(_probs([{0: .9}] * 3)).ids == [] and decoding.greedy(_probs([{0: .9}])).confidence == 0.0


def test_beam_search_beats_greedy_where_paths_add_up():
    # Two steps, classes blank/a. Best path is "_ _" (0.36) -> "" ; but "a" collects a_ + _a + aa:
    # 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64 > 0.36, so the beam search reads "a".
    p = np.array([[0.6, 0.4], [0.6, 0.4]])
    assert decoding.greedy(p).ids == []
    d = decoding.beam_search(p, beam_width=4)
    assert d.ids == [1]
    assert d.steps == [0] and d.confs == pytest.approx([0.4])   # the best path reading "a" ("a_", tied with "_a")


def test_beam_search_agrees_with_greedy_on_peaked_input():
    p = _probs([{1: .97}, {0: .97}, {1: .97}, {2: .97}, {2: .97}, {0: .97}, {3: .97}])
    g, b = decoding.greedy(p), decoding.beam_search(p, beam_width=8)
    assert b.ids == g.ids == [1, 1, 2, 3]
    assert b.steps == g.steps == [0, 2, 3, 6] and b.confs == pytest.approx(g.confs)
    with pytest.raises(ValueError):
        decoding.beam_search(p, beam_width=0)
    # a long line (more than 127 alignment states): same string and steps as greedy
    rows = [{c: .95} for c in ([1, 0, 2, 3, 0] * 40)]
    g, b = decoding.greedy(_probs(rows)), decoding.beam_search(_probs(rows), beam_width=4)
    assert len(g.ids) == 120 and b.ids == g.ids and b.steps == g.steps


def test_char_lm_golden_values_normalization_and_case_folding(tmp_path):
    import math

    from recognition.lm import EOS, CharLM

    # One line "ab", order 2. Unigram counts a:1 b:1 EOS:1, so N("") = 3, T("") = 3, vocabulary V = 3 (a, b, EOS).
    # P(a) = (1 + 3 * 1/3) / (3 + 3) = 1/3; after "a" (N = 1, T = 1): P(b|a) = (1 + 1 * 1/3) / 2 = 2/3,
    # P(a|a) = (0 + 1 * 1/3) / 2 = 1/6; the line start history BOS saw only "a": P(a|BOS) = (1 + 1/3) / 2.
    lm = CharLM.train(["ab"], order=2)
    assert lm.vocab == 3
    assert lm.logp("a", "b") == pytest.approx(math.log(2 / 3))
    assert lm.logp("a", "a") == pytest.approx(math.log(1 / 6))
    assert lm.logp("", "a") == pytest.approx(math.log(2 / 3))
    assert lm.logp("xyz", "a") == pytest.approx(math.log(1 / 3))     # unseen history: the unigram model
    # normalized after any history, the end of line included; case never matters
    lm = CharLM.train(["Invoice No 118", "invoice total", "TOTAL 12.50"], order=4, min_count=1)
    symbols = sorted(set("invoice no 118 total 12.50")) + [EOS]
    assert len(symbols) == lm.vocab
    for hist in ("", "inv", "Total 1", "zz q"):
        assert sum(math.exp(lm.logp(hist, c)) for c in symbols) == pytest.approx(1.0)
    assert lm.logp("INVO", "I") == lm.logp("invo", "i") > lm.logp("invo", "x")
    assert lm.score("total") > lm.score("tatol")
    lm.save(tmp_path / "lm.json.gz")
    back = CharLM.load(tmp_path / "lm.json.gz")
    assert (back.order, back.vocab, back.counts) == (lm.order, lm.vocab, lm.counts)
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable language model file"):
        CharLM.load(tmp_path / "bad.json.gz")
    with pytest.raises(ValueError, match="no text"):
        CharLM.train(["", "  "])


def test_recognizers_of_one_process_share_a_language_model_file_until_it_changes(tmp_path):
    # the OCRmyPDF plugin loads the models once per worker thread: each would hold its own ~160 MB zh model
    import os
    import threading

    from recognition.lm import CharLM

    path = tmp_path / "lm.json.gz"
    CharLM.train(["total 12.50"], order=3).save(path)
    got = []
    threads = [threading.Thread(target=lambda: got.append(CharLM.shared(path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(lm is got[0] for lm in got)
    assert CharLM.shared(path) is got[0] and CharLM.load(path) is not got[0]
    CharLM.train(["subtotal 3.20"], order=3).save(path)              # a new file at the same path
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))
    again = CharLM.shared(path)
    assert again is not got[0] and again.counts == CharLM.load(path).counts != got[0].counts


def test_a_language_model_order_below_one_is_refused_not_replaced(tmp_path, capsys):
    from recognition.lm import main

    with pytest.raises(SystemExit) as exc:
        main(["--order", "0", "--out", str(tmp_path / "lm.json.gz")])
    assert exc.value.code == 2 and "--order must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "lm.json.gz").exists()


def test_each_language_ships_its_own_language_model():
    import recognition
    from recognition.lm import CharLM

    assert recognition.lm_path() == recognition.lm_path("en") != recognition.lm_path("zh")
    en, zh = CharLM.load(recognition.lm_path("en")), CharLM.load(recognition.lm_path("zh"))
    assert zh.provenance["lang"] == "zh" and zh.vocab > 6000 > en.vocab
    assert zh.score("发票号码") > zh.score("发漂号吗")            # a word over look-alikes
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        recognition.lm_path("fr")


def test_beam_search_with_a_language_model_picks_the_likelier_spelling():
    from recognition.lm import CharLM

    # classes: blank, t, h, e, a. The image reads "th" clearly, then 'a' (0.55) a little over 'e' (0.45).
    chars = ["", "t", "h", "e", "a"]
    p = _probs([{1: .98}, {0: .98}, {2: .98}, {0: .98}, {4: .55, 3: .45}, {0: .98}], 5)
    lm = CharLM.train(["the"] * 20 + ["that"], order=3)
    assert decoding.beam_search(p, 8).ids == [1, 2, 4]                                   # "tha" without it
    assert decoding.beam_search(p, 8, lm=lm, chars=chars, lm_weight=0.0).ids == [1, 2, 4]
    d = decoding.beam_search(p, 8, lm=lm, chars=chars, lm_weight=0.5)
    assert d.ids == [1, 2, 3] and d.steps == [0, 2, 4] and d.confs[2] == pytest.approx(.45)   # "the"
    with pytest.raises(ValueError, match="needs chars"):
        decoding.beam_search(p, 8, lm=lm, lm_weight=0.5)


def test_timestep_geometry():
    assert [timesteps(w) for w in (8, 100, 101, 103, 104)] == [3, 26, 26, 26, 27]
    model = CRNN(5, width=0.25, hidden=16).eval()
    for w in (8, 37, 100):
        assert model(torch.zeros(1, 1, 32, w)).shape == (timesteps(w), 1, 5)
    assert step_x(0) == 0 and step_x(10) == 40


# ---- predictor / batching -----------------------------------------------------------------------------
def _text_crop(text, h=30):
    import cv2

    img = np.full((h, 12 * len(text) + 10, 3), 255, np.uint8)
    cv2.putText(img, text, (5, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def test_batch_masking_gives_the_same_output_alone_and_beside_wider_crops():
    torch.manual_seed(0)
    cs = Charset("abcdefghij")
    model = CRNN(len(cs), width=0.25, hidden=16).eval()
    rec = Recognizer(model, cs)
    short, wide = _text_crop("abc"), _text_crop("abcdefghijabcdefghij")
    lines = [preprocess.resize_height(preprocess.to_gray(c)) for c in (short, wide)]
    alone, _ = rec._forward(lines[:1])
    both, widths = rec._forward(lines)
    t = timesteps(widths[0])
    assert both.shape[0] > alone.shape[0] > t       # the batch pads the short crop further
    np.testing.assert_allclose(alone[:t, 0], both[:t, 0], atol=1e-5)
    assert [r.text for r in rec([short])] == [rec([wide, short, wide])[1].text]


def test_shipped_recognizer_reads_a_line_the_same_alone_and_in_a_batch():
    import recognition
    from synth.lines import LineGenerator

    assert recognition.weights_path() is not None, "the package must ship recognizer weights"
    rec = Recognizer.from_file(recognition.weights_path())
    gen = LineGenerator(seed=424242)
    samples = [gen.line(i, text=t, profile="clean") for i, t in enumerate(
        ["Invoice 2024-118", "Total due: $1,234.50 by 12/31/2026 — thank you for your business"])]
    crops = [s.image for s in samples]
    alone = rec(crops[:1])[0]
    batched = rec([crops[1], crops[0], crops[1]])
    assert batched[1].text == alone.text == "Invoice 2024-118"
    assert batched[0].text == batched[2].text
    assert 0.5 < alone.confidence <= 1.0 and len(alone.char_x) == len(alone.text) == len(alone.char_conf)
    assert alone.char_x == sorted(alone.char_x) and 0 <= alone.char_x[0] < alone.char_x[-1] <= crops[0].shape[1]


def test_bf16_reads_shipped_lines_like_fp32_and_precision_is_checked():
    import recognition
    from synth.lines import LineGenerator

    gen = LineGenerator(seed=77)
    crops = [gen.line(i, text=t, profile="clean").image for i, t in enumerate(
        ["Invoice 2024-118", "Total due: $1,234.50", "Ship to: 17 Elm Street, Springfield"])]
    fp32 = Recognizer.from_file(recognition.weights_path())(crops)
    bf16 = Recognizer.from_file(recognition.weights_path(), precision="bf16")(crops)
    assert [r.text for r in bf16] == [r.text for r in fp32]
    for a, b in zip(fp32, bf16):
        np.testing.assert_allclose(a.char_conf, b.char_conf, atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        Recognizer(CRNN(4, width=0.25, hidden=8), Charset("abc"), precision="fp16")


def test_vertical_text_is_read_turned():
    import recognition
    from synth.lines import LineGenerator

    rec = Recognizer.from_file(recognition.weights_path())
    img = LineGenerator(seed=5).line(0, text="92657391", profile="clean").image
    up = np.ascontiguousarray(np.rot90(img, 1))        # printed bottom-to-top, as up a form's margin
    down = np.ascontiguousarray(np.rot90(img, -1))
    r_up, r_down = rec([up, down])
    assert (r_up.text, r_up.rotation) == ("92657391", 90)
    assert (r_down.text, r_down.rotation) == ("92657391", 270)
    assert Recognizer.from_file(recognition.weights_path(), rotate_tall=False)([up])[0].text != "92657391"


@pytest.mark.skipif(not _scan_zh(FONT_DIRS), reason="no Chinese fonts installed")
def test_light_text_on_a_dark_ground_is_also_read_inverted():
    import recognition
    from pipeline.evaluate import edit_distance
    from synth.fonts import discover_zh
    from synth.lines import LineGenerator
    from synth.zh import charset_chars

    # white print on a dark band (a sign, a table header): the zh network saw it in 3 % of its lines only
    texts = ["合计金额￥1,284.50元", "上海市浦东新区张江路88号", "收银员：王小明 2024年3月5日"]
    gen = LineGenerator(seed=7, fonts=discover_zh(), charset=charset_chars(), lang="zh")
    ink = [preprocess.to_gray(gen.line(i + 1, text=t, profile="clean").image) for i, t in enumerate(texts)]
    light = [255 - g for g in ink]
    assert not any(preprocess.light_on_dark(g) for g in ink) and all(preprocess.light_on_dark(g) for g in light)
    on = Recognizer.from_file(recognition.weights_path("zh"))
    off = Recognizer.from_file(recognition.weights_path("zh"), read_inverted=False)
    r_on, r_off, r_ink = on(light), off(light), on(ink)
    assert not any(r.inverted for r in r_off + r_ink)            # dark ink on light paper: read once, as given
    for a, b in zip(r_on, r_off):                               # the inverted view read, the more confident kept
        assert a.confidence >= b.confidence and (a.inverted or a.text == b.text)
    edits = [sum(edit_distance(t, r.text) for t, r in zip(texts, rs)) for rs in (r_on, r_off)]
    assert edits[0] < edits[1], ([r.text for r in r_on], [r.text for r in r_off])


def test_crops_cut_tight_to_their_text_are_also_read_with_a_margin():
    import recognition
    from pipeline.evaluate import edit_distance
    from synth.config import LineConfig
    from synth.lines import LineGenerator

    texts = ["Invoice 2024-118", "Total due: $1,234.50", "Ship to: 17 Elm Street, Springfield",
             "Payment terms: net 30 days", "Subtotal 45.68", "Cashier: JILLIAN", "Order no. 88-2041-7",
             "Thank you for shopping"]

    def lines(margin_y):
        cfg = LineConfig(margin_x=(0.0, 0.03), margin_y=margin_y, neighbours=0.0, rules=0.0, rotate_deg=0.0)
        gen = LineGenerator(cfg, seed=1)
        return [preprocess.to_gray(gen.line(i, text=t, profile=None, degrade=False).image) for i, t in enumerate(texts)]

    tight, loose = lines((0.0, 0.02)), lines((0.15, 0.3))
    assert all(preprocess.cut_tight(g) for g in tight) and not any(preprocess.cut_tight(g) for g in loose)
    padded, left = preprocess.add_margins(tight[0])
    h, w = tight[0].shape
    assert padded.shape == (h + 2 * round(0.1 * h), w + 2 * left) and left == round(0.2 * h)
    g = tight[0]
    assert padded[0, 0] == padded[-1, -1] == np.median(np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]]))
    rec = Recognizer.from_file(recognition.weights_path())
    on, off = rec(tight), rec(tight, pad_tight=False)
    assert not any(r.padded for r in off + rec(loose))         # crops with margins: read once, as given
    for a, b, g in zip(on, off, tight):                          # the padded view read, the more confident kept
        assert a.confidence >= b.confidence and (a.padded or a.text == b.text)
        assert -0.5 < min(a.char_x) and max(a.char_x) < g.shape[1] + 0.5   # in the crop's own pixels
    edits = [sum(edit_distance(t, r.text) for t, r in zip(texts, rs)) for rs in (on, off)]
    assert edits[0] < edits[1], ([r.text for r in on], [r.text for r in off])


def test_dense_readings_are_read_again_wider_and_the_more_confident_kept():
    torch.manual_seed(0)
    cs = Charset("abcdefghij")
    model = CRNN(len(cs), width=0.25, hidden=16).eval()
    once = Recognizer(model, cs, reread_stretch=1.0)
    twice = Recognizer(model, cs, reread_dense=0.0, reread_stretch=1.3, reread_conf=1.01)   # every non-empty reading
    crops = [_text_crop(t) for t in ("abc", "jihgfedcba", "aabbccddeeffgghh", "fig", "deadbeef")]
    kept = set()
    for crop, r in zip(crops, twice(crops)):
        plain = once([crop])[0]
        wide_img = preprocess.resize_height(preprocess.to_gray(crop), stretch=1.3)     # (32, w')
        wide = once([wide_img])[0]
        if not plain.text:
            assert (r.text, r.stretch) == ("", 1.0)
            continue
        best = wide if wide.confidence > plain.confidence else plain
        assert (r.text, r.stretch) == (best.text, 1.3 if best is wide else 1.0)
        assert r.confidence == pytest.approx(best.confidence, abs=1e-6)
        scale = crop.shape[1] / wide_img.shape[1] if best is wide else 1.0     # x in the crop's own pixels
        np.testing.assert_allclose(r.char_x, [x * scale for x in best.char_x], rtol=1e-6)
        kept.add(r.stretch)
    assert kept == {1.0, 1.3}
    plain, both = once(crops), twice(crops)
    gate = min(p.confidence for p, r2 in zip(plain, both) if r2.stretch == 1.3)   # one the gate keeps
    gated = Recognizer(model, cs, reread_dense=0.0, reread_stretch=1.3, reread_conf=gate)(crops)
    for p, r, r2 in zip(plain, gated, both):     # at or above the gate: the first reading, read once
        assert (r.text, r.stretch) == ((p.text, 1.0) if p.confidence >= gate else (r2.text, r2.stretch))
    with pytest.raises(ValueError, match="reread"):
        Recognizer(model, cs, reread_stretch=0.5)


def test_shipped_recognizer_reads_cramped_type_better_read_again_wider():
    import cv2

    import recognition
    from pipeline.evaluate import edit_distance
    from synth.lines import LineGenerator

    gen = LineGenerator(seed=5)
    on = Recognizer.from_file(recognition.weights_path())
    off = Recognizer.from_file(recognition.weights_path(), reread_stretch=1.0)
    texts = ["millimetre illumination", "Telephone: 555-0199 ext. 214"]
    crops = []
    for i, t in ((4, texts[0]), (5, texts[1])):
        img = gen.line(i, text=t, profile="clean").image
        crops.append(cv2.resize(img, (int(img.shape[1] * 0.45), img.shape[0]), interpolation=cv2.INTER_AREA))
    r_on, r_off = on(crops), off(crops)
    assert [r.stretch for r in r_off] == [1.0, 1.0]
    for a, b in zip(r_on, r_off):     # a first reading at or above the gate is kept as it was, read once
        if b.confidence >= on.reread_conf:
            assert (a.text, a.stretch) == (b.text, 1.0)
    assert 1.3 in [r.stretch for r in r_on]     # squeezed this hard, at least one is read again wider ...
    edits = [sum(edit_distance(t, r.text) for t, r in zip(texts, rs)) for rs in (r_on, r_off)]
    # ... and the two are read better with the second reading on
    assert edits[0] < edits[1], ([r.text for r in r_on], [r.text for r in r_off])


def test_a_language_model_needs_a_beam():
    from dataclasses import replace

    from pipeline.config import RecognizerConfig
    from recognition.lm import CharLM

    lm = CharLM.train(["total"], order=2)
    with pytest.raises(ValueError, match="needs beam_width"):
        Recognizer(CRNN(num_classes=len(Charset.from_file()), width=0.25, hidden=16), Charset.from_file(),
                   lm=lm, lm_weight=0.3, beam_width=1)
    with pytest.raises(ValueError, match="needs beam_width"):
        replace(RecognizerConfig(), beam_width=1, lm_weight=0.3)
    assert replace(RecognizerConfig(), beam_width=1, lm_weight=0.0).lm_weight == 0.0


def test_only_readings_between_beam_above_and_beam_below_are_decoded_again_with_the_language_model():
    from recognition.lm import CharLM

    cs = Charset("thea")                                   # ids 1..4 = t h e a, 0 = blank
    lm = CharLM.train(["the"] * 20 + ["that"], order=3)
    p = _probs([{1: .98}, {0: .98}, {2: .98}, {0: .98}, {4: .55, 3: .45}, {0: .98}], 5)   # greedy "tha", 0.837

    def read(probs, **kw):
        rec = Recognizer(CRNN(len(cs), width=0.25, hidden=8), cs, beam_width=8, lm=lm, lm_weight=0.5, **kw)
        return rec._decode(probs, 1.0).text

    assert read(p, beam_above=0.5, beam_below=0.98) == "the"
    assert read(p, beam_above=0.5, beam_below=0.8) == "tha"          # confident enough: greedy stands
    assert read(p, beam_above=0.9, beam_below=0.98) == "tha"         # too unsure: left alone
    assert Recognizer(CRNN(len(cs), width=0.25, hidden=8), cs, beam_width=8, lm=lm, lm_weight=0.0).lm is None


def test_predictor_takes_rgb_and_gray_and_rejects_bad_crops():
    torch.manual_seed(0)
    cs = Charset("abc")
    rec = Recognizer(CRNN(len(cs), width=0.25, hidden=16), cs)
    rgb = _text_crop("abc")
    gray = rgb[:, :, 0].copy()
    a, b = rec([rgb, gray])
    assert a.text == b.text and a.confidence == pytest.approx(b.confidence)
    assert rec([]) == []
    with pytest.raises(ValueError, match="non-empty"):
        rec([np.zeros((0, 5), np.uint8)])
    with pytest.raises(ValueError, match="uint8"):
        rec([np.zeros((5, 5), np.float32)])


# ---- weight files -------------------------------------------------------------------------------------
def test_weight_file_round_trip(tmp_path):
    torch.manual_seed(1)
    cs = Charset("abc ")
    model = CRNN(len(cs), width=0.25, hidden=16).eval()
    x = torch.randn(2, 1, 32, 40)
    p = weightfile.save(tmp_path / "r.pt", model, cs, {"steps": 3, "data": ["unit test"]}, half=False)
    m2, cs2, prov = weightfile.load(p)
    assert cs2 == cs and prov["steps"] == 3 and m2.arch() == model.arch()
    with torch.no_grad():
        assert torch.equal(model(x), m2(x))
    weightfile.save(tmp_path / "h.pt", model, cs, {}, half=True)
    m3, _, _ = weightfile.load(tmp_path / "h.pt")
    with torch.no_grad():
        assert torch.allclose(model(x), m3(x), atol=0.05)
    assert (tmp_path / "h.pt").stat().st_size < 0.6 * p.stat().st_size


def test_a_factored_output_layer_round_trips_and_costs_less(tmp_path):
    torch.manual_seed(2)
    cs = Charset.from_file("charsets/zh.txt")
    model = CRNN(len(cs), width=0.25, hidden=32, rank=16).eval()
    full = CRNN(len(cs), width=0.25, hidden=32)
    fc_params = lambda m: sum(p.numel() for p in m.fc.parameters())
    assert fc_params(model) == 64 * 16 + 16 * len(cs) + len(cs) < 0.3 * fc_params(full)
    x = torch.randn(2, 1, 32, 48)
    p = weightfile.save(tmp_path / "zh.pt", model, cs, {}, half=False)
    m2, cs2, _ = weightfile.load(p)
    assert m2.arch() == {"num_classes": 6929, "width": 0.25, "hidden": 32, "rank": 16} and cs2 == cs
    with torch.no_grad():
        assert m2(x).shape == (timesteps(48), 2, 6929) and torch.equal(model(x), m2(x))
    assert "rank" not in full.arch()                                  # older files read as before


def test_weight_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"format": "ocr-recognizer/1", "arch": {}, "obj": argparse.Namespace(a=1)}, bad)
    with pytest.raises(weightfile.WeightFileError, match="bad.pt: not a readable weight file") as err:
        weightfile.load(bad)                                  # arbitrary objects refused (weights_only)
    assert "\n" not in str(err.value)
    torch.save({"format": "other"}, bad)
    with pytest.raises(weightfile.WeightFileError, match="not a recognizer weight file"):
        weightfile.load(bad)
    with pytest.raises(weightfile.WeightFileError, match="no such weight file"):
        weightfile.load(tmp_path / "missing.pt")


def test_weight_averaging_is_the_weighted_mean_and_refuses_a_mismatch(tmp_path):
    from recognition.average import average
    from recognition.train import average_main as main

    cs = Charset("abc ")
    files = []
    for seed, steps in ((1, 10), (2, 30)):
        torch.manual_seed(seed)
        model = CRNN(len(cs), width=0.25, hidden=16).eval()
        files.append(weightfile.save(tmp_path / f"m{seed}.pt", model, cs,
                                     {"steps": steps, "data": ["shared", f"only {seed}"], "val": {"s": seed}},
                                     half=False))
    (m1, _, _), (m2, _, _) = weightfile.load(files[0]), weightfile.load(files[1])
    mean, cs2, prov = average(files, [1, 3])                  # weights 0.25 / 0.75
    s1, s2, sm = m1.state_dict(), m2.state_dict(), mean.state_dict()
    floats = [k for k, v in sm.items() if v.is_floating_point()]
    assert any(k.endswith("running_var") for k in floats)    # batch-norm statistics are averaged too
    for k in floats:
        assert torch.allclose(sm[k], 0.25 * s1[k] + 0.75 * s2[k]), k
    assert cs2 == cs and prov["steps"] == 30 and prov["data"] == ["shared", "only 1", "only 2"]
    assert [a["weight"] for a in prov["averaged"]] == [0.25, 0.75] and prov["averaged"][1]["val"] == {"s": 2}
    same, _, _ = average([files[0], files[0]])                # a file averaged with itself reads the same
    x = torch.randn(1, 1, 32, 40)
    with torch.no_grad():
        assert torch.allclose(same(x), m1(x), atol=1e-6)
    weightfile.save(tmp_path / "other.pt", CRNN(len(cs), width=0.25, hidden=8), cs, {})
    with pytest.raises(ValueError, match="other.pt: architecture"):
        average([files[0], tmp_path / "other.pt"])
    weightfile.save(tmp_path / "cs.pt", CRNN(len(Charset("abd ")), width=0.25, hidden=16), Charset("abd "), {})
    with pytest.raises(ValueError, match="cs.pt: charset differs"):
        average([files[0], tmp_path / "cs.pt"])
    with pytest.raises(ValueError, match="one positive weight per file"):
        average(files, [1, 0])
    assert main([str(files[0]), str(tmp_path / "cs.pt"), "--out", str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()
    assert main([*map(str, files), "--out", str(tmp_path / "avg.pt")]) == 0
    assert weightfile.load(tmp_path / "avg.pt")[2]["averaged"][0]["weight"] == 0.5


def test_widening_keeps_what_the_model_computes_and_refuses_to_narrow(tmp_path):
    from recognition.widen import main, widen

    torch.manual_seed(0)
    small = CRNN(7, width=0.25, hidden=16)
    small.train()
    for _ in range(3):                                        # batch-norm statistics away from 0 / 1
        small(torch.randn(4, 1, 32, 60) * 2 + 0.5)
    small.eval()
    x, widths = torch.randn(3, 1, 32, 57), torch.tensor([57, 40, 20])   # masked, variable-width batch
    wide = widen(small, width=0.5, hidden=24, noise=0)
    assert (wide.width, wide.hidden) == (0.5, 24)
    assert wide.cnn[0].out_channels == 32 and wide.rnn.weight_hh_l1.shape == (4 * 24, 24)
    with torch.no_grad():
        want = small(x, widths)
        assert want.abs().max() > 0.05                        # a non-trivial output to keep
        assert torch.allclose(wide(x, widths), want, atol=1e-5)
        noisy = widen(small, width=0.5, hidden=24, noise=0.05)(x, widths)
    assert 0 < (noisy - want).abs().max() < 0.1               # the copies differ, the output barely moves
    assert torch.allclose(widen(small, width=0.25, hidden=16)(x, widths), want, atol=1e-6)   # same size: a copy
    with pytest.raises(ValueError, match="only grows"):
        widen(small, width=0.25, hidden=8)
    cs = Charset("abcdef")
    src = weightfile.save(tmp_path / "s.pt", small, cs, {"steps": 5, "data": ["d"]}, half=False)
    assert main([str(src), "--width", "0.5", "--hidden", "24", "--noise", "0", "--out", str(tmp_path / "w.pt")]) == 0
    model, cs2, prov = weightfile.load(tmp_path / "w.pt")
    assert cs2 == cs and prov["steps"] == 5 and prov["widened"]["from"]["hidden"] == 16
    with torch.no_grad():
        assert torch.allclose(model(x, widths), want, atol=1e-5)
    assert main([str(src), "--width", "0.1", "--hidden", "24", "--out", str(tmp_path / "n.pt")]) == 2
    assert not (tmp_path / "n.pt").exists()


def test_shipped_weights_are_small_and_describe_themselves():
    import recognition

    p = recognition.weights_path()
    assert p is not None and p.stat().st_size <= 40 * 2**20
    blob = torch.load(p, weights_only=True)
    prov = blob["provenance"]
    assert blob["arch"]["num_classes"] == len(blob["charset"]["chars"]) + 1
    assert prov["steps"] > 0 and prov["data"] and "funsd" in prov["val"]
    zh = recognition.weights_path("zh")
    assert zh is not None and zh.stat().st_size <= 40 * 2**20
    model, cs, prov = weightfile.load(zh)
    assert cs == Charset.from_file("charsets/zh.txt") and model.rank == 128    # the zh charset travels inside
    assert prov["steps"] > 0 and "synth" in prov["val"] and not any("shared/data/zh" in d for d in prov["data"])


# ---- training -----------------------------------------------------------------------------------------
def test_reframe_cuts_a_line_tight_to_its_ink_or_adds_ground():
    from recognition.train import reframe

    # a 32 px line: ground 230, "ink" on rows 9..22 (14 rows) across columns 20..99, 150 columns in all
    line = np.full((32, 150), 230, np.uint8)
    line[9:23, 20:100:3] = 20
    faint = np.full((32, 150), 230, np.uint8)
    faint[15:17, 20:100] = 20                      # ink on 2 rows of 32: too little to cut to
    for seed in range(20):
        cut = np.random.default_rng(seed).random() < 0.5                 # reframe's first draw: which way
        out = reframe(line, np.random.default_rng(seed), 800)
        ink_rows = np.flatnonzero((out < 128).any(1))
        assert out.shape[0] == 32 and out.dtype == np.uint8
        if cut:     # rows 8..23 at most (a pixel either side) stretched to 32: the ink fills the height
            assert ink_rows[0] <= 2 and ink_rows[-1] >= 29 and 150 * 32 / 16 - 1 <= out.shape[1] <= 150 * 32 / 14 + 1
            assert reframe(faint, np.random.default_rng(seed), 800) is faint
        else:       # ground added (up to 0.35 of the height above and below, 0.8 at each end)
            assert ink_rows[-1] - ink_rows[0] + 1 <= 14 and out[0, 0] == out[-1, -1] == 230
            assert 150 * 32 / (32 + 2 * 11.2) - 1 <= out.shape[1] <= 150 + 2 * 0.8 * 32 + 1
    assert 5 <= sum(np.random.default_rng(seed).random() < 0.5 for seed in range(20)) <= 15     # both ways seen


def test_case_fold_scores_both_cases_and_stays_normalized():
    from recognition.train import case_fold

    cs = Charset("Aab")
    z = torch.log(torch.tensor([[[0.1, 0.2, 0.6, 0.1]]]))     # T=1,B=1: blank, A, a, b
    f = case_fold(z, cs.case_pairs()).exp()[0, 0]
    assert f.tolist() == pytest.approx([0.1, 0.8, 0.0, 0.1], abs=1e-6) and f.sum().item() == pytest.approx(1.0)


def test_case_blind_labels_teach_neither_case():
    # one frame, label "A"; the frame leans to "a" (0.5) over "A" (0.3). A case-blind row must cost
    # -log(0.3 + 0.5) and its gradient must move both cases' logits alike. The fold of stages up to 21
    # (log-sum put over the full softmax) gave the same loss, but torch's ctc_loss gradient, exp(log_probs)
    # minus occupancy, then pushed "a" down (+0.125) and "A" up (-0.225): it taught upper case.
    from recognition.train import ctc_per_line

    cs = Charset("Aab")                                       # classes: blank, A, a, b
    logits = torch.log(torch.tensor([[0.1, 0.3, 0.5, 0.1]] * 3)).reshape(1, 3, 4)
    widths, blind = torch.tensor([0, 0, 0]), torch.tensor([False, True, True])
    z = logits.clone().requires_grad_(True)
    loss = ctc_per_line(z, widths, [[1], [1], [2]], blind, cs.case_pairs(), cs.blank)  # row 3's label: "a"
    loss.sum().backward()
    g = z.grad[0]
    assert loss[0].item() == pytest.approx(-np.log(0.3))      # a row with case: plain CTC
    assert loss[1].item() == pytest.approx(-np.log(0.8)) and loss[2].item() == pytest.approx(-np.log(0.8))
    assert g[0].tolist() == pytest.approx([0.1, -0.7, 0.5, 0.1], abs=1e-5)   # softmax minus one-hot
    for row in (1, 2):
        # d(-log(p_A + p_a)) = p - [0, 0.3, 0.5, 0]/0.8, the pair's share then split evenly: -0.2 / 2 each
        assert g[row].tolist() == pytest.approx([0.1, -0.1, -0.1, 0.1], abs=1e-5)


def test_synthetic_cache_grows_by_drawing_only_the_new_lines(tmp_path, monkeypatch):
    import recognition.train as tr

    cs = Charset.from_file()
    small = tr.synth_lines(3, 5, "synth/default.yaml", cs, 256, 1, tmp_path, False)
    drawn = []
    real_chunk = tr._synth_chunk
    monkeypatch.setattr(tr, "_synth_chunk", lambda job: drawn.append(job[1:3]) or real_chunk(job))
    grown = tr.synth_lines(5, 5, "synth/default.yaml", cs, 256, 1, tmp_path, False)
    assert drawn == [(3, 2)]                                # start 3, count 2: the 3 cached lines are reused
    fresh = tr.synth_lines(5, 5, "synth/default.yaml", cs, 256, 1, None, False)
    assert grown[1] == fresh[1] and small[1] == fresh[1][:3]
    assert all(np.array_equal(a, b) for a, b in zip(grown[0], fresh[0]))
    assert len(list(tmp_path.glob("synth_5_*.npz"))) == 2  # the 3- and 5-line caches
    drawn.clear()
    reread = tr.synth_lines(5, 5, "synth/default.yaml", cs, 256, 1, tmp_path, False)
    assert drawn == [] and reread[1] == fresh[1]            # read back from the 5-line cache, nothing drawn
    assert all(np.array_equal(a, b) for a, b in zip(reread[0], fresh[0]))
    tr.synth_lines(4, 5, "synth/default.yaml", cs, 300, 1, tmp_path, False)
    assert drawn == [(0, 4)]                                # another max_width: nothing cached is reused


def test_separator_rows_are_cached_apart_trained_on_and_validated(tmp_path):
    from dataclasses import replace

    import recognition.train as tr

    cs = Charset.from_file()
    plain = tr.synth_lines(4, 5, "synth/default.yaml", cs, 256, 1, tmp_path, False)
    seps = tr.synth_lines(4, 5, "synth/default.yaml", cs, 256, 1, tmp_path, False, "separator")
    assert sorted(p.name.split("_")[0] for p in tmp_path.glob("*.npz")) == ["synth", "synth-separator"]
    assert seps[1] != plain[1] and all(re.search(r"([-=*._#~+:])(?: ?\1)+", t) for t in seps[1]), seps[1]
    assert tr.synth_lines(4, 5, "synth/default.yaml", cs, 256, 1, tmp_path, False, "separator")[1] == seps[1]
    cfg = _tiny_cfg(tmp_path, steps=4)
    cfg = replace(cfg, data=replace(cfg.data, separators=0.5, separator_lines=16), val_every=4)
    metrics = tr.train(cfg, tmp_path / "run", progress=False)
    assert set(metrics) == {"synth", "separators"}
    _, _, prov = weightfile.load(tmp_path / "run" / "final.pt")
    assert any(s.startswith("synthetic separator rows") and "16 lines" in s for s in prov["data"]), prov["data"]


def test_line_cache_is_streamed_in_bands_into_the_npz_savez_would_write(tmp_path):
    import recognition.train as tr

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (32, w), dtype=np.uint8) for w in (5, 1, 17, 8, 3)]
    texts = ["ab", "c", "defg", "", "h i"]
    tr._save_lines(tmp_path / "c.npz", imgs, texts, rows=2)     # bands of 2, 2 and 1 lines
    np.savez(tmp_path / "ref.npz", pixels=np.concatenate(imgs, 1), offsets=np.cumsum([0, 5, 1, 17, 8, 3]),
             texts=np.array(texts))
    got, ref = np.load(tmp_path / "c.npz"), np.load(tmp_path / "ref.npz")
    assert sorted(got.files) == sorted(ref.files) == ["offsets", "pixels", "texts"]
    for k in ref.files:
        assert got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]), k
    assert got["offsets"].tolist() == [0, 5, 6, 23, 31, 34]
    assert not list(tmp_path.glob("*.tmp.npz"))


def _tiny_cfg(tmp_path, **optim):
    from recognition.train import DataConfig, ModelConfig, OptimConfig, TrainConfig

    return TrainConfig(
        model=ModelConfig(width=0.25, hidden=32),
        data=DataConfig(synth_lines=48, synth_seed=3, val_synth=8, max_width=256, augment=0.0),
        optim=OptimConfig(**{"steps": 60, "batch_size": 16, "batch_pixels": 4096, "lr": 3e-3, "warmup": 5, **optim}),
        val_every=60, ckpt_every=20, log_every=10, workers=1, threads=2)


def _losses(log):
    with open(log, newline="") as fh:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(fh) if r["loss"]]


def test_tiny_training_run_lowers_the_loss_and_resumes(tmp_path):
    from recognition.train import train

    cfg = _tiny_cfg(tmp_path)
    out = tmp_path / "run"
    train(cfg, out, progress=False, max_steps=30)          # "interrupted" at step 30
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["step"] == 30 and not (out / "final.pt").exists()    # the schedule has not ended
    metrics = train(cfg, out, progress=False)              # resumes and finishes
    losses = _losses(out / "log.csv")
    assert [s for s, _ in losses] == [10, 20, 30, 40, 50, 60]
    assert losses[-1][1] < 0.6 * losses[0][1], losses
    assert set(metrics) == {"synth"} and (out / "best.pt").is_file() and (out / "curves.png").is_file()
    m, cs, prov = weightfile.load(out / "best.pt")
    assert prov["steps"] == 60 and cs == Charset.from_file()
    m, cs, prov = weightfile.load(out / "final.pt")
    assert prov["steps"] == 60 and prov["val"] == metrics


def test_training_snapshots_keep_a_weight_file_at_every_validation(tmp_path):
    from dataclasses import replace

    from recognition.train import train

    out = tmp_path / "run"
    train(replace(_tiny_cfg(tmp_path, steps=20), val_every=10, snapshots=True), out, progress=False)
    assert sorted(p.name for p in out.glob("step_*.pt")) == ["step_000010.pt", "step_000020.pt"]
    m10, _, p10 = weightfile.load(out / "step_000010.pt")
    m20, _, p20 = weightfile.load(out / "step_000020.pt")
    mf, _, pf = weightfile.load(out / "final.pt")
    assert (p10["steps"], p20["steps"]) == (10, 20) and p20["val"] == pf["val"]
    s10, s20, sf = m10.state_dict(), m20.state_dict(), mf.state_dict()
    assert all(torch.equal(s20[k], sf[k]) for k in sf)         # the last snapshot is the final weights
    assert not all(torch.equal(s10[k], s20[k]) for k in s20)   # and the first one is an earlier point


def test_training_starts_from_a_weight_file_and_refuses_a_mismatch(tmp_path):
    from dataclasses import replace

    from recognition.train import train

    cs = Charset.from_file()
    torch.manual_seed(11)
    src = CRNN(len(cs), 0.25, 32)
    weightfile.save(tmp_path / "init.pt", src, cs, {"data": ["stage one"], "steps": 7}, half=False)
    cfg = _tiny_cfg(tmp_path, lr=0.0)  # no update: the run's weights stay those of the file
    cfg = replace(cfg, model=replace(cfg.model, init=str(tmp_path / "init.pt")))
    train(cfg, tmp_path / "run", progress=False, max_steps=1)
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    for name, p in src.named_parameters():  # parameters, not BatchNorm's running statistics
        assert torch.equal(ck["model"][name], p.detach()), name
    wide = replace(cfg, model=replace(cfg.model, width=0.5))
    with pytest.raises(SystemExit, match="width 0.25, hidden 32, rank 0 differ"):
        train(wide, tmp_path / "run2", progress=False, max_steps=1)
    missing = replace(cfg, model=replace(cfg.model, init=str(tmp_path / "nope.pt")))
    with pytest.raises(SystemExit, match="no such weight file"):
        train(missing, tmp_path / "run3", progress=False, max_steps=1)


def test_training_takes_the_backbone_of_another_charsets_weights(tmp_path):
    from dataclasses import replace

    from recognition.train import train

    torch.manual_seed(12)
    small = Charset("abc")                                    # another charset, a full output layer
    src = CRNN(len(small), 0.25, 32)
    weightfile.save(tmp_path / "en.pt", src, small, {"data": ["latin"], "steps": 9}, half=False)
    cfg = _tiny_cfg(tmp_path, lr=0.0)
    cfg = replace(cfg, model=replace(cfg.model, rank=8, init_backbone=str(tmp_path / "en.pt")))
    train(cfg, tmp_path / "run", progress=False, max_steps=1)
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    for name, p in src.named_parameters():
        if name.startswith(("cnn.", "rnn.")):
            assert torch.equal(ck["model"][name], p.detach()), name
    assert ck["model"]["fc.1.weight"].shape == (len(Charset.from_file()), 8)   # this run's own output layer
    wide = replace(cfg, model=replace(cfg.model, hidden=48))
    with pytest.raises(SystemExit, match="width 0.25, hidden 32 differ"):
        train(wide, tmp_path / "run2", progress=False, max_steps=1)


def test_line_losses_score_each_line_as_it_scores_alone():
    from recognition.train import ctc_per_line, line_losses

    cs = Charset.from_file()
    torch.manual_seed(5)
    model = CRNN(len(cs), 0.25, 32).eval()
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (32, w), dtype=np.uint8) for w in (90, 40, 300, 41, 160)]
    labels = [cs.encode(t) for t in ("Total", "No", "Invoice 2024-118", "ok", "€ 12.50")]
    got = line_losses(model, imgs, labels, cs.blank, torch.device("cpu"), batch_pixels=350)  # [40 41 90] [160] [300]
    with torch.inference_mode():
        for im, lb, loss in zip(imgs, labels, got):
            x, w = preprocess.batch([im])
            alone = ctc_per_line(model(x, w), w, [lb], torch.zeros(1, dtype=torch.bool), [], cs.blank)
            assert loss == pytest.approx(float(alone[0]), rel=1e-4)
    assert len(set(got.tolist())) == 5 and not model.training


def test_hard_line_mining_ranks_by_the_starting_weights_and_draws_from_the_worst(tmp_path):
    from dataclasses import replace

    from recognition.train import hard_lines, train

    cs = Charset.from_file()
    torch.manual_seed(11)
    weightfile.save(tmp_path / "init.pt", CRNN(len(cs), 0.25, 32), cs, {"data": ["stage one"], "steps": 7}, half=False)
    cfg = _tiny_cfg(tmp_path)
    hard = replace(cfg.data, synth_hard=0.5, synth_hard_scored=40, synth_hard_top=0.25)
    with pytest.raises(SystemExit, match="synth_hard needs model.init"):
        train(replace(cfg, data=hard), tmp_path / "run0", progress=False, max_steps=1)
    cfg = replace(cfg, data=hard, model=replace(cfg.model, init=str(tmp_path / "init.pt")))
    with pytest.raises(SystemExit, match="must lie in"):
        train(replace(cfg, data=replace(hard, synth_hard=1.5)), tmp_path / "run1", progress=False, max_steps=1)
    out = tmp_path / "run"
    train(cfg, out, progress=False, max_steps=2)
    losses = np.load(out / "synth_hard.npy")
    assert losses.shape == (40,) and (losses > 0).all()
    train(cfg, out, progress=False, max_steps=2)           # the resumed run keeps the first ranking
    assert np.array_equal(np.load(out / "synth_hard.npy"), losses)
    idx = hard_lines(None, [None] * 48, [], cs.blank, hard, out / "synth_hard.npy", torch.device("cpu"))
    assert len(idx) == 10 and losses[idx].min() >= np.delete(losses, idx).max()   # the worst quarter
    assert list(losses[idx]) == sorted(losses[idx], reverse=True)
    train(cfg, out, progress=False)
    _, _, prov = weightfile.load(out / "final.pt")
    assert any("the 10 of the first 40 of those synthetic lines" in s for s in prov["data"]), prov["data"]
    with pytest.raises(SystemExit, match="ranks 40 lines, the config 30"):
        train(replace(cfg, data=replace(hard, synth_hard_scored=30)), out, progress=False, max_steps=1)


def test_training_on_detected_rows_cuts_them_once_and_validates_on_them(tmp_path, monkeypatch):
    from dataclasses import replace

    from pipeline import evaluate
    from recognition.train import detected_rows, train
    from synth import pageset
    from synth.pages import PageGenerator

    rows_cut = evaluate.PageRows()                       # the page pipeline's cutter, as ocr-train passes it
    gen = PageGenerator(seed=5, allow_fallback_fonts=True)
    for i in range(3):                                   # two train pages, one validation page
        p = gen.page(i, layout="letter", degrade=False)
        pageset.write(tmp_path / "forms", f"p{i}", p.image, p.to_json(""))
    cs = Charset.from_file()
    rows, texts, skipped, n_pages = detected_rows(tmp_path / "forms", "train", cs, False, 256, tmp_path / "cache",
                                                  rows_cut, False)
    assert n_pages == 2 and skipped == {} and len(rows) >= 4 and len(rows) == len(texts)
    assert all(im.shape[0] == 32 and im.shape[1] <= 256 and t.strip() == t and t for im, t in zip(rows, texts))
    cfg = _tiny_cfg(tmp_path, steps=4)
    cfg = replace(cfg, data=replace(cfg.data, rows={str(tmp_path / "forms"): 0.5}), val_every=4)
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match="cut pages with the page pipeline"):
        train(cfg, out, progress=False, max_steps=2)     # no cutter: this package cannot cut pages itself
    train(cfg, out, progress=False, max_steps=2, rows=rows_cut)
    assert len(list((out / "cache").glob("rows_forms_*.npz"))) == 2        # the train and the val split

    def no_detection(*a, **k):
        raise AssertionError("rows cut again instead of read from the cache")

    monkeypatch.setattr(evaluate, "detected_rows", no_detection)
    metrics = train(cfg, out, progress=False, rows=rows_cut)     # resumes, reading both splits' rows from the cache
    assert set(metrics) == {"synth", "forms-rows"}
    _, _, prov = weightfile.load(out / "final.pt")
    assert any(f"{len(rows)} lines found by the shipped detector on its 2 pages" in s for s in prov["data"]), prov["data"]


def test_training_on_synthetic_photo_pages_draws_and_validates_on_their_detected_rows(tmp_path):
    from dataclasses import replace

    from pipeline.evaluate import PageRows
    from recognition.train import train

    cfg = _tiny_cfg(tmp_path, steps=2)
    cfg = replace(cfg, data=replace(cfg.data, synth_pages=4, synth_pages_weight=0.5, skip_unknown=True), val_every=2)
    out = tmp_path / "run"
    metrics = train(cfg, out, progress=False, rows=PageRows())
    assert set(metrics) == {"synth", "synth-pages-rows"}
    assert len(list((out / "cache").glob("pages_3_4_*/*.json"))) == 4          # rendered once, in the cache
    assert len(list((out / "cache").glob("rows_pages_3_4_*_*.npz"))) == 2      # 3 train pages, 1 validation page
    _, _, prov = weightfile.load(out / "final.pt")
    assert any("synthetic pages (synth/photo.yaml, seed 3)" in s and "on 3 synthetic" in s for s in prov["data"]), \
        prov["data"]


def test_the_recipe_chain_trains_averages_and_resumes_end_to_end(tmp_path, capsys):
    """ocr-train recognizer --recipe with a tiny schedule: two runs, the second started from the first's
    file, then their mean scored on the second's validation sets; a second call finds every step done."""
    import yaml

    import configs
    from pipeline.cli import ocr_train

    recipe = {"steps": [{"name": "a", "settings": configs.to_dict(_tiny_cfg(tmp_path, steps=4)) | {"val_every": 4}},
                        {"name": "b", "settings": {"model": {"init": "@a"}, "optim": {"steps": 2}, "val_every": 2}},
                        {"name": "m", "average": ["@a", "@b"], "weights": [1, 3], "score_on": "b"}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    assert ocr_train(["recognizer", "--recipe", str(tmp_path / "r.yaml"), "--out", str(out), "--quiet"]) == 0
    _, _, prov_b = weightfile.load(out / "b" / "final.pt")
    assert prov_b["data"][0].startswith(f"initialised from {out / 'a' / 'final.pt'} (4 steps")
    _, _, prov = weightfile.load(out / "m.pt")
    assert [a["weight"] for a in prov["averaged"]] == [0.25, 0.75] and set(prov["val"]) == {"synth"}
    assert "recipe done" in capsys.readouterr().err
    assert ocr_train(["recognizer", "--recipe", str(tmp_path / "r.yaml"), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err.count(": done (") == 3


def test_training_refuses_unknown_characters_in_real_labels(tmp_path):
    from recognition.train import RealPool
    from synth import pageset

    img = np.full((40, 200, 3), 255, np.uint8)
    rec = {"width": 200, "height": 40, "lines": [{"box": [5, 5, 150, 30], "text": "☐ yes", "ignore": False}]}
    for i in range(3):
        pageset.write(tmp_path / "set", f"p{i}", img, rec)
    cs = Charset.from_file()
    with pytest.raises(UnknownCharacterError, match="U\\+2610"):
        RealPool(tmp_path / "set", "train", cs, skip_unknown=False, case_blind=False)
    pool = RealPool(tmp_path / "set", "train", cs, skip_unknown=True, case_blind=False)
    assert len(pool) == 0 and pool.skipped == {"☐": 2}


# ---- public API ---------------------------------------------------------------------------------------
def test_pipeline_load_recognizes_crops_without_a_detector(monkeypatch):
    import detection
    import pipeline
    from synth.lines import LineGenerator

    monkeypatch.setattr(detection, "weights_path", lambda: None)
    ocr = pipeline.load(threads=2)
    rec = ocr.recognizer                      # the shipped language model, built from train-split labels only
    assert rec.lm is not None and rec.beam_width > 1 and rec.lm_weight == ocr.config.recognizer.lm_weight > 0
    assert all("train-split" in v for v in rec.lm.provenance["real"].values()) and len(rec.lm.provenance["real"]) == 2
    line = LineGenerator(seed=424242).line(0, text="Invoice 2024-118", profile="clean")
    (r,) = ocr.recognize([line.image])
    assert r.text == "Invoice 2024-118" and len(r.char_x) == 16 and r.rotation == 0
    with pytest.raises(pipeline.NoWeightsError, match="detector"):
        ocr("samples/letter.jpg")
