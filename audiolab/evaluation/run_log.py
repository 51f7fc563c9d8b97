"""What one W&B run of audiolab holds, under names that say what they measure.

A run trains one cross-validation fold, or one search trial (its validation folds one after the
other). :class:`RunLog` fills it:

* every epoch (:meth:`RunLog.epoch`): ``epoch``, ``train/loss``, ``train/accuracy``, ``train/lr``,
  ``train/epoch_seconds`` and the scored clips' ``test/loss``, ``test/accuracy`` (a cross-validation
  test fold) or ``val/loss``, ``val/accuracy`` (a validation fold), charted against ``epoch``. In a
  trial's run ``epoch`` counts on across its folds (fold 4's first epoch of a 60-epoch trial is
  epoch 61); ``fold`` and ``fold_epoch`` say where each one belongs;
* once scored (:meth:`RunLog.scored`): the summary ``test/accuracy``, ``test/macro_f1``,
  ``test/auc`` (or ``val/...``) and ``params/trainable``, ``params/non_trainable``, ``params/buffers``;
  W&B's own interactive ``test/confusion_matrix`` and ``test/roc``; and ``test/predictions``, a table
  of the scored clips (:func:`predictions_frame`) with the audio of the misclassified ones;
* the result files the results store wrote, as an artifact of the run (:meth:`RunLog.result_files`).

Like :mod:`audiolab.tracking`, nothing here ever stops training: a disabled run does nothing
(not even building a plot), and a W&B error is a warning.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .. import tracking
from ..features import FeatureConfig

__all__ = ["RunLog", "open_run_log", "wandb_metrics", "predictions_frame", "WANDB_PROJECT", "EVAL_NAMES",
           "MAX_AUDIO_CLIPS"]

logger = logging.getLogger("audiolab")

#: The W&B project of audiolab's runs (``$WANDB_PROJECT`` overrides it).
WANDB_PROJECT = "audiolab"
#: What the scored clips are: a cross-validation test fold, or a validation fold.
EVAL_NAMES = ("test", "val")
#: At most this many misclassified clips get their audio in a prediction table (the most confident mistakes
#: first): enough to listen to what a model confuses, cheap enough for the ~190 runs of ``make reports``.
MAX_AUDIO_CLIPS = 8

_MEASURES = {"loss": "loss", "acc": "accuracy"}  # fit's history names -> W&B's
_RENAMED = {"lr": "train/lr", "seconds": "train/epoch_seconds"}


def _check_eval_name(eval_name: str) -> str:
    if eval_name not in EVAL_NAMES:
        raise ValueError(f"eval_name must be 'test' (a cross-validation test fold) or 'val' (a validation fold), "
                         f"got {eval_name!r}")
    return eval_name


def wandb_metrics(row: Mapping[str, Any], eval_name: str) -> dict:
    """One history row of :func:`audiolab.train.fit` under W&B's names: ``train_loss`` -> ``train/loss``,
    ``test_acc`` -> ``test/accuracy``, ``lr`` -> ``train/lr``, ``seconds`` -> ``train/epoch_seconds``;
    ``epoch`` and any other key are kept as they are. The history in the result files keeps fit's names."""
    _check_eval_name(eval_name)
    out = {}
    for key, value in row.items():
        section, _, measure = key.partition("_")
        if key in _RENAMED:
            out[_RENAMED[key]] = value
        elif section in ("train", eval_name) and measure in _MEASURES:
            out[f"{section}/{_MEASURES[measure]}"] = value
        else:
            out[key] = value
    return out


def predictions_frame(clips: pd.DataFrame, y_true: np.ndarray, probs: np.ndarray,
                      classes: Sequence[str]) -> pd.DataFrame:
    """One row per scored clip: ``filename``, ``fold``, ``true``, ``predicted`` (class names), ``confidence``
    (the predicted class's probability), ``p_true`` (the true class's) and ``correct``."""
    probs = np.asarray(probs)
    if len(clips) != len(y_true) or len(y_true) != len(probs):
        raise ValueError(f"{len(clips)} clips, {len(y_true)} labels and {len(probs)} rows of probabilities: "
                         "pass the metadata rows of the scored clips (meta.iloc[eval_idx]), in the same order")
    y_true = np.asarray(y_true, dtype=int)
    pred = probs.argmax(axis=1)
    names = np.asarray(classes, dtype=object)
    return pd.DataFrame({
        "filename": clips["filename"].to_numpy(), "fold": clips["fold"].to_numpy(),
        "true": names[y_true], "predicted": names[pred],
        "confidence": probs[np.arange(len(pred)), pred].round(4),
        "p_true": probs[np.arange(len(pred)), y_true].round(4), "correct": pred == y_true,
    })


def _clip_audio(wandb, path: Any, features: Optional[FeatureConfig], caption: str):
    """``wandb.Audio`` of a clip as the model heard it (:func:`audiolab.data.load_audio` at the front-end's
    rate and length), or ``None`` when there is no front-end or the file cannot be found or decoded."""
    if features is None or not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
        return None
    from ..data import AudioDecodeError, load_audio

    try:
        wave = load_audio(path, features.sample_rate, features.duration).numpy()
    except (AudioDecodeError, OSError) as error:
        logger.debug("no audio for %s in the prediction table: %s", path, error)
        return None
    return wandb.Audio(wave, sample_rate=features.sample_rate, caption=caption)


def _artifact_name(name: str) -> str:
    """``name`` with what W&B refuses in artifact names (anything but letters, digits, ``-``, ``_``, ``.``) as ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


class RunLog:
    """A :class:`audiolab.tracking.Run` filled the way the module docstring says; a context manager
    that finishes the run (as failed when an exception escapes). Made by :func:`open_run_log`."""

    def __init__(self, run: tracking.Run, eval_name: str) -> None:
        self.run = run
        self.eval_name = _check_eval_name(eval_name)
        self.epochs = 0
        self._fold: Optional[int] = None
        run.define_metric("epoch", hidden=True)
        for section in ("train", eval_name):
            run.define_metric(f"{section}/*", step_metric="epoch")

    def __repr__(self) -> str:
        return f"RunLog({self.run!r}, eval_name={self.eval_name!r}, epochs={self.epochs})"

    def start_fold(self, fold: int) -> None:
        """The next epochs train for ``fold``, in a run that trains several (a search trial's): each epoch's
        row also gets ``fold`` and ``fold_epoch``."""
        self._fold = int(fold)

    def epoch(self, row: Mapping[str, Any]) -> None:
        """Log one history row of :func:`audiolab.train.fit` (its ``on_epoch``) as the run's next epoch."""
        self.epochs += 1
        metrics = wandb_metrics(row, self.eval_name)
        if self._fold is not None:
            metrics.update(fold=self._fold, fold_epoch=metrics["epoch"])
        metrics["epoch"] = self.epochs
        self.run.log(metrics, step=self.epochs)

    def scored(self, y_true: np.ndarray, probs: np.ndarray, metrics: Mapping[str, Any], classes: Sequence[str],
               params: Optional[Mapping[str, int]] = None, clips: Optional[pd.DataFrame] = None,
               features: Optional[FeatureConfig] = None) -> None:
        """The scored clips' result: the summary (``metrics`` from :func:`audiolab.metrics.evaluate`, and the
        parameter counts), the confusion matrix and ROC curves, and with ``clips`` (their metadata rows, in
        order) the prediction table; with ``features`` too, the misclassified clips' audio is in it."""
        if self.run.enabled:
            # one log without a step: it joins the last epoch's row and commits it (left pending until finish,
            # that row's values would overwrite the summary below)
            self.run.log(self._charts(np.asarray(y_true, dtype=int), np.asarray(probs), classes, clips, features))
        self.scores(metrics, params)

    def scores(self, metrics: Mapping[str, Any], params: Optional[Mapping[str, int]] = None) -> None:
        """The summary alone (what :meth:`scored` writes there): ``<eval>/accuracy``, ``/macro_f1``, ``/auc``
        from ``metrics`` (:func:`audiolab.metrics.evaluate`), and ``params/<kind>`` from ``params``."""
        e = self.eval_name
        summary = {f"{e}/accuracy": metrics["accuracy"], f"{e}/macro_f1": metrics["macro_f1"],
                   f"{e}/auc": metrics["auc_macro_ovr"]}
        summary.update({f"params/{k}": v for k, v in (params or {}).items()})
        self.run.summary(summary)

    def _charts(self, y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str], clips: Optional[pd.DataFrame],
                features: Optional[FeatureConfig]) -> dict:
        """Confusion matrix, ROC curves and prediction table, ready to log (none of them if W&B fails)."""
        e, names, charts = self.eval_name, list(classes), {}

        def build(wandb, run) -> None:
            charts[f"{e}/confusion_matrix"] = wandb.plot.confusion_matrix(
                y_true=y_true.tolist(), preds=probs.argmax(axis=1).tolist(), class_names=names,
                title=f"Confusion matrix ({e})")
            charts[f"{e}/roc"] = wandb.plot.roc_curve(y_true, probs, labels=names,
                                                      title=f"ROC, one class vs. the rest ({e})")
            if clips is not None:
                table = predictions_frame(clips, y_true, probs, classes)
                charts[f"{e}/predictions"] = self._table(wandb, table, clips, features)

        self.run.with_wandb("plots and prediction table", build)
        return charts

    @staticmethod
    def _table(wandb, table: pd.DataFrame, clips: pd.DataFrame, features: Optional[FeatureConfig]):
        """``table`` as a ``wandb.Table`` with an ``audio`` column: the :data:`MAX_AUDIO_CLIPS` most confident
        mistakes get their clip, every other cell is ``None``."""
        wrong = table.index[~table["correct"]]
        loud = table.loc[wrong, "confidence"].sort_values(ascending=False).index[:MAX_AUDIO_CLIPS]
        paths = clips["path"].to_numpy() if "path" in clips else [None] * len(clips)
        audio = [None] * len(table)
        for i in loud:
            row = table.loc[i]
            audio[i] = _clip_audio(wandb, paths[i], features, f"{row['true']} heard as {row['predicted']}")
        rows = [[v.item() if isinstance(v, np.generic) else v for v in values] + [clip]
                for values, clip in zip(table.itertuples(index=False), audio)]
        return wandb.Table(columns=[*table.columns, "audio"], data=rows)

    def result_files(self, name: str, kind: str, root: Path, paths: Sequence[Path],
                     metadata: Optional[Mapping[str, Any]] = None) -> None:
        """Log ``paths`` (files the results store wrote under ``root``) as an artifact ``name`` of type ``kind``
        (``"cv-fold"``, ``"search-trial"``, ...). Each file keeps its path relative to ``root`` in the artifact,
        so downloading it into a results folder puts it where the store looks (:func:`audiolab.sweeps.collect`)."""
        root = Path(root)

        def log(wandb, run) -> None:
            artifact = wandb.Artifact(_artifact_name(name), type=kind, metadata=dict(metadata or {}))
            for path in map(Path, paths):
                inside = path.resolve().is_relative_to(root.resolve())
                artifact.add_file(str(path), name=path.resolve().relative_to(root.resolve()).as_posix()
                                  if inside else path.name)
            run.log_artifact(artifact)

        self.run.with_wandb("artifact", log)

    def finish(self, exit_code: Optional[int] = None) -> None:
        self.run.finish(exit_code=exit_code)

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.finish(exit_code=1 if exc_type is not None else None)
        return False


def open_run_log(run_args: Mapping[str, Any], eval_name: str) -> RunLog:
    """Start a W&B run (:func:`audiolab.tracking.start_run` with ``run_args``, in ``$WANDB_PROJECT`` or
    :data:`WANDB_PROJECT` unless ``run_args`` names a project) and wrap it in a :class:`RunLog`. If the run
    cannot start, training goes on with a disabled one (a warning says why)."""
    args = dict(run_args)
    args.setdefault("project", os.environ.get("WANDB_PROJECT") or WANDB_PROJECT)
    try:
        run = tracking.start_run(**args)
    except Exception as error:  # tracking never breaks training
        logger.warning("W&B run could not start (%s); continuing without tracking", error)
        run = tracking.Run(None, mode="disabled")
    return RunLog(run, eval_name)
