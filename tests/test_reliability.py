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

ROOT = Path(__file__).resolve().parents[1]


# ---- hostile and broken files --------------------------------------------------------------------------
def _png_header(w: int, h: int) -> bytes:
    """A PNG that claims ``w`` x ``h`` RGB pixels and holds none (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


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
    real_open = open

    def no_access(file, *a, **k):                     # tests run as root, which chmod cannot stop
        if str(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *a, **k)
    monkeypatch.setattr("builtins.open", no_access)
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

    for path in (detection.weights_path(), recognition.weights_path(), recognition.lm_path()):
        integrity.verify(path)
        assert integrity.read_sums(path.parent)[path.name] == integrity.sha256(path)


def test_recording_weights_writes_sha256sums_and_refuses_a_missing_folder(tmp_path, capsys):
    (tmp_path / "b.pt").write_bytes(b"bb")
    (tmp_path / "a.pt").write_bytes(b"a")
    (tmp_path / "lm.json.gz").write_bytes(b"c")                  # a language model file is recorded too
    (tmp_path / "notes.txt").write_text("not weights")
    assert integrity.main([str(tmp_path)]) == 0
    sums = (tmp_path / integrity.SUMS).read_text()
    assert sums == (f"{hashlib.sha256(b'a').hexdigest()}  a.pt\n{hashlib.sha256(b'bb').hexdigest()}  b.pt\n"
                    f"{hashlib.sha256(b'c').hexdigest()}  lm.json.gz\n")
    assert capsys.readouterr().out == sums
    integrity.verify(tmp_path / "a.pt")
    assert integrity.main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err


def test_a_tampered_or_unrecorded_weight_file_is_refused(tmp_path, monkeypatch, capsys):
    import detection
    import recognition

    for mod in (detection, recognition):
        copy = tmp_path / mod.__name__
        shutil.copytree(mod.WEIGHTS_DIR, copy)
        monkeypatch.setattr(mod, "WEIGHTS_DIR", copy)
    rec = recognition.weights_path()
    data = bytearray(rec.read_bytes())
    data[len(data) // 2] ^= 0x01                                # one bit flipped deep in the tensors
    rec.write_bytes(bytes(data))
    with pytest.raises(integrity.WeightsIntegrityError, match="does not match the recorded"):
        pipeline.load()
    assert cli.ocr_page([str(ROOT / "samples" / "receipt.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "changed or corrupted" in err
    (rec.parent / integrity.SUMS).write_text("")                 # no record at all
    with pytest.raises(integrity.WeightsIntegrityError, match="no SHA-256 recorded"):
        pipeline.load()
