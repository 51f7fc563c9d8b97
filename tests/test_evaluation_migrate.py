"""audiolab.evaluation.migrate: results of audiolab 0.1 become today's results, once, without retraining."""
import hashlib
import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from audiolab import configs
from audiolab.checkpoint import load_checkpoint
from audiolab.data import ESC10_CLASSES
from audiolab.evaluation import migrate_results
from audiolab.evaluation.migrate import is_legacy, upgrade_experiment
from audiolab.features import Normalizer
from audiolab.models import TransformerConfig, build_model

REPO = Path(__file__).resolve().parents[1]

# What audiolab 0.1 (commit 7e33278) wrote: model params as given, TrainConfig with ema, early stopping and
# the augmentations inside, freq_shift among them.
LEGACY_AUGMENT = dict(time_shift=True, spec_augment=True, time_masks=2, time_mask_width=10, freq_masks=2,
                      freq_mask_width=8, mixup=True, mixup_alpha=0.4, random_eq=True, eq_strength=0.5, freq_shift=0)
LEGACY_TRAIN = dict(epochs=100, batch_size=32, lr=0.003, weight_decay=0.05, warmup_epochs=5, label_smoothing=0.1,
                    per_clip_norm=True, tta_shifts=8, grad_clip=5.0, ema=None, early_stopping=None, seed=0,
                    device="auto", amp=True, eval_batch_size=256, augment=LEGACY_AUGMENT)
LEGACY_FEATURES = dict(sample_rate=22050, duration=5.0, n_fft=2048, hop_length=1024, n_mels=64, f_min=20.0,
                       f_max=None, top_db=80.0, floor_db=-30.0)
ARCH2_PARAMS = {"channels": [64, 128, 128], "kernel_size": 5, "stride": [2, 1, 1], "activation": "relu", "pool": "max",
                "dropout": 0.0, "d_model": 64, "heads": 2, "depth": 2}


def legacy_arch1(name="arch1", **train):
    params = {"channels": [64, 128, 128, 256], "kernel_size": train.pop("kernel_size", 5), "stride": [1, 2, 2, 2],
              "activation": "relu", "pool": "max", "dropout": 0.1, "global_pool": "avgmax"}
    return {"name": name, "arch": "conv1d", "params": params, "train": {**LEGACY_TRAIN, **train},
            "features": LEGACY_FEATURES, "description": configs.arch1().description}


def legacy_arch2():
    return {"name": "arch2-heads2", "arch": "transformer", "params": ARCH2_PARAMS,
            "train": {**LEGACY_TRAIN, "lr": 0.001}, "features": LEGACY_FEATURES, "description": ""}


def legacy_key(d):
    """The key audiolab 0.1 gave an experiment dict."""
    d = {k: v for k, v in d.items() if k not in ("name", "description")}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _record(experiment, history_prefix="val", **fields):
    history = [{"epoch": 1, "lr": 0.001, "train_loss": 2.0, "train_acc": 0.2, f"{history_prefix}_loss": 1.9,
                f"{history_prefix}_acc": 0.3, "seconds": 0.1}]
    return {"metrics": {"accuracy": 0.3, "n": 10}, "history": history, "params": {"trainable": 1},
            "train_seconds": 1.0, "epochs": 1, "experiment": experiment, "key": legacy_key(experiment),
            "data": "0123abcd", **fields}


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def legacy(tmp_path):
    """A results folder of audiolab 0.1: a CV fold, a search trial with its table, a held-out model."""
    root = tmp_path / "results"
    fold = _record(legacy_arch1(), fold=1)
    _write(root / "arch1" / "cv" / "fold1.json", fold)
    (root / "arch1" / "cv" / "fold1.csv").write_text("filename,fold,target,prob_0\n1-100000-A.ogg,1,0,1.0\n")
    trial_exp = legacy_arch1("arch1-trial1", lr=0.001, kernel_size=3)
    trial = _record(trial_exp, trial=1, values={"lr": 0.001, "kernel_size": 3}, val_folds=[4], test_fold=5)
    trial["per_fold"] = [{"val_fold": 4, "history": trial.pop("history")}]
    _write(root / "arch1" / "search" / f"trial-{trial['key']}.json", trial)
    pd.DataFrame({"trial": [1, 0], "lr": [0.001, 0.003], "kernel_size": [3, 5], "val_accuracy": [0.9, 0.8],
                  "val_macro_f1": [0.9, 0.8], "val_auc": [0.99, 0.98], "val_clips": [80, 80],
                  "params_trainable": [10, 10], "seconds": [1.0, 1.0], "key": [trial["key"], fold["key"]]}
                 ).to_csv(root / "arch1" / "search" / "trials.csv", index=False)

    holdout = _record(legacy_arch2(), model="model.pt", split={"test_fold": 5, "val_fold": 4})
    _write(root / "arch2-heads2" / "holdout" / "result.json", holdout)
    torch.manual_seed(0)
    model = build_model(TransformerConfig(heads=2)).eval()
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in ARCH2_PARAMS.items()}  # 0.1 saved tuples
    info = {"arch": "transformer", "params": params, "n_mels": 64, "features": LEGACY_FEATURES,
            "classes": list(ESC10_CLASSES), "experiment": "arch2-heads2", "key": holdout["key"], "tta_shifts": 8}
    payload = {"model": model.state_dict(), "normalizer": Normalizer(64).state_dict(), "epoch": 100, "info": info}
    torch.save(payload, root / "arch2-heads2" / "holdout" / "model.pt")
    return root, {"fold": fold["key"], "trial": trial["key"], "holdout": holdout["key"]}, model


def test_the_hand_made_records_are_what_audiolab_0_1_wrote():
    assert legacy_key(legacy_arch1()) == "997d5bbbdbf4"  # reports/results/arch1/cv/fold1.json at 7e33278
    assert legacy_key(legacy_arch2()) == "076125025937"  # reports/results/arch2-heads2/holdout/result.json
    assert is_legacy(legacy_arch1()) and not is_legacy(configs.arch1().to_dict()) and not is_legacy(None)


def test_old_keys_become_the_keys_of_todays_configurations(legacy):
    root, old, _ = legacy
    keys = migrate_results(root)
    trial = configs.arch1().replace({"train.lr": 1e-3, "model.kernel_size": 3})
    assert keys == {old["fold"]: configs.arch1().key(), old["trial"]: trial.key(),
                    old["holdout"]: configs.arch2(2).key()}
    fold = json.loads((root / "arch1" / "cv" / "fold1.json").read_text())
    assert fold["experiment"] == configs.arch1().to_dict() and fold["key"] == configs.arch1().key()
    assert json.loads((root / "arch2-heads2" / "holdout" / "result.json").read_text())["key"] == configs.arch2(2).key()


def test_a_cv_fold_history_calls_its_fold_the_test_fold(legacy):
    root, _, _ = legacy
    csv = (root / "arch1" / "cv" / "fold1.csv").read_bytes()
    migrate_results(root)
    [row] = json.loads((root / "arch1" / "cv" / "fold1.json").read_text())["history"]
    assert row["test_acc"] == 0.3 and row["test_loss"] == 1.9 and "val_acc" not in row
    assert (root / "arch1" / "cv" / "fold1.csv").read_bytes() == csv  # probabilities need no change
    # a held-out run's history watches the validation fold: it stays val_*
    [row] = json.loads((root / "arch2-heads2" / "holdout" / "result.json").read_text())["history"]
    assert "val_acc" in row and "test_acc" not in row


def test_a_trial_file_takes_its_new_key_and_dotted_values(legacy):
    root, old, _ = legacy
    keys = migrate_results(root)
    search = root / "arch1" / "search"
    assert sorted(p.name for p in search.glob("trial-*.json")) == [f"trial-{keys[old['trial']]}.json"]
    trial = json.loads((search / f"trial-{keys[old['trial']]}.json").read_text())
    assert trial["values"] == {"train.lr": 0.001, "model.kernel_size": 3}
    assert "val_acc" in trial["per_fold"][0]["history"][0]  # a trial is scored on a validation fold


def test_trials_csv_columns_become_dotted_and_keys_new(legacy):
    root, old, _ = legacy
    keys = migrate_results(root)
    table = pd.read_csv(root / "arch1" / "search" / "trials.csv")
    assert list(table.columns) == ["trial", "train.lr", "model.kernel_size", "val_accuracy", "val_macro_f1", "val_auc",
                                   "val_clips", "params_trainable", "seconds", "key"]
    assert list(table["key"]) == [keys[old["trial"]], keys[old["fold"]]] and list(table["train.lr"]) == [0.001, 0.003]


def test_transformer_only_columns_are_found_on_architecture_2(tmp_path):
    experiment = legacy_arch2()
    _write(tmp_path / "arch2" / "search" / "trial-x.json", _record(experiment, trial=0, values={"heads": 2}))
    pd.DataFrame({"trial": [0], "heads": [2], "d_model": [64], "val_accuracy": [0.9], "key": [legacy_key(experiment)]}
                 ).to_csv(tmp_path / "arch2" / "search" / "trials.csv", index=False)
    migrate_results(tmp_path)
    table = pd.read_csv(tmp_path / "arch2" / "search" / "trials.csv")
    assert list(table.columns) == ["trial", "model.heads", "model.d_model", "val_accuracy", "key"]
    assert table["key"].iloc[0] == configs.arch2(2).key()


def test_the_migrated_checkpoint_builds_the_same_model(legacy):
    root, _, original = legacy
    migrate_results(root)
    model, _, info = load_checkpoint(root / "arch2-heads2" / "holdout" / "model.pt")
    assert info["params"] == TransformerConfig(heads=2).to_dict() and info["key"] == configs.arch2(2).key()
    x = torch.randn(2, 64, 108)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x))


def test_migrating_twice_changes_nothing(legacy):
    root, _, _ = legacy
    assert migrate_results(root)
    before = _snapshot(root)
    assert migrate_results(root) == {}
    assert _snapshot(root) == before


def test_a_result_that_used_a_removed_feature_is_left_alone(tmp_path, caplog):
    path = tmp_path / "old" / "cv" / "fold1.json"
    _write(path, _record(legacy_arch1("old", ema=0.999), fold=1))
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="audiolab"):
        assert migrate_results(tmp_path) == {}
    assert "ema=0.999" in caplog.text and "no longer has" in caplog.text and path.read_bytes() == before


def test_legacy_defaults_and_switched_off_augmentations():
    bare = upgrade_experiment({"name": "x", "arch": "conv1d", "params": {}, "train": {}})
    assert bare.model.channels == (128, 128, 256, 256) and bare.model.stride == 1  # the model defaults of 0.1
    assert (bare.features.n_fft, bare.features.hop_length, bare.features.floor_db) == (1024, 512, None)
    baseline = {"name": "arch1-baseline-2024", "arch": "conv1d",
                "params": {"channels": [32, 64, 128], "kernel_size": 3, "stride": 1, "activation": "relu",
                           "pool": "max", "pool_size": 2, "dropout": 0.0, "global_pool": "avg", "head_dropout": 0.0},
                "train": {**LEGACY_TRAIN, "batch_size": 64, "lr": 0.001, "weight_decay": 0.0, "warmup_epochs": 0,
                          "label_smoothing": 0.0, "per_clip_norm": False, "tta_shifts": 1, "grad_clip": None,
                          "augment": {**LEGACY_AUGMENT, "time_shift": False, "spec_augment": False, "mixup": False,
                                      "random_eq": False, "time_mask_width": 20}},  # off: its width never mattered
                "features": {**LEGACY_FEATURES, "n_fft": 1024, "hop_length": 512, "floor_db": None}}
    assert upgrade_experiment(baseline).key() == configs.baseline_experiments()["arch1-baseline-2024"].key()


def _holdout_and_fold(root, name="arch1", fold=5, key="k", probs="filename,fold,target,prob_0\n1-1-A.ogg,5,0,1.0\n"):
    """Today's official cross-validation fold ``fold`` of ``name`` and a held-out folder of audiolab 0.1 beside it."""
    cv, holdout = root / name / "cv", root / name / "holdout"
    _write(cv / f"fold{fold}.json", {"fold": fold, "key": "k", "metrics": {"accuracy": 1.0, "n": 1}})
    (cv / f"fold{fold}.csv").write_text("filename,fold,target,prob_0\n1-1-A.ogg,5,0,1.0\n")
    _write(holdout / "result.json", {"split": {"test_fold": fold, "val_fold": 4}, "key": key, "model": "model.pt"})
    (holdout / "probs.csv").write_text(probs)
    torch.save({"info": {"key": key}, "model": {"w": torch.arange(3.0)}}, holdout / "model.pt")
    return cv, holdout, (holdout / "model.pt").read_bytes()


def test_a_held_out_copy_of_the_test_fold_becomes_its_model(tmp_path):
    cv, holdout, model = _holdout_and_fold(tmp_path)
    assert migrate_results(tmp_path) == {"holdout:arch1": "cv"}
    assert (cv / "fold5.pt").read_bytes() == model and not holdout.exists()
    assert migrate_results(tmp_path) == {}  # once


@pytest.mark.parametrize("change", [{"key": "other"}, {"probs": "filename,fold,target,prob_0\n1-1-A.ogg,5,0,0.9\n"}])
def test_a_held_out_split_that_differs_from_the_test_fold_is_left_alone(tmp_path, caplog, change):
    cv, holdout, _ = _holdout_and_fold(tmp_path, **change)
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.WARNING, logger="audiolab"):
        assert migrate_results(tmp_path) == {}
    assert _snapshot(tmp_path) == before and not (cv / "fold5.pt").exists()
    assert "not a copy of a cross-validation fold" in caplog.text


def test_the_committed_results_are_already_migrated(tmp_path):
    """Nothing in reports/results changes key; a held-out folder (if any is left) is a copy of its
    cross-validation's test fold and becomes that fold's model."""
    root = tmp_path / "results"
    shutil.copytree(REPO / "reports" / "results", root, ignore=shutil.ignore_patterns("*.tmp"))
    before = _snapshot(root)
    holdouts = sorted(p.parent.parent.name for p in root.glob("*/holdout/result.json"))
    assert migrate_results(root) == {f"holdout:{name}": "cv" for name in holdouts}  # no key of today changes
    after = _snapshot(root)
    moved = {}
    for name in holdouts:
        fold = json.loads(before[Path(name, "holdout", "result.json")])["split"]["test_fold"]
        assert not (root / name / "holdout").exists()
        if Path(name, "holdout", "model.pt") in before:
            moved[Path(name, "cv", f"fold{fold}.pt")] = before[Path(name, "holdout", "model.pt")]
    kept = {p: b for p, b in before.items() if p.parts[1:2] != ("holdout",)}
    assert after == {**kept, **moved}  # every other file is byte for byte what it was
    assert migrate_results(root) == {} and _snapshot(root) == after
