"""Evaluation protocols: how a configuration is trained and scored, and where its results go.

* :mod:`~audiolab.evaluation.runner` -- train one model on one split and score it (read this first);
* :mod:`~audiolab.evaluation.cv` -- official cross-validation (its test-fold model is the held-out model) and
  cross-validation over the development folds, on which every choice is made;
* :mod:`~audiolab.evaluation.ensemble` -- seed ensembles;
* :mod:`~audiolab.evaluation.search` and :mod:`~audiolab.evaluation.selection` -- the hyperparameter
  search on validation folds and the one-standard-error rule that picks from it;
* :mod:`~audiolab.evaluation.compare` -- two configurations compared over seeds, with an interval;
* :mod:`~audiolab.evaluation.ablation` -- what each ingredient of the recipe is worth (development folds);
* :mod:`~audiolab.evaluation.tables` -- result tables for the notebooks and the README;
* :mod:`~audiolab.evaluation.store` -- the results store (plumbing: paths, atomic writes, reuse);
* :mod:`~audiolab.evaluation.parallel` -- folds trained side by side in worker processes (plumbing);
* :mod:`~audiolab.evaluation.migrate` -- upgrading results of an older audiolab (plumbing).
"""
from .ablation import ablation_table, run_ablation
from .compare import compare_configurations, held_out_score, per_class_counts, seed_fold_scores
from .cv import cross_validate_many, run_cv, run_dev_cv
from .ensemble import average_members, ensemble_table, run_seed_ensemble, seed_members
from .migrate import migrate_results
from .runner import train_and_score
from .search import run_trial, search, search_trials
from .selection import TestFoldError, best_experiment, choose_by_development, chosen_trial, describe_choice, validation_se
from .store import ResultsStore
from .tables import comparison_table

__all__ = [
    "ResultsStore",
    "TestFoldError",
    "ablation_table",
    "average_members",
    "choose_by_development",
    "compare_configurations",
    "held_out_score",
    "per_class_counts",
    "run_ablation",
    "run_trial",
    "seed_fold_scores",
    "best_experiment",
    "chosen_trial",
    "comparison_table",
    "cross_validate_many",
    "describe_choice",
    "ensemble_table",
    "migrate_results",
    "run_cv",
    "run_dev_cv",
    "run_seed_ensemble",
    "search",
    "search_trials",
    "seed_members",
    "train_and_score",
    "validation_se",
]
