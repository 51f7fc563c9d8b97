"""W&B sweeps over the notebooks' search spaces, run by ``audiolab train --protocol search``.

:func:`sweep_config` turns a search space of :mod:`audiolab.configs` (dotted keys such as
``"train.lr"``) into a W&B sweep whose every trial is one trial of the notebooks' search:
``audiolab train --arch <arch> --protocol search --epochs <search epochs> train.lr=0.001 ...``
trains on the development folds but one validation fold at a time, scores validation folds 3 and
4 pooled, and never trains on or scores the test fold. Two kinds: with ``notebook_trials`` the sweep is a
grid over the notebooks' own trials (``--trial N``, resolved by :func:`audiolab.evaluation.search_trials`
with the notebooks' count and seed: ``sweeps/<arch>.yaml``); without, it samples the space and the agent
passes each parameter as ``key=value`` (``${args_no_hyphens}``), which ``audiolab train`` applies with
:meth:`audiolab.experiment.Experiment.replace`, the same way the search does (``sweeps/<arch>-explore.yaml``).

Each trial is one W&B run, started before training: every epoch of its validation folds is logged
as it ends (a crashed trial leaves its curves, and an ``early_terminate`` rule can stop a poor one),
then :data:`SWEEP_METRIC`, the pooled validation accuracy the sweep maximises, and the trial's result
file as an artifact. :func:`collect` downloads those files into a results store, where
:func:`audiolab.evaluation.search` finds them: after a sweep, the notebooks' search retrains nothing
it already holds.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ._util import PathLike, atomic_write, tupled
from .experiment import Experiment

__all__ = ["SWEEP_METRIC", "SweepError", "sweep_config", "export_sweep", "cli_value", "collect"]

SWEEP_METRIC = "val/accuracy"
"""Validation accuracy of a search trial (folds 3 and 4 pooled): the summary of the trial's W&B run."""

#: Where a trial's file lies inside its artifact, as inside a results store: ``<name>/search/trial-<key>.json``.
_TRIAL_FILE = re.compile(r"^(?P<name>[^/]+)/search/trial-(?P<key>[0-9a-f]+)\.json$")


class SweepError(ValueError):
    """A sweep could not be read, or what it holds is not what :func:`collect` expects."""


def cli_value(value: Any):
    """A search-space value as ``audiolab train`` reads it back (tuples as ``"a,b,c"``)."""
    value = tupled(value)
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return value


def sweep_config(base: Experiment, space: Mapping[str, Sequence], name: str, method: str = "random",
                 out: Optional[str] = None, search_epochs: int = 60, val_folds: Sequence[int] = (3, 4),
                 project: Optional[str] = None, notebook_trials: Optional[int] = None) -> dict:
    """A W&B sweep configuration whose trials run ``audiolab train --protocol search`` on ``space``.

    Every key must be a field of ``base`` (checked here, so a sweep cannot fail on its first trial).
    ``search_epochs`` and ``val_folds`` are the notebooks' search's (the full profile's); the test fold is
    ``audiolab train``'s default (:data:`audiolab.data.TEST_FOLD`), which a trial never trains on or scores.
    ``project``: the W&B project (default audiolab's, where its other runs go).

    With ``notebook_trials`` (the notebooks' number of trials, 8 in the full profile) the sweep runs exactly
    the notebooks' trials, a grid over ``--trial 0..notebook_trials-1`` (``method`` is then ``grid``):
    after collecting it, the notebooks' search retrains nothing. Without it, ``method`` explores ``space``.
    """
    from .evaluation.run_log import WANDB_PROJECT

    if method not in ("random", "grid", "bayes"):
        raise ValueError(f"method must be random, grid or bayes, got {method!r}")
    # an unknown key or bad value fails here, naming the valid ones (all keys at once: the conv widths and
    # strides of a space only fit together)
    base.replace({key: values[0] for key, values in space.items()})
    out = out or f"sweeps/runs/{name}.json"
    command = ["${env}", "audiolab", "train", f"--arch={base.arch}", "--protocol=search", f"--name={base.name}",
               f"--epochs={search_epochs}", f"--val-folds={','.join(map(str, val_folds))}",
               f"--out={out}", "--results=sweeps/runs/results"]
    if notebook_trials is not None:
        from .evaluation import search_trials

        n = len(search_trials(base, space, notebook_trials, 0))
        method, parameters = "grid", {"trial": {"values": list(range(n))}}
        command += [f"--search-trials={notebook_trials}", "--search-seed=0", "${args}"]
    else:
        parameters = {".".join(base.resolve(k)): {"values": [cli_value(v) for v in values]}
                      for k, values in space.items()}
        command += ["${args_no_hyphens}"]
    return {
        "name": name,
        "description": (f"one trial of the notebooks' search of {base.name} per run: trained {search_epochs} epochs, "
                        f"scored on validation folds {','.join(map(str, val_folds))} pooled; the test fold is never "
                        "trained on or scored"),
        "program": "audiolab",
        "project": project or WANDB_PROJECT,
        "method": method,
        "metric": {"name": SWEEP_METRIC, "goal": "maximize"},
        "command": command,
        "parameters": parameters,
    }


def export_sweep(base: Experiment, space: Mapping[str, Sequence], path: PathLike, method: str = "random",
                 notebook_trials: Optional[int] = None) -> Path:
    """Write :func:`sweep_config` as YAML to ``path``: ``wandb sweep <path>``, then ``wandb agent <id>``."""
    import yaml

    name = Path(path).stem
    config = sweep_config(base, space, name=name, method=method, notebook_trials=notebook_trials)
    header = (
        "# W&B sweep for `audiolab train`. Generated by audiolab.sweeps.export_sweep from the\n"
        "# search space in audiolab/configs.py; do not edit by hand (tests/test_sweeps.py checks it).\n"
        f"# Run from the repository root:  wandb sweep sweeps/{name}.yaml   then   wandb agent <sweep id>\n"
        "# with AUDIOLAB_DATA set. Each run is one trial of the notebooks' search (validation folds 3+4, never the\n"
        + ("# test fold): this sweep runs exactly the notebooks' trials, so after collecting it they retrain nothing.\n"
           if notebook_trials is not None else
           "# test fold): this sweep explores the whole space, beyond the notebooks' trials.\n")
        + "# Each run is logged every epoch; its result file is an artifact of the run, and\n"
        "# `audiolab sweep collect ENTITY/PROJECT/SWEEP_ID` puts it where the notebooks' search reuses it.\n"
        f"# Metric: {SWEEP_METRIC} = pooled validation accuracy (the summary of each trial's run).\n"
    )
    text = header + yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)
    return atomic_write(Path(path), lambda h: h.write(text))


def _sweep_runs(sweep_path: str, api) -> list:
    """The runs of the sweep at ``sweep_path`` (``ENTITY/PROJECT/SWEEP_ID``), through ``api`` (a ``wandb.Api``)."""
    if len([part for part in sweep_path.split("/") if part]) != 3:
        raise SweepError(f"a sweep is named ENTITY/PROJECT/SWEEP_ID (as `wandb sweep` printed it), got {sweep_path!r}")
    try:
        if api is None:
            import wandb

            api = wandb.Api()
        return list(api.sweep(sweep_path).runs)
    except Exception as error:  # no network, not logged in, no such sweep: all the same to the user
        raise SweepError(f"cannot read sweep {sweep_path} ({type(error).__name__}: {error}); check its path and "
                         "that this machine is logged in to W&B (`wandb login`)") from error


def _trial_files(run, folder: Path) -> list[tuple[re.Match, str]]:
    """``(match of its path, text)`` of each trial file in the trial artifacts ``run`` logged, downloaded to ``folder``."""
    from .evaluation.search import TRIAL_ARTIFACT

    found = []
    for artifact in run.logged_artifacts():
        if artifact.type != TRIAL_ARTIFACT:
            continue
        root = Path(artifact.download(root=str(folder / artifact.name.replace(":", "-"))))
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            match = _TRIAL_FILE.match(path.relative_to(root).as_posix())
            if match is None:
                raise SweepError(f"artifact {artifact.name} of run {run.name} holds {path.relative_to(root)}, not "
                                 "<name>/search/trial-<key>.json: was it logged by audiolab's run_trial?")
            found.append((match, path.read_text()))
    return found


def collect(sweep_path: str, results: PathLike, api=None) -> list[dict]:
    """Put the trial result of each finished run of a W&B sweep into the results store at ``results``.

    Each trial's run logged its result file as an artifact (type ``search-trial``) holding it at its place
    in a store, ``<name>/search/trial-<key>.json``: downloaded there, :func:`audiolab.evaluation.search`
    finds it and reuses it instead of training the trial again. A file already stored for the same
    configuration and clips is left as it is. ``api``: a ``wandb.Api`` (default a new one; tests pass a
    stand-in). Returns one dict per run of the sweep: ``run`` (its name), ``state``, ``status``
    (``"collected"``, ``"already there"``, ``"not finished"`` or ``"no trial artifact"``) and ``path``.
    Raises :class:`SweepError` when the sweep cannot be read or an artifact is not a trial's.
    """
    from .evaluation import ResultsStore

    store = ResultsStore(results)
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in _sweep_runs(sweep_path, api):
            entry = {"run": str(run.name), "state": str(run.state).lower(), "status": "not finished", "path": None}
            report.append(entry)
            if entry["state"] != "finished":
                continue
            files = _trial_files(run, Path(tmp) / str(run.id))
            entry["status"] = "no trial artifact" if not files else entry["status"]
            for match, text in files:
                record = json.loads(text)
                if record.get("key") != match["key"] or "data" not in record:
                    raise SweepError(f"{match[0]} of run {run.name} is not a complete trial of key {match['key']}")
                path = store.trial_path(match["name"], match["key"])
                stored = store.read(path)
                same = stored is not None and (stored.get("key"), stored.get("data")) == (record["key"], record["data"])
                if not same:
                    atomic_write(path, lambda handle: handle.write(text))
                entry.update(status="already there" if same else "collected", path=str(path))
    return report
