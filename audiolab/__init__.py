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
- :mod:`audiolab.evaluation` -- ``cv``: ``cross_validate(exp, ..., protocol="official"|"development")``
  -> ``train_and_score`` -> ``fit``; ``search``: the search and every choice, guarded against the test
  fold; ``compare``: seeds, ensembles, the ablation, result tables

Plumbing a student may skip:

- :mod:`audiolab.evaluation.store` -- where results live, atomic writes, reuse, one writer at a time
- :mod:`audiolab.data` ``download`` and ``cache`` -- fetching ESC-10, the on-disk feature cache
- :mod:`audiolab.checkpoint` -- saving and safely loading models
- :mod:`audiolab.tracking` -- Weights & Biases runs (``WANDB_MODE``, ``WANDB_DIR``) and what each holds
- :mod:`audiolab.sweeps` -- the search as W&B sweeps, and collecting a sweep's trials
- :mod:`audiolab.reports` -- regenerating ``reports/`` with papermill
- :mod:`audiolab.colab` -- Google Colab: the repository's address in one place, ``colab.setup()``
- :mod:`audiolab.predict` and :mod:`audiolab.cli` -- the ``audiolab`` command
- :mod:`audiolab._util` -- small shared helpers
"""
__version__ = "0.2.0"
