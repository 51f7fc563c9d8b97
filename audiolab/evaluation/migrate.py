"""Upgrade a results folder written before the typed configuration (audiolab 0.1, commit 7e33278).

Results of that version describe an experiment as ``{"arch", "params", "train": {..., "augment"},
"features"}``, where ``params`` lists only the model fields that differed from the model defaults
of the time. Today an experiment is ``{"arch", "model", "features", "train", "augment"}`` with
every field written out (:class:`~audiolab.experiment.Experiment`), so its key differs. Rather
than retrain, :func:`migrate_results` rewrites each stored result once:

* the experiment becomes the same configuration in today's form, and its key today's key
  (trial files are renamed, ``trials.csv`` columns take dotted names);
* a cross-validation fold's history calls the fold it scores ``test_*`` (it was ``val_*``);
* model checkpoints get today's full model parameters;
* a held-out split (``<name>/holdout/``) that is a copy of the official cross-validation's test
  fold (same key, byte-identical predictions) is folded into it: its model becomes the test-fold
  model ``<name>/cv/fold<k>.pt`` and the copy is removed.

Training is unchanged by this: the same configuration trains the same model. Augmentations that
are switched off take today's default parameters (they never ran), and fields that no longer
exist (``ema``, ``early_stopping``, ``freq_shift``) must have been off; otherwise the result is
left alone with a warning.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import torch

from .._util import PathLike, atomic_write, read_json, write_csv, write_json
from ..augment import AugmentConfig
from ..experiment import Experiment
from ..features import FeatureConfig
from ..models import model_config
from ..train import TrainConfig
from .selection import TRIAL_RESULT_COLUMNS

__all__ = ["migrate_results", "upgrade_experiment", "is_legacy"]

logger = logging.getLogger("audiolab")

# The model and front-end defaults of audiolab 0.1, against which its ``params`` were written.
_CONV = dict(channels=(128, 128, 256, 256), kernel_size=5, stride=1, activation="relu", pool="max", pool_size=2,
             dropout=0.1)
_CONV1D = dict(global_pool="avgmax", head_dropout=0.3)
_TRANSFORMER = dict(channels=(128, 128, 128), d_model=128, heads=4, depth=2, mlp_ratio=2.0, attention_dropout=0.0,
                    mlp_activation="gelu", max_tokens=128)
_FEATURES = dict(n_fft=1024, hop_length=512, floor_db=None)
_GONE = {"ema": None, "early_stopping": None, "freq_shift": 0}
# Each augmentation's switch and the parameters that only matter when it is on.
_AUGMENT_PARAMS = {"spec_augment": ("time_masks", "time_mask_width", "freq_masks", "freq_mask_width"),
                   "mixup": ("mixup_alpha",), "random_eq": ("eq_strength",)}


def is_legacy(experiment: Any) -> bool:
    """Whether ``experiment`` is an experiment dict of audiolab 0.1."""
    return isinstance(experiment, dict) and "params" in experiment and "model" not in experiment


def upgrade_experiment(d: dict) -> Experiment:
    """The :class:`Experiment` that trains exactly like the audiolab 0.1 experiment dict ``d``."""
    params = dict(d.get("params") or {})
    params.pop("global_pool", None) if d["arch"] == "transformer" else None  # never read by Architecture 2
    defaults = {**_CONV, **(_CONV1D if d["arch"] == "conv1d" else _TRANSFORMER)}
    model = model_config(d["arch"], {**defaults, **params})  # one `dropout` serves conv and transformer alike
    train = dict(d.get("train") or {})
    augment = dict(train.pop("augment", None) or {})
    for name, off in _GONE.items():
        value = (augment if name == "freq_shift" else train).pop(name, off)
        if value != off:
            raise ValueError(f"{d.get('name')!r} uses {name}={value!r}, which audiolab no longer has")
    defaults_aug = AugmentConfig()
    for switch, names in _AUGMENT_PARAMS.items():
        if not augment.get(switch, getattr(defaults_aug, switch)):
            augment.update({n: getattr(defaults_aug, n) for n in names})
    features = d.get("features") or dataclasses.replace(FeatureConfig(), **_FEATURES).to_dict()
    return Experiment(name=d["name"], model=model, features=FeatureConfig(**features), train=TrainConfig(**train),
                      augment=AugmentConfig(**augment), description=d.get("description", ""))


def _upgrade_record(record: dict, keys: dict, cv_fold: bool) -> bool:
    """Upgrade one stored record in place; ``keys`` collects old key -> new key. Whether it changed."""
    if not is_legacy(record.get("experiment")):
        return False
    exp = upgrade_experiment(record["experiment"])
    record["experiment"] = exp.to_dict()
    if "key" in record:
        keys[record["key"]] = exp.key()
        record["key"] = exp.key()
    if isinstance(record.get("values"), dict):  # a search trial's searched values, by dotted name
        record["values"] = {".".join(exp.resolve(k)): v for k, v in record["values"].items()}
    if cv_fold:  # the fold a cross-validation model is scored on is its test fold
        record["history"] = [{k.replace("val_", "test_", 1) if k.startswith("val_") else k: v for k, v in row.items()}
                             for row in record.get("history", [])]
    return True


def _upgrade_checkpoint(path: Path, keys: dict) -> bool:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    info = payload.get("info", {})
    if info.get("key") not in keys:
        return False
    legacy = {"name": info.get("experiment", "model"), "arch": info["arch"], "params": info["params"],
              "train": {}, "features": info.get("features")}
    info["params"] = upgrade_experiment(legacy).model.to_dict()
    info["key"] = keys[info["key"]]
    atomic_write(path, lambda handle: torch.save(payload, handle), binary=True)
    return True


def _upgrade_trials_csv(path: Path, keys: dict) -> bool:
    table = pd.read_csv(path, dtype={"key": str})  # a key of decimal digits only is still a key
    if "key" not in table.columns or not table["key"].isin(list(keys)).any():
        return False
    probe = Experiment()
    renamed = {}
    for column in table.columns:
        if column != "trial" and column not in TRIAL_RESULT_COLUMNS and "." not in column:
            try:
                renamed[column] = ".".join(probe.resolve(column))
            except ValueError:  # a transformer-only field: resolve it on Architecture 2
                renamed[column] = ".".join(probe.replace(model=model_config("transformer")).resolve(column))
    table = table.rename(columns=renamed)
    table["key"] = table["key"].map(lambda k: keys.get(k, k))
    write_csv(path, table)
    return True


def _fold_holdout_into_cv(holdout: Path) -> bool:
    """Replace ``<name>/holdout/`` by the test-fold model of ``<name>/cv/`` when it is a copy of that fold."""
    result = read_json(holdout / "result.json") or {}
    fold = (result.get("split") or {}).get("test_fold")
    cv = holdout.parent / "cv"
    record = read_json(cv / f"fold{fold}.json") or {}
    same = (fold is not None and record.get("key") == result.get("key") and (holdout / "probs.csv").is_file()
            and (cv / f"fold{fold}.csv").is_file()
            and (holdout / "probs.csv").read_bytes() == (cv / f"fold{fold}.csv").read_bytes())
    if not same:
        logger.warning("left %s as it is: it is not a copy of a cross-validation fold", holdout)
        return False
    if (holdout / "model.pt").is_file():
        os.replace(holdout / "model.pt", cv / f"fold{fold}.pt")
    shutil.rmtree(holdout)
    return True


def migrate_results(root: PathLike, keys: Optional[dict] = None) -> dict:
    """Upgrade every audiolab 0.1 result under ``root`` in place; returns ``{old key: new key}`` (and
    ``"holdout:<name>": "cv"`` for each held-out split folded into its cross-validation).

    Idempotent: a folder already in today's form is left untouched (and ``{}`` returned).
    """
    root = Path(root)
    keys = {} if keys is None else keys
    for path in sorted(root.rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        try:
            changed = _upgrade_record(record, keys, cv_fold=path.parent.name == "cv" and path.stem.startswith("fold"))
        except ValueError as error:
            logger.warning("left %s as it is: %s", path, error)
            continue
        if changed:
            write_json(path, record)
            if path.stem.startswith("trial-") and path.stem != f"trial-{record['key']}":
                path.rename(path.with_name(f"trial-{record['key']}.json"))
    for path in sorted(root.rglob("trials.csv")):
        _upgrade_trials_csv(path, keys)
    for path in sorted(root.rglob("*.pt")):
        _upgrade_checkpoint(path, keys)
    for holdout in sorted(p.parent for p in root.glob("*/holdout/result.json")):
        if _fold_holdout_into_cv(holdout):
            keys.setdefault(f"holdout:{holdout.parent.name}", "cv")
    return keys
