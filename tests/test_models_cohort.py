"""Many models in one forward pass (audiolab.models.cohort): Architecture 1 written out computes what
``torch.func.vmap`` computes (to float precision, the same dropout masks); any other model runs under vmap; a cohort of
one is the model itself."""
import copy

import pytest
import torch

from audiolab.models import ConvConfig, TransformerConfig, build_model
from audiolab.models.cohort import stacked_forward


def _vmap(skeleton):
    return torch.func.vmap(lambda p, b, xb: torch.func.functional_call(skeleton, (p, b), (xb,)),
                           randomness="different")


def _models(config, k=3):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(build_model(config, 8, 3))
    return out


def _step(forward_of, models, x, training):
    """Logits, gradients and buffers after one forward and backward pass of the stacked models."""
    params, buffers = torch.func.stack_module_state(copy.deepcopy(models))
    skeleton = copy.deepcopy(models[0]).to("meta").train(training)
    torch.manual_seed(7)  # dropout's masks
    logits = forward_of(skeleton, len(models))(params, buffers, x)
    logits.square().sum().backward()
    return logits.detach(), {name: p.grad for name, p in params.items()}, buffers


CONFIGS = [ConvConfig(channels=(8, 16, 16), kernel_size=3, stride=(1, 2, 2)),  # the kit's layout, small
           ConvConfig(channels=(8, 8, 8), stride=1, pool="avg", global_pool="max", dropout=0.0, head_dropout=0.0),
           ConvConfig(channels=(8, 8, 8), stride=2, pool="none", global_pool="avg", activation="leaky_relu"),
           ConvConfig(channels=(8, 8, 8), stride=1, activation="gelu"), ConvConfig(channels=(8, 8, 8), stride=2, activation="elu")]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("config", CONFIGS, ids=["recipe", "avg-pool", "no-pool", "gelu", "elu"])
def test_architecture_1_written_out_computes_what_vmap_computes(config, training):
    models, x = _models(config), torch.randn(3, 5, 8, 24)
    expected, mine = _step(lambda s, k: _vmap(s), models, x, training), _step(stacked_forward, models, x, training)
    torch.testing.assert_close(mine[0], expected[0], rtol=1e-5, atol=1e-5)  # dropout's masks the same
    torch.testing.assert_close(mine[1], expected[1], rtol=1e-4, atol=1e-5)  # batch norm sums in another order
    torch.testing.assert_close(mine[2], expected[2], rtol=1e-6, atol=1e-7)  # its running statistics and count


@pytest.mark.parametrize("config", [CONFIGS[0], TransformerConfig(channels=(8, 8), stride=1, d_model=8, heads=2, depth=1)])
def test_a_cohort_of_one_is_the_model_itself_bit_for_bit(config):
    model, x = _models(config, k=1)[0], torch.randn(1, 5, 8, 24)
    expected = copy.deepcopy(model).train()
    torch.manual_seed(7)
    logits = expected(x[0])
    logits.square().sum().backward()
    mine = _step(stacked_forward, [model], x, True)
    assert torch.equal(mine[0][0], logits.detach())
    for name, p in expected.named_parameters():
        assert torch.equal(mine[1][name][0], p.grad), name
    for name, b in expected.named_buffers():
        assert torch.equal(mine[2][name][0], b), name


def test_each_model_runs_on_its_own_clips():
    for config in (CONFIGS[0], TransformerConfig(channels=(8, 8), stride=1, d_model=8, heads=2, depth=1)):
        models, x = _models(config), torch.randn(3, 4, 8, 24)
        params, buffers = torch.func.stack_module_state(copy.deepcopy(models))
        skeleton = copy.deepcopy(models[0]).to("meta").eval()
        stacked = stacked_forward(skeleton, 3)(params, buffers, x)
        for k, model in enumerate(models):
            torch.testing.assert_close(stacked[k], model.eval()(x[k]), rtol=1e-5, atol=1e-6)


def test_a_model_with_layers_the_cohort_is_not_written_for_runs_under_vmap():
    class Wider(type(build_model(CONFIGS[0], 8, 3))):  # a student's own variant of Architecture 1
        def forward(self, x):
            return super().forward(x) * 2

    models = _models(CONFIGS[0])
    for model in models:  # a layer that mixes what the written-out cohort keeps apart
        model.features.blocks[0].append(torch.nn.InstanceNorm1d(8))
    wider = []
    for seed in range(3):
        torch.manual_seed(seed)
        wider.append(Wider(CONFIGS[0], 8, 3))
    x = torch.randn(3, 4, 8, 24)
    for group in (models, wider):
        params, buffers = torch.func.stack_module_state(copy.deepcopy(group))
        stacked = stacked_forward(copy.deepcopy(group[0]).to("meta").eval(), 3)(params, buffers, x)
        for k, model in enumerate(group):
            torch.testing.assert_close(stacked[k], model.eval()(x[k]), rtol=1e-5, atol=1e-6)
