"""audiolab.tracking: offline runs reach the files, disabled/failed runs are no-ops."""
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from audiolab import tracking  # noqa: E402
from audiolab.wandb_runs import find_runs, read_run  # noqa: E402

EPOCHS = [
    {"train_loss": 1.25, "train_acc": 0.5, "val_loss": 1.5, "val_acc": 0.4},
    {"train_loss": 0.75, "train_acc": 0.7, "val_loss": 1.0, "val_acc": 0.6},
    {"train_loss": 0.5, "train_acc": 0.875, "val_loss": 0.875, "val_acc": 0.65},
]
ENV = ("WANDB_MODE", "WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL", "NETRC")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tracking, "_online_failed", False)
    return tmp_path


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wb")
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", tracking.TrackingWarning)  # any W&B failure fails the test
        run = tracking.start_run(
            project="audiolab-test", name="conv1d-fold1", group="cv", job_type="cv",
            config={"lr": 0.001, "epochs": 3}, mode="offline", dir=root, tags=["test"],
        )
        assert run.enabled and run.mode == "offline"
        run.define_metric("val_*", step_metric="epoch")
        for epoch, metrics in enumerate(EPOCHS, start=1):
            run.log({"epoch": epoch, **metrics}, step=epoch)
        run.log_figure("confusion_matrix", fig)
        run.summary({"best_val_acc": 0.65, "test_acc": 0.7})
        run.finish()
    return root, run


def test_offline_run_writes_history_summary_and_media(offline_run):
    root, run = offline_run
    assert list((root / "wandb").glob("offline-run-*")) == [run.dir] == find_runs(root, name="conv1d-fold1")
    logged = read_run(run.dir, wait=20)
    assert logged.finished and logged.exit_code == 0
    assert (logged.name, logged.group, logged.job_type, logged.project) == ("conv1d-fold1", "cv", "cv", "audiolab-test")
    assert logged.config["lr"] == 0.001 and logged.config["epochs"] == 3

    assert logged.history["_step"].tolist() == [1, 2, 3]  # the figure joined the last epoch
    for (_, row), expected in zip(logged.history.iterrows(), EPOCHS):
        for key, value in expected.items():
            assert row[key] == pytest.approx(value)
    assert logged.media["confusion_matrix"]["_type"] == "image-file"
    assert list((run.dir / "files" / "media" / "images").glob("confusion_matrix_*.png"))

    # offline runs keep the summary only in the transaction log (wandb-summary.json is written on sync)
    assert logged.summary["best_val_acc"] == 0.65 and logged.summary["test_acc"] == 0.7
    assert logged.summary["train_loss"] == pytest.approx(0.5)


def test_define_metric_and_with_wandb_reach_the_real_run():
    calls = []

    class Recorder:
        def define_metric(self, name, step_metric=None, **options):
            calls.append(("define_metric", name, step_metric, options))

        def finish(self, exit_code=None):
            pass

    import wandb

    run = tracking.Run(Recorder(), mode="offline", wandb=wandb)
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("epoch", hidden=True)
    run.with_wandb("table", lambda module, raw: calls.append(("with_wandb", module, raw)))
    assert calls == [("define_metric", "val/*", "epoch", {}), ("define_metric", "epoch", None, {"hidden": True}),
                     ("with_wandb", wandb, run._run)]
    with pytest.warns(tracking.TrackingWarning, match="artifact failed .*ZeroDivisionError"):
        run.with_wandb("artifact", lambda module, raw: 1 / 0)  # swallowed like every W&B error
    run.finish()
    run.with_wandb("table", lambda module, raw: calls.append("after finish"))
    assert calls[-1] != "after finish"


def test_finished_run_ignores_further_calls(offline_run):
    _, run = offline_run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.log({"x": 1}, step=9)
        run.summary({"x": 1})
        run.finish()


def test_disabled_mode_is_a_noop_without_wandb(tmp_path):
    code = (
        "import sys; from audiolab import tracking\n"
        "run = tracking.start_run(mode='disabled', name='x', config={'a': 1})\n"
        "run.log({'loss': 1.0}, step=1); run.log_figure('f', None); run.summary({'a': 1}); run.finish()\n"
        "with tracking.start_run(mode='disabled') as r: r.log({'a': 2})\n"
        "assert not run.enabled and run.dir is None and run.mode == 'disabled'\n"
        "print('wandb' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"  # wandb never imported
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_failing_init_gives_noop_run_with_warning(clean_env, monkeypatch):
    import wandb

    def boom(*args, **kwargs):
        raise RuntimeError("server unreachable")

    monkeypatch.setattr(wandb, "init", boom)
    with pytest.warns(tracking.TrackingWarning, match="server unreachable"):
        run = tracking.start_run(name="x", mode="offline", dir=clean_env)
    assert not run.enabled and run.mode == "disabled"
    fig = Figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for epoch in range(3):
            run.log({"loss": 1.0 / (epoch + 1)}, step=epoch)
        run.log_figure("cm", fig)
        run.summary({"acc": 1.0})
        run.finish()


def test_failing_online_init_falls_back_to_offline_once(clean_env, monkeypatch):
    import wandb

    calls = []

    def online_down(*args, mode=None, **kwargs):
        calls.append(mode)
        raise ConnectionError("no route to host")

    monkeypatch.setattr(wandb, "init", online_down)
    with pytest.warns(tracking.TrackingWarning) as caught:
        run = tracking.start_run(name="x", mode="online", dir=clean_env)
    assert calls == ["online", "offline"] and not run.enabled
    assert any("offline" in str(w.message) for w in caught)
    calls.clear()
    with pytest.warns(tracking.TrackingWarning):
        tracking.start_run(name="y", mode="online", dir=clean_env)
    assert calls == ["offline"]  # the session remembers that online failed


class _BrokenRun:
    def log(self, *args, **kwargs):
        raise OSError("disk full")

    def finish(self, *args, **kwargs):
        raise OSError("disk full")


def test_log_converts_values():
    logged = []

    class Recorder:
        def log(self, data, step=None):
            logged.append((data, step))

    import numpy as np
    import torch
    import wandb

    table = wandb.Table(columns=["a"], data=[[1]])
    run = tracking.Run(Recorder(), mode="offline", wandb=wandb)
    run.log({"loss": torch.tensor(0.5), "acc": np.float32(0.25), "val_loss": None, "table": table}, step=np.int64(2))
    assert logged == [({"loss": 0.5, "acc": 0.25, "table": table}, 2)]
    assert type(logged[0][0]["acc"]) is float


def test_run_swallows_wandb_errors_and_warns_once():
    run = tracking.Run(_BrokenRun(), mode="offline")
    with pytest.warns(tracking.TrackingWarning, match="disk full") as caught:
        run.log({"loss": 1.0}, step=1)
        run.log({"loss": 0.5}, step=2)
        run.finish()
    assert len(caught) == 1


def test_context_manager_marks_failure_and_reraises():
    finished = []

    class Recorder:
        def finish(self, exit_code=None):
            finished.append(exit_code)

    with pytest.raises(KeyError):
        with tracking.Run(Recorder(), mode="offline"):
            raise KeyError("boom")
    assert finished == [1]


def test_resolve_mode_precedence(clean_env, monkeypatch):
    home = clean_env
    assert tracking.resolve_mode() == "offline"  # no key anywhere
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert tracking.resolve_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert tracking.resolve_mode() == "disabled"  # env beats the key
    assert tracking.resolve_mode("offline") == "offline"  # explicit beats env
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert tracking.resolve_mode() == "offline"
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(ValueError, match="WANDB_MODE"):
        tracking.resolve_mode()
    with pytest.raises(ValueError, match="online, offline, disabled"):
        tracking.resolve_mode("cloud")

    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY")
    (home / ".netrc").write_text("machine example.com login me password secret\n")
    assert tracking.resolve_mode() == "offline"  # netrc without a W&B entry
    (home / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    assert tracking.resolve_mode() == "online"  # as written by `wandb login`
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.my-university.edu")
    assert tracking.resolve_mode() == "offline"  # key is for another host
