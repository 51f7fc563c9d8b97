"""benchmarks/cohort.py: its operation counter, a cohort dispatching fewer operations per model than one model, and
the issue's target: at most 20 per model and step for Architecture 1 at 15 models."""
import dataclasses
import math

import pytest
import torch

import _bench
from _tiny import ARCH1

from audiolab import configs


@pytest.fixture(scope="module")
def bench():
    return _bench.load("cohort")


def test_the_counter_counts_every_operation_and_tells_views_from_kernels(bench):
    x = torch.randn(4, 3)
    with (counter := bench.CountOps()):
        y = (x * 2).view(12).relu()  # mul and relu compute; view only relabels memory
    assert (counter.count, counter.kernels) == (3, 2) and y.shape == (12,)


def test_a_cohort_dispatches_fewer_operations_per_model_than_one_model(bench):
    exp = ARCH1.replace({"train.batch_size": 32})
    exp = dataclasses.replace(exp, features=dataclasses.replace(exp.features, n_mels=8))
    x, y = torch.randn(400, 8, 20), torch.arange(400) % 10
    one_ops, one_kernels, _ = bench.one_model(exp, x, y, epochs=1)
    single = bench.cohort(exp, x, y, k=1, epochs=1)
    many = bench.cohort(exp, x, y, k=6, epochs=1)
    assert many[0] < one_ops / 3 and many[1] < one_kernels / 3  # six models cost far less than six steps
    assert single[0] > many[0] * 3  # the count is per model: it falls as the cohort grows
    timed = bench.one_model(exp, x, y, epochs=1, count=False), bench.cohort(exp, x, y, k=2, epochs=1, count=False)
    assert all(math.isnan(t[0]) and t[2] > 0 for t in timed)  # the later rounds only time


def test_the_recipe_of_architecture_1_at_15_models_dispatches_at_most_20_operations_per_model_step(bench):
    # the count depends on the layers and the recipe, not on the tensors' sizes: the recipe, narrow and short
    exp = configs.arch1().replace({"model.channels": (8, 8, 8, 8)})
    exp = dataclasses.replace(exp, features=dataclasses.replace(exp.features, n_mels=8))
    ops, kernels, _ = bench.cohort(exp, torch.randn(400, 8, 20), torch.arange(400) % 10, k=15, epochs=1)
    assert ops <= 20 and kernels <= ops  # 245 for one model per step
