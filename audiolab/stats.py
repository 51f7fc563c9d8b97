"""Comparing results: mean ± std over folds (:func:`summarize_folds`), paired tests between two configurations
(:func:`paired_fold_test`, :func:`mcnemar_test`, and :func:`corrected_resampled_ttest`, whose interval accounts for the
folds' overlapping training sets), a Wilson interval for an accuracy (:func:`proportion_ci`) and the kit's one rule for
"within noise", in words (:func:`describe_difference`). Everything returned is plain Python, ready for JSON and W&B."""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

from ._util import to_numpy


def _float_or_none(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def summarize_folds(per_fold: Sequence[Mapping], keys: Sequence[str] = ("accuracy", "macro_f1", "auc_macro_ovr")) -> dict:
    """Mean and sample std (0 for a single value) of metrics across folds: ``{key: {"mean", "std", "values", "n"}}``,
    ``values`` one per fold (``None`` where missing or NaN), ``mean``/``std`` of the defined ones (``None`` if none)."""
    out: dict[str, dict] = {}
    for key in keys:
        values = [_float_or_none(fold.get(key)) for fold in per_fold]
        defined = np.array([v for v in values if v is not None], dtype=np.float64)
        mean = float(defined.mean()) if defined.size else None
        std = (float(defined.std(ddof=1)) if defined.size > 1 else 0.0) if defined.size else None
        out[key] = {"mean": mean, "std": std, "values": values, "n": int(defined.size)}
    return out


def paired_fold_test(a: Sequence[float], b: Sequence[float]) -> dict:
    """Paired comparison of two configurations scored on the same folds (``a``, ``b``: one score per fold):
    ``mean_diff`` (``mean(a - b)``), ``t`` and ``p_ttest`` of the two-sided paired t-test, ``p_wilcoxon`` of the
    two-sided Wilcoxon signed-rank test (each ``None`` when undefined) and ``n``. With 5 folds the smallest possible
    Wilcoxon p-value is 0.0625: a sanity check, not a significance test."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"a and b must be 1-D with one score per fold, same length; got {x.shape} and {y.shape}.")
    diff = x - y
    result: dict[str, Any] = {"mean_diff": float(diff.mean()), "t": None, "p_ttest": None, "p_wilcoxon": None,
                              "n": int(x.size)}
    if x.size >= 2:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = scipy_stats.ttest_rel(x, y)
            result["t"], result["p_ttest"] = _float_or_none(res.statistic), _float_or_none(res.pvalue)
            if np.any(diff != 0):
                with contextlib.suppress(ValueError):
                    result["p_wilcoxon"] = _float_or_none(scipy_stats.wilcoxon(x, y).pvalue)
    return result


def mcnemar_test(y_true, pred_a, pred_b) -> dict:
    """McNemar's test on pooled predictions of two classifiers on the same samples: ``a_only`` (b01: A right and B
    wrong), ``b_only`` (b10, the reverse), ``both``, ``neither``, ``n``, ``p_value`` (the exact two-sided binomial test
    of b01 vs b10) and, for reference, ``statistic`` (chi-squared with continuity correction,
    ``(|b01 - b10| - 1)^2 / (b01 + b10)``); without discordant samples ``p_value`` is 1.0 and ``statistic`` 0.0."""
    y, pa, pb = (to_numpy(v).ravel() for v in (y_true, pred_a, pred_b))
    if not (y.shape == pa.shape == pb.shape):
        raise ValueError(f"y_true, pred_a and pred_b must have the same length; got {y.shape}, {pa.shape}, {pb.shape}.")
    ra, rb = pa == y, pb == y
    a_only, b_only = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
    discordant = a_only + b_only
    p_value = float(scipy_stats.binomtest(min(a_only, b_only), discordant, 0.5).pvalue) if discordant else 1.0
    statistic = float((abs(a_only - b_only) - 1) ** 2 / discordant) if discordant else 0.0
    return {"a_only": a_only, "b_only": b_only, "both": int(np.sum(ra & rb)), "neither": int(np.sum(~ra & ~rb)),
            "statistic": statistic, "p_value": min(p_value, 1.0), "n": int(y.size)}


def corrected_resampled_ttest(diffs: Sequence[float], n_train: int, n_test: int, alpha: float = 0.05) -> dict:
    """Mean of per-fold differences (A − B) with a ``1 - alpha`` confidence interval, corrected for cross-validation
    (Nadeau & Bengio, "Inference for the generalization error", 2003). The folds' training sets overlap, so their scores
    are correlated and the plain paired t-test's variance ``s²/k`` is too small. The corrected variance is
    ``(1/k + n_test/n_train) s²``; the statistic has ``k - 1`` degrees of freedom. Returns ``mean``, ``se`` (corrected),
    ``t``, ``df``, ``p`` (two-sided), ``ci_low``, ``ci_high`` and ``n`` (folds); ``p``/``t`` are ``None`` when every
    difference is equal (no spread to test against)."""
    d = np.asarray(list(diffs), dtype=np.float64)
    k = len(d)
    if k < 2:
        raise ValueError(f"the corrected t-test needs at least two folds, got {k}")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    mean, var = float(d.mean()), float(d.var(ddof=1))
    se = math.sqrt((1.0 / k + n_test / n_train) * var)
    q = float(scipy_stats.t.ppf(1 - alpha / 2, k - 1))
    t = mean / se if se > 0 else None
    p = float(2 * scipy_stats.t.sf(abs(t), k - 1)) if t is not None else None
    return {"mean": mean, "se": se, "t": t, "df": k - 1, "p": p, "ci_low": mean - q * se, "ci_high": mean + q * se,
            "n": k, "alpha": alpha}


def proportion_ci(correct: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion (an accuracy of ``correct`` out of ``n`` clips)."""
    if n <= 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n > 0, got {correct} of {n}")
    z = float(scipy_stats.norm.ppf(1 - alpha / 2))
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def within_noise(test: Mapping) -> bool:
    """The kit's one rule: two configurations are *within noise* when the confidence interval of
    their difference (:func:`corrected_resampled_ttest`) contains zero."""
    return test["ci_low"] <= 0.0 <= test["ci_high"]


def describe_difference(test: Mapping, a: str = "A", b: str = "B") -> str:
    """The difference ``a − b`` in words and points, worded by :func:`within_noise`: "no evidence of
    a difference (CI −1.2 to +2.0 points)" or "a is ahead by 2.5 points (CI +0.4 to +4.6)"."""
    lo, hi, mean = 100 * test["ci_low"], 100 * test["ci_high"], 100 * test["mean"]
    ci = f"{round(100 * (1 - test.get('alpha', 0.05)))} % CI {lo:+.1f} to {hi:+.1f} points"
    if within_noise(test):
        return f"no evidence of a difference between {a} and {b} ({a} − {b} = {mean:+.1f} points, {ci})"
    ahead, behind = (a, b) if mean > 0 else (b, a)
    return f"{ahead} is ahead of {behind} by {abs(mean):.1f} points ({a} − {b}, {ci})"
