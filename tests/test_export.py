"""ONNX export of both networks (detection.export, recognition.export): ONNX Runtime gives torch's outputs
at any batch size and input size, the weights keep their float16 storage, the metadata travels along."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import torch

from detection import export as det_export
from detection import weightfile as det_weights
from detection.ctpn import CTPN
from recognition import export as rec_export
from recognition import weightfile as rec_weights
from recognition.charset import Charset
from recognition.crnn import CRNN, timesteps


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts)


def _meta(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _half_initializers(path) -> int:
    return sum(i.data_type == onnx.TensorProto.FLOAT16 for i in onnx.load(str(path)).graph.initializer)


def test_the_recognizer_reads_the_same_through_onnx_runtime_at_any_width_and_batch(tmp_path):
    torch.manual_seed(0)
    cs = Charset("abc0123456789")
    model = CRNN(len(cs), width=0.25, hidden=16, rank=8).eval()
    for m in model.modules():                     # batch norm statistics that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    pt = rec_weights.save(tmp_path / "rec.pt", model, cs, {"steps": 7})
    onnx_path = rec_export.export(pt)
    assert onnx_path == tmp_path / "rec.onnx"
    meta = _meta(onnx_path)
    assert meta["format"] == rec_export.FORMAT
    assert Charset.from_dict(json.loads(meta["charset"])).chars == cs.chars
    assert json.loads(meta["arch"]) == model.arch()
    prov = json.loads(meta["provenance"])
    assert prov["steps"] == 7 and prov["exported_from"]["file"] == "rec.pt" and len(prov["exported_from"]["sha256"]) == 64
    assert _half_initializers(onnx_path) >= 10    # conv, LSTM and output weights stay float16 on disk

    ref_model, _, _ = rec_weights.load(pt)        # what the .pt file holds (float16 weights, as float32)
    session = _session(onnx_path)
    rng = np.random.default_rng(1)
    for batch, widest in ((1, 24), (2, 96), (5, 333), (3, 900)):
        widths = [widest] + [int(rng.integers(8, widest + 1)) for _ in range(batch - 1)]
        x = rng.uniform(-1, 1, (batch, 1, 32, widest + 32)).astype(np.float32)
        with torch.no_grad():
            want = ref_model(torch.from_numpy(x), torch.tensor(widths)).numpy()
        got = session.run(None, {"x": x, "widths": np.array(widths, np.int64)})[0]
        assert got.shape == want.shape
        for b, w in enumerate(widths):            # each line's own steps (the rest is padding)
            np.testing.assert_allclose(got[:timesteps(w), b], want[:timesteps(w), b], atol=1e-4, rtol=0)


def test_the_detector_gives_the_same_maps_through_onnx_runtime_at_any_page_size(tmp_path):
    torch.manual_seed(0)
    model = CTPN(width=0.125, lstm_hidden=16, fc=32).eval()
    pt = det_weights.save(tmp_path / "det.pt", model, {"steps": 3})
    onnx_path = det_export.export(pt, tmp_path / "out" / "d.onnx")
    meta = _meta(onnx_path)
    assert meta["format"] == det_export.FORMAT and json.loads(meta["arch"]) == model.arch()
    assert json.loads(meta["anchors"])["width"] == 16.0
    assert _half_initializers(onnx_path) >= 10

    ref_model, _, _ = det_weights.load(pt)
    session = _session(onnx_path)
    rng = np.random.default_rng(2)
    for batch, h, w in ((1, 48, 64), (1, 208, 144), (2, 96, 320)):
        x = rng.normal(0, 1, (batch, 3, h, w)).astype(np.float32)
        with torch.no_grad():
            want = ref_model(torch.from_numpy(x))
        got = dict(zip(("scores", "vert", "side"), session.run(None, {"x": x})))
        for k in got:
            assert got[k].shape == tuple(want[k].shape)
            np.testing.assert_allclose(got[k], want[k].numpy(), atol=1e-4, rtol=0)


def test_export_of_a_file_that_is_not_weights_says_so(tmp_path, capsys):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a weight file")
    assert rec_export.main([str(bad)]) == 2 and det_export.main([str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("x.pt" in line and "not a readable weight file" in line for line in err)
