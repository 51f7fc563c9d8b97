"""Train one model on one split and score it: the step every protocol repeats.

:func:`train_and_score` seeds, builds the experiment's model, fits it on the training clips
(scoring ``eval_idx`` after each epoch for the history only), evaluates the **last-epoch**
model on ``eval_idx`` and logs everything to one W&B run (:mod:`audiolab.tracking`, which
never breaks training).
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import tracking
from ..data import ESC10_CLASSES
from ..experiment import Experiment
from ..metrics import count_parameters, evaluate
from ..models import build_model
from ..train import fit, predict_proba, seed_everything

__all__ = ["train_and_score", "check_inputs", "class_names", "probs_table", "prob_columns", "WANDB_PROJECT"]

logger = logging.getLogger("audiolab")

WANDB_PROJECT = "audiolab"


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


def _log_result(run, metrics: dict, classes: Sequence[str], prefix: str) -> None:
    """Summary metrics plus confusion-matrix and ROC figures (only built when the run is real)."""
    run.summary({f"{prefix}_accuracy": metrics["accuracy"], f"{prefix}_macro_f1": metrics["macro_f1"],
                 f"{prefix}_auc": metrics["auc_macro_ovr"]})
    if not run.enabled:
        return
    try:
        from .. import plots

        run.log_figure("confusion_matrix", plots.confusion_matrix(metrics["confusion_matrix"], classes))
        run.log_figure("roc_curves", plots.roc_curves(metrics["roc"]))
    except Exception as error:  # figures are a nicety: never lose a trained model over them
        logger.warning("W&B figures failed (%s); continuing", error)


def train_and_score(
    exp: Experiment,
    features: torch.Tensor,
    y: np.ndarray,
    train_idx: np.ndarray,
    eval_idx: np.ndarray,
    classes: Sequence[str],
    eval_name: str,
    run_args: Mapping[str, Any],
    progress: bool = True,
    description: str = "training",
):
    """``(TrainResult, probabilities of eval_idx, record)`` for one split.

    ``eval_name`` names the scored clips in the history and in W&B: ``"test"`` for a
    cross-validation test fold, ``"val"`` for a validation fold; the history scores them after every
    epoch. ``run_args`` go to
    :func:`audiolab.tracking.start_run`; the run is finished (as failed if training raises).
    """
    try:
        run = tracking.start_run(project=WANDB_PROJECT, **run_args)
    except Exception as error:  # tracking never breaks training
        logger.warning("W&B run could not start (%s); continuing without tracking", error)
        run = tracking.Run(None, mode="disabled")
    try:
        seed_everything(exp.train.seed)  # the initial weights depend on the seed too
        model = build_model(exp.model, exp.features.n_mels, len(classes))
        params = count_parameters(model)
        result = fit(model, features[train_idx], y[train_idx], features[eval_idx], y[eval_idx], config=exp.train,
                     augment=exp.augment, eval_name=eval_name, on_epoch=lambda row: run.log(row, step=row["epoch"]),
                     progress=progress, description=description)
        probs = predict_proba(result.model, features[eval_idx], result.normalizer, exp.train.eval_batch_size,
                              exp.train.tta_shifts)
        metrics = evaluate(y[eval_idx], probs, classes)
        _log_result(run, metrics, classes, eval_name)
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
    record = {
        "metrics": metrics,
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
