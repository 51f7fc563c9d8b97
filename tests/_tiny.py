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
    """Wraps the ``fit`` that train_and_score calls: counts calls, keeps what each trained and watched."""

    def __init__(self, monkeypatch):
        self.calls, self._fit = [], cv.fit
        monkeypatch.setattr(cv, "fit", self)

    def __call__(self, model, x_train, y_train, x_eval=None, y_eval=None, config=None, augment=None,
                 eval_name="val", *args, **kwargs):
        self.calls.append({"x_train": x_train, "x_eval": x_eval, "config": config, "eval_name": eval_name})
        return self._fit(model, x_train, y_train, x_eval, y_eval, config, augment, eval_name, *args, **kwargs)
