"""Before ``audiolab reports`` runs the notebooks: a dataset, downloaded when the machine has none.

The notebooks read ESC-10 from where :func:`audiolab.data.resolve_root` finds it (``--root``,
``$AUDIOLAB_DATA``, the cache folder). On a machine with none of these, :func:`ensure_dataset`
downloads the pinned, checksummed archive into the cache folder with a progress bar -- the very code
behind ``audiolab data --download`` -- so that ``make reports`` is the one command to run. A ``--root``
or ``$AUDIOLAB_DATA`` that names a missing folder is a mistake to fix, not a place to download into,
and a failed download ends with the message that says how to get the data by hand.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from .._util import PathLike

__all__ = ["ensure_dataset"]


def ensure_dataset(root: Optional[PathLike] = None) -> Path:
    """The dataset folder the notebooks will read; downloads ESC-10 into the cache folder when there is none.

    Raises :class:`audiolab.data.DatasetNotFoundError` when ``root`` or ``$AUDIOLAB_DATA`` points nowhere,
    or when the download fails (its message then holds both how to fix it and why the download failed).
    """
    from ..data import DATA_ENV, DatasetNotFoundError, DownloadError, resolve_root

    try:
        return resolve_root(root)[0]
    except DatasetNotFoundError as missing:
        if root is not None or os.environ.get(DATA_ENV):
            raise
        print("audiolab reports: no ESC-10 on this machine yet: downloading it (once)", file=sys.stderr)
        try:
            return resolve_root(None, download=True)[0]
        except (DownloadError, OSError) as error:
            raise DatasetNotFoundError(f"{missing}\nThe automatic download failed: {error}") from error
