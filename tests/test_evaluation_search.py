"""audiolab.evaluation.search: trials scored on validation folds, never on the test fold; stored and resumed."""
import importlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from audiolab.evaluation import ResultsStore, best_experiment, chosen_trial, run_trial, search, search_trials
from audiolab.evaluation.search import TRIAL_ARTIFACT, search_splits
from audiolab import tracking

from _tiny import ARCH1, CountingFit, features, meta  # noqa: F401 (fixtures)
import _wandb

search_module = importlib.import_module("audiolab.evaluation.search")  # (the package's `search` is the function)

SPACE = {"train.lr": [1e-3, 3e-3], "model.kernel_size": [3, 5]}


def run_search(meta, features, store, space=SPACE, **kwargs):
    return search(ARCH1, space, meta, features, store, **kwargs)


def _contains_any(seen, clips):
    return (seen[:, None] == clips[None]).flatten(2).all(-1).any()


def test_search_never_sees_the_test_fold(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    table = run_search(meta, features, tmp_path, n_trials=3)
    assert len(fit.calls) == 6 and len(table) == 3
    folds = meta["fold"].to_numpy()
    for call, v in zip(fit.calls, [3, 4] * 3):
        assert not _contains_any(call["x_train"], features[folds == 5]), "a test-fold clip reached the training"
        assert not _contains_any(call["x_eval"], features[folds == 5]), "a test-fold clip was scored"
        assert len(call["x_train"]) == 30 and torch.equal(call["x_eval"], features[folds == v])


def test_the_table_is_ranked_and_starts_from_the_base(meta, features, tmp_path):
    table = run_search(meta, features, tmp_path, n_trials=3)
    assert list(table.columns) == ["trial", "train.lr", "model.kernel_size", "val_accuracy", "val_macro_f1", "val_auc",
                                   "val_clips", "val_folds", "test_fold", "params_trainable", "seconds", "key"]
    assert table["val_accuracy"].is_monotonic_decreasing and set(table["val_clips"]) == {20}
    assert set(table["val_folds"]) == {"3,4"} and set(table["test_fold"]) == {5}  # what the guard of chosen_trial reads
    base_row = table[table["trial"] == 0].iloc[0]  # the base configuration is a trial
    assert (base_row["train.lr"], base_row["model.kernel_size"]) == (ARCH1.train.lr, 3)
    assert base_row["key"] == ARCH1.key()
    out = tmp_path / "arch1" / "search"
    assert list(pd.read_csv(out / "trials.csv")["key"]) == list(table["key"])
    assert sorted(p.name for p in out.glob("trial-*.json")) == sorted(f"trial-{k}.json" for k in table["key"])
    stored = json.loads((out / f"trial-{ARCH1.key()}.json").read_text())
    assert stored["values"] == {"train.lr": ARCH1.train.lr, "model.kernel_size": 3} and stored["test_fold"] == 5


def test_a_rerun_resumes_from_disk(meta, features, tmp_path, monkeypatch):
    table = run_search(meta, features, tmp_path, n_trials=3)
    fit = CountingFit(monkeypatch)
    again = run_search(meta, features, tmp_path, n_trials=3)
    assert fit.calls == []
    pd.testing.assert_frame_equal(again, table)


def test_a_stale_trial_is_retrained_and_said_once(meta, features, tmp_path, monkeypatch, caplog):
    run_search(meta, features, tmp_path, n_trials=2)
    [path] = [p for p in (tmp_path / "arch1" / "search").glob("trial-*.json") if json.loads(p.read_text())["trial"] == 1]
    path.write_text(json.dumps({**json.loads(path.read_text()), "data": "other clips"}))
    fit = CountingFit(monkeypatch)
    with caplog.at_level("WARNING", logger="audiolab"):
        run_search(meta, features, tmp_path, n_trials=2)
    assert len(fit.calls) == 2 and caplog.text.count(f"{path} was computed on other clips") == 1


def test_the_chosen_trial_becomes_an_experiment(meta, features, tmp_path):
    table = run_search(meta, features, tmp_path, n_trials=3)
    on_disk = pd.read_csv(tmp_path / "arch1" / "search" / "trials.csv")
    best, top = best_experiment(ARCH1, on_disk, name="arch1-tuned"), chosen_trial(table)
    assert best.name == "arch1-tuned" and best.train.lr == top["train.lr"] and best.train.epochs == 2
    assert best.model.kernel_size == top["model.kernel_size"] and isinstance(best.model.kernel_size, int)


def test_two_validation_folds_are_pooled(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    table = run_search(meta, features, tmp_path, space={"train.lr": [1e-3, 3e-3]}, n_trials=2)
    assert len(fit.calls) == 4 and len(table) == 2  # two trials x two validation folds
    folds = meta["fold"].to_numpy()
    assert set(table["val_clips"]) == {int(np.isin(folds, [3, 4]).sum())}  # what the standard error is computed on
    for call, v in zip(fit.calls, [3, 4, 3, 4]):
        assert torch.equal(call["x_eval"], features[folds == v])
        assert torch.equal(call["x_train"], features[np.isin(folds, [f for f in (1, 2, 3, 4) if f != v])])
    stored = json.loads(next((tmp_path / "arch1" / "search").glob("trial-*.json")).read_text())
    assert stored["val_folds"] == [3, 4] and stored["metrics"]["n"] == int(np.isin(folds, [3, 4]).sum())
    assert [r["val_fold"] for r in stored["per_fold"]] == [3, 4] and set(table["val_folds"]) == {"3,4"}


def test_a_trial_run_on_its_own_is_reused_by_the_search(meta, features, tmp_path, monkeypatch):
    alone = run_trial(ARCH1, {"train.lr": 1e-3}, meta, features, tmp_path)
    assert alone["key"] == ARCH1.replace({"train.lr": 1e-3}).key() and alone["test_fold"] == 5
    assert (tmp_path / "arch1" / "search" / f"trial-{alone['key']}.json").is_file()
    fit = CountingFit(monkeypatch)
    table = run_search(meta, features, tmp_path, space={"train.lr": [3e-3, 1e-3]}, n_trials=2)
    assert len(fit.calls) == 2 and all(c["config"].lr == 3e-3 for c in fit.calls)  # only the other trial trains
    row = table[table["train.lr"] == 1e-3].iloc[0]
    assert row["key"] == alone["key"] and row["val_accuracy"] == alone["metrics"]["accuracy"]


def test_a_trial_is_one_run_logging_every_epoch_of_its_folds_then_its_file(meta, features, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(tracking, "start_run", _wandb.Recorder.start(runs))
    store = ResultsStore(tmp_path / "results")
    trial = run_trial(ARCH1, {"train.lr": 1e-3}, meta, features, store, index=1)
    [run] = runs  # one run for the trial, not one per validation fold
    assert (run.init["name"], run.init["group"], run.init["job_type"]) == ("arch1-trial1", "arch1-search", "search")
    assert run.init["config"]["key"] == trial["key"] and run.init["config"]["val_folds"] == [3, 4]
    epochs = [row for row in run.logged if "epoch" in row]
    assert [(e["fold"], e["epoch"]) for e in epochs] == [(3, 1), (3, 2), (4, 1), (4, 2)]
    per_epoch = [row["val_acc"] for fold in trial["per_fold"] for row in fold["history"]]
    assert [e["val/accuracy"] for e in epochs] == pytest.approx(per_epoch)
    assert run.summary["val/accuracy"] == pytest.approx(trial["metrics"]["accuracy"])  # pooled, not the last epoch
    charts = run.logged[-1]
    assert {"val/confusion_matrix", "val/roc", "val/predictions"} == set(charts)
    assert len(charts["val/predictions"].data) == trial["metrics"]["n"] == 20
    [artifact] = run.artifacts
    relative = store.trial_path("arch1", trial["key"]).relative_to(store.root).as_posix()
    assert artifact.type == TRIAL_ARTIFACT and list(artifact.manifest.entries) == [relative]

    run_trial(ARCH1, {"train.lr": 1e-3}, meta, features, store, index=1)  # reused: no run
    assert len(runs) == 1
    run_trial(ARCH1, {"train.lr": 1e-3}, meta, features, store, index=1, log_reused=True)  # as under a sweep agent
    reused = runs[-1]
    assert len(runs) == 2 and reused.logged == [] and reused.summary["val/accuracy"] == run.summary["val/accuracy"]
    assert list(reused.artifacts[0].manifest.entries) == [relative]


def test_a_trial_stored_for_other_validation_folds_is_retrained(meta, features, tmp_path, monkeypatch):
    with monkeypatch.context() as changed:
        changed.setattr(search_module, "SEARCH_VAL_FOLDS", (4,))
        run_trial(ARCH1, {}, meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    again = run_trial(ARCH1, {}, meta, features, tmp_path)
    assert len(fit.calls) == 2 and again["val_folds"] == [3, 4]


@pytest.mark.parametrize("val_folds, drop", [((4, 5), None), ((3, 4), 3), ((3, 4), 5)])
def test_validation_and_test_folds_must_be_different_folds_of_the_table(meta, monkeypatch, val_folds, drop):
    monkeypatch.setattr(search_module, "SEARCH_VAL_FOLDS", val_folds)
    with pytest.raises(ValueError, match="test fold"):
        search_splits(meta[meta["fold"] != drop])


def test_splits_leave_the_test_fold_out(meta):
    for v, train, val in search_splits(meta):
        assert set(meta["fold"].iloc[train]) == {1, 2, 3, 4} - {v} and set(meta["fold"].iloc[val]) == {v}


def test_search_trials_covers_a_small_grid_base_first():
    outside = ARCH1.replace({"train.lr": 1e-2})  # the base is not a grid point: base + the 4 grid points
    grid = search_trials(outside, SPACE, n_trials=8)
    assert len(grid) == 5 and grid[0] == {"train.lr": 1e-2, "model.kernel_size": 3}
    assert len({json.dumps(t, sort_keys=True) for t in grid}) == 5
    inside = search_trials(ARCH1, SPACE, n_trials=8)  # base (lr 3e-3, kernel 3) is a grid point: not repeated
    assert len(inside) == 4 and inside[0] == {"train.lr": ARCH1.train.lr, "model.kernel_size": 3}
    assert len(search_trials(outside, SPACE, n_trials=4)) == 4  # grid + base > n_trials: random draws


def test_search_trials_draws_a_large_grid_deterministically():
    big = {"train.lr": [1e-4, 3e-4, 1e-3, 3e-3], "model.kernel_size": [3, 5, 7],
           "model.channels": [(8,), (8, 8), (8, 8, 8)]}
    a = search_trials(ARCH1, big, n_trials=6, seed=1)
    assert len(a) == 6 and a[0] == {"train.lr": ARCH1.train.lr, "model.kernel_size": 3, "model.channels": (8, 8, 8)}
    assert len({json.dumps(t, sort_keys=True) for t in a}) == 6
    assert a == search_trials(ARCH1, big, n_trials=6, seed=1) and a != search_trials(ARCH1, big, n_trials=6, seed=2)


def test_field_names_without_a_section_work_too():
    assert search_trials(ARCH1, {"lr": [3e-3, 1e-3]}, n_trials=2) == [{"lr": 3e-3}, {"lr": 1e-3}]


@pytest.mark.parametrize("space, n_trials, message", [
    ({"learning_rate": [1e-3]}, 8, r"'learning_rate' is not a field of any section.*train\.lr"),
    ({"model.heads": [2]}, 8, "ConvConfig has no field 'heads'"),
    ({"model.kernel_size": [0]}, 8, "bad model values"),
    ({"train.lr": []}, 8, "has no values"),
    ({}, 8, "empty"),
    (SPACE, 0, "n_trials"),
])
def test_bad_spaces_fail_before_any_training(space, n_trials, message):
    with pytest.raises(ValueError, match=message):
        search_trials(ARCH1, space, n_trials=n_trials)


def test_search_refuses_to_validate_on_the_test_fold(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    monkeypatch.setattr(search_module, "SEARCH_VAL_FOLDS", (4, 5))
    with pytest.raises(ValueError, match="test fold"):
        run_search(meta, features, tmp_path, space={"train.lr": [1e-3]})
    assert fit.calls == [] and not (tmp_path / "arch1").exists()
