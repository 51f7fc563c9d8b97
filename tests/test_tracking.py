"""audiolab.tracking: W&B's own modes and variables decide where runs go; a run that cannot start is W&B's
disabled run; logging errors are warnings; what a run holds under which names."""
from types import SimpleNamespace
import numpy as np
import pandas as pd
import pytest

from audiolab import tracking

import _wandb

offline_wandb = _wandb.offline_wandb  # the fixture


@pytest.fixture
def logged_out(monkeypatch, tmp_path):
    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    modes = []
    monkeypatch.setattr(tracking.wandb, "init", lambda mode, **init: modes.append(mode) or SimpleNamespace(finish=lambda **_: None))
    return modes


def test_the_mode_is_wandb_mode_else_online_when_logged_in_else_offline(logged_out, monkeypatch, tmp_path):
    with tracking.start_run(name="a"):
        pass
    (tmp_path / ".netrc").write_text("machine api.wandb.ai login user password " + "k" * 40 + "\n")
    (tmp_path / ".netrc").chmod(0o600)
    with tracking.start_run(name="b"):
        pass
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with tracking.start_run(name="c"):
        pass
    assert logged_out == ["offline", "online", "disabled"]


def test_a_run_that_cannot_start_is_wandbs_disabled_run(monkeypatch):
    real = tracking.wandb.init
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(tracking.wandb, "init", lambda mode, **init: real(mode="disabled") if mode == "disabled" else
                        1 / 0)
    with pytest.warns(tracking.TrackingWarning, match="ZeroDivisionError.*training continues"), \
            tracking.start_run(name="x") as run:  # every call does nothing
        assert run.disabled
        tracking.log_epoch(run, {"epoch": 1, "train_loss": 1.0}, "val")
        tracking.log_result(run, "val", {"accuracy": 0.5, "macro_f1": 0.5, "auc_macro_ovr": 0.5}, {"trainable": 3})


def test_epochs_get_names_that_say_what_they_measure():
    run = _wandb.Recorder()
    tracking.log_epoch(run, {"epoch": 2, "lr": 0.1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 2.0,
                             "val_acc": 0.25, "seconds": 3.0}, "val", fold=4)
    assert run.logged == [{"epoch": 2, "train/lr": 0.1, "train/loss": 1.0, "train/accuracy": 0.5, "val/loss": 2.0,
                           "val/accuracy": 0.25, "train/epoch_seconds": 3.0, "fold": 4}]


def test_logging_errors_are_a_warning_and_training_goes_on():
    class Broken(_wandb.Recorder):
        def log(self, values):
            raise OSError("disk full")

    with pytest.warns(tracking.TrackingWarning, match="W&B log failed .*disk full"):
        tracking.log_epoch(Broken(), {"epoch": 1}, "test")


def test_the_prediction_table_has_one_row_per_clip():
    clips = pd.DataFrame({"filename": ["a.ogg", "b.ogg"], "fold": [5, 5]})
    table = tracking.predictions_frame(clips, np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]), ["dog", "rain"])
    assert table["predicted"].tolist() == ["dog", "dog"] and table["correct"].tolist() == [True, False]
    assert table["confidence"].tolist() == [0.9, 0.8] and table["p_true"].tolist() == [0.9, 0.2]


def test_an_offline_run_lands_in_wandb_dir_with_its_summary_charts_and_artifact(offline_wandb, tmp_path):
    (tmp_path / "r" / "x").mkdir(parents=True)
    (tmp_path / "r" / "x" / "f.json").write_text("{}")
    with tracking.start_run(name="demo") as run:
        assert run.settings.mode == "offline"
        tracking.log_epoch(run, {"epoch": 1, "train_loss": 1.0, "test_acc": 0.5}, "test")
        tracking.log_result(run, "test", {"accuracy": 0.5, "macro_f1": 0.4, "auc_macro_ovr": 0.6}, {"trainable": 7},
                            np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]), ["dog", "rain"],
                            pd.DataFrame({"filename": ["a", "b"], "fold": [1, 1]}))
        tracking.log_files(run, "x-cv-fold1", "cv-fold", tmp_path / "r", [tmp_path / "r" / "x" / "f.json"])
        assert run.summary["test/accuracy"] == 0.5 and run.summary["params/trainable"] == 7
    [folder] = (offline_wandb / "wandb").glob("offline-run-*")
    assert list(folder.glob("run-*.wandb"))
    assert {p.name.split("_")[0] for p in folder.glob("files/media/table/test/*.table.json")} == {
        "confusion", "roc", "predictions"}


def test_wandb_is_imported_by_tracking_and_sweep_collection_only():
    from pathlib import Path

    package = Path(tracking.__file__).parent
    importers = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py")
                       if any(line.strip().startswith(("import wandb", "from wandb")) for line in p.read_text().splitlines()))
    assert importers == ["sweeps.py", "tracking.py"]
