"""audiolab.configs: the kit's configurations are the configs' defaults; the 2024 baselines; spaces and profiles."""
import pytest

from audiolab import configs
from audiolab.augment import AugmentConfig
from audiolab.experiment import Experiment
from audiolab.features import FeatureConfig
from audiolab.models import ConvConfig, TransformerConfig
from audiolab.train import TrainConfig


def test_the_configs_defaults_are_what_the_kit_trains():
    a1, a2 = configs.arch1(), configs.arch2()
    assert FeatureConfig() == configs.FEATURES == a1.features == a2.features
    assert ConvConfig() == a1.model and TransformerConfig(heads=4) == a2.model
    assert AugmentConfig() == a1.augment == a2.augment
    assert TrainConfig(copies=2) == a1.train and a2.train == TrainConfig(lr=1e-3)  # arch1: two copies per step


def test_arch1_is_the_default_experiment():
    assert configs.arch1().key() == Experiment().replace({"train.copies": 2}).key()
    assert configs.arch2().key() == Experiment(model=TransformerConfig()).replace({"train.lr": 1e-3}).key()


@pytest.mark.parametrize("heads", configs.HEADS)
def test_arch2_takes_its_heads_and_name(heads):
    exp = configs.arch2(heads)
    assert exp.model.heads == heads and exp.name == f"arch2-heads{heads}" and exp.arch == "transformer"
    assert configs.arch2(heads, name="x").name == "x"


def test_profiles_set_the_epochs():
    smoke = configs.get_profile("smoke")
    assert configs.arch1(smoke).train.epochs == smoke.epochs == 2 and configs.arch2(2, smoke).train.epochs == 2
    assert configs.get_profile("full", epochs=7, folds=[1, 2], search_trials=None).epochs == 7
    assert configs.get_profile("full", folds=[1, 2]).folds == (1, 2)
    with pytest.raises(ValueError, match="unknown profile 'fast'.*full"):
        configs.get_profile("fast")


def test_baseline_experiments_follow_the_2024_report():
    base = configs.baseline_experiments()
    a1, a2 = base["arch1-baseline-2024"], base["arch2-baseline-2024"]
    assert (a1.arch, a2.arch) == ("conv1d", "transformer")
    for exp in (a1, a2):
        m = exp.model
        assert m.channels == (32, 64, 128) and m.kernel_size == 3 and m.stride == 1
        assert m.activation == "relu" and m.pool == "max" and m.pool_size == 2
        t = exp.train
        assert (t.lr, t.batch_size, t.epochs) == (1e-3, 64, 100)
        assert (t.weight_decay, t.warmup_epochs, t.label_smoothing) == (0, 0, 0)
        assert t.grad_clip is None and not t.per_clip_norm and t.tta_shifts == 1
        assert not (exp.augment.time_shift or exp.augment.spec_augment or exp.augment.mixup or exp.augment.random_eq)
        assert (exp.features.n_fft, exp.features.hop_length, exp.features.floor_db) == (1024, 512, None)
    assert a1.model.global_pool == "avg" and a1.model.dropout == 0.0 and a1.model.head_dropout == 0.0
    assert (a2.model.d_model, a2.model.heads, a2.model.depth, a2.model.dropout) == (128, 4, 2, 0.1)


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_every_value_of_a_space_applies_to_its_start(name):
    factory, space = configs.SPACES[name]
    base = factory()
    first = {key: values[0] for key, values in space.items()}  # widths and strides only fit together
    for key, values in space.items():
        assert "." in key and key == ".".join(base.resolve(key))  # dotted keys, as the sweeps name them
        for value in values:
            assert base.replace({**first, key: value}).get(key) == value


def test_load_dataset_keeps_every_fold_of_a_smoke_profile(synthetic_esc10):
    features = FeatureConfig(sample_rate=8000, n_mels=16, hop_length=256, n_fft=512)
    meta, X = configs.load_dataset(configs.PROFILES["smoke"], root=synthetic_esc10, features=features, strict=False)
    assert sorted(meta["fold"].unique()) == [1, 2, 3, 4, 5] and meta.groupby(["fold", "target"]).size().max() == 1
    assert X.shape == (len(meta), 16, features.num_frames)


@pytest.mark.parametrize("variant", sorted(configs.ABLATIONS))
def test_each_ablation_switches_off_one_ingredient_of_both_recipes(variant):
    overrides = configs.ABLATIONS[variant]
    assert variant.startswith("no-") and len(overrides) == 1
    [(key, off)] = overrides.items()
    for base in (configs.arch1(), configs.arch2(2)):
        assert key == ".".join(base.resolve(key)) and base.get(key) not in (off, None)  # on in the recipe
        changed = base.replace(overrides)
        assert changed.get(key) == off and changed.key() != base.key()
        assert changed.replace({key: base.get(key)}).key() == base.key()  # nothing else changes
