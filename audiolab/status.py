"""A one-line status ("arch1 cv fold 3 · epoch 57/100") passed from a notebook's kernel to the console.

``audiolab reports`` runs the notebooks with papermill, whose kernels print nothing to the terminal
(progress bars there would end up in the saved notebooks). So the parent names a file in
``$AUDIOLAB_STATUS_FILE`` (:data:`STATUS_ENV`) before the kernel starts, the kernel writes what it is
doing there (:func:`report`, called by :func:`audiolab.train.fit` once per epoch), and the parent reads it
back (:func:`read_status`, :func:`watch`) to show it on its progress line.

Writer side: without the environment variable :func:`report` does nothing. With it, it writes at most
every :data:`MIN_INTERVAL` seconds (unless ``force``), each time to a temporary file moved into place
with one ``os.replace``, so the reader never sees half a line. A status that cannot be written is
dropped: reporting never breaks training.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from ._util import PathLike

__all__ = ["STATUS_ENV", "MIN_INTERVAL", "Status", "report", "read_status", "watch"]

#: Environment variable naming the status file; set by the parent process (``audiolab reports``).
STATUS_ENV = "AUDIOLAB_STATUS_FILE"
#: Seconds between two writes of the status (a few per second at most).
MIN_INTERVAL = 0.25

_last_write = 0.0


@dataclass(frozen=True)
class Status:
    """One status line and when it was written (``time.time()`` of the writer)."""

    text: str
    time: float


def report(text: str, force: bool = False) -> bool:
    """Write ``text`` as the current status when ``$AUDIOLAB_STATUS_FILE`` is set; returns whether it wrote.

    Calls closer than :data:`MIN_INTERVAL` seconds to the last write are skipped unless ``force``.
    """
    global _last_write
    target = os.environ.get(STATUS_ENV)
    if not target:
        return False
    now = time.time()
    if not force and now - _last_write < MIN_INTERVAL:
        return False
    try:
        _write_atomically(Path(target), f"{now:.3f}\t{_one_line(text)}\n")
    except OSError:
        return False
    _last_write = now
    return True


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _write_atomically(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_status(path: PathLike) -> Optional[Status]:
    """The status in ``path``, or ``None`` when there is none (no file yet, or not a status line)."""
    try:
        line = Path(path).read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return None
    stamp, sep, text = line.partition("\t")
    try:
        return Status(text, float(stamp)) if sep else None
    except ValueError:
        return None


@contextmanager
def watch(path: PathLike, on_status: Callable[[Optional[Status]], None], interval: float = 0.25) -> Iterator[None]:
    """Call ``on_status(read_status(path))`` every ``interval`` seconds in a background thread, and once
    more on leaving the block (so the last status is always seen)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            on_status(read_status(path))

    thread = threading.Thread(target=loop, name="audiolab-status", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        on_status(read_status(path))
