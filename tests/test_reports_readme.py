"""The generated README of ``audiolab reports`` (:mod:`audiolab.reports.readme`): markdown tables."""
from __future__ import annotations

import pandas as pd

from audiolab.reports import readme


def test_comparison_markdown_shows_mean_pm_std():
    table = pd.DataFrame({
        "name": ["arch1", "arch2-heads4"], "arch": ["conv1d", "transformer"], "heads": [None, 4.0], "folds": [5, 5],
        "cv_accuracy_mean": [0.81234, 0.7], "cv_accuracy_std": [0.0312, 0.05],
        "test_accuracy": [0.8, None], "params_trainable": [866826, 570762],
        "train_seconds_total": [3725.0, 59.0], "seconds_per_epoch": [1.5, 0.12],
    })
    text = readme.comparison_markdown(table)
    lines = text.splitlines()
    assert lines[0].startswith("| experiment | architecture | heads | CV accuracy |")
    assert "| arch1 | Arch 1 (1D conv) |  | 0.812 ± 0.031 |" in lines[2]
    assert "| 4 |" in lines[3] and "866,826" in lines[2] and "1 h 02 min" in lines[2] and "59 s" in lines[3]
    assert readme.markdown_table(pd.DataFrame({"a_mean": [0.5], "a_std": [0.25], "b": ["x|y"]})).splitlines()[2] == \
        "| 0.500 ± 0.250 | x\\|y |"
