"""Weights & Biases: one run per trained fold or search trial, and what it holds. Tracking never breaks training.

W&B's own environment variables decide where runs go: ``WANDB_MODE`` (default: ``online`` when this machine is logged
in, else ``offline``), ``WANDB_DIR``, ``WANDB_PROJECT`` (default ``audiolab``); a run that cannot start is W&B's
disabled run (a :class:`TrackingWarning` says why). A run holds every epoch (:func:`log_epoch`), the scored result
(:func:`log_result`: summary, confusion matrix, ROC, a table of the scored clips with the audio of the most confident
mistakes) and the result files as an artifact (:func:`log_files`)."""
from __future__ import annotations

import netrc
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import wandb

from ._util import plain
from .data import load_audio

#: What a model's scored clips are: a cross-validation test fold, or a validation fold.
SCORED = ("test", "val")
#: The W&B project of audiolab's runs (``$WANDB_PROJECT`` overrides it).
PROJECT = "audiolab"
#: At most this many misclassified clips get their audio in a prediction table (the most confident first).
MAX_AUDIO_CLIPS = 8
_RENAMED = {"lr": "train/lr", "seconds": "train/epoch_seconds", "train_loss": "train/loss",
            "train_acc": "train/accuracy"}


class TrackingWarning(UserWarning):
    """W&B tracking failed or is off; training continues."""


def _logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY", "").strip():
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


@contextmanager
def start_run(**init):
    """``with start_run(**init) as run``: ``wandb.init(**init)`` in audiolab's project, quiet and cheap (no console
    capture, no system stats, no pip freeze), in ``$WANDB_MODE`` (default: online when logged in, else offline);
    W&B's disabled run when it cannot start. The run finishes with the block: as failed when an exception escapes,
    which goes on to the caller (W&B's own ``with run`` would print its traceback first)."""
    mode = os.environ.get("WANDB_MODE") or ("online" if _logged_in() else "offline")
    init.setdefault("project", os.environ.get("WANDB_PROJECT") or PROJECT)
    init.setdefault("dir", os.environ.get("WANDB_DIR"))  # W&B reads it once per process: read it for every run
    init["config"] = plain(init.get("config"))
    try:
        try:
            settings = wandb.Settings(console="off", silent=True, x_disable_stats=True, x_save_requirements=False)
        except Exception:  # a wandb older than these settings
            settings = wandb.Settings(console="off", silent=True)
        run = wandb.init(mode=mode, settings=settings, **init)
    except Exception as error:  # no network, a bad mode or key, an unwritable WANDB_DIR: train untracked
        warnings.warn(f"W&B run could not start ({type(error).__name__}: {str(error)[:300]}); this run is not "
                      "tracked, training continues", TrackingWarning, stacklevel=3)
        run = wandb.init(mode="disabled")
    try:
        yield run
    except BaseException:
        _safely("finish", lambda: run.finish(exit_code=1))
        raise
    run.finish()


def _safely(what: str, log) -> None:
    try:
        log()
    except Exception as error:  # tracking must never stop training
        warnings.warn(f"W&B {what} failed ({type(error).__name__}: {error}); training continues", TrackingWarning,
                      stacklevel=3)


def log_epoch(run, row: Mapping[str, Any], scored: str, fold: Optional[int] = None) -> None:
    """One history row of :func:`audiolab.train.fit` under W&B's names (``test_acc`` -> ``test/accuracy``)."""
    names = {**_RENAMED, f"{scored}_loss": f"{scored}/loss", f"{scored}_acc": f"{scored}/accuracy"}
    metrics = {names.get(k, k): v for k, v in row.items()}
    _safely("log", lambda: run.log(metrics if fold is None else {**metrics, "fold": fold}))


def predictions_frame(clips: pd.DataFrame, y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str],
                      features=None) -> pd.DataFrame:
    """One row per scored clip: ``filename``, ``fold``, ``true``, ``predicted``, ``confidence`` (the predicted
    class's probability), ``p_true`` (the true class's), ``correct`` and ``audio``: with ``features`` (the
    front-end), the clip as the model heard it for the :data:`MAX_AUDIO_CLIPS` most confident mistakes."""
    y_true, probs = np.asarray(y_true, dtype=int), np.asarray(probs)
    pred, names, rows = probs.argmax(axis=1), np.asarray(classes, dtype=object), np.arange(len(probs))
    table = pd.DataFrame({"filename": clips["filename"].to_numpy(), "fold": clips["fold"].to_numpy(),
                          "true": names[y_true], "predicted": names[pred], "confidence": probs[rows, pred].round(4),
                          "p_true": probs[rows, y_true].round(4), "correct": pred == y_true, "audio": None})
    mistakes = table[~table["correct"]].sort_values("confidence", ascending=False).index[:MAX_AUDIO_CLIPS]
    for i in mistakes if features is not None and "path" in clips else ():
        if Path(clips["path"].iloc[i]).is_file():
            wave = load_audio(clips["path"].iloc[i], features.sample_rate, features.duration).numpy()
            table.at[i, "audio"] = wandb.Audio(wave, sample_rate=features.sample_rate,
                                               caption=f"{table['true'][i]} heard as {table['predicted'][i]}")
    return table


def log_result(run, scored: str, metrics: Mapping, params: Optional[Mapping] = None, y_true=None, probs=None,
               classes: Sequence[str] = (), clips: Optional[pd.DataFrame] = None, features=None) -> None:
    """The scored clips' result: the summary (``metrics`` of :func:`audiolab.metrics.evaluate`, ``params``); with
    ``probs``, W&B's confusion matrix and ROC curves; with ``clips`` (their metadata rows, in order) the
    prediction table; with ``features`` (the front-end) the mistakes' audio."""
    if not run.disabled and probs is not None:
        y_true, probs, names = np.asarray(y_true, dtype=int), np.asarray(probs), list(classes)

        def charts() -> None:
            logged = {f"{scored}/confusion_matrix": wandb.plot.confusion_matrix(
                          y_true=y_true.tolist(), preds=probs.argmax(axis=1).tolist(), class_names=names),
                      f"{scored}/roc": wandb.plot.roc_curve(y_true, probs, labels=names)}
            if clips is not None:
                logged[f"{scored}/predictions"] = wandb.Table(dataframe=predictions_frame(clips, y_true, probs, names,
                                                                                           features))
            run.log(logged)

        _safely("plots and prediction table", charts)
    summary = {f"{scored}/accuracy": metrics["accuracy"], f"{scored}/macro_f1": metrics["macro_f1"],
               f"{scored}/auc": metrics["auc_macro_ovr"], **{f"params/{k}": v for k, v in (params or {}).items()}}
    _safely("summary", lambda: run.summary.update(plain(summary)))


def log_files(run, name: str, kind: str, root: Path, paths: Sequence[Path], metadata: Optional[Mapping] = None) -> None:
    """``paths`` (files under the results folder ``root``) as an artifact ``name`` of type ``kind``, each at its
    path relative to ``root``: downloaded into a results folder, it lands where the store looks."""
    def log() -> None:
        artifact = wandb.Artifact(re.sub(r"[^A-Za-z0-9_.-]+", "-", name), type=kind, metadata=plain(metadata or {}))
        for path in map(Path, paths):
            artifact.add_file(str(path), name=path.resolve().relative_to(Path(root).resolve()).as_posix())
        run.log_artifact(artifact)

    if not run.disabled:
        _safely("artifact", log)
