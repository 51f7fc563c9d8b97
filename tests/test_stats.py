"""audiolab.stats against small hand-computed examples."""
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

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


# --------------------------------------------------------------------------- corrected t-test, intervals, wording

DIFFS = [0.02, 0.03, -0.01, 0.04, 0.02]  # A - B on five folds: mean 0.02, sample variance 0.00035


def test_corrected_ttest_against_a_hand_computation():
    res = stats.corrected_resampled_ttest(DIFFS, n_train=320, n_test=80)
    # variance factor 1/k + n_test/n_train = 1/5 + 80/320 = 0.45 (the plain t-test's is 1/k = 0.2)
    se = math.sqrt(0.45 * 0.00035)
    assert res["mean"] == pytest.approx(0.02) and res["se"] == pytest.approx(se)
    assert res["t"] == pytest.approx(0.02 / se) and res["df"] == 4 and res["n"] == 5
    q = 2.7764451  # Student t, 4 degrees of freedom, 97.5 % quantile (tables)
    assert (res["ci_low"], res["ci_high"]) == (pytest.approx(0.02 - q * se), pytest.approx(0.02 + q * se))
    x = res["t"] / math.sqrt(1 + res["t"] ** 2 / 4)  # the closed-form two-sided p of 4 df (see above)
    assert res["p"] == pytest.approx(1 - 0.75 * x * (1 - x**2 / 12))


def test_the_degrees_of_freedom_and_alpha_follow_the_folds():
    res = stats.corrected_resampled_ttest(DIFFS[:3], n_train=10, n_test=10, alpha=0.1)
    se = math.sqrt((1 / 3 + 1) * np.var(DIFFS[:3], ddof=1))
    # a 90 % interval: the 95th percentile of Student's t with 2 degrees of freedom
    assert res["df"] == 2 and res["ci_high"] - res["mean"] == pytest.approx(2.9199856 * se)


def test_the_corrected_interval_is_wider_than_the_plain_paired_one():
    res = stats.corrected_resampled_ttest(DIFFS, n_train=320, n_test=80)
    plain = scipy_stats.ttest_rel(DIFFS, [0.0] * 5).confidence_interval(0.95)
    assert res["ci_low"] < plain.low and res["ci_high"] > plain.high
    assert (res["ci_high"] - res["ci_low"]) / (plain.high - plain.low) == pytest.approx(math.sqrt(0.45 / 0.2))


def test_corrected_ttest_degenerate_inputs():
    same = stats.corrected_resampled_ttest([0.01, 0.01, 0.01], 30, 10)
    assert same["t"] is None and same["p"] is None and same["ci_low"] == same["ci_high"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="two folds"):
        stats.corrected_resampled_ttest([0.1], 30, 10)
    with pytest.raises(ValueError, match="positive"):
        stats.corrected_resampled_ttest(DIFFS, 0, 10)


def test_proportion_ci_is_the_wilson_interval():
    low, high = stats.proportion_ci(72, 80)  # 90 % of 80 clips
    assert (low, high) == (pytest.approx(0.8149, abs=1e-4), pytest.approx(0.9485, abs=1e-4))
    z2 = 1.959964**2  # with no clip right, the upper bound is z^2 / (n + z^2)
    assert stats.proportion_ci(0, 10) == (0.0, pytest.approx(z2 / (10 + z2), abs=1e-6))
    assert stats.proportion_ci(10, 10)[1] == pytest.approx(1.0) and stats.proportion_ci(10, 10)[0] < 1.0
    assert stats.proportion_ci(72, 80, alpha=0.1)[0] > low  # a lower confidence, a narrower interval
    with pytest.raises(ValueError, match="correct <= n"):
        stats.proportion_ci(81, 80)


@pytest.mark.parametrize("low, high, within", [(-0.012, 0.020, True), (0.0, 0.03, True), (-0.03, 0.0, True),
                                               (0.004, 0.046, False), (-0.05, -0.001, False)])
def test_no_evidence_of_a_difference_exactly_when_the_interval_contains_zero(low, high, within):
    test = {"mean": (low + high) / 2, "ci_low": low, "ci_high": high}
    text = stats.describe_difference(test, "Arch 1", "Arch 2")
    assert stats.within_noise(test) is within
    assert ("no evidence of a difference" in text) is within
    assert "indistinguishable" not in text and "equal" not in text


def test_a_difference_is_worded_with_its_sign_and_interval():
    ahead = stats.describe_difference({"mean": 0.025, "ci_low": 0.004, "ci_high": 0.046}, "A", "B")
    assert ahead.startswith("A is ahead of B by 2.5 points") and "95 % CI +0.4 to +4.6 points" in ahead
    behind = stats.describe_difference({"mean": -0.025, "ci_low": -0.046, "ci_high": -0.004}, "A", "B")
    assert behind.startswith("B is ahead of A by 2.5 points") and "A − B" in behind
    noise = stats.describe_difference({"mean": 0.004, "ci_low": -0.012, "ci_high": 0.02, "alpha": 0.1}, "A", "B")
    assert "no evidence of a difference between A and B" in noise and "90 % CI -1.2 to +2.0 points" in noise
