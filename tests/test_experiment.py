"""audiolab.experiment: one typed experiment, changed through dotted overrides, keyed and serialised."""
import json

import pytest

from audiolab._util import plain
from audiolab.augment import AugmentConfig
from audiolab.experiment import LATER_OPTIONS, SECTIONS, Experiment, parse_value
from audiolab.features import FeatureConfig
from audiolab.models import ConvConfig, TransformerConfig
from audiolab.train import TrainConfig

FC = FeatureConfig(sample_rate=8000, n_mels=16, hop_length=256, n_fft=512)
TINY = TrainConfig(epochs=2, batch_size=16, device="cpu")
ARCH1 = Experiment("arch1", ConvConfig(channels=(8, 8, 8), kernel_size=3, stride=1), FC, TINY)
ARCH2 = Experiment("arch2", TransformerConfig(channels=(8, 8, 8), kernel_size=3, d_model=16, heads=2, depth=1),
                   FC, TINY)


def test_round_trip_through_json_keeps_equality_key_and_hash():
    d = ARCH2.to_dict()
    assert json.loads(json.dumps(d)) == d
    again = Experiment.from_dict(json.loads(json.dumps(d)))
    assert again == ARCH2 and again.key() == ARCH2.key() and hash(again) == hash(ARCH2)
    assert again.model.channels == (8, 8, 8) and again.arch == "transformer"


def test_to_dict_writes_every_section_in_full():
    d = ARCH1.to_dict()
    assert set(d) == {"name", "arch", "description", *SECTIONS}
    later = {k for fields in LATER_OPTIONS.values() for k in fields}
    assert d["model"] == plain(ARCH1.model)
    assert d["augment"] == {k: v for k, v in plain(AugmentConfig()).items() if k not in later}
    assert d["train"]["lr"] == TrainConfig().lr  # defaults are written out, not left implicit


def test_options_added_later_are_left_out_while_off_so_stored_keys_stay_valid():
    assert "time_stretch" not in ARCH1.to_dict()["augment"] and "copies" not in ARCH1.to_dict()["train"]
    on = ARCH1.replace({"augment.time_stretch": 1.25, "train.copies": 2})
    assert on.to_dict()["augment"]["time_stretch"] == 1.25 and on.to_dict()["train"]["copies"] == 2
    assert on.key() != ARCH1.key() and Experiment.from_dict(on.to_dict()) == on
    assert Experiment.from_dict(ARCH1.to_dict()) == ARCH1
    assert on.replace({"augment.time_stretch": 1.0, "train.copies": 1}).key() == ARCH1.key()


def test_name_and_description_do_not_change_the_key():
    assert ARCH2.replace(name="other", description="x").key() == ARCH2.key()
    assert len(ARCH2.key()) == 12 and int(ARCH2.key(), 16) >= 0


@pytest.mark.parametrize("key, value", [("model.heads", 4), ("train.lr", 1e-4), ("augment.mixup", False),
                                        ("features.floor_db", None)])
def test_any_change_that_trains_differently_changes_the_key(key, value):
    changed = ARCH2.replace({key: value})
    assert changed.get(key) == value and changed.key() != ARCH2.key()


def test_dotted_overrides_reach_each_section():
    exp = ARCH1.replace({"train.lr": 1e-2, "model.kernel_size": 5, "augment.mixup": False, "features.n_mels": 32})
    assert (exp.train.lr, exp.model.kernel_size, exp.augment.mixup, exp.features.n_mels) == (1e-2, 5, False, 32)
    assert exp.train.epochs == TINY.epochs and exp.augment.time_shift  # the rest is unchanged
    assert ARCH1.train.lr == TrainConfig().lr  # the original is untouched (frozen)


def test_a_field_name_without_a_section_is_found_in_its_one_section():
    exp = ARCH1.replace({"lr": 0.01, "kernel_size": 5, "channels": [4, 4], "mixup": False})
    assert exp.model.channels == (4, 4) and exp.model.kernel_size == 5  # lists become tuples
    assert exp.train.lr == 0.01 and exp.augment.mixup is False
    assert ARCH1.resolve("lr") == ("train", "lr") and ARCH1.resolve("mixup") == ("augment", "mixup")
    assert ARCH1.resolve("model.stride") == ("model", "stride")


def test_get_reads_the_effective_value():
    assert ARCH1.get("model.stride") == 1 and ARCH2.get("heads") == 2
    assert ARCH2.get("model.channels") == (8, 8, 8) and ARCH1.get("train.epochs") == 2


def test_replace_with_plain_fields_and_overrides_at_once():
    exp = ARCH1.replace({"train.seed": 3}, name="arch1-seed3", description="x")
    assert (exp.name, exp.description, exp.train.seed) == ("arch1-seed3", "x", 3)


def test_string_values_are_parsed_to_the_fields_type():
    exp = ARCH1.replace({"train.lr": "0.01", "model.channels": "4,4", "augment.mixup": "false",
                         "train.grad_clip": "none", "model.activation": "gelu", "train.epochs": "3"})
    assert exp.train.lr == 0.01 and exp.model.channels == (4, 4) and exp.augment.mixup is False
    assert exp.train.grad_clip is None and exp.model.activation == "gelu" and exp.train.epochs == 3
    one_block = ARCH1.replace({"model.channels": "64", "model.stride": "2"})  # a sequence field takes one value too
    assert one_block.model.channels == (64,) and one_block.model.stride == 2


def test_parse_value():
    assert parse_value("none", float | None) is None and parse_value("null", None) is None
    assert parse_value("true") is True and parse_value("False") is False and parse_value("1", bool) is True
    assert parse_value("64,128") == (64, 128) and parse_value("(64, 128)") == (64, 128) and parse_value("[2]") == (2,)
    assert parse_value("1e-3") == 1e-3 and parse_value("3") == 3 and isinstance(parse_value("3"), int)
    assert parse_value("relu") == "relu" and parse_value("none", str) == "none"  # a str field keeps its text
    with pytest.raises(ValueError, match="true or false"):
        parse_value("yes", bool)


@pytest.mark.parametrize("key, message", [
    ("model.chanels", r"ConvConfig has no field 'chanels'.*valid: channels, kernel_size"),
    ("optim.lr", r"unknown section 'optim'.*sections: model, features, train, augment"),
    ("learning_rate", r"'learning_rate' is not a field of any section.*train\.lr"),
    ("ema", r"'ema' is not a field"),  # removed with the redesign
    ("early_stopping", r"'early_stopping' is not a field"),
])
def test_an_unknown_key_names_itself_and_the_valid_ones(key, message):
    with pytest.raises(ValueError, match=message):
        ARCH1.replace({key: 1})


def test_transformer_fields_do_not_exist_on_architecture_1_and_vice_versa():
    with pytest.raises(ValueError, match="ConvConfig has no field 'heads'"):
        ARCH1.replace({"model.heads": 2})
    with pytest.raises(ValueError, match="TransformerConfig has no field 'head_dropout'"):
        ARCH2.replace({"model.head_dropout": 0.1})


def test_a_bad_value_fails_at_once_naming_the_section():
    with pytest.raises(ValueError, match=r"bad model values \{'heads': 3\}.*divisible"):
        ARCH2.replace({"model.heads": 3})
    with pytest.raises(ValueError, match="bad train values"):
        ARCH1.replace({"train.lr": 0})
    with pytest.raises(ValueError, match="one stride per entry of channels"):
        ARCH1.replace({"model.stride": (2, 1)})


def test_bad_experiments_fail_when_created():
    with pytest.raises(ValueError, match="without slashes"):
        Experiment("a/b")
    with pytest.raises(TypeError, match="model must be a ConvConfig or a TransformerConfig"):
        Experiment("x", model={"channels": (8,)})
    with pytest.raises(TypeError, match="train must be a TrainConfig"):
        Experiment("x", train={"lr": 1e-3})
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=16, heads=3)


@pytest.mark.parametrize("d, message", [
    ({"arch": "mlp"}, "unknown architecture 'mlp'"),
    ({"arch": "conv1d", "model": {"chanels": [8]}}, r"unknown ConvConfig field 'chanels'; valid"),
    ({"arch": "transformer", "model": {"head_dropout": 0.1}}, r"'head_dropout'"),
    ({"arch": "conv1d", "train": {"early_stopping": 3}}, r"unknown TrainConfig field 'early_stopping'; valid: \['amp'"),
    ({"arch": "conv1d", "train": {"lr": "fast"}}, r"experiment train: lr='fast' is not of type float"),
    ({"arch": "conv1d", "params": {}}, r"unknown Experiment field.*params"),
])
def test_from_dict_rejects_what_it_does_not_know(d, message):
    with pytest.raises(ValueError, match=message):
        Experiment.from_dict({"name": "bad", **d})


def test_defaults_are_the_kits_architecture_1():
    exp = Experiment()
    assert exp.arch == "conv1d" and exp.model == ConvConfig() and exp.train == TrainConfig()
    assert Experiment.from_dict({}) == exp


def test_the_default_name_follows_the_architecture():
    from audiolab.models import TransformerConfig

    assert Experiment().name == "arch1" and Experiment(model=TransformerConfig()).name == "arch2"
    assert Experiment.from_dict(Experiment(model=TransformerConfig()).to_dict() | {"name": ""}).name == "arch2"
