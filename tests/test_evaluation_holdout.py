"""audiolab.evaluation.holdout: the fixed split, a saved model that reproduces its probabilities, reuse."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from audiolab.checkpoint import load_checkpoint
from audiolab.evaluation import run_holdout
from audiolab.train import predict_proba

from _tiny import ARCH2 as TINY_ARCH2, FC, CountingFit, features, meta  # noqa: F401 (fixtures)

ARCH2 = TINY_ARCH2.replace({"train.tta_shifts": 2})


def holdout(meta, features, store, **kwargs):
    return run_holdout(ARCH2, meta, features, store, wandb_mode="disabled", progress=False, **kwargs)


def test_trains_on_four_folds_and_scores_the_fifth(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    result = holdout(meta, features, tmp_path)
    split = result["split"]
    assert split["test_fold"] == 5 and split["val_fold"] == 4 and split["train_folds"] == [1, 2, 3, 4]
    assert result["n_train"] == 40 and split["n_test"] == 10 and result["metrics"]["n"] == 10
    # the history watches the validation fold, which is part of the training set; never the test fold
    [call] = fit.calls
    assert len(call["x_train"]) == 40 and call["eval_name"] == "val"
    assert torch.equal(call["x_eval"], features[meta["fold"].to_numpy() == 4])
    assert "val_acc" in result["history"][0] and "test_acc" not in result["history"][0]
    assert json.loads((tmp_path / "arch2" / "holdout" / "result.json").read_text())["key"] == ARCH2.key()


def test_saved_model_reproduces_its_probabilities(meta, features, tmp_path):
    holdout(meta, features, tmp_path)
    out = tmp_path / "arch2" / "holdout"
    model, normalizer, info = load_checkpoint(out / "model.pt")
    assert info["arch"] == "transformer" and info["params"] == ARCH2.model.to_dict()
    assert info["features"] == FC.to_dict() and len(info["classes"]) == 10 and info["tta_shifts"] == 2
    assert info["key"] == ARCH2.key() and info["experiment"] == "arch2"
    stored = pd.read_csv(out / "probs.csv")
    test = np.flatnonzero(meta["fold"].to_numpy() == 5)
    assert list(stored["filename"]) == list(meta["filename"].iloc[test])
    probs = predict_proba(model, features[test], normalizer, shifts=info["tta_shifts"])
    assert np.allclose(probs, stored[[f"prob_{c}" for c in range(10)]].to_numpy(), atol=1e-5)


def test_a_rerun_is_reused_until_the_model_file_is_gone(meta, features, tmp_path, monkeypatch):
    result = holdout(meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    again = holdout(meta, features, tmp_path)
    assert fit.calls == [] and again["metrics"] == result["metrics"]
    model = tmp_path / "arch2" / "holdout" / "model.pt"
    model.unlink()
    holdout(meta, features, tmp_path)
    assert len(fit.calls) == 1 and model.is_file()


def test_without_save_model_no_model_is_written_or_needed(meta, features, tmp_path, monkeypatch):
    result = holdout(meta, features, tmp_path, save_model=False)
    assert "model" not in result and not (tmp_path / "arch2" / "holdout" / "model.pt").exists()
    fit = CountingFit(monkeypatch)
    holdout(meta, features, tmp_path, save_model=False)
    assert fit.calls == []


def test_other_folds_and_bad_inputs(meta, features, tmp_path):
    result = holdout(meta, features, tmp_path, test_fold=1, val_fold=2, save_model=False)
    assert result["split"]["train_folds"] == [2, 3, 4, 5]
    with pytest.raises(ValueError, match="differ"):
        holdout(meta, features, tmp_path, test_fold=3, val_fold=3)
    with pytest.raises(ValueError, match="n_mels"):
        run_holdout(ARCH2.replace({"features.n_mels": 32}), meta, features, tmp_path, wandb_mode="disabled")
