"""The repository's address, written in one place: ``Repository`` under ``[project.urls]`` in pyproject.toml.

Colab opens notebooks straight from GitHub and installs the kit from there, so the badges and setup
cells of the notebooks name the repository. They are all made from this one definition (see
:mod:`audiolab.colab.cells`); a copy of the course changes it with
``python -m audiolab.colab set-repo https://github.com/OWNER/audiolab``.

* :class:`Repository` -- owner, name and branch, and the addresses made from them;
* :func:`parse_repo_url` -- ``https://github.com/OWNER/NAME`` (optionally ``/tree/BRANCH``) checked;
* :func:`repo_url` and :func:`write_repo_url` -- read and rewrite the definition.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

__all__ = ["DEFAULT_BRANCH", "Repository", "parse_repo_url", "repo_url", "write_repo_url", "pyproject_path"]

DEFAULT_BRANCH = "main"
_GITHUB = "https://github.com/"
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")
#: ``Repository = "..."`` inside ``[project.urls]`` (up to the next table).
_URL_LINE = re.compile(r'(^\[project\.urls\][ \t]*\n(?:(?!\[)[^\n]*\n)*?Repository[ \t]*=[ \t]*)"([^"\n]*)"', re.MULTILINE)


@dataclass(frozen=True)
class Repository:
    """A GitHub repository (and the branch Colab opens): where the badges and setup cells point."""

    owner: str
    name: str
    branch: str = DEFAULT_BRANCH

    @property
    def url(self) -> str:
        """How it is written in pyproject.toml: ``https://github.com/OWNER/NAME`` (``/tree/BRANCH`` if not main)."""
        base = f"{_GITHUB}{self.owner}/{self.name}"
        return base if self.branch == DEFAULT_BRANCH else f"{base}/tree/{self.branch}"

    @property
    def pip(self) -> str:
        """What ``pip install`` takes: ``git+https://github.com/OWNER/NAME@BRANCH``."""
        return f"git+{_GITHUB}{self.owner}/{self.name}@{self.branch}"

    def colab(self, notebook: str) -> str:
        """The address that opens ``notebooks/<notebook>`` of this repository in Colab."""
        return f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/{self.branch}/notebooks/{notebook}"


def parse_repo_url(url: str) -> Repository:
    """``https://github.com/OWNER/NAME`` (a trailing ``.git`` or ``/`` is fine; ``/tree/BRANCH`` picks a
    branch other than main) as a :class:`Repository`; anything else is a :class:`ValueError` saying why."""
    expected = ("expected https://github.com/OWNER/NAME (or https://github.com/OWNER/NAME/tree/BRANCH): "
                "Colab opens notebooks from GitHub only")
    text = str(url).strip()
    if not text.startswith(_GITHUB):
        raise ValueError(f"{expected}; got {url!r}")
    parts = [p for p in text[len(_GITHUB):].split("/") if p]
    if len(parts) >= 2 and parts[1].endswith(".git"):
        parts[1] = parts[1][: -len(".git")]
    branch = DEFAULT_BRANCH
    if len(parts) > 2:
        if parts[2] != "tree" or len(parts) == 3:
            raise ValueError(f"{expected}; got {url!r}")
        branch = "/".join(parts[3:])
    if len(parts) < 2 or not _OWNER.match(parts[0]) or not _NAME.match(parts[1]) or not _BRANCH.match(branch):
        raise ValueError(f"{expected}; got {url!r}")
    return Repository(parts[0], parts[1], branch)


def pyproject_path() -> Path:
    """pyproject.toml of this checkout."""
    from .._util import repo_root

    return repo_root() / "pyproject.toml"


def _installed_repo_url() -> Optional[str]:
    """``Repository`` from the installed package's metadata (where there is no checkout, e.g. in Colab)."""
    from importlib import metadata

    try:
        entries = metadata.metadata("audiolab").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    return None


def repo_url(pyproject: Optional[Path] = None) -> Repository:
    """The repository defined in pyproject.toml (of this checkout, or ``pyproject``), else in the
    installed package's metadata."""
    path = Path(pyproject) if pyproject is not None else pyproject_path()
    if path.is_file():
        found = _URL_LINE.search(path.read_text(encoding="utf-8"))
        if found is None:
            raise ValueError(f'{path} has no Repository = "https://github.com/OWNER/NAME" under [project.urls]: add it')
        return parse_repo_url(found.group(2))
    installed = _installed_repo_url()
    if installed is None:
        raise FileNotFoundError(f"no {path} and no Repository URL in the installed audiolab's metadata: "
                                "run this from a checkout of the repository")
    return parse_repo_url(installed)


def write_repo_url(repo: Repository, pyproject: Optional[Path] = None) -> bool:
    """Write ``repo`` as the one definition in pyproject.toml; returns whether the file changed."""
    path = Path(pyproject) if pyproject is not None else pyproject_path()
    text = path.read_text(encoding="utf-8")
    if _URL_LINE.search(text) is None:
        raise ValueError(f'{path} has no Repository = "..." line under [project.urls]: add one, then run this again')
    new = _URL_LINE.sub(lambda m: f'{m.group(1)}"{repo.url}"', text, count=1)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text
