"""training.loop.stoppable: SIGTERM and Ctrl-C end a training loop with a last checkpoint."""
import os
import shutil
import signal

import pytest

from training.loop import stoppable


class Bar:
    closed = False

    def close(self):
        self.closed = True


def test_sigterm_sets_the_flag_and_the_last_checkpoint_is_written(capsys):
    bar, saved, steps = Bar(), [], []
    before = signal.getsignal(signal.SIGTERM)
    with stoppable(bar, lambda: saved.append(len(steps)) or len(steps)) as stop:
        for k in range(100):
            if stop["flag"]:
                break
            steps.append(k)
            if k == 4:
                os.kill(os.getpid(), signal.SIGTERM)           # delivered before the next check
    assert len(steps) == 5 and saved == [5] and bar.closed
    assert signal.getsignal(signal.SIGTERM) is before
    assert "stopped at step 5; run the same command to resume" in capsys.readouterr().err


def test_ctrl_c_is_a_clean_stop_and_a_finished_run_says_nothing(capsys):
    bar, saved = Bar(), []
    with stoppable(bar, lambda: saved.append(7) or 7):
        raise KeyboardInterrupt
    assert saved == [7] and bar.closed and "stopped at step 7" in capsys.readouterr().err
    with stoppable(Bar(), lambda: 3):
        pass
    assert capsys.readouterr().err == ""


def test_bf16_training_on_cuda_and_on_amx_cpus_only():
    import torch

    from training.loop import use_bf16

    assert use_bf16(torch.device("cuda")) is True
    assert use_bf16(torch.device("cpu")) is bool(torch.cpu._is_amx_tile_supported())
    assert use_bf16(torch.device("meta")) is False


def test_a_non_finite_gradient_skips_the_update():
    import torch

    from training.loop import step_if_finite

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    (model(torch.tensor([[float("nan"), 1.0, 2.0]])).sum()).backward()
    assert step_if_finite(model, opt, 5.0) is False
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    assert step_if_finite(model, opt, 5.0) is True
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_csv_log_keeps_an_existing_header(tmp_path):
    from training.loop import csv_log

    log = tmp_path / "log.csv"
    csv_log(log, ["step", "loss"])(step=1, loss=0.5)
    csv_log(log, ["step", "loss", "skipped"])(step=2, loss=0.4, skipped=1)    # a resumed run of a newer version
    assert log.read_text().splitlines() == ["step,loss", "1,0.5", "2,0.4"]


# ---- recipes ------------------------------------------------------------------------------------------
RECIPE = """
preset: recognizer/crnn_s.yaml
steps:
  - name: a
    take: best
    settings: {optim: {steps: 6}}
  - name: b
    settings: {model: {init: "@a"}, optim: {lr: 0.5}}
    stop_at: 4
    take: best
  - name: c
    settings: {model: {init: "@b"}, data: {real: {}}}
  - name: m
    average: ["@c", "@a"]
    weights: [3, 1]
    score_on: c
"""


def _fake_trainer(stop_after=None):
    """train(settings, run_dir, stop_at) that writes last.pt and the files a run writes, as a real one would;
    ``stop_after`` makes the named step stop half-way once (a SIGTERM)."""
    import torch

    calls = []

    def train(settings, run_dir, stop_at):
        calls.append((run_dir.name, settings))
        run_dir.mkdir(parents=True, exist_ok=True)
        end = stop_at or settings["optim"]["steps"]
        step = end // 2 if run_dir.name == stop_after and not (run_dir / "last.pt").is_file() else end
        torch.save({"step": step}, run_dir / "last.pt")
        if step == end:
            (run_dir / "best.pt").write_text("best")
            if not stop_at:
                (run_dir / "final.pt").write_text("final")
        return step
    return train, calls


def test_a_recipe_chains_its_steps_merges_settings_and_resumes_where_it_stopped(tmp_path):
    from training import recipe

    file = tmp_path / "r.yaml"
    file.write_text(RECIPE)
    preset, steps = recipe.load(file)
    full = recipe.resolve(preset, steps, tmp_path / "out")
    assert full["a"]["optim"]["steps"] == 6 and full["a"]["optim"]["lr"] == preset["optim"]["lr"]
    assert full["b"]["model"]["init"] == str(tmp_path / "out" / "a" / "best.pt")
    assert full["b"]["optim"] == {**preset["optim"], "steps": 6, "lr": 0.5}   # merged a section at a time
    assert full["c"]["data"]["real"] == {} and full["c"]["data"]["synth_seed"] == preset["data"]["synth_seed"]
    assert full["c"]["model"]["init"] == str(tmp_path / "out" / "b" / "best.pt") and full["c"]["optim"]["lr"] == 0.5

    train, calls = _fake_trainer(stop_after="c")
    means = []

    def average(files, weights, out_file, settings, cache):
        means.append((files, weights, settings, cache))
        out_file.write_text("mean")

    out = tmp_path / "out"
    assert recipe.run(file, out, train, average) is None          # c was stopped: the chain waits
    assert [n for n, _ in calls] == ["a", "b", "c"] and means == []
    calls.clear()
    assert recipe.run(file, out, train, average) == out / "m.pt"  # the same call resumes: c, then the mean
    assert [n for n, _ in calls] == ["c"]
    assert means == [([str(out / "c" / "final.pt"), str(out / "a" / "best.pt")], (3.0, 1.0), full["c"], out / "c" / "cache")]
    calls.clear()
    assert recipe.run(file, out, train, average) == out / "m.pt" and calls == [] and len(means) == 1


def test_a_recipe_extended_by_a_step_runs_only_what_the_new_step_needs(tmp_path):
    """The mean a shipped file came from is in place (copied from the package): a fine-tune step added after it
    trains alone, without retraining the steps the mean was made of."""
    from training import recipe

    file = tmp_path / "r.yaml"
    file.write_text(RECIPE + """  - name: z
    settings: {model: {init: "@m"}, optim: {steps: 3}}
""")
    out = tmp_path / "out"
    out.mkdir()
    (out / "m.pt").write_text("the shipped mean")
    train, calls = _fake_trainer()
    assert recipe.run(file, out, train, lambda *a: pytest.fail("the mean is in place")) == out / "z" / "final.pt"
    assert [n for n, _ in calls] == ["z"] and calls[0][1]["model"]["init"] == str(out / "m.pt")
    assert recipe.run(file, out, train, None) == out / "z" / "final.pt" and len(calls) == 1   # done: nothing runs
    shutil.rmtree(out / "z")                                  # without z and the mean, the whole chain runs
    (out / "m.pt").unlink()
    calls.clear()
    means = []
    recipe.run(file, out, train, lambda files, *a: (means.append(files), (out / "m.pt").write_text("mean")))
    assert [n for n, _ in calls] == ["a", "b", "c", "z"] and len(means) == 1

def test_a_recipe_refuses_bad_references_and_keys_with_one_line(tmp_path):

    import configs
    from training import recipe

    bad = {"late": 'steps:\n  - name: a\n    settings: {model: {init: "@b"}}\n  - name: b\n',
           "twice": "steps:\n  - name: a\n  - name: a\n",
           "key": "steps:\n  - name: a\n    stepz: 3\n",
           "final": "steps:\n  - name: a\n    stop_at: 3\n",
           "one": 'steps:\n  - name: a\n  - name: m\n    average: ["@a"]\n'}
    for name, text in bad.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        with pytest.raises(configs.ConfigError) as err:
            recipe.load(tmp_path / f"{name}.yaml")
        assert "\n" not in str(err.value) and f"{name}.yaml: step" in str(err.value), name
    with pytest.raises(configs.ConfigError, match="recipe not found"):
        recipe.load(tmp_path / "none.yaml")


def test_the_shipped_recipes_resolve_into_valid_configs(tmp_path):
    """Every training step of the shipped recipes is a valid trainer config, and the English chains end in a
    mean; the Chinese one starts from the English recognizer's backbone."""
    import configs
    from detection.train import TrainConfig as DetectorConfig
    from recognition.train import TrainConfig as RecognizerConfig
    from training import recipe

    for name, cls in (("recognizer/shipped.yaml", RecognizerConfig), ("detector/shipped.yaml", DetectorConfig),
                      ("recognizer/shipped_zh.yaml", RecognizerConfig)):
        preset, steps = recipe.load(configs.path(name))
        resolved = {step: configs.from_dict(settings, cls, source=f"{name} {step}")
                    for step, settings in recipe.resolve(preset, steps, tmp_path).items()}
        if name.endswith("zh.yaml"):
            first = resolved[steps[0].name]
            assert first.model.charset == "charsets/zh.txt" and first.model.init_backbone.endswith("crnn_s.pt")
        else:
            assert steps[-1].average, name
