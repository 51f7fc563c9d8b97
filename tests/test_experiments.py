"""audiolab.experiments: CV, holdout and search on the synthetic ESC-10, results on disk, resumable."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from audiolab import experiments as ex
from audiolab import tracking
from audiolab.cli import build_parser
from audiolab.data import load_features
from audiolab.features import FeatureConfig
from audiolab.train import TrainConfig, load_checkpoint, predict_proba

REPO = Path(__file__).resolve().parents[1]
FC = FeatureConfig(sample_rate=8000, n_mels=16, hop_length=256, n_fft=512)
TINY_TRAIN = TrainConfig(epochs=2, batch_size=16, device="cpu")
ARCH1 = ex.Experiment("arch1", "conv1d", {"channels": (8, 8, 8), "kernel_size": 3}, TINY_TRAIN, FC)
ARCH2 = ex.Experiment(
    "arch2", "transformer", {"channels": (8, 8, 8), "kernel_size": 3, "d_model": 16, "heads": 2, "depth": 1},
    TINY_TRAIN, FC,
)


@pytest.fixture
def meta(synthetic_esc10_meta):
    return synthetic_esc10_meta


@pytest.fixture
def features(meta):
    return load_features(meta, FC, progress=False)


class CountingFit:
    """Wraps audiolab.experiments.fit: counts calls and keeps what each call trained and monitored on."""

    def __init__(self, monkeypatch):
        self.calls = []
        self._fit = ex.fit
        monkeypatch.setattr(ex, "fit", self)

    def __call__(self, model, x_train, y_train, x_val=None, y_val=None, **kwargs):
        self.calls.append({"x_train": x_train, "x_val": x_val, "config": kwargs.get("config")})
        return self._fit(model, x_train, y_train, x_val, y_val, **kwargs)


def run_cv(exp, meta, features, tmp_path, **kwargs):
    kwargs.setdefault("wandb_mode", "disabled")
    return ex.run_cv(exp, meta, features, results_dir=tmp_path, progress=False, **kwargs)


# --------------------------------------------------------------------------- Experiment


def test_experiment_round_trip_key_and_variations():
    d = ARCH2.to_dict()
    assert json.loads(json.dumps(d)) == d
    again = ex.Experiment.from_dict(json.loads(json.dumps(d)))
    assert again == ARCH2 and again.key() == ARCH2.key() and hash(again) == hash(ARCH2)
    assert again.params["channels"] == (8, 8, 8)

    assert ARCH2.replace(name="other", description="x").key() == ARCH2.key()  # name/description do not count
    assert ARCH2.with_params(heads=4).key() != ARCH2.key()
    assert ARCH2.with_train(lr=1e-4).train.lr == 1e-4
    with_mixup = ARCH2.with_train(mixup=True)  # augmentation fields route into TrainConfig.augment
    assert with_mixup.train.augment.mixup is True and with_mixup.key() != ARCH2.key()
    assert ARCH1.apply({"lr": 0.01, "kernel_size": 5, "channels": [4, 4]}).params == {"channels": (4, 4), "kernel_size": 5}
    assert ARCH1.resolved_params()["stride"] == 1 and ARCH2.resolved_params()["heads"] == 2


@pytest.mark.parametrize(
    "arch, params",
    [("transformer", {"d_model": 16, "heads": 3}), ("conv1d", {"chanels": (8,)}), ("transformer", {"head_dropout": 0.1}),
     ("mlp", {})],
)
def test_bad_experiments_fail_at_once(arch, params):
    with pytest.raises(ValueError):
        ex.Experiment("bad", arch, params)


def test_baseline_experiments_follow_the_2024_report():
    base = ex.baseline_experiments()
    a1, a2 = base["arch1-baseline-2024"], base["arch2-baseline-2024"]
    assert (a1.arch, a2.arch) == ("conv1d", "transformer")
    for exp in (a1, a2):
        assert exp.params["channels"] == (32, 64, 128) and exp.params["kernel_size"] == 3
        assert exp.params["activation"] == "relu" and exp.params["pool"] == "max" and exp.params["pool_size"] == 2
        t = exp.train
        assert (t.lr, t.batch_size, t.epochs, t.weight_decay, t.warmup_epochs, t.label_smoothing) == (1e-3, 64, 100, 0, 0, 0)
        assert not (t.augment.time_shift or t.augment.spec_augment or t.augment.mixup)
    assert a1.params["global_pool"] == "avg"
    assert (a2.params["d_model"], a2.params["heads"], a2.params["depth"]) == (128, 4, 2)


# --------------------------------------------------------------------------- cross-validation


def test_run_cv_writes_folds_summary_and_oof(meta, features, tmp_path):
    summary = run_cv(ARCH1, meta, features, tmp_path)
    out = tmp_path / "arch1" / "cv"
    for k in range(1, 6):
        fold = json.loads((out / f"fold{k}.json").read_text())
        assert fold["fold"] == k and fold["key"] == ARCH1.key() and fold["epochs"] == 2
        assert {"metrics", "history", "params", "train_seconds", "experiment"} <= set(fold)
        assert fold["metrics"]["n"] == 10 and len(fold["history"]) == 2 and "val_acc" in fold["history"][0]
        probs = pd.read_csv(out / f"fold{k}.csv")
        assert list(probs.columns[:3]) == ["filename", "fold", "target"] and (probs["fold"] == k).all()
        assert np.allclose(probs[[f"prob_{c}" for c in range(10)]].sum(axis=1), 1.0, atol=1e-4)
    stored = json.loads((out / "summary.json").read_text())
    assert stored["complete"] and [f["fold"] for f in stored["folds"]] == [1, 2, 3, 4, 5]
    assert stored["metrics"]["accuracy"]["n"] == 5
    assert stored["accuracy_mean"] == pytest.approx(np.mean([f["accuracy"] for f in stored["folds"]]))
    assert stored["params"]["trainable"] > 0 and stored["seconds_per_epoch"] > 0
    assert len(summary["per_fold"]) == 5 and summary["accuracy_mean"] == stored["accuracy_mean"]
    oof = ex.load_oof(tmp_path, "arch1")
    assert len(oof) == 50 and sorted(oof["filename"]) == sorted(meta["filename"])
    assert stored["pooled"]["accuracy"] == pytest.approx((oof["pred"] == oof["target"]).mean())
    assert ex.load_summary(tmp_path, "arch1")["key"] == ARCH1.key()


def test_rerun_is_a_no_op_and_a_changed_config_retrains(meta, features, tmp_path, monkeypatch, caplog):
    first = run_cv(ARCH1, meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    second = run_cv(ARCH1, meta, features, tmp_path)
    assert fit.calls == []
    assert second["accuracy_mean"] == first["accuracy_mean"] and second["pooled"] == first["pooled"]
    assert [f["metrics"] for f in second["per_fold"]] == [f["metrics"] for f in first["per_fold"]]

    changed = ARCH1.with_train(lr=1e-2)
    with caplog.at_level("WARNING", logger="audiolab.experiments"):
        third = run_cv(changed, meta, features, tmp_path, folds=(1, 2))
    assert len(fit.calls) == 2 and fit.calls[0]["config"].lr == 1e-2
    assert "another configuration" in caplog.text
    assert third["key"] == changed.key() and not third["complete"]


def test_killed_run_trains_only_the_missing_folds(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    run_cv(ARCH1, meta, features, tmp_path, folds=(1, 2))
    assert len(fit.calls) == 2
    assert not (tmp_path / "arch1" / "cv" / "fold3.json").exists()
    summary = run_cv(ARCH1, meta, features, tmp_path)
    assert len(fit.calls) == 5 and summary["complete"] and len(summary["folds"]) == 5
    # each fold trains on the other four: 40 clips, monitored on its own 10
    assert all(len(c["x_train"]) == 40 and len(c["x_val"]) == 10 for c in fit.calls)


def test_run_cv_rejects_selection_on_the_test_fold_and_mismatched_features(meta, features, tmp_path):
    with pytest.raises(ValueError, match="early_stopping"):
        run_cv(ARCH1.with_train(early_stopping=3), meta, features, tmp_path)
    with pytest.raises(ValueError, match="n_mels"):
        run_cv(ARCH1.replace(features=FeatureConfig(n_mels=32)), meta, features, tmp_path)
    coarser = FeatureConfig(**{**FC.to_dict(), "hop_length": 2 * FC.hop_length})  # same bands, half the frames
    with pytest.raises(ValueError, match=f"{features.shape[2]} frames but .* expects {coarser.num_frames}"):
        run_cv(ARCH1.replace(features=coarser), meta, features, tmp_path)
    with pytest.raises(ValueError, match="fold"):
        run_cv(ARCH1, meta, features, tmp_path, folds=(9,))


def test_tracking_errors_never_break_training(meta, features, tmp_path, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("W&B is down")

    monkeypatch.setattr(tracking, "start_run", broken)
    summary = run_cv(ARCH1, meta, features, tmp_path, folds=(1,), wandb_mode="offline")
    assert summary["folds"][0]["fold"] == 1


def test_offline_wandb_run_per_fold(meta, features, tmp_path):
    pytest.importorskip("wandb")
    run_cv(ARCH1, meta, features, tmp_path / "results", folds=(1,), wandb_mode="offline", wandb_dir=tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


# --------------------------------------------------------------------------- seed ensembles


def test_seed_ensemble_averages_its_members_and_reuses_the_base_run(meta, features, tmp_path, monkeypatch):
    run_cv(ARCH1, meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    ens = ex.run_seed_ensemble(ARCH1, [0, 1, 1], meta, features, results_dir=tmp_path, wandb_mode="disabled",
                               progress=False)
    assert len(fit.calls) == 5 and {c["config"].seed for c in fit.calls} == {1}  # seed 0 is ARCH1's own run
    assert ens["seeds"] == [0, 1] and [m["name"] for m in ens["members"]] == ["arch1", "arch1-seed1"]

    a, b = (ex.load_oof(tmp_path, n).set_index("filename") for n in ("arch1", "arch1-seed1"))
    cols = [c for c in a.columns if c.startswith("prob_")]
    mean = (a[cols] + b.loc[a.index, cols]) / 2
    correct = mean.to_numpy().argmax(1) == a["target"].to_numpy()
    expected = [correct[(a["fold"] == k).to_numpy()].mean() for k in range(1, 6)]
    assert [f["accuracy"] for f in ens["folds"]] == pytest.approx(expected)
    assert ens["params_trainable_total"] == 2 * ens["params"]["trainable"]
    assert ex.load_ensemble(tmp_path, "arch1")["accuracy_mean"] == pytest.approx(np.mean(expected))

    assert list(ex.comparison_table(tmp_path)["name"]) == ["arch1"]  # the extra seed is not a row of its own
    row = ex.ensemble_table(tmp_path).iloc[0]
    assert row["name"] == "arch1" and row["seeds"] == 2
    assert row["member_accuracy_min"] <= row["member_accuracy_mean"] <= row["member_accuracy_max"]
    with pytest.raises(ValueError, match="at least two seeds"):
        ex.run_seed_ensemble(ARCH1, [3], meta, features, results_dir=tmp_path)


# --------------------------------------------------------------------------- held-out test


def test_holdout_saves_a_model_that_reproduces_its_probabilities(meta, features, tmp_path, monkeypatch):
    result = ex.run_holdout(ARCH2, meta, features, results_dir=tmp_path, wandb_mode="disabled", progress=False)
    out = tmp_path / "arch2" / "holdout"
    assert result["split"]["test_fold"] == 5 and result["split"]["train_folds"] == [1, 2, 3, 4]
    assert result["n_train"] == 40 and result["metrics"]["n"] == 10
    assert json.loads((out / "result.json").read_text())["key"] == ARCH2.key()

    model, normalizer, info = load_checkpoint(out / "model.pt")
    assert info["arch"] == "transformer" and info["features"] == FC.to_dict() and len(info["classes"]) == 10
    stored = pd.read_csv(out / "probs.csv")
    test = np.flatnonzero(meta["fold"].to_numpy() == 5)
    assert list(stored["filename"]) == list(meta["filename"].iloc[test])
    probs = predict_proba(model, features[test], normalizer)
    assert np.allclose(probs, stored[[f"prob_{c}" for c in range(10)]].to_numpy(), atol=1e-5)

    fit = CountingFit(monkeypatch)
    again = ex.run_holdout(ARCH2, meta, features, results_dir=tmp_path, wandb_mode="disabled", progress=False)
    assert fit.calls == [] and again["metrics"] == result["metrics"]
    (out / "model.pt").unlink()
    ex.run_holdout(ARCH2, meta, features, results_dir=tmp_path, wandb_mode="disabled", progress=False)
    assert len(fit.calls) == 1 and (out / "model.pt").is_file()


# --------------------------------------------------------------------------- search


def test_search_never_sees_the_test_fold(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    space = {"lr": [1e-3, 3e-3], "kernel_size": [3, 5]}
    table = ex.search(ARCH1, space, meta, features, n_trials=3, results_dir=tmp_path, wandb_mode="disabled",
                      progress=False)
    assert len(fit.calls) == 3 and len(table) == 3
    folds = meta["fold"].to_numpy()
    test = features[folds == 5]
    val = features[folds == 4]
    for call in fit.calls:
        for seen in (call["x_train"], call["x_val"]):
            same = (seen[:, None] == test[None]).flatten(2).all(-1)
            assert not same.any(), "a test-fold clip reached the search"
        assert len(call["x_train"]) == 30 and torch.equal(call["x_val"], val)

    assert list(table.columns) == ["trial", "lr", "kernel_size", "val_accuracy", "val_macro_f1", "val_auc",
                                   "val_clips", "params_trainable", "seconds", "key"]
    assert table["val_accuracy"].is_monotonic_decreasing
    assert 0 in set(table["trial"])  # the base configuration is a trial
    base_row = table[table["trial"] == 0].iloc[0]
    assert (base_row["lr"], base_row["kernel_size"]) == (ARCH1.train.lr, 3)
    on_disk = pd.read_csv(tmp_path / "arch1" / "search" / "trials.csv")
    assert list(on_disk["key"]) == list(table["key"])
    assert len(list((tmp_path / "arch1" / "search").glob("trial-*.json"))) == 3

    again = ex.search(ARCH1, space, meta, features, n_trials=3, results_dir=tmp_path, wandb_mode="disabled",
                      progress=False)
    assert len(fit.calls) == 3  # resumed from disk
    pd.testing.assert_frame_equal(again, table)

    best = ex.best_experiment(ARCH1, on_disk, name="arch1-tuned")
    top = ex.chosen_trial(table)
    assert best.name == "arch1-tuned" and best.train.lr == top["lr"]
    assert best.resolved_params()["kernel_size"] == top["kernel_size"] and best.train.epochs == 2
    assert ex.best_experiment(ARCH1, on_disk, rule="best").train.lr == table.iloc[0]["lr"]


def test_search_with_two_validation_folds_pools_them(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    table = ex.search(ARCH1, {"lr": [1e-3, 3e-3]}, meta, features, n_trials=2, val_fold=(3, 4),
                      results_dir=tmp_path, wandb_mode="disabled", progress=False)
    assert len(fit.calls) == 4  # two trials x two validation folds
    folds = meta["fold"].to_numpy()
    assert set(table["val_clips"]) == {int(np.isin(folds, [3, 4]).sum())}  # what the standard error is computed on
    test = features[folds == 5]
    for call, v in zip(fit.calls, [3, 4, 3, 4]):
        assert torch.equal(call["x_val"], features[folds == v])
        train_folds = {f for f in (1, 2, 3, 4) if f != v}
        assert torch.equal(call["x_train"], features[np.isin(folds, list(train_folds))])
        assert not (call["x_train"][:, None] == test[None]).flatten(2).all(-1).any()
    stored = json.loads(next((tmp_path / "arch1" / "search").glob("trial-*.json")).read_text())
    assert stored["val_folds"] == [3, 4] and stored["metrics"]["n"] == int(np.isin(folds, [3, 4]).sum())
    assert [r["val_fold"] for r in stored["per_fold"]] == [3, 4]
    assert len(table) == 2
    with pytest.raises(ValueError, match="different folds"):
        ex.search(ARCH1, {"lr": [1e-3]}, meta, features, val_fold=(4, 5), results_dir=tmp_path, wandb_mode="disabled")


def test_search_trials_grid_random_and_determinism():
    space = {"lr": [1e-3, 3e-3], "kernel_size": [3, 5]}
    outside = ARCH1.with_train(lr=1e-2)  # the base is not a grid point: base + the 4 grid points
    grid = ex.search_trials(outside, space, n_trials=8)
    assert len(grid) == 5 and grid[0] == {"lr": 1e-2, "kernel_size": 3}
    assert len({json.dumps(t, sort_keys=True) for t in grid}) == 5
    inside = ex.search_trials(ARCH1, space, n_trials=8)  # base (lr 3e-3, kernel 3) is a grid point: not repeated
    assert len(inside) == 4 and inside[0] == {"lr": ARCH1.train.lr, "kernel_size": 3}
    assert len(ex.search_trials(outside, space, n_trials=4)) == 4  # grid + base > n_trials: random draws

    big = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "kernel_size": [3, 5, 7], "channels": [(8,), (8, 8), (8, 8, 8)]}
    a = ex.search_trials(ARCH1, big, n_trials=6, seed=1)
    assert len(a) == 6 and a[0] == {"lr": ARCH1.train.lr, "kernel_size": 3, "channels": (8, 8, 8)}
    assert len({json.dumps(t, sort_keys=True) for t in a}) == 6
    assert a == ex.search_trials(ARCH1, big, n_trials=6, seed=1)
    assert a != ex.search_trials(ARCH1, big, n_trials=6, seed=2)
    with pytest.raises(ValueError, match="unknown search key"):
        ex.search_trials(ARCH1, {"learning_rate": [1e-3]})


# --------------------------------------------------------------------------- reading results


def test_comparison_table(meta, features, tmp_path):
    run_cv(ARCH1, meta, features, tmp_path, folds=(1, 2))
    run_cv(ARCH2, meta, features, tmp_path, folds=(1, 2))
    ex.run_holdout(ARCH2, meta, features, results_dir=tmp_path, wandb_mode="disabled", progress=False,
                   save_model=False)
    table = ex.comparison_table(tmp_path)
    assert list(table["name"]) == ["arch1", "arch2"]
    for column in ["arch", "heads", "cv_accuracy_mean", "cv_accuracy_std", "cv_macro_f1_mean", "cv_macro_f1_std",
                   "cv_auc_mean", "cv_auc_std", "test_accuracy", "test_macro_f1", "test_auc", "params_trainable",
                   "params_non_trainable", "buffers", "train_seconds_total", "seconds_per_epoch", "accuracy"]:
        assert column in table.columns
    arch1, arch2 = table.iloc[0], table.iloc[1]
    assert pd.isna(arch1["heads"]) and arch2["heads"] == 2
    assert pd.isna(arch1["test_accuracy"]) and arch2["test_accuracy"] is not None
    assert arch1["accuracy"].endswith(" %") and " ± " in arch1["accuracy"]
    assert arch1["params_trainable"] < arch2["params_trainable"]
    assert (tmp_path / "comparison.csv").is_file()
    assert json.loads((tmp_path / "comparison.json").read_text())[1]["name"] == "arch2"
    with pytest.raises(FileNotFoundError, match="run_cv"):
        ex.load_summary(tmp_path, "nothing")


# --------------------------------------------------------------------------- sweeps


@pytest.mark.parametrize("name", sorted(ex.SPACES))
def test_committed_sweeps_match_the_spaces(name, tmp_path):
    arch, space = ex.SPACES[name]
    generated = ex.export_sweep(space, arch, tmp_path / f"{name}.yaml")
    committed = REPO / "sweeps" / f"{name}.yaml"
    assert committed.read_text() == generated.read_text(), (
        f"sweeps/{name}.yaml is stale: regenerate it with "
        f"audiolab.experiments.export_sweep(SPACES[{name!r}][1], {arch!r}, 'sweeps/{name}.yaml')"
    )


@pytest.mark.parametrize("name", sorted(ex.SPACES))
def test_every_sweep_value_is_an_option_of_audiolab_train(name):
    import yaml

    config = yaml.safe_load((REPO / "sweeps" / f"{name}.yaml").read_text())
    assert config["metric"] == {"name": ex.SWEEP_METRIC, "goal": "maximize"}
    assert "${args}" in config["command"] and "train" in config["command"]
    fixed = [c for c in config["command"] if c.startswith("--")]
    parser = build_parser()
    for key, spec in config["parameters"].items():
        for value in spec["values"]:
            args = parser.parse_args(["train", *fixed, f"--{key}={value}"])  # how W&B formats ${args}
            exp = ex.experiment_from_args(args)
            assert exp.key()


def test_export_sweep_rejects_keys_audiolab_train_lacks(tmp_path):
    with pytest.raises(ValueError, match="no option"):
        ex.export_sweep({"weight_decay": [0.0, 0.1]}, "conv1d", tmp_path / "x.yaml")
    with pytest.raises(ValueError, match="transformer only"):
        ex.export_sweep({"heads": [1, 2]}, "conv1d", tmp_path / "x.yaml")


def _trials(**columns) -> pd.DataFrame:
    table = pd.DataFrame({"trial": [0, 1, 2, 3], "lr": [3e-3, 1e-3, 3e-4, 1e-2],
                          "val_accuracy": [0.875, 0.88125, 0.8625, 0.80], "val_macro_f1": [0.87, 0.88, 0.85, 0.80],
                          "val_auc": [0.98] * 4, "val_clips": [160] * 4,
                          "params_trainable": [300_000, 900_000, 100_000, 50_000], "seconds": [1.0] * 4,
                          "key": ["a", "b", "c", "d"]})
    return table.assign(**columns)


def test_one_standard_error_rule_takes_the_smallest_model_close_to_the_best():
    table = _trials()
    se = (0.88125 * (1 - 0.88125) / 160) ** 0.5  # 2.6 points: trials 0, 1 and 2 are within it, trial 3 is not
    assert ex.validation_se(table) == pytest.approx(se)
    assert ex.chosen_trial(table, "best")["trial"] == 1
    assert ex.chosen_trial(table)["trial"] == 2  # 100k parameters, 0.8625 >= 0.88125 - 0.0256
    assert ex.best_experiment(ARCH1, table).train.lr == 3e-4
    assert ex.best_experiment(ARCH1, table, rule="best").train.lr == 1e-3
    many_clips = _trials(val_clips=[4000] * 4)  # a tight standard error: only the best trial is within it
    assert ex.chosen_trial(many_clips)["trial"] == 1
    text = ex.describe_choice(ARCH1, table, {"lr": [3e-4, 1e-3]})
    assert "**trial 1**" in text and "**trial 2**" in text and "one-standard-error" in text and "`lr`" in text


def test_choosing_a_trial_explains_bad_input():
    with pytest.raises(ValueError, match="rule='best'"):
        ex.chosen_trial(_trials().drop(columns="val_clips"))
    with pytest.raises(ValueError, match="unknown rule 'median'"):
        ex.chosen_trial(_trials(), "median")
    with pytest.raises(ValueError, match="run search"):
        ex.chosen_trial(_trials().iloc[:0])
