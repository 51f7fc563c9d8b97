"""`audiolab train`: cross-validation from the command line, JSON results, clear errors."""
import json

import pytest

from audiolab import experiments as ex
from audiolab import tracking
from audiolab.cli import main

TINY = ["--channels", "8,8,8", "--kernel-size", "3", "--epochs", "2", "--batch-size", "16"]


def train(root, out, *extra):
    return main(["train", "--root", str(root), "--out", str(out), "--wandb", "disabled", *extra])


def test_train_end_to_end_writes_json_and_resumes(synthetic_esc10, tmp_path, capsys, monkeypatch):
    out = tmp_path / "arch1.json"
    assert train(synthetic_esc10, out, "--arch", "conv1d", "--folds", "1,2", "--name", "tiny", *TINY) == 0
    captured = capsys.readouterr()
    assert "50 clips, not the 400" in captured.err  # the synthetic tree is partial: loaded non-strict, with a warning
    assert "mean" in captured.out and "trainable" in captured.out

    result = json.loads(out.read_text())
    assert result["name"] == "tiny" and [f["fold"] for f in result["folds"]] == [1, 2]
    assert set(result["accuracy"]) == {"mean", "std"} and 0.0 <= result["accuracy"]["mean"] <= 1.0
    assert set(result["params"]) >= {"trainable", "non_trainable", "buffers"}
    assert result["train_seconds_total"] > 0 and result["experiment"]["params"]["channels"] == [8, 8, 8]
    assert result["experiment"]["train"]["epochs"] == 2 and result["experiment"]["train"]["batch_size"] == 16
    assert (tmp_path / "arch1_runs" / "tiny" / "cv" / "fold2.json").is_file()

    calls = []
    monkeypatch.setattr(ex, "fit", lambda *a, **k: calls.append(1))
    assert train(synthetic_esc10, out, "--arch", "conv1d", "--folds", "1,2", "--name", "tiny", *TINY) == 0
    assert calls == [] and json.loads(out.read_text())["folds"] == result["folds"]


def test_transformer_options_and_default_name(synthetic_esc10, tmp_path):
    out = tmp_path / "arch2.json"
    code = train(synthetic_esc10, out, "--arch", "transformer", "--heads", "2", "--d-model", "16", "--depth", "1",
                 "--folds", "3", *TINY)
    assert code == 0
    result = json.loads(out.read_text())
    params = result["experiment"]["params"]
    assert (params["heads"], params["d_model"], params["depth"]) == (2, 16, 1)
    assert result["name"].startswith("arch2-") and result["name"][6:] == result["key"][:8]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "conv1d", "--heads", "2"], "--heads only apply to --arch transformer"),
        (["--arch", "conv1d", "--depth", "3", "--d-model", "64"], "--d-model, --depth only apply"),
        (["--arch", "transformer", "--heads", "3", "--d-model", "16"], "divisible"),
        (["--arch", "conv1d", "--channels", "8,x"], "--channels takes positive integers"),
        (["--arch", "conv1d", "--stride", "0"], "--stride takes positive integers"),
        (["--arch", "conv1d", "--channels", "8,8,8", "--stride", "2,1"], "one stride per entry of channels"),
        (["--arch", "conv1d", "--folds", "7"], "--folds 7 not in the dataset"),
        (["--arch", "conv1d", "--name", "a/b"], "without slashes"),
    ],
)
def test_user_errors_exit_2_with_a_message(synthetic_esc10, tmp_path, capsys, args, message):
    assert train(synthetic_esc10, tmp_path / "r.json", *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_missing_dataset_exits_2(tmp_path, capsys):
    assert train(tmp_path / "nowhere", tmp_path / "r.json", "--arch", "conv1d") == 2
    err = capsys.readouterr().err
    assert "audiolab train: error:" in err and "does not exist" in err


def test_under_a_sweep_agent_one_run_gets_the_sweep_metric(synthetic_esc10, tmp_path, monkeypatch):
    started = []

    class FakeRun:
        enabled = False

        def __init__(self, **kwargs):
            self.kwargs, self.logged, self.summaries, self.finished = kwargs, [], {}, False
            started.append(self)

        def log(self, values, step=None):
            self.logged.append((step, dict(values)))

        def log_figure(self, name, fig, step=None):
            pass

        def summary(self, values):
            self.summaries.update(values)

        def finish(self, exit_code=None):
            self.finished = True

    monkeypatch.setattr(tracking, "start_run", lambda **kwargs: FakeRun(**kwargs))
    monkeypatch.setenv("WANDB_SWEEP_ID", "abc123")
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "sweep.json"
    code = main(["train", "--root", str(synthetic_esc10), "--out", str(out), "--arch", "conv1d",
                 "--folds", "1,2", "--lr=0.001", "--batch_size=16", "--kernel_size=3", "--channels=8,8,8",
                 "--epochs", "2"])
    assert code == 0
    assert len(started) == 1  # no per-fold runs inside a sweep run
    run = started[0]
    assert run.kwargs["job_type"] == "sweep" and run.finished
    result = json.loads(out.read_text())
    assert run.summaries[ex.SWEEP_METRIC] == pytest.approx(result["accuracy"]["mean"])
    assert [step for step, _ in run.logged] == [1, 2]


def test_defaults_are_the_kits_configurations():
    from audiolab import configs
    from audiolab.cli import build_parser

    parse = lambda *a: ex.experiment_from_args(build_parser().parse_args(["train", "--out", "r.json", *a]))  # noqa: E731
    arch1, arch2 = parse("--arch", "conv1d"), parse("--arch", "transformer", "--heads", "2")
    assert (arch1.params, arch1.train, arch1.features) == (configs.arch1().params, configs.arch1().train, configs.FEATURES)
    assert (arch2.params, arch2.train) == (configs.arch2(heads=2).params, configs.arch2(heads=2).train)
    assert arch2.features == configs.FEATURES
    # other widths keep the pattern of strides: the first block's, then the later blocks'
    assert parse("--arch", "conv1d", "--channels", "64,128,128").params["stride"] == (1, 2, 2)
    assert parse("--arch", "transformer", "--channels", "32,64,64,64").params["stride"] == (2, 1, 1, 1)
    changed = parse("--arch", "transformer", "--channels", "32,32,32,32", "--stride", "2", "--lr", "0.01")
    assert changed.params["channels"] == (32, 32, 32, 32) and changed.params["stride"] == 2 and changed.train.lr == 0.01
