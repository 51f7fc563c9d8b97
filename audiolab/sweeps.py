"""W&B sweeps of the notebooks' search, and collecting their trials into a results store.

``sweeps/<arch>.yaml`` runs exactly the notebooks' trials (``audiolab train --protocol search --trial N`` under ``wandb
agent``); ``sweeps/<arch>-explore.yaml`` samples the whole search space (each parameter as ``key=value``, applied by
:meth:`audiolab.experiment.Experiment.replace`). Each trial is one W&B run that trains on the development folds but one
validation fold at a time, never on the test fold, and reports :data:`SWEEP_METRIC`; its result file is an artifact of
the run. :func:`collect` downloads those files into a results store, where :func:`audiolab.evaluation.search` reuses
them instead of training the trials again."""
from __future__ import annotations

import json
import re
import tempfile
from numbers import Real
from pathlib import Path

from ._util import PathLike, atomic_write
from .evaluation.search import TRIAL_ARTIFACT
from .evaluation.store import ResultsStore

#: The metric a sweep maximises: the pooled validation accuracy of a trial (the summary of its W&B run).
SWEEP_METRIC = "val/accuracy"
#: Where a trial's file lies inside its artifact, as inside a results store: ``<name>/search/trial-<key>.json``.
_TRIAL_FILE = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)/search/trial-(?P<key>[0-9a-f]{12})\.json$")


class SweepError(ValueError):
    """A sweep could not be read."""


def _trial_record(text: str, key: str):
    """The trial record in ``text`` if it is one of key ``key`` (a dict with numeric metrics), else ``None``."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    ok = (isinstance(record, dict) and record.get("key") == key and isinstance(record.get("data"), str)
          and isinstance(record.get("metrics"), dict) and isinstance(record.get("params"), dict)
          and all(isinstance(record["metrics"].get(m), Real) for m in ("accuracy", "macro_f1", "auc_macro_ovr", "n")))
    return record if ok else None


def collect(sweep_path: str, results: PathLike, api=None) -> list[dict]:
    """Put the trial result of each finished run of the W&B sweep ``ENTITY/PROJECT/SWEEP_ID`` into the
    results store at ``results``, where the notebooks' search finds it. A trial file already there is never
    replaced; an artifact file that is not a valid trial record is skipped. ``api``: a ``wandb.Api`` (tests
    pass a stand-in). Returns one dict per run: ``run``, ``state``, ``status`` (``"collected"``, ``"already
    there"``, ``"not finished"``, ``"no trial artifact"`` or ``"invalid trial file"``) and ``path``."""
    if len([part for part in sweep_path.split("/") if part]) != 3:
        raise SweepError(f"a sweep is named ENTITY/PROJECT/SWEEP_ID (as `wandb sweep` printed it), got {sweep_path!r}")
    try:
        if api is None:
            import wandb

            api = wandb.Api()
        runs = list(api.sweep(sweep_path).runs)
    except Exception as error:  # no network, not logged in, no such sweep: all the same to the user
        raise SweepError(f"cannot read sweep {sweep_path} ({type(error).__name__}: {error}); check its path and "
                         "that this machine is logged in to W&B (`wandb login`)") from error
    store, report = ResultsStore(results), []
    with tempfile.TemporaryDirectory() as tmp:
        for n, run in enumerate(runs):
            entry = {"run": str(run.name), "state": str(run.state).lower(), "status": "not finished", "path": None}
            report.append(entry)
            if entry["state"] != "finished":
                continue
            entry["status"] = "no trial artifact"
            for m, artifact in enumerate(a for a in run.logged_artifacts() if a.type == TRIAL_ARTIFACT):
                root = Path(artifact.download(root=str(Path(tmp) / f"{n}-{m}")))
                for file in sorted(p for p in root.rglob("*") if p.is_file()):
                    match = _TRIAL_FILE.match(file.relative_to(root).as_posix())
                    text = file.read_text(errors="replace")
                    if match is None or _trial_record(text, match["key"]) is None:
                        entry["status"] = "invalid trial file"
                        continue
                    path = store.trial_path(match["name"], match["key"])
                    there = path.is_file()
                    if not there:
                        atomic_write(path, lambda handle: handle.write(text))
                    entry.update(status="already there" if there else "collected", path=str(path))
    return report
