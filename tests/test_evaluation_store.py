"""audiolab.evaluation.store: where results live, when one is reused, and pruning what no run used."""
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiolab.evaluation.store import BEST_MODEL, RESULTS_ENV, ResultsStore, data_fingerprint

REPO = Path(__file__).resolve().parents[1]


def _old(*paths):
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        os.utime(path, (1000.0, 1000.0))


def test_layout():
    store = ResultsStore("r")
    assert store.fold_paths("a", 3) == (Path("r/a/cv/fold3.json"), Path("r/a/cv/fold3.csv"))
    assert store.fold_paths("a", 3, "development") == (Path("r/a/dev-cv/fold3.json"), Path("r/a/dev-cv/fold3.csv"))
    assert store.cv_dir("a") == store.cv_dir("a", "official") == Path("r/a/cv")
    # the held-out model is the official cross-validation's model of the test fold
    assert store.test_model("a") == store.fold_model("a", 5) == Path("r/a/cv/fold5.pt")
    assert store.search_dir("a") == Path("r/a/search")
    assert store.trial_path("a", "0123") == Path("r/a/search/trial-0123.json")
    assert store.ensemble_path("a") == Path("r/a-ensemble/summary.json")
    assert store.best_model == Path("r") / BEST_MODEL


def test_an_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="'official' or 'development'"):
        ResultsStore("r").cv_dir("a", "holdout")


def test_a_store_or_a_folder_is_accepted():
    store = ResultsStore("r")
    assert ResultsStore.of(store) is store and ResultsStore.of("r").root == Path("r")


def test_for_profile_never_points_a_smoke_run_at_the_reports(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert ResultsStore.for_profile("full").root == REPO / "reports" / "results"
    smoke = ResultsStore.for_profile("smoke").root
    assert smoke.is_relative_to(tempfile.gettempdir()) and "reports" not in smoke.parts
    assert ResultsStore.for_profile("smoke", root=tmp_path).root == tmp_path
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "elsewhere"))
    assert ResultsStore.for_profile("full").root == tmp_path / "elsewhere"


def test_writes_are_atomic_and_reads_forgive_damage(tmp_path, caplog):
    store = ResultsStore(tmp_path)
    path = store.write_json(tmp_path / "a" / "x.json", {"v": (1, 2), "n": np.int64(3)})
    assert store.read(path) == {"v": [1, 2], "n": 3} and [p.name for p in path.parent.iterdir()] == ["x.json"]
    path.write_text("{half a fi")
    with caplog.at_level(logging.WARNING, logger="audiolab"):
        assert store.read(path) is None and store.read(tmp_path / "missing.json") is None
    assert "recomputed" in caplog.text


def test_missing_results_say_what_to_run(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"protocol='official'\) for 'nothing'"):
        store.load_summary("nothing")
    with pytest.raises(FileNotFoundError, match="run the cross-validation of 'nothing'"):
        store.load_oof("nothing", "development")
    with pytest.raises(FileNotFoundError, match=r"protocol='development'\) for 'nothing'"):
        store.load_summary("nothing", "development")
    with pytest.raises(FileNotFoundError, match="fold5.json"):
        store.load_fold("nothing", 5)
    assert store.summaries() == [] and store.ensembles() == [] and store.best_model_info() is None


def test_summaries_are_listed_by_kind(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_json(store.cv_dir("a") / "summary.json", {"name": "a"})
    store.write_json(store.cv_dir("b", "development") / "summary.json", {"name": "b"})
    assert store.summaries() == ["a"] and store.summaries("development") == ["b"]


def test_training_seconds_add_up_by_kind(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_json(store.fold_paths("a", 1)[0], {"train_seconds": 2.0})
    store.write_json(store.fold_paths("a", 2)[0], {"train_seconds": 3.0})
    store.write_json(store.fold_paths("a", 1, "development")[0], {"train_seconds": 5.0})
    store.write_json(store.trial_path("a", "k"), {"train_seconds": 7.0})
    assert store.training_seconds() == {"cv": 5.0, "dev_cv": 5.0, "search": 7.0, "total": 17.0}


def test_the_best_model_is_a_copy_of_the_test_fold_model(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(FileNotFoundError, match="keep_test_model=True"):
        store.keep_best_model("a", {"experiment": "a"})
    store.test_model("a").parent.mkdir(parents=True)
    store.test_model("a").write_bytes(b"weights")
    assert store.keep_best_model("a", {"experiment": "a", "accuracy": 0.9}) == store.best_model
    assert store.best_model.read_bytes() == b"weights"
    assert store.best_model_info() == {"experiment": "a", "accuracy": 0.9}


def test_data_fingerprint_follows_the_clips_not_their_order():
    meta = pd.DataFrame({"fold": [1, 1, 2], "target": [0, 1, 0], "filename": ["a", "b", "c"]})
    base = data_fingerprint(meta, np.array([0, 1]), np.array([2]))
    assert data_fingerprint(meta, np.array([1, 0]), np.array([2])) == base
    assert data_fingerprint(meta, np.array([0]), np.array([2])) != base
    assert data_fingerprint(meta, np.array([2]), np.array([0, 1])) != base  # which set a clip is in counts


SCORES = {"metrics": {"accuracy": 0.5, "macro_f1": 0.5, "n": 10}}


@pytest.mark.parametrize("stored, needs, reason", [
    ({"key": "other", "data": "d", **SCORES}, True, "another configuration"),
    ({"key": "k", "data": "other", **SCORES}, True, "other clips"),
    ({"key": "k", "data": "d", **SCORES}, False, "lacks"),
    ({"key": "k", "data": "d", "metrics": {"accuracy": "0.5", "macro_f1": 0.5, "n": 10}}, True, "no valid scores"),
    ({"key": "k", "data": "d"}, True, "no valid scores"),
])
def test_a_result_of_another_run_is_not_reused_and_the_log_says_why(tmp_path, caplog, stored, needs, reason):
    path, needed = tmp_path / "fold1.json", tmp_path / "fold1.csv"
    _old(path, *([needed] if needs else []))
    with caplog.at_level(logging.WARNING, logger="audiolab"):
        assert not ResultsStore(tmp_path).reusable(stored, "k", "d", path, needs=[needed])
    assert reason in caplog.text and path.stat().st_mtime == 1000.0  # not reused: not marked


def test_nothing_stored_is_not_reused(tmp_path):
    assert not ResultsStore(tmp_path).reusable(None, "k", "d", tmp_path / "x.json")


def test_a_reused_result_is_marked_as_used(tmp_path):
    stored, needed = tmp_path / "fold1.json", tmp_path / "fold1.csv"
    _old(stored, needed)
    assert ResultsStore(tmp_path).reusable({"key": "k", "data": "d", **SCORES}, "k", "d", stored, needs=[needed])
    assert min(stored.stat().st_mtime, needed.stat().st_mtime) > time.time() - 60


def test_prune_removes_what_no_run_marked_and_empty_folders(tmp_path):
    results = tmp_path / "results"
    old, new = results / "arch2-heads1-ensemble" / "summary.json", results / "arch2-heads2" / "cv" / "fold1.json"
    trial = results / "arch2" / "search" / "trial-old.json"
    table = results / "comparison.csv"  # written by the comparison notebook itself: not an experiment's
    _old(old, trial, table)
    new.parent.mkdir(parents=True)
    new.write_text("{}")
    removed = ResultsStore(results).prune_unused(since=time.time() - 60)
    assert sorted(p.name for p in removed) == ["summary.json", "trial-old.json"]
    assert new.is_file() and table.is_file() and not old.parent.exists() and not (results / "arch2").exists()


def test_prune_keeps_what_a_reuse_marked(tmp_path):
    store = ResultsStore(tmp_path)
    stored = tmp_path / "arch1" / "cv" / "fold1.json"
    _old(stored)
    since = time.time() - 60
    store.reusable({"key": "k", "data": "d", **SCORES}, "k", "d", stored)
    assert store.prune_unused(since) == [] and stored.is_file()


def test_summaries_and_ensembles_are_listed(tmp_path):
    store = ResultsStore(tmp_path)
    for name in ("b", "a"):
        store.write_json(store.cv_dir(name) / "summary.json", {"name": name})
    store.write_json(store.ensemble_path("a"), {"name": "a-ensemble"})
    assert store.summaries() == ["a", "b"] and store.ensembles() == [{"name": "a-ensemble"}]
    assert json.loads((tmp_path / "a" / "cv" / "summary.json").read_text()) == store.load_summary("a")
