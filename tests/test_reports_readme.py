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


def test_headline_and_ablation_sections_read_the_notebooks_outputs(tmp_path):
    import json

    results = tmp_path / "results"
    results.mkdir()
    row = {"seeds": 3, "official_cv_mean": 0.9, "official_cv_min": 0.89, "official_cv_max": 0.91, "dev_cv_mean": 0.88,
           "test_accuracy": 0.9, "test_ci_low": 0.81, "test_ci_high": 0.95, "test_clips": 80}
    comparison = {"official": {"mean": 0.01, "ci_low": -0.03, "ci_high": 0.05, "p": 0.5},
                  "development": {"mean": 0.0, "ci_low": -0.02, "ci_high": 0.02, "p": 0.9},
                  "text": "no evidence of a difference", "a": "arch2-heads2", "b": "arch1", "shipped": "arch1"}
    (results / "headline.json").write_text(json.dumps({"arch1": row, "arch2-heads2": row, "comparison": comparison}))
    text = readme._headline_section(results)
    assert "| arch1 | 3 | 90.0 % (89.0 %–91.0 %) | 88.0 % | 90.0 % (81.0 %–95.0 %) on 80 clips |" in text
    assert "official CV +1.0 points, 95 % CI -3.0 to +5.0" in text and "**arch1**" in text
    assert "The verdict: no evidence of a difference." in text
    pd.DataFrame([{"variant": "recipe", "seeds": 3, "dev_accuracy": 88.0},
                  {"variant": "no-mixup", "seeds": 3, "dev_accuracy": 86.5, "difference": -1.5, "se": 0.5,
                   "ci_low": -3.65, "ci_high": 0.65}]).to_csv(results / "ablation-arch1.csv", index=False)
    table = readme._ablation_section(results)
    assert "| no-mixup | 3 | 86.50 % | -1.50 ± 0.50 | -3.65 to +0.65 |" in table and "| recipe | 3 | 88.00 % |  |  |" in table
    assert readme._headline_section(tmp_path) is None and readme._ablation_section(tmp_path) is None
