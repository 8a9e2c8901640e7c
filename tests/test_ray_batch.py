"""``ocr-batch --ray`` on a real local Ray instance (the ray extra): the same outputs as ``ocr-batch``, byte
for byte, and a worker killed mid-run costs nothing but time."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="the ray extra is not installed: bash scripts/setup.sh --test")

ROOT = Path(__file__).resolve().parents[1]
OCR_BATCH = Path(sys.executable).parent / "ocr-batch"


def _inputs(folder: Path, n: int) -> Path:
    """``n`` scans in a small tree (receipts and the letter, copied under several names)."""
    for k in range(n):
        src = ROOT / "samples" / ("receipt.jpg" if k % 3 else "letter.jpg")
        dest = folder / ("sub" if k % 2 else "") / f"scan_{k:02d}.jpg"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    return folder


def _batch(in_dir: Path, out_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(OCR_BATCH), str(in_dir), str(out_dir), "-f", "txt,json", "--quiet", *extra],
                          capture_output=True, text=True, timeout=600)


def _outputs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".txt", ".json") and p.name != "ocr-batch-report.json"}


def test_ray_gives_the_same_bytes_as_ocr_batch(tmp_path):
    src = _inputs(tmp_path / "in", 5)
    plain = _batch(src, tmp_path / "plain", "--threads", "1")
    assert plain.returncode == 0, plain.stderr[-2000:]
    on_ray = _batch(src, tmp_path / "ray", "--ray", "--workers", "2")
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    ours, theirs = _outputs(tmp_path / "plain"), _outputs(tmp_path / "ray")
    assert len(ours) == 10 and ours == theirs
    report = json.loads((tmp_path / "ray" / "ocr-batch-report.json").read_text())
    assert (report["converted"], report["skipped"], report["failed"]) == (5, 0, [])


def test_a_killed_ray_worker_costs_nothing_and_a_rerun_redoes_nothing(tmp_path):
    import psutil

    src, out = _inputs(tmp_path / "in", 10), tmp_path / "out"
    cmd = [str(OCR_BATCH), str(src), str(out), "-f", "txt,json", "--quiet", "--ray", "--workers", "2"]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.time() + 300
    while killed is None and time.time() < deadline and run.poll() is None:
        time.sleep(0.5)
        if not list(out.rglob("*.json")):                    # an actor has its models and converts
            continue
        for proc in psutil.Process(run.pid).children(recursive=True) + [p for p in psutil.process_iter()]:
            try:
                if "MapWorker" in " ".join(proc.cmdline()):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = proc.pid
                    break
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    stdout, stderr = run.communicate(timeout=600)
    assert killed is not None, "no Ray worker process was found to kill"
    assert run.returncode == 0, stderr[-2000:]
    assert len(_outputs(out)) == 20
    report = json.loads((out / "ocr-batch-report.json").read_text())
    assert report["converted"] == 10 and report["failed"] == []
    again = _batch(src, out, "--ray", "--workers", "2")
    assert again.returncode == 0 and "0 converted (0 pages), 10 already done, 0 failed" in again.stderr


def test_ray_client_addresses_are_refused_in_one_line(tmp_path):
    src = _inputs(tmp_path / "in", 1)
    out = _batch(src, tmp_path / "out", "--ray", "ray://127.0.0.1:10001")
    assert out.returncode == 2 and "Ray Data does not run through Ray Client" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
