"""Detector training: ``ocr-train detector --config configs/detector/ctpn.yaml``.

Data: synthetic pages from :mod:`synth` (rendered once by worker processes and cached as a page-set
folder under ``out/cache``) mixed with real pages of page-set folders (their *train* split only; their
validation pages are read for validation and nothing else). Real segments of one row are merged into
lines (:func:`detection.data.merge_row_segments`); segments marked ``ignore`` become regions that are
neither text nor background. Every sample is a page scaled so its median line is ``line_height`` x a
random factor (``jitter``) tall, cropped to ``crop`` around text, photometrically augmented (real pages),
and labelled by :func:`detection.targets.assign` + :func:`detection.targets.sample`.

Loop: AdamW with warmup + cosine decay, gradient-norm clipping, bf16 autocast on CUDA and on CPUs with
AMX (:func:`training.loop.use_bf16`), batches built by ``workers`` DataLoader processes as a pure
function of ``(seed, step)``, so a resumed run sees the same data as an uninterrupted one. ``out/last.pt`` is written atomically every ``ckpt_every`` steps and on
interrupt, and the same command resumes from it. Each validation runs the full predictor (working scale,
text lines) on the validation pages and scores coverage ``det_F`` as ``ocr-eval`` does; it appends to
``out/log.csv``, redraws ``out/curves.png`` and writes the shippable ``out/best.pt`` when the mean det_F
improves; the validation at the schedule's last step also writes ``out/final.pt``, the same kind of file.

Shapes: ``B`` crops, ``M = H*W*A`` anchors of a crop.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

import configs
from detection import anchors as anchors_mod
from detection import data, targets, weightfile
from detection.ctpn import CTPN
from detection.loss import ctpn_loss
from detection.predictor import Detector, DetectorConfig, to_tensor
from detection.targets import TargetConfig
from synth import pageset
from training.loop import (checkpoint, csv_log, lr_factor, plot_log, provenance, resume, run_main, step_if_finite,
                               stoppable, use_bf16)

__all__ = ["TrainConfig", "ModelConfig", "DataConfig", "OptimConfig", "train", "main", "Page", "load_pages"]


@dataclass(frozen=True)
class ModelConfig:
    width: float = 0.5                      # VGG16 channel multiplier (1.0 = the published network)
    batch_norm: bool = True
    lstm_hidden: int = 128
    fc: int = 512
    init: str = ""                          # detector weight file to start from (same architecture), e.g.
                                            # the shipped one to fine-tune; empty = random initialisation


@dataclass(frozen=True)
class DataConfig:
    synth_pages: int = 1500                 # synthetic pages rendered once and cached
    synth_seed: int = 1
    synth_config: str = "synth/default.yaml"
    synth_weight: float = 0.5               # share of crops drawn from synthetic pages
    real: dict[str, float] = field(default_factory=dict)   # page-set folder -> share of crops
    merge_gap: float = 1.0                  # merge real segments of a row up to this many heights apart
    crop: tuple[int, int] = (512, 512)      # training window (h, w), multiples of 16
    line_height: float = 18.0               # median line height the pages are scaled to ...
    jitter: tuple[float, float] = (0.6, 1.6)  # ... times a random factor from this range
    photometric: float = 0.7                # share of real crops given photometric augmentation
    val_pages: int = 20                     # validation pages per real set (evenly spaced over its val split)
    val_synth: int = 10                     # synthetic validation pages (seed val_seed)
    val_seed: int = 9001


@dataclass(frozen=True)
class OptimConfig:
    steps: int = 6000
    batch_size: int = 4
    lr: float = 1e-3
    final_lr: float = 0.03
    warmup: int = 300
    weight_decay: float = 1e-4
    clip: float = 5.0


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    targets: TargetConfig = TargetConfig()
    detector: DetectorConfig = DetectorConfig()   # how validation runs the predictor
    seed: int = 0
    val_every: int = 500
    ckpt_every: int = 100
    log_every: int = 25
    workers: int = 2                        # processes rendering pages and building batches
    threads: int = 2                        # torch CPU threads
    device: str = "cpu"


def load_config(file: str | Path) -> TrainConfig:
    return configs.load(file, TrainConfig)


# ---- pages --------------------------------------------------------------------------------------------
@dataclass
class Page:
    image: Path
    lines: list[np.ndarray]                 # gt quads (lines), page pixels
    ignore: list[np.ndarray]                # quads neither text nor background
    segments: list[tuple]                   # the page set's own (box, ignore) pairs, for ocr-eval's metric


def load_pages(folder: str | Path, which: str, merge_gap: float) -> list[Page]:
    """The ``which`` split of a page-set folder as training pages (row segments merged into lines)."""
    from synth import pageset

    folder = Path(folder)
    recs = pageset.read(folder)
    recs = recs if which == "all" else pageset.split(recs, which, folder.name)
    out = []
    for r in recs:
        keep = [ln for ln in r.lines if not ln.ignore and ln.box[2] > ln.box[0] and ln.box[3] > ln.box[1]]
        quads = [np.asarray(ln.quad, np.float64) for ln in keep if ln.quad]
        boxes = np.array([ln.box for ln in keep if not ln.quad], np.float64).reshape(-1, 4)
        quads += [data.merged_quad(boxes[g]) for g in data.merge_row_segments(boxes, merge_gap)] if len(boxes) else []
        ignore = [targets.as_quad(ln.quad if ln.quad else ln.box) for ln in r.lines if ln.ignore]
        out.append(Page(r.image, quads, ignore, [(ln.quad or ln.box, ln.ignore) for ln in r.lines]))
    return out


def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: cannot read image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# ---- batches ------------------------------------------------------------------------------------------
class Batches(torch.utils.data.Dataset):
    """Item ``step`` = the whole batch of that step, a pure function of ``(seed, step)``."""

    def __init__(self, pools: list[list[Page]], shares: list[float], real: list[bool], cfg: TrainConfig):
        self.pools, self.real, self.cfg = pools, real, cfg
        p = np.array(shares, np.float64)
        self.p = p / p.sum()
        ch, cw = cfg.data.crop
        self.feat = (ch // 16, cw // 16, len(anchors_mod.HEIGHTS))
        self.anchors = anchors_mod.grid(ch // 16, cw // 16, 16, 8.0)
        self._img: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return self.cfg.optim.steps

    def _image(self, path: Path) -> np.ndarray:
        if path not in self._img:
            if len(self._img) >= 64:                     # a small per-process cache of decoded pages
                self._img.pop(next(iter(self._img)))
            self._img[path] = read_rgb(path)
        return self._img[path]

    def __getitem__(self, step: int):
        cfg, d = self.cfg, self.cfg.data
        rng = np.random.default_rng([cfg.seed, int(step)])
        xs, labs, verts, sides, masks = [], [], [], [], []
        for _ in range(cfg.optim.batch_size):
            s = int(rng.choice(len(self.pools), p=self.p))
            page = self.pools[s][int(rng.integers(len(self.pools[s])))]
            crop, gq, ig = data.sample_crop(self._image(page.image), page.lines, page.ignore, rng, d.crop,
                                            d.line_height, d.jitter)
            if self.real[s] and rng.random() < d.photometric:
                crop = data.photometric(crop, rng)
            t = targets.assign(self.anchors, self.feat, 16, gq, ig, cfg.targets)
            lab = targets.sample(t.labels, rng, cfg.targets.samples, cfg.targets.pos_fraction)
            xs.append(to_tensor(crop)[0])
            labs.append(torch.from_numpy(lab.astype(np.int64)))
            verts.append(torch.from_numpy(t.vert))
            sides.append(torch.from_numpy(t.side))
            masks.append(torch.from_numpy(t.side_mask))
        return torch.stack(xs), torch.stack(labs), torch.stack(verts), torch.stack(sides), torch.stack(masks)


# ---- validation ---------------------------------------------------------------------------------------
def _spaced(items: list, n: int) -> list:
    if n <= 0 or len(items) <= n:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n)]


def validate(det: Detector, sets: dict[str, list[Page]]) -> dict[str, dict]:
    """Coverage det_R/P/F per set, as ``ocr-eval`` computes it, over each set's pages."""
    from training.metrics import coverage_counts, prf

    out = {}
    for name, pages in sets.items():
        f = n = pr = pn = 0
        for page in pages:
            lines = det(read_rgb(page.image))
            a, b, c, e = coverage_counts(page.segments, [ln.quad.tolist() for ln in lines])
            f, n, pr, pn = f + a, n + b, pr + c, pn + e
        p, r, fs = prf(pr, pn, f, n)
        out[name] = {"det_R": r, "det_P": p, "det_F": fs}
    return out


def _init_from(model: CTPN, path: str) -> str:
    """Load the weights of detector file ``path`` into ``model`` (which must have its architecture); the
    provenance line saying so."""
    try:
        src, anc, prov = weightfile.load(path)
    except weightfile.WeightFileError as exc:
        raise SystemExit(f"ocr-train: model.init: {exc}") from None
    if src.arch() != model.arch() or tuple(anc["heights"]) != tuple(anchors_mod.HEIGHTS):
        raise SystemExit(f"ocr-train: model.init: {path} is a detector of another architecture "
                         f"({src.arch()}, not {model.arch()}); cannot start from it")
    model.load_state_dict(src.state_dict())
    return (f"initialised from {path} ({prov.get('steps', '?')} steps on: " + "; ".join(prov.get("data", [])) + ")")


# ---- loop ---------------------------------------------------------------------------------------------
def _data(cfg: TrainConfig, out: Path, progress: bool) -> tuple[list, list[float], list[bool], list[str], dict]:
    """``(pools, shares, real, sources, val_sets)``: the page pools (synthetic pages rendered once into
    ``out/cache``, then each real set's train split), their shares, whether each is real, a provenance
    line each, and the validation page sets (name -> pages)."""
    d = cfg.data
    pools, shares, real, sources = [], [], [], []
    val_sets: dict[str, list[Page]] = {}
    if d.synth_pages and d.synth_weight > 0:
        folder = pageset.render(d.synth_pages, d.synth_seed, d.synth_config, out / "cache", cfg.workers, progress)
        pools.append(load_pages(folder, "all", d.merge_gap))
        shares.append(d.synth_weight)
        real.append(False)
        sources.append(f"synthetic pages (synth/, seed {d.synth_seed}, {d.synth_pages} pages)")
    if d.val_synth:
        folder = pageset.render(d.val_synth, d.val_seed, d.synth_config, out / "cache", 1, False)
        val_sets["synth"] = load_pages(folder, "all", d.merge_gap)
    for folder, share in d.real.items():
        name = Path(folder).name.lower()
        pages = load_pages(folder, "train", d.merge_gap)
        pools.append(pages)
        shares.append(share)
        real.append(True)
        sources.append(f"{name} train split ({len(pages)} pages, {sum(len(p.lines) for p in pages)} lines "
                       f"after merging row segments up to {d.merge_gap} heights apart)")
        val_sets[name] = _spaced(load_pages(folder, "val", d.merge_gap), d.val_pages)
    if not pools:
        raise SystemExit("ocr-train: no training data (data.synth_pages is 0 and data.real is empty)")
    return pools, shares, real, sources, val_sets


def _validation(model: CTPN, cfg: TrainConfig, val_sets: dict, step: int, out: Path, prov: dict,
                best: float) -> tuple[dict, float, float]:
    """Validate at ``step`` (mean det_F over the sets) and write ``best.pt`` when it improves, ``final.pt``
    at the schedule's end. Returns ``(metrics, score, best)``."""
    model.eval()
    metrics = validate(Detector(model, cfg.detector, str(next(model.parameters()).device)), val_sets)
    model.train()
    sc = float(np.mean([m["det_F"] for m in metrics.values()])) if metrics else 0.0
    prov = {**prov, "steps": step, "val": metrics}
    if sc > best:
        best = sc
        weightfile.save(out / "best.pt", model, prov)
    if step == cfg.optim.steps:                 # the schedule's end, kept beside an earlier best.pt
        weightfile.save(out / "final.pt", model, prov)
    return metrics, sc, best


def train(cfg: TrainConfig, out: Path, progress: bool = True, max_steps: int | None = None) -> dict:
    """Run (or resume) training into ``out``; returns the last validation metrics.
    ``max_steps`` stops early (for tests) without changing the schedule."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    d, o = cfg.data, cfg.optim
    if any(v % 16 for v in d.crop):
        raise SystemExit(f"ocr-train: data.crop {d.crop} must be multiples of 16")
    pools, shares, real, sources, val_sets = _data(cfg, out, progress)

    model = CTPN(cfg.model.width, cfg.model.batch_norm, cfg.model.lstm_hidden, cfg.model.fc).to(device)
    if cfg.model.init:
        sources.insert(0, _init_from(model, cfg.model.init))
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, o.warmup, o.steps, o.final_lr))
    step, best = 0, -1.0
    last = out / "last.pt"
    cfg_dict = configs.to_dict(cfg)
    state = resume(last, cfg_dict, model, opt, sched, device)
    if state:
        step, best = state

    log = out / "log.csv"
    write_row = csv_log(log, ["step", "loss", "cls", "vert", "side", "lr", "crops_s"]
                        + [f"val_{k}_det_F" for k in val_sets] + ["score", "skipped"])

    end = o.steps if max_steps is None else min(o.steps, step + max_steps)
    batches = Batches(pools, shares, real, cfg)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, sampler=range(step, end),
                                         num_workers=cfg.workers if cfg.workers > 1 else 0,
                                         multiprocessing_context="spawn" if cfg.workers > 1 else None,
                                         persistent_workers=False, prefetch_factor=2 if cfg.workers > 1 else None)
    amp = use_bf16(device)
    bar = tqdm(total=o.steps, initial=step, desc="train", unit="step", disable=not progress, dynamic_ncols=True)
    metrics: dict = {}
    run = {"loss": 0.0, "cls": 0.0, "vert": 0.0, "side": 0.0, "n": 0, "crops": 0, "skipped": 0}
    t0 = time.perf_counter()
    model.train()

    def finish() -> int:
        checkpoint(last, cfg_dict, model, opt, sched, step, best)
        return step

    with stoppable(bar, finish) as stop:
        for x, lab, vert, side, mask in loader:
            if stop["flag"]:
                break
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                pred = model(x.to(device))
            loss, parts = ctpn_loss(pred, lab.to(device), vert.to(device), side.to(device), mask.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if step_if_finite(model, opt, o.clip):
                run["loss"] += loss.item()
                for k in ("cls", "vert", "side"):
                    run[k] += parts[k]
                run["n"] += 1
            else:
                run["skipped"] += 1
            sched.step()
            step += 1
            run["crops"] += len(x)
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                rate = run["crops"] / (time.perf_counter() - t0)
                n = max(1, run["n"])
                bar.set_postfix(loss=f"{run['loss'] / n:.3f}", lr=f"{sched.get_last_lr()[0]:.1e}", crops_s=f"{rate:.1f}")
                write_row(step=step, loss=f"{run['loss'] / n:.5f}", cls=f"{run['cls'] / n:.5f}", vert=f"{run['vert'] / n:.5f}",
                          side=f"{run['side'] / n:.5f}", lr=f"{sched.get_last_lr()[0]:.3e}", crops_s=f"{rate:.2f}",
                          skipped=run["skipped"])
                run = {k: 0 for k in run}
                t0 = time.perf_counter()
            if step % cfg.val_every == 0 or step == o.steps:
                metrics, sc, best = _validation(model, cfg, val_sets, step, out, provenance(sources, step, {}, cfg_dict),
                                                best)
                write_row(step=step, score=f"{sc:.5f}", **{f"val_{k}_det_F": f"{v['det_F']:.5f}" for k, v in metrics.items()})
                bar.write(f"step {step}: " + "  ".join(f"{k} det_R {v['det_R']:.3f} det_P {v['det_P']:.3f} det_F {v['det_F']:.3f}"
                                                      for k, v in metrics.items()))
                plot_log(log, out / "curves.png", "CTPN loss", "det_F", val_log=False)
                checkpoint(last, cfg_dict, model, opt, sched, step, best)
            elif step % cfg.ckpt_every == 0:
                checkpoint(last, cfg_dict, model, opt, sched, step, best)
    return metrics


def main(argv: list[str] | None = None) -> int:
    from detection import average

    return run_main(argv, "ocr-train detector", "Train the CTPN text-line detector.", "detector/ctpn.yaml",
                    "runs/detector", TrainConfig, train, average.write)

if __name__ == "__main__":
    sys.exit(main())
