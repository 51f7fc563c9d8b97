"""The notebooks' Colab setup cell, run with a stand-in ``google.colab`` module and a recording ``subprocess.run``.

In Colab the cell mounts Drive, clones the repository there (with its committed results) unless an
earlier session did, installs it with pip, downloads ESC-10 and keeps W&B runs on Drive; a failing
step shows its own output. The badges, ``REPO`` and README's links name one repository.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KIT = "/content/drive/MyDrive/audiolab"


def cells(path: Path) -> list:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def repository() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


@pytest.fixture
def colab(monkeypatch):
    """A stand-in Colab: ``google.colab.drive``, and ``subprocess.run`` recording each step; returns the log."""
    log = {"mounted": [], "steps": [], "fail": None, "cloned": False}
    drive = types.SimpleNamespace(mount=log["mounted"].append)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(drive=drive))

    def run(step, **kwargs):
        log["steps"].append(step)
        failed = log["fail"] is not None and log["fail"] in step
        return subprocess.CompletedProcess(step, 1 if failed else 0, "", "ERROR: pip's own reason\n" if failed else "")

    monkeypatch.setattr(subprocess, "run", run)
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: log["cloned"] if p == f"{KIT}/.git" else real_isdir(p))
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("AUDIOLAB_CACHE", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    return log


def test_every_notebook_has_the_same_setup_cell_and_one_repository():
    url = repository()
    owner_name = url.removeprefix("https://github.com/")
    setup = {cells(path)[2] for path in NOTEBOOKS}
    assert len(NOTEBOOKS) == 4 and len(setup) == 1
    assert f'REPO = "{url}"' in setup.pop()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        badge = f"(https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{path.name})"
        assert badge in cells(path)[0] and badge in readme, f"{path.name}'s badge is not made from {url}"
        assert "must point at a real repository" in cells(path)[1].replace("\n", " ")
    text = "\n".join([readme] + [c for p in NOTEBOOKS for c in cells(p)])
    addresses = set(re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)", text))
    addresses |= set(re.findall(r'REPO = "https://github\.com/([\w.-]+/[\w.-]+)"', text))
    assert addresses == {owner_name}, f"in a fork, write its address everywhere: {addresses}"
    assert "run 01 and 02 first" in cells(NOTEBOOKS[3])[1] and "01 and 02 first" not in cells(NOTEBOOKS[1])[1]


def test_in_colab_the_cell_clones_installs_and_downloads_onto_drive(colab):
    exec(cells(NOTEBOOKS[0])[2], {})
    assert colab["mounted"] == ["/content/drive"]
    clone, pip, data = colab["steps"]
    assert clone == ["git", "clone", "--depth=1", repository(), KIT]
    assert pip[-3:] == ["install", "-q", "-e", KIT][-3:] and pip[1:4] == ["-m", "pip", "install"]
    assert data[1:] == ["-m", "audiolab.cli", "data", "--download"]
    assert os.environ["WANDB_DIR"] == KIT and os.environ["AUDIOLAB_CACHE"].startswith(KIT) and sys.path[0] == KIT

    colab["steps"].clear()
    colab["cloned"] = True  # a later session: the clone on Drive (and the results in it) is used as it is
    exec(cells(NOTEBOOKS[3])[2], {})
    assert [step[0] for step in colab["steps"]] == [sys.executable, sys.executable]


def test_a_failing_install_shows_pips_reason(colab):
    colab["fail"] = "pip"
    with pytest.raises(RuntimeError, match="(?s)pip install .* failed.*ERROR: pip's own reason"):
        exec(cells(NOTEBOOKS[1])[2], {})
    assert len(colab["steps"]) == 2  # nothing after the failing step


def test_on_your_own_machine_the_cell_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a command outside Colab"))
    exec(cells(NOTEBOOKS[2])[2], {})
