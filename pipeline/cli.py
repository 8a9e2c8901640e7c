"""Console scripts: ``ocr-page``, ``ocr-batch``, ``ocr-train``, ``ocr-eval``, ``ocr-synth``.

Exit codes: 0 success; 1 some inputs failed; 2 bad usage or input; 3 no trained weights.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["ocr_page", "ocr_batch", "ocr_train", "ocr_eval", "ocr_synth"]


_ORIENTATION_HELP = ("auto: turn each page the quarter turn (0/90/180/270) its text reads best at, by the "
                     "models' evidence (default: the config's page.orientation, auto as shipped); none: read "
                     "pages as given; 0, 90, 180 or 270: turn every page by that many degrees counter-clockwise")
_LANG_HELP = ("the recognizer: en, Latin script; zh, Simplified Chinese and English; auto, per page zh when its "
              "reading of a sample of the lines is mostly hanzi, else en (default: the config's recognizer.lang, "
              "en as shipped)")
_BACKEND_HELP = ("what runs the networks: torch (the .pt weights), onnx (their .onnx exports, run by ONNX "
                 "Runtime; CPU only) or auto (the faster here: onnx on CPUs without AMX, torch on a GPU or with "
                 "bfloat16 on CPUs with AMX) (default: the config's runtime.backend, auto as shipped)")
_MIN_CONFIDENCE_HELP = ("leave off lines read less confidently than C, 0 to 1 (default: the config's "
                        "layout.min_confidence, 0.5 as shipped; 0 keeps every line)")


def _fail(prog: str, msg: str, code: int) -> int:
    print(f"{prog}: {msg}", file=sys.stderr)
    return code


def _load_pipeline(prog: str, device: str = "cpu", config: str | None = None, threads: int | None = None,
                   min_confidence: float | None = None, orientation: str | None = None, lang: str | None = None,
                   backend: str | None = None):
    import pipeline

    try:
        return pipeline.load(config=config, device=device, threads=threads, min_confidence=min_confidence,
                             orientation=orientation, lang=lang, backend=backend), 0
    except pipeline.NoWeightsError as exc:
        return None, _fail(prog, str(exc), 3)
    except (ValueError, FileNotFoundError) as exc:
        return None, _fail(prog, str(exc).splitlines()[0], 2)


def _numbered(path: Path, n: int, total: int) -> Path:
    return path if total == 1 else path.with_name(f"{path.stem}-{n + 1}{path.suffix}")


def _page_parser() -> argparse.ArgumentParser:
    from pipeline.backends import BACKENDS
    from pipeline.config import LANG_MODES
    from pipeline.exporters import FORMATS
    from pipeline.orientation import MODES

    ap = argparse.ArgumentParser(
        prog="ocr-page", description="Read the text of scanned pages, receipts, forms and photos of pages.",
        epilog="Exit codes: 0 all read; 1 some inputs could not be read (the rest are written); "
               "2 bad usage or no readable input; 3 no trained weights.")
    ap.add_argument("inputs", nargs="+", help="image or PDF files; '-' reads one from standard input")
    ap.add_argument("-f", "--format", choices=FORMATS, default=None,
                    help="output format (default: from -o's suffix, else txt)")
    ap.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    ap.add_argument("--layout", action="store_true", help="txt that keeps horizontal positions (receipts, forms)")
    ap.add_argument("--draw", type=Path, metavar="PNG", help="also draw lines, words and text over the page")
    ap.add_argument("--dump-crops", type=Path, metavar="DIR", help="also write every line crop the recognizer read")
    ap.add_argument("--dpi", type=float, default=300, help="PDF inputs are rendered at this resolution (300)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for the networks")
    ap.add_argument("--config", help="pipeline YAML laid over the shipped configs/default.yaml")
    ap.add_argument("--min-confidence", type=float, default=None, metavar="C", help=_MIN_CONFIDENCE_HELP)
    ap.add_argument("--orientation", choices=MODES, default=None, help=_ORIENTATION_HELP)
    ap.add_argument("--lang", choices=LANG_MODES, default=None, help=_LANG_HELP)
    ap.add_argument("--backend", choices=BACKENDS, default=None, help=_BACKEND_HELP)
    return ap


PROGRESS_PAGES = 3          # ocr-page shows a progress bar (stderr a terminal) for documents of more pages


class _OutputError(Exception):
    """Writing the output failed (the OSError is its cause)."""


class _PageStream:
    """txt or json written to standard output as each page is read, byte for byte what
    :func:`pipeline.exporters.export` gives for the whole list: txt pages joined by form feeds, json one
    object for one page and a list for several (so the first page waits for the second)."""

    def __init__(self, fmt: str, layout_txt: bool, out):
        from pipeline import layout
        from pipeline.exporters import json_bytes

        self.fmt, self.out, self.n, self.first = fmt, out, 0, None
        self.text = (lambda p: layout.page_layout_text(p)) if layout_txt else (lambda p: p.text)
        self.json = lambda p: json_bytes(p.to_dict())

    def _write(self, data: bytes) -> None:
        try:
            self.out.write(data)
            self.out.flush()
        except OSError as exc:
            raise _OutputError(exc) from exc

    def add(self, page) -> None:
        if self.fmt == "txt":
            self._write(("\f" if self.n else "").encode() + self.text(page).encode("utf-8"))
        elif self.n == 0:
            self.first = page
        else:
            self._write((b"[" + self.json(self.first) if self.n == 1 else b"") + b", " + self.json(page))
        self.n += 1

    def close(self) -> None:
        if self.n:
            self._write(b"\n" if self.fmt == "txt" else self.json(self.first) + b"\n" if self.n == 1 else b"]\n")


def _write_page_outputs(ocr, args, fmt: str, pages: list, images: list, streamed: bool) -> None:
    """The page file (unless it was streamed to standard output), then ``--draw`` and ``--dump-crops``;
    raises OSError."""
    from pipeline.exporters import export, file_date, write_atomic

    if not streamed:
        if args.layout:
            from pipeline import layout

            data = ("\f".join(layout.page_layout_text(p) for p in pages) + "\n").encode("utf-8")
        else:
            data = export(pages, fmt, images if fmt == "pdf" else None,
                          max(filter(None, map(file_date, args.inputs)), default=None))   # PDF date: newest input
        if args.output:
            write_atomic(args.output, data)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
    if args.draw:
        from PIL import Image

        from pipeline.draw import draw_page

        for n, (page, rgb) in enumerate(zip(pages, images)):
            Image.fromarray(draw_page(rgb, page)).save(_numbered(args.draw, n, len(pages)))
    if args.dump_crops:
        _dump_crops(ocr, pages, images, args.dump_crops)


def _output_problem(args) -> str | None:
    """Why ``-o`` or ``--draw`` cannot be written (checked before any page is read), or None."""
    for path in (args.output, args.draw):
        if path is None:
            continue
        if path.is_dir():
            return f"cannot write {path}: is a folder; give a file name"
        if not path.parent.is_dir():
            return f"cannot write {path}: no such folder {path.parent}"
    return None


def ocr_page(argv: list[str] | None = None) -> int:
    args = _page_parser().parse_args(argv)
    from pipeline.exporters import display_name, format_of
    from pipeline.images import file_problem

    try:
        fmt = args.format or (format_of(args.output) if args.output else "txt")
    except ValueError as exc:
        return _fail("ocr-page", str(exc), 2)
    if args.layout and fmt != "txt":
        return _fail("ocr-page", "--layout is a txt mode; it cannot be used with --format " + fmt, 2)
    if fmt == "pdf" and args.output is None and sys.stdout.isatty():
        return _fail("ocr-page", "a PDF is binary: give -o FILE.pdf or redirect standard output", 2)
    if args.inputs.count("-") > 1:
        return _fail("ocr-page", "'-' (standard input) can be given once", 2)
    problem = _output_problem(args)
    if problem:
        return _fail("ocr-page", problem, 2)
    problems = {p: file_problem(p) for p in args.inputs if p != "-"}
    stdin = None
    if "-" in args.inputs:                       # read (and size-checked) before the models load
        from pipeline.images import ImageError, read_stream

        try:
            stdin = read_stream(sys.stdin.buffer, "stdin")
        except ImageError as exc:
            problems["-"] = str(exc).removeprefix("stdin: ")
    missing = [p for p in args.inputs if problems.get(p)]
    for p in missing:
        print(display_name(f"ocr-page: {'stdin' if p == '-' else p}: {problems[p]}"), file=sys.stderr)
    if len(missing) == len(args.inputs):
        return 2
    ocr, code = _load_pipeline("ocr-page", args.device, args.config, args.threads, args.min_confidence,
                               args.orientation, args.lang, args.backend)
    if ocr is None:
        return code
    import pipeline

    try:
        ocr.check_pages()
    except pipeline.NoWeightsError as exc:
        return _fail("ocr-page", str(exc), 3)
    stream = _PageStream(fmt, args.layout, sys.stdout.buffer) if args.output is None and fmt in ("txt", "json") else None
    try:
        pages, images, failed = _read_inputs(ocr, args, [p for p in args.inputs if p not in missing], stdin,
                                             stream, keep_images=bool(fmt == "pdf" or args.draw or args.dump_crops))
        if not pages:
            return 2
        if stream:
            stream.close()
        _write_page_outputs(ocr, args, fmt, pages, images, streamed=stream is not None)
    except (OSError, _OutputError) as exc:
        exc = exc.__cause__ if isinstance(exc, _OutputError) else exc
        return _fail("ocr-page", f"cannot write output: {exc.strerror or exc} ({exc.filename or args.output or 'stdout'})", 2)
    return 1 if failed + len(missing) else 0


def _read_inputs(ocr, args, inputs: list[str], stdin, stream, keep_images: bool) -> tuple[list, list, int]:
    """Read every page of ``inputs`` (``-`` is ``stdin``, the bytes read from standard input) into
    ``(pages, images, failed)``, each page passed to ``stream`` as soon as it is read; a progress bar
    on a terminal's stderr for documents of more than :data:`PROGRESS_PAGES` pages."""
    from tqdm import tqdm

    from pipeline.exporters import display_name
    from pipeline.images import ImageError, page_count

    pages, images, failed = [], [], 0
    for name in inputs:
        label = "stdin" if name == "-" else name
        src = stdin if name == "-" else name
        try:
            total = page_count(src)
            with tqdm(total=total, desc=display_name(label), unit="page", file=sys.stderr, leave=False,
                      dynamic_ncols=True, disable=not (sys.stderr.isatty() and (total or 0) > PROGRESS_PAGES)) as bar:
                for page, rgb in ocr.iter_read(src, dpi=args.dpi, source=label, with_images=True):
                    pages.append(page)
                    if keep_images:
                        images.append(rgb)
                    if stream:
                        stream.add(page)
                    bar.update(1)
        except ImageError as exc:
            failed += 1
            print(display_name(f"ocr-page: {exc}"), file=sys.stderr)
    return pages, images, failed


def _dump_crops(ocr, pages, images, folder: Path) -> None:
    """Write each line's strip as ``p{page}_l{line}.png`` and an index ``crops.tsv`` (file, text, confidence)."""
    import cv2

    from pipeline import crop

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file\ttext\tconfidence"]
    for n, (page, rgb) in enumerate(zip(pages, images)):
        gray = crop.to_gray(rgb)
        for ln in page.lines:
            name = f"p{n + 1}_l{ln.id:03d}.png"
            cv2.imwrite(str(folder / name), crop.crop_line(gray, ln.quad, ocr.config.crop).image)
            rows.append(f"{name}\t{' '.join(ln.text.split())}\t{ln.confidence:.3f}")
    (folder / "crops.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def ocr_batch(argv: list[str] | None = None) -> int:
    from pipeline import batch
    from pipeline.exporters import display_name
    from pipeline.backends import BACKENDS
    from pipeline.config import LANG_MODES
    from pipeline.orientation import MODES

    ap = argparse.ArgumentParser(
        prog="ocr-batch", description="Convert a folder of scans (recursively), mirroring its tree.",
        epilog="Run the same command again to resume: inputs whose outputs all exist are skipped. Exit codes: "
               "0 all converted; 1 some inputs failed (listed in OUT_DIR/" + batch.REPORT + "); "
               "2 bad usage; 3 no trained weights.")
    ap.add_argument("in_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("-f", "--format", default="txt",
                    help="comma-separated output formats: " + ",".join(batch.EXTENSIONS) + " (default txt)")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default 1); with --ray, actors (default: the cluster's CPUs / --threads)")
    ap.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                    help="convert on Ray Data (the ray extra): no ADDRESS starts a new local Ray instance; 'auto' "
                         "(or HOST:6379) joins a running cluster from one of its nodes or a ray job. IN_DIR and "
                         "OUT_DIR must be the same paths on every node")
    ap.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs exist")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads in all (split among workers); with --ray, threads (and CPUs) per actor (default 1)")
    ap.add_argument("--config", help="pipeline YAML laid over the shipped configs/default.yaml")
    ap.add_argument("--min-confidence", type=float, default=None, metavar="C", help=_MIN_CONFIDENCE_HELP)
    ap.add_argument("--orientation", choices=MODES, default=None, help=_ORIENTATION_HELP)
    ap.add_argument("--lang", choices=LANG_MODES, default=None, help=_LANG_HELP)
    ap.add_argument("--backend", choices=BACKENDS, default=None, help=_BACKEND_HELP)
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in batch.EXTENSIONS]
    if bad or not formats:
        return _fail("ocr-batch", f"unknown format {', '.join(bad) or '(none)'}; choose from {', '.join(batch.EXTENSIONS)}", 2)
    if args.workers is not None and args.workers < 1:
        return _fail("ocr-batch", "--workers must be at least 1", 2)
    if args.ray is not None:
        from pipeline.backends import installed

        if not installed("ray"):
            return _fail("ocr-batch", "--ray needs Ray Data: pip install 'ocr-page[ray]'", 2)
    workers = args.workers or 1
    try:
        jobs = batch.plan(args.in_dir, args.out_dir, list(dict.fromkeys(formats)))
    except batch.BatchError as exc:
        return _fail("ocr-batch", str(exc), 2)
    ocr, code = _load_pipeline("ocr-batch", args.device, args.config,
                               args.threads if workers == 1 else 1, args.min_confidence, args.orientation,
                               args.lang, args.backend)
    if ocr is None:
        return code
    import pipeline

    try:
        ocr.check_pages()                                     # before any file is touched
    except pipeline.NoWeightsError as exc:
        return _fail("ocr-batch", str(exc), 3)
    per_worker = max(1, (args.threads or os.cpu_count() or 1) // workers)
    load_args = (args.config, args.device, per_worker, args.min_confidence, args.orientation, args.lang, args.backend)
    runner = None
    if args.ray is not None:                                  # the same jobs and report, read on Ray Data
        from functools import partial

        from pipeline.integrations import ray_batch

        try:
            ray_batch.connect(args.ray or None)               # before any file is touched
        except Exception as exc:                              # Ray raises ConnectionError, RuntimeError, ...
            where = f"the Ray cluster at {args.ray}" if args.ray else "a local Ray instance"
            return _fail("ocr-batch", f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 2)
        runner = partial(ray_batch.run_ray_batch, load_args=load_args, address=args.ray or None,
                         workers=args.workers, threads=args.threads or 1)
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        report = batch.run_batch(jobs, args.out_dir, ocr if workers == 1 else None, workers, args.overwrite,
                                 load_args=load_args, progress=not args.quiet, runner=runner)
    except OSError as exc:
        return _fail("ocr-batch", f"cannot write to {args.out_dir}: {exc.strerror or exc}", 2)
    print(f"ocr-batch: {report.converted} converted ({report.pages} pages), {report.skipped} already done, "
          f"{len(report.failed)} failed in {report.seconds:.1f} s", file=sys.stderr)
    for rel, why in sorted(report.failed.items()):
        print(display_name(f"ocr-batch: failed: {rel}: {why}"), file=sys.stderr)
    return 1 if report.failed else 0


def ocr_train(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-train", description="Train the detector or the recognizer, or average "
                                 "weight files of one run (average-detector, average-recognizer).")
    ap.add_argument("model", choices=("detector", "recognizer", "average-detector", "average-recognizer"))
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="options of that model's trainer (--config, --out, --device)")
    args = ap.parse_args(argv)
    if args.model == "detector":
        from detection.train import main
    elif args.model == "average-detector":
        from detection.average import main
    else:                                          # the recognizer's detected-row pools are cut by the pipeline
        from pipeline.evaluate import PageRows
        from recognition.train import average_main, main as train_main

        return (train_main if args.model == "recognizer" else average_main)(args.rest, rows=PageRows())
    return main(args.rest)


def ocr_eval(argv: list[str] | None = None) -> int:
    from pipeline.evaluate import main

    return main(argv)


def ocr_synth(argv: list[str] | None = None) -> int:
    from synth.cli import main

    return main(argv)


def _entry(fn):
    def run() -> None:
        try:
            sys.exit(fn())
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
    return run


page_main, batch_main, train_main, eval_main, synth_main = (_entry(f) for f in (ocr_page, ocr_batch, ocr_train, ocr_eval, ocr_synth))
