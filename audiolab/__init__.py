"""audiolab: an open course kit for environmental audio classification on ESC-10.

A map of the package, in the order a student reads it. Each file is one concept.

Read first -- the machine learning (notebooks 00-02):

- :mod:`audiolab.data` -- ``esc10`` (the clips and their classes), ``audio`` (decoding, log-mel features),
  ``folds`` (the test fold, the development folds, the splits)
- :mod:`audiolab.features` -- waveform to log-mel spectrogram, per-band standardisation
- :mod:`audiolab.augment` -- time shift, random EQ, SpecAugment, mixup on log-mel clips
- :mod:`audiolab.models` -- Architecture 1 (``conv1d``), from-scratch attention (``attention``),
  Architecture 2 (``transformer``)
- :mod:`audiolab.train` -- the training engine (``fit_cohort``: many models in one step; ``fit``: one) and
  prediction with test-time shifts

Then -- experiments and how they are judged (notebooks 01-03):

- :mod:`audiolab.experiment` -- ``Experiment``: model + features + train + augment configs, one dotted
  override (``exp.replace({"train.lr": 1e-3})``) for every variation
- :mod:`audiolab.configs` -- the kit's recipe for both architectures, the 2024 baselines, the search
  spaces and the run profiles
- :mod:`audiolab.evaluation` -- ``cross_validate`` (official or development protocol) -> ``train_and_score``
  -> ``fit_cohort``; the search and every choice, guarded against the test fold; comparisons over seeds
- :mod:`audiolab.metrics`, :mod:`audiolab.stats`, :mod:`audiolab.plots` -- scoring one model, comparing two, the figures

Plumbing a student may skip:

- :mod:`audiolab.evaluation.store` -- where results live, atomic writes, reuse, one writer at a time
- :mod:`audiolab.checkpoint` and :mod:`audiolab.predict` -- saving and safely loading models; ``audiolab predict``
- :mod:`audiolab.tracking` and :mod:`audiolab.sweeps` -- Weights & Biases runs; collecting a sweep's trials
- :mod:`audiolab.notebook` -- the notebooks' setup line and their claim checks
- :mod:`audiolab.reports` and :mod:`audiolab.cli` -- ``audiolab reports`` (papermill into ``reports/``) and the
  ``audiolab`` command
- :mod:`audiolab._util` -- small shared helpers (atomic writes, JSON)"""
__version__ = "0.3.0"
