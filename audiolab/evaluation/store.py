"""The results store: where every result lives, how it is written, and when it is reused.

Every trained model leaves its scores on disk as soon as they exist, so a killed run resumes where it stopped, and a
rerun of a finished experiment is a no-op. Nothing else builds a results path by hand. Layout under ``root``::

    <name>/cv/fold<k>.json, fold<k>.csv   one fold of the official cross-validation: record + probabilities
    <name>/cv/summary.json, oof.csv       mean ± std over folds, pooled out-of-fold predictions
    <name>/cv/fold<TEST_FOLD>.pt          the model trained for the test fold (when kept)
    <name>/dev-cv/...                     the same for cross-validation over the development folds
    <name>/search/trial-<key>.json, trials.csv         hyperparameter search trials
    <name>-ensemble/summary.json          a seed ensemble of <name>
    comparison.csv|json, best_model.pt|json            the comparison notebook's outputs

A stored result is reused only when its ``key`` (:meth:`audiolab.experiment.Experiment.key`) and its ``data``
fingerprint (the clips of its train and test sets) match, and a fold's CSV is the one its record was written with
(``csv_sha256``; older records: the CSV's clips). One process at a time trains into an experiment's folder
(:meth:`ResultsStore.writing`). Nothing is ever pruned: tables are made from the experiments their caller names."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from .._util import (PathLike, atomic_write, file_sha256, is_a, logger, plain, read_json, repo_root, write_csv,
                     write_json)
from ..data import TEST_FOLD

try:
    import fcntl
except ImportError:  # Windows: no lock
    fcntl = None

#: File name of the model ``audiolab predict`` uses, directly under the store's root.
BEST_MODEL = "best_model.pt"
#: Environment variable that moves the results of every profile.
RESULTS_ENV = "AUDIOLAB_RESULTS"
#: The folders (and summaries' ``protocol``) of the two cross-validation protocols: official (all folds),
#: development (all but the test fold).
FOLDERS = {"official": "cv", "development": "dev-cv"}


class ExperimentBusy(RuntimeError):
    """Another process is training into the same experiment folder."""


def data_fingerprint(meta: pd.DataFrame, *index_sets: np.ndarray) -> str:
    """Hash of the clips (fold, target, filename) of each index set, in order."""
    parts = [sorted(f"{r.fold}/{r.target}/{r.filename}" for r in meta.iloc[np.asarray(idx)].itertuples())
             for idx in index_sets]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


class ResultsStore:
    """The folder of results of one profile (see the module docstring for its layout)."""

    def __init__(self, root: PathLike):
        self.root = Path(root)

    @classmethod
    def of(cls, store: "ResultsStore | PathLike") -> "ResultsStore":
        """``store`` itself, or a store at the folder ``store``."""
        return store if isinstance(store, ResultsStore) else cls(store)

    @classmethod
    def for_profile(cls, profile_name: str = "full", root: Optional[PathLike] = None) -> "ResultsStore":
        """``root`` if given, else ``$AUDIOLAB_RESULTS``, else ``reports/results`` of this checkout for the
        full profile and a scratch folder for the others (a smoke run never overwrites the reports)."""
        default = (repo_root() / "reports" if profile_name == "full"
                   else Path(tempfile.gettempdir()) / f"audiolab-{profile_name}") / "results"
        return cls(root if root is not None else os.environ.get(RESULTS_ENV) or default)

    # -- where things are ------------------------------------------------------------
    def cv_dir(self, name: str, protocol: str = "official") -> Path:
        """The folder of ``name``'s cross-validation, official (``cv/``) or development (``dev-cv/``)."""
        if protocol not in FOLDERS:
            raise ValueError(f"protocol must be 'official' or 'development', got {protocol!r}")
        return self.root / name / FOLDERS[protocol]

    def fold_paths(self, name: str, fold: int, protocol: str = "official") -> tuple[Path, Path]:
        """``(record json, probabilities csv)`` of one cross-validation fold."""
        return self.cv_dir(name, protocol) / f"fold{fold}.json", self.cv_dir(name, protocol) / f"fold{fold}.csv"

    def fold_model(self, name: str, fold: int, protocol: str = "official") -> Path:
        """Where the model trained for one cross-validation fold is kept."""
        return self.cv_dir(name, protocol) / f"fold{fold}.pt"

    def test_model(self, name: str) -> Path:
        """The model of ``name``'s official cross-validation trained for the test fold: the held-out model."""
        return self.fold_model(name, TEST_FOLD)

    def search_dir(self, name: str) -> Path:
        return self.root / name / "search"

    def trial_path(self, name: str, key: str) -> Path:
        return self.search_dir(name) / f"trial-{key}.json"

    def ensemble_path(self, name: str) -> Path:
        return self.root / f"{name}-ensemble" / "summary.json"

    @property
    def best_model(self) -> Path:
        """The model ``audiolab predict`` uses (written by the comparison notebook)."""
        return self.root / BEST_MODEL

    def keep_best_model(self, name: str, about: dict) -> Path:
        """Copy ``name``'s test-fold model to :attr:`best_model`, with ``about`` beside it as JSON."""
        source = self.test_model(name)
        if not source.is_file():
            raise FileNotFoundError(f"no test-fold model at {source}: run cross_validate(..., keep_test_model=True) "
                                    f"for {name!r} first")
        atomic_write(self.best_model, lambda handle: handle.write(source.read_bytes()), binary=True)
        atomic_write(self.best_model.with_suffix(".json"), lambda h: h.write(json.dumps(plain(about), indent=1) + "\n"))
        return self.best_model

    # -- reading -----------------------------------------------------------------------
    def _load(self, path: Path, name: str, protocol: str, what: str):
        found = (pd.read_csv(path) if path.is_file() else None) if path.suffix == ".csv" else read_json(path)
        if found is None:
            raise FileNotFoundError(f"no {what} at {path}: run cross_validate(..., protocol={protocol!r}) for {name!r} first")
        return found

    def load_summary(self, name: str, protocol: str = "official") -> dict:
        """The cross-validation summary of experiment ``name`` in ``protocol``."""
        return self._load(self.cv_dir(name, protocol) / "summary.json", name, protocol, f"{protocol} summary")

    def load_oof(self, name: str, protocol: str = "official") -> pd.DataFrame:
        """The out-of-fold probabilities of ``name``: filename, fold, target, prob_0.., pred."""
        return self._load(self.cv_dir(name, protocol) / "oof.csv", name, protocol, "out-of-fold predictions")

    def load_fold(self, name: str, fold: int, protocol: str = "official") -> dict:
        """The stored record of one cross-validation fold (the test fold's is the held-out result)."""
        return self._load(self.fold_paths(name, fold, protocol)[0], name, protocol, "result")

    # -- writing: atomically (a killed run never leaves half a file) -------------------
    write_json, write_csv = staticmethod(write_json), staticmethod(write_csv)

    @contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """Hold ``<root>/<name>`` while this process trains into it (an ``flock`` of the folder, released
        when the block ends or the process dies); raises :class:`ExperimentBusy` if another process holds it."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # Windows: no guard
            yield folder
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ExperimentBusy(f"another process is training {name!r} into {folder}: wait until it ends, "
                                     "or give this run another name (--name) or results folder") from None
            except OSError:  # a file system without locks: nothing to guard with
                pass
            yield folder
        finally:
            os.close(fd)

    # -- reuse -------------------------------------------------------------------------
    def reusable(self, stored: Optional[dict], key: str, data: str, path: Path, needs: Sequence[Path] = ()) -> bool:
        """Whether ``stored`` (read from ``path``) was computed by this configuration on these clips,
        with the files ``needs`` beside it. Says why when not."""
        if stored is None:
            return False
        missing = [p.name for p in map(Path, needs) if not p.is_file()]
        metrics = stored.get("metrics") if isinstance(stored.get("metrics"), dict) else {}
        why = (f"was computed with another configuration (key {stored.get('key')}, now {key})" if stored.get("key") != key
               else "was computed on other clips" if stored.get("data") != data
               else f"lacks {missing}" if missing
               else None if all(is_a(metrics.get(m), float) for m in ("accuracy", "macro_f1", "n"))
               else "holds no valid scores")
        if why:
            logger.warning("%s %s: retraining", path, why)
        return why is None

    @staticmethod
    def fold_files_match(record: dict, csv_path: Path, filenames: Sequence[str], n_classes: int) -> bool:
        """Whether the probabilities at ``csv_path`` are those of ``record`` (its ``csv_sha256``; a record
        without it: the CSV holds exactly the scored clips ``filenames`` and one column per class). Warns naming
        the file when not."""
        expected = record.get("csv_sha256")
        try:
            if expected:
                same = file_sha256(csv_path) == expected
            else:
                table = pd.read_csv(csv_path)
                columns = ["filename", "fold", "target", *(f"prob_{c}" for c in range(n_classes))]
                same = list(table.columns) == columns and sorted(table["filename"]) == sorted(filenames)
        except (OSError, ValueError, KeyError, pd.errors.ParserError):
            same = False
        if not same:
            logger.warning("%s does not belong to %s (another run wrote it): retraining", csv_path, record.get("key"))
        return same
