"""pipeline.training.stoppable: SIGTERM and Ctrl-C end a training loop with a last checkpoint."""
import os
import signal

from pipeline.training import stoppable


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

    from pipeline.training import use_bf16

    assert use_bf16(torch.device("cuda")) is True
    assert use_bf16(torch.device("cpu")) is bool(torch.cpu._is_amx_tile_supported())
    assert use_bf16(torch.device("meta")) is False
