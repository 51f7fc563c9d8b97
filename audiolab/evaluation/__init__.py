"""Evaluation protocols: how a configuration is trained and scored, and where its results go.

* :mod:`~audiolab.evaluation.cv` -- :func:`cross_validate` in the official or the development protocol, and
  :func:`train_and_score`, the step every protocol repeats (read this first);
* :mod:`~audiolab.evaluation.search` -- the hyperparameter search on validation folds, the one-standard-error
  rule that picks from it, and every other choice, guarded against the test fold;
* :mod:`~audiolab.evaluation.compare` -- configurations compared over seeds with an interval, seed ensembles,
  the recipe's ablation, result tables;
* :mod:`~audiolab.evaluation.store` -- the results store (plumbing: paths, atomic writes, reuse, one writer)."""
from .compare import (ablation_table, average_members, compare_configurations, comparison_table,
                      held_out_score, per_class_counts, run_ablation, run_seed_ensemble, seed_fold_scores, seed_members)
from .cv import cross_validate, train_and_score
from .search import (TestFoldError, best_experiment, choose_by_development, chosen_trial, describe_choice, run_trial,
                     search, search_trials, validation_se)
from .store import ExperimentBusy, ResultsStore
