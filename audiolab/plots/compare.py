"""Figures that compare experiments: one colour per experiment, per-fold scores, paired differences."""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

__all__ = ["experiment_color", "fold_metrics", "differences"]

# One colour per experiment in every figure of the course: Architecture 1 blue, Architecture 2 orange
# (its head counts in shades around it), the 2024 baselines grey. Seeds share their experiment's colour.
_EXPERIMENT_COLORS = {
    "arch1": "#1f77b4",
    "arch2-heads1": "#ffbb78",
    "arch2-heads2": "#ff7f0e",
    "arch2-heads4": "#d62728",
    "arch2": "#ff7f0e",
    "arch1-baseline-2024": "#7f7f7f",
    "arch2-baseline-2024": "#b0b0b0",
}
_OTHER_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def experiment_color(name: str) -> str:
    """The colour of experiment ``name`` in every figure (``"arch1-seed2"`` is ``"arch1"``'s colour);
    names the kit does not know get a colour from a fixed list, the same one every time."""
    base = str(name)
    for suffix in ("-ensemble",):
        base = base.removesuffix(suffix)
    if "-seed" in base:
        base = base[: base.rindex("-seed")]
    if base in _EXPERIMENT_COLORS:
        return _EXPERIMENT_COLORS[base]
    return _OTHER_COLORS[sum(base.encode()) % len(_OTHER_COLORS)]


def fold_metrics(per_fold, metric: str = "accuracy") -> Figure:
    """One dot per fold for each configuration, joined by a line, with its mean dashed.

    Args:
        per_fold: ``{config_name: [fold dicts with "fold" and metric]}`` (a plain
            list of fold dicts is one configuration). Folds without ``"fold"`` are
            numbered 1, 2, ... in order; missing/``None`` values are skipped.
        metric: which key to plot.

    Dots, not bars: a bar must start at 0, and then the 1-3 point gaps between good models vanish;
    here the axis spans the data. Each configuration keeps its colour (:func:`experiment_color`)
    from figure to figure; the legend reads ``"<config> (mean ± std)"`` with the sample std across folds.
    """
    if not isinstance(per_fold, Mapping):
        per_fold = {"model": list(per_fold)}
    if not per_fold:
        raise ValueError("per_fold is empty; pass {config_name: [fold dicts]}.")
    series: dict[str, dict] = {}
    for config, folds in per_fold.items():
        values = {}
        for i, fold in enumerate(folds):
            value = fold.get(metric)
            if value is not None and math.isfinite(float(value)):
                values[fold.get("fold", i + 1)] = float(value)
        series[str(config)] = values
    fold_ids = sorted({k for values in series.values() for k in values}, key=lambda k: (str(type(k)), k))
    if not fold_ids:
        raise ValueError(f"No fold has a value for {metric!r}; available keys are the fold dicts' keys.")

    n_cfg = len(series)
    x = np.arange(len(fold_ids), dtype=np.float64)
    offsets = (np.arange(n_cfg) - (n_cfg - 1) / 2) * min(0.12, 0.6 / n_cfg)  # side by side, never on top
    fig = Figure(figsize=(max(6.0, 1.1 * len(fold_ids) + 3.5), 4.0), layout="constrained")
    ax = fig.subplots()
    for offset, (config, values) in zip(offsets, series.items()):
        color = experiment_color(config)
        ys = np.array([values.get(k, np.nan) for k in fold_ids])
        defined = ys[np.isfinite(ys)]
        mean = float(defined.mean()) if defined.size else float("nan")
        std = float(defined.std(ddof=1)) if defined.size > 1 else 0.0
        ax.plot(x + offset, ys, color=color, marker="o", markersize=6, linewidth=1, alpha=0.9,
                label=f"{config} ({mean:.3f} ± {std:.3f})")
        if defined.size:
            ax.axhline(mean, color=color, linestyle="--", linewidth=1)
    ax.set_xticks(x)
    ax.set_xticklabels([f"fold {k}" for k in fold_ids])
    ax.set_xlim(-0.5, len(fold_ids) - 0.5)
    ax.set_ylabel(f"{metric} (axis does not start at 0)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"{metric} per fold (dashed: mean over folds)")
    return fig


def differences(comparisons: Mapping[str, Mapping], xlabel: str = "difference in accuracy (points)",
                title: str | None = None) -> Figure:
    """Paired differences with their intervals, one row per comparison.

    ``comparisons`` maps a row label to a result of :func:`audiolab.evaluation.compare_configurations`
    (its ``per_fold["difference"]`` and ``test`` with ``mean``, ``ci_low``, ``ci_high``, all fractions).
    Each fold's difference is a grey dot, the mean a dot with its 95 % interval; the line at 0 is
    "no difference". An interval that crosses it is no evidence either way, not equality.
    """
    if not comparisons:
        raise ValueError("comparisons is empty; pass {label: compare_configurations(...) result}")
    rows = list(comparisons.items())
    fig = Figure(figsize=(7.5, 1.0 + 0.7 * len(rows)), layout="constrained")
    ax = fig.subplots()
    for row, (label, result) in enumerate(reversed(rows)):
        d = 100 * np.asarray(result["per_fold"]["difference"], dtype=float)
        ax.scatter(d, np.full(len(d), row, dtype=float), color="0.65", s=22, zorder=2,
                   label="one fold (mean over seeds)" if row == 0 else None)
        t = result["test"]
        mean, low, high = (100 * float(t[k]) for k in ("mean", "ci_low", "ci_high"))
        ax.errorbar(mean, row, xerr=[[mean - low], [high - mean]], fmt="o", color="#1f77b4", capsize=4, zorder=3,
                    label="mean, 95 % interval" if row == 0 else None)
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title)
    return fig
