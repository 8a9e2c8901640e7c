"""Peak memory (RSS) of reading long documents and a very large page, each case in a fresh process.

    python benchmarks/memory.py [--pages 200] [--threads 2]

Cases (all made here from ``samples/letter.jpg``, a 160-dpi A4 letter):
- ``tiff``: a multi-page TIFF of ``--pages`` letter pages (JPEG-compressed), read with
  ``pipeline.load().iter_read``: pages are decoded one at a time, so the peak after the last page should be
  the peak after the first few;
- ``pdf``: a PDF of ``--pages`` such pages (one embedded JPEG each), rendered page by page at 150 dpi;
- ``a3-600dpi``: one 600-dpi A3 scan (7016 x 9921 px, 70 Mpx: the letter tiled 2 x 2 and enlarged), read
  with ``pipeline.load()``: the detector works on a copy at most 2048 px long, lines are cut from the
  full page.
For each case the peak RSS (``VmHWM``) is printed after loading the models, after a few pages and
after the last page. This is a benchmark, not a test: it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: reset at exec, unlike ru_maxrss, which a child
    inherits from the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make(case: str, pages: int, folder: Path) -> Path:
    from PIL import Image

    letter = Image.open(ROOT / "samples" / "letter.jpg").convert("RGB")
    if case == "tiff":
        path = folder / "long.tif"
        letter.save(path, save_all=True, append_images=[letter] * (pages - 1), compression="jpeg")
    elif case == "pdf":
        from fpdf import FPDF

        buf = io.BytesIO()
        letter.save(buf, format="JPEG", quality=85)
        pdf = FPDF(unit="pt", format="A4")
        for _ in range(pages):
            pdf.add_page()
            pdf.image(io.BytesIO(buf.getvalue()), x=0, y=0, w=595.28, h=841.89)
        path = folder / "long.pdf"
        pdf.output(str(path))
    else:
        w, h = letter.size
        tiled = Image.new("RGB", (2 * w, 2 * h), "white")
        for i in range(2):
            for j in range(2):
                tiled.paste(letter, (i * w, j * h))
        path = folder / "a3-600dpi.png"
        tiled.resize((7016, 9921), Image.BILINEAR).save(path, compress_level=1)
    return path


def run_case(path: str, threads: int) -> None:
    """In a fresh process: read every page of ``path``, print peak RSS after models, 3 pages, all pages."""
    import pipeline

    ocr = pipeline.load(threads=threads)
    after_load = peak_mb()
    t0, n, after_few = time.perf_counter(), 0, None
    for page in ocr.iter_read(path, dpi=150):
        n += 1
        if n == 3:
            after_few = peak_mb()
    print(f"{n}\t{after_load:.0f}\t{(after_few or peak_mb()):.0f}\t{peak_mb():.0f}\t{(time.perf_counter() - t0) / n:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--case", help=argparse.SUPPRESS)          # internal: run one case in this process
    args = ap.parse_args(argv)
    if args.case:
        run_case(args.case, args.threads)
        return 0
    print(f"peak RSS in MB, {args.threads} threads, each case in a fresh process")
    print(f"{'case':<12} {'pages':>5} {'models':>7} {'3 pages':>8} {'all':>7} {'s/page':>7}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in ("tiff", "pdf", "a3-600dpi"):
            path = make(case, args.pages, Path(tmp))
            out = subprocess.run([sys.executable, __file__, "--case", str(path), "--threads", str(args.threads)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                print(f"{case:<12} failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            n, models, few, peak, sec = out.stdout.strip().splitlines()[-1].split("\t")
            print(f"{case:<12} {n:>5} {models:>7} {few:>8} {peak:>7} {sec:>7}")
            rows.append({"case": case, "pages": int(n), "mb_models": int(models), "mb_3_pages": int(few),
                         "mb_peak": int(peak), "s_page": float(sec)})
            path.unlink()
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "results": rows}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
