"""Where a page's time goes: each stage of ``ocr-page``'s read, timed on real pages.

    python benchmarks/page_stages.py [--sets DIR ...] [--limit N] [--threads 2] [--lang en] [--backend torch onnx]
                                     [--json benchmarks/figures/page_stages.json]

Pages: the SROIE and FUNSD val pages and the first 40 phone photos (``--limit`` caps every set). Each page
is read as ``ocr-page`` reads it (``pipeline.load()``, ``read_array``) after one untimed warm-up page, and
the functions that make up the stages are wrapped with timers that count **exclusive** time (a stage's own
time, less the time of the stages it calls), so the stages add up to the whole:

- ``load``: decoding the image file (:func:`pipeline.images.load`);
- ``skew``: the ink projection (:func:`pipeline.geometry.ink_points`, ``estimate_skew``);
- ``upright``: turning and deskewing the page for the detector (:func:`pipeline.geometry.upright`);
- ``detector network``: the CTPN forward pass (by the backend that runs it);
- ``detector pre/post``: scaling the page, normalizing it, scoring and decoding the proposals;
- ``line building``: proposals -> text lines (:func:`detection.textlines.build_lines`);
- ``orientation``: the rest of the orientation decision (choosing windows, comparing readings);
- ``crops``: cutting the line strips (:func:`pipeline.crop.crop_lines`);
- ``recognizer network``: the CRNN forward passes (the orientation probes' and the language sample's too);
- ``recognizer batching``: resizing to height 32, batching, the re-read and turned-crop logic;
- ``decoding``: CTC decoding (greedy; beam search with the language model where a reading is unsure);
- ``language``: the ``--lang auto`` choice beyond its recognizer calls;
- ``layout``: words, reading order, blocks (:func:`pipeline.layout.assemble`);
- ``other``: what is left of the page's wall time.

Printed per set: mean seconds per page and each stage's mean ms per page and share. A diagnostic with
printed figures, not a test; timings move between machines and runs, so compare them within one run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_REAL = _ROOT.parent / "shared/data/real"
STAGES = ("load", "skew", "upright", "detector network", "detector pre/post", "line building", "orientation",
          "crops", "recognizer network", "recognizer batching", "decoding", "language", "layout", "other")


class StageTimer:
    """Wraps callables so that each call adds its exclusive wall time to its stage."""

    def __init__(self):
        self.totals: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []                  # time spent in wrapped callees, per open call

    def timed(self, stage: str, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, its time less that of the wrapped calls inside it added to ``stage``."""
        t0 = time.perf_counter()
        self._stack.append(0.0)
        try:
            return fn(*args, **kwargs)
        finally:
            dt = time.perf_counter() - t0
            self.totals[stage] += dt - self._stack.pop()
            if self._stack:
                self._stack[-1] += dt

    def wrap(self, owner, attr: str, stage: str) -> None:
        """Time every call of ``owner.attr`` (a function, or a method when ``owner`` is a class)."""
        fn = getattr(owner, attr)
        setattr(owner, attr, lambda *args, **kwargs: self.timed(stage, fn, *args, **kwargs))

    def wrap_network(self, owner, stage: str) -> None:
        """Time calls of ``owner.network`` (a predictor's network, of any backend), its attributes kept."""
        timer, net = self, owner.network

        class Timed:
            def __call__(self, *args):
                return timer.timed(stage, net, *args)

            def __getattr__(self, name):
                return getattr(net, name)

        owner.network = Timed()


def instrument(ocr, timer: StageTimer | None = None) -> StageTimer:
    """Wrap the networks of ``ocr`` (a :class:`pipeline.OCR`) and, unless ``timer`` has done so for an earlier
    system, the stages of the modules it calls."""
    import detection.predictor as det_pred
    import pipeline.language as language
    from pipeline import crop, geometry, layout, orientation
    from recognition.predictor import Recognizer

    t = timer or StageTimer()
    t.wrap_network(ocr.detector, "detector network")
    for reader in ocr.readers.values():            # plain() copies made later share the wrapped network
        t.wrap_network(reader, "recognizer network")
    if timer is not None:
        return t
    t.wrap(geometry, "ink_points", "skew")
    t.wrap(geometry, "estimate_skew", "skew")
    t.wrap(geometry, "upright", "upright")
    t.wrap(det_pred.Detector, "proposals", "detector pre/post")
    t.wrap(det_pred.Detector, "run", "detector pre/post")
    t.wrap(det_pred, "build_lines", "line building")
    t.wrap(orientation, "decide", "orientation")
    t.wrap(orientation, "probe", "orientation")
    t.wrap(crop, "crop_lines", "crops")
    for name in ("__call__", "_read", "_forward"):
        t.wrap(Recognizer, name, "recognizer batching")
    t.wrap(Recognizer, "_decode", "decoding")
    t.wrap(language, "choose", "language")
    t.wrap(layout, "assemble", "layout")
    return t


def _pages(folder: Path, limit: int) -> list[Path]:
    from synth import pageset

    if folder.name.lower() in ("funsd", "sroie"):
        files = [p.image for p in pageset.split(pageset.read(folder), "val", folder.name)]
    else:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff"))
    return files[:limit] if limit else files


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from pipeline import load
    from pipeline.images import load as load_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", type=Path, nargs="*", default=[_REAL / "sroie", _REAL / "funsd", _REAL / "photos"])
    ap.add_argument("--limit", type=int, default=40, help="at most this many pages of each set (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lang", default="en", choices=("en", "zh", "auto"))
    ap.add_argument("--backend", nargs="*", default=["auto"], choices=("auto", "torch", "onnx"),
                    help="one or more, each timed on the same pages in turn (default: auto, the config's choice)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    runs, timer = {}, None
    for backend in args.backend:
        ocr = load(threads=args.threads, lang=args.lang, backend=backend)
        timer = instrument(ocr, timer)
        name = ocr.config.runtime.backend                           # what auto resolved to
        results = runs[name] = {}
        for folder in args.sets:
            files = _pages(folder, args.limit)
            if not files:
                continue
            ocr.read_array(load_image(files[0]))                   # warm-up, not counted
            timer.totals.clear()
            wall = 0.0
            for f in tqdm(files, desc=f"{name} {folder.name}", unit="page", leave=False):
                t0 = time.perf_counter()
                rgb = timer.timed("load", load_image, f)
                ocr.read_array(rgb, str(f))
                wall += time.perf_counter() - t0
            n = len(files)
            stages = {s: timer.totals.get(s, 0.0) for s in STAGES if s != "other"}
            stages["other"] = max(0.0, wall - sum(stages.values()))
            results[folder.name] = {"pages": n, "s_per_page": wall / n,
                                    "ms_per_page": {s: round(1000 * v / n, 1) for s, v in stages.items()}}
            print(f"\n{name} backend, {folder.name}: {n} pages, {wall / n:.3f} s/page ({args.threads} threads)")
            for s, v in sorted(stages.items(), key=lambda kv: -kv[1]):
                print(f"  {s:20s} {1000 * v / n:8.1f} ms/page  {v / wall:6.1%}")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "lang": args.lang, "backends": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
