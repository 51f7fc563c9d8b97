"""The repository's address in one place, and everything made from it (:mod:`audiolab.colab.repo`, ``.cells``).

The first test keeps the notebooks and README in step with ``[project.urls]`` of pyproject.toml;
the others change copies of those files in a temporary folder.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import audiolab.colab
from audiolab.colab import Repository, parse_repo_url, problems, repo_url, set_repo
from audiolab.colab.__main__ import main
from audiolab.colab.cells import SETUP_NOTE, setup_cell

REPO = Path(__file__).resolve().parents[1]


def test_notebooks_and_readme_agree_with_the_one_repository_url():
    assert problems(REPO) == [], "run: python -m audiolab.colab set-repo <Repository of pyproject.toml>"
    assert repo_url(REPO / "pyproject.toml").url in (REPO / "pyproject.toml").read_text()


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of pyproject.toml, README.md and the notebooks."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return tmp_path


def _notebooks(root: Path) -> dict:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "notebooks").glob("*.ipynb"))}


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# --------------------------------------------------------------------------- the address


@pytest.mark.parametrize("url, expected", [
    ("https://github.com/ana/audiolab", Repository("ana", "audiolab")),
    ("https://github.com/ana/audiolab.git", Repository("ana", "audiolab")),
    ("https://github.com/ana/audiolab/", Repository("ana", "audiolab")),
    ("https://github.com/ana-b/my.kit/tree/dev/2025", Repository("ana-b", "my.kit", "dev/2025")),
])
def test_parse_repo_url(url, expected):
    assert parse_repo_url(url) == expected
    assert parse_repo_url(expected.url) == expected  # what pyproject.toml holds reads back the same


@pytest.mark.parametrize("url", [
    "https://gitlab.com/ana/audiolab", "github.com/ana/audiolab", "https://github.com/ana",
    "https://github.com/ana/audiolab/blob/main/README.md", "https://github.com/ana/audiolab/tree",
    "https://github.com/-ana/audiolab", "https://github.com/ana/audio lab",
])
def test_a_url_colab_cannot_open_is_refused_with_what_to_write(url):
    with pytest.raises(ValueError, match="expected https://github.com/OWNER/NAME"):
        parse_repo_url(url)


def test_the_addresses_made_from_a_repository():
    repo = Repository("ana", "kit", "dev")
    assert repo.url == "https://github.com/ana/kit/tree/dev"
    assert repo.pip == "git+https://github.com/ana/kit@dev"
    assert repo.colab("00_dataset.ipynb") == "https://colab.research.google.com/github/ana/kit/blob/dev/notebooks/00_dataset.ipynb"


# --------------------------------------------------------------------------- set-repo and check


def test_set_repo_rewrites_the_definition_the_badges_setup_cells_and_readme(checkout):
    before = _notebooks(checkout)
    changed = set_repo("https://github.com/ana/audiolab-fork/tree/dev", checkout)
    assert {p.name for p in changed} == {"pyproject.toml", "README.md", *before}
    assert repo_url(checkout / "pyproject.toml") == Repository("ana", "audiolab-fork", "dev")
    assert problems(checkout) == []

    after = _notebooks(checkout)
    for name, nb in after.items():
        assert nb["cells"][3:] == before[name]["cells"][3:], f"{name}: only cells 0-2 may change"
        assert {k: v for k, v in nb.items() if k != "cells"} == {k: v for k, v in before[name].items() if k != "cells"}
        title = _source(nb["cells"][0])
        assert f"(https://colab.research.google.com/github/ana/audiolab-fork/blob/dev/notebooks/{name})" in title
        assert title.splitlines()[0] == _source(before[name]["cells"][0]).splitlines()[0]  # the title stays
        assert _source(nb["cells"][1]) == SETUP_NOTE
        assert '"git+https://github.com/ana/audiolab-fork@dev"' in _source(nb["cells"][2])
        text = (checkout / "notebooks" / name).read_text(encoding="utf-8")
        assert text == json.dumps(nb, indent=1, ensure_ascii=False) + "\n"  # as Jupyter writes it
    old = repo_url(REPO / "pyproject.toml")
    for path in [checkout / "README.md", *(checkout / "notebooks").glob("*.ipynb")]:
        assert f"{old.owner}/{old.name}" not in path.read_text(encoding="utf-8"), path.name

    assert set_repo("https://github.com/ana/audiolab-fork/tree/dev", checkout) == []  # already set: no change
    assert main(["set-repo", old.url, "--root", str(checkout)]) == 0
    assert _notebooks(checkout) == before and problems(checkout) == []  # and back


def test_check_finds_a_notebook_or_readme_that_drifted(checkout, capsys):
    assert main(["check", "--root", str(checkout)]) == 0
    path = checkout / "notebooks" / "01_architecture1.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    repo = repo_url(checkout / "pyproject.toml")
    nb["cells"][0]["source"] = _source(nb["cells"][0]).replace(f"/{repo.owner}/", "/someone-else/")
    nb["cells"][-1]["source"] = "!pip install git+https://github.com/someone-else/audiolab"
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    readme = checkout / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("blob/main/notebooks/00", "blob/old/notebooks/00"))

    found = problems(checkout)
    assert any(p.startswith("01_architecture1.ipynb: the Colab badge") for p in found)
    assert any("01_architecture1.ipynb names git+https://github.com/someone-else/audiolab" in p for p in found)
    assert "README.md: the Colab links block is missing or out of date" in found
    assert any(p.startswith("README.md names https://colab.research.google.com/github/") for p in found)
    assert main(["check", "--root", str(checkout)]) == 1
    assert "01_architecture1.ipynb" in capsys.readouterr().out


def test_set_repo_changes_nothing_when_it_cannot_do_everything(checkout, capsys):
    files = {p: p.read_bytes() for p in [checkout / "pyproject.toml", checkout / "README.md",
                                         *(checkout / "notebooks").glob("*.ipynb")]}
    assert main(["set-repo", "https://gitlab.com/ana/audiolab", "--root", str(checkout)]) == 2
    assert "expected https://github.com/OWNER/NAME" in capsys.readouterr().err

    path = checkout / "notebooks" / "02_architecture2.ipynb"
    nb = json.loads(files[path])
    nb["cells"][1], nb["cells"][2] = nb["cells"][2], nb["cells"][1]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    files[path] = path.read_bytes()
    with pytest.raises(ValueError, match="02_architecture2.ipynb: cells 0-2 should be the title"):
        set_repo("https://github.com/ana/audiolab", checkout)
    assert {p: p.read_bytes() for p in files} == files


# --------------------------------------------------------------------------- the setup cell itself


def _setup_source() -> str:
    return setup_cell(repo_url(REPO / "pyproject.toml"))


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"outside Colab the setup cell ran {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(audiolab.colab, "setup", refuse)
    exec(compile(_setup_source(), "setup-cell", "exec"), {})


def test_the_setup_cell_in_colab_installs_the_kit_alone_then_calls_setup(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    commands, setups = [], []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: commands.append((command, kw)))
    monkeypatch.setattr(audiolab.colab, "setup", lambda: setups.append(True))
    exec(compile(_setup_source(), "setup-cell", "exec"), {})
    pip = repo_url(REPO / "pyproject.toml").pip
    assert commands == [([sys.executable, "-m", "pip", "install", "-q", "--no-deps", pip], {"check": True})]
    assert setups == [True]
