"""Evaluation protocols: how a configuration is trained and scored, and where its results go.

* :mod:`~audiolab.evaluation.runner` -- train one model on one split and score it (read this first);
* :mod:`~audiolab.evaluation.cv` -- k-fold cross-validation on the official folds;
* :mod:`~audiolab.evaluation.holdout` -- the fixed held-out split and its saved model;
* :mod:`~audiolab.evaluation.ensemble` -- seed ensembles;
* :mod:`~audiolab.evaluation.search` and :mod:`~audiolab.evaluation.selection` -- the hyperparameter
  search on validation folds and the one-standard-error rule that picks from it;
* :mod:`~audiolab.evaluation.tables` -- result tables for the notebooks and the README;
* :mod:`~audiolab.evaluation.store` -- the results store (plumbing: paths, atomic writes, reuse);
* :mod:`~audiolab.evaluation.migrate` -- upgrading results of an older audiolab (plumbing).
"""
from .cv import run_cv
from .ensemble import ensemble_table, run_seed_ensemble, seed_members
from .holdout import run_holdout
from .migrate import migrate_results
from .runner import train_and_score
from .search import search, search_trials
from .selection import best_experiment, chosen_trial, describe_choice, validation_se
from .store import ResultsStore
from .tables import comparison_table

__all__ = [
    "ResultsStore",
    "best_experiment",
    "chosen_trial",
    "comparison_table",
    "describe_choice",
    "ensemble_table",
    "migrate_results",
    "run_cv",
    "run_holdout",
    "run_seed_ensemble",
    "search",
    "search_trials",
    "seed_members",
    "train_and_score",
    "validation_se",
]
