"""The committed W&B sweeps agree with the search spaces and run `audiolab train`; audiolab.sweeps collects a
sweep's trials into a results store, where the notebooks' search reuses them, validating what it downloads."""
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
from audiolab.evaluation import search_trials
from audiolab.sweeps import SWEEP_METRIC, SweepError, collect

from _tiny import CountingFit

REPO = Path(__file__).resolve().parents[1]


def cli_value(value):
    """A search-space value as a sweep passes it to ``audiolab train`` (tuples as ``"a,b,c"``)."""
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value


NOTEBOOK_TRIALS = configs.PROFILES["full"].search_trials
#: the committed sweep files: <name>.yaml runs exactly the notebooks' trials, <name>-explore.yaml the whole space
FILES = [(name, f"{name}{suffix}") for name in sorted(configs.SPACES) for suffix in ("", "-explore")]


@pytest.mark.parametrize("name", sorted(configs.SPACES))
def test_the_explore_sweeps_search_the_spaces(name):
    config = yaml.safe_load((REPO / "sweeps" / f"{name}-explore.yaml").read_text())
    base, space = configs.SPACES[name][0](), configs.SPACES[name][1]
    assert config["parameters"] == {".".join(base.resolve(k)): {"values": [cli_value(v) for v in values]}
                                    for k, values in space.items()}


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
        swept.append(experiment_from_args(args))
    assert [exp.key() for exp in swept] == notebooks and {exp.name for exp in swept} == {name}
    args = build_parser().parse_args(["train", *fixed, f"--trial={len(notebooks)}"])
    with pytest.raises(ValueError, match=f"trials 0-{len(notebooks) - 1}"):
        experiment_from_args(args)
    args = build_parser().parse_args(["train", *fixed, "--trial=1", "train.lr=0.1"])
    with pytest.raises(ValueError, match="train.lr from the notebooks' search"):
        experiment_from_args(args)


def _command_args(config):
    """What ``audiolab train`` makes of a sweep's fixed options."""
    fixed = [c for c in config["command"] if c.startswith("--")]
    return build_parser().parse_args(["train", *fixed])


@pytest.mark.parametrize("name,file", FILES)
def test_a_sweep_runs_search_trials_that_never_see_the_test_fold(name, file):
    config = yaml.safe_load((REPO / "sweeps" / f"{file}.yaml").read_text())
    args = _command_args(config)
    assert args.protocol == "search" and args.name == name
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


def test_a_trial_run_by_hand_is_collected_where_the_search_reuses_it(synthetic_esc10, tmp_path, monkeypatch):
    # one trial as an agent runs it (tiny: 2 epochs, a small model), by hand, on "another machine"
    trial = {**TINY_TRIAL, "train.lr": 0.001}
    code = main(["train", *_sweep_command(), "--epochs=2", f"--out={tmp_path / 'trial.json'}",
                 f"--results={tmp_path / 'machine'}", f"--root={synthetic_esc10}", *[f"{k}={v}" for k, v in trial.items()]])
    assert code == 0
    result = json.loads((tmp_path / "trial.json").read_text())
    relative = Path(result["trial_file"]).relative_to(tmp_path / "machine").as_posix()  # as in its run's artifact

    # the sweep's runs, as wandb.Api lists them: this one, one still running, one that logged no trial
    api = FakeApi([FakeRun("good-trial-1", artifacts=[FakeArtifact("arch1-trial:v0", TRIAL_ARTIFACT,
                                                                  {relative: Path(result["trial_file"])})]),
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
    table = search(base, {"train.lr": [0.001]}, meta, load_features(meta, base.features), reports)
    assert len(fit.calls) == 2 and all(c["config"].lr == base.train.lr != 0.001 for c in fit.calls)
    row = table.set_index("trial").loc[1]
    assert row["key"] == result["key"] and row["val_accuracy"] == result["val_accuracy"]


def _trial_artifact(tmp_path, relative, record):
    source = tmp_path / "source.json"
    source.write_text(record if isinstance(record, str) else json.dumps(record))
    return FakeArtifact("arch1-trial:v0", TRIAL_ARTIFACT, {relative: source})


KEY = "0123456789ab"
GOOD = {"key": KEY, "data": "x", "params": {"trainable": 1},
        "metrics": {"accuracy": 0.5, "macro_f1": 0.5, "auc_macro_ovr": 0.5, "n": 20}}


@pytest.mark.parametrize("relative, record", [
    ("arch1/cv/fold1.json", GOOD),
    (f"../arch1/search/trial-{KEY}.json", GOOD),
    (f"arch1/search/trial-{KEY}.json", {**GOOD, "key": "ba9876543210"}),
    (f"arch1/search/trial-{KEY}.json", {k: v for k, v in GOOD.items() if k != "data"}),
    (f"arch1/search/trial-{KEY}.json", {**GOOD, "metrics": {**GOOD["metrics"], "accuracy": "high"}}),
    (f"arch1/search/trial-{KEY}.json", [GOOD]),
    (f"arch1/search/trial-{KEY}.json", "not json"),
])
def test_an_artifact_file_that_is_not_a_trial_is_skipped(tmp_path, relative, record):
    api = FakeApi([FakeRun("r", artifacts=[_trial_artifact(tmp_path, relative, record)])])
    assert collect("me/audiolab/abc123", tmp_path / "reports", api=api)[0]["status"] in (
        "invalid trial file", "no trial artifact")  # (a file outside the artifact's folder is not in it)
    assert not (tmp_path / "reports").exists() and not (tmp_path / "search").exists()


def test_a_local_trial_is_never_replaced(tmp_path):
    local = ResultsStore(tmp_path / "reports").trial_path("arch1", KEY)
    local.parent.mkdir(parents=True)
    local.write_text(json.dumps({**GOOD, "data": "mine"}))
    api = FakeApi([FakeRun("r", artifacts=[_trial_artifact(tmp_path, f"arch1/search/trial-{KEY}.json", GOOD)])])
    assert collect("me/audiolab/abc123", tmp_path / "reports", api=api)[0]["status"] == "already there"
    assert json.loads(local.read_text())["data"] == "mine"


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

    api = FakeApi([FakeRun("r1", artifacts=[_trial_artifact(tmp_path, f"arch1/search/trial-{KEY}.json", GOOD)]),
                   FakeRun("r2", state="crashed")])
    monkeypatch.setattr(wandb, "Api", lambda: api)
    assert main(["sweep", "collect", "me/audiolab/abc123", "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"collected: {tmp_path / 'results' / 'arch1' / 'search' / f'trial-{KEY}.json'}" in out
    assert "crashed" in out and f"1 trial(s) collected into {tmp_path / 'results'}; 1 run(s) left" in out
    assert main(["sweep", "collect", "abc123", "--results", str(tmp_path / "results")]) == 2
    assert "audiolab sweep collect: error: a sweep is named ENTITY/PROJECT/SWEEP_ID" in capsys.readouterr().err
