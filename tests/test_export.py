"""ONNX export of both networks (detection.export, recognition.export): ONNX Runtime gives torch's outputs
at any batch size and input size, the weights keep their float16 storage, the metadata travels along."""
import difflib
import json
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[1]


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
        got, probs = session.run(None, {"x": x, "widths": np.array(widths, np.int64)})
        assert got.shape == want.shape == probs.shape
        for b, w in enumerate(widths):            # each line's own steps (the rest is padding)
            np.testing.assert_allclose(got[:timesteps(w), b], want[:timesteps(w), b], atol=1e-4, rtol=0)
            np.testing.assert_allclose(probs[:timesteps(w), b], torch.from_numpy(want[:timesteps(w), b]).softmax(-1),
                                       atol=1e-5, rtol=0)


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
        got = dict(zip(("scores", "vert", "side", "prob"), session.run(None, {"x": x})))
        want["prob"] = want["scores"].softmax(-1)[..., 1]
        for k in got:
            assert got[k].shape == tuple(want[k].shape)
            np.testing.assert_allclose(got[k], want[k].numpy(), atol=1e-4, rtol=0)


def test_export_of_a_file_that_is_not_weights_says_so(tmp_path, capsys):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a weight file")
    assert rec_export.main([str(bad)]) == 2 and det_export.main([str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("x.pt" in line and "not a readable weight file" in line for line in err)


def test_the_onnx_backend_reads_a_page_as_torch_does(capsys, tmp_path):
    import pipeline
    from pipeline.cli import ocr_page
    from pipeline.images import load as load_image

    image = load_image(ROOT / "samples" / "receipt.jpg")
    fp32 = tmp_path / "fp32.yaml"                                    # the float32 exports, not the int8 one
    shipped_cfg = (ROOT / "configs" / "default.yaml").read_text()
    fp32.write_text(shipped_cfg.replace("  precision: auto ", "  precision: fp32 ", 1))
    assert fp32.read_text() != shipped_cfg
    by_torch = pipeline.load(threads=1, backend="torch").read_array(image)
    by_onnx = pipeline.load(fp32, threads=1, backend="onnx").read_array(image)
    assert by_onnx.text == by_torch.text and len(by_onnx.lines) == len(by_torch.lines) > 20
    for a, b in zip(by_torch.lines, by_onnx.lines):
        np.testing.assert_allclose(a.box, b.box, atol=1e-3)
        assert abs(a.confidence - b.confidence) < 1e-3
    shipped = pipeline.load(threads=1, backend="onnx")               # as shipped: the int8 networks, which read
    assert "quantized_from" in shipped.recognizer.provenance         # within 0.002 tok_F of float32 on the val
    assert "quantized_from" in shipped.detector.provenance           # pages, not identically
    assert "quantized_from" not in pipeline.load(fp32, backend="onnx").recognizer.provenance
    by_int8 = shipped.read_array(image).text
    assert difflib.SequenceMatcher(None, by_int8, by_torch.text).ratio() > 0.97
    assert ocr_page(["--backend", "onnx", "--threads", "1", str(ROOT / "samples" / "receipt.jpg")]) == 0
    assert capsys.readouterr().out.strip() == by_int8.strip()
    ocr = pipeline.load(lang="zh", backend="onnx")                 # every shipped recognizer has its export
    assert ocr.recognizer.network.backend == "onnx" and len(ocr.recognizer.charset) > 6000



def test_the_onnx_backend_reads_a_page_with_no_torch_installed(tmp_path):
    """A torch-free install (``pip install ocr-page[onnx]`` without torch) runs ``ocr-page``: a child process
    where ``import torch`` fails reads the receipt, choosing its language, as it reads with torch installed."""
    import subprocess
    import sys

    import pipeline
    from pipeline.images import load as load_image

    script = ("import sys; sys.modules['torch'] = None\n"      # any import of torch now raises
              "from pipeline.cli import ocr_page\n"
              "sys.exit(ocr_page(sys.argv[1:]))\n")
    out = tmp_path / "receipt.txt"
    run = subprocess.run([sys.executable, "-c", script, "--backend", "onnx", "--lang", "auto", "--threads", "1",
                          str(ROOT / "samples" / "receipt.jpg"), "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    here = pipeline.load(threads=1, lang="auto", backend="onnx").read_array(load_image(ROOT / "samples" / "receipt.jpg"))
    assert here.lang == "en" and out.read_text(encoding="utf-8").strip() == here.text.strip()


def test_the_auto_backend_is_onnx_on_cpus_without_amx_and_torch_where_torch_is_faster(monkeypatch):
    import pipeline
    from pipeline import backends

    have = {"torch": True, "onnxruntime": True}
    monkeypatch.setattr(backends, "installed", lambda m: have[m])
    monkeypatch.setattr(backends, "cpu_has_amx", lambda: False)
    assert backends.resolve("auto") == "onnx" and backends.resolve("auto", precision="fp32") == "onnx"
    assert backends.resolve("auto", "cuda") == "torch"                       # ONNX Runtime runs on the CPU here
    assert backends.resolve("auto", precision="bf16") == "torch"             # bf16 asked for: torch's autocast
    assert backends.resolve("torch") == "torch" and backends.resolve("onnx") == "onnx"
    monkeypatch.setattr(backends, "cpu_has_amx", lambda: True)
    assert backends.resolve("auto") == "torch"                               # AMX: bf16 torch is ~3x faster
    assert backends.resolve("auto", precision="fp32") == "onnx"
    have["onnxruntime"] = False
    assert backends.resolve("auto", precision="fp32") == "torch"             # what is installed runs
    have.update(onnxruntime=True, torch=False)
    assert backends.resolve("auto") == "onnx"
    monkeypatch.undo()
    ocr = pipeline.load()                                                    # as shipped: auto, resolved
    assert ocr.config.runtime.backend == backends.resolve("auto") == ocr.recognizer.network.backend
    assert ocr.detector.network.backend == ocr.config.runtime.backend

def test_the_onnx_backend_says_what_is_missing_or_wrong(tmp_path, monkeypatch):
    import shutil

    import pytest

    import pipeline
    import recognition
    from pipeline.backends.onnx_runtime import OnnxModelError, RecognizerNetwork

    with pytest.raises(ValueError, match="backend must be one of auto, torch, onnx"):
        pipeline.load(backend="tensorrt")
    with pytest.raises(ValueError, match="onnx backend runs on the CPU"):
        pipeline.load(backend="onnx", device="cuda:0")
    copy = tmp_path / "weights"
    shutil.copytree(recognition.WEIGHTS_DIR, copy)
    for export in copy.glob("crnn_s*.onnx"):        # the float export and its int8 version
        export.unlink()
    monkeypatch.setattr(recognition, "WEIGHTS_DIR", copy)
    with pytest.raises(pipeline.NoWeightsError, match=r"no ONNX export of .*crnn_s.pt.*python -m recognition.export"):
        pipeline.load(backend="onnx")
    with pytest.raises(OnnxModelError, match="not a readable ONNX model"):
        RecognizerNetwork(copy / "crnn_s.pt")
    with pytest.raises(OnnxModelError, match="not a ocr-recognizer-onnx/1 file"):
        RecognizerNetwork(ROOT / "detection" / "weights" / "ctpn.onnx")


def test_every_shipped_onnx_file_is_the_export_of_the_pt_file_beside_it():
    import detection
    import recognition
    from pipeline.integrity import sha256

    pts = [*detection.WEIGHTS_DIR.glob("*.pt"), *recognition.WEIGHTS_DIR.glob("*.pt")]
    assert len(pts) >= 3
    for pt in pts:                                # a .pt file retrained and shipped without a new export fails
        source = json.loads(_meta(pt.with_suffix(".onnx"))["provenance"])["exported_from"]
        assert source == {"file": pt.name, "sha256": sha256(pt)}, pt.name
    int8 = [*detection.WEIGHTS_DIR.glob("*.int8.onnx"), *recognition.WEIGHTS_DIR.glob("*.int8.onnx")]
    assert [p.name for p in int8] == ["ctpn.int8.onnx", "crnn_s.int8.onnx"]  # those that read as float32 does
                                                                              # (docs/evaluation.md, Speed)
    for path in int8:                             # ... quantized from the float export beside it, as it is now
        float_file = path.with_name(path.name.replace(".int8.onnx", ".onnx"))
        prov = json.loads(_meta(path)["provenance"])
        assert prov["quantized_from"]["file"] == float_file.name
        assert prov["quantized_from"]["sha256"] == sha256(float_file), path.name


def test_int8_versions_keep_the_metadata_name_their_source_and_read_close_to_float(tmp_path):
    from pipeline.backends.onnx_runtime import RecognizerNetwork
    from training import onnx_export

    torch.manual_seed(0)
    cs = Charset("abc0123456789")
    model = CRNN(len(cs), width=0.25, hidden=16, rank=8).eval()
    onnx_path = rec_export.export(rec_weights.save(tmp_path / "rec.pt", model, cs, {"steps": 7}))
    rng = np.random.default_rng(2)
    feeds = [{"x": rng.uniform(-1, 1, (2, 1, 32, 96)).astype(np.float32), "widths": np.array([64, 40], np.int64)}
             for _ in range(4)]
    int8 = onnx_export.quantize(onnx_path, feeds)
    assert int8 == tmp_path / "rec.int8.onnx" == onnx_export.int8_path(onnx_path)
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "LSTM"} <= ops and "DynamicQuantizeLSTM" not in ops
    meta, src = _meta(int8), _meta(onnx_path)
    assert {k: v for k, v in meta.items() if k != "provenance"} == {k: v for k, v in src.items() if k != "provenance"}
    prov = json.loads(meta["provenance"])
    assert prov["steps"] == 7 and prov["quantized_from"]["sha256"] == onnx_export.sha256(onnx_path)
    x, widths = feeds[0]["x"], feeds[0]["widths"]
    want = RecognizerNetwork(onnx_path, 1)(x, widths)
    net = RecognizerNetwork(int8, 1)                 # the backend reads it as any recognizer file
    got = net(x, widths)
    assert got.shape == want.shape and np.abs(got - want).max() < 0.05
    louder = np.concatenate([x[:1], np.clip(3 * x[1:], -1, 1)])          # a line's reading does not depend on
    alone = net(x[:1, :, :, :int(widths[0]) + 32], widths[:1])           # the lines beside it in its batch
    steps = timesteps(int(widths[0]))
    np.testing.assert_allclose(net(louder, widths)[:steps, 0], alone[:steps, 0], atol=1e-5)
    np.testing.assert_allclose(got[:steps, 0], alone[:steps, 0], atol=1e-5)


def test_the_onnx_backend_picks_int8_files_by_precision(tmp_path, monkeypatch):
    import pytest

    import pipeline

    pt = tmp_path / "crnn_s.pt"
    for name in ("crnn_s.pt", "crnn_s.onnx"):
        (tmp_path / name).write_bytes(b"")
    assert pipeline._onnx_of(pt, "fp32") == pipeline._onnx_of(pt, "auto") == tmp_path / "crnn_s.onnx"
    with pytest.raises(pipeline.NoWeightsError, match=r"no int8 version .* --int8"):
        pipeline._onnx_of(pt, "int8")
    (tmp_path / "crnn_s.int8.onnx").write_bytes(b"")
    assert pipeline._onnx_of(pt, "int8") == pipeline._onnx_of(pt, "auto") == tmp_path / "crnn_s.int8.onnx"
    assert pipeline._onnx_of(pt, "fp32") == tmp_path / "crnn_s.onnx"
    with pytest.raises(ValueError, match="bf16 runs on the torch backend"):
        pipeline._onnx_of(pt, "bf16")
    cfg = tmp_path / "int8.yaml"
    cfg.write_text("runtime: {precision: int8}\n")
    with pytest.raises(ValueError, match="int8 runs on the onnx backend"):
        pipeline.load(config=cfg, backend="torch")
