"""The fixed held-out split: train on every fold but the test fold, score the test fold once.

The model is saved with its normaliser (:mod:`audiolab.checkpoint`), so ``audiolab predict``
can use it on new recordings.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import torch

from .._util import PathLike
from ..checkpoint import save_checkpoint
from ..data import holdout_split
from ..experiment import Experiment
from ..tracking import resolve_mode
from .runner import check_inputs, class_names, probs_table, train_and_score
from .store import ResultsStore, data_fingerprint

__all__ = ["run_holdout"]


def run_holdout(
    exp: Experiment,
    meta: pd.DataFrame,
    features: torch.Tensor,
    store: "ResultsStore | PathLike",
    test_fold: int = 5,
    val_fold: int = 4,
    wandb_mode: Optional[str] = None,
    progress: bool = True,
    save_model: bool = True,
    wandb_dir: Optional[PathLike] = None,
) -> dict:
    """Train on every fold but ``test_fold`` and evaluate the last-epoch model on ``test_fold``.

    The history's ``val_*`` columns are computed on ``val_fold``, which is part of the training
    set: a fit check, not a generalisation estimate; neither fold ever selects weights.

    Stores ``<name>/holdout/result.json`` (the fields of a CV fold plus ``split``), ``probs.csv``
    and, with ``save_model``, ``model.pt``. Reused when the key, the clips and (with
    ``save_model``) ``model.pt`` are all there.
    """
    store = ResultsStore.of(store)
    y = check_inputs(exp, meta, features)
    resolve_mode(wandb_mode)
    classes = class_names(meta)
    split = holdout_split(meta, test_fold=test_fold, val_fold=val_fold)
    train_idx = np.sort(np.concatenate([split["train"], split["val"]]))
    val_idx, test_idx = split["val"], split["test"]
    out = store.holdout_dir(exp.name)
    json_path, csv_path, model_path = out / "result.json", out / "probs.csv", out / "model.pt"
    key = exp.key()
    data = data_fingerprint(meta, train_idx, val_idx, test_idx)
    stored = store.read(json_path)
    if store.reusable(stored, key, data, json_path, needs=[csv_path] + ([model_path] if save_model else [])):
        return stored

    run_args = dict(name=f"{exp.name}-holdout", group=exp.name, job_type="holdout", mode=wandb_mode, dir=wandb_dir,
                    config={**exp.to_dict(), "test_fold": test_fold, "val_fold": val_fold, "key": key},
                    tags=[exp.arch, "holdout"])
    result, probs, record = train_and_score(exp, features, y, train_idx, test_idx, classes, "test", run_args,
                                            progress, f"{exp.name} holdout", monitor=("val", val_idx))
    train_folds = sorted(int(f) for f in meta["fold"].iloc[train_idx].unique())
    record = {
        "split": {
            "test_fold": int(test_fold),
            "val_fold": int(val_fold),
            "train_folds": train_folds,
            "train_on_val": True,
            "n_train": int(len(train_idx)),
            "n_val": int(len(val_idx)),
            "n_test": int(len(test_idx)),
            "description": (f"train on folds {train_folds}, history monitored on fold {val_fold} (in the training "
                            f"set), last-epoch model evaluated on fold {test_fold}"),
        },
        **record,
        "experiment": exp.to_dict(),
        "key": key,
        "data": data,
    }
    store.write_csv(csv_path, probs_table(meta, test_idx, probs))
    if save_model:
        info = {"arch": exp.arch, "params": exp.model.to_dict(), "n_mels": exp.features.n_mels,
                "classes": list(classes), "features": exp.features.to_dict(), "experiment": exp.name, "key": key,
                "tta_shifts": exp.train.tta_shifts}
        save_checkpoint(model_path, result.model.cpu(), result.normalizer.cpu(), record["returned_epoch"], info)
        record["model"] = model_path.name
    store.write_json(json_path, record)
    return store.read(json_path)
