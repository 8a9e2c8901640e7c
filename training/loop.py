"""Pieces both trainers share (``recognition.train``, ``detection.train``): the learning-rate schedule,
atomic checkpoint writes, resuming, weight averaging, and the loss/validation plot drawn from a run's CSV
log. Imports nothing of ``pipeline``: the page pipeline stands on the models, not the reverse."""
from __future__ import annotations

import contextlib
import csv
import datetime
import math
import os
import signal
import sys
from pathlib import Path

import torch

__all__ = ["lr_factor", "atomic_save", "plot_log"]


def lr_factor(step: int, warmup: int, steps: int, final: float) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``final`` x the base rate at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))


def cpu_has_amx() -> bool:
    """Does this CPU have AMX tiles (a bfloat16 matrix unit)? Training and inference both ask."""
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return amx is not None and bool(amx())


def use_bf16(device: torch.device) -> bool:
    """Train under bfloat16 autocast? On CUDA always; on a CPU with AMX tiles too (the recognizer's real
    width-bucketed batches: 1.65 s/step instead of 1.96 on 2 cores; the BiLSTMs stay fp32), elsewhere
    not. Steps with non-finite gradients are skipped (:func:`step_if_finite`)."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_amx())


def step_if_finite(model, opt, clip: float) -> bool:
    """Clip the gradients to norm ``clip`` and take the optimizer step, unless they are not finite (a NaN
    or infinite loss, an overflow): then the update is skipped and the gradients dropped, as AMP's
    gradient scaler does, so one bad batch cannot poison the weights. Returns whether it stepped."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    if bool(torch.isfinite(norm)):
        opt.step()
        return True
    opt.zero_grad(set_to_none=True)
    return False


def csv_log(path: Path, cols: list[str]):
    """``write_row(**values)`` appending to the CSV at ``path``; a new file gets the header ``cols``, an
    existing one (a resumed run) keeps its own header, so its rows stay lined up."""
    if path.is_file():
        with open(path, newline="") as fh:
            cols = next(csv.reader(fh), cols)
    else:
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerow(cols)

    def write_row(**kw) -> None:
        with open(path, "a", newline="") as fh:
            csv.writer(fh).writerow([kw.get(c, "") for c in cols])
    return write_row


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed run never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


_warned = False


def plot_log(log: Path, png: Path, loss_label: str, val_label: str, val_log: bool = True) -> None:
    """Two panels from ``log`` (CSV with ``step``, ``loss`` and ``val_*`` columns): training loss, and
    every validation column over steps. Skipped, with one warning, when matplotlib is missing."""
    global _warned
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if not _warned:
            print("ocr-train: matplotlib is not installed (pip install 'ocr-page[train]'), so no curves.png",
                  file=sys.stderr)
            _warned = True
        return
    with open(log, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    tr = [r for r in rows if r["loss"]]
    a.plot([int(r["step"]) for r in tr], [float(r["loss"]) for r in tr])
    a.set(xlabel="step", ylabel=loss_label, yscale="log", title="training loss")
    for col in [c for c in rows[0] if c.startswith("val_")]:
        pts = [(int(r["step"]), float(r[col])) for r in rows if r[col]]
        if pts:
            b.plot(*zip(*pts), marker="o", label=col[4:])
    b.set(xlabel="step", ylabel=val_label, yscale="log" if val_log else "linear", title="validation")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def resume(last: Path, config: dict, model, opt, sched, device) -> tuple[int, float] | None:
    """Load ``last`` (written by :func:`checkpoint`) into the model, optimizer and schedule; returns
    ``(step, best)``, or None when there is no checkpoint. A checkpoint of another config is refused."""
    if not last.is_file():
        return None
    ck = torch.load(last, map_location=device, weights_only=True)
    if ck["config"] != config:
        raise SystemExit(f"ocr-train: {last} was written with another config; use another --out or delete it")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    sched.load_state_dict(ck["sched"])
    print(f"ocr-train: resuming from {last} at step {ck['step']}", file=sys.stderr)
    return ck["step"], ck["best"]


def provenance(sources: list[str], step: int, metrics: dict, config: dict) -> dict:
    """The provenance record a trainer writes into ``best.pt`` and ``final.pt``."""
    return {"data": sources, "steps": step, "val": metrics, "val_note": "training-time validation subset",
            "config": config, "created": datetime.date.today().isoformat()}


def mean_of(paths: list, weights: list[float] | None, load, differs) -> tuple:
    """``(model, extra, provenance)``: the weighted mean of the weight files ``paths`` (equal ``weights``
    by default), each read by ``load(path) -> (float32 model, extra, provenance)``. ``differs(first,
    other)``, given two such triples, names what keeps them apart (architecture, charset, anchors) or is
    empty; a mismatch, fewer than two files or weights that are not one positive per file raise
    ``ValueError``. Every floating tensor (batch-norm running statistics included) is
    ``sum(w_i * file_i) / sum(w_i)``; integer buffers (batch norm's step counters, unused in eval mode)
    come from the first file. The provenance names each input with its weight, steps, training-time
    validation and config, and carries the union of their data sources."""
    paths = [Path(p) for p in paths]
    weights = [1.0] * len(paths) if weights is None else [float(w) for w in weights]
    if len(paths) < 2:
        raise ValueError("averaging needs at least two weight files")
    loaded = [load(p) for p in paths]
    for p, other in zip(paths[1:], loaded[1:]):
        why = differs(loaded[0], other)
        if why:
            raise ValueError(f"{p}: {why} {paths[0]}'s")
    if len(weights) != len(paths) or min(weights) <= 0:
        raise ValueError(f"need one positive weight per file: {len(paths)} files, weights {weights}")
    total = sum(weights)
    states, provs = [m.state_dict() for m, _, _ in loaded], [pv for _, _, pv in loaded]
    model, extra, _ = loaded[0]
    model.load_state_dict({k: sum(s[k] * (w / total) for s, w in zip(states, weights)) if v.is_floating_point()
                           else v for k, v in states[0].items()})
    data = list(dict.fromkeys(x for prov in provs for x in prov.get("data", [])))
    prov = {"data": data, "steps": max(int(prov.get("steps", 0)) for prov in provs),
            "averaged": [{"file": str(p), "weight": w / total, "steps": prov.get("steps"), "val": prov.get("val"),
                          "config": prov.get("config")} for p, w, prov in zip(paths, weights, provs)],
            "created": provs[-1].get("created")}
    return model.eval(), extra, prov


def checkpoint(last: Path, config: dict, model, opt, sched, step: int, best: float) -> None:
    """Write the resumable state of a run atomically to ``last``."""
    atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                 "step": step, "best": best, "config": config}, last)


@contextlib.contextmanager
def stoppable(bar, finish):
    """The body of a training loop that SIGTERM or Ctrl-C ends cleanly: yields ``stop``, a dict whose
    ``"flag"`` the loop checks each step. On the way out (done, stopped or failed) the progress bar closes,
    the SIGTERM handler is restored and ``finish()`` writes the last checkpoint and returns its step; a
    stop is reported with how to resume."""
    stop = {"flag": False}
    old = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    step = None
    try:
        yield stop
    except KeyboardInterrupt:
        stop["flag"] = True
    finally:
        bar.close()
        signal.signal(signal.SIGTERM, old)
        step = finish()
    if stop["flag"]:
        print(f"ocr-train: stopped at step {step}; run the same command to resume", file=sys.stderr)


def run_main(argv: list[str] | None, prog: str, description: str, default_config: str, default_out: str,
             cls, train, average=None) -> int:
    """The shared command line of both trainers: ``--config`` (one run) or ``--recipe`` (a chain of runs
    and means, :mod:`training.recipe`), ``--out --device --quiet``, with one-line errors (exit 2) for a
    bad config or recipe, a missing GPU or a missing page-set folder. ``cls`` is the trainer's config
    dataclass, ``train(cfg, out, progress, max_steps)`` its loop, ``average(files, weights, out_file, cfg,
    cache)`` writes a mean of weight files (scored on ``cfg``'s validation sets when one is given)."""
    import argparse
    import dataclasses

    import configs
    from training import recipe

    ap = argparse.ArgumentParser(prog=prog, description=description)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--config", type=Path, default=None, help=f"YAML (default: configs/{default_config})")
    which.add_argument("--recipe", type=Path, default=None,
                       help="recipe YAML: every run and mean that made a shipped weight file, run in order, resumable")
    ap.add_argument("--out", type=Path, default=Path(default_out), help="run folder (checkpoints, log, best.pt)")
    ap.add_argument("--device", default=None, help="cpu or cuda (overrides the config)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    def checked(cfg):
        if args.device:
            cfg = dataclasses.replace(cfg, device=args.device)
        if cfg.device.startswith("cuda") and not torch.cuda.is_available():
            raise configs.ConfigError("--device cuda asked for, but no CUDA GPU is visible")
        for folder in cfg.data.real:
            if not Path(folder).is_dir():
                raise configs.ConfigError(f"{folder}: no such page-set folder (config data.real)")
        return cfg

    def train_step(settings: dict, run_dir: Path, stop_at: int) -> int:
        cfg = checked(configs.from_dict(settings, cls, source=f"{args.recipe} step {run_dir.name}"))
        train(cfg, run_dir, progress=not args.quiet, max_steps=stop_at or None)
        return recipe.reached(run_dir)

    def average_step(files, weights, out_file, settings, cache) -> None:
        cfg = configs.from_dict(settings, cls, source=str(args.recipe)) if settings is not None else None
        try:
            average(files, weights, out_file, cfg, cache)
        except (OSError, ValueError) as exc:             # unreadable or mismatched weight files
            raise configs.ConfigError(f"{args.recipe}: {out_file.stem}: {exc}") from None

    try:
        if args.recipe is not None:
            if average is None:
                raise configs.ConfigError(f"{prog} has no averaging step for recipes")
            result = recipe.run(args.recipe, args.out, train_step, average_step)
            if result is not None:
                print(f"ocr-train: recipe done: {result}", file=sys.stderr)
            return 0
        cfg = checked(configs.load(args.config or configs.path(default_config), cls))
    except configs.ConfigError as exc:
        print(f"ocr-train: {exc}", file=sys.stderr)
        return 2
    train(cfg, args.out, progress=not args.quiet)
    return 0
