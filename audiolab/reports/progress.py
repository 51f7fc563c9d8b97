"""The console line of ``audiolab reports``: which notebook, which cell, and what its kernel is doing::

    01_architecture1 (2/4) · cell 25/37 · arch1 cv fold 3 · epoch 57/100 [12:31]

papermill runs each notebook in a kernel whose output goes into the saved notebook only, so a cell that
trains for minutes would show nothing on the terminal. :class:`ProgressEngine` (a papermill engine,
registered as :data:`ENGINE_NAME`) names a status file in ``$AUDIOLAB_STATUS_FILE`` before the kernel
starts; :func:`audiolab.train.fit` writes its description and epoch there (:func:`audiolab.status.report`),
and a thread here reads it (:func:`audiolab.status.watch`) into the description of papermill's cell bar.
Nothing of it enters the executed notebook. A status written before the current cell started is old
news and is not shown.
"""
from __future__ import annotations

import datetime as _dt
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

from papermill.engines import NBClientEngine, papermill_engines

from ..status import STATUS_ENV, Status, watch

__all__ = ["ENGINE_NAME", "ProgressEngine", "progress_line", "papermill_options"]

#: The papermill engine name of :class:`ProgressEngine`.
ENGINE_NAME = "audiolab-progress"
#: How papermill's cell bar looks: the line of :func:`progress_line` and the notebook's elapsed time.
BAR_FORMAT = "{desc} [{elapsed}]"


def progress_line(label: str, cell: int, cells: int, status: Optional[str] = None) -> str:
    """``"<label> · cell <cell>/<cells>"``, then `` · <status>`` when the kernel reported one."""
    parts = [label, f"cell {cell}/{cells}"] + ([status] if status else [])
    return " · ".join(parts)


def papermill_options(label: Optional[str]) -> dict:
    """Keyword arguments of ``papermill.execute_notebook``: the progress line labelled ``label``, or no
    bar at all when ``label`` is ``None``."""
    if label is None:
        return {"progress_bar": False}
    bar = {"leave": False, "desc": label, "bar_format": BAR_FORMAT, "dynamic_ncols": True}
    return {"engine_name": ENGINE_NAME, "progress_bar": bar, "progress_label": label}


def _finished_at(cell) -> Optional[float]:
    """When papermill recorded ``cell`` as finished (``time.time()`` seconds), if it did."""
    try:
        return _dt.datetime.fromisoformat(cell.metadata.papermill.end_time).timestamp()
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


class _Line:
    """Keeps papermill's cell bar showing :func:`progress_line` for the running cell and its status.

    ``cells`` are the notebook's cells, in which papermill records when each one finished: a status
    written before the last finished cell ended belongs to that cell, not to the running one."""

    def __init__(self, bar, label: str, cells: Sequence = ()):
        self.bar, self.label, self.cells = bar, label, cells
        self.cells_done, self.since, self.shown = bar.n, time.time(), None

    def update(self, status: Optional[Status]) -> None:
        if self.bar.n != self.cells_done:
            self.cells_done = self.bar.n
            last = self.cells[self.cells_done - 1] if 0 < self.cells_done <= len(self.cells) else None
            self.since = (_finished_at(last) if last is not None else None) or time.time()
        text = status.text if status is not None and status.time >= self.since else None
        line = progress_line(self.label, min(self.bar.n + 1, self.bar.total), self.bar.total, text)
        if line != self.shown:
            self.shown = line
            self.bar.set_description_str(line)


@contextmanager
def _status_file() -> Iterator[Path]:
    """A fresh status file named in ``$AUDIOLAB_STATUS_FILE`` (which kernels started now inherit)."""
    before = os.environ.get(STATUS_ENV)
    with tempfile.TemporaryDirectory(prefix="audiolab-status-") as folder:
        path = Path(folder) / "status"
        os.environ[STATUS_ENV] = str(path)
        try:
            yield path
        finally:
            if before is None:
                os.environ.pop(STATUS_ENV, None)
            else:
                os.environ[STATUS_ENV] = before


class ProgressEngine(NBClientEngine):
    """papermill's default engine, with the kernel's status on the cell bar (see the module docstring)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, progress_label: Optional[str] = None, **kwargs):
        bar = nb_man.pbar
        if bar is None:  # progress_bar=False: nothing to show
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        label = progress_label or Path(nb_man.nb.metadata.get("papermill", {}).get("input_path") or "notebook").stem
        line = _Line(bar, label, nb_man.nb.cells)
        with _status_file() as path:
            line.update(None)
            with watch(path, line.update):
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register(ENGINE_NAME, ProgressEngine)
