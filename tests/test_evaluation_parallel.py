"""Trainings side by side ($AUDIOLAB_WORKERS, joblib processes of one torch thread) give what one process gives."""
import os

import numpy as np
import pandas as pd
import pytest
import torch
from joblib import Parallel, delayed

from audiolab._util import read_json
from audiolab.evaluation import ResultsStore, cross_validate, cv, search

from _tiny import ARCH1, features, meta  # noqa: F401 (fixtures)


def test_cohorts_hold_the_models_that_can_train_together(monkeypatch):
    a, b = ARCH1, ARCH1.replace({"train.seed": 1}, name="other-seed")
    wider = ARCH1.replace({"model.channels": (8, 8, 16)}, name="wider")
    idx, short = np.arange(8), np.arange(7)
    jobs = [cv.Job(a, idx, idx, 1), cv.Job(wider, idx, idx, 1), cv.Job(b, idx, idx, 1), cv.Job(a, short, idx, 2)]
    assert [[j.exp.name for j in c] for c in cv.cohorts(jobs)] == [["arch1", "other-seed"], ["wider"], ["arch1"]]
    monkeypatch.setenv("AUDIOLAB_COHORT", "1")
    assert len(cv.cohorts(jobs)) == 4
    monkeypatch.setenv("AUDIOLAB_COHORT", "4")
    assert [len(c) for c in cv.cohorts([cv.Job(a, idx, idx, k) for k in range(9)])] == [3, 3, 3]  # evenly
    with pytest.raises(ValueError, match="cannot train as one cohort"):
        cv.train_and_score(jobs[:2], None, None)  # refused before anything is read or built
    monkeypatch.setenv("AUDIOLAB_COHORT", "none")
    with pytest.raises(ValueError, match="AUDIOLAB_COHORT='none'"):
        cv.cohorts(jobs)


def test_workers_come_from_the_environment(monkeypatch):
    assert cv.workers() == 1
    monkeypatch.setenv("AUDIOLAB_WORKERS", "2")
    assert cv.workers() == 2
    monkeypatch.setenv("AUDIOLAB_WORKERS", "auto")
    assert cv.workers() >= 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cv.workers() == 1  # on a GPU one process's cohorts keep it busy
    monkeypatch.undo()
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("AUDIOLAB_WORKERS", bad)
        with pytest.raises(ValueError, match=f"AUDIOLAB_WORKERS='{bad}'"):
            cv.workers()


def _stored(root, name, folds):
    store = ResultsStore(root)
    return {k: (read_json(store.fold_paths(name, k, "development")[0])["metrics"]["accuracy"],
                pd.read_csv(store.fold_paths(name, k, "development")[1])) for k in folds}


def _one_thread(fn):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each worker does: the numbers then match to the last digit
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def test_folds_of_several_experiments_trained_by_two_workers_equal_one_thread_in_one_process(meta, features, tmp_path,
                                                                                              monkeypatch):
    exps = [ARCH1, ARCH1.replace({"train.seed": 1}, name="tiny-seed1")]
    monkeypatch.setenv("AUDIOLAB_COHORT", "3")  # the 8 folds in 3 cohorts (3 + 2 + 3), two trained at once
    alone = _one_thread(lambda: cross_validate(exps, meta, features, tmp_path / "one", "development"))
    monkeypatch.setenv("AUDIOLAB_WORKERS", "2")
    together = cross_validate(exps, meta, features, tmp_path / "two", "development")
    assert [s["name"] for s in together] == [s["name"] for s in alone]
    for e, a, t in zip(exps, alone, together):
        assert a["accuracy_mean"] == t["accuracy_mean"]
        one, two = _stored(tmp_path / "one", e.name, [1, 2, 3, 4]), _stored(tmp_path / "two", e.name, [1, 2, 3, 4])
        for k in one:
            assert one[k][0] == two[k][0]
            pd.testing.assert_frame_equal(one[k][1], two[k][1])
    # a rerun finds every fold stored and trains nothing, whatever the number of workers
    monkeypatch.setattr(cv, "train_and_score", lambda *a, **k: pytest.fail("retrained"))
    assert cross_validate(exps, meta, features, tmp_path / "two", "development")[0]["per_fold"] == together[0]["per_fold"]


def test_search_trials_trained_by_two_workers_equal_one_process(meta, features, tmp_path, monkeypatch):
    space = {"train.lr": [1e-3, 3e-3]}
    one = _one_thread(lambda: search(ARCH1, space, meta, features, tmp_path / "one", n_trials=2))
    monkeypatch.setenv("AUDIOLAB_WORKERS", "2")
    two = search(ARCH1, space, meta, features, tmp_path / "two", n_trials=2)
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))


def _probe():
    return os.environ.get("AUDIOLAB_PROBE")  # in the worker (os.environ.get itself would carry the parent's)


def test_worker_processes_have_the_settings_their_parent_has_now(monkeypatch):
    seen = []
    for value in ("a", "b", None):  # set, changed, removed: the workers of the first call would keep "a"
        if value is None:
            monkeypatch.delenv("AUDIOLAB_PROBE")
        else:
            monkeypatch.setenv("AUDIOLAB_PROBE", value)
        with cv.worker_processes():
            seen.append(Parallel(n_jobs=2)(delayed(_probe)() for _ in range(4)))
    assert seen == [["a"] * 4, ["b"] * 4, [None] * 4]


def test_a_trial_groups_its_cohorts_by_the_settings_its_parent_has_now(meta, features, tmp_path, monkeypatch):
    """Notebook 01 sets $AUDIOLAB_COHORT=1 for one cell, and loky's workers started then outlive it: the search's
    cohorts once depended on whether that cell had trained (one model per step) or read its results back (two)."""
    monkeypatch.setenv("AUDIOLAB_WORKERS", "2")
    monkeypatch.setenv("AUDIOLAB_COHORT", "1")
    cross_validate(ARCH1, meta, features, tmp_path / "cell", folds=(1, 2))  # starts the workers with it
    monkeypatch.delenv("AUDIOLAB_COHORT")
    search(ARCH1, {"train.lr": [1e-3, 3e-3]}, meta, features, tmp_path, n_trials=2)
    for path in (tmp_path / "arch1" / "search").glob("trial-*.json"):
        assert [fold["cohort"] for fold in read_json(path)["per_fold"]] == [2, 2]  # its two validation folds


def test_the_kept_test_model_is_written_by_its_worker(meta, features, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOLAB_WORKERS", "2")
    summary = cross_validate(ARCH1, meta, features, tmp_path, folds=(4, 5), keep_test_model=True)
    assert [r["fold"] for r in summary["folds"]] == [4, 5]
    assert ResultsStore(tmp_path).test_model(ARCH1.name).is_file() and np.isfinite(summary["accuracy_mean"])
