"""training.loop.stoppable: SIGTERM and Ctrl-C end a training loop with a last checkpoint."""
import os
import signal

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
