"""audiolab.sweeps: the committed W&B sweeps are generated from the search spaces and run `audiolab train`;
a sweep's trials are collected into a results store, where the notebooks' search reuses them."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from audiolab import configs
from audiolab.cli import build_parser, experiment_from_args, main
from audiolab.data import load_features, load_metadata
from audiolab.evaluation import ResultsStore, search
from audiolab.evaluation.search import TRIAL_ARTIFACT
from audiolab.cli import _UserError, _nth_trial
from audiolab.evaluation import search_trials
from audiolab.sweeps import SWEEP_METRIC, SweepError, cli_value, collect, export_sweep, sweep_config
from audiolab.wandb_runs import find_runs, read_run

from _tiny import CountingFit
import _wandb

REPO = Path(__file__).resolve().parents[1]
offline_wandb = _wandb.offline_wandb  # the fixture


NOTEBOOK_TRIALS = configs.PROFILES["full"].search_trials
#: the committed sweep files: <name>.yaml runs exactly the notebooks' trials, <name>-explore.yaml the whole space
FILES = [(name, f"{name}{suffix}") for name in sorted(configs.SPACES) for suffix in ("", "-explore")]


@pytest.mark.parametrize("name,file", FILES)
def test_committed_sweeps_match_the_spaces(name, file, tmp_path):
    factory, space = configs.SPACES[name]
    trials = None if file.endswith("-explore") else NOTEBOOK_TRIALS
    generated = export_sweep(factory(name=name), space, tmp_path / f"{file}.yaml", notebook_trials=trials)
    committed = REPO / "sweeps" / f"{file}.yaml"
    assert committed.read_text() == generated.read_text(), (
        f"sweeps/{file}.yaml is stale: regenerate it with audiolab.sweeps.export_sweep("
        f"configs.SPACES[{name!r}][0](name={name!r}), configs.SPACES[{name!r}][1], 'sweeps/{file}.yaml', "
        f"notebook_trials={trials})"
    )


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_the_notebook_sweep_runs_exactly_the_notebooks_trials(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}.yaml").read_text())
    assert config["method"] == "grid" and config["command"][-1] == "${args}"
    factory, space = configs.SPACES[name]
    base = factory(name=name).replace({"train.epochs": configs.PROFILES["full"].search_epochs})
    notebooks = [base.replace(point).key() for point in search_trials(base, space, NOTEBOOK_TRIALS, seed=0)]
    assert config["parameters"] == {"trial": {"values": list(range(len(notebooks)))}}
    fixed = [c for c in config["command"] if c.startswith("--")]
    swept = []
    for trial in config["parameters"]["trial"]["values"]:  # how W&B writes ${args}: --trial=3
        args = build_parser().parse_args(["train", *fixed, f"--trial={trial}"])
        swept.append(_nth_trial(experiment_from_args(args), args))
    assert [exp.key() for exp in swept] == notebooks and {exp.name for exp in swept} == {name}
    args = build_parser().parse_args(["train", *fixed, f"--trial={len(notebooks)}"])
    with pytest.raises(_UserError, match=f"trials 0-{len(notebooks) - 1}"):
        _nth_trial(experiment_from_args(args), args)
    args = build_parser().parse_args(["train", *fixed, "--trial=1", "train.lr=0.1"])
    with pytest.raises(_UserError, match="train.lr from the notebooks' search"):
        _nth_trial(experiment_from_args(args), args)


def _command_args(config):
    """What ``audiolab train`` makes of a sweep's fixed options."""
    fixed = [c for c in config["command"] if c.startswith("--")]
    return build_parser().parse_args(["train", *fixed])


@pytest.mark.parametrize("name,file", FILES)
def test_a_sweep_runs_search_trials_that_never_see_the_test_fold(name, file):
    config = yaml.safe_load((REPO / "sweeps" / f"{file}.yaml").read_text())
    args = _command_args(config)
    assert args.protocol == "search" and args.name == name
    assert args.test_fold == 5 and args.val_folds == (3, 4) and args.test_fold not in args.val_folds
    assert args.epochs == configs.PROFILES["full"].search_epochs  # the notebooks' search's epochs
    assert config["metric"] == {"name": "val/accuracy", "goal": "maximize"} and SWEEP_METRIC == "val/accuracy"
    assert config["project"] == "audiolab" and not [c for c in config["command"] if c.startswith("--test")]


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_a_sweep_run_of_the_starting_point_is_the_notebooks_first_trial(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}-explore.yaml").read_text())
    factory, space = configs.SPACES[name]
    base = factory(name=name).replace({"train.epochs": configs.PROFILES["full"].search_epochs})
    start = [f"{k}={cli_value(base.get(k))}" for k in space]  # trial 0 of the search: the base itself
    fixed = [c for c in config["command"] if c.startswith("--")]
    exp = experiment_from_args(build_parser().parse_args(["train", *fixed, *start]))
    assert exp.key() == base.key() and exp.name == name  # same key, same folder: evaluation.search reuses it


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_every_sweep_value_is_an_override_of_audiolab_train(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}-explore.yaml").read_text())
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


# --------------------------------------------------------------------------- collecting a sweep's trials
class FakeArtifact:
    """What ``wandb.Api`` gives for a logged artifact: ``download`` copies ``files`` (name -> local file)."""

    def __init__(self, name, type, files):
        self.name, self.type, self.files = name, type, files

    def download(self, root):
        for name, source in self.files.items():
            (Path(root) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, Path(root) / name)
        return root


class FakeRun:
    def __init__(self, name, state="finished", artifacts=()):
        self.name, self.id, self.state, self.artifacts = name, f"id-{name}", state, list(artifacts)

    def logged_artifacts(self):
        return iter(self.artifacts)


class FakeApi:
    """A stand-in for ``wandb.Api``: ``api.sweep(path).runs``."""

    def __init__(self, runs):
        self.runs, self.asked = runs, []

    def sweep(self, path):
        self.asked.append(path)
        return type("Sweep", (), {"runs": self.runs})()


TINY_TRIAL = {"train.batch_size": 16, "model.kernel_size": 3, "model.channels": "8,8,8", "model.stride": 1}


def _sweep_command(name="arch1-explore"):
    """The fixed options of the committed sweep, as the agent runs them."""
    config = yaml.safe_load((REPO / "sweeps" / f"{name}.yaml").read_text())
    return [c for c in config["command"] if c.startswith("--")]


def test_a_trial_run_by_hand_offline_is_collected_where_the_search_reuses_it(synthetic_esc10, tmp_path, monkeypatch,
                                                                            offline_wandb):
    # one trial as an agent runs it (tiny: 2 epochs, a small model), by hand and offline, on "another machine"
    monkeypatch.setenv("WANDB_DIR", str(offline_wandb))
    trial = {**TINY_TRIAL, "train.lr": 0.001}
    code = main(["train", *_sweep_command(), "--epochs=2", f"--out={tmp_path / 'trial.json'}", "--wandb=offline",
                 f"--results={tmp_path / 'machine'}", f"--root={synthetic_esc10}", *[f"{k}={v}" for k, v in trial.items()]])
    assert code == 0
    result = json.loads((tmp_path / "trial.json").read_text())
    run = read_run(find_runs(offline_wandb, group="arch1-search")[0], wait=20)
    assert run.summary[SWEEP_METRIC] == pytest.approx(result["val_accuracy"])
    artifact = run.artifact(TRIAL_ARTIFACT)

    # the sweep's runs, as wandb.Api lists them: this one, one still running, one that logged no trial
    api = FakeApi([FakeRun("good-trial-1", artifacts=[FakeArtifact(f"{artifact.name}:v0", artifact.type,
                                                                  artifact.files)]),
                   FakeRun("busy-trial-2", state="running"), FakeRun("odd-trial-3", artifacts=[
                       FakeArtifact("notes:v0", "dataset", {"notes.txt": tmp_path / "trial.json"})])])
    reports = tmp_path / "reports"
    report = collect("me/audiolab/abc123", reports, api=api)
    path = ResultsStore(reports).trial_path("arch1", result["key"])
    assert api.asked == ["me/audiolab/abc123"]
    assert [(r["run"], r["state"], r["status"]) for r in report] == [
        ("good-trial-1", "finished", "collected"), ("busy-trial-2", "running", "not finished"),
        ("odd-trial-3", "finished", "no trial artifact")]
    assert report[0]["path"] == str(path) and path.read_bytes() == Path(result["trial_file"]).read_bytes()
    assert collect("me/audiolab/abc123", reports, api=api)[0]["status"] == "already there"

    # the notebooks' search over that space retrains only what the sweep did not run
    base = experiment_from_args(build_parser().parse_args(
        ["train", *_sweep_command(), "--epochs=2", *[f"{k}={v}" for k, v in TINY_TRIAL.items()]]))
    meta = load_metadata(synthetic_esc10, strict=False)
    fit = CountingFit(monkeypatch)
    table = search(base, {"train.lr": [0.001]}, meta, load_features(meta, base.features, progress=False), reports,
                   val_fold=(3, 4), wandb_mode="disabled", progress=False)  # trial 0: the base; trial 1: lr 0.001
    assert len(fit.calls) == 2 and all(c["config"].lr == base.train.lr != 0.001 for c in fit.calls)
    row = table.set_index("trial").loc[1]
    assert row["key"] == result["key"] and row["val_accuracy"] == result["val_accuracy"]


def _trial_artifact(tmp_path, relative, record):
    source = tmp_path / "source.json"
    source.write_text(json.dumps(record))
    return FakeArtifact("arch1-trial:v0", TRIAL_ARTIFACT, {relative: source})


@pytest.mark.parametrize("relative, record, message", [
    ("arch1/cv/fold1.json", {"key": "abc", "data": "x"}, "holds arch1/cv/fold1.json, not <name>/search/trial-"),
    ("arch1/search/trial-ABC.json", {"key": "ABC", "data": "x"}, "not <name>/search/trial-<key>.json"),
    ("arch1/search/trial-abc.json", {"key": "def", "data": "x"}, "not a complete trial of key abc"),
    ("arch1/search/trial-abc.json", {"key": "abc"}, "not a complete trial of key abc"),
])
def test_an_artifact_that_is_not_a_trial_is_refused(tmp_path, relative, record, message):
    api = FakeApi([FakeRun("r", artifacts=[_trial_artifact(tmp_path, relative, record)])])
    with pytest.raises(SweepError, match=message):
        collect("me/audiolab/abc123", tmp_path / "reports", api=api)
    assert not (tmp_path / "reports").exists()


def test_a_sweep_that_cannot_be_read_says_why():
    class Offline:
        def sweep(self, path):
            raise ConnectionError("no route to host")

    with pytest.raises(SweepError, match="ENTITY/PROJECT/SWEEP_ID .* got 'abc123'"):
        collect("abc123", "reports/results", api=Offline())
    with pytest.raises(SweepError, match="cannot read sweep me/p/abc .*no route to host.*wandb login"):
        collect("me/p/abc", "reports/results", api=Offline())


def test_the_collect_command_prints_each_run(tmp_path, monkeypatch, capsys):
    import wandb

    record = {"key": "abc", "data": "x", "metrics": {}}
    api = FakeApi([FakeRun("r1", artifacts=[_trial_artifact(tmp_path, "arch1/search/trial-abc.json", record)]),
                   FakeRun("r2", state="crashed")])
    monkeypatch.setattr(wandb, "Api", lambda: api)
    assert main(["sweep", "collect", "me/audiolab/abc123", "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"collected: {tmp_path / 'results' / 'arch1' / 'search' / 'trial-abc.json'}" in out
    assert "crashed" in out and f"1 trial(s) collected into {tmp_path / 'results'}; 1 run(s) left" in out
    assert main(["sweep", "collect", "abc123", "--results", str(tmp_path / "results")]) == 2
    assert "audiolab sweep collect: error: a sweep is named ENTITY/PROJECT/SWEEP_ID" in capsys.readouterr().err
