"""audiolab.sweeps: the committed W&B sweeps are generated from the search spaces and run `audiolab train`."""
from pathlib import Path

import pytest
import yaml

from audiolab import configs
from audiolab.cli import build_parser, experiment_from_args
from audiolab.sweeps import SWEEP_METRIC, cli_value, export_sweep, sweep_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_committed_sweeps_match_the_spaces(name, tmp_path):
    factory, space = configs.SPACES[name]
    generated = export_sweep(factory(name=name), space, tmp_path / f"{name}.yaml")
    committed = REPO / "sweeps" / f"{name}.yaml"
    assert committed.read_text() == generated.read_text(), (
        f"sweeps/{name}.yaml is stale: regenerate it with audiolab.sweeps.export_sweep("
        f"configs.SPACES[{name!r}][0](name={name!r}), configs.SPACES[{name!r}][1], 'sweeps/{name}.yaml')"
    )


def _command_args(config):
    """What ``audiolab train`` makes of a sweep's fixed options."""
    fixed = [c for c in config["command"] if c.startswith("--")]
    return build_parser().parse_args(["train", *fixed])


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_a_sweep_runs_search_trials_that_never_see_the_test_fold(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}.yaml").read_text())
    args = _command_args(config)
    assert args.protocol == "search" and args.name == name
    assert args.test_fold == 5 and args.val_folds == (3, 4) and args.test_fold not in args.val_folds
    assert args.epochs == configs.PROFILES["full"].search_epochs  # the notebooks' search's epochs
    assert config["metric"] == {"name": "val_accuracy", "goal": "maximize"} and SWEEP_METRIC == "val_accuracy"


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_a_sweep_run_of_the_starting_point_is_the_notebooks_first_trial(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}.yaml").read_text())
    factory, space = configs.SPACES[name]
    base = factory(name=name).replace({"train.epochs": configs.PROFILES["full"].search_epochs})
    start = [f"{k}={cli_value(base.get(k))}" for k in space]  # trial 0 of the search: the base itself
    fixed = [c for c in config["command"] if c.startswith("--")]
    exp = experiment_from_args(build_parser().parse_args(["train", *fixed, *start]))
    assert exp.key() == base.key() and exp.name == name  # same key, same folder: evaluation.search reuses it


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_every_sweep_value_is_an_override_of_audiolab_train(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}.yaml").read_text())
    assert config["metric"] == {"name": SWEEP_METRIC, "goal": "maximize"}
    assert config["command"][-1] == "${args_no_hyphens}" and "train" in config["command"]
    fixed = [c for c in config["command"] if c.startswith("--")]
    factory, space = configs.SPACES[name]
    assert list(config["parameters"]) == list(space)
    others = {k: spec["values"][0] for k, spec in config["parameters"].items()}  # widths and strides go together
    for key, spec in config["parameters"].items():
        for value in spec["values"]:
            overrides = [f"{k}={v}" for k, v in {**others, key: value}.items()]  # how W&B writes ${args_no_hyphens}
            exp = experiment_from_args(build_parser().parse_args(["train", *fixed, *overrides]))
            assert cli_value(exp.get(key)) == value and exp.arch == factory().arch


def test_tuples_are_written_as_comma_separated_text():
    assert cli_value((64, 128)) == "64,128" and cli_value([8]) == "8" and cli_value(0.001) == 0.001


def test_sweep_config_runs_audiolab_train_on_the_base_architecture():
    config = sweep_config(configs.arch2(), {"model.heads": [1, 2], "lr": [1e-3]}, name="heads", method="grid")
    assert config["method"] == "grid" and "--arch=transformer" in config["command"]
    assert "--out=sweeps/runs/heads.json" in config["command"]
    assert config["parameters"] == {"model.heads": {"values": [1, 2]}, "train.lr": {"values": [1e-3]}}


@pytest.mark.parametrize("base, space, message", [
    (configs.arch1(), {"learning_rate": [1e-3]}, "'learning_rate' is not a field of any section"),
    (configs.arch1(), {"model.heads": [1, 2]}, "ConvConfig has no field 'heads'"),
    (configs.arch2(), {"model.heads": [3]}, "divisible"),
])
def test_a_sweep_that_could_not_run_is_refused(base, space, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        export_sweep(base, space, tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="random, grid or bayes"):
        sweep_config(configs.arch1(), {"train.lr": [1e-3]}, name="x", method="hyperband")
