"""The one setup line of every notebook: ``ws = audiolab.notebook.setup(profile=profile, ...)``.

A :class:`Workspace` holds what a chapter needs: the run profile, the results store, the data and its features, and
where figures go (W&B, progress bars and workers follow the environment). Paths it prints are relative to the
repository (or ``~``), so no output of a notebook names the machine that ran it.

The text of a chapter describes the committed results; each sentence that depends on them is checked by
``ws.claim(holds, "the sentence")``. ``check_claims`` says how a contradicted one is reported: ``"note"`` (a visible
box, the notebook goes on, ``ws.claims_summary()`` lists them all at the end), ``"strict"`` (:class:`ClaimError`: ``make
reports`` on the committed results, CI) or ``"off"``. The smoke profile never checks: its numbers mean nothing."""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

import pandas as pd
import torch

from . import configs
from ._util import PathLike, repo_root
from .evaluation.store import ResultsStore

__all__ = ["ClaimError", "Workspace", "setup", "shown_path"]

CLAIM_MODES = ("note", "strict", "off")
BOX = "border:2px solid #d97706;background:#fff7ed;color:#1f2937;padding:0.6em 1em;margin:0.4em 0;border-radius:4px"


class ClaimError(AssertionError):
    """Strict checking: a sentence of the notebook's text that these results contradict."""


def _box(title: str, sentences: list, footer: str) -> None:
    """A clearly visible box (HTML in Jupyter/Colab, plain text elsewhere) listing ``sentences``."""
    from IPython import get_ipython
    from IPython.display import display

    text = "\n".join([f"⚠ {title}", *(f"  - {s}" for s in sentences), footer])
    if get_ipython() is None:  # a plain Python process: no notebook to draw a box in
        print(text)
        return
    items = "".join(f"<li><i>{html.escape(s)}</i></li>" for s in sentences)
    display({"text/html": f'<div style="{BOX}">&#9888; <b>{html.escape(title)}</b><ul>{items}</ul>{html.escape(footer)}</div>',
             "text/plain": text}, raw=True)


def shown_path(path: PathLike) -> str:
    """``path`` relative to the repository, or to ``~``, or just its name: never the machine's absolute path."""
    path = Path(path).absolute()
    for base, prefix in ((repo_root(), ""), (Path.home(), "~/")):
        if path.is_relative_to(base):
            return prefix + path.relative_to(base).as_posix()
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
    check_claims: str = "note"  # "note", "strict" or "off" (see the module's docstring)
    claims: dict = field(default_factory=dict)  # sentence -> None when it held, else what contradicted it

    def claim(self, holds: Union[bool, Callable[[], bool]], sentence: str) -> bool:
        """Check ``sentence`` of the text against these results: ``holds`` is a bool, or a function returning
        one (called only when claims are checked, so the smoke profile never computes it). True when it holds
        or is not checked; otherwise ``"strict"`` raises :class:`ClaimError` and ``"note"`` shows a box naming
        the sentence, keeps it for :meth:`claims_summary` and returns False (a cell run again checks again)."""
        if self.check_claims == "off":
            return True
        try:
            ok, why = bool(holds() if callable(holds) else holds), ""
        except Exception as error:  # these results lack what the sentence speaks of (another choice was made)
            if self.check_claims == "strict":
                raise ClaimError(f"cannot check “{sentence}” on these results: {error!r}") from error
            ok, why = False, f" (it could not even be checked: {type(error).__name__}: {error})"
        self.claims[sentence] = None if ok else sentence + why
        if ok:
            return True
        if self.check_claims == "strict":
            raise ClaimError(f"these results contradict the text: “{sentence}”")
        _box("Your results contradict this sentence of the text:", [sentence + why],
             "The text describes the committed results (reports/results/); yours differ (another machine, "
             "seed, torch version or code), so read the numbers above, not the sentence. The notebook goes on.")
        return False

    def claims_summary(self) -> None:
        """The end of a chapter: every sentence these results contradicted, in a box (one line when none did)."""
        contradicted = [why for why in self.claims.values() if why]
        if self.check_claims == "off":
            print(f"the text's claims were not checked (profile {self.profile.name!r}, check_claims='off')")
        elif contradicted:
            _box(f"{len(contradicted)} of the {len(self.claims)} checked sentences do not hold for your results:",
                 contradicted, "The numbers printed above each sentence are yours; the sentences describe the "
                 "committed results. Differences of a point or two are within the seed-to-seed spread (notebook 03).")
        else:
            print(f"all {len(self.claims)} checked sentences of the text hold for these results")

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
          search_trials: Optional[int] = None, seed: int = 0, check_claims: str = "note") -> Workspace:
    """Load the data and features of ``profile`` (with its fields overridden where given) and open its results;
    ``check_claims``: see the module docstring (the smoke profile is always ``"off"``)."""
    if check_claims not in CLAIM_MODES:
        raise ValueError(f"check_claims={check_claims!r}: choose one of {', '.join(map(repr, CLAIM_MODES))}")
    P = configs.get_profile(profile, epochs=epochs, folds=folds, search_trials=search_trials)
    store = ResultsStore.for_profile(P.name, results_dir)
    figures = Path(figures_dir) if figures_dir else store.root.parent / "figures"
    meta, X = configs.load_dataset(P, root=data_root)
    return Workspace(P, store, figures, meta, X, seed, list(meta.attrs["classes"]),
                     check_claims=check_claims if P.name == "full" else "off")
