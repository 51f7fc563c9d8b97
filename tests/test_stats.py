"""audiolab.stats against small hand-computed examples."""
import math

import numpy as np
import pytest

from audiolab import stats


def test_summarize_folds():
    folds = [
        {"accuracy": 0.8, "macro_f1": 0.7, "auc_macro_ovr": 0.9},
        {"accuracy": 0.9, "macro_f1": 0.8, "auc_macro_ovr": None},
        {"accuracy": 1.0, "macro_f1": 0.9},
    ]
    s = stats.summarize_folds(folds)
    assert s["accuracy"]["mean"] == pytest.approx(0.9)
    assert s["accuracy"]["std"] == pytest.approx(0.1)  # sample std, ddof=1
    assert s["accuracy"]["values"] == [0.8, 0.9, 1.0]
    assert s["auc_macro_ovr"] == {"mean": 0.9, "std": 0.0, "values": [0.9, None, None], "n": 1}
    one = stats.summarize_folds([{"accuracy": 0.5}], keys=("accuracy",))
    assert one["accuracy"]["std"] == 0.0


def test_paired_fold_test_known_values():
    a = [2.0, 4.0, 6.0, 8.0, 10.0]
    b = [1.0, 2.0, 3.0, 4.0, 5.0]  # differences 1..5
    res = stats.paired_fold_test(a, b)
    assert res["mean_diff"] == pytest.approx(3.0)
    # t = mean / (sd / sqrt(n)) = 3 / (sqrt(2.5) / sqrt(5)) = 3 * sqrt(2)
    assert res["t"] == pytest.approx(3 * math.sqrt(2))
    # Student t with 4 df has a closed-form CDF: P(|T|>t) = 1 - (3/4) x (1 - x^2/12), x = t / sqrt(1 + t^2/4)
    x = res["t"] / math.sqrt(1 + res["t"] ** 2 / 4)
    assert res["p_ttest"] == pytest.approx(1 - 0.75 * x * (1 - x**2 / 12))
    # exact Wilcoxon: all 5 differences positive -> p = 2 / 2^5
    assert res["p_wilcoxon"] == pytest.approx(2 / 32)


def test_paired_fold_test_degenerate_inputs():
    same = stats.paired_fold_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same["mean_diff"] == 0.0 and same["p_wilcoxon"] is None and same["p_ttest"] is None
    single = stats.paired_fold_test([0.9], [0.8])
    assert single["mean_diff"] == pytest.approx(0.1) and single["t"] is None
    with pytest.raises(ValueError, match="same length"):
        stats.paired_fold_test([1, 2], [1])


def test_mcnemar_known_counts_and_exact_p():
    # 8 samples only A gets right, 2 only B, 5 both, 3 neither
    y = np.zeros(18, dtype=int)
    pred_a = np.array([0] * 8 + [1] * 2 + [0] * 5 + [1] * 3)
    pred_b = np.array([1] * 8 + [0] * 2 + [0] * 5 + [1] * 3)
    res = stats.mcnemar_test(y, pred_a, pred_b)
    assert (res["a_only"], res["b_only"], res["both"], res["neither"]) == (8, 2, 5, 3)
    # exact two-sided binomial: 2 * P(X <= 2 | n=10, p=1/2) = 2 * (1 + 10 + 45) / 1024
    assert res["p_value"] == pytest.approx(112 / 1024)
    assert res["statistic"] == pytest.approx((6 - 1) ** 2 / 10)
    none = stats.mcnemar_test(y, y, y)
    assert none["p_value"] == 1.0 and none["both"] == 18
