"""audiolab.evaluation.cv: k-fold cross-validation on the synthetic ESC-10, results on disk, resumable."""
import json

import numpy as np
import pandas as pd
import pytest

from audiolab import tracking
from audiolab.evaluation import ResultsStore, run_cv

from _tiny import ARCH1, CountingFit, features, meta  # noqa: F401 (fixtures)


def cv(exp, meta, features, tmp_path, **kwargs):
    kwargs.setdefault("wandb_mode", "disabled")
    return run_cv(exp, meta, features, tmp_path, progress=False, **kwargs)


def test_each_fold_is_stored_with_its_probabilities(meta, features, tmp_path):
    cv(ARCH1, meta, features, tmp_path)
    out = tmp_path / "arch1" / "cv"
    for k in range(1, 6):
        fold = json.loads((out / f"fold{k}.json").read_text())
        assert fold["fold"] == k and fold["key"] == ARCH1.key() and fold["epochs"] == 2
        assert {"metrics", "history", "params", "train_seconds", "experiment", "data"} <= set(fold)
        assert fold["experiment"] == ARCH1.to_dict() and fold["metrics"]["n"] == 10 and len(fold["history"]) == 2
        # the fold scored after each epoch is this fold's test set
        assert "test_acc" in fold["history"][0] and "val_acc" not in fold["history"][0]
        probs = pd.read_csv(out / f"fold{k}.csv")
        assert list(probs.columns[:3]) == ["filename", "fold", "target"] and (probs["fold"] == k).all()
        assert np.allclose(probs[[f"prob_{c}" for c in range(10)]].sum(axis=1), 1.0, atol=1e-4)


def test_summary_and_out_of_fold_predictions(meta, features, tmp_path):
    summary = cv(ARCH1, meta, features, tmp_path)
    stored = json.loads((tmp_path / "arch1" / "cv" / "summary.json").read_text())
    assert stored["complete"] and [f["fold"] for f in stored["folds"]] == [1, 2, 3, 4, 5]
    assert stored["metrics"]["accuracy"]["n"] == 5
    assert stored["accuracy_mean"] == pytest.approx(np.mean([f["accuracy"] for f in stored["folds"]]))
    assert stored["params"]["trainable"] > 0 and stored["seconds_per_epoch"] > 0
    assert len(summary["per_fold"]) == 5 and summary["accuracy_mean"] == stored["accuracy_mean"]
    store = ResultsStore(tmp_path)
    oof = store.load_oof("arch1")
    assert len(oof) == 50 and sorted(oof["filename"]) == sorted(meta["filename"])
    assert stored["pooled"]["accuracy"] == pytest.approx((oof["pred"] == oof["target"]).mean())
    assert store.load_summary("arch1")["key"] == ARCH1.key()


def test_a_rerun_is_a_no_op_with_identical_numbers(meta, features, tmp_path, monkeypatch):
    first = cv(ARCH1, meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    second = cv(ARCH1, meta, features, ResultsStore(tmp_path))
    assert fit.calls == []
    assert second["accuracy_mean"] == first["accuracy_mean"] and second["pooled"] == first["pooled"]
    assert second["per_fold"] == first["per_fold"]


def test_a_changed_configuration_retrains(meta, features, tmp_path, monkeypatch, caplog):
    cv(ARCH1, meta, features, tmp_path, folds=(1, 2))
    fit = CountingFit(monkeypatch)
    changed = ARCH1.replace({"train.lr": 1e-2})
    with caplog.at_level("WARNING", logger="audiolab"):
        third = cv(changed, meta, features, tmp_path, folds=(1, 2))
    assert len(fit.calls) == 2 and fit.calls[0]["config"].lr == 1e-2
    assert "another configuration" in caplog.text
    assert third["key"] == changed.key() and not third["complete"]


def test_a_killed_run_trains_only_the_missing_folds(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    cv(ARCH1, meta, features, tmp_path, folds=(1, 2))
    assert len(fit.calls) == 2 and not (tmp_path / "arch1" / "cv" / "fold3.json").exists()
    summary = cv(ARCH1, meta, features, tmp_path)
    assert len(fit.calls) == 5 and summary["complete"] and len(summary["folds"]) == 5
    # each fold trains on the other four: 40 clips, watched on its own 10
    assert all(len(c["x_train"]) == 40 and len(c["x_eval"]) == 10 for c in fit.calls)


def test_a_fold_without_its_probabilities_is_retrained(meta, features, tmp_path, monkeypatch):
    cv(ARCH1, meta, features, tmp_path, folds=(1,))
    (tmp_path / "arch1" / "cv" / "fold1.csv").unlink()
    fit = CountingFit(monkeypatch)
    cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert len(fit.calls) == 1 and (tmp_path / "arch1" / "cv" / "fold1.csv").is_file()


@pytest.mark.parametrize("change, message", [
    ({"features.n_mels": 32}, "n_mels"),
    ({"features.hop_length": 512}, "157 frames but .* expects 79"),  # same bands, half the frames
])
def test_features_of_another_front_end_are_refused(meta, features, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        cv(ARCH1.replace(change), meta, features, tmp_path)


def test_bad_folds_rows_and_modes_are_refused_before_training(meta, features, tmp_path):
    with pytest.raises(ValueError, match="fold"):
        cv(ARCH1, meta, features, tmp_path, folds=(9,))
    with pytest.raises(ValueError, match="50 rows"):
        cv(ARCH1, meta, features[:10], tmp_path)
    with pytest.raises(ValueError, match="sometimes"):
        cv(ARCH1, meta, features, tmp_path, wandb_mode="sometimes")
    with pytest.raises(TypeError, match="Experiment"):
        cv(ARCH1.to_dict(), meta, features, tmp_path)
    assert not (tmp_path / "arch1").exists()


def test_tracking_errors_never_break_training(meta, features, tmp_path, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("W&B is down")

    monkeypatch.setattr(tracking, "start_run", broken)
    summary = cv(ARCH1, meta, features, tmp_path, folds=(1,), wandb_mode="offline")
    assert summary["folds"][0]["fold"] == 1


def test_offline_wandb_run_per_fold(meta, features, tmp_path):
    pytest.importorskip("wandb")
    cv(ARCH1, meta, features, tmp_path / "results", folds=(1, 2), wandb_mode="offline", wandb_dir=tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(list(r.glob("*.wandb")) for r in runs)
