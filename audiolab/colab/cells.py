"""What the notebooks and README say about Colab, made from the one repository address (:mod:`.repo`).

The first three cells of every notebook are generated: the title cell's "Open in Colab" badge
(:func:`badge_block`), the setup note (:data:`SETUP_NOTE`) and the setup code (:func:`setup_cell`);
README's Colab links sit between two markers (:func:`readme_block`). :func:`set_repo` rewrites them
all for a repository, and :func:`problems` lists every place that disagrees with the definition
(tests/test_colab_repo.py keeps that list empty, so they cannot drift apart).

Notebooks are rewritten as Jupyter writes them (JSON indented by one, UTF-8, a final newline),
touching nothing but those three cells.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional, Sequence

from .repo import Repository, repo_url, write_repo_url

__all__ = ["SETUP_NOTE", "badge_block", "setup_cell", "readme_block", "notebook_paths", "set_repo", "problems"]

BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
SET_REPO = "python -m audiolab.colab set-repo https://github.com/OWNER/audiolab"

SETUP_NOTE = (
    "**Setup.** In Google Colab the next cell installs the course kit and only the packages Colab lacks,\n"
    "keeps results and the dataset on your Google Drive (`MyDrive/audiolab/`, so notebook 03 finds what\n"
    "01 and 02 trained) and downloads ESC-10; on your own machine (after `make install`) it does nothing."
)

_SETUP_CELL = '''import subprocess
import sys

if "google.colab" in sys.modules:  # in Colab only: on your own machine this cell does nothing
    kit = "{pip}"
    # the kit alone (--no-deps): Colab's own torch, numpy, ... stay as they are
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", kit], check=True)
    from audiolab import colab

    colab.setup()  # installs what Colab lacks, keeps results and data on Google Drive, downloads ESC-10'''

_BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*\n(?:<!--.*-->[ \t]*\n)?", re.MULTILINE)
_README_START = "<!-- colab-links: made by `python -m audiolab.colab set-repo` from pyproject.toml; do not edit -->"
_README_END = "<!-- /colab-links -->"
_README_RE = re.compile(re.escape(_README_START) + r".*?" + re.escape(_README_END), re.DOTALL)
#: Addresses of a repository that a notebook or README may name: Colab links and pip installs.
_ANY_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"'>]+")
_ANY_PIP = re.compile(r"git\+https://github\.com/[^\s)\"'>]+")


def badge(repo: Repository, notebook: str) -> str:
    return f"[![Open In Colab]({BADGE_SVG})]({repo.colab(notebook)})"


def badge_block(repo: Repository, notebook: str) -> str:
    """The badge line of a notebook's title cell and the comment that says where it comes from."""
    return (f"{badge(repo, notebook)}\n"
            f"<!-- made from [project.urls] in pyproject.toml: `{SET_REPO}` points it and the setup cell at your copy -->\n")


def setup_cell(repo: Repository) -> str:
    """The source of every notebook's setup cell (cell 2)."""
    return _SETUP_CELL.format(pip=repo.pip)


def readme_block(repo: Repository, notebooks: Sequence[str]) -> str:
    """README's Colab links, one line per notebook, between the two markers."""
    lines = [f"- {badge(repo, name)} `{name}`" for name in notebooks]
    return "\n".join([_README_START, *lines, _README_END])


def notebook_paths(root: Path) -> list[Path]:
    """The course notebooks, ``notebooks/*.ipynb`` of the checkout at ``root``."""
    paths = sorted((Path(root) / "notebooks").glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks in {Path(root) / 'notebooks'}: run this from a checkout of the repository")
    return paths


# --------------------------------------------------------------------------- notebooks


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _set_text(cell: dict, text: str) -> None:
    """Keep the notebook's way of storing sources: one string, or Jupyter's list of lines."""
    cell["source"] = text if isinstance(cell.get("source"), str) else text.splitlines(keepends=True)


def _setup_cells(nb: dict, path: Path) -> list:
    cells = nb.get("cells", [])
    kinds = [c.get("cell_type") for c in cells[:3]]
    if kinds != ["markdown", "markdown", "code"]:
        raise ValueError(f"{path}: cells 0-2 should be the title (markdown), the setup note (markdown) and the "
                         f"setup code (code); found {kinds}. Put them back in that order, then run this again")
    return cells[:3]


def _with_badge(title: str, block: str) -> str:
    if _BADGE_RE.search(title):
        return _BADGE_RE.sub(lambda m: block, title, count=1)
    first, _, rest = title.partition("\n")  # no badge yet: under the title line
    rest = rest.lstrip("\n")
    return f"{first}\n\n{block}\n{rest}"


def _rewrite_notebook(path: Path, repo: Repository) -> bool:
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    title, note, code = _setup_cells(nb, path)
    _set_text(title, _with_badge(_text(title), badge_block(repo, path.name)))
    _set_text(note, SETUP_NOTE)
    _set_text(code, setup_cell(repo))
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def _notebook_problems(path: Path, repo: Repository) -> list[str]:
    title, note, code = _setup_cells(json.loads(path.read_text(encoding="utf-8")), path)
    found = []
    if badge_block(repo, path.name) not in _text(title):
        found.append(f"{path.name}: the Colab badge of cell 0 is not {repo.colab(path.name)}")
    if _text(note) != SETUP_NOTE:
        found.append(f"{path.name}: cell 1 is not the setup note")
    if _text(code) != setup_cell(repo):
        found.append(f"{path.name}: cell 2 is not the setup cell for {repo.url}")
    return found


# --------------------------------------------------------------------------- README


def _rewrite_readme(path: Path, repo: Repository, notebooks: Sequence[str]) -> bool:
    text = path.read_text(encoding="utf-8")
    if not _README_RE.search(text):
        raise ValueError(f"{path} has no Colab links block: put the two lines\n{_README_START}\n{_README_END}\n"
                         "where the links belong, then run this again")
    new = _README_RE.sub(lambda m: readme_block(repo, notebooks), text, count=1)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def _stray_addresses(name: str, text: str, repo: Repository, notebooks: Sequence[str]) -> list[str]:
    """Colab or pip addresses in ``text`` that are not this repository's."""
    allowed = {repo.pip} | {repo.colab(n) for n in notebooks}
    found = set(_ANY_COLAB.findall(text)) | set(_ANY_PIP.findall(text))
    return [f"{name} names {address}, not made from {repo.url}" for address in sorted(found - allowed)]


# --------------------------------------------------------------------------- the two entry points


def set_repo(url: str, root: Optional[Path] = None) -> list[Path]:
    """Make ``url`` the repository of the checkout at ``root`` (default: this one): pyproject.toml, the
    first three cells of every notebook and README's Colab links. Returns the files that changed."""
    from .repo import parse_repo_url

    root = Path(root) if root is not None else _root()
    repo = parse_repo_url(url)
    paths = notebook_paths(root)
    for path in paths:  # check every notebook before changing any file
        _setup_cells(json.loads(path.read_text(encoding="utf-8")), path)
    changed = [root / "pyproject.toml"] if write_repo_url(repo, root / "pyproject.toml") else []
    changed += [p for p in paths if _rewrite_notebook(p, repo)]
    if _rewrite_readme(root / "README.md", repo, [p.name for p in paths]):
        changed.append(root / "README.md")
    return changed


def problems(root: Optional[Path] = None) -> list[str]:
    """Every place of the checkout at ``root`` whose Colab badge, setup cell or link disagrees with the
    repository defined in its pyproject.toml; empty when they all agree."""
    root = Path(root) if root is not None else _root()
    repo = repo_url(root / "pyproject.toml")
    paths = notebook_paths(root)
    names = [p.name for p in paths]
    found = []
    for path in paths:
        found += _notebook_problems(path, repo)
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        found += _stray_addresses(path.name, "\n".join(_text(c) for c in cells), repo, names)
    readme = (root / "README.md").read_text(encoding="utf-8")
    if readme_block(repo, names) not in readme:
        found.append("README.md: the Colab links block is missing or out of date")
    found += _stray_addresses("README.md", readme, repo, names)
    return found


def _root() -> Path:
    from .._util import repo_root

    return repo_root()
