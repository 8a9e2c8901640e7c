"""Detector: geometry (anchors, box coder, targets, text lines; pure numpy), network, predictor, training,
public API. No shipped weights are needed: networks are tiny, untrained or stand-ins."""
import math

import numpy as np
import pytest
import torch

from detection import anchors, box_coder, targets, textlines


# ---- anchors ------------------------------------------------------------------------------------------
def test_anchor_grid_golden_values():
    g = anchors.grid(2, 3, stride=16, offset=8.0)
    assert g.shape == (2 * 3 * 10, 4)
    g = g.reshape(2, 3, 10, 4)
    # row 0, column 0, smallest anchor (h 11): centre (8, 8) -> x 0..16, y 8 -/+ 5.5
    assert g[0, 0, 0].tolist() == [0.0, 2.5, 16.0, 13.5]
    # row 1, column 2, tallest anchor (h 283): centre (2*16+8, 16+8) = (40, 24)
    assert g[1, 2, 9].tolist() == [32.0, 24 - 141.5, 48.0, 24 + 141.5]
    assert np.allclose(g[..., 3] - g[..., 1], np.array(anchors.HEIGHTS))  # heights in the stated order
    assert np.all(g[..., 2] - g[..., 0] == 16)
    # the centre offset is honoured, not assumed
    assert anchors.grid(1, 1, stride=16, offset=7.5)[0].tolist() == [-0.5, 2.0, 15.5, 13.0]


# ---- box coder ----------------------------------------------------------------------------------------
def test_box_coder_golden_and_round_trip():
    a = np.array([[0.0, 5.0, 16.0, 25.0]])                 # centre y 15, height 20
    gt = np.array([[0.0, 10.0, 16.0, 30.0]])               # centre y 20, height 20
    assert box_coder.encode(gt, a).tolist() == [[0.25, 0.0]]  # (20 - 15) / 20, log(20 / 20)
    rng = np.random.default_rng(0)
    g = anchors.grid(20, 30, 16, 8.0)
    y0 = rng.uniform(-50, 400, len(g))
    gt = np.stack([g[:, 0], y0, g[:, 2], y0 + rng.uniform(1, 300, len(g))], 1)
    assert np.allclose(box_coder.decode(box_coder.encode(gt, g), g), gt)
    x = rng.uniform(-100, 600, len(g))
    assert np.allclose(box_coder.decode_side(box_coder.encode_side(x, g), g), x)
    assert box_coder.encode_side(np.array([16.0]), np.array([[16.0, 0, 32.0, 10]])).tolist() == [-0.5]
    with pytest.raises(ValueError, match="y1 > y0"):
        box_coder.encode(np.array([[0, 5, 16, 5.0]]), a)


# ---- targets ------------------------------------------------------------------------------------------
def test_fine_boxes_follow_a_skewed_quad_column_by_column():
    quad = [[10, 100], [90, 108], [90, 128], [10, 120]]    # slope 0.1, 20 px tall
    fine, owner = targets.fine_boxes([quad], 16)
    # columns 0..5 cover x 0..96; column 0 has 6 px of the line (< 8: dropped), column 5 has 10 (kept)
    assert fine[:, 0].tolist() == [16, 32, 48, 64, 80] and set(owner.tolist()) == {0}
    # column 1 (x 16..32): top edge from y 100.6 to 102.2, bottom from 120.6 to 122.2
    assert fine[0, 1] == pytest.approx(100.6) and fine[0, 3] == pytest.approx(122.2)
    # the last column is cut where the line ends (x 90): top 108 at the end
    assert fine[-1, 3] == pytest.approx(128.0)
    tiny, _ = targets.fine_boxes([[40, 10, 45, 20]], 16)   # shorter than half a column: keeps one
    assert tiny.tolist() == [[32, 10, 48, 20]]


def test_assign_labels_a_hand_made_page():
    h, w, a = 8, 10, 10
    g = anchors.grid(h, w, 16, 8.0)
    line = [16, 32, 96, 48]                  # height 16 centred at y 40: anchor row 2 fits it exactly
    t = targets.assign(g, (h, w, a), 16, [line], ignore=[[16, 96, 64, 112]])
    lab = t.labels.reshape(h, w, a)
    pos = sorted(map(tuple, np.argwhere(lab == 1).tolist()))
    assert pos == [(2, j, 1) for j in range(1, 6)]          # 16-px anchors of columns 1..5, IoU 1
    # near misses are not scored: the 11-px anchor (IoU 11/16 = 0.69) and the 23-px one (16/23 = 0.70)
    assert lab[2, 3, 0] == -1 and lab[2, 3, 2] == -1
    assert lab[2, 7, 1] == 0 and lab[0, 0, 0] == 0          # background
    assert lab[6, 2, 1] == -1 and lab[6, 5, 1] == 0         # inside the ignored region; beside it
    assert np.allclose(t.vert[t.labels == 1], 0.0)         # exact fit: zero deltas
    side = {j: t.side.reshape(h, w, a)[2, j, 1] for j in range(1, 6) if t.side_mask.reshape(h, w, a)[2, j, 1]}
    # centres 24, 40 are within 32 px of the left end (16); 72, 88 of the right end (96); 56 of neither
    assert side == {1: -0.5, 2: -1.5, 4: 1.5, 5: 0.5}


def test_best_anchor_of_a_fine_box_is_positive_even_below_the_iou_bar():
    g = anchors.grid(8, 10, 16, 8.0)
    t = targets.assign(g, (8, 10, 10), 16, [[16, 40, 96, 56]])   # straddles rows 2 and 3
    lab = t.labels.reshape(8, 10, 10)
    # best IoU is 16/33 = 0.48 for the 33-px anchors centred at y 40 and 56; the first wins the tie
    assert sorted(map(tuple, np.argwhere(lab == 1).tolist())) == [(2, j, 3) for j in range(1, 6)]


def test_sample_caps_count_and_positive_share():
    labels = np.array([1] * 300 + [0] * 1000 + [-1] * 50, np.int8)
    out = targets.sample(labels, np.random.default_rng(0), 256, 0.5)
    assert (out == 1).sum() == 128 and (out == 0).sum() == 128
    assert np.all(labels[out == 1] == 1) and np.all(labels[out == 0] == 0)
    few = targets.sample(np.array([1, 0, 0, 0], np.int8), np.random.default_rng(0), 256, 0.5)
    assert few.tolist() == [1, 0, 0, 0]


# ---- text lines ---------------------------------------------------------------------------------------
def _props(x0, x1, y_top, height, step=16, score=0.95, slope=0.0):
    xs = np.arange(x0, x1, step, dtype=float)
    tops = y_top + slope * (xs + step / 2 - x0)
    return np.stack([xs, tops, xs + step, tops + height], 1), np.full(len(xs), score)


def _cat(*parts):
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_two_columns_stay_apart_and_word_gaps_stay_whole():
    # left column: words of a 20-px line with one empty column (16 px) between them;
    # right column starts 48 px (2.4 heights) after the left one ends, on the same baseline
    left = _cat(_props(0, 96, 100, 20), _props(112, 208, 100, 20), _props(224, 288, 100, 20))
    right = _props(336, 512, 100, 20)
    boxes, scores = _cat(left, right)
    lines = textlines.build_lines(boxes, scores)
    assert len(lines) == 2
    assert lines[0].box.tolist() == pytest.approx([0, 100, 288, 120])
    assert lines[1].box.tolist() == pytest.approx([336, 100, 512, 120])
    # a big heading (60 px) keeps its 48-px word gap: the gap scales with the height
    big = _cat(_props(0, 160, 300, 60), _props(208, 400, 300, 60))
    assert len(textlines.build_lines(*big)) == 1


def test_neighbour_pairs_respect_gap_overlap_and_size():
    cfg = textlines.TextLineConfig()                 # max_gap 1.2, min_v_overlap 0.6, min_size_sim 0.6
    boxes = np.array([[0, 100, 16, 120],             # 0: height 20, so the gap limit is 24 px
                      [16, 102, 32, 122],            # 1: next column, same row -> right of 0
                      [40, 100, 56, 120],            # 2: 24 px after 0's right edge: still in reach
                      [41, 100, 57, 120],            # 3: 25 px: too far from 0, but 9 px from 1
                      [16, 112, 32, 132],            # 4: overlaps 0 by 8 of 20 px (0.4): not a pair
                      [16, 100, 32, 108]], float)    # 5: 8 px tall beside 20 (0.4): not a pair
    i, c = textlines._pairs(boxes, cfg, right=True)
    right = sorted(zip(i.tolist(), c.tolist()))
    assert [p for p in right if p[0] == 0] == [(0, 1), (0, 2)]
    assert (1, 3) in right and (4, 3) not in right   # 4 vs 3 overlap 8 of 20
    i, c = textlines._pairs(boxes, cfg, right=False)
    assert sorted(c[i == 2].tolist()) == [0, 1] and sorted(c[i == 3].tolist()) == [1, 2]
    # the nearest column wins over a better-scoring farther one
    lines = textlines.build_lines(boxes[[0, 1, 2]], np.array([0.8, 0.75, 0.99]))
    assert [ln.proposals.tolist() for ln in lines] == [[0, 1, 2]]


def test_stacked_lines_do_not_merge_and_low_scores_drop():
    boxes, scores = _cat(_props(0, 160, 100, 20), _props(0, 160, 124, 20), _props(0, 160, 300, 20, score=0.5))
    lines = textlines.build_lines(boxes, scores)
    assert [ln.box[1] for ln in lines] == pytest.approx([100, 124])
    two = textlines.TextLineConfig(min_proposals=2)
    assert textlines.build_lines(*_props(0, 16, 10, 20), cfg=two) == []  # a single proposal is not a line


def test_a_lone_proposal_is_a_line_of_its_own_box_whatever_its_side_estimate():
    # a lone digit ("1" in a receipt's quantity column) fires one column of the detector; its one side
    # offset says where one end lies, so placing both ends by it made a line 0 px wide, dropped as empty
    boxes, scores = _props(32, 48, 10, 20)                       # one box: x 32..48, y 10..30
    for side in (None, np.array([0.4]), np.array([-0.4])):
        (line,) = textlines.build_lines(boxes, scores, side)
        assert line.box.tolist() == pytest.approx([32, 10, 48, 30]) and line.score == pytest.approx(0.95)
    # two boxes still take their ends from the side estimates (+0.25 x 16 px = 4 px right of each centre)
    boxes, scores = _props(32, 64, 10, 20)
    (line,) = textlines.build_lines(boxes, scores, np.array([0.25, 0.25]))
    assert line.box[[0, 2]].tolist() == pytest.approx([44, 60])


def test_a_three_degree_line_gives_the_right_quad():
    slope = math.tan(math.radians(3))
    boxes, scores = _props(0, 480, 200, 24, slope=slope)
    (line,) = textlines.build_lines(boxes, scores)
    expect = [[0, 200 - slope * 8], [480, 200 + slope * 472], [480, 224 + slope * 472], [0, 224 - slope * 8]]
    assert np.abs(line.quad - np.array(expect)).max() < 0.5
    assert line.score == pytest.approx(0.95)


def test_side_refinement_moves_the_line_ends():
    boxes, scores = _props(32, 192, 50, 20)
    side = np.zeros(len(boxes))
    side[0], side[-1] = -0.25, 0.25          # ends 4 px outward of the end proposals' centres (40, 184)
    (line,) = textlines.build_lines(boxes, scores, side)
    assert line.box[[0, 2]].tolist() == pytest.approx([36, 188])


def test_nms_keeps_the_best_of_overlapping_proposals():
    boxes = np.array([[0, 0, 16, 20], [0, 1, 16, 21], [0, 40, 16, 60.0]])
    keep = textlines.nms(boxes, np.array([0.8, 0.9, 0.7]), 0.3)
    assert keep.tolist() == [1, 2]


# ---- network and loss -----------------------------------------------------------------------------------
def test_vgg_backbone_declares_stride_16_and_scales_width():
    from detection.backbone import VGG16

    full = VGG16(1.0, batch_norm=False)
    convs = [m for m in full.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and [c.out_channels for c in convs][::3] == [64, 128, 256, 512, 512]
    assert full.stride == 16 and full.out_channels == 512
    half = VGG16(0.5)
    y = half(torch.zeros(1, 3, 64, 96))
    assert y.shape == (1, 256, 64 // 16, 96 // 16)


def test_ctpn_outputs_follow_the_anchor_grid_and_rows_are_sequences():
    from detection.ctpn import CTPN

    torch.manual_seed(0)
    m = CTPN(width=0.125, lstm_hidden=16, fc=32).eval()
    x = torch.rand(2, 3, 48, 320)
    out = m(x)
    assert out["scores"].shape == (2, 3, 20, 10, 2) and out["vert"].shape == (2, 3, 20, 10, 2)
    assert out["side"].shape == (2, 3, 20, 10)
    assert len(anchors.grid(3, 20, m.stride, m.stride / 2)) == out["side"][0].numel()
    # the BiLSTM reads along each row: blanking x >= 288 changes the outputs of column 0 (x < 16), which
    # the convolutions alone cannot see (VGG16's receptive field + the 3x3 window reach x ~ 140 from it)
    x2 = x.clone()
    x2[..., 288:] = 0
    with torch.no_grad():
        conv_a, conv_b = m.window(m.backbone(x))[..., 0], m.window(m.backbone(x2))[..., 0]
        a, b = m(x)["scores"][0, :, 0], m(x2)["scores"][0, :, 0]
    assert torch.equal(conv_a, conv_b) and (a - b).abs().max() > 0  # identical conv input: only the row RNN differs


def test_ctpn_loss_trains_a_tiny_model_on_one_page():
    from detection.ctpn import CTPN
    from detection.loss import ctpn_loss

    torch.manual_seed(0)
    img = np.full((64, 192, 3), 255, np.uint8)
    img[24:40, 16:160] = 0                                      # one "line" of ink, 16 px tall
    m = CTPN(width=0.125, lstm_hidden=16, fc=32)
    h, w = 64 // 16, 192 // 16
    g = anchors.grid(h, w, 16, 8.0)
    t = targets.assign(g, (h, w, 10), 16, [[16, 24, 160, 40]])
    lab = targets.sample(t.labels, np.random.default_rng(0), 64, 0.5)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255 - 0.5
    gt = [torch.from_numpy(v)[None] for v in (lab, t.vert, t.side, t.side_mask)]
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        loss, parts = ctpn_loss(m(x), *gt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert set(parts) == {"cls", "vert", "side"} and parts["side"] >= 0
    assert losses[-1] < 0.5 * losses[0], losses[::8]


# ---- predictor ----------------------------------------------------------------------------------------
def test_line_height_estimate_follows_the_page_scale():
    import cv2

    from detection.predictor import estimate_line_height
    from synth.pages import PageGenerator

    p = PageGenerator(seed=5, allow_fallback_fonts=True).page(0, layout="letter", degrade=False, geometry=False)
    gt = float(np.median([ln["box"][3] - ln["box"][1] for ln in p.lines if len(ln["text"]) > 3]))
    est = estimate_line_height(p.image)     # a small-print page: ~13-px lines, like a 100-dpi fax
    assert 0.75 * gt < est < 1.33 * gt, (est, gt)
    h, w = p.image.shape[:2]
    double = estimate_line_height(cv2.resize(p.image, (w * 2, h * 2), interpolation=cv2.INTER_LINEAR))
    assert double == pytest.approx(est * 2, rel=0.15)
    assert estimate_line_height(np.full((300, 200, 3), 255, np.uint8)) is None   # blank page: no estimate


def test_working_size_scales_for_the_text_and_caps_the_side():
    from detection.predictor import DetectorConfig, working_size

    cfg = DetectorConfig(line_height=18, max_side=2048, fallback_side=1280)
    assert working_size(2000, 1600, 36.0, cfg) == (1008, 800)      # scale 0.5: 1000 -> nearest multiple of 16
    assert working_size(7000, 5000, 36.0, cfg) == (2048, 1456)     # 0.5 would give 3500: capped at 2048
    assert working_size(1000, 500, None, cfg) == (1280, 640)       # no estimate: the fallback long side
    assert working_size(100, 60, 3.0, cfg) == (304, 176)           # tiny text: at most 3x up


def _fake_ctpn():
    """Stands in for a trained CTPN: 'text' at feature row 2, columns 3..9, anchor 1 (16 px), no vertical
    offsets, side offsets putting the line's ends at the outer edges of its end columns."""

    class FakeCTPN(torch.nn.Module):
        stride, num_anchors = 16, 10

        def forward(self, x):
            b, _, h, w = x.shape
            fh, fw = h // 16, w // 16
            scores = torch.zeros(b, fh, fw, 10, 2)
            scores[..., 0] = 5.0
            scores[:, 2, 3:10, 1] = torch.tensor([0.0, 5.0])
            side = torch.zeros(b, fh, fw, 10)
            side[:, 2, 3, 1], side[:, 2, 9, 1] = -0.5, 0.5
            return {"scores": scores, "vert": torch.zeros(b, fh, fw, 10, 2), "side": side}

    return FakeCTPN()


def test_detector_maps_lines_back_to_the_input_pixels(monkeypatch):
    from detection import predictor

    monkeypatch.setattr(predictor, "estimate_line_height", lambda img, *a: 36.0)  # -> working scale 0.5
    det = predictor.Detector(_fake_ctpn(), predictor.DetectorConfig(line_height=18))
    img = np.full((320, 480, 3), 255, np.uint8)
    (line,) = det(img)
    # working image 160 x 240; proposals x 48..160, y 32..48 (row 2 centre 40, height 16); back at x2
    assert line.box.tolist() == pytest.approx([96, 64, 320, 96])
    assert line.score == pytest.approx(1 / (1 + math.exp(-5.0)))     # softmax of (0, 5)


def test_detector_drops_lines_that_lie_outside_the_image(monkeypatch):
    from detection import predictor

    det = predictor.Detector(_fake_ctpn(), predictor.DetectorConfig(line_height=18))
    xs = np.arange(48.0, 160.0, 16.0)

    def row(y0):
        return np.stack([xs, np.full_like(xs, y0), xs + 16, np.full_like(xs, y0 + 16)], 1)

    boxes = np.concatenate([row(-40.0), row(32.0)])      # a chain above the image's top edge, one inside it
    monkeypatch.setattr(det, "proposals", lambda img: (boxes, np.full(len(boxes), 0.99), None, (1.0, 1.0)))
    lines = det(np.full((160, 240, 3), 255, np.uint8))
    # clipped to the image, the outside chain would be a line 0 px tall at y = 0 (FUNSD 716552.png had two,
    # read as garbage, and they sent the reading order into endless recursion)
    assert len(lines) == 1 and lines[0].box[1] == pytest.approx(32) and lines[0].box[3] == pytest.approx(48)


def test_shipped_detector_finds_the_same_lines_in_bf16():
    import cv2

    import detection
    from detection.predictor import Detector

    img = cv2.cvtColor(cv2.imread("samples/receipt.jpg"), cv2.COLOR_BGR2RGB)
    fp32 = Detector.from_file(detection.weights_path())(img)
    bf16 = Detector.from_file(detection.weights_path(), precision="bf16")(img)
    assert len(fp32) > 10
    # every fp32 line has a bf16 twin within a few pixels (bf16 keeps ~3 significant digits of each score)
    boxes = np.array([ln.box for ln in bf16])
    matched = sum(np.abs(boxes - ln.box).max(1).min() <= 4 for ln in fp32)
    assert matched >= len(fp32) - 1 and abs(len(bf16) - len(fp32)) <= 1
    with pytest.raises(ValueError, match="precision"):
        Detector(_fake_ctpn(), precision="half")


def test_detector_weight_file_round_trip(tmp_path):
    from detection import weightfile
    from detection.ctpn import CTPN
    from detection.predictor import Detector

    torch.manual_seed(0)
    m = CTPN(width=0.125, lstm_hidden=16, fc=32).eval()
    for bn in (k for k in m.modules() if isinstance(k, torch.nn.BatchNorm2d)):   # statistics worth folding
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.2, 3.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.3, 0.3)
    weightfile.save(tmp_path / "d.pt", m, {"data": ["test"], "steps": 1}, half=False)
    det = Detector.from_file(tmp_path / "d.pt")
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        # batch norm is folded into the convolutions for inference: the same outputs up to rounding
        assert not any(isinstance(k, torch.nn.BatchNorm2d) for k in det.model.modules())
        torch.testing.assert_close(det.model(x)["scores"], m(x)["scores"], atol=1e-5, rtol=1e-4)
    assert det.provenance["steps"] == 1 and det.heights == tuple(float(h) for h in anchors.HEIGHTS)
    torch.save({"format": "ocr-recognizer/1"}, tmp_path / "r.pt")
    with pytest.raises(weightfile.WeightFileError, match="not a detector weight file"):
        weightfile.load(tmp_path / "r.pt")


# ---- training data ------------------------------------------------------------------------------------
def test_row_segments_merge_into_lines_but_far_fields_stay_apart():
    from detection.data import merge_row_segments, merged_quad

    boxes = np.array([
        [10, 100, 60, 114],      # "Name:"             0
        [66, 101, 150, 115],     # "J. Smith" 6 px on  1  -> same line as 0
        [400, 100, 470, 114],    # "Date:" 250 px on   2  -> its own line (a form's other field)
        [10, 130, 90, 144],      # next row            3
        [95, 160, 300, 200],     # a heading, 40 tall  4  (not the same size as row 3's text)
    ], float)
    assert merge_row_segments(boxes) == [[0, 1], [2], [3], [4]]
    q = merged_quad(boxes[[0, 1]])
    assert q[:, 0].min() == 10 and q[:, 0].max() == 150
    # the quad holds both segments: slope from their centres (x 35 -> 108, y 107 -> 108), edges that contain them
    assert q[0, 1] <= 100 and q[3, 1] >= 114 and q[1, 1] <= 101 and q[2, 1] >= 115
    assert q[1, 1] - q[0, 1] == pytest.approx(140 / 73)


def test_sample_crop_scales_to_the_target_height_and_moves_the_quads():
    from detection.data import line_height, sample_crop

    img = np.full((400, 600, 3), 255, np.uint8)
    quads = [targets.as_quad([50, 100 + 40 * k, 550, 136 + 40 * k]) for k in range(5)]   # 36-px lines
    for q in quads:
        img[int(q[0, 1]):int(q[2, 1]), int(q[0, 0]):int(q[1, 0])] = 0
    crop, gq, ig = sample_crop(img, quads, [], np.random.default_rng(3), size=(128, 160), target_height=18,
                               jitter=(1.0, 1.0))
    assert crop.shape == (128, 160, 3) and ig == []
    assert line_height(gq) == pytest.approx(18.0, abs=0.01)          # 36 px lines at scale 0.5
    for q in gq:                                                     # ink sits where the quads say
        x0, y0, x1, y1 = np.clip(np.r_[q.min(0), q.max(0)], 0, [160, 128, 160, 128]).astype(int)
        if x1 - x0 > 4 and y1 - y0 > 4:
            assert crop[y0 + 2:y1 - 2, x0 + 2:x1 - 2].max() < 64
    small = sample_crop(img[:50, :60], [], [], np.random.default_rng(0), size=(64, 64))[0]
    assert small.shape == (64, 64, 3)                               # padded with the paper colour


# ---- training -----------------------------------------------------------------------------------------
def _tiny_det_cfg(tmp_path, real=None, **optim):
    from detection.train import DataConfig, ModelConfig, OptimConfig, TrainConfig

    return TrainConfig(
        model=ModelConfig(width=0.125, lstm_hidden=16, fc=32),
        data=DataConfig(synth_pages=3, synth_seed=2, val_synth=1, real=real or {}, crop=(128, 160),
                        val_pages=2),
        optim=OptimConfig(**{"steps": 60, "batch_size": 2, "lr": 3e-3, "warmup": 5, **optim}),
        val_every=60, ckpt_every=10, log_every=10, workers=1, threads=2)


def test_the_detector_recipe_chain_trains_and_averages_end_to_end(tmp_path):
    import yaml

    import configs
    from detection import weightfile
    from pipeline.cli import ocr_train

    recipe = {"steps": [{"name": "a", "settings": configs.to_dict(_tiny_det_cfg(tmp_path, steps=2)) | {"val_every": 2}},
                        {"name": "b", "settings": {"model": {"init": "@a"}, "optim": {"steps": 2}}},
                        {"name": "m", "average": ["@a", "@b"]}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert ocr_train(["detector", "--recipe", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    _, _, prov = weightfile.load(tmp_path / "out" / "m.pt")
    assert [a["file"] for a in prov["averaged"]] == [str(tmp_path / "out" / n / "final.pt") for n in "ab"]


def test_tiny_detector_training_run_lowers_the_loss_and_resumes(tmp_path):
    import csv

    from detection import weightfile
    from detection.train import train

    cfg = _tiny_det_cfg(tmp_path)
    out = tmp_path / "run"
    train(cfg, out, progress=False, max_steps=30)          # "interrupted" at step 30
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 30 and not (out / "final.pt").exists()
    metrics = train(cfg, out, progress=False)              # resumes and finishes
    with open(out / "log.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)]
    losses = [(int(r["step"]), float(r["loss"])) for r in rows if r["loss"]]
    assert [s for s, _ in losses] == [10, 20, 30, 40, 50, 60]
    assert losses[-1][1] < 0.85 * losses[0][1], losses      # 2.04 -> 1.63 when written
    assert set(metrics) == {"synth"} and 0.0 <= metrics["synth"]["det_F"] <= 1.0
    assert (out / "best.pt").is_file() and (out / "curves.png").is_file()
    m, anc, prov = weightfile.load(out / "best.pt")
    assert prov["steps"] == 60 and anc["heights"] == [float(h) for h in anchors.HEIGHTS]
    assert weightfile.load(out / "final.pt")[2]["val"] == metrics
    # model.init: a fine-tune starts from a weight file (at lr 0 it ends on exactly its parameters)
    from dataclasses import replace

    tuned = replace(cfg, model=replace(cfg.model, init=str(out / "best.pt")), optim=replace(cfg.optim, steps=10, lr=0.0),
                    val_every=10)
    train(tuned, tmp_path / "tuned", progress=False)
    t, _, tprov = weightfile.load(tmp_path / "tuned" / "final.pt")
    assert tprov["data"][0].startswith(f"initialised from {out / 'best.pt'} (60 steps on: ")
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), t.parameters()))   # (batch-norm statistics move)
    with pytest.raises(SystemExit, match="another architecture"):
        train(replace(tuned, model=replace(tuned.model, fc=16)), tmp_path / "other", progress=False)


def test_real_pages_load_as_merged_lines_and_never_from_the_val_split(tmp_path):
    from detection.train import load_pages
    from synth import pageset

    img = np.full((60, 300, 3), 255, np.uint8)
    for i in range(10):
        rec = {"width": 300, "height": 60, "lines": [
            {"box": [10, 10, 60, 24], "text": "Name:", "ignore": False},
            {"box": [66, 10, 150, 24], "text": "J. Smith", "ignore": False},
            {"box": [10, 40, 90, 54], "text": "###", "ignore": True}]}
        pageset.write(tmp_path / "set", f"p{i:02d}", img, rec)
    train_pages = load_pages(tmp_path / "set", "train", 1.0)
    val_pages = load_pages(tmp_path / "set", "val", 1.0)
    assert len(train_pages) == 9 and len(val_pages) == 1            # 10 % of a set held out
    assert {p.image.name for p in train_pages}.isdisjoint({p.image.name for p in val_pages})
    p = train_pages[0]
    assert len(p.lines) == 1 and p.lines[0][:, 0].min() == 10 and p.lines[0][:, 0].max() == 150
    assert len(p.ignore) == 1 and len(p.segments) == 3


# ---- public API ---------------------------------------------------------------------------------------
def test_pipeline_load_works_with_only_the_detector(tmp_path, monkeypatch):
    import detection
    import pipeline
    import recognition
    from detection import weightfile
    from pipeline import integrity
    from detection.ctpn import CTPN

    torch.manual_seed(0)
    weightfile.save(tmp_path / "ctpn.pt", CTPN(width=0.125, lstm_hidden=16, fc=32), {"steps": 0}, half=False)
    integrity.record(tmp_path)                     # weights are loaded only with a recorded SHA-256
    monkeypatch.setattr(detection, "weights_path", lambda: tmp_path / "ctpn.pt")
    monkeypatch.setattr(recognition, "weights_path", lambda lang="en": None)
    ocr = pipeline.load(threads=2)
    page = np.full((200, 300, 3), 255, np.uint8)
    lines = ocr.detect(page)                       # an untrained network: any number of lines, all inside
    assert isinstance(lines, list) and all(0 <= ln.box[0] <= ln.box[2] <= 300 for ln in lines)
    with pytest.raises(pipeline.NoWeightsError, match="no weights yet for the recognizer"):
        ocr.recognize([page])
    with pytest.raises(pipeline.NoWeightsError, match="recognizer"):
        ocr(page)


def test_ocr_eval_detect_mode_scores_the_project_detector(tmp_path, monkeypatch, capsys):
    import json

    import detection
    from detection import weightfile
    from detection.ctpn import CTPN
    from pipeline import evaluate as ev
    from pipeline import integrity
    from synth import pageset

    torch.manual_seed(0)
    weightfile.save(tmp_path / "ctpn.pt", CTPN(width=0.125, lstm_hidden=16, fc=32), {"steps": 0}, half=False)
    integrity.record(tmp_path)                     # weights are loaded only with a recorded SHA-256
    monkeypatch.setattr(detection, "weights_path", lambda: tmp_path / "ctpn.pt")
    img = np.full((120, 200, 3), 255, np.uint8)
    pageset.write(tmp_path / "set", "a", img, {"width": 200, "height": 120,
                                               "lines": [{"box": [10, 10, 120, 30], "text": "x", "ignore": False}]})
    assert ev.main([str(tmp_path / "set"), "--detect", "--quiet", "--json", str(tmp_path / "r.json")]) == 0
    table = capsys.readouterr().out
    assert all(c in table for c in ev.DETECT_COLS)
    row = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert row["pages"] == 1 and 0.0 <= row["det_F"] <= 1.0 and "tok_F" not in row


def test_a_trained_detector_file_reads_in_place_of_the_shipped_one(tmp_path, monkeypatch, capsys):
    import json

    import detection
    import pipeline
    from detection import weightfile
    from detection.ctpn import CTPN
    from pipeline import evaluate as ev
    from pipeline import integrity
    from synth import pageset

    torch.manual_seed(0)
    weightfile.save(tmp_path / "ctpn.pt", CTPN(width=0.125, lstm_hidden=16, fc=32), {"steps": 0}, half=False)
    integrity.record(tmp_path)
    monkeypatch.setattr(detection, "weights_path", lambda: tmp_path / "ctpn.pt")
    run = tmp_path / "run"
    run.mkdir()                                    # what ocr-train writes: no SHA256SUMS beside it
    weightfile.save(run / "best.pt", CTPN(width=0.125, lstm_hidden=16, fc=32), {"steps": 5}, half=False)
    ocr = pipeline.load(threads=1, detector_weights=run / "best.pt")
    assert ocr.detector.provenance["steps"] == 5
    with pytest.raises(FileNotFoundError, match="nope.pt: no such weight file"):
        pipeline.load(detector_weights=run / "nope.pt")
    pageset.write(tmp_path / "set", "a", np.full((120, 200, 3), 255, np.uint8),
                  {"width": 200, "height": 120, "lines": [{"box": [10, 10, 120, 30], "text": "x", "ignore": False}]})
    out = tmp_path / "r.json"
    assert ev.main([str(tmp_path / "set"), "--detect", "--quiet", "--detector", str(run / "best.pt"),
                    "--json", str(out)]) == 0
    assert json.loads(out.read_text())["weights"] == {"detector": str(run / "best.pt")}
    capsys.readouterr()
    assert ev.main([str(tmp_path / "set"), "--detect", "--quiet", "--detector", str(run / "nope.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.pt: no such weight file" in err


def test_draw_and_the_debug_command(tmp_path, monkeypatch, capsys):
    import cv2

    from detection import predictor
    from pipeline import detect as cli                               # the debug command reads pages via the pipeline
    from detection.draw import draw_detections

    page = np.full((100, 200, 3), 255, np.uint8)
    line = predictor.DetectedLine(np.array([[20.0, 30], [150, 30], [150, 50], [20, 50]]), 0.9)
    img = draw_detections(page, [line], np.array([[20, 30, 36, 50.0]]), np.array([0.8]))
    assert img.shape == page.shape and (page == 255).all()           # the input is left alone
    r, g, b = (int(v) for v in img[30, 80])                          # on the line's top edge: green
    assert g > 120 and r < 80 and b < 80 and tuple(img[90, 190]) == (255, 255, 255)
    assert tuple(img[40, 20]) != (255, 255, 255)                       # the proposal's left side
    monkeypatch.setattr(predictor.Detector, "from_file", classmethod(lambda cls, *a, **k: cls(_fake_ctpn())))
    monkeypatch.setattr(predictor, "estimate_line_height", lambda img, *a: 18.0)
    cv2.imwrite(str(tmp_path / "p.png"), np.full((96, 240, 3), 255, np.uint8))
    assert cli.main([str(tmp_path / "p.png"), "--weights", "x.pt", "--draw", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("0.993\t48.0,32.0 160.0,32.0")
    assert cv2.imread(str(tmp_path / "d.png")).shape == (96, 240, 3)
    assert cli.main([str(tmp_path / "missing.png"), "--weights", "x.pt"]) == 2
    assert "missing.png: no such file" in capsys.readouterr().err


def test_a_tall_proposal_links_to_a_shorter_one_that_cannot_reach_back():
    # i (40 px tall) may link 34 px to its right (1.2 x 40 = 48); j (24 px) reaches back only 28.8 px
    boxes = np.array([[0, 0, 16, 40], [50, 10, 66, 34.0]])
    (line,) = textlines.build_lines(boxes, np.array([0.9, 0.9]), cfg=textlines.TextLineConfig(min_size_sim=0.5))
    assert line.box[[0, 2]].tolist() == [0, 66]


def test_detector_weight_averaging_is_the_weighted_mean_and_refuses_a_mismatch(tmp_path, capsys):
    from detection import weightfile
    from detection.average import average, main
    from detection.ctpn import CTPN

    files = []
    for seed, steps in ((1, 10), (2, 30)):
        torch.manual_seed(seed)
        files.append(weightfile.save(tmp_path / f"d{seed}.pt", CTPN(width=0.125, lstm_hidden=16, fc=32),
                                     {"steps": steps, "data": ["shared", f"only {seed}"]}, half=False))
    (m1, _, _), (m2, _, _) = weightfile.load(files[0]), weightfile.load(files[1])
    mean, anchors, prov = average(files, [3, 1])               # weights 0.75 / 0.25
    s1, s2, sm = m1.state_dict(), m2.state_dict(), mean.state_dict()
    floats = [k for k, v in sm.items() if v.is_floating_point()]
    assert any(k.endswith("running_mean") for k in floats)   # batch-norm statistics are averaged too
    for k in floats:
        assert torch.allclose(sm[k], 0.75 * s1[k] + 0.25 * s2[k]), k
    assert prov["steps"] == 30 and prov["data"] == ["shared", "only 1", "only 2"]
    assert [a["weight"] for a in prov["averaged"]] == [0.75, 0.25] and anchors["width"] == 16
    weightfile.save(tmp_path / "other.pt", CTPN(width=0.125, lstm_hidden=8, fc=32), {})
    with pytest.raises(ValueError, match="other.pt: architecture"):
        average([files[0], tmp_path / "other.pt"])
    with pytest.raises(ValueError, match="one positive weight per file"):
        average(files, [1, 0])
    assert main([str(files[0]), str(files[1]), "--out", str(tmp_path / "m.pt")]) == 0
    assert weightfile.load(tmp_path / "m.pt")[2]["averaged"][0]["weight"] == 0.5
    assert main([str(files[0]), str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x.pt")]) == 2
    assert "missing.pt: no such weight file" in capsys.readouterr().err
