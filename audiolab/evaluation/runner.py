"""Train one model on one split and score it: the step every protocol repeats.

:func:`train_and_score` seeds, builds the experiment's model, fits it on the training clips
(scoring ``eval_idx`` after each epoch for the history only), evaluates the **last-epoch**
model on ``eval_idx`` and logs it to W&B (:mod:`audiolab.evaluation.run_log`, which never
breaks training).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ..data import ESC10_CLASSES
from ..experiment import Experiment
from ..metrics import count_parameters, evaluate
from ..models import build_model
from ..train import fit, predict_proba, seed_everything
from .run_log import WANDB_PROJECT, RunLog, open_run_log

__all__ = ["train_and_score", "check_inputs", "class_names", "probs_table", "prob_columns", "WANDB_PROJECT"]


def class_names(meta: pd.DataFrame) -> tuple[str, ...]:
    """The class names of a metadata table (ESC-10's when it does not say)."""
    return tuple(meta.attrs.get("classes") or ESC10_CLASSES)


def check_inputs(exp: Experiment, meta: pd.DataFrame, features: torch.Tensor) -> np.ndarray:
    """The labels of ``meta``, after checking that ``features`` are this experiment's features of its clips."""
    if not isinstance(exp, Experiment):
        raise TypeError(f"expected an Experiment, got {type(exp).__name__}")
    if len(features) != len(meta):
        raise ValueError(
            f"features has {len(features)} clips but meta has {len(meta)} rows: compute them with "
            "audiolab.data.load_features(meta, exp.features) from the same table"
        )
    if features.ndim != 3 or features.shape[1] != exp.features.n_mels:
        raise ValueError(
            f"features of shape {tuple(features.shape)} do not fit experiment {exp.name!r} "
            f"(n_mels={exp.features.n_mels}): compute them with load_features(meta, exp.features)"
        )
    if features.shape[2] != exp.features.num_frames:
        raise ValueError(
            f"features have {features.shape[2]} frames but experiment {exp.name!r} expects "
            f"{exp.features.num_frames} (hop {exp.features.hop_length}, {exp.features.duration:g} s): "
            "they come from another front-end; compute them with load_features(meta, exp.features)"
        )
    return meta["target"].to_numpy().astype(np.int64)


def probs_table(meta: pd.DataFrame, idx: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """Per-clip probabilities: filename, fold, target, prob_0, prob_1, ..."""
    rows = meta.iloc[idx]
    table = pd.DataFrame(
        {"filename": rows["filename"].to_numpy(), "fold": rows["fold"].to_numpy(), "target": rows["target"].to_numpy()}
    )
    for c in range(probs.shape[1]):
        table[f"prob_{c}"] = probs[:, c]
    return table


def prob_columns(table: pd.DataFrame) -> list[str]:
    return sorted((c for c in table.columns if c.startswith("prob_")), key=lambda c: int(c[5:]))


def _fit_and_score(exp: Experiment, features: torch.Tensor, y: np.ndarray, train_idx: np.ndarray,
                   eval_idx: np.ndarray, classes: Sequence[str], eval_name: str, on_epoch, progress: bool,
                   description: str):
    """Seed, build, fit, score the last-epoch model: ``(TrainResult, probabilities of eval_idx, record)``."""
    seed_everything(exp.train.seed)  # the initial weights depend on the seed too
    model = build_model(exp.model, exp.features.n_mels, len(classes))
    params = count_parameters(model)
    result = fit(model, features[train_idx], y[train_idx], features[eval_idx], y[eval_idx], config=exp.train,
                 augment=exp.augment, eval_name=eval_name, on_epoch=on_epoch, progress=progress,
                 description=description)
    probs = predict_proba(result.model, features[eval_idx], result.normalizer, exp.train.eval_batch_size,
                          exp.train.tta_shifts)
    record = {
        "metrics": evaluate(y[eval_idx], probs, classes),
        "history": result.history,
        "params": params,
        "train_seconds": float(result.seconds),
        "epochs": len(result.history),
        "returned_epoch": int(result.best_epoch),
        "device": result.device,
        "n_train": int(len(train_idx)),
        "n_eval": int(len(eval_idx)),
    }
    return result, probs, record


def train_and_score(
    exp: Experiment,
    features: torch.Tensor,
    y: np.ndarray,
    train_idx: np.ndarray,
    eval_idx: np.ndarray,
    classes: Sequence[str],
    eval_name: str,
    run_args: "Mapping[str, Any] | RunLog",
    progress: bool = True,
    description: str = "training",
    meta: Optional[pd.DataFrame] = None,
):
    """``(TrainResult, probabilities of eval_idx, record)`` for one split.

    ``eval_name`` names the scored clips in the history and in W&B: ``"test"`` for a
    cross-validation test fold, ``"val"`` for a validation fold; the history scores them after every
    epoch. W&B (:mod:`audiolab.evaluation.run_log`), through ``run_args``, either:

    * the arguments of :func:`audiolab.tracking.start_run` for a run of this split alone: it gets every
      epoch and the scored result (with the prediction table when ``meta``, the table ``features`` were
      computed from, is given), and is finished here (as failed if training raises); or
    * a :class:`~audiolab.evaluation.run_log.RunLog` the caller opened: it gets the epochs only, and the
      caller logs the result (:meth:`RunLog.scored`) and the result files, then finishes it. This is how
      the result files become an artifact of the run, and how a search trial's folds share one run.
    """
    if isinstance(run_args, RunLog):
        return _fit_and_score(exp, features, y, train_idx, eval_idx, classes, eval_name, run_args.epoch, progress,
                              description)
    with open_run_log(run_args, eval_name) as log:
        result, probs, record = _fit_and_score(exp, features, y, train_idx, eval_idx, classes, eval_name, log.epoch,
                                               progress, description)
        log.scored(y[eval_idx], probs, record["metrics"], classes, record["params"],
                   clips=meta.iloc[eval_idx] if meta is not None else None, features=exp.features)
    return result, probs, record
