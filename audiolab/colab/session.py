"""Getting a Colab runtime ready for the notebooks: ``colab.setup()``, the last line of every setup cell.

Each Colab notebook runs on a machine of its own, which forgets everything when its runtime ends
and already has PyTorch, NumPy, pandas, ... installed. The setup cell installs the kit itself without
its dependencies (``pip install --no-deps``), then :func:`setup`

1. installs only the requirements Colab lacks (:func:`missing_requirements` compares each one with the
   installed version: a torch or numpy that satisfies it is never reinstalled);
2. mounts Google Drive and keeps results, figures and the dataset cache in ``MyDrive/audiolab/`` by
   setting ``$AUDIOLAB_RESULTS`` and ``$AUDIOLAB_CACHE``, which the kit reads -- so notebook 03, on its
   own machine, finds what 01 and 02 trained. Without Drive they stay in ``/content/audiolab``, and it
   says what that means;
3. downloads ESC-10 as ``audiolab data --download`` does (verified; on Drive, once for every session).

Nothing here imports more than the standard library before step 1 has run.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

__all__ = ["DRIVE_MOUNT", "DRIVE_FOLDER", "LOCAL_FOLDER", "ColabSession", "ColabSetupError", "missing_requirements",
           "install_missing", "mount_drive", "setup"]

#: Where Colab mounts Google Drive; the user's files are in its ``MyDrive`` folder.
DRIVE_MOUNT = Path("/content/drive")
#: The kit's folder on Drive, under ``MyDrive``.
DRIVE_FOLDER = "audiolab"
#: The kit's folder when Drive is not mounted (on the Colab machine, gone with its runtime).
LOCAL_FOLDER = Path("/content/audiolab")

Runner = Callable[[list], object]


class ColabSetupError(RuntimeError):
    """The Colab runtime could not be made ready; the message says what to do."""


@dataclass(frozen=True)
class ColabSession:
    """What :func:`setup` did: where results and data are kept, and what it installed."""

    folder: Path
    on_drive: bool
    installed: tuple


def _run(command: list) -> None:
    subprocess.run(command, check=True)


# --------------------------------------------------------------------------- 1. packages


def _requirement(line: str):
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging comes with pip everywhere, Colab included
        from pip._vendor.packaging.requirements import Requirement
    return Requirement(line)


def _installed_version(name: str) -> Optional[str]:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _satisfied(requirement, version: str) -> bool:
    try:
        return requirement.specifier.contains(version, prereleases=True)
    except Exception:  # a version pip cannot parse: leave that package as Colab has it
        return True


def kit_requirements() -> list[str]:
    """What the installed audiolab declares it needs (requirements.txt, as pip recorded it)."""
    from importlib import metadata

    try:
        return list(metadata.requires("audiolab") or [])
    except metadata.PackageNotFoundError:
        raise ColabSetupError("audiolab is not installed: run the setup cell from its first line, which installs "
                              "the kit before calling colab.setup()") from None


def missing_requirements(requirements: Iterable[str]) -> list[str]:
    """The requirements that no installed package satisfies (absent, or an older version); those of
    extras (notebook tooling, tests) are left out."""
    missing = []
    for line in requirements:
        requirement = _requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = _installed_version(requirement.name)
        if version is None or not _satisfied(requirement, version):
            missing.append(str(requirement))
    return missing


def install_missing(requirements: Optional[Iterable[str]] = None, run: Runner = _run) -> list[str]:
    """pip-install what :func:`missing_requirements` finds (of ``requirements``, default the kit's); returns it."""
    requirements = kit_requirements() if requirements is None else list(requirements)
    missing = missing_requirements(requirements)
    if not missing:
        print("audiolab: Colab already has every package the kit needs")
        return []
    upgraded = [r for r in missing if _installed_version(_requirement(r).name) is not None]
    print(f"audiolab: installing what Colab lacks: {', '.join(missing)}")
    run([sys.executable, "-m", "pip", "install", "-q", *missing])
    importlib.invalidate_caches()
    if upgraded:
        print(f"audiolab: upgraded {', '.join(upgraded)}. Python keeps any version it has already imported: if a "
              "later cell fails on one of them, use Runtime > Restart session and run the notebook again")
    return missing


# --------------------------------------------------------------------------- 2. where results and data live


def mount_drive(mount_point: Path = DRIVE_MOUNT) -> tuple[Optional[Path], str]:
    """``(the MyDrive folder, "")`` once Google Drive is mounted at ``mount_point``, else ``(None, why not)``."""
    try:
        from google.colab import drive

        drive.mount(str(mount_point))
    except Exception as error:  # access refused, no Drive, not in Colab: results then stay on this machine
        return None, f"{type(error).__name__}: {error}"
    mine = Path(mount_point) / "MyDrive"
    return (mine, "") if mine.is_dir() else (None, f"{mine} did not appear after mounting")


def _point_kit_at(folder: Path) -> None:
    """Results (and figures beside them) and the download/feature cache of every later call go into ``folder``."""
    from ..data.paths import CACHE_ENV
    from ..evaluation.store import RESULTS_ENV

    folder.mkdir(parents=True, exist_ok=True)
    os.environ[RESULTS_ENV] = str(folder / "results")
    os.environ[CACHE_ENV] = str(folder / "cache")


def _where(folder: Path, on_drive: bool, why: str) -> str:
    if on_drive:
        return (f"audiolab: results, figures and the dataset are kept on your Google Drive in {folder}: notebook 03 "
                "finds there what 01 and 02 trained, in this session or a later one")
    return (f"audiolab: Google Drive is not mounted ({why}), so results stay on this Colab machine in {folder} and "
            "are lost when its runtime ends. Notebook 03 compares the results of 01 and 02: it finds them only if "
            "01 and 02 ran in this same session, on this machine. To keep results, run this cell again and allow "
            "access to Google Drive")


# --------------------------------------------------------------------------- 3. the data


def _download_dataset() -> None:
    from ..data import data_command

    if data_command(download=True) != 0:
        raise ColabSetupError("ESC-10 could not be downloaded (the error is above): check that this runtime is "
                              "connected to the internet, then run this cell again")


def setup(drive: bool = True, download: bool = True, *, mount_point: Path = DRIVE_MOUNT,
          local_folder: Path = LOCAL_FOLDER, requirements: Optional[Iterable[str]] = None, run: Runner = _run,
          downloader: Callable[[], object] = _download_dataset) -> ColabSession:
    """Make this Colab runtime ready for the notebooks (see the module docstring for the three steps).

    ``drive=False`` keeps results on this machine; ``download=False`` skips the dataset. The keyword-only
    arguments replace Colab's folders, the requirements, the pip runner and the download (tests use them).
    """
    if "google.colab" not in sys.modules:
        raise ColabSetupError("colab.setup() prepares a Google Colab runtime; on your own machine run `make install` "
                              "instead, then `audiolab data --download` (or set AUDIOLAB_DATA)")
    installed = install_missing(requirements, run)
    mine, why = mount_drive(mount_point) if drive else (None, "setup(drive=False)")
    folder = mine / DRIVE_FOLDER if mine is not None else Path(local_folder)
    _point_kit_at(folder)
    print(_where(folder, mine is not None, why))
    if download:
        downloader()
    return ColabSession(folder, mine is not None, tuple(installed))
