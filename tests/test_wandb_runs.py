"""audiolab.wandb_runs: offline runs found by name and group, newest first, and read back from their files."""
import warnings

import pytest

from audiolab import tracking
from audiolab.wandb_runs import find_runs, read_records, read_run

import _wandb

offline_wandb = _wandb.offline_wandb  # the fixture


def _run(root, name, group, losses, **extra):
    with warnings.catch_warnings():
        warnings.simplefilter("error", tracking.TrackingWarning)
        run = tracking.start_run(project="audiolab-test", name=name, group=group, job_type="cv", mode="offline",
                                 dir=root, config={"model": {"channels": [8, 8]}, "lr": 0.01})
        run.define_metric("epoch", hidden=True)
        run.define_metric("train/*", step_metric="epoch")
        for epoch, loss in enumerate(losses, 1):
            run.log({"epoch": epoch, "train/loss": loss}, step=epoch)
        run.with_wandb("table", lambda wandb, raw: raw.log(
            {"test/predictions": wandb.Table(columns=["filename", "correct"], data=[["a.ogg", True], ["b.ogg", False]])},
            step=len(losses)))
        run.summary({"test/accuracy": 0.5, **extra})
        run.finish()
    return run


def test_a_run_reads_back_as_history_summary_config_and_tables(offline_wandb):
    run = _run(offline_wandb, "one", "g", [1.5, 1.0, 0.5])
    logged = read_run(run.dir)  # just finished: waits for the end of the file by itself
    assert logged.finished and logged.exit_code == 0 and logged.id == run.id and logged.path == run.dir
    assert logged.history.index.tolist() == [1, 2, 3]  # one row per step
    assert logged.history["epoch"].tolist() == [1, 2, 3] and logged.history["train/loss"].tolist() == [1.5, 1.0, 0.5]
    assert "test/predictions" not in logged.history  # media are not history columns
    assert logged.summary["test/accuracy"] == 0.5 and logged.summary["train/loss"] == 0.5
    assert logged.config == {"model": {"channels": [8, 8]}, "lr": 0.01}  # W&B's own "_wandb" entry left out
    assert logged.metrics["train/*"] == {"step_metric": "epoch", "hidden": False}
    assert logged.metrics["epoch"]["hidden"] is True
    assert set(logged.tables) == {"test/predictions"} and logged.plots == [] and logged.artifacts == []
    table = logged.table("test/predictions")
    assert table.to_dict("list") == {"filename": ["a.ogg", "b.ogg"], "correct": [True, False]}
    with pytest.raises(KeyError, match="logged no table 'test/roc'; its tables: \\['test/predictions'\\]"):
        logged.table("test/roc")
    with pytest.raises(KeyError, match="no artifact of type 'cv-fold'"):
        logged.artifact("cv-fold")


def test_find_runs_filters_by_name_and_group_newest_first(offline_wandb):
    first = _run(offline_wandb, "a", "g1", [1.0])
    second = _run(offline_wandb, "b", "g2", [1.0])
    third = _run(offline_wandb, "a", "g2", [1.0])
    assert find_runs(offline_wandb) == [third.dir, second.dir, first.dir]
    assert find_runs(offline_wandb / "wandb", name="a") == [third.dir, first.dir]  # the wandb/ folder itself works too
    assert find_runs(offline_wandb, group="g2") == [third.dir, second.dir]
    assert find_runs(offline_wandb, name="a", group="g1", job_type="cv") == [first.dir]
    assert find_runs(offline_wandb, name="c") == [] and find_runs(offline_wandb, job_type="search") == []


def test_a_run_cut_short_reads_up_to_its_last_complete_record(offline_wandb, tmp_path):
    run = _run(offline_wandb, "cut", "g", [3.0, 2.0, 1.0])
    read_run(run.dir, wait=20)  # the whole file is on disk
    (log,) = run.dir.glob("run-*.wandb")
    data = log.read_bytes()
    cut = tmp_path / "cut" / log.name
    cut.parent.mkdir()
    whole = list(read_records(log))
    for size in (len(data) - 5, len(data) // 2):
        cut.write_bytes(data[:size])
        records = list(read_records(cut))
        assert 0 < len(records) < len(whole)
        assert [r.SerializeToString() for r in records] == [r.SerializeToString() for r in whole[:len(records)]]
    logged = read_run(cut.parent, wait=0)
    assert not logged.finished and logged.exit_code is None and logged.name == "cut"


def test_what_is_not_a_run_is_refused_with_a_reason(tmp_path):
    with pytest.raises(FileNotFoundError, match="no W&B folder at"):
        find_runs(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="holds no run-\\*.wandb file"):
        read_run(tmp_path)
    (tmp_path / "run-x.wandb").write_bytes(b"not a log at all")
    with pytest.raises(ValueError, match="is not a W&B transaction log"):
        read_run(tmp_path / "run-x.wandb")
