"""Recognizer training: ``ocr-train recognizer --config configs/recognizer/crnn_s.yaml``.

Data: synthetic lines from :mod:`synth` (generated once by worker processes and cached as height-32 arrays)
mixed with real line crops cut from page-set folders (``synth.pageset`` format; only their *train* split,
the validation pages are never read here except for validation): their ground-truth boxes (``data.real``),
and optionally the lines the shipped detector finds on those pages, cut exactly as the page pipeline cuts
them and labelled from the boxes they cover cleanly (``data.rows``, ``data.synth_pages``). This package stands
below the page pipeline, so the cutting is passed in (:class:`RowCutter`; ``ocr-train`` passes the pipeline's).
Sets listed in ``case_blind`` (SROIE: all upper-case labels) train through a case-folded CTC loss: an
upper-case letter's score is the log-sum of both cases' scores, so those labels teach letter shapes but
never letter case (:func:`case_fold`; before recipe step s22 a wrong fold taught upper case).

Loop: width-bucketed variable-width batches (similar widths drawn together, batch size capped by a pixel
budget), augmentation, CTC with infinite losses zeroed, AdamW with warmup + cosine decay, gradient-norm
clipping, bf16 autocast on CUDA and on CPUs with AMX (:func:`training.loop.use_bf16`). Every batch is
a pure function of ``(seed, step)``, so a resumed run sees the same data as an uninterrupted one. ``out/last.pt`` (model + optimizer + step) is written atomically
every ``ckpt_every`` steps and on interrupt; the run resumes from it. Each validation appends to
``out/log.csv``, redraws ``out/curves.png`` and, when the score improves, writes the shippable weight file
``out/best.pt`` (:mod:`recognition.weightfile`); the validation at the schedule's last step also writes
``out/final.pt``, the same kind of file, since a small validation subset cannot separate near ties. With
``snapshots: true`` every validation also keeps ``out/step_NNNNNN.pt`` (same kind), so the tail of a run can
be averaged with :mod:`recognition.average`.

Shapes: ``B`` batch, ``T`` timesteps, ``C`` classes; ``lp`` = log-probabilities (T,B,C).
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Iterable, Protocol

import cv2
import numpy as np
import torch
from torch import nn

import configs
from training.loop import (checkpoint, csv_log, lr_factor, plot_log, provenance, resume, run_main, step_if_finite,
                               stoppable, use_bf16)
from recognition import preprocess, weightfile
from recognition.charset import Charset
from recognition.crnn import CRNN, HEIGHT
from recognition.predictor import Recognizer

__all__ = ["TrainConfig", "ModelConfig", "DataConfig", "OptimConfig", "RowCutter", "train", "main", "write_mean", "average_main", "case_fold"]


@dataclass(frozen=True)
class ModelConfig:
    width: float = 0.5                      # channel multiplier of the published conv stack
    hidden: int = 192                       # BiLSTM hidden size per direction
    rank: int = 0                           # output layer factored through this many features (0: one full
                                            # layer; a ~6 900-class Chinese charset wants ~128: CRNN docstring)
    charset: str = "charsets/default.txt"
    init: str = ""                          # weight file to start from (same arch and charset), e.g. a
                                            # previous run's best.pt; empty = random initialisation
    init_backbone: str = ""                 # weight file whose conv stack and BiLSTM (same width and hidden,
                                            # any charset) start the model, the output layer starting random:
                                            # the zh recognizer starts from the English one's stroke features


@dataclass(frozen=True)
class DataConfig:
    synth_lines: int = 40000                # synthetic lines generated once and cached
    synth_seed: int = 1
    synth_config: str = "synth/default.yaml"
    synth_weight: float = 0.45              # share of each batch drawn from synthetic lines
    real: dict[str, float] = field(default_factory=dict)   # page-set folder -> share of each batch
    rows: dict[str, float] = field(default_factory=dict)   # page-set folder -> share of each batch drawn from
                                            # the detected lines of its train pages (and a "NAME-rows" validation set)
    case_blind: list[str] = field(default_factory=lambda: ["sroie"])  # set names whose labels carry no case
    skip_unknown: bool = False              # skip real crops with characters outside the charset (else error)
    max_width: int = 800                    # widest training input, pixels at height 32
    augment: float = 0.7                    # share of samples augmented
    reframe: float = 0.0                    # share of the augmented samples cut again first: tight to their ink
                                            # above and below, or with ground added (:func:`reframe`)
    val_synth: int = 400                    # synthetic validation lines (fresh seed)
    val_seed: int = 9001
    val_real: int = 800                     # validation crops per real set during training (evenly spaced)
    synth_hard: float = 0.0                 # share of the synthetic draws taken from the lines that the starting
                                            # weights (model.init) read worst; 0 = every line drawn alike
    synth_hard_scored: int = 100000         # how many synthetic lines (the first ones) are ranked for that
    synth_hard_top: float = 0.2             # the fraction of the ranked lines, by CTC loss per character, kept
    separators: float = 0.0                 # share of each batch drawn from synthetic separator rows (typed rules
                                            # ------, ***** TOTAL *****, dot leaders: synth.text "separator"), and a
                                            # "separators" validation set of val_synth lines
    separator_lines: int = 20000            # separator lines generated once and cached (seed synth_seed)
    synth_pages: int = 0                    # synthetic pages (synth_pages_config, synth_pages_seed) rendered once;
                                            # the lines the shipped detector finds on them, cut as the page
                                            # pipeline cuts them, are a pool ("synth-pages-rows", its last 10 %
                                            # of pages a validation set): tilted, curled, lit like a photo
    synth_pages_config: str = "synth/photo.yaml"
    synth_pages_weight: float = 0.0         # share of each batch drawn from those rows
    synth_pages_seed: int | None = None     # the pages' seed (None: synth_seed): a leg may keep the leg before's
                                            # pages (link its cache files) and draw new lines


@dataclass(frozen=True)
class OptimConfig:
    steps: int = 4000
    batch_size: int = 48
    batch_pixels: int = 14000               # cap on batch size x widest input
    lr: float = 1e-3
    final_lr: float = 0.03                  # fraction of lr reached at the last step (cosine)
    warmup: int = 300
    weight_decay: float = 1e-4
    clip: float = 5.0


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    seed: int = 0
    val_every: int = 500
    snapshots: bool = False                 # keep a weight file at every validation (out/step_NNNNNN.pt)
    ckpt_every: int = 200
    log_every: int = 50
    workers: int = 2                        # processes generating the synthetic cache
    threads: int = 2                        # torch CPU threads
    device: str = "cpu"


def load_config(file: str | Path) -> TrainConfig:
    return configs.load(file, TrainConfig)


# ---- data ---------------------------------------------------------------------------------------------
def _synth_chunk(args) -> list[tuple[np.ndarray, str]]:
    seed, start, count, cfg_file, chars, max_width, kind = args
    from synth.config import load as load_synth
    from synth.lines import LineGenerator

    syn = load_synth(cfg_file)
    gen = LineGenerator(syn.line, seed=seed, charset=chars, lang=syn.lang)
    out = []
    for i in range(start, start + count):
        s = gen.line(i, kind=kind)
        out.append((preprocess.resize_height(s.image, max_width), s.text))
    return out


def synth_lines(n: int, seed: int, cfg_file: str, charset: Charset, max_width: int, workers: int,
                cache_dir: Path | None = None, progress: bool = True,
                kind: str | None = None) -> tuple[list[np.ndarray], list[str]]:
    """``n`` synthetic lines (height 32, uint8) and texts; cached in ``cache_dir`` keyed by every input.
    ``kind`` makes every line one string of that text kind (``LineGenerator.line(i, kind=...)``).

    A cache of fewer lines from the same inputs is extended, not drawn again: growing a run's synthetic
    set from 60,000 to 180,000 lines draws only the 120,000 new ones.
    """
    from tqdm import tqdm

    cfg_path = Path(cfg_file) if Path(cfg_file).is_file() else configs.path(cfg_file)
    inputs = f"{seed}|{cfg_path.read_text()}|{charset.chars}|{max_width}" + (f"|{kind}" if kind else "")
    prefix = f"synth-{kind}_{seed}" if kind else f"synth_{seed}"

    def cache_file(count: int) -> Path:
        key = hashlib.sha1(f"{count}|{inputs}".encode()).hexdigest()[:12]
        return cache_dir / f"{prefix}_{count}_{key}.npz"

    cache = cache_file(n) if cache_dir else None
    if cache and cache.is_file():
        items = _load_lines(cache, n)
        return [im for im, _ in items], [t for _, t in items]
    # line i depends only on (seed, i): the largest smaller cache of the same inputs is this set's start
    items: list[tuple[np.ndarray, str]] = []
    if cache_dir and cache_dir.is_dir():
        smaller = sorted(int(m.group(1)) for f in cache_dir.glob(f"{prefix}_*_*.npz")
                         if (m := re.fullmatch(rf"{re.escape(prefix)}_(\d+)_\w+\.npz", f.name))
                         and int(m.group(1)) < n and f.name == cache_file(int(m.group(1))).name)
        if smaller:
            items = _load_lines(cache_file(smaller[-1]), smaller[-1])
    chunk = 500
    jobs = [(seed, s, min(chunk, n - s), str(cfg_path), charset.chars, max_width, kind)
            for s in range(len(items), n, chunk)]
    bar = tqdm(total=n, initial=len(items), desc=f"synth {kind or 'lines'}", unit="line", disable=not progress)
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            for part in pool.imap(_synth_chunk, jobs):
                items += part
                bar.update(len(part))
    else:
        for job in jobs:
            part = _synth_chunk(job)
            items += part
            bar.update(len(part))
    bar.close()
    imgs, texts = [im for im, _ in items], [t for _, t in items]
    if cache:
        _save_lines(cache, imgs, texts)
    return imgs, texts


def _load_lines(path: Path, count: int | None = None) -> list[tuple[np.ndarray, str]]:
    """The first ``count`` (all: None) (line, text) pairs of a cache written by :func:`_save_lines` (views of
    its pixels)."""
    z = np.load(path, allow_pickle=False)
    flat, offs, texts = z["pixels"], z["offsets"], z["texts"].tolist()
    return [(flat[:, offs[i]:offs[i + 1]], texts[i]) for i in range(len(offs) - 1 if count is None else count)]


def _save_lines(path: Path, imgs: list[np.ndarray], texts: list[str], rows: int = 20000) -> None:
    """Write lines as the ``.npz`` that ``np.load`` reads back: ``pixels`` (32 x total width), ``offsets``, ``texts``.

    ``pixels`` is streamed into the archive a band of ``rows`` lines at a time instead of being joined in memory
    first: ``np.savez`` of the joined array held every line twice (about 19 GB at 840,000 lines), which capped the
    cache on a 24 GB machine. The file is written beside ``path`` and renamed, so a killed save leaves no cache.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    offs = np.cumsum([0] + [im.shape[1] for im in imgs])
    tmp = path.with_name(path.name + ".tmp.npz")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("pixels.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (HEIGHT, int(offs[-1]))})
            for r in range(HEIGHT):                         # C order: pixel row r of every line, then row r + 1
                for s in range(0, len(imgs), rows):
                    fh.write(np.concatenate([im[r] for im in imgs[s:s + rows]]).tobytes())
        for name, arr in (("offsets", offs), ("texts", np.array(texts))):
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    os.replace(tmp, path)


class LinePool:
    """Height-32 lines held in memory (synthetic lines, detected rows); ``get`` returns one uint8 line,
    width-stretched when augmented."""

    def __init__(self, imgs: list[np.ndarray], texts: list[str], name: str = "synth", case_blind: bool = False):
        self.name, self.imgs, self.texts, self.case_blind = name, imgs, texts, case_blind
        self.w32 = np.array([im.shape[1] for im in imgs], np.float32)

    def __len__(self) -> int:
        return len(self.imgs)

    def get(self, i: int, rng: np.random.Generator, aug: bool, max_width: int) -> np.ndarray:
        im = self.imgs[i]
        if aug:
            w = int(np.clip(round(im.shape[1] * np.exp(rng.uniform(-0.15, 0.15))), preprocess.MIN_WIDTH, max_width))
            im = cv2.resize(im, (w, HEIGHT), interpolation=cv2.INTER_LINEAR)
        return im


def _known(text: str, charset: Charset, skip_unknown: bool, skipped: dict[str, int]) -> bool:
    """Can ``text`` be a label? With ``skip_unknown`` a text with characters outside the charset is counted
    into ``skipped`` (character -> lines) and refused; without it, it raises the charset's error."""
    bad = charset.unknown(text)
    if bad and not skip_unknown:
        charset.encode(text)  # raises UnknownCharacterError naming the characters
    for c in bad:
        skipped[c] = skipped.get(c, 0) + 1
    return not bad


class RowCutter(Protocol):
    """What ``data.rows`` and ``data.synth_pages`` need and this package cannot supply: something that cuts
    the lines a detector finds on page records into height-32 gray strips exactly as the page pipeline cuts
    them, each with the ground-truth text it covers cleanly. ``ocr-train recognizer`` passes the page
    pipeline's (``pipeline.evaluate.PageRows``); ``key`` names what the strips depend on (detector weights,
    page, detector and crop settings), so cached strips are cut again when any of those change."""

    key: str

    def __call__(self, pages: list, progress: bool, desc: str) -> Iterable[tuple[np.ndarray, str]]: ...


def detected_rows(folder: str | Path, which: str, charset: Charset, skip_unknown: bool, max_width: int,
                  cache_dir: Path | None, rows: RowCutter | None, progress: bool = True,
                  limit: int = 0) -> tuple[list, list[str], dict, int]:
    """``(strips, texts, skipped, pages)``: the lines ``rows`` cuts from the ``which`` split of a page-set
    folder, with the ground-truth text of those it covers cleanly; strips wider than ``max_width`` are left
    out (squeezing them would show the recognizer a shape the pipeline never gives it). ``limit`` keeps that
    many, evenly spaced. Cached in ``cache_dir`` keyed by the pages and ``rows.key``."""
    from synth import pageset

    if rows is None:
        raise SystemExit("ocr-train: data.rows and data.synth_pages cut pages with the page pipeline; "
                         "run them through `ocr-train recognizer` (or pass train(..., rows=))")
    folder = Path(folder)
    pages = pageset.split(pageset.read(folder), which, folder.name)
    inputs = "|".join([str(folder.resolve()), which, ",".join(str(p.image.name) for p in pages), rows.key])
    cache = cache_dir / f"rows_{folder.name.lower()}_{which}_{hashlib.sha1(inputs.encode()).hexdigest()[:12]}.npz" \
        if cache_dir else None
    if cache and cache.is_file():
        items = _load_lines(cache)
    else:
        items = list(rows(pages, progress, f"rows {folder.name} {which}"))
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            _save_lines(cache, [im for im, _ in items], [t for _, t in items])
    skipped: dict[str, int] = {}
    items = [(im, t) for im, t in items if im.shape[1] <= max_width and _known(t, charset, skip_unknown, skipped)]
    items = _spaced(items, limit)
    return [im for im, _ in items], [t for _, t in items], skipped, len(pages)


class RealPool:
    """Line crops of a page-set split, kept with ``ctx`` pixels of context so margins can vary."""

    def __init__(self, folder: str | Path, which: str, charset: Charset, skip_unknown: bool,
                 case_blind: bool, ctx: int = 6):
        from synth import pageset

        folder = Path(folder)
        self.name, self.case_blind = folder.name.lower(), case_blind
        pages = pageset.split(pageset.read(folder), which, folder.name)
        self.crops, self.boxes, self.texts, self.w32 = [], [], [], []
        self.skipped: dict[str, int] = {}
        for page in pages:
            img = None
            for ln in page.lines:
                text = " ".join(ln.text.split())
                if ln.ignore or not text:
                    continue
                if not _known(text, charset, skip_unknown, self.skipped):
                    continue
                x0, y0, x1, y1 = (int(round(v)) for v in ln.box)
                if x1 - x0 < 2 or y1 - y0 < 2 or ((y1 - y0) > 2 * (x1 - x0) and len(text) > 2):
                    continue                                  # degenerate or vertical text
                if img is None:
                    img = cv2.imread(str(page.image), cv2.IMREAD_GRAYSCALE)
                    if img is None:
                        raise ValueError(f"{page.image}: cannot read image")
                h, w = img.shape
                cx0, cy0, cx1, cy1 = max(0, x0 - ctx), max(0, y0 - ctx), min(w, x1 + ctx), min(h, y1 + ctx)
                self.crops.append(img[cy0:cy1, cx0:cx1].copy())
                self.boxes.append((x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0))
                self.texts.append(text)
                self.w32.append((x1 - x0 + 4) * HEIGHT / (y1 - y0 + 4))
        self.w32 = np.array(self.w32, np.float32)
        self.pages = len(pages)

    def __len__(self) -> int:
        return len(self.crops)

    def get(self, i: int, rng: np.random.Generator, aug: bool, max_width: int) -> np.ndarray:
        crop, (x0, y0, x1, y1) = self.crops[i], self.boxes[i]
        h, w = crop.shape
        m = rng.integers(0, 6, 4) if aug else np.full(4, 2)   # evaluation cuts with a 2-pixel margin
        c = crop[max(0, y0 - m[1]):min(h, y1 + m[3]), max(0, x0 - m[0]):min(w, x1 + m[2])]
        return preprocess.resize_height(c, max_width, float(np.exp(rng.uniform(-0.15, 0.15))) if aug else 1.0)


def reframe(img: np.ndarray, rng: np.random.Generator, max_width: int) -> np.ndarray:
    """A height-32 line cut again and resized back to height 32: half the time tight to its ink above and
    below (within a pixel; a crop cut to the text's box, as users and datasets cut them), else with up to
    0.35 of its height of ground added above and below and 0.8 at each end (a loose crop: smaller text).
    The ink is the minority side of Otsu's threshold; a line where it spans less than 40 % of the height
    (a faint or odd one) is left as it is. The recognizer reads crops cut either way:
    benchmarks/crop_margins.py."""
    h = img.shape[0]
    if rng.random() < 0.5:
        t, _ = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        ink = img > t if preprocess.light_on_dark(img) else img <= t
        rows = np.flatnonzero(ink.mean(1) > 0.01)
        if len(rows) < 2 or rows[-1] + 1 - rows[0] < 0.4 * h:
            return img
        y0, y1 = max(0, rows[0] - int(rng.integers(0, 2))), min(h, rows[-1] + 1 + int(rng.integers(0, 2)))
        return preprocess.resize_height(img[y0:y1], max_width)
    py, px = (rng.uniform(0, 0.35, 2) * h).round().astype(int), (rng.uniform(0, 0.8, 2) * h).round().astype(int)
    ground = int(np.median(preprocess.border(img)))
    out = cv2.copyMakeBorder(img, int(py[0]), int(py[1]), int(px[0]), int(px[1]), cv2.BORDER_CONSTANT, value=ground)
    return preprocess.resize_height(out, max_width)


def augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photometric and resolution noise on a height-32 uint8 line."""
    out = img
    if rng.random() < 0.15:                           # resolution loss
        h = int(rng.integers(12, 24))
        small = cv2.resize(out, (max(4, out.shape[1] * h // HEIGHT), h), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (out.shape[1], HEIGHT), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.1:                            # thinner or bolder strokes
        k = np.ones((2, 2), np.uint8)
        out = cv2.dilate(out, k) if rng.random() < 0.5 else cv2.erode(out, k)
    if rng.random() < 0.25:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.3, 1.0)))
    f = out.astype(np.float32)
    if rng.random() < 0.5:                            # contrast, brightness, gamma
        f = (f - 127.5) * rng.uniform(0.6, 1.3) + 127.5 + rng.uniform(-30, 30)
        f = 255.0 * (np.clip(f, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.2:
        f = f + rng.normal(0, rng.uniform(3, 12), f.shape)
    return np.clip(f, 0, 255).astype(np.uint8)


class Batcher:
    """Draws the batch of a step: ``4B`` candidates from the pools by share, sorted by width, one window
    of similar widths kept, then trimmed to the pixel budget. A pure function of ``(seed, step)``."""

    def __init__(self, pools: list, shares: list[float], charset: Charset, cfg: TrainConfig):
        self.pools, self.charset, self.cfg = pools, charset, cfg
        p = np.array(shares, np.float64)
        self.p = p / p.sum()
        self.labels = [[charset.encode(t) for t in pool.texts] for pool in pools]

    def __call__(self, step: int):
        cfg, o = self.cfg, self.cfg.optim
        rng = np.random.default_rng([cfg.seed, step])
        n = 4 * o.batch_size
        src = rng.choice(len(self.pools), n, p=self.p)
        idx = np.array([rng.integers(len(self.pools[s])) for s in src])
        w = np.array([self.pools[s].w32[i] for s, i in zip(src, idx)])
        order = np.argsort(w)
        start = int(rng.integers(0, n - o.batch_size + 1))
        pick = order[start:start + o.batch_size]
        wmax = min(cfg.data.max_width, float(w[pick].max()))
        keep = max(4, min(o.batch_size, int(o.batch_pixels // max(wmax, 1))))
        pick = pick[:keep]
        imgs, labels, blind = [], [], []
        for k in pick:
            pool, i = self.pools[src[k]], int(idx[k])
            aug = rng.random() < cfg.data.augment
            im = pool.get(i, rng, aug, cfg.data.max_width)
            if aug and cfg.data.reframe > 0 and rng.random() < cfg.data.reframe:    # (old legs draw as before)
                im = reframe(im, rng, cfg.data.max_width)
            imgs.append(augment(im, rng) if aug else im)
            labels.append(self.labels[src[k]][i])
            blind.append(pool.case_blind)
        x, widths = preprocess.batch(imgs)
        return x, widths, labels, torch.tensor(blind)


# ---- loss ---------------------------------------------------------------------------------------------
def case_fold(logits: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Log-probabilities (T,B,C) for labels that carry no case, from logits (T,B,C): each upper-case class
    scores both cases, ``log(p_upper + p_lower)``, and the lower-case class scores nothing (about -1e4), so
    the folded distribution still sums to one.

    torch's ``ctc_loss`` needs that: its gradient is ``exp(log_probs)`` minus the label's occupancy, right
    only for a normalized input. Scoring both cases on top of the full softmax (before step s22) left each
    lower-case class's own probability in, and the loss sent it down like a wrong letter's: the "case-blind"
    labels taught upper case, and SROIE's lower-case print came out as ``PrICE``, ``ROUNdING`` (r and d, whose
    shapes differ most, held out). The merged class's gradient is also split evenly between the two cases'
    logits (the value is the log-sum, the gradient that of their mean), so these labels never move which
    case a letter takes; the marginal's own gradient would favour whichever case the model already prefers.
    """
    if not pairs:
        return logits.log_softmax(-1)
    up = torch.tensor([u for u, _ in pairs], device=logits.device)
    lo = torch.tensor([low for _, low in pairs], device=logits.device)
    zu, zl = logits[..., up], logits[..., lo]
    mean = (zu + zl) / 2
    z = logits.clone()
    z[..., up] = mean + (torch.logaddexp(zu, zl) - mean).detach()
    z[..., lo] = -1e4
    return z.log_softmax(-1)


def ctc_per_line(logits: torch.Tensor, widths: torch.Tensor, labels: list[list[int]], blind: torch.Tensor,
                 pairs: list[tuple[int, int]], blank: int = 0) -> torch.Tensor:
    """CTC loss of each line of a batch divided by its label length (B,); an infinite loss (label longer than
    the steps allow) is zeroed. Padded timesteps past a line's width are left out. Rows flagged in ``blind``
    score through :func:`case_fold`, their lower-case label letters as the upper-case ones."""
    logits = logits.float()
    lp = logits.log_softmax(-1)                                  # T,B,C
    if blind.any():
        lp = torch.where(blind.to(lp.device)[None, :, None], case_fold(logits, pairs), lp)
        upper = {low: u for u, low in pairs}
        labels = [[upper.get(c, c) for c in lb] if b else lb for lb, b in zip(labels, blind.tolist())]
    in_len = (widths // 4 + 1).clamp(max=lp.shape[0]).to(lp.device)
    tgt_len = torch.tensor([len(lb) for lb in labels], device=lp.device)
    targets = torch.tensor([c for lb in labels for c in lb], device=lp.device)
    per = nn.functional.ctc_loss(lp, targets, in_len, tgt_len, blank=blank, reduction="none", zero_infinity=True)
    return per / tgt_len.clamp(min=1)


def ctc_loss(logits: torch.Tensor, widths: torch.Tensor, labels: list[list[int]], blind: torch.Tensor,
             pairs: list[tuple[int, int]], blank: int = 0) -> tuple[torch.Tensor, int]:
    """Mean per-character CTC loss of a batch; infinite losses are zeroed, and their count is returned too."""
    per = ctc_per_line(logits, widths, labels, blind, pairs, blank)
    return per.mean(), int((per == 0).sum())


def line_losses(model: CRNN, imgs: list[np.ndarray], labels: list[list[int]], blank: int, device: torch.device,
                batch_pixels: int = 40000, progress: bool = False) -> np.ndarray:
    """CTC loss per character of each height-32 line under ``model`` in eval mode, unaugmented, in input order.
    Lines are read in batches of similar widths; the padding is masked, so a line scores as it would alone."""
    from tqdm import tqdm

    out = np.zeros(len(imgs), np.float32)
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(imgs), desc="rank synth lines", unit="line", disable=not progress)
    with torch.inference_mode():
        for idx in preprocess.width_batches([im.shape[1] for im in imgs], 64, batch_pixels):
            x, widths = preprocess.batch([imgs[i] for i in idx])
            per = ctc_per_line(model(x.to(device), widths), widths, [labels[i] for i in idx],
                               torch.zeros(len(idx), dtype=torch.bool), [], blank)
            out[idx] = per.cpu().numpy()
            bar.update(len(idx))
    bar.close()
    model.train(was_training)
    return out


def hard_lines(model: CRNN, imgs: list[np.ndarray], labels: list[list[int]], blank: int, d: DataConfig, file: Path,
               device: torch.device, progress: bool = False) -> np.ndarray:
    """Indices of the ``synth_hard_top`` fraction of the first ``synth_hard_scored`` lines that ``model`` reads
    worst (highest CTC loss per character), worst first. The losses are kept in ``file``, so a resumed run
    ranks by the weights the run started from, not by its own later ones."""
    n = min(d.synth_hard_scored, len(imgs))
    if file.is_file():
        losses = np.load(file)
        if len(losses) != n:
            raise SystemExit(f"ocr-train: {file} ranks {len(losses)} lines, the config {n}; remove it to rank again")
    else:
        losses = line_losses(model, imgs[:n], labels[:n], blank, device, progress=progress)
        np.save(file, losses)
    k = max(1, int(round(n * d.synth_hard_top)))
    return np.argsort(-losses, kind="stable")[:k]


def _report_skipped(name: str, skipped: dict[str, int]) -> None:
    if skipped:
        lst = ", ".join(f"{c!r} x{n}" for c, n in sorted(skipped.items(), key=lambda kv: -kv[1]))
        print(f"ocr-train: {name}: skipped crops with characters outside the charset: {lst}", file=sys.stderr)


# ---- validation ---------------------------------------------------------------------------------------
def _spaced(items: list, n: int) -> list:
    if n <= 0 or len(items) <= n:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n)]


def _row_sources(d: DataConfig, cache_dir: Path | None, workers: int, progress: bool) -> list[tuple]:
    """``(folder, pool name, share, case_blind, what)`` for each source of detected rows: the ``data.rows``
    page-set folders and the ``data.synth_pages`` pages (rendered here once, into ``cache_dir``). ``what``
    describes the train split's rows for the provenance, with ``{n}`` lines and ``{pages}`` pages."""
    out = []
    for folder, share in d.rows.items():
        name = Path(folder).name.lower()
        out.append((Path(folder), f"{name}-rows", share, name in d.case_blind,
                    f"{name} train split: {{n}} lines found by the shipped detector on its {{pages}} pages"))
    if d.synth_pages and d.synth_pages_weight > 0:
        import tempfile                          # no cache: the pages are rendered anew, as the lines are
        from synth import pageset

        seed = d.synth_seed if d.synth_pages_seed is None else d.synth_pages_seed
        folder = pageset.render(d.synth_pages, seed, d.synth_pages_config,
                                cache_dir or Path(tempfile.mkdtemp(prefix="ocr-pages-")), workers, progress)
        out.append((folder, "synth-pages-rows", d.synth_pages_weight, False,
                    f"{{n}} lines found by the shipped detector on {{pages}} synthetic pages "
                    f"({d.synth_pages_config}, seed {seed})"))
    return out


def val_sets(cfg: TrainConfig, charset: Charset, cache_dir: Path | None,
             rows: RowCutter | None = None) -> dict[str, tuple[list, list[str], bool]]:
    """name -> (crops, texts, case_blind): synthetic lines of a fresh seed plus the real *val* splits: their
    ground-truth crops and the detected lines of the row sources (``data.rows``: ``NAME-rows``,
    ``data.synth_pages``: ``synth-pages-rows``), which ``rows`` cuts."""
    from synth import pageset

    d = cfg.data
    sets = {}
    if d.val_synth:
        imgs, texts = synth_lines(d.val_synth, d.val_seed, d.synth_config, charset, 4096, 1, cache_dir, False)
        sets["synth"] = (imgs, texts, False)
        if d.separators:
            imgs, texts = synth_lines(d.val_synth, d.val_seed, d.synth_config, charset, 4096, 1, cache_dir, False,
                                      "separator")
            sets["separators"] = (imgs, texts, False)
    for folder in d.real:
        name = Path(folder).name.lower()
        pages = pageset.split(pageset.read(folder), "val", Path(folder).name)
        items = _spaced(list(pageset.gt_crops(pages)), d.val_real)
        sets[name] = ([c for c, _ in items], [t for _, t in items], name in d.case_blind)
    for folder, name, _, blind, _ in _row_sources(d, cache_dir, 1, False):
        strips, texts, _, _ = detected_rows(folder, "val", charset, True, d.max_width, cache_dir, rows, False,
                                            d.val_real)
        sets[name] = (strips, texts, blind)
    return sets


def validate(rec: Recognizer, sets: dict) -> dict[str, dict]:
    from training.metrics import crop_scores

    return {name: crop_scores(texts, [r.text for r in rec(crops)]) for name, (crops, texts, _) in sets.items()}


def score(metrics: dict[str, dict], sets: dict) -> float:
    """Mean CER over the validation sets (case-insensitive for case-blind sets); lower is better."""
    return float(np.mean([m["CER_ci" if sets[k][2] else "CER"] for k, m in metrics.items()]))


# ---- loop ---------------------------------------------------------------------------------------------
def _data_pools(cfg: TrainConfig, charset: Charset, cache: Path, rows: RowCutter | None,
                progress: bool) -> tuple[list, list[float], list[str]]:
    """``(pools, shares, sources)`` that need no model: the synthetic lines (pool 0), the real sets' crops
    and the detected rows of the row sources, with one provenance line each."""
    d = cfg.data
    imgs, texts = synth_lines(d.synth_lines, d.synth_seed, d.synth_config, charset, d.max_width, cfg.workers, cache, progress)
    pools, shares = [LinePool(imgs, texts)], [d.synth_weight * (1.0 - d.synth_hard)]
    for folder, share in d.real.items():
        name = Path(folder).name.lower()
        pool = RealPool(folder, "train", charset, d.skip_unknown, name in d.case_blind)
        _report_skipped(name, pool.skipped)
        pools.append(pool)
        shares.append(share)
    sources = [f"synthetic lines (synth/, seed {d.synth_seed}, {len(imgs)} lines)"] + [
        f"{p.name} train split ({p.pages} pages, {len(p)} crops{', case-blind loss' if p.case_blind else ''})"
        for p in pools[1:]]
    for folder, name, share, blind, what in _row_sources(d, cache, cfg.workers, progress):
        strips, strip_texts, skipped, n_pages = detected_rows(folder, "train", charset, d.skip_unknown, d.max_width,
                                                              cache, rows, progress)
        _report_skipped(name, skipped)
        pools.append(LinePool(strips, strip_texts, name, blind))
        shares.append(share)
        sources.append(what.format(n=len(strips), pages=n_pages) + ", cut as the page pipeline cuts them"
                       + (", case-blind loss" if blind else ""))
    return pools, shares, sources


def _hard_pool(cfg: TrainConfig, model: CRNN, charset: Charset, synth: LinePool, out: Path, device: torch.device,
               progress: bool) -> tuple[LinePool, float, str]:
    """The ``data.synth_hard`` pool: the synthetic lines the starting weights read worst."""
    d = cfg.data
    if not cfg.model.init:
        raise SystemExit("ocr-train: data.synth_hard needs model.init: lines are ranked by the weights a run starts from")
    if d.synth_hard > 1 or not 0 < d.synth_hard_top <= 1 or d.synth_hard_scored < 1:
        raise SystemExit("ocr-train: data.synth_hard and synth_hard_top must lie in (0, 1], synth_hard_scored be >= 1")
    labels = [charset.encode(t) for t in synth.texts[:d.synth_hard_scored]]
    hard = hard_lines(model, synth.imgs, labels, charset.blank, d, out / "synth_hard.npy", device, progress)
    return (LinePool([synth.imgs[i] for i in hard], [synth.texts[i] for i in hard], "synth-hard"),
            d.synth_weight * d.synth_hard,
            f"the {len(hard)} of the first {min(d.synth_hard_scored, len(synth.imgs))} of those synthetic lines "
            f"that the starting weights read worst, {d.synth_hard:.0%} of the synthetic draws")


def _separator_pool(cfg: TrainConfig, charset: Charset, cache: Path, progress: bool) -> tuple[LinePool, float, str]:
    d = cfg.data
    imgs, texts = synth_lines(d.separator_lines, d.synth_seed, d.synth_config, charset, d.max_width, cfg.workers,
                              cache, progress, "separator")
    return (LinePool(imgs, texts, "separators"), d.separators,
            f"synthetic separator rows (typed rules, labelled rules, dot leaders; seed {d.synth_seed}, {len(imgs)} lines)")


def _validation(model: CRNN, charset: Charset, cfg: TrainConfig, sets: dict, step: int, out: Path, prov: dict,
                best: float) -> tuple[dict, float, float]:
    """Validate at ``step`` and write the weight files it calls for: ``best.pt`` when the score improves,
    ``final.pt`` at the schedule's end, a snapshot with ``snapshots``. Returns ``(metrics, score, best)``."""
    metrics = validate(Recognizer(model, charset, device=str(next(model.parameters()).device)), sets)
    model.train()
    sc = score(metrics, sets)
    prov = {**prov, "steps": step, "val": metrics}
    if sc < best:
        best = sc
        weightfile.save(out / "best.pt", model, charset, prov)
    if step == cfg.optim.steps:                 # the schedule's end, kept beside an earlier best.pt
        weightfile.save(out / "final.pt", model, charset, prov)
    if cfg.snapshots:
        weightfile.save(out / f"step_{step:06d}.pt", model, charset, prov)
    return metrics, sc, best


def train(cfg: TrainConfig, out: Path, progress: bool = True, max_steps: int | None = None,
          rows: RowCutter | None = None) -> dict:
    """Run (or resume) training into ``out``; returns the last validation metrics.
    ``max_steps`` stops early (for tests) without changing the schedule; ``rows`` cuts the detected rows
    that ``data.rows`` and ``data.synth_pages`` ask for (:class:`RowCutter`)."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    charset = Charset.from_file(cfg.model.charset)
    d, o = cfg.data, cfg.optim
    cache = out / "cache"
    pools, shares, sources = _data_pools(cfg, charset, cache, rows, progress)
    sets = val_sets(cfg, charset, cache, rows)

    model = CRNN(len(charset), cfg.model.width, cfg.model.hidden, cfg.model.rank).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, o.warmup, o.steps, o.final_lr))
    step, best = 0, float("inf")
    last = out / "last.pt"
    if cfg.model.init:
        init_prov = _init_from(model, charset, cfg.model)
        sources = [f"initialised from {cfg.model.init} ({init_prov.get('steps', '?')} steps on: "
                   + "; ".join(init_prov.get("data", [])) + ")"] + sources
    elif cfg.model.init_backbone:
        init_prov = _init_backbone(model, cfg.model)
        sources = [f"conv stack and BiLSTM initialised from {cfg.model.init_backbone} "
                   f"({init_prov.get('steps', '?')} steps), output layer from random"] + sources
    extra = ([_hard_pool(cfg, model, charset, pools[0], out, device, progress)] if d.synth_hard > 0 else []) \
        + ([_separator_pool(cfg, charset, cache, progress)] if d.separators else [])
    for pool, share, source in extra:
        pools.append(pool)
        shares.append(share)
        sources.append(source)
    batcher = Batcher(pools, shares, charset, cfg)
    cfg_dict = configs.to_dict(cfg)
    state = resume(last, cfg_dict, model, opt, sched, device)
    if state:
        step, best = state

    log = out / "log.csv"
    write_row = csv_log(log, ["step", "loss", "lr", "samples_s", "inf_losses"]
                        + [f"val_{k}_{m}" for k in sets for m in ("CER", "CER_ci")] + ["score", "skipped"])
    pairs = charset.case_pairs()
    amp = use_bf16(device)
    end = o.steps if max_steps is None else min(o.steps, step + max_steps)
    bar = tqdm(total=o.steps, initial=step, desc="train", unit="step", disable=not progress, dynamic_ncols=True)
    metrics: dict = {}
    run_loss, run_n, run_samples, run_inf, run_skip, t0 = 0.0, 0, 0, 0, 0, time.perf_counter()
    model.train()

    def finish() -> int:
        checkpoint(last, cfg_dict, model, opt, sched, step, best)
        return step

    with stoppable(bar, finish) as stop:
        while step < end and not stop["flag"]:
            x, widths, labels, blind = batcher(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(x.to(device), widths)
            loss, n_inf = ctc_loss(logits, widths, labels, blind, pairs, charset.blank)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if step_if_finite(model, opt, o.clip):
                run_loss, run_n = run_loss + loss.item(), run_n + 1
            else:
                run_skip += 1
            sched.step()
            step += 1
            run_samples, run_inf = run_samples + len(labels), run_inf + n_inf
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                rate = run_samples / (time.perf_counter() - t0)
                mean = run_loss / max(1, run_n)
                bar.set_postfix(loss=f"{mean:.3f}", lr=f"{sched.get_last_lr()[0]:.1e}", lines_s=f"{rate:.0f}")
                write_row(step=step, loss=f"{mean:.5f}", lr=f"{sched.get_last_lr()[0]:.3e}",
                          samples_s=f"{rate:.1f}", inf_losses=run_inf, skipped=run_skip)
                run_loss, run_n, run_samples, run_inf, run_skip, t0 = 0.0, 0, 0, 0, 0, time.perf_counter()
            if step % cfg.val_every == 0 or step == o.steps:
                metrics, sc, best = _validation(model, charset, cfg, sets, step, out,
                                                provenance(sources, step, {}, cfg_dict), best)
                write_row(step=step, score=f"{sc:.5f}", **{f"val_{k}_{m}": f"{v[m]:.5f}" for k, v in metrics.items() for m in ("CER", "CER_ci")})
                bar.write(f"step {step}: " + "  ".join(f"{k} CER {v['CER']:.4f} CER_ci {v['CER_ci']:.4f} exact {v['exact']:.3f}" for k, v in metrics.items()))
                plot_log(log, out / "curves.png", "CTC loss per char", "CER")
                checkpoint(last, cfg_dict, model, opt, sched, step, best)
            elif step % cfg.ckpt_every == 0:
                checkpoint(last, cfg_dict, model, opt, sched, step, best)
    return metrics


def _init_from(model: CRNN, charset: Charset, mc: ModelConfig) -> dict:
    """Copy the weights of ``mc.init`` into ``model``; returns that file's provenance."""
    try:
        src, src_charset, prov = weightfile.load(mc.init)
    except weightfile.WeightFileError as exc:
        raise SystemExit(f"ocr-train: model.init: {exc}") from None
    if src_charset.chars != charset.chars:
        raise SystemExit(f"ocr-train: {mc.init}: its charset differs from {mc.charset}; cannot start from it")
    if (src.width, src.hidden, src.rank) != (mc.width, mc.hidden, mc.rank):
        raise SystemExit(f"ocr-train: {mc.init}: width {src.width}, hidden {src.hidden}, rank {src.rank} differ "
                         f"from the config's {mc.width}, {mc.hidden}, {mc.rank}; cannot start from it")
    model.load_state_dict({k: v.float() for k, v in src.state_dict().items()})
    return prov


def _init_backbone(model: CRNN, mc: ModelConfig) -> dict:
    """Copy the conv stack and BiLSTM of ``mc.init_backbone`` into ``model``, whatever that file's charset;
    the output layer keeps its random start. Returns that file's provenance."""
    try:
        src, _, prov = weightfile.load(mc.init_backbone)
    except weightfile.WeightFileError as exc:
        raise SystemExit(f"ocr-train: model.init_backbone: {exc}") from None
    if (src.width, src.hidden) != (mc.width, mc.hidden):
        raise SystemExit(f"ocr-train: {mc.init_backbone}: width {src.width}, hidden {src.hidden} differ from the "
                         f"config's {mc.width}, {mc.hidden}; cannot take its backbone")
    body = {k: v.float() for k, v in src.state_dict().items() if k.startswith(("cnn.", "rnn."))}
    missing, _ = model.load_state_dict(body, strict=False)
    assert all(k.startswith("fc.") for k in missing), missing
    return prov


def write_mean(files: list[str | Path], weights, out: Path, cfg: TrainConfig | None = None,
               cache: Path | None = None, rows: RowCutter | None = None) -> dict:
    """Write the mean of ``files`` (:func:`recognition.average.average`) to ``out`` (fp16, as training
    writes); with ``cfg`` score it on that config's validation sets, ``cache`` being its run's
    cache folder and ``rows`` the row cutter its detected-row sets need. Returns the provenance."""
    from recognition.average import average

    model, charset, prov = average(files, weights)
    if cfg is not None:
        prov["val"] = validate(Recognizer(model, charset), val_sets(cfg, charset, cache, rows))
        prov["val_note"] = "training-time validation subset of its config, read by the mean"
    weightfile.save(out, model, charset, prov)
    print(f"wrote {out}: mean of " + ", ".join(f"{a['file']} {a['weight']:.2f}" for a in prov["averaged"]))
    return prov


def average_main(argv: list[str] | None = None, rows: RowCutter | None = None) -> int:
    """``ocr-train average-recognizer``; ``rows``: the row cutter for the config's detected-row validation sets."""
    import argparse

    from recognition import average

    ap = argparse.ArgumentParser(prog="ocr-train average-recognizer", description=average.__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="recognizer weight files of one architecture and charset")
    ap.add_argument("--weights", nargs="+", type=float, help="one positive weight per file (default: equal)")
    ap.add_argument("--config", type=Path, help="training config whose validation sets score the mean")
    ap.add_argument("--cache", type=Path, help="cache folder of that config's run (default: none, draw and cut anew)")
    ap.add_argument("--out", type=Path, required=True, help="weight file to write (fp16, as training writes them)")
    args = ap.parse_args(argv)
    try:
        cfg = None
        if args.config is not None:
            cfg = load_config(args.config)
        write_mean(args.files, args.weights, args.out, cfg, args.cache, rows)
    except (OSError, ValueError) as exc:                 # WeightFileError, ConfigError are ValueErrors
        print(f"ocr-train: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None, rows: RowCutter | None = None) -> int:
    return run_main(argv, "ocr-train recognizer", "Train the CRNN recognizer.", "recognizer/crnn_s.yaml",
                    "runs/recognizer", TrainConfig, functools.partial(train, rows=rows),
                    functools.partial(write_mean, rows=rows))

if __name__ == "__main__":
    sys.exit(main())
