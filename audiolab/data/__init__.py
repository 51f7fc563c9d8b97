"""The data: ESC-10 on disk, decoded, and split into folds. Read in this order:

* :mod:`~audiolab.data.esc10` -- the classes (:data:`ESC10_CLASSES`, index = target id), where the data is
  (:func:`resolve_root`), its verified download (:func:`download_esc10`), the clip table of the ESC-10 tree
  or the ESC-50 layout (:func:`load_metadata`) and what ``audiolab data`` prints (:func:`data_command`);
* :mod:`~audiolab.data.audio` -- decoding a clip (:func:`load_audio`), log-mel features cached on disk
  (:func:`load_features`);
* :mod:`~audiolab.data.folds` -- the test fold, the development folds and the cross-validations over them.

Everything imported here is the package's API: ``from audiolab import data; data.load_metadata()``."""
from audiolab.data.esc10 import (CACHE_ENV, DATA_ENV, ESC10_CLASSES, ESC10_COMMIT, ESC10_NUM_CLIPS, ESC10_URL,
                                 ESC50_TO_ESC10, DatasetNotFoundError, DownloadError, IncompleteDatasetError, data_command,
                                 default_cache_dir, download_esc10, load_metadata, read_manifest, resolve_root, summarize)
from audiolab.data.audio import AudioDecodeError, load_audio, load_features
from audiolab.data.folds import DEV_FOLDS, SEARCH_VAL_FOLDS, TEST_FOLD, cv_folds, development_folds, holdout_split
