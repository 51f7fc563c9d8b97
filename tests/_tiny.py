"""Tiny experiments on the synthetic ESC-10 of conftest.py, shared by the evaluation tests.

Import the fixtures too: ``from _tiny import ARCH1, CountingFit, meta, features  # noqa: F401``.
"""
import pytest

from audiolab.data import load_features
from audiolab.evaluation import cv
from audiolab.experiment import Experiment
from audiolab.features import FeatureConfig
from audiolab.models import ConvConfig, TransformerConfig
from audiolab.train import TrainConfig

#: A front-end small enough for a test: 8 kHz, 16 mel bands.
FC = FeatureConfig(sample_rate=8000, n_mels=16, hop_length=256, n_fft=512)
TRAIN = TrainConfig(epochs=2, batch_size=16, device="cpu")
ARCH1 = Experiment("arch1", ConvConfig(channels=(8, 8, 8), kernel_size=3, stride=1), FC, TRAIN)
ARCH2 = Experiment("arch2", TransformerConfig(channels=(8, 8, 8), kernel_size=3, d_model=16, heads=2, depth=1), FC, TRAIN)


@pytest.fixture
def meta(synthetic_esc10_meta):
    return synthetic_esc10_meta


@pytest.fixture
def features(meta):
    return load_features(meta, FC)


class CountingFit:
    """Wraps the ``fit_cohort`` that train_and_score calls: one call per model trained, with what it trained on and
    watched (``x_train``, ``x_eval``), its ``config``, ``eval_name`` and the size of its ``cohort``."""

    def __init__(self, monkeypatch):
        self.calls, self.cohorts, self._fit = [], [], cv.fit_cohort
        monkeypatch.setattr(cv, "fit_cohort", self)

    def __call__(self, models, x, y, train_idx, eval_idx=None, config=None, augment=None, eval_name="val",
                 *args, **kwargs):
        configs = [config] * len(models) if not isinstance(config, (list, tuple)) else config
        self.cohorts.append(len(models))
        for k in range(len(models)):
            self.calls.append({"x_train": x[train_idx[k]], "x_eval": None if eval_idx is None else x[eval_idx[k]],
                               "config": configs[k], "eval_name": eval_name, "cohort": len(models)})
        return self._fit(models, x, y, train_idx, eval_idx, config, augment, eval_name, *args, **kwargs)
