"""audiolab: an open course kit for environmental audio classification on ESC-10.

A map of the package, in the order a student reads it. Each file is one concept.

Read first -- the machine learning:

- :mod:`audiolab.features` -- waveform to log-mel spectrogram, per-band standardisation
- :mod:`audiolab.augment` -- time shift, random EQ, SpecAugment, mixup on log-mel batches
- :mod:`audiolab.models` -- Architecture 1 (``conv1d``), from-scratch attention (``attention``),
  Architecture 2 (``transformer``)
- :mod:`audiolab.train` -- the training loop (``fit``) and prediction with test-time shifts
- :mod:`audiolab.metrics` and :mod:`audiolab.stats` -- scoring one model; comparing two
- :mod:`audiolab.plots` -- figures: one model's results (confusion, ROC, curves, attention), comparisons of several

Then -- how an experiment is described and evaluated:

- :mod:`audiolab.experiment` -- ``Experiment``: model + features + train + augment configs, one
  dotted override (``exp.replace({"train.lr": 1e-3})``) for every variation
- :mod:`audiolab.configs` -- the kit's recipe for both architectures, the 2024 baselines, the
  search spaces and the run profiles
- :mod:`audiolab.data` -- the dataset: metadata, decoding, folds (``splits``)
- :mod:`audiolab.evaluation` -- cross-validation, the held-out split, seed ensembles, the search
  and the one-standard-error rule, result tables

Plumbing a student may skip:

- :mod:`audiolab.evaluation.store` -- where results live, atomic writes, reuse; ``.migrate``
- :mod:`audiolab.data` ``download`` and ``cache`` -- fetching ESC-10, the on-disk feature cache
- :mod:`audiolab.checkpoint` -- saving and safely loading models
- :mod:`audiolab.tracking` -- Weights & Biases runs that never break training; what each run holds:
  :mod:`audiolab.evaluation.run_log`
- :mod:`audiolab.wandb_runs` -- reading a run back from its files (history, summary, tables, artifacts)
- :mod:`audiolab.sweeps` -- the search as W&B sweeps, and collecting a sweep's trials
- :mod:`audiolab.reports` -- regenerating ``reports/`` with papermill
- :mod:`audiolab.status` -- the one-line status (experiment, fold, epoch) a notebook's kernel shows on
  the ``audiolab reports`` console
- :mod:`audiolab.colab` -- Google Colab: the repository's address in one place, ``colab.setup()``
- :mod:`audiolab.predict` and :mod:`audiolab.cli` -- the ``audiolab`` command
- :mod:`audiolab._util` -- small shared helpers
"""
__version__ = "0.2.0"
