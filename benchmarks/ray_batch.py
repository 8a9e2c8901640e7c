"""``ocr-batch --ray`` on a local 2-CPU Ray instance against ``ocr-batch --workers 2`` on the same pages.

    python benchmarks/ray_batch.py [--pages 40] [--json benchmarks/figures/ray_batch.json]

Pages: the first ``--pages`` of SROIE val, FUNSD val and the phone photos, taken in turn (as
``benchmarks/throughput.py`` takes them), linked into one folder. Each command is the real one, run in a
child process, timed from its start to its exit (interpreter, model loading, Ray start-up and actor
start-up included: what a user waits for):

- ``ocr-batch IN OUT -f txt --workers 2 --threads 2`` (two worker processes, one thread each);
- ``ocr-batch IN OUT -f txt --ray --workers 2`` (a new local Ray instance with this machine's CPUs, two
  actors of one CPU and one thread each).

Each also runs on the first page alone: its time is the fixed cost of starting (the models, the pool or
the Ray instance and its actors), and the 40-page time minus it the cost of the pages themselves. The
overhead of Ray is printed both ways. A diagnostic with printed figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / "benchmarks"))

from throughput import pages  # noqa: E402  (the same pages as the throughput figures)

SYSTEMS = {"ocr-batch --workers 2": ["--workers", "2", "--threads", "2"],
           "ocr-batch --ray (local, 2 CPUs)": ["--ray", "--workers", "2"]}


def run(folder: Path, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "import sys; from pipeline.cli import batch_main; batch_main()",
                               str(folder), out, "-f", "txt", "--quiet", *extra], cwd=_ROOT, capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(_ROOT)})   # Ray's workers too
        seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"ray_batch: ocr-batch {' '.join(extra)} failed: {done.stderr.strip()[-400:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    files = pages(args.pages)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for n in (1, len(files)):
            folders[n] = Path(tmp) / f"in{n}"
            folders[n].mkdir()
            for i, f in enumerate(files[:n]):
                (folders[n] / f"{i:03d}_{f.name}").symlink_to(f.resolve())
        for name, extra in SYSTEMS.items():
            start = run(folders[1], extra)
            total = run(folders[len(files)], extra)
            per_page = (total - start) / (len(files) - 1)
            rows.append({"system": name, "pages": len(files), "seconds": round(total, 2),
                         "pages_per_s": round(len(files) / total, 3), "one_page_seconds": round(start, 2),
                         "s_per_page_after_start": round(per_page, 3)})
            print(f"{name:32s} {len(files)} pages in {total:6.1f} s = {len(files) / total:.3f} pages/s; one page "
                  f"{start:5.1f} s; {per_page:.3f} s a page beyond the first", flush=True)
    plain, ray = rows
    print(f"Ray's overhead here: {ray['seconds'] - plain['seconds']:+.1f} s on {len(files)} pages "
          f"({ray['seconds'] / plain['seconds'] - 1:+.0%}); start-up {ray['one_page_seconds'] - plain['one_page_seconds']:+.1f} s, "
          f"per page {ray['s_per_page_after_start'] - plain['s_per_page_after_start']:+.3f} s")
    if args.json:
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "results": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
