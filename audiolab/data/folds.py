"""The official ESC-10 folds, and the protocol's use of them.

Clips cut from one recording always share a fold, so evaluate on whole folds, never on a random split of clips
(near-duplicates in training and test inflate the score). Every function returns positional indices into the clip table
(``meta.iloc[idx]``, or a feature tensor in the same row order)."""
from __future__ import annotations

import numpy as np
import pandas as pd

#: The fold kept for the final test: never trained on by a model whose score chooses anything.
TEST_FOLD = 5
#: The development folds: every choice of the kit is made on scores of these alone.
DEV_FOLDS = (1, 2, 3, 4)
#: The search's validation folds (each trial trains on the other development folds and is scored on these).
SEARCH_VAL_FOLDS = (3, 4)


def _present(meta: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    folds = meta["fold"].to_numpy()
    return folds, sorted(int(f) for f in np.unique(folds))


def cv_folds(meta: pd.DataFrame) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The official cross-validation: ``[(test_fold, train_idx, test_idx), ...]`` for each fold present."""
    folds, present = _present(meta)
    if len(present) < 2:
        raise ValueError(f"cross-validation needs at least two folds, the table has {present}")
    return [(f, np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in present]


def development_folds(meta: pd.DataFrame, test_fold: int = TEST_FOLD) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Cross-validation over the development folds: ``[(val_fold, train_idx, val_idx), ...]``, each fold but
    ``test_fold`` scored once by a model trained on the other development folds; ``test_fold`` is never used."""
    folds, present = _present(meta)
    if test_fold not in present:
        raise ValueError(f"test fold {test_fold} is not in the table (folds present: {present})")
    dev = [f for f in present if f != test_fold]
    if len(dev) < 2:
        raise ValueError(f"development cross-validation needs two folds besides test fold {test_fold}, got {dev}")
    return [(f, np.flatnonzero((folds != f) & (folds != test_fold)), np.flatnonzero(folds == f)) for f in dev]


def holdout_split(meta: pd.DataFrame, test_fold: int = TEST_FOLD, val_fold: int = DEV_FOLDS[-1]) -> dict[str, np.ndarray]:
    """``{"train", "val", "test"}`` positional indices: one fold for test, one for validation, the rest to train."""
    folds, present = _present(meta)
    if test_fold == val_fold or not {test_fold, val_fold} < set(present):
        raise ValueError(f"test fold {test_fold} and validation fold {val_fold} must differ and leave a training fold "
                         f"in the table (folds present: {present})")
    train = np.flatnonzero((folds != test_fold) & (folds != val_fold))
    return {"train": train, "val": np.flatnonzero(folds == val_fold), "test": np.flatnonzero(folds == test_fold)}
