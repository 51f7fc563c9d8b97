"""`audiolab train`: cross-validation and search trials from the command line, JSON results, clear errors."""
import json

import numpy as np
import pytest
import torch

from audiolab import configs, tracking
from audiolab.cli import build_parser, experiment_from_args, main
from audiolab.data import load_features, load_metadata
from audiolab.evaluation import ResultsStore, cv, search
from audiolab.sweeps import SWEEP_METRIC

from _tiny import CountingFit
from _wandb import Recorder

TINY = ["--epochs", "2", "model.channels=8,8,8", "model.kernel_size=3", "train.batch_size=16"]


def train(root, out, *extra):
    return main(["train", "--root", str(root), "--out", str(out), "--wandb", "disabled", *extra])


def parse(*args):
    return experiment_from_args(build_parser().parse_args(["train", "--out", "r.json", *args]))


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
    assert result["train_seconds_total"] > 0 and result["experiment"]["model"]["channels"] == [8, 8, 8]
    assert result["experiment"]["train"]["epochs"] == 2 and result["experiment"]["train"]["batch_size"] == 16
    assert (tmp_path / "arch1_runs" / "tiny" / "cv" / "fold2.json").is_file()

    calls = []
    monkeypatch.setattr(cv, "fit_cohort", lambda *a, **k: calls.append(1))
    assert train(synthetic_esc10, out, "--arch", "conv1d", "--folds", "1,2", "--name", "tiny", *TINY) == 0
    assert calls == [] and json.loads(out.read_text())["folds"] == result["folds"]


def test_transformer_options_and_default_name(synthetic_esc10, tmp_path):
    out = tmp_path / "arch2.json"
    code = train(synthetic_esc10, out, "--arch", "transformer", "--folds", "3", *TINY, "model.heads=2", "model.d_model=16",
                 "model.depth=1")
    assert code == 0
    result = json.loads(out.read_text())
    model = result["experiment"]["model"]
    assert (model["heads"], model["d_model"], model["depth"]) == (2, 16, 1)
    assert result["name"].startswith("arch2-") and result["name"][6:] == result["key"][:8]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "conv1d", "heads=2"], "'heads' is not a field of any section"),
        (["--arch", "transformer", "model.heads=3", "model.d_model=16"], "divisible"),
        (["--arch", "conv1d", "model.channels=8,x"], "model.channels takes Sequence[int], got '8,x'"),
        (["--arch", "conv1d", "model.stride=0"], "stride must be >= 1"),
        (["--arch", "conv1d", "model.channels=8,8,8", "model.stride=2,1"], "one stride per entry of channels"),
        (["--arch", "conv1d", "--folds", "7"], "fold(s) [7] not in the table"),
        (["--arch", "conv1d", "--name", "a/b"], "without slashes"),
        (["--arch", "conv1d", "train.lr"], "overrides look like KEY=VALUE"),
        (["--arch", "conv1d", "optim.lr=0.1"], "unknown section 'optim'"),
        (["--arch", "conv1d", "model.heads=2"], "ConvConfig has no field 'heads'"),
        (["--arch", "conv1d", "train.lr=fast"], "train.lr takes a number, got 'fast'"),
        (["--arch", "conv1d", "train.seed=../"], "train.seed takes an integer, got '../'"),
        (["--arch", "conv1d", "--name", ".."], "not starting with a dot"),
        (["--arch", "conv1d", "--name", "x" * 300], "1-100 letters"),
        (["--arch", "conv1d", "--out", "r.csv"], "--out should name a .json file"),
    ],
)
def test_user_errors_exit_2_with_a_message(synthetic_esc10, tmp_path, capsys, args, message):
    assert train(synthetic_esc10, tmp_path / "r.json", *args) == 2
    err = capsys.readouterr().err
    assert "audiolab train: error:" in err and message in err
    assert not (tmp_path / "r.json").exists()


def test_a_bad_number_of_workers_exits_2(synthetic_esc10, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIOLAB_WORKERS", "many")
    assert train(synthetic_esc10, tmp_path / "r.json", "--arch", "conv1d") == 2
    assert "audiolab train: error: $AUDIOLAB_WORKERS='many'" in capsys.readouterr().err
    monkeypatch.setenv("AUDIOLAB_WORKERS", "1")
    monkeypatch.setenv("AUDIOLAB_COHORT", "0")
    assert train(synthetic_esc10, tmp_path / "r.json", "--arch", "conv1d") == 2
    assert "audiolab train: error: $AUDIOLAB_COHORT='0'" in capsys.readouterr().err


def test_results_that_are_a_file_exit_2_before_training(synthetic_esc10, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("mine")
    fit = CountingFit(monkeypatch)
    assert train(synthetic_esc10, tmp_path / "r.json", "--arch", "conv1d", "--results", str(tmp_path / "file")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("audiolab train: error:") and "file" in err and fit.calls == []
    assert (tmp_path / "file").read_text() == "mine"


def test_missing_dataset_exits_2(tmp_path, capsys):
    assert train(tmp_path / "nowhere", tmp_path / "r.json", "--arch", "conv1d") == 2
    err = capsys.readouterr().err
    assert "audiolab train: error:" in err and "does not exist" in err


def test_a_second_training_of_the_same_name_exits_2_and_a_dead_holder_does_not_block(synthetic_esc10, tmp_path, capsys):
    import subprocess
    import sys

    folder = tmp_path / "r_runs" / "tiny"
    folder.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)", str(folder)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ("--arch", "conv1d", "--folds", "1", "--name", "tiny", *TINY)
        assert train(synthetic_esc10, tmp_path / "r.json", *args) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]  # (after the partial dataset's warning)
        assert err.startswith("audiolab train: error: another process is training 'tiny'") and "Traceback" not in err
        assert not (folder / "cv").exists()
    finally:
        holder.kill()
        holder.wait()
    assert train(synthetic_esc10, tmp_path / "r.json", *args) == 0  # the lock died with its process


SWEEP_TRIAL = ["--arch=conv1d", "--protocol=search", "--name=arch1", "--epochs=2",
               "train.lr=0.001", "train.batch_size=16", "model.kernel_size=3", "model.channels=8,8,8", "model.stride=1"]


def test_under_a_sweep_agent_the_trial_is_one_run_started_before_training(synthetic_esc10, tmp_path, monkeypatch):
    events, started = [], []
    monkeypatch.setattr(tracking, "start_run", lambda **init: events.append("start") or Recorder.start(started)(**init))
    fit = cv.fit_cohort
    monkeypatch.setattr(cv, "fit_cohort", lambda *a, **k: events.append("fit") or fit(*a, **k))
    monkeypatch.setenv("WANDB_SWEEP_ID", "abc123")
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "sweep.json"
    # how a sweep agent calls it (sweeps/*.yaml): ${args_no_hyphens} gives dotted KEY=VALUE overrides
    code = main(["train", "--root", str(synthetic_esc10), "--out", str(out), f"--results={tmp_path / 'runs'}",
                 *SWEEP_TRIAL])
    assert code == 0
    [run] = started  # one run per trial: under an agent, the agent's run; no per-fold runs to fight it
    assert events == ["start", "fit"] and run.finished == "finished" and run.init["job_type"] == "search"
    epochs = [row for row in run.logged if "epoch" in row]  # every epoch as it ends, folds 3 then 4
    assert [(e["fold"], e["epoch"]) for e in epochs] == [(3, 1), (3, 2), (4, 1), (4, 2)]
    result = json.loads(out.read_text())
    assert result["protocol"] == "search" and result["val_folds"] == [3, 4] and result["test_fold"] == 5
    assert run.summary[SWEEP_METRIC] == pytest.approx(result["val_accuracy"])
    assert result["experiment"]["train"]["lr"] == 0.001 and result["experiment"]["model"]["stride"] == 1

    # the agent picks the same configuration again: nothing trains, but its run still reports the metric
    events.clear(), started.clear()
    assert main(["train", "--root", str(synthetic_esc10), "--out", str(out), f"--results={tmp_path / 'runs'}",
                 *SWEEP_TRIAL]) == 0
    [again] = started
    assert events == ["start"] and again.finished and again.logged == []
    assert again.summary[SWEEP_METRIC] == pytest.approx(result["val_accuracy"])


def test_under_a_sweep_agent_only_search_trials_run(synthetic_esc10, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_SWEEP_ID", "abc123")
    assert train(synthetic_esc10, tmp_path / "r.json", "--arch", "conv1d", "--folds", "1", *TINY) == 2
    assert "under a W&B sweep agent ($WANDB_SWEEP_ID is set) run --protocol search, not official" in capsys.readouterr().err


def _search_trial(root, out, *extra):
    return train(root, out, "--arch", "conv1d", "--protocol", "search", "--results", str(out.parent / "runs"),
                 *TINY, *extra)


def test_a_search_trial_never_trains_on_or_scores_the_test_fold(synthetic_esc10, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    assert _search_trial(synthetic_esc10, tmp_path / "trial.json") == 0
    meta = load_metadata(synthetic_esc10, strict=False)
    folds, features = meta["fold"].to_numpy(), load_features(meta, configs.FEATURES)
    assert len(fit.calls) == 2  # one model per validation fold, 3 and 4
    for call, v in zip(fit.calls, (3, 4)):
        assert torch.equal(call["x_eval"], features[folds == v]) and call["eval_name"] == "val"
        assert torch.equal(call["x_train"], features[np.isin(folds, [f for f in (1, 2, 3, 4) if f != v])])
        assert not (call["x_train"][:, None] == features[folds == 5][None]).flatten(2).all(-1).any()


def test_a_search_trial_from_the_command_line_is_reused_by_the_search(synthetic_esc10, tmp_path, monkeypatch):
    out = tmp_path / "trial.json"
    assert _search_trial(synthetic_esc10, out, "train.lr=0.001") == 0  # no --name: the notebooks' "arch1"
    result = json.loads(out.read_text())
    assert result["name"] == "arch1" and result["protocol"] == "search"
    assert result["trial_file"] == str(ResultsStore(tmp_path / "runs").trial_path("arch1", result["key"]))

    base = experiment_from_args(build_parser().parse_args(["train", "--out", "x.json", "--arch", "conv1d",
                                                           "--protocol", "search", *TINY]))
    assert base.name == "arch1" and base.train.lr != 0.001
    meta = load_metadata(synthetic_esc10, strict=False)
    features = load_features(meta, base.features)
    fit = CountingFit(monkeypatch)
    table = search(base, {"train.lr": [0.001]}, meta, features, tmp_path / "runs")  # trials: the base (trial 0), then lr 0.001 (trial 1)
    assert len(fit.calls) == 2 and all(c["config"].lr == base.train.lr for c in fit.calls)  # only trial 0 trains
    row = table.set_index("trial").loc[1]
    assert row["key"] == result["key"] and row["val_accuracy"] == result["val_accuracy"]


def test_the_development_protocol_never_scores_the_test_fold(synthetic_esc10, tmp_path):
    out = tmp_path / "dev.json"
    assert train(synthetic_esc10, out, "--arch", "conv1d", "--protocol", "development", "--name", "tiny", *TINY) == 0
    result = json.loads(out.read_text())
    assert result["protocol"] == "dev-cv" and [f["fold"] for f in result["folds"]] == [1, 2, 3, 4]
    runs = tmp_path / "dev_runs" / "tiny"
    assert result["results_dir"] == str(runs / "dev-cv") and (runs / "dev-cv" / "summary.json").is_file()
    assert not (runs / "cv").exists() and not (runs / "dev-cv" / "fold5.json").exists()


def test_defaults_are_the_kits_configurations():
    arch1, arch2 = parse("--arch", "conv1d"), parse("--arch", "transformer", "model.heads=2")
    assert (arch1.model, arch1.train, arch1.features, arch1.augment) == (
        configs.arch1().model, configs.arch1().train, configs.FEATURES, configs.arch1().augment)
    assert (arch2.model, arch2.train) == (configs.arch2(heads=2).model, configs.arch2(heads=2).train)
    assert arch2.features == configs.FEATURES and parse("--arch", "transformer").model.heads == max(configs.HEADS)


def test_other_widths_keep_the_pattern_of_strides():
    # the first block's stride, then the later blocks'
    assert parse("--arch", "conv1d", "model.channels=64,128,128").model.stride == (1, 2, 2)
    assert parse("--arch", "transformer", "model.channels=32,64,64,64").model.stride == (2, 1, 1, 1)
    assert parse("--arch", "conv1d", "model.channels=(64, 64)").model.stride == (1, 2)
    assert parse("--arch", "conv1d", "model.channels=64").model.channels == (64,)  # one block
    changed = parse("--arch", "transformer", "model.channels=32,32,32,32", "model.stride=2", "train.lr=0.01")
    assert changed.model.channels == (32, 32, 32, 32) and changed.model.stride == 2 and changed.train.lr == 0.01


def test_epochs_is_a_shortcut_for_its_override():
    assert parse("--arch", "conv1d", "--epochs", "7").key() == parse("--arch", "conv1d", "train.epochs=7").key()
    assert parse("--arch", "conv1d").train.epochs == configs.arch1().train.epochs


def test_positional_overrides_reach_every_section():
    exp = parse("--arch", "transformer", "augment.mixup=false", "features.floor_db=none", "train.grad_clip=1",
                "model.d_model=32", "heads=2")
    assert exp.augment.mixup is False and exp.features.floor_db is None and exp.train.grad_clip == 1
    assert (exp.model.d_model, exp.model.heads) == (32, 2) and exp.description == "audiolab train"


@pytest.mark.parametrize("full", ["results", "out"])
def test_a_full_disk_is_one_line_naming_the_file(synthetic_esc10, tmp_path, capsys, monkeypatch, full):
    """A full results (or --out) disk used to end in a bare OSError naming no path (#20 item 9)."""
    import builtins
    import errno

    real_open = builtins.open
    where = tmp_path / full

    def open_on_full_disk(file, mode="r", *args, **kwargs):
        if "x" in mode and str(file).startswith(str(where)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_on_full_disk)
    code = train(synthetic_esc10, tmp_path / "out" / "r.json", "--results", str(tmp_path / "results"),
                 "--arch", "conv1d", "--folds", "1,2", *TINY)
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and "Traceback" not in err
    assert "No space left on device" in line and str(where) in err and "free space" in err
