"""Figures of one model's results: confusion matrix, ROC curves, training curves, attention maps."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from ._common import _palette, _to_numpy

__all__ = ["confusion_matrix", "roc_curves", "training_curves", "fold_curves", "attention_map"]

# Token labels on attention maps are thinned out beyond this many tokens.
_MAX_TOKEN_LABELS = 32


def confusion_matrix(cm, class_names: Sequence[str], normalize: bool = False, title: str | None = None) -> Figure:
    """Heatmap of a confusion matrix (rows = true class, columns = predicted class).

    Args:
        cm: ``(C, C)`` counts, e.g. ``evaluate(...)["confusion_matrix"]``.
        class_names: ``C`` names, in label order.
        normalize: show row-normalised fractions (per-class recall on the
            diagonal) instead of counts; empty rows stay 0.
        title: figure title.
    """
    counts = _to_numpy(cm).astype(np.float64)
    n = len(class_names)
    if counts.shape != (n, n):
        raise ValueError(
            f"cm must be a square ({n}, {n}) matrix matching class_names; got shape {counts.shape}."
        )
    if normalize:
        sums = counts.sum(axis=1, keepdims=True)
        data = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
        fmt, vmin, vmax, cbar_label = ".2f", 0.0, 1.0, "fraction of true class"
    else:
        data = counts.astype(int)
        fmt, vmin, vmax, cbar_label = "d", 0, None, "count"

    side = 2.5 + 0.55 * n
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(
        data,
        ax=ax,
        annot=True,
        fmt=fmt,
        cmap="Blues",
        vmin=vmin,
        vmax=vmax,
        square=True,
        xticklabels=list(class_names),
        yticklabels=list(class_names),
        cbar_kws={"label": cbar_label},
        annot_kws={"fontsize": 8 if n > 8 else 10},
    )
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title(title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix"))
    return fig


def roc_curves(roc: Mapping[str, Mapping], title: str | None = None) -> Figure:
    """One-vs-rest ROC curve per class with a dashed chance diagonal.

    Args:
        roc: ``evaluate(...)["roc"]``: ``{class: {"fpr": [...], "tpr": [...], "auc": float}}``.
        title: figure title.

    The legend has one entry per class, ``"<class> (AUC 0.97)"``; the chance line
    is not in the legend. Good classifiers crowd their curves into the top-left corner, so a
    second panel zooms into it (false positive rate up to 0.2, true positive rate from 0.6).
    """
    fig = Figure(figsize=(11, 5), layout="constrained")
    full, zoom = fig.subplots(1, 2)
    colors = _palette(max(len(roc), 1))
    for ax in (full, zoom):
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="_chance")
        for color, (name, curve) in zip(colors, roc.items()):
            auc = curve.get("auc")
            auc_text = f"{auc:.2f}" if auc is not None and math.isfinite(auc) else "n/a"
            ax.plot(curve["fpr"], curve["tpr"], color=color, linewidth=1.5, label=f"{name} (AUC {auc_text})")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.grid(alpha=0.3)
    full.set_xlim(-0.01, 1.01)
    full.set_ylim(-0.01, 1.01)
    full.set_aspect("equal")
    full.set_title("all thresholds")
    zoom.set_xlim(0.0, 0.2)
    zoom.set_ylim(0.6, 1.005)
    zoom.set_title("zoom: the top-left corner")
    fig.suptitle(title or "ROC curves (one vs rest)")
    if roc:
        full.legend(loc="lower right", fontsize=8)
    return fig


def _column(rows: Sequence[Mapping], key: str) -> np.ndarray:
    return np.array(
        [np.nan if row.get(key) is None else float(row[key]) for row in rows], dtype=np.float64
    )


def training_curves(history, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, train vs the scored fold, in two panels.

    Args:
        history: rows ``{"epoch", "train_loss", "train_acc"}`` with optional
            ``"val_loss"``/``"val_acc"`` (a validation fold) or ``"test_loss"``/``"test_acc"``
            (a cross-validation test fold), and ``"lr"`` (a list of dicts or a
            DataFrame). Missing/``None`` values are gaps.
        title: figure title.

    The best validation accuracy is marked on the accuracy panel (never the best test-fold
    accuracy: picking an epoch by it would choose on the test fold). When the rows
    carry ``"lr"``, the learning rate is drawn on a secondary y-axis of the loss
    panel (so the figure then has three axes).
    """
    if hasattr(history, "to_dict"):  # pandas DataFrame
        history = history.to_dict("records")
    rows = list(history)
    if not rows:
        raise ValueError("history is empty; pass one dict per epoch.")
    has = lambda key: any(row.get(key) is not None for row in rows)  # noqa: E731
    epochs = (
        _column(rows, "epoch") if has("epoch") else np.arange(1, len(rows) + 1, dtype=np.float64)
    )

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    train_color, val_color = _palette(2)
    for ax, what in ((ax_loss, "loss"), (ax_acc, "acc")):
        for split, color in (("train", train_color), ("val", val_color), ("test", val_color)):
            key = f"{split}_{what}"
            if has(key):
                label = {"train": "train", "val": "validation", "test": "test fold"}[split]
                ax.plot(epochs, _column(rows, key), color=color, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("Loss")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("Accuracy")

    if has("val_acc"):
        val_acc = _column(rows, "val_acc")
        if np.isfinite(val_acc).any():
            best = int(np.nanargmax(val_acc))
            ax_acc.axvline(
                epochs[best], color="0.5", linestyle=":", linewidth=1,
                label=f"best val {val_acc[best]:.3f} (epoch {epochs[best]:g})",
            )

    handles, labels = ax_loss.get_legend_handles_labels()
    if has("lr"):
        ax_lr = ax_loss.twinx()
        lr = _column(rows, "lr")
        ax_lr.plot(epochs, lr, color="0.55", linestyle="--", linewidth=1, label="learning rate")
        ax_lr.set_ylabel("learning rate", color="0.4")
        ax_lr.tick_params(axis="y", labelcolor="0.4", labelsize=8)
        finite = lr[np.isfinite(lr) & (lr > 0)]
        if finite.size and finite.max() / finite.min() > 100:
            ax_lr.set_yscale("log")
        more_h, more_l = ax_lr.get_legend_handles_labels()
        handles, labels = handles + more_h, labels + more_l
    if handles:
        ax_loss.legend(handles, labels, fontsize=8)
    if ax_acc.get_legend_handles_labels()[0]:
        ax_acc.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def fold_curves(records: Sequence[Mapping], title: str | None = None) -> Figure:
    """Accuracy per epoch of every cross-validation fold, one small panel each, on shared axes.

    ``records`` are stored fold records (``{"fold", "history"}``); each panel shows the training
    accuracy and the scored fold's (``test_acc`` or ``val_acc``), and names the fold's final score.
    """
    if not records:
        raise ValueError("no fold records to plot")
    fig = Figure(figsize=(2.6 * len(records) + 0.6, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(records), sharey=True))
    train_color, scored_color = _palette(2)
    for ax, record in zip(axes, records):
        rows = list(record["history"])
        epochs = _column(rows, "epoch")
        scored = "test_acc" if any("test_acc" in r for r in rows) else "val_acc"
        ax.plot(epochs, _column(rows, "train_acc"), color=train_color, linewidth=1, label="train")
        ax.plot(epochs, _column(rows, scored), color=scored_color, linewidth=1,
                label="test fold" if scored == "test_acc" else "validation fold")
        final = record.get("metrics", {}).get("accuracy")
        ax.set_title(f"fold {record['fold']}" + (f": {final:.3f}" if final is not None else ""), fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def attention_map(weights, tokens: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """One heatmap per attention head (rows = queries, columns = keys).

    Args:
        weights: ``(heads, T, T)`` attention probabilities (tensor or array);
            ``(T, T)`` is one head, and ``(1, heads, T, T)`` (a batch of one) is
            accepted too.
        tokens: ``T`` token labels; ``tokens[0]`` is usually ``"<cls>"``. Beyond
            32 tokens only every k-th label is printed.
        title: figure title.

    All heads share one colour scale and one colorbar, so the figure has
    ``heads + 1`` axes; each head's axes is titled ``"head i"``.
    """
    w = _to_numpy(weights).astype(np.float64)
    if w.ndim == 4 and w.shape[0] == 1:
        w = w[0]
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise ValueError(
            f"weights must have shape (heads, T, T); got {tuple(_to_numpy(weights).shape)}. "
            "For a batch, pick one example first, e.g. weights[0]."
        )
    heads, t, _ = w.shape
    if tokens is not None and len(tokens) != t:
        raise ValueError(f"tokens has {len(tokens)} labels but the attention maps are {t}x{t}.")

    if tokens is None:
        labels: Any = "auto"
    elif t <= _MAX_TOKEN_LABELS:
        labels = [str(tok) for tok in tokens]
    else:
        step = math.ceil(t / _MAX_TOKEN_LABELS)
        labels = [str(tok) if i % step == 0 else "" for i, tok in enumerate(tokens)]

    ncols = min(heads, 4)
    nrows = math.ceil(heads / ncols)
    panel = 3.4 if t <= 16 else 4.2
    fig = Figure(figsize=(panel * ncols + 1.0, panel * nrows + (0.9 if title else 0.5)), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    used = list(grid.flat[:heads])
    for ax in grid.flat[heads:]:
        fig.delaxes(ax)
    vmax = float(np.nanmax(w)) if np.isfinite(w).any() else 1.0
    for h, ax in enumerate(used):
        sns.heatmap(
            w[h], ax=ax, cmap="viridis", vmin=0.0, vmax=vmax, cbar=False, square=True,
            xticklabels=labels, yticklabels=labels,
        )
        ax.set_title(f"head {h}")
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        ax.tick_params(labelsize=7 if t > 12 else 9)
    fig.colorbar(used[0].collections[0], ax=used, shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


