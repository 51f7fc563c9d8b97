"""audiolab.evaluation.cv: the official cross-validation (its test-fold model kept as the held-out model) and
the development cross-validation that never sees the test fold, on the synthetic ESC-10; stored and resumable."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from audiolab._util import plain
from audiolab import tracking
from audiolab.checkpoint import load_checkpoint
from audiolab.evaluation import ResultsStore, cross_validate
from audiolab.train import predict_proba

from _tiny import ARCH1, ARCH2 as TINY_ARCH2, FC, CountingFit, features, meta  # noqa: F401 (fixtures)

import _wandb

ARCH2 = TINY_ARCH2.replace({"train.tta_shifts": 2})
offline_wandb = _wandb.offline_wandb  # the fixture


def cv(exp, meta, features, tmp_path, **kwargs):
    return cross_validate(exp, meta, features, tmp_path, **kwargs)


def dev_cv(exp, meta, features, tmp_path):
    return cross_validate(exp, meta, features, tmp_path, "development")


def _contains_any(seen, clips):
    """Whether any clip of ``clips`` is among ``seen`` (feature tensors compared clip by clip)."""
    return bool((seen[:, None] == clips[None]).flatten(2).all(-1).any())


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


def test_a_fold_csv_of_another_run_under_the_same_name_is_retrained(meta, features, tmp_path, monkeypatch, caplog):
    """Seed 0 stored; seed 1 under the same name killed between its fold1.csv and fold1.json; seed 0 again."""
    first = cv(ARCH1, meta, features, tmp_path, folds=(1,))
    store = ResultsStore(tmp_path)
    write_json = store.write_json

    def killed(path, obj):
        if path.name == "fold1.json":
            raise KeyboardInterrupt
        return write_json(path, obj)

    monkeypatch.setattr(ResultsStore, "write_json", lambda self, path, obj: killed(path, obj))
    with pytest.raises(KeyboardInterrupt):
        cv(ARCH1.replace({"train.seed": 1}), meta, features, tmp_path, folds=(1,))
    monkeypatch.undo()
    fit = CountingFit(monkeypatch)
    with caplog.at_level("WARNING", logger="audiolab"):
        again = cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert len(fit.calls) == 1 and "fold1.csv does not belong" in caplog.text
    assert again["pooled"] == first["pooled"]


@pytest.mark.parametrize("damage", ["extra prob column", "rows cut", "edited"])
@pytest.mark.parametrize("older_record", [False, True])
def test_a_damaged_fold_csv_is_retrained_with_a_warning(meta, features, tmp_path, monkeypatch, caplog, damage,
                                                        older_record):
    """#20: an extra prob_* column was a ValueError traceback, a CSV cut short was reused silently. Records
    written before ``csv_sha256`` existed (the committed ones) are checked by their clips and columns."""
    cv(ARCH1, meta, features, tmp_path, folds=(1,))
    json_path, csv_path = tmp_path / "arch1" / "cv" / "fold1.json", tmp_path / "arch1" / "cv" / "fold1.csv"
    if older_record:
        record = json.loads(json_path.read_text())
        json_path.write_text(json.dumps({k: v for k, v in record.items() if k != "csv_sha256"}))
    table = pd.read_csv(csv_path)
    if damage == "extra prob column":
        table[f"prob_{len(table.columns) - 3}"] = 0.0
    elif damage == "rows cut":
        table = table.iloc[:3]
    elif older_record:  # an edit the clips and columns cannot see: only the hash can
        pytest.skip("an older record cannot tell an edited probability")
    else:
        table.loc[0, "prob_0"] = 0.5
    table.to_csv(csv_path, index=False)
    fit = CountingFit(monkeypatch)
    with caplog.at_level("WARNING", logger="audiolab"):
        cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert len(fit.calls) == 1 and "fold1.csv does not belong" in caplog.text


def test_a_stored_fold_with_scores_that_are_not_numbers_is_retrained(meta, features, tmp_path, monkeypatch, caplog):
    cv(ARCH1, meta, features, tmp_path, folds=(1,))
    path = tmp_path / "arch1" / "cv" / "fold1.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "metrics": {**record["metrics"], "accuracy": "high"}}))
    fit = CountingFit(monkeypatch)
    with caplog.at_level("WARNING", logger="audiolab"):
        cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert len(fit.calls) == 1 and "fold1.json holds no valid scores" in caplog.text


def test_a_second_process_training_the_same_experiment_is_refused(meta, features, tmp_path, monkeypatch):
    import fcntl
    import os

    from audiolab.evaluation.store import ExperimentBusy

    (tmp_path / "arch1").mkdir()
    fd = os.open(tmp_path / "arch1", os.O_RDONLY)  # another open file: flock treats it as another process
    fcntl.flock(fd, fcntl.LOCK_EX)
    fit = CountingFit(monkeypatch)
    try:
        with pytest.raises(ExperimentBusy, match="another process is training 'arch1'"):
            cv(ARCH1, meta, features, tmp_path, folds=(1,))
        assert fit.calls == []
    finally:
        os.close(fd)  # released: the next run trains
    cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert len(fit.calls) == 1


@pytest.mark.parametrize("change, message", [
    ({"features.n_mels": 32}, r"\(50, 16, 157\) .* expects \(50, 32, 157\)"),
    ({"features.hop_length": 512}, r"\(50, 16, 157\) .* expects \(50, 16, 79\)"),  # same bands, half the frames
])
def test_features_of_another_front_end_are_refused(meta, features, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        cv(ARCH1.replace(change), meta, features, tmp_path)


def test_bad_folds_rows_and_protocols_are_refused_before_training(meta, features, tmp_path):
    with pytest.raises(ValueError, match="fold"):
        cv(ARCH1, meta, features, tmp_path, folds=(9,))
    with pytest.raises(ValueError, match="50 rows"):
        cv(ARCH1, meta, features[:10], tmp_path)
    with pytest.raises(ValueError, match="protocol must be"):
        cv(ARCH1, meta, features, tmp_path, protocol="sometimes")
    with pytest.raises(TypeError, match="Experiment"):
        cv(ARCH1.to_dict(), meta, features, tmp_path)
    assert not (tmp_path / "arch1").exists()


def test_tracking_errors_never_break_training(meta, features, tmp_path, monkeypatch):
    real = tracking.wandb.init

    def init(mode=None, **kwargs):
        if mode != "disabled":
            raise RuntimeError("W&B is down")
        return real(mode="disabled")

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(tracking.wandb, "init", init)
    with pytest.warns(tracking.TrackingWarning, match="W&B is down"):
        summary = cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert summary["folds"][0]["fold"] == 1


def test_a_folds_run_holds_its_epochs_scores_charts_predictions_and_files(meta, features, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(tracking, "start_run", _wandb.Recorder.start(runs))
    store = ResultsStore(tmp_path / "results")
    cv(ARCH1, meta, features, store, folds=(1, 2))
    assert [r.init["name"] for r in runs] == ["arch1-cv-fold1", "arch1-cv-fold2"]  # one run per fold
    run, record = runs[0], store.load_fold("arch1", 1)
    probs = pd.read_csv(store.fold_paths("arch1", 1)[1])
    assert run.finished == "finished" and run.init["config"]["fold"] == 1 and run.init["config"]["key"] == ARCH1.key()
    assert run.init["group"] == "arch1" and run.init["job_type"] == "cv"

    # every epoch, under names that say what they measure
    epochs, (charts,) = run.logged[:-1], run.logged[-1:]
    assert [e["epoch"] for e in epochs] == [1, 2] == [r["epoch"] for r in record["history"]]
    for wandb_name, name in [("train/loss", "train_loss"), ("train/accuracy", "train_acc"), ("test/loss", "test_loss"),
                             ("test/accuracy", "test_acc")]:
        assert [e[wandb_name] for e in epochs] == pytest.approx([r[name] for r in record["history"]])
    assert not [k for e in epochs for k in e if k.startswith("val/") or k in ("train_loss", "test_acc")]

    # the last-epoch model's scores in the summary
    assert run.summary["test/accuracy"] == pytest.approx(record["metrics"]["accuracy"])
    assert run.summary["test/auc"] == pytest.approx(record["metrics"]["auc_macro_ovr"])
    assert run.summary["params/trainable"] == record["params"]["trainable"]

    # W&B's own confusion matrix and ROC, and the prediction table: one row per clip, audio only for mistakes
    assert {"test/confusion_matrix", "test/roc", "test/predictions"} == set(charts)
    table = pd.DataFrame(charts["test/predictions"].data, columns=charts["test/predictions"].columns)
    predicted = probs[[f"prob_{c}" for c in range(10)]].to_numpy().argmax(axis=1)
    assert table["filename"].tolist() == probs["filename"].tolist() and (table["fold"] == 1).all()
    assert table["correct"].tolist() == (predicted == probs["target"]).tolist()
    heard, wrong = table["audio"].notna(), ~table["correct"]
    assert 0 < heard.sum() == min(wrong.sum(), tracking.MAX_AUDIO_CLIPS) and not (heard & ~wrong).any()

    # the fold's result files, as the store wrote them, in an artifact
    [artifact] = run.artifacts
    assert artifact.name == "arch1-cv-fold1" and artifact.type == "cv-fold" and artifact.metadata["key"] == ARCH1.key()
    assert sorted(artifact.manifest.entries) == ["arch1/cv/fold1.csv", "arch1/cv/fold1.json"]


def test_development_runs_log_the_validation_fold_as_val(meta, features, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(tracking, "start_run", _wandb.Recorder.start(runs))
    dev_cv(ARCH1, meta, features, tmp_path)
    assert [r.init["name"] for r in runs] == [f"arch1-dev-cv-fold{k}" for k in (1, 2, 3, 4)]
    run = runs[2]
    assert {"val/loss", "val/accuracy"} <= set(run.logged[0]) and not [k for k in run.logged[0] if k.startswith("test/")]
    assert run.summary["val/accuracy"] == pytest.approx(ResultsStore(tmp_path).load_fold("arch1", 3, "development")[
        "metrics"]["accuracy"])
    assert sorted(run.artifacts[0].manifest.entries) == ["arch1/dev-cv/fold3.csv", "arch1/dev-cv/fold3.json"]


def test_an_offline_run_is_written_where_wandb_dir_says(meta, features, tmp_path, offline_wandb):
    cv(ARCH1, meta, features, tmp_path / "results", folds=(1,))
    [folder] = (offline_wandb / "wandb").glob("offline-run-*")
    assert list(folder.glob("run-*.wandb"))  # what `wandb sync` uploads
    [table] = folder.glob("files/media/table/test/predictions_*.table.json")  # W&B's own table file
    assert len(json.loads(table.read_text())["data"]) == 10


# --------------------------------------------------------------------------- the test-fold model


def test_the_test_fold_model_trains_on_the_other_folds_and_scores_the_test_fold(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    summary = cv(ARCH2, meta, features, tmp_path, folds=(5,), keep_test_model=True)
    folds = meta["fold"].to_numpy()
    [call] = fit.calls
    assert torch.equal(call["x_train"], features[folds != 5]) and torch.equal(call["x_eval"], features[folds == 5])
    [record] = summary["per_fold"]
    assert record["fold"] == 5 and record["n_train"] == 40 and record["metrics"]["n"] == 10
    assert "test_acc" in record["history"][0] and call["eval_name"] == "test"
    assert ResultsStore(tmp_path).test_model("arch2") == tmp_path / "arch2" / "cv" / "fold5.pt"
    assert (tmp_path / "arch2" / "cv" / "fold5.pt").is_file()


def test_the_kept_test_fold_model_reproduces_the_folds_probabilities(meta, features, tmp_path):
    cv(ARCH2, meta, features, tmp_path, folds=(5,), keep_test_model=True)
    store = ResultsStore(tmp_path)
    model, normalizer, info = load_checkpoint(store.test_model("arch2"))
    assert info["arch"] == "transformer" and info["params"] == plain(ARCH2.model) and info["tta_shifts"] == 2
    assert info["features"] == plain(FC) and len(info["classes"]) == 10 and info["trained_on_folds"] == [1, 2, 3, 4]
    assert info["key"] == ARCH2.key() and info["experiment"] == "arch2"
    stored = pd.read_csv(store.fold_paths("arch2", 5)[1])
    test = np.flatnonzero(meta["fold"].to_numpy() == 5)
    assert list(stored["filename"]) == list(meta["filename"].iloc[test])
    probs = predict_proba(model, features[test], normalizer, shifts=info["tta_shifts"])
    assert np.allclose(probs, stored[[f"prob_{c}" for c in range(10)]].to_numpy(), atol=1e-5)


def test_only_the_test_fold_model_is_kept(meta, features, tmp_path):
    cv(ARCH1, meta, features, tmp_path, folds=(1, 5), keep_test_model=True)
    assert sorted(p.name for p in (tmp_path / "arch1" / "cv").glob("*.pt")) == ["fold5.pt"]


def test_a_kept_model_is_reused_until_its_file_is_gone(meta, features, tmp_path, monkeypatch):
    first = cv(ARCH1, meta, features, tmp_path, folds=(5,), keep_test_model=True)
    fit = CountingFit(monkeypatch)
    again = cv(ARCH1, meta, features, tmp_path, folds=(5,), keep_test_model=True)
    assert fit.calls == [] and again["per_fold"] == first["per_fold"]
    model = ResultsStore(tmp_path).test_model("arch1")
    model.unlink()
    cv(ARCH1, meta, features, tmp_path, folds=(5,), keep_test_model=True)
    assert len(fit.calls) == 1 and model.is_file()


def test_without_keep_test_model_no_model_is_written_and_keeping_one_needs_it(meta, features, tmp_path, monkeypatch):
    cv(ARCH1, meta, features, tmp_path, folds=(5,))
    assert not list((tmp_path / "arch1" / "cv").glob("*.pt"))
    fit = CountingFit(monkeypatch)
    cv(ARCH1, meta, features, tmp_path, folds=(5,))
    assert fit.calls == []  # no model asked for: the stored fold is reused
    cv(ARCH1, meta, features, tmp_path, folds=(5,), keep_test_model=True)
    assert len(fit.calls) == 1 and ResultsStore(tmp_path).test_model("arch1").is_file()  # the .pt was missing


def test_the_official_summary_names_its_protocol_and_test_fold(meta, features, tmp_path):
    summary = cv(ARCH1, meta, features, tmp_path, folds=(1, 2))
    assert summary["protocol"] == "cv" and summary["test_fold"] == 5
    assert ResultsStore(tmp_path).load_summary("arch1")["protocol"] == "cv"


# --------------------------------------------------------------------------- development folds


def test_development_cv_never_trains_on_or_scores_the_test_fold(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    dev_cv(ARCH1, meta, features, tmp_path)
    folds = meta["fold"].to_numpy()
    test_clips = features[folds == 5]
    assert len(fit.calls) == 4
    for call in fit.calls:
        assert not _contains_any(call["x_train"], test_clips), "a test-fold clip reached the training"
        assert not _contains_any(call["x_eval"], test_clips), "a test-fold clip was scored"
    # each development fold is scored once, by a model trained on the other three
    for call, v in zip(fit.calls, (1, 2, 3, 4)):
        assert torch.equal(call["x_eval"], features[folds == v])
        assert torch.equal(call["x_train"], features[np.isin(folds, [f for f in (1, 2, 3, 4) if f != v])])


def test_development_cv_is_stored_apart_with_val_history(meta, features, tmp_path):
    summary = dev_cv(ARCH1, meta, features, tmp_path)
    assert summary["protocol"] == "dev-cv" and summary["test_fold"] == 5 and summary["complete"]
    assert [f["fold"] for f in summary["folds"]] == [1, 2, 3, 4]
    record = json.loads((tmp_path / "arch1" / "dev-cv" / "fold1.json").read_text())
    assert "val_acc" in record["history"][0] and "test_acc" not in record["history"][0]
    assert record["scored_as"] == "val" and record["n_train"] == 30
    store = ResultsStore(tmp_path)
    assert store.load_summary("arch1", "development")["accuracy_mean"] == summary["accuracy_mean"]
    oof = store.load_oof("arch1", "development")
    assert len(oof) == 40 and 5 not in set(oof["fold"])
    assert not (tmp_path / "arch1" / "cv").exists()


def test_development_cv_resumes(meta, features, tmp_path, monkeypatch):
    first = dev_cv(ARCH1, meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    assert dev_cv(ARCH1, meta, features, tmp_path)["per_fold"] == first["per_fold"] and fit.calls == []


def test_from_cross_validate_to_the_optimiser_step_are_three_package_frames(meta, features, tmp_path, monkeypatch):
    import inspect
    from pathlib import Path

    import audiolab

    package, stacks, step = Path(audiolab.__file__).parent, [], torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        stacks.append([f.function for f in inspect.stack() if Path(f.filename).is_relative_to(package)])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    cv(ARCH1, meta, features, tmp_path, folds=(1,))
    assert stacks and stacks[0] == ["fit_cohort", "train_and_score", "cross_validate"]
