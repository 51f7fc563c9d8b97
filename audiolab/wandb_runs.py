"""Reading back what a W&B run logged, from its files alone (no account, no network).

An offline run is a folder ``wandb/offline-run-<date>_<time>-<id>/`` (an online run leaves the same
``wandb/run-...`` folder) whose ``run-<id>.wandb`` file records everything the run logged, in order::

    from audiolab import wandb_runs

    path = wandb_runs.find_runs("wandb", name="arch1-cv-fold1")[0]   # the newest run of that name
    run = wandb_runs.read_run(path)
    run.history[["epoch", "train/loss", "test/accuracy"]]            # one row per step (epoch)
    run.summary["test/accuracy"], run.config["train"]["lr"]
    run.plots, run.tables, [a.name for a in run.artifacts]
    run.table("test/predictions")                                    # a logged table as a DataFrame

The ``.wandb`` file is a LevelDB-style log (a 7-byte header ``:W&B``, magic 0xBEE1, version 0; then
32 KiB blocks of records: crc32, length, type -- 1 full, 2 first, 3 middle, 4 last -- and data) of
protobuf records in wandb's own schema. Recent wandb versions ship no Python reader, so
:func:`read_records` mirrors the format. A run still being written (or killed) reads up to its last
complete record.
"""
from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pandas as pd

from ._util import PathLike

__all__ = ["OfflineRun", "LoggedArtifact", "find_runs", "read_run", "read_records", "START_WAIT"]

_HEADER = struct.Struct("<4sHB")
_CHUNK = struct.Struct("<IHB")
_BLOCK = 32768
_WANDB_TABLES = "run_table"  # the artifacts W&B makes to store logged tables: listed as tables, not artifacts
#: Seconds to wait for a run's first records: W&B writes the file in the background, so right after a run
#: starts (or even finishes) its file may not yet hold them.
START_WAIT = 5.0


@dataclass
class LoggedArtifact:
    """An artifact a run logged: ``name``, ``type``, ``metadata`` and ``files`` (its path for each file inside
    the artifact: the local copy W&B keeps until the run is synced, under ``$WANDB_DATA_DIR``)."""

    name: str
    type: str
    metadata: dict
    files: dict[str, Path]


@dataclass
class OfflineRun:
    """What one W&B run logged, read from its folder by :func:`read_run`.

    ``history``: one row per step, the scalar values logged at it (``_step`` is the index); ``summary``
    and ``config`` as the W&B page shows them; ``media``: the last value of every non-scalar key (tables,
    plots' tables, images, ...); ``plots``: the keys of W&B's interactive charts (confusion matrix, ROC);
    ``artifacts``: what it logged with ``log_artifact``; ``metrics``: what ``define_metric`` said of a metric
    or glob (e.g. ``{"val/*": {"step_metric": "epoch"}}``); ``finished``: whether it ended (``exit_code``)."""

    path: Path
    id: str
    name: str
    group: str
    job_type: str
    project: str
    started: float
    config: dict
    history: pd.DataFrame
    summary: dict
    media: dict = field(default_factory=dict)
    plots: list = field(default_factory=list)
    artifacts: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    finished: bool = False
    exit_code: Optional[int] = None

    @property
    def tables(self) -> dict[str, Path]:
        """The logged tables (those behind the plots too): key -> its ``.table.json`` in the run folder."""
        return {key: self.path / "files" / value["path"] for key, value in self.media.items()
                if value.get("_type") == "table-file" and "path" in value}

    def table(self, key: str) -> pd.DataFrame:
        """The table logged under ``key`` as a DataFrame (media cells, e.g. audio, stay dicts naming their file)."""
        if key not in self.tables:
            raise KeyError(f"run {self.name!r} logged no table {key!r}; its tables: {sorted(self.tables)}")
        data = json.loads(self.tables[key].read_text())
        return pd.DataFrame(data["data"], columns=data["columns"])

    def artifact(self, type: str) -> LoggedArtifact:
        """The last artifact of ``type`` the run logged (e.g. ``"cv-fold"``, ``"search-trial"``)."""
        found = [a for a in self.artifacts if a.type == type]
        if not found:
            raise KeyError(f"run {self.name!r} logged no artifact of type {type!r}; "
                           f"its artifacts: {[(a.name, a.type) for a in self.artifacts]}")
        return found[-1]


def _log_file(path: PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("run-*.wandb"))
        if not files:
            raise FileNotFoundError(f"{path} holds no run-*.wandb file: pass a run folder such as "
                                    "wandb/offline-run-<date>_<time>-<id> (find_runs lists them)")
        return files[0]
    if not path.is_file():
        raise FileNotFoundError(f"no W&B run at {path}: pass a run folder (find_runs lists them) or its .wandb file")
    return path


def read_records(path: PathLike) -> Iterator[Any]:
    """The protobuf records (``wandb_internal_pb2.Record``) of a run's ``.wandb`` file (or its folder), in
    the order logged; stops at the first incomplete record (a run still being written, or killed)."""
    from wandb.proto import wandb_internal_pb2

    file = _log_file(path)
    data = file.read_bytes()
    if len(data) < _HEADER.size or _HEADER.unpack(data[:_HEADER.size]) != (b":W&B", 0xBEE1, 0):
        raise ValueError(f"{file} is not a W&B transaction log (.wandb) of a version this reader knows")
    pos, pending = _HEADER.size, b""
    while pos + _CHUNK.size <= len(data):
        if _BLOCK - pos % _BLOCK < _CHUNK.size:  # the rest of a block too short for a header is padding
            pos += _BLOCK - pos % _BLOCK
            continue
        checksum, length, kind = _CHUNK.unpack(data[pos:pos + _CHUNK.size])
        chunk = data[pos + _CHUNK.size:pos + _CHUNK.size + length]
        pos += _CHUNK.size + length
        if kind == 0:
            continue
        if len(chunk) < length or zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != checksum:
            return  # caught mid-write
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _set(target: dict, item) -> None:
    """Apply one ``key``/``nested_key`` + ``value_json`` item to ``target`` (nested keys as nested dicts)."""
    keys = list(item.nested_key) or [item.key]
    for key in keys[:-1]:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            return
    target[keys[-1]] = json.loads(item.value_json)


def _apply(target: dict, changes) -> None:
    """A config or summary record's ``update`` and ``remove`` items, applied to ``target``."""
    for item in changes.update:
        _set(target, item)
    for item in changes.remove:
        _remove(target, item)


def _remove(target: dict, item) -> None:
    keys = list(item.nested_key) or [item.key]
    for key in keys[:-1]:
        target = target.get(key, {})
    if isinstance(target, dict):
        target.pop(keys[-1], None)


def _run_info(record) -> dict:
    run = record.run
    return {"id": run.run_id, "name": run.display_name, "group": run.run_group, "job_type": run.job_type,
            "project": run.project, "started": run.start_time.seconds + run.start_time.nanos / 1e9}


def _artifact(record) -> LoggedArtifact:
    art = record.artifact
    files = {entry.path: Path(entry.local_path) for entry in art.manifest.contents}
    return LoggedArtifact(art.name, art.type, json.loads(art.metadata) if art.metadata else {}, files)


def read_run(path: PathLike, wait: Optional[float] = None) -> OfflineRun:
    """Read the run in folder ``path`` (or its ``.wandb`` file).

    ``wait``: seconds to wait for the run's end (its exit record): W&B writes the file in the background,
    so a run that has just finished may not have all of it on disk yet. ``None``: :data:`START_WAIT`
    seconds if the file changed in the last :data:`START_WAIT` seconds, else none (a crashed run never
    ends). A file without even its run record is waited for :data:`START_WAIT` seconds in any case."""
    file = _log_file(path)
    if wait is None:
        wait = START_WAIT if time.time() - file.stat().st_mtime < START_WAIT else 0.0
    start = time.monotonic()
    while True:
        records = list(read_records(file))
        kinds = {r.WhichOneof("record_type") for r in records}
        waited = time.monotonic() - start
        if "exit" in kinds or waited >= max(wait, 0.0 if "run" in kinds else START_WAIT):
            break
        time.sleep(0.05)
    info: dict = {}
    config: dict = {}
    summary: dict = {}
    rows, media, artifacts, metrics, exit_code = [], {}, [], {}, None
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            info = _run_info(record)
            for item in record.run.config.update:
                _set(config, item)
        elif kind == "config":
            _apply(config, record.config)
        elif kind == "history":
            row: dict = {}
            for item in record.history.item:
                _set(row, item)
            media.update({k: v for k, v in row.items() if isinstance(v, dict)})
            rows.append({k: v for k, v in row.items() if not isinstance(v, dict)})
        elif kind == "summary":
            _apply(summary, record.summary)
        elif kind == "metric":
            metric = record.metric
            metrics[metric.name or metric.glob_name] = {"step_metric": metric.step_metric or None,
                                                        "hidden": bool(metric.options.hidden)}
        elif kind == "artifact" and record.artifact.type != _WANDB_TABLES:
            artifacts.append(_artifact(record))
        elif kind == "exit":
            exit_code = int(record.exit.exit_code)
    if not info:
        raise ValueError(f"{file} holds no run record: the run did not start properly")
    history = pd.DataFrame(rows)
    if "_step" in history:
        history = history.set_index("_step", drop=False).rename_axis(None)
    plots = sorted(config.get("_wandb", {}).get("visualize", {}))
    config.pop("_wandb", None)
    summary.pop("_wandb", None)
    return OfflineRun(path=file.parent, config=config, history=history, summary=summary, media=media, plots=plots,
                      artifacts=artifacts, metrics=metrics, finished=exit_code is not None, exit_code=exit_code,
                      **info)


def _first_run_record(file: Path, deadline: float) -> Optional[dict]:
    """The run record's fields, waiting until ``deadline`` (a :func:`time.monotonic`) for it to reach the file."""
    while True:
        for record in read_records(file):
            if record.WhichOneof("record_type") == "run":
                return _run_info(record)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def find_runs(wandb_dir: PathLike = "wandb", name: Optional[str] = None, group: Optional[str] = None,
              job_type: Optional[str] = None) -> list[Path]:
    """The run folders under ``wandb_dir`` (the ``wandb/`` folder, or the folder holding it), newest first;
    only those with the given run ``name``, ``group`` and ``job_type`` when given (a run whose file does not show
    them yet is waited for, at most :data:`START_WAIT` seconds in all). Read one with :func:`read_run`."""
    root = Path(wandb_dir)
    if (root / "wandb").is_dir():
        root = root / "wandb"
    if not root.is_dir():
        raise FileNotFoundError(f"no W&B folder at {root}: runs go to ./wandb/ by default ($WANDB_DIR moves them)")
    wanted = {"name": name, "group": group, "job_type": job_type}
    deadline = time.monotonic() + START_WAIT
    found = []
    for folder in root.glob("*run-*"):
        files = sorted(folder.glob("run-*.wandb")) if folder.is_dir() and not folder.is_symlink() else []
        try:
            info = _first_run_record(files[0], deadline) if files else None
        except ValueError:  # not a transaction log this reader knows
            info = None
        if info and all(value is None or info[key] == value for key, value in wanted.items()):
            found.append((info["started"], folder.name, folder))
    return [folder for _, _, folder in sorted(found, reverse=True)]
