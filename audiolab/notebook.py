"""The one setup line of every notebook: ``ws = audiolab.notebook.setup(profile=profile, ...)``.

A :class:`Workspace` holds what a chapter needs: the run profile, the results store, the data and
its features, and where figures go. W&B, progress bars and workers follow the environment
(``WANDB_MODE``, ``TQDM_DISABLE``, ``AUDIOLAB_WORKERS``). Paths it prints are relative to the repository
(or ``~``), so no output of a notebook names the machine that ran it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd
import torch

from . import configs
from ._util import PathLike, repo_root
from .evaluation.store import ResultsStore

__all__ = ["Workspace", "setup", "shown_path"]


def shown_path(path: PathLike) -> str:
    """``path`` relative to the repository, or to ``~``, or just its name: never the machine's absolute path."""
    path = Path(path).absolute()
    for base, prefix in ((repo_root(), ""), (Path.home(), "~/")):
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
    return f"…/{path.name}"


@dataclass
class Workspace:
    """What a notebook works with; made by :func:`setup`."""

    profile: configs.Profile
    store: ResultsStore
    figures: Path
    meta: pd.DataFrame
    X: torch.Tensor
    seed: int = 0
    classes: list = field(default_factory=list)
    check_claims: bool = True  # assert the prose's claims about the results (full profile only)

    def show(self, fig, name: str) -> None:
        """Save a figure as ``<figures>/<name>.png`` and show it in the notebook."""
        from IPython.display import Image, display

        from .plots import save

        display(Image(filename=str(save(fig, self.figures / name))))

    def __repr__(self) -> str:
        return (f"Workspace(profile={self.profile.name!r}, epochs={self.profile.epochs}, clips={len(self.meta)}, "
                f"features={tuple(self.X.shape)}, results={shown_path(self.store.root)!r}, "
                f"wandb={os.environ.get('WANDB_MODE') or 'auto'!r})")


def setup(profile: str = "full", data_root: Optional[PathLike] = None, results_dir: Optional[PathLike] = None,
          figures_dir: Optional[PathLike] = None, epochs: Optional[int] = None, folds=None,
          search_trials: Optional[int] = None, seed: int = 0, check_claims: bool = True) -> Workspace:
    """Load the data and features of ``profile`` (with its fields overridden where given) and open its results.

    ``ws.check_claims`` is what the notebooks' claim cells test: true for the full profile unless
    ``check_claims=False``. The prose describes the committed results; results of your own (another
    seed, a GPU, changed code) may contradict a sentence, and with ``check_claims=False`` the notebook
    runs on instead of stopping at that sentence's ``assert``."""
    P = configs.get_profile(profile, epochs=epochs, folds=folds, search_trials=search_trials)
    store = ResultsStore.for_profile(P.name, results_dir)
    figures = Path(figures_dir) if figures_dir else store.root.parent / "figures"
    meta, X = configs.load_dataset(P, root=data_root)
    return Workspace(P, store, figures, meta, X, seed, list(meta.attrs["classes"]),
                     check_claims=bool(check_claims) and P.name == "full")
