"""Figures of one model's results and comparisons of several experiments, each experiment in its own colour. Every
function returns a :class:`matplotlib.figure.Figure` built without pyplot state (nothing is shown twice, nothing leaks
in long loops); in Jupyter it displays itself, and :func:`save` writes it to a file."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from ._util import to_numpy

__all__ = ["confusion_matrix", "roc_curves", "fold_curves", "attention_map", "fold_metrics", "differences",
           "architecture", "experiment_color", "save"]

# One colour per experiment in every figure of the course: Architecture 1 blue, Architecture 2 orange
# (its head counts in shades around it), the 2024 baselines grey. Seeds share their experiment's colour.
EXPERIMENT_COLORS = {"arch1": "#1f77b4", "arch2-heads1": "#ffbb78", "arch2-heads2": "#ff7f0e",
                     "arch2-heads4": "#d62728", "arch2": "#ff7f0e", "arch1-baseline-2024": "#7f7f7f",
                     "arch2-baseline-2024": "#b0b0b0"}
OTHER_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _array(x: Any) -> np.ndarray:
    """A float64 array from a tensor (bfloat16 included), an array or nested lists."""
    return to_numpy(x.float() if hasattr(x, "detach") else x).astype(np.float64)


def save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG (dpi 120, tight bounding box; another suffix, e.g. ``.pdf``, picks that format),
    creating parent folders; returns the path written."""
    path = Path(path).with_suffix(Path(path).suffix or ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def confusion_matrix(cm, class_names: Sequence[str], normalize: bool = False, title: str | None = None) -> Figure:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted), e.g. ``evaluate(...)["confusion_matrix"]``;
    ``normalize`` shows each row as fractions of its true class (the recall on the diagonal)."""
    counts, n = _array(cm), len(class_names)
    if counts.shape != (n, n):
        raise ValueError(f"cm must be a square ({n}, {n}) matrix matching class_names; got shape {counts.shape}.")
    if normalize:
        sums = counts.sum(axis=1, keepdims=True)
        data = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
    side = 2.5 + 0.55 * n
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(data if normalize else counts.astype(int), ax=ax, annot=True, fmt=".2f" if normalize else "d",
                cmap="Blues", vmin=0, vmax=1 if normalize else None, square=True, xticklabels=list(class_names),
                yticklabels=list(class_names), annot_kws={"fontsize": 8 if n > 8 else 10},
                cbar_kws={"label": "fraction of true class" if normalize else "count"})
    ax.set(xlabel="Predicted", ylabel="True",
           title=title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix"))
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xticklabels(ax.get_xticklabels(), rotation=45, ha="right")
    return fig


def roc_curves(roc: Mapping[str, Mapping], title: str | None = None) -> Figure:
    """One-vs-rest ROC curve per class (``evaluate(...)["roc"]``), a dashed chance diagonal, and the legend
    ``"<class> (AUC 0.97)"``. Good classifiers crowd into the top-left corner, so a second panel zooms into it."""
    fig = Figure(figsize=(11, 5), layout="constrained")
    full, zoom = fig.subplots(1, 2)
    colors = sns.color_palette("tab10" if len(roc) <= 10 else "husl", max(len(roc), 1))
    for ax in (full, zoom):
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="_chance")
        for color, (name, curve) in zip(colors, roc.items()):
            auc = curve.get("auc")
            auc = f"{auc:.2f}" if auc is not None and math.isfinite(auc) else "n/a"
            ax.plot(curve["fpr"], curve["tpr"], color=color, linewidth=1.5, label=f"{name} (AUC {auc})")
        ax.set(xlabel="False positive rate", ylabel="True positive rate")
        ax.grid(alpha=0.3)
    full.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal", title="all thresholds")
    zoom.set(xlim=(0.0, 0.2), ylim=(0.6, 1.005), title="zoom: the top-left corner")
    fig.suptitle(title or "ROC curves (one vs rest)")
    if roc:
        full.legend(loc="lower right", fontsize=8)
    return fig


def fold_curves(records: Sequence[Mapping], title: str | None = None) -> Figure:
    """Accuracy per epoch of every cross-validation fold (stored fold records ``{"fold", "history"}``), one small panel
    each on shared axes: the training accuracy, the scored fold's (``test_acc`` or ``val_acc``) and its final score."""
    if not records:
        raise ValueError("no fold records to plot")
    fig = Figure(figsize=(2.6 * len(records) + 0.6, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(records), sharey=True))
    for ax, record in zip(axes, records):
        rows = list(record["history"])
        scored = "test_acc" if any("test_acc" in r for r in rows) else "val_acc"
        epochs = [r.get("epoch") for r in rows]
        for key, label in (("train_acc", "train"), (scored, "test fold" if scored == "test_acc" else "validation fold")):
            ax.plot(epochs, [np.nan if r.get(key) is None else r[key] for r in rows], linewidth=1, label=label)
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
    """One heatmap per attention head (rows: queries, columns: keys) of ``weights`` ``(heads, T, T)`` (or ``(T, T)``),
    on one colour scale; ``tokens``: ``T`` labels, usually ``"<cls>"`` first (beyond 32, only every k-th is shown)."""
    w = _array(weights)
    w = w[None] if w.ndim == 2 else w
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise ValueError(f"weights must have shape (heads, T, T); got {tuple(np.shape(weights))}. "
                         "For a batch, pick one example first, e.g. weights[0].")
    heads, t, _ = w.shape
    if tokens is not None and len(tokens) != t:
        raise ValueError(f"tokens has {len(tokens)} labels but the attention maps are {t}x{t}.")
    step = math.ceil(t / 32)
    labels = "auto" if tokens is None else [str(tok) if i % step == 0 else "" for i, tok in enumerate(tokens)]
    ncols = min(heads, 4)
    nrows, panel = math.ceil(heads / ncols), 3.4 if t <= 16 else 4.2
    fig = Figure(figsize=(panel * ncols + 1.0, panel * nrows + (0.9 if title else 0.5)), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False).flat
    used = list(grid[:heads])
    for ax in grid[heads:]:
        fig.delaxes(ax)
    vmax = float(np.nanmax(w)) if np.isfinite(w).any() else 1.0
    for h, ax in enumerate(used):
        sns.heatmap(w[h], ax=ax, cmap="viridis", vmin=0.0, vmax=vmax, cbar=False, square=True,
                    xticklabels=labels, yticklabels=labels)
        ax.set(title=f"head {h}", xlabel="key", ylabel="query")
        ax.tick_params(labelsize=7 if t > 12 else 9)
    fig.colorbar(used[0].collections[0], ax=used, shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


def experiment_color(name: str) -> str:
    """The colour of experiment ``name`` in every figure (``"arch1-seed2"`` and ``"arch1-ensemble"`` are
    ``"arch1"``'s); a name the kit does not know gets one from a fixed list, the same one every time."""
    base = str(name).removesuffix("-ensemble")
    base = base[: base.rindex("-seed")] if "-seed" in base else base
    return EXPERIMENT_COLORS.get(base) or OTHER_COLORS[sum(base.encode()) % len(OTHER_COLORS)]


def fold_metrics(per_fold, metric: str = "accuracy") -> Figure:
    """One dot per fold for each configuration (``{config_name: [fold dicts with "fold" and metric]}``, missing values
    skipped), joined by a line, with its mean dashed. Dots, not bars: a bar must start at 0, and then the 1-3 point gaps
    between good models vanish. The legend reads ``"<config> (mean ± std)"`` (sample std over folds)."""
    if not per_fold:
        raise ValueError("per_fold is empty; pass {config_name: [fold dicts]}.")
    series = {str(config): {fold.get("fold", i + 1): float(fold[metric]) for i, fold in enumerate(folds)
                            if fold.get(metric) is not None and math.isfinite(float(fold[metric]))}
              for config, folds in per_fold.items()}
    fold_ids = sorted({k for values in series.values() for k in values})
    if not fold_ids:
        raise ValueError(f"No fold has a value for {metric!r}; available keys are the fold dicts' keys.")
    x = np.arange(len(fold_ids), dtype=np.float64)
    offsets = (np.arange(len(series)) - (len(series) - 1) / 2) * min(0.12, 0.6 / len(series))  # side by side
    fig = Figure(figsize=(max(6.0, 1.1 * len(fold_ids) + 3.5), 4.0), layout="constrained")
    ax = fig.subplots()
    for offset, (config, values) in zip(offsets, series.items()):
        color, defined = experiment_color(config), np.array(list(values.values()))
        mean = float(defined.mean()) if defined.size else float("nan")
        std = float(defined.std(ddof=1)) if defined.size > 1 else 0.0
        ax.plot(x + offset, [values.get(k, np.nan) for k in fold_ids], color=color, marker="o", markersize=6,
                linewidth=1, alpha=0.9, label=f"{config} ({mean:.3f} ± {std:.3f})")
        if defined.size:
            ax.axhline(mean, color=color, linestyle="--", linewidth=1)
    ax.set_xticks(x, [f"fold {k}" for k in fold_ids])
    ax.set(xlim=(-0.5, len(fold_ids) - 0.5), ylabel=f"{metric} (axis does not start at 0)",
           title=f"{metric} per fold (dashed: mean over folds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def differences(comparisons: Mapping[str, Mapping], xlabel: str = "difference in accuracy (points)",
                title: str | None = None) -> Figure:
    """Paired differences with their intervals, one row per comparison (the first on top): ``comparisons`` maps a row
    label to a result of :func:`audiolab.evaluation.compare_configurations`. Each fold's difference is a grey dot, the
    mean a dot with its 95 % interval; one that crosses the line at 0 is no evidence either way, not equality."""
    if not comparisons:
        raise ValueError("comparisons is empty; pass {label: compare_configurations(...) result}")
    rows = list(comparisons.items())[::-1]
    fig = Figure(figsize=(7.5, 1.0 + 0.7 * len(rows)), layout="constrained")
    ax = fig.subplots()
    for row, (label, result) in enumerate(rows):
        d = 100 * np.asarray(result["per_fold"]["difference"], dtype=float)
        ax.scatter(d, np.full(len(d), row, dtype=float), color="0.65", s=22, zorder=2,
                   label="one fold (mean over seeds)" if row == 0 else None)
        mean, low, high = (100 * float(result["test"][k]) for k in ("mean", "ci_low", "ci_high"))
        ax.errorbar(mean, row, xerr=[[mean - low], [high - mean]], fmt="o", color="#1f77b4", capsize=4, zorder=3,
                    label="mean, 95 % interval" if row == 0 else None)
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows])
    ax.set(ylim=(-0.6, len(rows) - 0.4), xlabel=xlabel, title=title or "")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _stages(model) -> list:
    """The stages a diagram shows: each block of a ``blocks`` container (the conv base's, the transformer's)
    and every other top-level layer, dropout left out (it changes no shape)."""
    stages = []
    for name, module in model.named_children():
        inner = getattr(module, "blocks", module)
        if type(inner).__name__ in ("Sequential", "ModuleList") and name != "head":
            path = name if inner is module else f"{name}.blocks"
            stages += [(f"{path}[{i}]: {type(m).__name__}", m) for i, m in enumerate(inner)]
        elif "Dropout" not in type(module).__name__:
            stages.append((f"{name}: {type(module).__name__}", module))
    return stages


def architecture(model, n_mels: int, num_frames: int, title: str | None = None) -> Figure:
    """A model's stages top to bottom, each with the tensor shape it outputs (``B`` is the batch), measured by
    hooks on a forward pass of one dummy clip ``(1, n_mels, num_frames)`` in eval mode. Shape changes made in
    ``forward`` itself (pooling, the ``<cls>`` token) get a box of their own; ``fig.shapes`` lists every row."""
    import torch

    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: seen.append(
        (name, tuple(i[0].shape), tuple((o[0] if isinstance(o, tuple) else o).shape)))) for name, m in _stages(model)]
    was_training = model.training
    try:
        with torch.no_grad():
            out = tuple(model.eval()(torch.zeros(1, n_mels, num_frames)).shape)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    rows, last = [("input: log-mel spectrogram", (1, n_mels, num_frames))], (1, n_mels, num_frames)
    for name, before, after in seen:
        if before != last:
            rows.append(("in forward() itself (pooling, transposing, a token)", before))
        rows.append((name, last := after))
    fig = Figure(figsize=(5.2, 0.62 * len(rows) + 0.4), layout="constrained")
    ax = fig.subplots()
    ax.set(xlim=(0, 1), ylim=(len(rows) - 0.5, -0.6), title=title or f"{type(model).__name__}: {out[-1]} outputs")
    ax.axis("off")
    for y, (name, shape) in enumerate(rows):
        text = f"{name}\n" + " × ".join(["B", *map(str, shape[1:])])
        ax.text(0.5, y, text, ha="center", va="center", fontsize=8, bbox={"boxstyle": "round", "fc": "#f0f0f0"
                if name.startswith("in forward") else "#deebf7", "ec": "0.5"})
        if y:
            ax.annotate("", (0.5, y - 0.32), (0.5, y - 0.68), arrowprops={"arrowstyle": "->", "color": "0.4"})
    fig.shapes = rows
    return fig
