"""benchmarks/epoch_speed.py: the FLOP count behind its "fraction of peak" line."""
import pytest
import torch
from torch import nn

import _bench


@pytest.fixture(scope="module")
def bench():
    return _bench.load("epoch_speed")


def test_training_flops_of_two_linear_layers_match_the_hand_count(bench):
    n, a, b, c = 4, 6, 5, 3
    model = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c))
    # forward 2ab + 2bc per clip; backward: both weight gradients (2ab + 2bc) and the gradient
    # flowing into the second layer's input (2bc); the input needs no gradient
    assert bench.training_flops_per_clip(model, torch.randn(n, a)) == 4 * a * b + 6 * b * c
    assert all(p.grad is None for p in model.parameters())  # it leaves no gradients behind


def test_training_flops_of_a_conv1d_match_the_hand_count(bench):
    model = nn.Conv1d(4, 8, kernel_size=3, padding=1)
    t = 20
    forward = 2 * 8 * 4 * 3 * t  # every output step: a dot product of 4 x 3 weights, per output channel
    assert bench.training_flops_per_clip(model, torch.randn(2, 4, t)) == 2 * forward  # + the weight gradient


def test_matmul_peak_is_a_positive_rate(bench):
    assert bench.matmul_flops_per_second(n=128, repeats=2) > 1e6
