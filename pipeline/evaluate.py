"""``ocr-eval``: the measuring stick, with one definition of every metric for all systems.

Per page set (a folder in the ``shared/data/real`` format) and system:

- ``tok_P/R/F``: whitespace tokens, case-folded, multiset match, micro-averaged over pages (SROIE task 2).
- ``seg_CER``: for each ground-truth segment, the fewest edits that turn its text into a substring of a
  predicted line on the same row (vertical overlap > half the smaller height, and any horizontal
  overlap); spaces removed, case-folded; a segment with no such line costs its length; the sum of edits
  over the sum of segment lengths. ``page_CER_med``: the median page's seg_CER; ``bad_pages``: pages read
  at a seg_CER above 0.5 (a page that came out as garbage, e.g. read turned the wrong way).
- ``det_R/P/F`` by coverage: a ground-truth box is found when >= 50 % of its area is covered by the union
  of predicted boxes; a predicted box is precise when >= 50 % of its area lies in the union of
  ground-truth boxes, each grown by 3 px. Line-versus-segment granularity does not count against anyone.
- ``s_per_page``: median wall seconds per page, model loading excluded.
- ``--scale S``: every page read shrunk by ``S`` (area averaging; ground truth scaled with it).
- ``--detect``: line detection alone (each system's line boxes or quads): ``det_R/P/F``, ``s_per_page``.
- ``--crops``: the recognizer alone on each ground-truth box cut with a 2 px margin: ``CER`` (case-
  sensitive), ``CER_ci`` (case-folded), ``exact`` (share of crops read exactly); whitespace runs are
  collapsed first.

Ground-truth lines marked ``ignore`` are neither required nor penalised (they do join the union that
makes predicted boxes precise). Systems: ``project`` (this package's models), ``tesseract`` (the
``tesseract`` binary) and ``rapidocr`` (the PP-OCRv4 pipeline of ``rapidocr-onnxruntime``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from synth.pageset import gt_crops
from training.metrics import coverage_counts, crop_scores, edit_distance, prf, seg_cer_counts, token_counts

__all__ = ["edit_distance", "token_counts", "seg_cer_counts", "coverage_counts", "PredLine", "evaluate_pages",
           "evaluate_crops", "row_text", "detected_rows", "PageRows", "make_system", "SystemUnavailable", "main"]


# ---- systems ------------------------------------------------------------------------------------------
class SystemUnavailable(RuntimeError):
    """A comparison system that is not installed here."""


@dataclass
class PredLine:
    box: tuple[float, float, float, float]
    text: str
    quad: list | None = None


class ProjectSystem:
    name = "project"

    def __init__(self, threads: int, device: str = "cpu", config=None, detector=None, recognizer=None,
                 lang: str = "en"):
        import pipeline

        self.ocr = pipeline.load(config, device=device, threads=threads, detector_weights=detector,
                                 recognizer_weights=recognizer, lang=lang)

    def page(self, img: np.ndarray) -> list[PredLine]:
        page = self.ocr(img)
        return [PredLine(tuple(ln.box), ln.text, ln.quad) for ln in page.lines]

    def detect(self, img: np.ndarray) -> list[PredLine]:
        return [PredLine(tuple(ln.box.tolist()), "", ln.quad.tolist()) for ln in self.ocr.detect(img)]

    def crops(self, crops: list[np.ndarray]) -> list[str]:
        return [r.text for r in self.ocr.recognize(crops)]


class TesseractSystem:
    name = "tesseract"

    LANGS = {"en": "eng", "zh": "chi_sim"}        # its traineddata: tesseract-ocr-eng, tesseract-ocr-chi-sim

    def __init__(self, threads: int, lang: str = "en"):
        self.exe = shutil.which("tesseract")
        if not self.exe:
            raise SystemUnavailable("tesseract is not installed (bash scripts/setup.sh --tools installs it)")
        self.lang = self.LANGS[lang]
        listed = subprocess.run([self.exe, "--list-langs"], capture_output=True, text=True).stdout.split()
        if self.lang not in listed:
            raise SystemUnavailable(f"tesseract has no {self.lang!r} data (bash scripts/setup.sh --tools installs it)")
        self.env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))
        self.threads = max(1, int(threads))

    def _run(self, img: np.ndarray, psm: int, fmt: str, threads: int | None = None) -> str:
        import cv2

        ok, png = cv2.imencode(".png", img[..., ::-1] if img.ndim == 3 else img)
        if not ok:
            raise RuntimeError("could not encode an image for tesseract")
        args = [self.exe, "stdin", "stdout", "--psm", str(psm), "-l", self.lang] + ([fmt] if fmt else [])
        env = self.env if threads is None else dict(self.env, OMP_THREAD_LIMIT=str(threads))
        out = subprocess.run(args, input=png.tobytes(), capture_output=True, env=env, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"tesseract failed: {out.stderr.decode(errors='replace').strip()[:200]}")
        return out.stdout.decode("utf-8", errors="replace")

    def page(self, img: np.ndarray) -> list[PredLine]:
        rows: dict[tuple, list] = {}
        for ln in self._run(img, 3, "tsv").splitlines()[1:]:
            f = ln.split("\t")
            if len(f) < 12 or f[0] != "5" or not f[11].strip():
                continue
            key = (int(f[2]), int(f[3]), int(f[4]))  # block, paragraph, line
            x, y, w, h = (int(v) for v in f[6:10])
            rows.setdefault(key, []).append((x, y, x + w, y + h, f[11]))
        out = []
        for words in rows.values():
            words.sort()
            box = (min(w[0] for w in words), min(w[1] for w in words), max(w[2] for w in words), max(w[3] for w in words))
            out.append(PredLine(box, " ".join(w[4] for w in words)))
        return out

    def crops(self, crops: list[np.ndarray]) -> list[str]:
        """One tesseract process per crop (--psm 7, single line), ``threads`` of them at a time."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(lambda c: " ".join(self._run(c, 7, "", threads=1).split()), crops))


class RapidOCRSystem:
    name = "rapidocr"

    def __init__(self, threads: int, lang: str = "en"):          # one model for both: Chinese + English
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise SystemUnavailable("rapidocr is not installed (pip install rapidocr-onnxruntime)") from None
        try:
            self.engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        except TypeError:
            self.engine = RapidOCR()

    def page(self, img: np.ndarray) -> list[PredLine]:
        result, _ = self.engine(np.ascontiguousarray(img[..., ::-1]))
        out = []
        for quad, text, _score in result or []:
            q = np.asarray(quad, float)
            out.append(PredLine((q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()), text, q.tolist()))
        return out

    def crops(self, crops: list[np.ndarray]) -> list[str]:
        """PP-OCRv4's recognizer on its own batched path (crops sorted by aspect ratio, batches of 6)."""
        bgr = [np.ascontiguousarray(c[..., ::-1]) if c.ndim == 3 else np.repeat(c[..., None], 3, 2) for c in crops]
        result, _ = self.engine.text_rec(bgr)
        return [text for text, _score in result]


TesseractSystem.detect = TesseractSystem.page   # their whole pipelines' line boxes
RapidOCRSystem.detect = RapidOCRSystem.page

SYSTEMS = {"project": ProjectSystem, "tesseract": TesseractSystem, "rapidocr": RapidOCRSystem}


def make_system(name: str, threads: int = 2, device: str = "cpu", config=None, detector=None, recognizer=None,
                lang: str = "en"):
    """The system called ``name``, reading ``lang`` (en, zh); ``detector`` / ``recognizer``: weight files
    the project reads with in place of the shipped ones (:func:`pipeline.load`)."""
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    if name == "project":
        return ProjectSystem(threads, device, config, detector, recognizer, lang)
    return SYSTEMS[name](threads, lang)


# ---- runners ------------------------------------------------------------------------------------------
def _load(page):
    from pipeline import images

    return images.load(page.image)


def evaluate_pages(system, pages, progress: bool = True, desc: str = "", detect_only: bool = False,
                   scale: float = 1.0) -> dict:
    """All page metrics of ``system`` over ``pages`` (``synth.pageset.PageRecord`` list); with
    ``detect_only`` the system's line detection alone (``system.detect``), scored by coverage. ``scale``
    below 1 reads every page shrunk by that factor (area averaging, ground-truth boxes scaled with it): how
    small print and low-resolution captures read. ``page_CER_med`` is the median page's seg_CER and
    ``bad_pages`` the number of pages read at a seg_CER above 0.5 (pages that came out as garbage)."""
    from tqdm import tqdm

    tm = tg = tp = de = dc = df = dn = dpr = dpn = failed = 0
    times, page_cer = [], []
    for page in tqdm(pages, desc=desc or system.name, disable=not progress, unit="page", leave=False):
        img = _load(page)
        if scale != 1.0:
            import cv2

            img = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                             interpolation=cv2.INTER_AREA)
            shrink = lambda pts: tuple(v * scale for v in pts)
            page = replace(page, lines=tuple(
                replace(ln, box=shrink(ln.box), quad=None if ln.quad is None else tuple(map(shrink, ln.quad)))
                for ln in page.lines))
        t0 = time.perf_counter()
        try:
            pred = system.detect(img) if detect_only else system.page(img)
        except Exception as exc:  # one bad page must not end the run; it scores as an empty prediction
            print(f"ocr-eval: {page.image}: {system.name} failed: {exc}", file=sys.stderr)
            pred, failed = [], failed + 1
        times.append(time.perf_counter() - t0)
        gt = page.lines
        m, g, p = token_counts([ln.text for ln in gt if not ln.ignore], [x.text for x in pred])
        tm, tg, tp = tm + m, tg + g, tp + p
        e, c = seg_cer_counts([(ln.box, ln.text, ln.ignore) for ln in gt], [(x.box, x.text) for x in pred])
        de, dc = de + e, dc + c
        if c:
            page_cer.append(e / c)
        f, n, pr, pn = coverage_counts([(ln.box, ln.ignore) for ln in gt], [x.quad or x.box for x in pred])
        df, dn, dpr, dpn = df + f, dn + n, dpr + pr, dpn + pn
    tok_p, tok_r, tok_f = prf(tm, tp, tm, tg)
    det_p, det_r, det_f = prf(dpr, dpn, df, dn)
    if pages and not any(p.labelled for p in pages):          # images without ground truth: timed only
        return {"pages": len(pages), "failed": failed, "s_per_page": statistics.median(times)}
    if detect_only:
        return {"pages": len(pages), "failed": failed, "det_R": det_r, "det_P": det_p, "det_F": det_f,
                "s_per_page": statistics.median(times) if times else 0.0}
    return {"pages": len(pages), "failed": failed, "tok_P": tok_p, "tok_R": tok_r, "tok_F": tok_f,
            "seg_CER": de / dc if dc else 0.0, "page_CER_med": statistics.median(page_cer) if page_cer else 0.0,
            "bad_pages": sum(c > 0.5 for c in page_cer), "det_R": det_r, "det_P": det_p, "det_F": det_f,
            "s_per_page": statistics.median(times) if times else 0.0}


def row_text(box, gt: list[tuple], member: float = 0.5, ambiguous: float = 0.3, tall: float = 1.5,
             reach: float = 0.3, slack: float = 1.2) -> str | None:
    """The ground-truth text of a detected line with axis box ``box`` = (x0, y0, x1, y1), from the segments
    ``gt`` = [(box, text, ignore)] of its page, or None when the segments do not give it cleanly.

    With ``h`` the line's height, a segment is on the line when their vertical overlap exceeds ``member`` x
    the smaller height (and they overlap horizontally at all). The text is those segments left to right,
    joined by one space. None when a cut would make that label wrong for the strip the line gives:
    a segment overlapping by ``ambiguous``..``member`` (the line straddles two rows), an ignored or
    empty-text segment on the line, a segment taller than ``tall`` x h (a paragraph box spanning rows),
    a segment reaching more than ``reach`` x h past either end of the line (the strip's margin is 0.3 h:
    its ends would be cut off), or more than ``slack`` x h of the line left of its first segment or right
    of its last (ink nobody annotated); and None when no segment is on the line."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    if h <= 0 or x1 <= x0:
        return None
    on = []
    for (gx0, gy0, gx1, gy1), text, ignore in gt:
        v = min(y1, gy1) - max(y0, gy0)
        if v <= 0 or min(x1, gx1) - max(x0, gx0) <= 0:
            continue
        frac = v / max(1e-6, min(h, gy1 - gy0))
        if frac <= ambiguous:
            continue                                         # a neighbouring row grazing this one
        text = " ".join(text.split())
        if frac <= member or ignore or not text or gy1 - gy0 > tall * h or gx0 < x0 - reach * h or gx1 > x1 + reach * h:
            return None
        on.append((gx0, gx1, text))
    if not on or min(g[0] for g in on) - x0 > slack * h or x1 - max(g[1] for g in on) > slack * h:
        return None
    return " ".join(t for _, _, t in sorted(on))


def detected_rows(ocr, pages, progress: bool = True, desc: str = "rows"):
    """(strip, text) for every line the detector finds on ``pages`` whose ground truth :func:`row_text` gives:
    the height-32 gray strip exactly as the page pipeline cuts it for the recognizer (``OCR.line_strips``:
    the page straightened, its whole detected rows, the crop's margins), with that text."""
    from tqdm import tqdm

    for page in tqdm(pages, desc=desc, disable=not progress, unit="page", leave=False):
        _, _, quads, strips = ocr.line_strips(_load(page))
        tilted = all(getattr(ln, "quad", None) for ln in page.lines)
        flat = None if tilted else [(tuple(map(float, ln.box)), ln.text, ln.ignore) for ln in page.lines]
        for quad, strip in zip(quads, strips):
            if tilted:
                frame = _line_frame(quad)
                text = row_text(_box(frame(quad)), [(_box(frame(ln.quad)), ln.text, ln.ignore) for ln in page.lines])
            else:
                text = row_text(_box(np.asarray(quad, float)), flat)
            if text is not None:
                yield strip.image, text


class PageRows:
    """The page pipeline's row cutter for recognizer training (``recognition.train.RowCutter``):
    :func:`detected_rows` with the shipped detector and the pipeline's settings (``config``: a pipeline YAML,
    default configs/default.yaml). The models are loaded on the first call, only when rows must be cut."""

    def __init__(self, config: str | Path | None = None, threads: int | None = None):
        self._config, self._threads, self._ocr, self._key = config, threads, None, None

    @property
    def key(self) -> str:
        """The detector weights' SHA-1 and the page, detector and crop settings: what the strips depend on."""
        if self._key is None:
            import hashlib

            import detection
            from pipeline.config import load as load_config

            det = detection.weights_path()
            if det is None:
                raise SystemExit(f"ocr-train: cutting detected rows needs the detector's weights (none in "
                                 f"{detection.WEIGHTS_DIR})")
            pcfg = load_config(self._config)
            self._key = "|".join([hashlib.sha1(Path(det).read_bytes()).hexdigest(), repr(pcfg.page),
                                  repr(pcfg.detector), repr(pcfg.crop)])
        return self._key

    def __call__(self, pages, progress: bool = True, desc: str = "rows"):
        if self._ocr is None:
            import torch

            import pipeline

            self._ocr = pipeline.load(self._config, threads=self._threads or torch.get_num_threads())
        return detected_rows(self._ocr, pages, progress, desc)


def _box(pts: np.ndarray) -> tuple:
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    return float(x0), float(y0), float(x1), float(y1)


def _line_frame(quad):
    """Points -> coordinates along and across the detected line ``quad`` (x along its top edge, y down
    across it). On a page whose ground truth has quads, segments are matched to a tilted line in its own
    frame, where both are upright boxes; an axis-aligned line's frame is the page's, shifted."""
    q = np.asarray(quad, float)
    u = q[1] - q[0]
    u = u / n if (n := float(np.hypot(*u))) > 0 else np.array([1.0, 0.0])
    axes = np.array([[u[0], -u[1]], [u[1], u[0]]])          # columns: along (u), across (u turned +90 deg)
    return lambda pts: (np.asarray(pts, float) - q[0]) @ axes


def evaluate_crops(system, pages, progress: bool = True, desc: str = "", batch: int = 64) -> dict:
    """Recognizer-only metrics of ``system`` on the ground-truth crops of ``pages``."""
    from tqdm import tqdm

    items = list(gt_crops(pages))
    preds, times = [], []
    bar = tqdm(total=len(items), desc=desc or system.name, disable=not progress, unit="crop", leave=False)
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        t0 = time.perf_counter()
        preds += system.crops([c for c, _ in chunk])
        times.append((time.perf_counter() - t0) / max(1, len(chunk)))
        bar.update(len(chunk))
    bar.close()
    return {"crops": len(items), **crop_scores([t for _, t in items], preds),
            "s_per_crop": statistics.median(times) if times else 0.0}


# ---- CLI ----------------------------------------------------------------------------------------------
PAGE_COLS = ("pages", "tok_P", "tok_R", "tok_F", "seg_CER", "page_CER_med", "bad_pages", "det_R", "det_P", "det_F",
             "s_per_page")
CROP_COLS = ("crops", "CER", "CER_ci", "exact", "s_per_crop")
DETECT_COLS = ("pages", "det_R", "det_P", "det_F", "s_per_page")


def format_table(rows: list[dict], cols: tuple[str, ...]) -> str:
    head = ("set", "split", "system") + cols
    body = [[r["set"], r["split"], r["system"]] + [f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "-"))
                                                   for c in cols] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = lambda row: "  ".join(str(v).ljust(w) if i < 3 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-eval", description="Measure OCR systems on page-set folders "
                                 "(image + JSON of line boxes and text per page).")
    ap.add_argument("pagesets", nargs="+", type=Path, help="page-set folders, e.g. ../shared/data/real/funsd; a "
                    "folder of images without JSONs (../shared/data/real/photos) is read whole and only timed")
    ap.add_argument("--system", action="append", choices=sorted(SYSTEMS), help="system(s) to measure "
                    "(repeat for a side-by-side run; default: project)")
    ap.add_argument("--split", default="all", choices=("all", "train", "val"),
                    help="pages to use: all, or the train / val split (val = last 40 SROIE / 30 FUNSD pages)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--crops", action="store_true", help="recognizer only, on ground-truth crops")
    mode.add_argument("--detect", action="store_true", help="line detection only: det_R/P/F and s_per_page")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pages of each set")
    ap.add_argument("--scale", type=float, default=1.0, help="read every page shrunk by this factor, 0 to 1 "
                    "(ground truth scaled with it; e.g. 0.33 for small print and low resolution)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per system (default 2)")
    ap.add_argument("--device", default="cpu", help="device for the project's models (cpu, cuda)")
    ap.add_argument("--config", type=Path, help="pipeline YAML for the project's system, laid over "
                    "configs/default.yaml")
    ap.add_argument("--detector", type=Path, metavar="PT", help="the project reads with this detector weight "
                    "file (one ocr-train wrote) in place of the shipped one")
    ap.add_argument("--recognizer", type=Path, metavar="PT", help="the same for the recognizer")
    ap.add_argument("--lang", choices=("en", "zh"), default="en", help="the language read: the project's "
                    "recognizer of that language, Tesseract's eng or chi_sim (default en)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' for stdout)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)

    from synth import pageset

    if not 0 < args.scale <= 1:
        print(f"ocr-eval: --scale must be within 0 (exclusive) and 1, got {args.scale}", file=sys.stderr)
        return 2
    try:
        sets = []
        for folder in args.pagesets:
            labelled = Path(folder).is_dir() and any(Path(folder).glob("*.json"))
            if not labelled and args.crops:
                raise ValueError(f"{folder}: --crops needs ground truth (page-set JSONs), and this folder has none")
            pages = (pageset.split(pageset.read(folder), args.split, folder.resolve().name) if labelled
                     else pageset.unlabelled(folder))           # read whole, whatever --split says
            if args.limit:
                pages = pages[:args.limit]
            sets.append((folder, pages))
        systems = [make_system(name, args.threads, args.device, args.config, args.detector, args.recognizer,
                               args.lang) for name in (args.system or ["project"])]
        for system in systems:
            if isinstance(system, ProjectSystem) and args.detect:
                system.ocr.check_detector()  # say so before any page
            elif isinstance(system, ProjectSystem) and not args.crops and not args.detect:
                system.ocr.check_pages()  # whole pages need both models: say so before any page
    except (FileNotFoundError, ValueError, SystemUnavailable) as exc:
        print(f"ocr-eval: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # e.g. pipeline.NoWeightsError
        print(f"ocr-eval: {exc}", file=sys.stderr)
        return 3

    rows = []
    for folder, pages in sets:
        for system in systems:
            desc = f"{folder.name}/{system.name}"
            if args.crops:
                res = evaluate_crops(system, pages, not args.quiet, desc)
            else:
                res = evaluate_pages(system, pages, not args.quiet, desc, detect_only=args.detect, scale=args.scale)
            split = args.split if pages[0].labelled else "all"
            rows.append({"set": folder.name, "split": split, "system": system.name, **res}
                        | ({"scale": args.scale} if args.scale != 1 else {}))
    cols = CROP_COLS if args.crops else DETECT_COLS if args.detect else PAGE_COLS
    print(format_table(rows, cols))
    if any(r.get("failed") for r in rows):
        print("note: pages a system failed on were scored as empty predictions (see stderr)")
    if args.json:
        doc = {"mode": "crops" if args.crops else "detect" if args.detect else "pages", "threads": args.threads, "results": rows}
        given = {k: str(v) for k, v in (("detector", args.detector), ("recognizer", args.recognizer)) if v}
        doc |= {"weights": given} if given else {}      # the project's, where not the shipped ones
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
