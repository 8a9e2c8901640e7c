"""``ocr-batch IN_DIR OUT_DIR``: convert a folder of scans, resumably, one failure never stopping the rest.

- Inputs: every image or PDF under IN_DIR (recursively, in sorted order; folder links are followed once,
  so a link loop ends); hidden files and folders are skipped.
- Outputs mirror the tree: ``IN_DIR/a/b.jpg`` -> ``OUT_DIR/a/b.txt`` (and ``.json``, ``.hocr``, ``.xml``
  for ALTO, ``.tsv``, ``.pdf``). Two inputs of one folder that share a name up to the suffix (``b.jpg``,
  ``b.png``) keep their suffix instead (``b.jpg.txt``), so no output is shared. Every output path is
  checked to lie inside OUT_DIR; OUT_DIR inside IN_DIR is refused (it would read its own outputs).
- Each output is written atomically (temporary file + rename): a killed run never leaves half a file, and
  an input whose outputs all exist is done. Running the same command again skips those and converts the
  rest (``--overwrite`` redoes everything).
- Pages of a multi-page document are read ``chunk`` at a time (their line crops share recognizer
  batches) and never all held at once; a searchable PDF keeps only each page's JPEG.
- ``--workers N`` runs N processes. A worker that dies (a crash in a native library, the OOM killer)
  costs only the file it held: the files in flight are retried one by one in a fresh process, and the
  one that kills it again is reported as failed.
- Failures are listed with their reasons in ``OUT_DIR/ocr-batch-report.json`` and on stderr; the exit
  code is 1 when anything failed.
- Any file name the filesystem allows is read and mirrored as its bytes; in the report (and the JSON
  outputs) a name that is not UTF-8 is a string with ``\\udcXX`` escapes, which ``os.fsencode`` turns back
  into those bytes (:func:`pipeline.exporters.json_bytes`). An output name that would pass the 255-byte
  limit of a file name (``NAME.jpg`` of 252 bytes gives ``NAME.hocr``) is cut and ends in ``~`` and 8 hex
  digits of its full name's hash instead, so it stays one name per input, the same on every run.
- One batch at a time writes to an OUT_DIR: a run holds an advisory lock (``OUT_DIR/.ocr-batch.lock``,
  ``flock``) from start to end, and a second run on the same OUT_DIR says so and waits for the first to
  finish; then it skips what the first one converted. Two runs never redo each other's files or share
  the CPU cores.
"""
from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INPUT_SUFFIXES", "EXTENSIONS", "find_inputs", "plan", "Job", "BatchReport", "run_batch", "locked",
           "convert", "load_worker", "REPORT", "LOCK"]

INPUT_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pbm", ".pgm", ".ppm",
                  ".pnm", ".jp2", ".pdf"}
EXTENSIONS = {"txt": ".txt", "json": ".json", "hocr": ".hocr", "alto": ".xml", "tsv": ".tsv", "pdf": ".pdf"}
REPORT = "ocr-batch-report.json"
LOCK = ".ocr-batch.lock"


class BatchError(ValueError):
    """A batch that cannot start (bad folders)."""


@dataclass
class Job:
    input: Path                      # the file to read
    rel: str                         # its path below IN_DIR (for messages and the report)
    outputs: dict[str, Path]         # format -> output file

    def done(self) -> bool:
        return all(p.is_file() for p in self.outputs.values())


@dataclass
class BatchReport:
    converted: int = 0
    skipped: int = 0
    pages: int = 0
    failed: dict[str, str] = field(default_factory=dict)     # rel path -> reason
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"converted": self.converted, "skipped": self.skipped, "pages": self.pages,
                "failed": [{"input": k, "error": v} for k, v in sorted(self.failed.items())],
                "seconds": round(self.seconds, 2)}


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def find_inputs(in_dir: Path, skip: Path | None = None) -> list[Path]:
    """Image and PDF files under ``in_dir`` as paths relative to it, sorted; folder links are followed,
    each real folder once, never into ``skip`` (the output folder, reachable through a link)."""
    in_dir = Path(in_dir)
    seen, found = set(), []
    for root, dirs, files in os.walk(in_dir, followlinks=True):
        real = os.path.realpath(root)
        if real in seen or (skip is not None and _inside(Path(real), Path(skip))):
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith(".") and Path(f).suffix.lower() in INPUT_SUFFIXES:
                full = Path(root) / f
                if full.is_file():
                    found.append(full.relative_to(in_dir))
    return sorted(found)


def plan(in_dir: Path, out_dir: Path, formats: list[str]) -> list[Job]:
    """The jobs of a batch: every input and its output files (see the module docstring)."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise BatchError(f"{in_dir}: no such folder")
    rin, rout = in_dir.resolve(), out_dir.resolve()
    if rout == rin or _inside(rout, rin):
        raise BatchError(f"{out_dir} is inside {in_dir}: the batch would read its own outputs; "
                         "choose an output folder outside the input folder")
    rels = find_inputs(in_dir, skip=rout)
    stems: dict[tuple[str, str], int] = {}
    for r in rels:
        key = (str(r.parent), r.stem.lower())
        stems[key] = stems.get(key, 0) + 1
    jobs = []
    for r in rels:
        base = r.name if stems[(str(r.parent), r.stem.lower())] > 1 else r.stem
        outs = {}
        for fmt in formats:
            target = out_dir / r.parent / _fit_name(base, EXTENSIONS[fmt])
            if not _inside(target.resolve(), rout):          # a linked output folder pointing elsewhere
                raise BatchError(f"{target}: would be written outside {out_dir}")
            outs[fmt] = target
        jobs.append(Job(in_dir / r, str(r), outs))
    return jobs


def _fit_name(base: str, ext: str) -> str:
    """``base + ext``, or, when that passes :data:`pipeline.exporters.NAME_MAX` bytes, ``base`` cut to fit
    with ``~`` and 8 hex digits of the full name's SHA-1 before ``ext`` (see the module docstring)."""
    from pipeline.exporters import NAME_MAX

    name = base + ext
    if len(os.fsencode(name)) <= NAME_MAX:
        return name
    tag = "~" + hashlib.sha1(os.fsencode(name)).hexdigest()[:8] + ext
    while len(os.fsencode(base + tag)) > NAME_MAX:
        base = base[:-1]
    return base + tag


@contextmanager
def locked(out_dir: Path, note=None):
    """Hold ``out_dir``'s batch lock (see the module docstring); when another run holds it, call ``note``
    with a message once and wait for it. The lock file holds the holder's pid and is removed when the
    holder is done; a run that waited on a file removed meanwhile locks the new one. Where ``fcntl`` is
    missing (Windows) there is no lock."""
    try:
        import fcntl
    except ImportError:                                        # pragma: no cover - POSIX only
        yield
        return
    path = Path(out_dir) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    noted = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if note and not noted:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                note(f"another ocr-batch (pid {holder}) is writing to {out_dir}; waiting for it to finish "
                     "(Ctrl-C stops this one) ...")
                noted = True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)                                           # the holder removed it as we waited: again
    try:
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        try:
            os.unlink(path)                                    # still locked: no one else holds this file
        except OSError:
            pass
        os.close(fd)


def _remove_stale_parts(jobs: list[Job]) -> None:
    """Delete temporary files a killed run left beside the outputs (``.NAME.*.part``, see
    :func:`pipeline.exporters.write_atomic`); finished outputs are never touched."""
    for folder in {p.parent for j in jobs for p in j.outputs.values()}:
        if folder.is_dir():
            for tmp in folder.glob(".*.part"):
                try:
                    tmp.unlink()
                except OSError:
                    pass


# ---- converting one file (in this process or a worker) -----------------------------------------------
_OCR = None
_READY = False                 # a worker has loaded its models and takes files
_BUSY = False                  # a worker is converting a file
_INTERRUPTED = False           # a worker got Ctrl-C while it waited for a file


def _on_sigint(signum, frame) -> None:
    """Ctrl-C in a worker. Converting a file: stop through KeyboardInterrupt (its atomic writes clean up,
    the parent reports "interrupted"). Loading models: exit, instead of the traceback multiprocessing
    prints for a KeyboardInterrupt outside a task. Waiting for a file: note it and go on waiting; the
    parent, interrupted too, shuts the pool down, and a file handed over meanwhile stops before it starts.
    A waiting worker must not exit: it may hold the lock of the pool's work queue, and the other workers
    would then block on that lock forever, and the parent with them when it joins them (about 1 Ctrl-C
    in 30 hung so)."""
    global _INTERRUPTED
    if _BUSY:
        raise KeyboardInterrupt
    if not _READY:
        os._exit(130)
    _INTERRUPTED = True


def _start_worker(init, load_args: tuple) -> None:
    global _READY
    signal.signal(signal.SIGINT, _on_sigint)
    init(*load_args)
    _READY = True


def load_worker(config, device, threads, min_confidence=None, orientation=None, lang=None, backend=None):
    """The loaded pipeline of one worker, from ``load_args`` (see :func:`run_batch`)."""
    import pipeline

    return pipeline.load(config=config, device=device, threads=threads, min_confidence=min_confidence,
                         orientation=orientation, lang=lang, backend=backend)


def _init_worker(*load_args) -> None:
    global _OCR
    _OCR = load_worker(*load_args)


def convert(ocr, job: Job, chunk: int = 4) -> int:
    """Read every page of ``job.input`` and write all its outputs; returns the page count."""
    from pipeline.exporters import export, file_date, write_atomic
    from pipeline.images import pages as iter_pages
    from pipeline.pdf import page_jpeg

    want_pdf = "pdf" in job.outputs
    pages, jpegs, buf = [], [], []

    def flush():
        rgbs = [a for _, a in buf]
        pages.extend(ocr.read_arrays(rgbs, [job.rel] * len(buf), [i for i, _ in buf]))
        if want_pdf:
            jpegs.extend(page_jpeg(a) for a in rgbs)
        buf.clear()

    for index, rgb in iter_pages(job.input, job.rel):
        buf.append((index, rgb))
        if len(buf) >= chunk:
            flush()
    if buf:
        flush()
    data = {fmt: export(pages, fmt, jpegs if fmt == "pdf" else None, file_date(job.input)) for fmt in job.outputs}
    for fmt, path in job.outputs.items():                      # every format made before any is written
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data[fmt])
    return len(pages)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg


def _worker_task(job: Job, chunk: int) -> tuple[int, str | None]:
    global _BUSY
    if _INTERRUPTED:
        raise KeyboardInterrupt
    _BUSY = True
    try:
        return convert(_OCR, job, chunk), None
    except Exception as exc:                                   # reported per file; the batch goes on
        return 0, _reason(exc)
    finally:
        _BUSY = False


# ---- the batch ---------------------------------------------------------------------------------------
def run_batch(jobs: list[Job], out_dir: Path, ocr=None, workers: int = 1, overwrite: bool = False, chunk: int = 4,
              load_args: tuple = (None, "cpu", None), progress: bool = True, init=None, runner=None) -> BatchReport:
    """Convert ``jobs``; ``ocr`` is the loaded pipeline for ``workers == 1``, ``load_args`` = (config,
    device, threads per worker[, min_confidence[, orientation[, lang[, backend]]]]) for workers, each of which runs ``init(*load_args)``
    first (default: load the pipeline; a module-level function, so spawned workers can import it).
    ``runner(todo, finished)``, when given, converts the jobs to do elsewhere instead (``ocr-batch --ray``:
    :func:`pipeline.integrations.ray_batch.run_ray_batch`), calling ``finished(job, pages, error)`` for each.
    Returns the report, also written to ``OUT_DIR``. The whole run holds ``OUT_DIR``'s lock (:func:`locked`):
    a second run on it waits, saying so on stderr."""
    with locked(out_dir, note=lambda msg: print(f"ocr-batch: {msg}", file=sys.stderr, flush=True)):
        return _run_batch(jobs, out_dir, ocr, workers, overwrite, chunk, load_args, progress, init, runner)


def _run_batch(jobs, out_dir, ocr, workers, overwrite, chunk, load_args, progress, init, runner) -> BatchReport:
    from tqdm import tqdm

    from pipeline.exporters import display_name

    report = BatchReport()
    _remove_stale_parts(jobs)
    todo = []
    for job in jobs:
        if not overwrite and job.done():
            report.skipped += 1
        else:
            todo.append(job)
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), unit="file", desc="ocr-batch", disable=not progress, dynamic_ncols=True)

    def finished(job: Job, n: int, err: str | None) -> None:
        if err is None:
            report.converted += 1
            report.pages += n
            report.failed.pop(job.rel, None)
        else:
            report.failed[job.rel] = err
            bar.write(display_name(f"ocr-batch: {job.rel}: {err}"), file=sys.stderr)
        bar.update(1)
        bar.set_postfix(pages_s=f"{report.pages / max(1e-9, time.perf_counter() - t0):.2f}", failed=len(report.failed))

    try:
        if runner is not None:
            runner(todo, finished)
        elif workers <= 1:
            for job in todo:
                try:
                    n, err = convert(ocr, job, chunk), None
                except Exception as exc:
                    n, err = 0, _reason(exc)
                finished(job, n, err)
        else:
            _run_pool(todo, workers, chunk, (init or _init_worker, load_args), finished)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - t0
        out_dir.mkdir(parents=True, exist_ok=True)
        from pipeline.exporters import json_bytes, write_atomic

        write_atomic(out_dir / REPORT, json_bytes(report.to_dict(), indent=1) + b"\n")
    return report


def _pool(n: int, start: tuple) -> ProcessPoolExecutor:
    import multiprocessing as mp

    return ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"), initializer=_start_worker,
                               initargs=start)


def _run_pool(todo: list[Job], workers: int, chunk: int, start: tuple, finished) -> None:
    """Run jobs on ``workers`` processes, ``workers`` in flight at a time; after a worker dies, the jobs
    that were in flight are retried one at a time in a fresh single process to find the one to blame."""
    queue = list(todo)
    suspects: list[Job] = []
    while queue or suspects:
        if suspects:                                          # one at a time: a crash now names its file
            job = suspects.pop(0)
            with _pool(1, start) as ex:
                try:
                    n, err = ex.submit(_worker_task, job, chunk).result()
                except BrokenProcessPool:
                    n, err = 0, "the worker process died while reading it (crash or out of memory)"
            finished(job, n, err)
            continue
        ex = _pool(workers, start)
        inflight = {}
        try:
            while queue or inflight:
                while queue and len(inflight) < workers:
                    job = queue.pop(0)
                    inflight[ex.submit(_worker_task, job, chunk)] = job
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    n, err = fut.result()                     # BrokenProcessPool surfaces here
                    finished(inflight.pop(fut), n, err)
        except BrokenProcessPool:
            suspects.extend(inflight.values())
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
