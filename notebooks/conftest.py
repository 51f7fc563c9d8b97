"""nbval settings for the course notebooks: ``pytest --nbval-lax notebooks/``.

nbval runs every notebook top to bottom in a fresh kernel (one test per cell).
Here they run in the **smoke** profile on the real ESC-10 (one clip per class
and fold), so the whole chain — data, search, cross-validation, held-out test,
attention maps, comparison — is exercised in a few minutes.

The kernels inherit this process's environment when they start. Just before a
notebook's kernel starts, this file sets:

* ``AUDIOLAB_PROFILE=smoke`` (read by each notebook's parameters cell);
* ``AUDIOLAB_RESULTS`` to a scratch folder shared by the notebooks of this
  session (03 reads what 01 and 02 trained) and deleted at the end;
* ``AUDIOLAB_CACHE`` to the same scratch folder (no feature cache in ``~/.cache``);
* ``WANDB_MODE=disabled``;
* ``AUDIOLAB_DATA``: ``$AUDIOLAB_DATA``, else ``../shared/data/ESC-10`` beside the
  repository, else the cache folder's ESC-10 (where ``audiolab data --download`` puts it);
* ``OMP_NUM_THREADS=1`` unless it is set (tiny models: one thread beats two fighting).

and restores the previous values right after, so tests in ``tests/`` that run
in the same session never see them. Without any dataset the notebooks are
skipped, unless ``CI=true``: then they fail and say why. They are marked
``slow`` and ``realdata`` (``pytest -m "not slow"`` leaves them out).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import pytest

HERE = Path(__file__).resolve().parent
SHARED_DATA = HERE.parent.parent / "shared" / "data" / "ESC-10"

_scratch: Optional[Path] = None


def _data_root() -> Optional[Path]:
    env = os.environ.get("AUDIOLAB_DATA")
    if env:
        return Path(env).expanduser()
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    cache = os.environ.get("AUDIOLAB_CACHE")
    cached = (Path(cache).expanduser() if cache else Path.home() / ".cache" / "audiolab") / "ESC-10"
    return cached if cached.is_dir() else None


def _no_data_message() -> str:
    return (
        "the notebooks need the real ESC-10: set AUDIOLAB_DATA=/path/to/ESC-10, or put it at "
        f"{SHARED_DATA}, or run `audiolab data --download`"
    )


def _is_notebook_item(item) -> bool:
    path = Path(str(getattr(item, "fspath", "")))
    return path.suffix == ".ipynb" and HERE in path.resolve().parents


def _environment() -> dict:
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="audiolab-nbval-"))
    env = {
        "AUDIOLAB_PROFILE": "smoke",
        "AUDIOLAB_RESULTS": str(_scratch / "results"),
        "AUDIOLAB_CACHE": str(_scratch / "cache"),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    root = _data_root()
    if root is not None:
        env["AUDIOLAB_DATA"] = str(root.resolve())
    return env


def pytest_sessionstart(session):
    """Give the module name ``conftest`` back to ``tests/conftest.py``.

    Neither ``tests/`` nor ``notebooks/`` is a package, so pytest imports both
    conftest files under the same module name and leaves the last one in
    ``sys.modules``. Test modules do ``from conftest import ...`` and mean
    ``tests/conftest.py``: when this file came last, point the name back at it.
    """
    current = sys.modules.get("conftest")
    if current is None or Path(getattr(current, "__file__", "")).resolve() != Path(__file__).resolve():
        return
    wanted = HERE.parent / "tests" / "conftest.py"
    for plugin in session.config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).resolve() == wanted:
            sys.modules["conftest"] = plugin
            return


def pytest_collection_modifyitems(config, items):
    notebook_items = [item for item in items if _is_notebook_item(item)]
    for item in notebook_items:
        item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.realdata)
    if notebook_items and _data_root() is None and os.environ.get("CI") != "true":
        skip = pytest.mark.skip(reason=_no_data_message())
        for item in notebook_items:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Set the notebook environment while nbval starts the kernel, then put the old one back."""
    if not _is_notebook_item(item):
        return (yield)
    if _data_root() is None and os.environ.get("CI") == "true":
        pytest.fail(_no_data_message() + " (CI=true: not skipping)", pytrace=False)
    env = _environment()
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        return (yield)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pytest_unconfigure(config):
    global _scratch
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None
