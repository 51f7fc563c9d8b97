import pytest
import torch

from audiolab._util import plain
from audiolab.experiment import Experiment
from audiolab.models import (ARCHITECTURES, Conv1dClassifier, ConvConfig, ConvTransformer, TransformerConfig,
                             build_model)


@pytest.mark.parametrize("activation", ["relu", "gelu", "elu", "leaky_relu"])
@pytest.mark.parametrize("pool", ["max", "avg", "none"])
def test_conv1d_is_configurable(activation, pool):
    conv = ConvConfig(channels=(8, 16, 16), kernel_size=3, stride=2, activation=activation, pool=pool)
    model = Conv1dClassifier(conv, n_mels=12, n_classes=10)
    assert model(torch.randn(4, 12, 50)).shape == (4, 10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(convs) == 3 and all(c.stride == (2,) and c.kernel_size == (3,) for c in convs)


def test_conv1d_depth_follows_channels():
    model = build_model(ConvConfig(channels=[4, 4, 4, 4, 4], stride=1), 10, 5)
    assert sum(isinstance(m, torch.nn.Conv1d) for m in model.modules()) == 5
    assert model(torch.randn(2, 10, 40)).shape == (2, 5)


def test_stride_per_block():
    conv = ConvConfig(channels=(8, 16, 16), kernel_size=3, stride=[2, 1, 1], pool="none")
    assert conv.stride == (2, 1, 1) and conv.strides == (2, 1, 1) and plain(conv)["stride"] == [2, 1, 1]
    base = Conv1dClassifier(conv, n_mels=12, n_classes=10).features
    assert [m.stride for m in base.modules() if isinstance(m, torch.nn.Conv1d)] == [(2,), (1,), (1,)]
    assert base(torch.randn(2, 12, 40)).shape == (2, 16, 20)  # only the first block halves the frames
    assert ConvConfig(channels=(8, 8), stride=2).strides == (2, 2)
    with pytest.raises(ValueError, match="one stride per entry of channels"):
        ConvConfig(channels=(8, 8, 8), stride=(2, 1))
    with pytest.raises(ValueError, match=">= 1"):
        ConvConfig(channels=(8, 8), stride=(2, 0))


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_transformer_heads(heads):
    model = build_model(TransformerConfig(channels=[8, 8, 8], stride=1, d_model=16, heads=heads, depth=2), 12, 10)
    logits, maps = model(torch.randn(3, 12, 40), return_attention=True)
    assert logits.shape == (3, 10)
    tokens = 1 + 40 // 8  # <cls> + steps after three pool-by-2 blocks
    assert len(maps) == 2 and maps[0].shape == (3, heads, tokens, tokens)


def test_transformer_uses_cls_token():
    model = build_model(TransformerConfig(channels=[8, 8, 8], d_model=16, heads=2), 12, 10).eval()
    x = torch.randn(2, 12, 40)
    before = model(x)
    with torch.no_grad():
        model.cls_token.add_(torch.randn_like(model.cls_token))
    assert not torch.allclose(before, model(x))


def test_transformer_rejects_indivisible_heads():
    with pytest.raises(ValueError, match=r"d_model=30.*heads=4"):
        TransformerConfig(d_model=30, heads=4)


def test_too_many_tokens_is_explained():
    model = ConvTransformer(TransformerConfig(channels=(8, 8, 8), d_model=16, heads=2, max_tokens=4), 12, 10)
    with pytest.raises(ValueError, match="max_tokens"):
        model(torch.randn(1, 12, 64))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"activation": "tanhh"}, "unknown activation"),
        ({"pool": "median"}, "pool must be"),
        ({"kernel": 3}, r"unknown ConvConfig field 'kernel'; valid: \['activation'"),
        ({"channels": []}, "at least one"),
        ({"global_pool": "sum"}, "global_pool must be"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_model_config_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        Experiment.from_dict({"arch": "conv1d", "model": {"stride": 1, **bad}})


def test_a_model_config_is_read_back_from_its_dict():
    assert Experiment.from_dict({"arch": "conv1d"}).model == ConvConfig()
    assert Experiment.from_dict({"arch": "transformer", "model": {"heads": 2}}).model == TransformerConfig(heads=2)
    assert Experiment.from_dict({"model": plain(ConvConfig())}).model == ConvConfig()  # a config's dict builds it


def test_unknown_architecture():
    with pytest.raises(ValueError, match="conv1d"):
        Experiment.from_dict({"arch": "rnn"})
    with pytest.raises(TypeError, match="ConvConfig or a TransformerConfig"):
        build_model({"channels": (8,)}, 12, 10)
    assert tuple(ARCHITECTURES) == ("conv1d", "transformer")
    assert ARCHITECTURES["conv1d"] == (ConvConfig, Conv1dClassifier)
    assert ARCHITECTURES["transformer"] == (TransformerConfig, ConvTransformer)
    assert (ConvConfig.arch, TransformerConfig.arch) == ("conv1d", "transformer")


def test_one_dropout_reaches_conv_and_transformer():
    model = build_model(TransformerConfig(channels=[8, 8, 8], d_model=16, heads=2, dropout=0.37), 12, 10)
    rates = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
    assert rates == {0.37, 0.0} or rates == {0.37}  # attention dropout stays at its own default (0.0)
    conv_dropouts = [m.p for m in model.features.modules() if isinstance(m, torch.nn.Dropout)]
    assert conv_dropouts == [0.37] * 3 and model.blocks[0].dropout.p == 0.37


def test_the_kits_architectures_share_one_front_end():
    from audiolab import configs

    a1, a2 = configs.arch1(), configs.arch2(heads=2)
    assert a1.features == a2.features == configs.FEATURES and a1.augment == a2.augment
    frames = configs.FEATURES.num_frames
    assert frames == 108  # 5 s at 22.05 kHz, hop 1024
    # SpecAugment's widest time mask stays under half a second at this hop
    assert a1.augment.time_mask_width * configs.FEATURES.hop_length / configs.FEATURES.sample_rate < 0.5
    x = torch.zeros(1, configs.FEATURES.n_mels, frames)
    conv1 = build_model(a1.model, configs.FEATURES.n_mels, 10)
    assert conv1.features(x).shape[-1] == 1  # Architecture 1 pools the whole clip down to one step
    transformer = build_model(a2.model, configs.FEATURES.n_mels, 10)
    assert transformer.tokens(x).shape[1] == 1 + 7  # <cls> + 7 time steps
