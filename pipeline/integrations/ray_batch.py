"""``ocr-batch IN_DIR OUT_DIR --ray [ADDRESS]``: the conversion of :mod:`pipeline.batch` on Ray Data, for a
cluster of machines (``pip install "ocr-page[ray]"`` on every node).

The same jobs (:func:`pipeline.batch.plan`: the same inputs, the same mirrored output names, inputs whose
outputs all exist skipped), the same conversion of each file (:func:`pipeline.batch.convert`: outputs
written atomically, by the actors, into OUT_DIR) and the same report (``OUT_DIR/ocr-batch-report.json``,
exit code 1 when anything failed). What changes is who reads: a Ray Data pipeline of one row per input,
``map_batches`` over an actor pool whose actors load the models once each and convert one file per call.

- ``ADDRESS``: none starts a new local Ray instance with this machine's cores; ``auto`` (or the head's
  ``HOST:6379``) joins a running cluster as its driver: run on one of its nodes, or submitted with
  ``ray job submit -- ocr-batch ... --ray auto``. Ray Client addresses (``ray://``) are refused with a
  one-line reason: Ray Data's executor does not run through Ray Client in Ray 2.60 (tried: it fails with
  "'Worker' object has no attribute 'core_worker'"). On a cluster IN_DIR and OUT_DIR must be the same
  paths on every node (a shared file system).
- Actors: ``workers`` of them (default: the cluster's CPUs / ``threads``), each with ``threads`` CPUs
  reserved and that many network threads.
- A worker process that dies (killed, out of memory, a crash in a native library) is restarted by Ray, and
  the file it held is read again by a live actor, up to :data:`RETRIES` times; a file that kills its worker
  every time is reported as failed ("the worker process died ...") and the batch goes on
  (``DataContext.max_errored_blocks``). Files finished before the death keep their outputs, so a rerun
  redoes nothing that was done.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

__all__ = ["connect", "run_ray_batch", "RETRIES"]

RETRIES = 2                 # a file's conversion is tried again this many times after its worker dies
DIED = "the worker process died while reading it (crash or out of memory)"


class _Converter:
    """One actor of the pool: loads the models once, then converts the files of each batch it is given."""

    load_args: tuple = (None, "cpu", 1)          # set on the subclass run_ray_batch makes (see there)
    chunk: int = 4

    def __init__(self):
        from pipeline.batch import load_worker

        self.ocr = load_worker(*self.load_args)

    def __call__(self, batch: dict) -> dict:
        from pipeline.batch import Job, _reason, convert

        pages, errors = [], []
        for inp, rel, outs in zip(batch["input"], batch["rel"], batch["outputs"]):
            job = Job(Path(inp), rel, {fmt: Path(p) for fmt, p in outs.items()})
            try:
                pages.append(convert(self.ocr, job, self.chunk))
                errors.append("")
            except Exception as exc:                          # reported per file; the batch goes on
                pages.append(0)
                errors.append(_reason(exc))
        return {"rel": list(batch["rel"]), "pages": pages, "error": errors}


def connect(address: str | None):
    """Start a local Ray instance (``address`` None) or join the cluster at ``address``; returns ``ray``.
    Does nothing when this process is already connected."""
    import ray

    if address and address.startswith("ray://"):
        raise ValueError("Ray Data does not run through Ray Client (ray:// addresses; Ray 2.60's streaming "
                         "executor needs a full driver): run ocr-batch on a node of the cluster with --ray auto, "
                         "or submit it as a Ray job (ray job submit ... -- ocr-batch ... --ray auto)")
    if ray.is_initialized():
        return ray
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="ERROR")
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(address="local", num_cpus=os.cpu_count() or 1, **kwargs)   # a new instance, never a running one
    return ray


def run_ray_batch(todo: list, finished, load_args: tuple, chunk: int = 4, address: str | None = None,
                  workers: int | None = None, threads: int = 1) -> None:
    """Convert the :class:`pipeline.batch.Job` list ``todo`` on Ray Data, calling ``finished(job, pages,
    error)`` as each file comes back (in the order they finish). ``load_args`` as for
    :func:`pipeline.batch.run_batch` (their ``threads`` entry is replaced by ``threads``)."""
    if not todo:
        return
    ray = connect(address)
    from ray.data import ActorPoolStrategy, DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)    # its start/finish notes: ocr-batch reports
    ctx = DataContext.get_current()
    ctx.max_errored_blocks = -1                              # a file that kills its worker every time: skip it
    ctx.enable_progress_bars = False                         # ocr-batch draws its own bar
    ctx.print_on_execution_start = False
    cpus = int(ray.cluster_resources().get("CPU", 1))
    size = max(1, workers or cpus // max(1, threads))
    load_args = (*load_args[:2], threads, *load_args[3:])
    items = [{"input": str(j.input), "rel": j.rel, "outputs": {f: str(p) for f, p in j.outputs.items()}}
             for j in todo]
    by_rel = {j.rel: j for j in todo}
    # The settings travel as class attributes of a class made here (pickled by value), not as constructor
    # arguments: those would sit in the object store, and a restarted actor could find them gone.
    converter = type("OcrBatchConverter", (_Converter,), {"load_args": load_args, "chunk": chunk})
    with warnings.catch_warnings():
        # max_task_retries has no named parameter yet: Ray 2.60 warns that the keyword form goes in 2.64
        # (the ray extra stays below it). Its default, -1, would retry a file that kills its worker forever.
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            converter, batch_size=1, batch_format="default", compute=ActorPoolStrategy(size=size),
            num_cpus=threads, max_restarts=-1, max_task_retries=RETRIES)
    seen = set()
    for row in ds.iter_rows():
        seen.add(row["rel"])
        finished(by_rel[row["rel"]], int(row["pages"]), row["error"] or None)
    for rel in by_rel.keys() - seen:                          # its block failed every retry
        finished(by_rel[rel], 0, DIED)
