"""Evaluation of one model: classification metrics (:func:`evaluate`), parameter counts (:func:`count_parameters`,
:func:`parameter_table`) and the largest confusions (:func:`top_confusions`), as plain Python (ready for JSON and W&B).
Statistics across folds and between configurations are in :mod:`audiolab.stats`."""
from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve

from ._util import to_numpy


def evaluate(y_true, probs, class_names: Sequence[str]) -> dict:
    """Classification metrics from integer labels ``y_true`` ``(N,)`` and class probabilities ``probs`` ``(N, C)`` (each
    row sums to 1: apply softmax to logits first), for ``class_names`` in label order. Returns a JSON-serialisable dict:
    ``n``; ``accuracy``; ``macro_f1``, the unweighted mean F1 over the classes in ``y_true`` or in the predictions
    (scikit-learn's default label set); ``per_class_f1`` (``{name: float}``, ``None`` for a class neither present nor
    predicted: its F1 is undefined); ``auc_macro_ovr``, the mean one-vs-rest AUC-ROC over ``auc_classes``, the classes
    present in ``y_true`` (an absent class has no ROC curve; ``None`` when none qualifies); ``confusion_matrix`` (rows =
    true, columns = predicted, labels ``range(C)``); ``roc`` (``{name: {"fpr", "tpr", "auc"}}`` for ``auc_classes``);
    ``nonfinite_rows``: rows of ``probs`` with NaN/inf (a diverged model), scored as all-zero rows and warned about
    instead of crashing an experiment."""
    y = to_numpy(y_true)
    p = to_numpy(probs).astype(np.float64, copy=False)
    names = [str(c) for c in class_names]
    n_classes = len(names)
    if p.ndim != 2 or y.shape != p.shape[:1] or len(y) == 0:
        raise ValueError(f"y_true must have shape (N,) and probs (N, C) with N >= 1; got {y.shape} and {p.shape}")
    if p.shape[1] != n_classes:
        raise ValueError(f"probs has {p.shape[1]} columns but {n_classes} class names were given: one name per column")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y_true must hold integer class indices in range(0, {n_classes}); got {y.dtype} "
                         f"from {y.min()} to {y.max()}")

    finite_rows = np.isfinite(p).all(axis=1)
    n_nonfinite = int((~finite_rows).sum())
    if n_nonfinite:
        warnings.warn(f"evaluate(): {n_nonfinite} of {len(p)} probability rows contain NaN/inf (did training "
                      "diverge?); they are scored as all-zero rows.", RuntimeWarning, stacklevel=2)
        p = np.where(np.isfinite(p), p, 0.0)
    sums = p[finite_rows].sum(axis=1)
    # a float16/float32 softmax sums to 1 within 1e-2
    if len(sums) and (np.any(np.abs(sums - 1.0) > 1e-2) or p[finite_rows].min() < -1e-6):
        raise ValueError(f"probs rows must be probabilities that sum to 1 (row sums range {sums.min():.4g}.."
                         f"{sums.max():.4g}); did you pass logits? Apply torch.softmax(logits, dim=1) first.")

    pred, labels = p.argmax(axis=1), np.arange(n_classes)
    # F1 per class over all C labels; defined where the class is present or predicted
    f1 = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    defined = np.isin(labels, y) | np.isin(labels, pred)
    per_class_f1 = {name: (float(f1[i]) if defined[i] else None) for i, name in enumerate(names)}
    macro_f1 = float(np.mean(f1[defined]))

    # AUC: one-vs-rest per present class; needs at least one negative as well.
    roc: dict[str, dict] = {}
    for c in labels:
        positives = y == c
        if positives.any() and not positives.all():
            fpr, tpr, _ = roc_curve(positives, p[:, c], drop_intermediate=True)
            roc[names[c]] = {"fpr": [round(float(v), 6) for v in fpr], "tpr": [round(float(v), 6) for v in tpr],
                             "auc": float(roc_auc_score(positives, p[:, c]))}
    aucs = [r["auc"] for r in roc.values()]

    return {"n": int(len(y)), "accuracy": float(accuracy_score(y, pred)), "macro_f1": macro_f1,
            "per_class_f1": per_class_f1, "auc_macro_ovr": float(np.mean(aucs)) if aucs else None,
            "auc_classes": list(roc), "confusion_matrix": confusion_matrix(y, pred, labels=labels).astype(int).tolist(),
            "roc": roc, "nonfinite_rows": n_nonfinite}


def _count(params: Iterable, buffers: Iterable) -> dict:
    params = list(params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    non_trainable = sum(p.numel() for p in params if not p.requires_grad)
    return {"trainable": int(trainable), "non_trainable": int(non_trainable),
            "buffers": int(sum(b.numel() for b in buffers)), "total": int(trainable + non_trainable)}


def count_parameters(model) -> dict:
    """Parameter counts of a ``torch.nn.Module``: ``trainable``, ``non_trainable`` (frozen), ``buffers`` (elements of
    buffers, e.g. batch norm's running statistics) and ``total = trainable + non_trainable`` (all parameters, *not*
    buffers: the usual "Total params"). Shared parameters are counted once."""
    return _count(model.parameters(), model.buffers())


def parameter_table(model, depth: int = 1) -> pd.DataFrame:
    """One row per sub-module at ``depth`` with its parameter counts, plus a ``total`` row. Columns: ``module`` (dotted
    name), ``type`` (class name), ``trainable``, ``non_trainable``, ``buffers``. ``depth=1`` lists the model's direct
    children; a leaf module shallower than ``depth`` gets its own row. Parameters or buffers owned directly by a
    container above ``depth`` (e.g. a transformer's ``cls`` token) get a ``"<name>.(direct)"`` row so the rows add up to
    the ``total`` row (unless parameters are shared)."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0; got {depth}.")
    columns = ["module", "type", "trainable", "non_trainable", "buffers"]
    rows: list[dict] = []

    def add(name: str, type_name: str, counts: dict) -> None:
        rows.append({"module": name, "type": type_name, **{k: counts[k] for k in columns[2:]}})

    def walk(module, name: str, level: int) -> None:
        children = list(module.named_children())
        if level >= depth or not children:
            add(name or "(model)", type(module).__name__, count_parameters(module))
            return
        own = _count(module.parameters(recurse=False), module.buffers(recurse=False))
        if own["total"] or own["buffers"]:
            add(f"{name}.(direct)" if name else "(direct)", "(direct)", own)
        for child_name, child in children:
            walk(child, f"{name}.{child_name}" if name else child_name, level + 1)

    walk(model, "", 0)
    add("total", type(model).__name__, count_parameters(model))
    return pd.DataFrame(rows, columns=columns).astype({k: "int64" for k in columns[2:]})


def top_confusions(confusion_matrix, class_names: Sequence[str], n: int = 3) -> pd.DataFrame:
    """The ``n`` largest off-diagonal cells of a confusion matrix (rows: true class, columns: predicted):
    a table with columns ``true``, ``predicted``, ``clips``, largest first (ties in row-major order)."""
    cm = np.asarray(confusion_matrix)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(f"expected a square confusion matrix with one row per class ({len(class_names)}), "
                         f"got shape {cm.shape}")
    cells = [(int(cm[i, j]), i, j) for i in range(len(cm)) for j in range(len(cm)) if i != j and cm[i, j] > 0]
    return pd.DataFrame([{"true": class_names[i], "predicted": class_names[j], "clips": count}
                         for count, i, j in sorted(cells, key=lambda c: -c[0])[:n]], columns=["true", "predicted", "clips"])
