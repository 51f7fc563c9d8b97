"""audiolab.evaluation.store: where results live, when one is reused, and pruning what no run used."""
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiolab._util import read_json
from audiolab.evaluation.store import BEST_MODEL, RESULTS_ENV, ResultsStore, data_fingerprint

REPO = Path(__file__).resolve().parents[1]


def _write(*paths):
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


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
    assert read_json(path) == {"v": [1, 2], "n": 3} and [p.name for p in path.parent.iterdir()] == ["x.json"]
    path.write_text("{half a fi")
    with caplog.at_level(logging.WARNING, logger="audiolab"):
        assert read_json(path) is None and read_json(tmp_path / "missing.json") is None
    assert "recomputed" in caplog.text


def test_missing_results_say_what_to_run(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"protocol='official'\) for 'nothing'"):
        store.load_summary("nothing")
    with pytest.raises(FileNotFoundError, match=r"oof.csv: run cross_validate\(..., protocol='development'\) for 'nothing'"):
        store.load_oof("nothing", "development")
    with pytest.raises(FileNotFoundError, match=r"protocol='development'\) for 'nothing'"):
        store.load_summary("nothing", "development")
    with pytest.raises(FileNotFoundError, match="fold5.json"):
        store.load_fold("nothing", 5)


def test_the_best_model_is_a_copy_of_the_test_fold_model(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(FileNotFoundError, match="keep_test_model=True"):
        store.keep_best_model("a", {"experiment": "a"})
    store.test_model("a").parent.mkdir(parents=True)
    store.test_model("a").write_bytes(b"weights")
    assert store.keep_best_model("a", {"experiment": "a", "accuracy": 0.9}) == store.best_model
    assert store.best_model.read_bytes() == b"weights"
    assert json.loads(store.best_model.with_suffix(".json").read_text()) == {"experiment": "a", "accuracy": 0.9}


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
    _write(path, *([needed] if needs else []))
    with caplog.at_level(logging.WARNING, logger="audiolab"):
        assert not ResultsStore(tmp_path).reusable(stored, "k", "d", path, needs=[needed])
    assert reason in caplog.text


def test_nothing_stored_is_not_reused(tmp_path):
    assert not ResultsStore(tmp_path).reusable(None, "k", "d", tmp_path / "x.json")


def test_a_result_of_this_run_is_reused(tmp_path):
    stored, needed = tmp_path / "fold1.json", tmp_path / "fold1.csv"
    _write(stored, needed)
    assert ResultsStore(tmp_path).reusable({"key": "k", "data": "d", **SCORES}, "k", "d", stored, needs=[needed])


def test_a_summary_is_read_back_as_written(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_json(store.cv_dir("a") / "summary.json", {"name": "a"})
    assert json.loads((tmp_path / "a" / "cv" / "summary.json").read_text()) == store.load_summary("a")
