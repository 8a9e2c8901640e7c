"""Folder throughput: pages per second converting one folder, this project's ``ocr-batch`` against Tesseract
run as N processes at once and PP-OCRv4 with N threads, on the same pages.

    python benchmarks/throughput.py [--workers 1 2] [--pages 40] [--json benchmarks/figures/throughput.json]

Pages: the first SROIE val, FUNSD val and phone-photo pages in turn, ``--pages`` in all, linked into one
temporary folder. For each N of ``--workers``:

- **this project**: the real command, ``ocr-batch IN OUT -f txt --workers N --threads N --quiet``, in a
  child process; the wall time from its start to its exit (interpreter start, model loading and worker
  start-up included: what a user waits for);
- **Tesseract 5**: ``tesseract PAGE stdout`` (the page's text) for every page, N processes at a time, each
  with ``OMP_THREAD_LIMIT=1``;
- **PP-OCRv4** (``rapidocr-onnxruntime``): one engine with N intra-op threads reading the pages in turn
  (its engine is not built for several processes), model loading included.

A diagnostic with printed figures, not a test: compare the systems within one run on one machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_REAL = _ROOT.parent / "shared/data/real"


def pages(n: int) -> list[Path]:
    """The first ``n`` of SROIE val, FUNSD val and the photos, taken in turn."""
    from synth import pageset

    sets = [[p.image for p in pageset.split(pageset.read(_REAL / name), "val", name)] for name in ("sroie", "funsd")]
    sets.append([p.image for p in pageset.unlabelled(_REAL / "photos")])
    out = []
    for i in range(n):
        out.append(sets[i % 3][i // 3])
    return out


def project(folder: Path, workers: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", "import sys; from pipeline.cli import batch_main; batch_main()",
                              str(folder), out, "-f", "txt", "--workers", str(workers), "--threads", str(workers),
                              "--quiet"], cwd=_ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(f"throughput: ocr-batch failed: {run.stderr.strip()[-300:]}")
    return seconds


def tesseract(files: list[Path], workers: int) -> float:
    exe = shutil.which("tesseract")
    if not exe:
        raise SystemExit("throughput: tesseract is not installed (bash scripts/setup.sh --tools)")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def one(f: Path) -> None:
        subprocess.run([exe, str(f), "stdout", "-l", "eng"], capture_output=True, env=env, check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, files))
    return time.perf_counter() - t0


def rapidocr(files: list[Path], workers: int) -> float:
    import cv2
    from rapidocr_onnxruntime import RapidOCR

    t0 = time.perf_counter()
    engine = RapidOCR(intra_op_num_threads=workers, inter_op_num_threads=1)
    for f in files:
        engine(cv2.imread(str(f)))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    files = pages(args.pages)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, f in enumerate(files):
            (folder / f"{i:03d}_{f.name}").symlink_to(f.resolve())
        for n in args.workers:
            for system, fn, arg in (("project", project, folder), ("tesseract", tesseract, files),
                                    ("rapidocr", rapidocr, files)):
                seconds = fn(arg, n)
                rows.append({"system": system, "workers": n, "pages": len(files), "seconds": round(seconds, 2),
                             "pages_per_s": round(len(files) / seconds, 3)})
                print(f"{system:10s} N={n}: {len(files)} pages in {seconds:6.1f} s, {len(files) / seconds:.3f} pages/s",
                      flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "results": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
