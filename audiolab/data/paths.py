"""Where the data lives: environment variables, default folders, and ESC-10's file names.

The bottom layer of :mod:`audiolab.data`: it imports nothing else of the package,
and both :mod:`~audiolab.data.download` and :mod:`~audiolab.data.metadata` read it.

* ``$AUDIOLAB_DATA`` (:data:`DATA_ENV`) points at a dataset folder;
* ``$AUDIOLAB_CACHE`` (:data:`CACHE_ENV`), or ``~/.cache/audiolab``, holds downloads
  and feature caches (:func:`default_cache_dir`);
* the ESC-10 tree is ``NNN - Class name/<fold>-<clipid>-<take>.ogg``; the two
  patterns below say which folders and files are clips (everything else is ignored).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from audiolab._util import PathLike

__all__ = ["PathLike", "DATA_ENV", "CACHE_ENV", "default_cache_dir"]

DATA_ENV = "AUDIOLAB_DATA"
CACHE_ENV = "AUDIOLAB_CACHE"

_CLASS_DIR_RE = re.compile(r"^(\d{3}) - (.+)$")
_TREE_CLIP_RE = re.compile(r"^(\d+)-([0-9A-Za-z]+)-([A-Za-z]+)\.ogg$", re.IGNORECASE)

# The two fixes that error messages suggest when the dataset is missing or damaged.
_FIX_DOWNLOAD = "run `audiolab data --download` (or pass download=True)"
_FIX_ENV = f"set {DATA_ENV}=/path/to/ESC-10"


def default_cache_dir() -> Path:
    """``$AUDIOLAB_CACHE``, or ``~/.cache/audiolab``: downloads and feature caches live here."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "audiolab"


def _default_data_dir(subset: str) -> Path:
    return default_cache_dir() / ("ESC-50" if subset == "esc50" else "ESC-10")


def _first_few(items: Sequence[str], n: int = 5) -> str:
    """The first ``n`` items for an error message, and how many more there are."""
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")
