"""Recipes: one YAML file that lists every step that made a shipped weight file, so that
``ocr-train recognizer --recipe configs/recognizer/shipped.yaml --out runs/shipped`` makes it again.

```yaml
preset: recognizer/crnn_s.yaml          # a shipped config: the first training step's settings
steps:
  - name: s1                            # a training step: runs in OUT/s1/
    take: best                          # the file later steps use: final.pt (default) or best.pt
  - name: s2
    settings:                           # merged over the previous training step's settings, a section at a
      model: {init: "@s1"}              #   time: a key given here replaces that key's whole value
      optim: {steps: 4500, lr: 0.0005}
    stop_at: 3500                       # end the run at this step (its schedule still says 4500)
  - name: mean
    average: ["@s1", "@s2"]             # a weight-averaging step: writes OUT/mean.pt
    weights: [1, 1]                     # optional, one positive number per file
    score_on: s2                        # optional: score the mean on that training step's validation sets
```
``"@name"`` anywhere in the settings stands for the file an earlier step gave. Steps run in order; a step
whose file exists is done and skipped, a step whose file no unfinished step reads is skipped too, and a
training step picks up from its run's last checkpoint, so the same command resumes a stopped chain. What a
step needs from the trainer comes in as two callables (this module knows no model): ``train(settings,
run_dir, stop_at) -> step reached`` and ``average(files, weights, out_file, settings | None, cache_dir |
None)``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

import configs

__all__ = ["Step", "load", "resolve", "run", "reached"]


@dataclass(frozen=True)
class Step:
    name: str
    settings: dict | None = None        # training step: what it changes (None for an averaging step)
    take: str = "final"
    stop_at: int = 0
    average: tuple[str, ...] = ()       # averaging step: "@name" of each input
    weights: tuple[float, ...] | None = None
    score_on: str = ""

    def output(self, out: Path) -> Path:
        return out / f"{self.name}.pt" if self.average else out / self.name / f"{self.take}.pt"


def load(file: str | Path) -> tuple[dict, list[Step]]:
    """``(preset settings, steps)`` of the recipe ``file``, checked: one line naming the file and step for an
    unknown key, a duplicate name, a reference to a step that does not come earlier, or a ``take`` that the
    run cannot give (``final`` with ``stop_at``: the schedule's last validation never comes)."""
    file = Path(file)
    if not file.is_file():
        raise configs.ConfigError(f"{file}: recipe not found")
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if set(data) - {"preset", "steps"} or not data.get("steps"):
        raise configs.ConfigError(f"{file}: a recipe has 'preset' and a list of 'steps', got {sorted(data)}")
    preset = yaml.safe_load(configs.path(data["preset"]).read_text(encoding="utf-8")) if data.get("preset") else {}
    steps: list[Step] = []
    for i, raw in enumerate(data["steps"]):
        where = f"{file}: step {i + 1} ({raw.get('name', '?') if isinstance(raw, dict) else raw!r})"
        keys = {"name", "settings", "take", "stop_at", "average", "weights", "score_on"}
        if not isinstance(raw, dict) or "name" not in raw or set(raw) - keys:
            raise configs.ConfigError(f"{where}: expected a mapping with 'name' and keys among {sorted(keys)}")
        step = Step(str(raw["name"]), raw.get("settings", {}) if "average" not in raw else None,
                    str(raw.get("take", "final")), int(raw.get("stop_at", 0)), tuple(raw.get("average", ())),
                    tuple(float(w) for w in raw["weights"]) if raw.get("weights") else None,
                    str(raw.get("score_on", "")))
        names = {s.name: s for s in steps}
        if step.name in names:
            raise configs.ConfigError(f"{where}: a second step named {step.name!r}")
        if step.take not in ("final", "best") or (step.stop_at and step.take == "final"):
            raise configs.ConfigError(f"{where}: take must be 'final' or 'best' ('best' when stop_at ends the run "
                                      "before its schedule's last validation)")
        if step.average and (len(step.average) < 2 or (step.weights and len(step.weights) != len(step.average))):
            raise configs.ConfigError(f"{where}: average needs two or more files and one weight per file")
        refs = list(step.average) + _refs(step.settings or {})
        if step.score_on:
            refs.append("@" + step.score_on)
        for ref in refs:
            target = names.get(str(ref)[1:]) if str(ref).startswith("@") else None
            if target is None:
                raise configs.ConfigError(f"{where}: {ref!r} names no earlier step")
        if step.score_on and names[step.score_on].average:
            raise configs.ConfigError(f"{where}: score_on names a training step, {step.score_on!r} is an average")
        steps.append(step)
    return preset, steps


def _refs(value) -> list[str]:
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return [value] if isinstance(value, str) and value.startswith("@") else []


def _merge(base: dict, change: dict) -> dict:
    """``change`` over ``base`` a section at a time: {"optim": {"lr": 1}} keeps the other optim keys."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in change.items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _fill(value, files: dict[str, str]):
    if isinstance(value, dict):
        return {k: _fill(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, files) for v in value]
    return files[value[1:]] if isinstance(value, str) and value.startswith("@") else value


def _files(steps: list[Step], out: Path) -> dict[str, str]:
    """Step name -> the file it gives under ``out``: what ``"@name"`` stands for."""
    return {s.name: str(s.output(out)) for s in steps}


def resolve(preset: dict, steps: list[Step], out: Path) -> dict[str, dict]:
    """Each training step's full settings, ``"@name"`` replaced by the path of that step's file under ``out``."""
    files = _files(steps, out)
    full, settings = {}, preset
    for s in steps:
        if s.average:
            continue
        settings = _merge(settings, s.settings or {})
        full[s.name] = _fill(settings, files)
    return full


def run(file: str | Path, out: Path, train: Callable[[dict, Path, int], int],
        average: Callable[[list[str], tuple | None, Path, dict | None, Path | None], None]) -> Path | None:
    """Run the recipe ``file`` into ``out``; returns the last step's file, or None when a training step
    stopped before its end (a signal or Ctrl-C: the same call resumes it)."""
    preset, steps = load(file)
    full, files = resolve(preset, steps, out), _files(steps, out)
    done = {s.name for s in steps if s.output(out).is_file()
            and (s.average or reached(out / s.name) >= _end(s, full[s.name]))}
    needed = _needed(steps, done)
    for i, s in enumerate(steps, 1):
        target = s.output(out)
        if s.name in done or s.name not in needed:
            why = f"done ({target})" if s.name in done else "not needed: the steps that read its file are done"
            print(f"ocr-train: recipe step {i}/{len(steps)} {s.name}: {why}", file=sys.stderr)
            continue
        print(f"ocr-train: recipe step {i}/{len(steps)} {s.name}", file=sys.stderr)
        if s.average:
            average([files[r[1:]] for r in s.average], s.weights, target, full.get(s.score_on), out / s.score_on / "cache" if s.score_on else None)
            continue
        if train(full[s.name], out / s.name, s.stop_at) < _end(s, full[s.name]):
            return None
        if not target.is_file():
            raise SystemExit(f"ocr-train: recipe step {s.name} ended without {target.name}")
    return steps[-1].output(out)


def _needed(steps: list[Step], done: set[str]) -> set[str]:
    """The steps whose file the last step still needs, read back from the last step: a step that is not done
    needs every step it names (``"@name"``, ``average``, ``score_on``). So a chain extended by new steps
    runs only those when the file they start from is in place."""
    by_name, needed, todo = {s.name: s for s in steps}, set(), [steps[-1].name]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        s = by_name[name]
        if name not in done:
            todo += [r[1:] for r in list(s.average) + _refs(s.settings or {})] + ([s.score_on] if s.score_on else [])
    return needed


def _end(step: Step, settings: dict) -> int:
    return step.stop_at or int(settings.get("optim", {}).get("steps", 0))


def reached(run_dir: Path) -> int:
    """The step of a run's last checkpoint (0 when there is none)."""
    import torch

    last = run_dir / "last.pt"
    return int(torch.load(last, map_location="cpu", weights_only=True)["step"]) if last.is_file() else 0
