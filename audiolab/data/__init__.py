"""ESC-10 on disk: finding it, reading it, splitting it; downloading it and caching features.

One concept per file. Read these:

* :mod:`~audiolab.data.metadata` -- the class list (:data:`ESC10_CLASSES`, index = target id),
  where the data is (:func:`resolve_root`: ``root=``, ``$AUDIOLAB_DATA``, the cache folder,
  then a download), the two layouts (ESC-10 tree, ESC-50 release) and the clip table
  (:func:`load_metadata`), :func:`verify_dataset`;
* :mod:`~audiolab.data.splits` -- the official folds (:func:`cv_folds`, :func:`development_folds`,
  :func:`holdout_split`, :data:`TEST_FOLD`).

Plumbing you may skip:

* :mod:`~audiolab.data.audio` -- decoding with ``soundfile`` (:func:`load_audio`), :class:`ESC10Dataset`;
* :mod:`~audiolab.data.cache` -- the on-disk log-mel cache (:func:`load_features`);
* :mod:`~audiolab.data.download` -- the sha256 manifest, checking files against it,
  and the verified download (:func:`download_esc10`);
* :mod:`~audiolab.data.summary` -- what ``audiolab data`` prints (:func:`summarize`,
  :func:`format_summary`, :func:`data_command`);
* :mod:`~audiolab.data.paths` -- environment variables, the cache folder, ESC-10's file names.

Imports go one way: paths <- download <- metadata <- audio <- cache, metadata <- summary;
splits stands alone. Everything below is re-exported, so ``from audiolab import data;
data.load_metadata()`` and ``from audiolab.data import load_features`` work.
"""
from audiolab.data.paths import CACHE_ENV, DATA_ENV, default_cache_dir
from audiolab.data.download import (
    ESC10_COMMIT,
    ESC10_URL,
    DownloadError,
    IntegrityError,
    download_esc10,
    read_manifest,
)
from audiolab.data.metadata import (
    ESC10_CLASSES,
    ESC10_NUM_CLIPS,
    ESC50_TO_ESC10,
    DatasetNotFoundError,
    IncompleteDatasetError,
    detect_layout,
    load_metadata,
    resolve_root,
    verify_dataset,
)
from audiolab.data.summary import data_command, format_summary, summarize
from audiolab.data.audio import AudioDecodeError, ESC10Dataset, load_audio
from audiolab.data.cache import load_features
from audiolab.data.splits import DEV_FOLDS, SEARCH_VAL_FOLDS, TEST_FOLD, cv_folds, development_folds, holdout_split

# Also reachable as ``audiolab.data.<name>``, as before the split, but not part of ``__all__``.
from audiolab.data.paths import PathLike  # noqa: F401
from audiolab.data.download import MANIFEST_PATH  # noqa: F401
from audiolab.data.metadata import ESC50_NUM_CLIPS, ESC50_URL, LAYOUT_ESC50, LAYOUT_TREE, SUBSETS  # noqa: F401
from audiolab.data.cache import FEATURE_CACHE_VERSION  # noqa: F401

__all__ = [
    "ESC10_CLASSES",
    "ESC50_TO_ESC10",
    "ESC10_URL",
    "ESC10_COMMIT",
    "ESC10_NUM_CLIPS",
    "DATA_ENV",
    "CACHE_ENV",
    "DatasetNotFoundError",
    "IncompleteDatasetError",
    "IntegrityError",
    "DownloadError",
    "AudioDecodeError",
    "default_cache_dir",
    "resolve_root",
    "detect_layout",
    "load_metadata",
    "read_manifest",
    "verify_dataset",
    "download_esc10",
    "load_audio",
    "ESC10Dataset",
    "load_features",
    "cv_folds",
    "holdout_split",
    "development_folds",
    "TEST_FOLD",
    "DEV_FOLDS",
    "SEARCH_VAL_FOLDS",
    "summarize",
    "format_summary",
    "data_command",
]
