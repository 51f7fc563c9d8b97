"""Figures for reports and W&B: confusion matrix, ROC curves, training curves,
attention maps and per-fold comparisons.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot
state, so nothing is shown twice in notebooks and nothing leaks in long loops),
returns it, and never calls ``plt.show()``. In Jupyter a returned figure displays
itself; :func:`save` writes a PNG.

* :mod:`audiolab.plots.results` -- one model: :func:`confusion_matrix`, :func:`roc_curves`,
  :func:`training_curves`, :func:`fold_curves`, :func:`attention_map`;
* :mod:`audiolab.plots.compare` -- several experiments: :func:`fold_metrics`, :func:`differences`,
  and :func:`experiment_color`, the one colour of each experiment in every figure;
* :func:`save` -- write a figure as PNG.
"""
from ._common import save
from .compare import differences, experiment_color, fold_metrics
from .results import attention_map, confusion_matrix, fold_curves, roc_curves, training_curves

__all__ = [
    "confusion_matrix",
    "roc_curves",
    "training_curves",
    "fold_curves",
    "attention_map",
    "fold_metrics",
    "experiment_color",
    "differences",
    "save",
]
