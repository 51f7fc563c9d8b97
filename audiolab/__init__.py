"""audiolab: an open course kit for environmental audio classification on ESC-10.

The package is small on purpose; each module is one concept:

- :mod:`audiolab.data` — the dataset, its folds, download and on-disk cache
- :mod:`audiolab.features` — log-mel features and augmentation
- :mod:`audiolab.models` — Architecture 1 (1D conv) and Architecture 2 (conv + transformer)
- :mod:`audiolab.train` — the training loop
- :mod:`audiolab.metrics` and :mod:`audiolab.plots` — evaluation and figures
- :mod:`audiolab.tracking` — Weights & Biases logging
- :mod:`audiolab.experiments` — cross-validation, search and results on disk
- :mod:`audiolab.reports` — regenerating ``reports/`` with papermill
"""
__version__ = "0.1.0"
