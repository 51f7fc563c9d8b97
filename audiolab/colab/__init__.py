"""Google Colab: the repository the notebooks open from, and a Colab runtime made ready for them.

* :mod:`~audiolab.colab.repo` -- the repository's address, defined once (``[project.urls]`` in
  pyproject.toml);
* :mod:`~audiolab.colab.cells` -- the badges, setup cells and README links made from it
  (:func:`set_repo` rewrites them, :func:`problems` lists any that disagree);
* :mod:`~audiolab.colab.session` -- :func:`setup`, which the notebooks' setup cell calls in Colab:
  the packages Colab lacks, results and data on Google Drive, ESC-10.

Point the badges and setup cells at your copy of the repository with::

    python -m audiolab.colab set-repo https://github.com/OWNER/audiolab
    python -m audiolab.colab check        # 0 when everything agrees with pyproject.toml
"""
from .cells import problems, set_repo
from .repo import Repository, parse_repo_url, repo_url
from .session import ColabSession, ColabSetupError, setup

__all__ = ["setup", "ColabSession", "ColabSetupError", "Repository", "parse_repo_url", "repo_url", "set_repo",
           "problems"]
