"""Tests of audiolab.data.folds: the official cross-validation folds and the holdout split."""
from __future__ import annotations

import numpy as np
import pytest

from audiolab.data import cv_folds, holdout_split


def test_cv_folds(synthetic_esc10_meta):
    folds = cv_folds(synthetic_esc10_meta)
    assert [f for f, _, _ in folds] == [1, 2, 3, 4, 5]
    for fold, train, test in folds:
        assert set(synthetic_esc10_meta["fold"].iloc[test]) == {fold}
        assert fold not in set(synthetic_esc10_meta["fold"].iloc[train])
        assert sorted(np.concatenate([train, test])) == list(range(50))
    with pytest.raises(ValueError, match="two folds"):
        cv_folds(synthetic_esc10_meta[synthetic_esc10_meta["fold"] == 1])


def test_holdout_split(synthetic_esc10_meta):
    split = holdout_split(synthetic_esc10_meta)
    folds = synthetic_esc10_meta["fold"].to_numpy()
    assert set(folds[split["train"]]) == {1, 2, 3}
    assert set(folds[split["val"]]) == {4} and set(folds[split["test"]]) == {5}
    assert sum(len(v) for v in split.values()) == 50
    for bad in ({"test_fold": 2, "val_fold": 2}, {"test_fold": 7}):
        with pytest.raises(ValueError, match=r"must differ and leave a training fold .*\[1, 2, 3, 4, 5\]"):
            holdout_split(synthetic_esc10_meta, **bad)
    with pytest.raises(ValueError, match=r"leave a training fold in the table \(folds present: \[4, 5\]"):
        holdout_split(synthetic_esc10_meta[synthetic_esc10_meta["fold"] >= 4])
