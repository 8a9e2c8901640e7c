"""Reliability and safety: bad and hostile inputs, degenerate pages, odd file names, full or read-only
output folders, Ctrl-C, determinism and tampered weights. Every input is made here."""
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

import pipeline
from pipeline import batch, cli, images, integrity
from pipeline.result import Line, Page
from training.metrics import edit_distance

ROOT = Path(__file__).resolve().parents[1]


# ---- hostile and broken files --------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header(w: int, h: int) -> bytes:
    """A PNG that claims ``w`` x ``h`` RGB pixels and holds none (a decompression bomb's header)."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IEND", b""))


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


BAD_FILES = {
    "empty.jpg": lambda: b"",
    "truncated.jpg": lambda: _encoded("JPEG")[:600],
    "truncated.png": lambda: _encoded("PNG")[:300],
    "letter.jpg": lambda: b"Dear Sir,\nthis is a text file with an image's name.\n" * 20,
    "noise.png": lambda: np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "drawing.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "bomb.png": lambda: _png_header(100_000, 100_000),
    "big.png": lambda: _png_header(13_000, 12_000),            # 156 Mpx: over our limit, under PIL's
    "broken.pdf": lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_is_one_clear_line_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name]())
    t0 = time.perf_counter()
    with pytest.raises(images.ImageError) as err:
        images.load(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    if name in ("bomb.png", "big.png"):
        assert "refused" in msg and time.perf_counter() - t0 < 1.0     # from the header: nothing decoded
    with pytest.raises(images.ImageError):
        images.load(path.read_bytes())                                  # the same bytes, in memory


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2048))
def test_any_bytes_load_as_a_page_or_fail_as_one_line(data):
    try:
        rgb = images.load(data)
    except images.ImageError as exc:
        assert str(exc).startswith("bytes:") and "\n" not in str(exc)
    else:                                                   # some short byte strings are valid images
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I"]),
       fmt=st.sampled_from(["PNG", "TIFF", "BMP", "WEBP", "JPEG"]), seed=st.integers(0, 2 ** 16))
def test_any_image_mode_and_format_loads_as_rgb_of_its_size(h, w, mode, fmt, seed):
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode if mode not in ("I;16", "I") else "L")
    if mode in ("I;16", "I"):
        im = Image.fromarray(rng.integers(0, 65535, (h, w)).astype(np.uint16 if mode == "I;16" else np.int32))
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)                                       # this format cannot store this mode
    rgb = images.load(buf.getvalue())
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=1, max_size=4), dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.bool_, np.int64]))
def test_any_array_loads_as_rgb_or_fails_clearly(shape, dtype):
    a = np.ones(shape, dtype)
    try:
        rgb = images.load(a)
    except images.ImageError as exc:
        assert "\n" not in str(exc)
    else:
        assert rgb.dtype == np.uint8 and rgb.shape == tuple(shape[:2]) + (3,) and rgb.size > 0


def test_an_unreadable_input_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(images.ImageError, match="is a folder"):
        images.load(tmp_path)
    path = tmp_path / "locked.png"
    _good(path)
    real_open = os.open

    def no_access(file, *a, **k):                     # tests run as root, which chmod cannot stop
        if str(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *a, **k)
    monkeypatch.setattr(images.os, "open", no_access)
    with pytest.raises(images.ImageError) as err:
        images.load(path)
    assert str(err.value) == f"{path}: cannot read image (Permission denied)"


class StandIn(pipeline.OCR):
    """The pipeline with a stand-in for the models: every page reads as one line naming its source and
    size (fast); what the real models make of odd pages is tested below."""

    def check_pages(self):
        pass

    def read_arrays(self, rgbs, sources, pages):
        return [Page(a.shape[1], a.shape[0], [Line([0, 0, 5, 5], f"{s} {a.shape[1]}x{a.shape[0]}", 0.9)], source=s, page=p)
                for a, s, p in zip(rgbs, sources, pages)]


def _good(path: Path, w: int = 64, h: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(path)


def test_a_batch_lists_every_bad_file_and_converts_all_the_others(tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    for name, make in BAD_FILES.items():
        (src / "bad").mkdir(parents=True, exist_ok=True)
        (src / "bad" / name).write_bytes(make())
    for k in range(3):
        _good(src / f"good{k}.png")
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (StandIn(), 0))
    assert cli.ocr_batch([str(src), str(out), "-f", "txt,json", "--quiet"]) == 1
    report = json.loads((out / batch.REPORT).read_text())
    failed = {f["input"]: f["error"] for f in report["failed"]}
    expected = {f"bad/{n}" for n in BAD_FILES if Path(n).suffix in batch.INPUT_SUFFIXES}   # .svg is not an input
    assert set(failed) == expected and all(failed.values())
    assert report["converted"] == 3 and sorted(p.name for p in out.glob("good*")) == sorted(
        f"good{k}{s}" for k in range(3) for s in (".txt", ".json"))
    assert not (out / "bad").exists()                               # no output of a failed file
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(f"failed: {k}" in err for k in expected)


# ---- degenerate pages, with the shipped models ---------------------------------------------------------
@pytest.fixture(scope="module")
def ocr():
    return pipeline.load(threads=2)


@pytest.mark.parametrize("kind", ["1x1", "white", "black", "noise", "thin"])
def test_degenerate_pages_read_as_empty_or_nearly(ocr, kind):
    rng = np.random.default_rng(2)
    page = {"1x1": np.full((1, 1, 3), 255, np.uint8),
            "white": np.full((1400, 1000, 3), 255, np.uint8),
            "black": np.zeros((1400, 1000, 3), np.uint8),
            "noise": rng.integers(0, 256, (1400, 1000, 3), dtype=np.uint8),
            "thin": np.full((3, 2000, 3), 128, np.uint8)}[kind]
    p = ocr(page)
    assert (p.width, p.height) == (page.shape[1], page.shape[0])
    assert len(p.lines) <= (3 if kind == "noise" else 0)
    json.loads(json.dumps(p.to_dict()))


# ---- names, output folders, interruption ---------------------------------------------------------------
def test_names_with_spaces_unicode_and_leading_dashes(tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "in put", tmp_path / "out"
    names = ["-dash.png", "two words.png", "ünï cødé ✓.png", "--help.png"]
    for n in names:
        _good(src / "sub dir" / n)
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (StandIn(), 0))
    assert cli.ocr_batch([str(src), str(out), "--quiet"]) == 0
    assert sorted(p.name for p in (out / "sub dir").iterdir()) == sorted(Path(n).stem + ".txt" for n in names)
    target = src / "sub dir" / "-dash.png"
    monkeypatch.chdir(target.parent)
    assert cli.ocr_page(["-o", str(tmp_path / "dash.txt"), "--", "-dash.png"]) == 0   # "--" ends the options
    assert "-dash.png 64x48" in (tmp_path / "dash.txt").read_text()


def test_a_batch_never_writes_outside_its_output_folder(tmp_path, monkeypatch):
    src, out, elsewhere = tmp_path / "in", tmp_path / "out", tmp_path / "elsewhere"
    _good(src / "sub" / "a.png")
    _good(src / "b.png")
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)     # a link inside OUT_DIR leading out
    with pytest.raises(batch.BatchError, match="outside"):
        batch.plan(src, out, ["txt"])
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (StandIn(), 0))
    assert cli.ocr_batch([str(src), str(out), "--quiet"]) == 2 and not any(elsewhere.iterdir())
    outside = tmp_path / "outside.png"                                 # an input linking out of IN_DIR
    _good(outside)
    (src / "link.png").symlink_to(outside)
    (src / "up").symlink_to(tmp_path, target_is_directory=True)        # a folder link up the tree ('..')
    (tmp_path / "out2" / "old").mkdir(parents=True)
    _good(tmp_path / "out2" / "old" / "made-here.png")                  # reachable from IN_DIR through 'up'
    jobs = batch.plan(src, tmp_path / "out2", ["txt"])
    root = (tmp_path / "out2").resolve()
    assert "link.png" in {j.rel for j in jobs} and not [j for j in jobs if "made-here" in j.rel]
    assert all(p.resolve().is_relative_to(root) for j in jobs for p in j.outputs.values())


def _no_parts(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_full_or_read_only_output_folder_is_one_line_and_leaves_nothing_half_written(tmp_path, monkeypatch, capsys, fault):
    src, out = tmp_path / "in", tmp_path / "out"
    for k in range(3):
        _good(src / f"p{k}.png")
    out.mkdir()
    (out / "p0.txt").write_text("an earlier, complete output\n")
    from pipeline import exporters

    if fault == "full":                             # the data reaches the temporary file, then the disk is full
        def fsync(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(exporters.os, "fsync", fsync)
    else:                                           # (tests run as root, which chmod cannot stop)
        def mkstemp(*a, **k):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))
        monkeypatch.setattr(exporters.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (StandIn(), 0))
    code = cli.ocr_batch([str(src), str(out), "--overwrite", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("ocr-batch: cannot write to")
    assert os.strerror(errno.ENOSPC if fault == "full" else errno.EACCES) in err
    assert not _no_parts(out)
    assert sorted(p.name for p in out.iterdir()) == ["p0.txt"]          # nothing new, the old output intact
    assert (out / "p0.txt").read_text() == "an earlier, complete output\n"
    code = cli.ocr_page(["-o", str(out / "one.txt"), str(src / "p1.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot write output" in err and not (out / "one.txt").exists()


DRIVER = """
import sys, time
sys.path.insert(0, {root!r})
import pipeline
from pipeline import cli
from pipeline.result import Line, Page
from training.metrics import edit_distance

class Slow:
    def check_pages(self):
        pass
    def read_arrays(self, rgbs, sources, pages):
        print("reading", sources[0], flush=True)
        time.sleep(0.3)
        return [Page(a.shape[1], a.shape[0], [Line([0, 0, 5, 5], s, 0.9)], source=s, page=p)
                for a, s, p in zip(rgbs, sources, pages)]

cli._load_pipeline = lambda *a, **k: (Slow(), 0)
cli._entry(cli.ocr_batch)()
"""


def _ctrl_c_on():
    """In the child: Ctrl-C's default, as in a terminal (a test run in the background has SIGINT ignored,
    and a Python started that way never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_a_batch_cleanly(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for k in range(20):
        _good(src / f"p{k:02d}.png")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT)))
    proc = subprocess.Popen([sys.executable, str(script), str(src), str(out), "-f", "txt,json,pdf", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_on)
    for _ in range(4):                                   # part-way through
        proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted"
    assert not _no_parts(out)
    done = {p.stem for p in out.glob("*.pdf")}                   # the last of a file's outputs written
    started = {p.stem for p in out.glob("*.txt")}                # (a file interrupted between its outputs
    assert 1 <= len(done) < 20 and done <= started and len(started - done) <= 1   # is redone next run)
    for p in out.glob("*.json"):
        json.loads(p.read_text())                                # what is there is whole
    assert json.loads((out / batch.REPORT).read_text())["converted"] == len(done)


class Crashing(StandIn):
    """A worker's stand-in that dies outright (as a native crash or the OOM killer would) on 'crash*' files."""

    def read_arrays(self, rgbs, sources, pages):
        if Path(sources[0]).name.startswith("crash"):
            os._exit(3)
        return super().read_arrays(rgbs, sources, pages)


def start_crashing_worker(*load_args):           # run in each spawned worker (importable: module level)
    batch._OCR = Crashing()


def test_worker_crashes_cost_only_their_file(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ["a.png", "b.png", "crash1.png", "c.png", "d.png", "crash2.png", "e.png"]:
        _good(src / name)
    jobs = batch.plan(src, out, ["txt"])
    report = batch.run_batch(jobs, out, workers=2, progress=False, init=start_crashing_worker)
    assert set(report.failed) == {"crash1.png", "crash2.png"}
    assert all("worker process died" in why for why in report.failed.values())
    assert report.converted == 5 and sorted(p.stem for p in out.glob("*.txt")) == ["a", "b", "c", "d", "e"]


def test_ctrl_c_in_a_terminal_stops_worker_processes_cleanly(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for k in range(12):
        shutil.copy(ROOT / "samples" / "receipt.jpg", src / f"r{k:02d}.jpg")
    proc = subprocess.Popen([sys.executable, "-c", "from pipeline.cli import batch_main; batch_main()", str(src), str(out),
                             "-f", "txt,pdf", "--workers", "2", "--quiet"], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_ctrl_c_on)
    deadline = time.time() + 120
    while len(list(out.glob("*.pdf"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)                   # as Ctrl-C does: to the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and err.strip() == "interrupted"
    assert not _no_parts(out)
    done, started = {p.stem for p in out.glob("*.pdf")}, {p.stem for p in out.glob("*.txt")}
    assert 2 <= len(done) < 12 and done <= started and len(started - done) <= 2   # at most the 2 in flight
    import pypdf

    for p in out.glob("*.pdf"):                          # whole, readable PDFs: their text layer is the page
        layer = "".join(pypdf.PdfReader(p).pages[0].extract_text().split())     # the .txt output holds
        read = "".join((out / f"{p.stem}.txt").read_text(encoding="utf-8").split())
        assert len(read) > 200 and layer == read


def test_ctrl_c_leaves_workers_waiting_for_a_file_alive_until_the_pool_shuts_down():
    """A worker that exits on Ctrl-C while it waits for a file may hold the lock of the pool's work queue;
    the other worker then blocks on it forever and the parent's shutdown hangs joining it (1 Ctrl-C in 30
    hung ocr-batch so). Waiting workers stay, the pool shuts down, and a file handed over after Ctrl-C
    stops before it starts."""
    import threading

    ex = batch._pool(2, (time.sleep, (0,)))
    pids, deadline = set(), time.time() + 120
    while len(pids) < 2 and time.time() < deadline:      # both workers started (init done) and now wait
        pids |= {f.result() for f in [ex.submit(os.getpid) for _ in range(8)]}
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, signal.SIGINT)
    time.sleep(1.0)
    assert ex.submit(os.getpid).result(timeout=60) in pids   # no worker exited: the pool still works
    with pytest.raises(KeyboardInterrupt):                     # a file after Ctrl-C is not converted
        ex.submit(batch._worker_task, None, 1).result(timeout=60)
    closing = threading.Thread(target=ex.shutdown, daemon=True)
    closing.start()
    closing.join(60)
    assert not closing.is_alive()


STARTING = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from pipeline import batch, cli

def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    jobs = batch.plan(src, out, ["txt"])
    print("started", flush=True)
    batch.run_batch(jobs, out, workers=2, load_args=(60,), init=time.sleep, progress=False)

cli._entry(main)()
"""


def test_ctrl_c_while_workers_start_or_wait_prints_no_traceback(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _good(src / "a.png")
    _good(src / "b.png")
    proc = subprocess.Popen([sys.executable, "-c", STARTING.format(root=str(ROOT)), str(src), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_ctrl_c_on)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(4)                                        # the workers are up, inside their (60 s) start-up
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "interrupted"
    assert not list(out.glob("*.txt")) and not _no_parts(out)


# ---- determinism -----------------------------------------------------------------------------------------
SAVE = """
import sys
import pipeline
page = pipeline.load(threads=2)(sys.argv[1])
for suffix in ("txt", "json", "hocr", "xml", "tsv", "pdf"):     # .xml: ALTO
    page.save(sys.argv[2] + "." + suffix)
"""


def test_outputs_are_byte_identical_across_runs(tmp_path):
    outs = []
    for run in range(2):                               # two processes: nothing may depend on the process
        subprocess.run([sys.executable, "-c", SAVE, str(ROOT / "samples" / "form.jpg"), str(tmp_path / f"run{run}")],
                       check=True, cwd=ROOT, timeout=120)
        outs.append({f.suffix: f.read_bytes() for f in tmp_path.glob(f"run{run}.*")})
    assert outs[0] == outs[1] and len(outs[0]) == 6 and b"ocr-page/1" in outs[0][".json"]


# ---- weights --------------------------------------------------------------------------------------------
def test_shipped_weights_match_their_recorded_sha256():
    import detection
    import recognition

    onnx = [p.with_suffix(".onnx") for p in (detection.weights_path(), recognition.weights_path())]
    for path in (detection.weights_path(), recognition.weights_path(), *map(recognition.lm_path, recognition.LANGS),
                 *onnx):
        integrity.verify(path)
        assert integrity.read_sums(path.parent)[path.name] == integrity.sha256(path)


def test_recording_weights_writes_sha256sums_and_refuses_a_missing_folder(tmp_path, capsys):
    (tmp_path / "b.pt").write_bytes(b"bb")
    (tmp_path / "a.pt").write_bytes(b"a")
    (tmp_path / "lm.json.gz").write_bytes(b"c")                  # a language model file is recorded too
    (tmp_path / "b.onnx").write_bytes(b"d")                      # and an ONNX export
    (tmp_path / "notes.txt").write_text("not weights")
    assert integrity.main([str(tmp_path)]) == 0
    sums = (tmp_path / integrity.SUMS).read_text()
    assert sums == (f"{hashlib.sha256(b'a').hexdigest()}  a.pt\n{hashlib.sha256(b'd').hexdigest()}  b.onnx\n"
                    f"{hashlib.sha256(b'bb').hexdigest()}  b.pt\n{hashlib.sha256(b'c').hexdigest()}  lm.json.gz\n")
    assert capsys.readouterr().out == sums
    integrity.verify(tmp_path / "a.pt")
    assert integrity.main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err


def _fp32_config(tmp_path: Path) -> Path:
    """The shipped pipeline settings with ``runtime.precision: fp32`` (the float ONNX files)."""
    cfg = tmp_path / "fp32.yaml"
    cfg.write_text((ROOT / "configs" / "default.yaml").read_text().replace("  precision: auto ", "  precision: fp32 ", 1))
    return cfg


def test_a_tampered_or_unrecorded_weight_file_is_refused(tmp_path, monkeypatch, capsys):
    import detection
    import recognition

    for mod in (detection, recognition):
        copy = tmp_path / mod.__name__
        shutil.copytree(mod.WEIGHTS_DIR, copy)
        monkeypatch.setattr(mod, "WEIGHTS_DIR", copy)
    rec = recognition.weights_path()
    int8 = rec.with_name(rec.stem + ".int8.onnx")
    for path in (int8, rec.with_suffix(".onnx"), rec):          # the ONNX files first, then the .pt file
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01                            # one bit flipped deep in the tensors
        path.write_bytes(bytes(data))
        if path == int8:                                        # what the onnx backend reads as shipped
            with pytest.raises(integrity.WeightsIntegrityError, match="crnn_s.int8.onnx.*does not match the recorded"):
                pipeline.load(backend="onnx")
    with pytest.raises(integrity.WeightsIntegrityError, match="crnn_s.onnx.*does not match the recorded"):
        pipeline.load(backend="onnx", config=_fp32_config(tmp_path))
    with pytest.raises(integrity.WeightsIntegrityError, match="does not match the recorded"):
        pipeline.load()
    assert cli.ocr_page([str(ROOT / "samples" / "receipt.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "changed or corrupted" in err
    (rec.parent / integrity.SUMS).write_text("")                 # no record at all
    with pytest.raises(integrity.WeightsIntegrityError, match="no SHA-256 recorded"):
        pipeline.load()


# ---- second round: what a hostile but realistic user still broke ------------------------------------------
class Nameless(StandIn):
    """The stand-in, with text that does not repeat the file name (recognized text never holds raw bytes)."""

    def read_arrays(self, rgbs, sources, pages):
        return [Page(a.shape[1], a.shape[0], [Line([0, 0, 5, 5], f"page {p}", 0.9)], source=s, page=p)
                for a, s, p in zip(rgbs, sources, pages)]


def _bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


def test_names_that_are_not_utf8_are_read_mirrored_and_reported_losslessly(tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    _good(_bytes_path(src, b"good\xff.png"))
    _bytes_path(src, b"corrupt\xff.jpg").write_bytes(b"not an image")
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (Nameless(), 0))
    assert cli.ocr_batch([str(src), str(out), "-f", "txt,json,hocr,alto,tsv,pdf", "--quiet"]) == 1
    assert "Traceback" not in capsys.readouterr().err
    made = sorted(os.listdir(os.fsencode(out)))
    assert made == sorted([b"good\xff" + s for s in (b".txt", b".json", b".hocr", b".xml", b".tsv", b".pdf")]
                          + [batch.REPORT.encode()])                  # the whole output set, no lock file left
    raw = (out / batch.REPORT).read_bytes()
    report = json.loads(raw.decode("utf-8"))                          # valid UTF-8 JSON
    assert [os.fsencode(f["input"]) for f in report["failed"]] == [b"corrupt\xff.jpg"]   # the exact bytes back
    page = json.loads(_bytes_path(out, b"good\xff.json").read_bytes().decode("utf-8"))
    assert os.fsencode(page["source"]) == b"good\xff.png"
    assert b"good\\xff.png" in _bytes_path(out, b"good\xff.hocr").read_bytes()   # XML: readable, escaped


def test_a_second_batch_on_the_same_output_folder_waits_and_redoes_nothing(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for k in range(8):
        _good(src / f"p{k}.png")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT)))
    cmd = [sys.executable, str(script), str(src), str(out), "--quiet"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.stdout.readline().startswith("reading")               # the first run is converting
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "waiting for it to finish" in err2
    assert out1.count("reading") == 7 and out2.count("reading") == 0  # every file converted once, by the first
    report = json.loads((out / batch.REPORT).read_text())
    assert (report["converted"], report["skipped"]) == (0, 8)          # the second run's: all already done
    assert sorted(p.name for p in out.iterdir()) == sorted([f"p{k}.txt" for k in range(8)] + [batch.REPORT])


def test_a_lock_removed_by_its_holder_is_taken_afresh(tmp_path):
    import threading

    out, events = tmp_path / "out", []
    second = batch.locked(out)
    with batch.locked(out):
        waiter = threading.Thread(target=second.__enter__)
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and (out / batch.LOCK).read_text().strip() == str(os.getpid())
    waiter.join(5)
    assert not waiter.is_alive() and (out / batch.LOCK).exists()     # the waiter holds a new lock file
    second.__exit__(None, None, None)
    assert not (out / batch.LOCK).exists()


def test_names_up_to_255_bytes_are_written(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    long_stem = "é" * 120 + "abcdefghijk"                          # 251 bytes: .png makes 255, .hocr 256
    _good(src / (long_stem + ".png"))
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (Nameless(), 0))
    assert cli.ocr_batch([str(src), str(out), "-f", "txt,hocr", "--quiet"]) == 0
    names = {p.suffix: p.name for p in out.iterdir() if p.name != batch.REPORT}
    assert names[".txt"] == long_stem + ".txt"                          # 255 bytes: as it is
    hocr = names[".hocr"]
    assert len(os.fsencode(hocr)) <= 255 and hocr.endswith(".hocr") and "~" in hocr
    assert hocr.startswith("é" * 100)
    assert cli.ocr_batch([str(src), str(out), "-f", "txt,hocr", "--quiet"]) == 0   # found as done: skipped
    assert json.loads((out / batch.REPORT).read_text())["skipped"] == 1
    target = tmp_path / ("o" * 251 + ".txt")                              # ocr-page -o: a 255-byte name
    assert cli.ocr_page(["-o", str(target), str(src / (long_stem + ".png"))]) == 0
    assert target.read_text() == "page 0\n" and not _no_parts(tmp_path)


def test_standard_input_is_refused_past_its_byte_limit(monkeypatch, capsys):
    monkeypatch.setattr(images, "MAX_STREAM_BYTES", 3 << 20)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bytes(4 << 20))))   # /dev/zero, in short
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: pytest.fail("the models load for a refused input"))
    assert cli.ocr_page(["-"]) == 2
    err = capsys.readouterr().err
    assert err == "ocr-page: stdin: refused: more than 3,145,728 bytes (0.00292969 GiB); give the file's path instead\n"


def test_a_named_pipe_or_device_is_refused_and_never_waited_on(tmp_path, monkeypatch, capsys):
    import threading

    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)                                                      # no writer: opening it would block
    result = []

    def load():
        try:
            images.load(fifo)
        except images.ImageError as exc:
            result.append(str(exc))
    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(10)
    assert result == [f"{fifo}: not a regular file (a named pipe); use '-' for standard input"]
    assert not images.is_pdf(fifo)
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: pytest.fail("nothing to read"))
    assert cli.ocr_page([str(fifo), "/dev/zero"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"ocr-page: {fifo}: not a regular file (a named pipe); use '-' for standard input",
        "ocr-page: /dev/zero: not a regular file (a device); use '-' for standard input"]


def _page_with_text() -> np.ndarray:
    page = np.full((60, 90, 3), 230, np.uint8)
    page[20:30, 10:70] = 20
    return page


def test_float_rgba_and_one_channel_arrays_load_as_files_do():
    page = _page_with_text()
    as_float = page / 255.0                                              # scikit-image's 0..1 floats
    assert np.abs(images.load(as_float).astype(int) - page).max() <= 1
    assert np.abs(images.load(as_float.astype(np.float32) * 255).astype(int) - page).max() <= 1   # 0..255 floats
    with_nan = as_float.copy()
    with_nan[0, 0] = np.nan
    assert (images.load(with_nan)[0, 0] == 255).all()                   # NaN reads as paper
    rgba = np.zeros((60, 90, 4), np.uint8)                               # transparent except the text
    rgba[20:30, 10:70] = (20, 20, 20, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    assert np.array_equal(images.load(rgba), images.load(buf.getvalue()))   # composited onto white like files
    assert images.load(rgba)[0, 0].tolist() == [255, 255, 255]
    gray1 = page[..., :1]
    assert np.array_equal(images.load(gray1), np.repeat(gray1, 3, axis=2))
    page[0, 0] = 255
    assert np.array_equal(images.load(page.astype(np.uint16) * 257), page)    # 16-bit like a 16-bit file
    with pytest.raises(images.ImageError, match="C 1 to 4"):
        images.load(np.zeros((4, 4, 5), np.uint8))


def test_float_and_transparent_arrays_read_like_the_page(ocr):
    rgb = images.load(ROOT / "samples" / "receipt.jpg")
    want = ocr(rgb).text
    assert len(want) > 50
    assert ocr(rgb / 255.0).text == want
    alpha = 255 - rgb.min(axis=2)                                      # black ink, as opaque as it is dark,
    got = ocr(np.dstack([np.zeros_like(rgb), alpha])).text              # on nothing: the page in gray on white
    assert edit_distance(got, want) <= 0.1 * len(want)


def _born_digital_pdf(path: Path, lines: list[str], size: float) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="pt")
    pdf.add_page()
    pdf.set_font("Helvetica", size=size)
    for i, line in enumerate(lines):
        pdf.text(72, 100 + 1.2 * size * i, line)
    pdf.output(str(path))


@pytest.mark.parametrize("n", [1, 3, 30])
def test_born_digital_pdfs_of_few_or_many_lines_read_straight(ocr, tmp_path, n):
    """A sparse page gave the skew search nothing to compare: one short line read as 5-9 degrees off.
    24-pt Helvetica as reported; 20 pt for 30 lines, so that they fit an A4 page."""
    words = ["Hello world", "Total 42.50", "Invoice 2024-118", "Please keep this letter", "Quarterly report"]
    lines = [words[i % len(words)] for i in range(n)] if n < 30 else [f"{i + 1}. {words[i % 5]}" for i in range(n)]
    path = tmp_path / f"{n}.pdf"
    _born_digital_pdf(path, lines, 24 if n < 30 else 20)
    page = ocr.read(path)[0]
    assert abs(page.angle) < 1.0
    got = page.text.splitlines()
    assert edit_distance("\n".join(got), "\n".join(lines)) <= 0.02 * sum(map(len, lines))
    assert len(got) == n


def test_valid_inputs_that_were_refused_or_misnamed(tmp_path, monkeypatch, capsys):
    from pypdf import PdfWriter

    empty = tmp_path / "empty.pdf"
    PdfWriter().write(empty)                                             # valid, zero pages
    with pytest.raises(images.ImageError, match="broken or not a PDF"):
        images.load(BAD_FILES["broken.pdf"]())                          # PDFium's error code is left set
    with pytest.raises(images.ImageError) as err:
        images.load(empty)
    assert str(err.value) == f"{empty}: cannot open PDF: it has no pages"
    buf = io.BytesIO()
    Image.fromarray(_page_with_text()).save(buf, format="PNG")
    png = buf.getvalue()
    text = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"metadata " * 6_000_000))   # 54 MB of text
    for at in (33, len(png) - 12):                                       # before the pixels, and after them
        assert np.array_equal(images.load(png[:at] + text + png[at:]), _page_with_text())
    called = []
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: called.append(1) or (Nameless(), 0))
    good = tmp_path / "good.png"
    good.write_bytes(png)
    assert cli.ocr_page(["-o", str(tmp_path / "no" / "such" / "a.txt"), str(good)]) == 2
    assert capsys.readouterr().err == f"ocr-page: cannot write {tmp_path}/no/such/a.txt: no such folder {tmp_path}/no/such\n"
    assert not called                                                    # before any page is read


def _tiff(path: Path, n: int) -> None:
    frames = [Image.fromarray(np.full((40, 60, 3), 10 * k, np.uint8)) for k in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


class Stdout:
    """Standard output that records how much had been written each time a page is read."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def isatty(self):
        return False

    def flush(self):
        pass


@pytest.mark.parametrize("fmt", ["txt", "json"])
@pytest.mark.parametrize("n", [1, 5])
def test_long_documents_stream_to_stdout_page_by_page(tmp_path, monkeypatch, fmt, n):
    from pipeline.exporters import export

    doc = tmp_path / "doc.tif"
    _tiff(doc, n)
    out, seen = Stdout(), []

    class Recording(Nameless):
        def read_arrays(self, rgbs, sources, pages):
            seen.append(len(out.buffer.getvalue()))
            return super().read_arrays(rgbs, sources, pages)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (Recording(), 0))
    assert cli.ocr_page(["-f", fmt, str(doc)]) == 0
    pages = Nameless().read_arrays([np.zeros((40, 60, 3), np.uint8)] * n, [str(doc)] * n, list(range(n)))
    assert out.buffer.getvalue() == export(pages, fmt)                   # byte for byte the whole-list export
    if n > 1:                                                            # each page out before the next is read
        assert seen[0] == 0 and all(b > a for a, b in zip(seen[1 + (fmt == "json"):], seen[2 + (fmt == "json"):]))
        assert seen[-1] > 0


@pytest.mark.parametrize("n", [2, 5])
def test_a_progress_bar_shows_on_a_terminal_for_long_documents(tmp_path, monkeypatch, capsys, n):
    doc = tmp_path / "doc.tif"
    _tiff(doc, n)
    monkeypatch.setattr(cli, "_load_pipeline", lambda *a, **k: (Nameless(), 0))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.ocr_page(["-o", str(tmp_path / "doc.txt"), str(doc)]) == 0
    err = capsys.readouterr().err
    assert (f"0/{n} [" in err) == (n > cli.PROGRESS_PAGES)
