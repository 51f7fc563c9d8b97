"""The ESC-10 clip table: the classes, where the dataset is, and how to read its two layouts.

* :data:`ESC10_CLASSES` -- the ten classes in folder order (index = target id);
* :func:`resolve_root` -- where the data is: ``root=``, ``$AUDIOLAB_DATA``, the
  cache folder, then (when allowed) a download;
* :func:`detect_layout` and :func:`load_metadata` -- one row per clip, from the
  original ESC-10 tree (``NNN - Class name/*.ogg``) or from the ESC-50 release
  (``audio/*.wav`` + ``meta/esc50.csv``), with the same class ids in both;
* :func:`verify_dataset` -- the dataset folder checked against the sha256 manifest.

What ``audiolab data`` prints about the table is in :mod:`audiolab.data.summary`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Union

import pandas as pd

from audiolab.data.download import ESC10_URL, _verify_tree, download_esc10, read_manifest
from audiolab.data.paths import DATA_ENV, PathLike, _default_data_dir, _first_few
from audiolab.data.paths import _CLASS_DIR_RE, _FIX_DOWNLOAD, _FIX_ENV, _TREE_CLIP_RE

__all__ = [
    "ESC10_CLASSES", "ESC50_TO_ESC10", "ESC10_NUM_CLIPS", "DatasetNotFoundError", "IncompleteDatasetError",
    "resolve_root", "detect_layout", "load_metadata", "verify_dataset",
]

ESC10_CLASSES: tuple[str, ...] = (
    "Dog bark",
    "Rain",
    "Sea waves",
    "Baby cry",
    "Clock tick",
    "Person sneeze",
    "Helicopter",
    "Chainsaw",
    "Rooster",
    "Fire crackling",
)
"""The ten ESC-10 classes in folder order: index = target id."""

ESC50_TO_ESC10: dict[str, str] = {
    "dog": "Dog bark",
    "rain": "Rain",
    "sea_waves": "Sea waves",
    "crying_baby": "Baby cry",
    "clock_tick": "Clock tick",
    "sneezing": "Person sneeze",
    "helicopter": "Helicopter",
    "chainsaw": "Chainsaw",
    "rooster": "Rooster",
    "crackling_fire": "Fire crackling",
}
"""ESC-50 category name -> ESC-10 class name, for the ``esc10`` rows of ESC-50."""

ESC50_URL = "https://github.com/karolpiczak/ESC-50/archive/master.zip"
ESC10_NUM_CLIPS = 400
ESC50_NUM_CLIPS = 2000

LAYOUT_TREE = "esc10-tree"
LAYOUT_ESC50 = "esc50"
SUBSETS = ("esc10", "esc50")


class DatasetNotFoundError(FileNotFoundError):
    """No dataset where audiolab looked; the message says how to get one."""


class IncompleteDatasetError(FileNotFoundError):
    """The dataset folder exists but clips are missing."""


# --------------------------------------------------------------------------- where the data is


def _check_subset(subset: str) -> None:
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}: choose one of {', '.join(SUBSETS)}")


def _download_into(dest: Path, subset: str) -> Path:
    if subset != "esc10":
        raise DatasetNotFoundError(
            f"audiolab downloads ESC-10 only; ESC-50 (~600 MB) is at {ESC50_URL}: unzip it and "
            f"pass its folder as root= or set {DATA_ENV}=/path/to/ESC-50-master"
        )
    return download_esc10(dest)


def resolve_root(
    root: Optional[PathLike] = None, download: bool = False, subset: str = "esc10"
) -> tuple[Path, str]:
    """Find the dataset folder; return ``(root, where it came from)``.

    Looks, in order, at: the explicit ``root`` argument, ``$AUDIOLAB_DATA``, the
    cache folder (``default_cache_dir()/"ESC-10"``), and finally downloads ESC-10
    into that cache folder when ``download`` is true. An explicit ``root`` or
    ``$AUDIOLAB_DATA`` that points nowhere is an error rather than silently
    skipped (with ``download``, a missing explicit ``root`` is downloaded into).
    """
    _check_subset(subset)
    if root is not None:
        path = Path(root).expanduser()
        if path.exists():
            return path, f"root argument ({path})"
        if download:
            return _download_into(path, subset), f"downloaded from {ESC10_URL} into {path}"
        raise DatasetNotFoundError(
            f"dataset folder {path} (root argument) does not exist: check the path, "
            f"or {_FIX_DOWNLOAD} to download ESC-10 there"
        )
    env = os.environ.get(DATA_ENV)
    if env:
        path = Path(env).expanduser()
        if path.exists():
            return path, f"${DATA_ENV} ({path})"
        raise DatasetNotFoundError(
            f"${DATA_ENV} points to {path}, which does not exist: fix the path "
            f"or unset {DATA_ENV} to use the cache folder {_default_data_dir(subset)}"
        )
    cached = _default_data_dir(subset)
    if cached.exists():
        return cached, f"cache folder ({cached})"
    if download:
        return _download_into(cached, subset), f"downloaded from {ESC10_URL} into {cached}"
    if subset == "esc50":
        raise DatasetNotFoundError(
            f"no ESC-50 dataset found (looked at root=, ${DATA_ENV}, and {cached}). Fix: download "
            f"{ESC50_URL}, unzip it, and set {DATA_ENV}=/path/to/ESC-50-master (or pass root=)."
        )
    raise DatasetNotFoundError(
        f"no ESC-10 dataset found (looked at root=, ${DATA_ENV}, and {cached}). Fix: {_FIX_DOWNLOAD} "
        f"to fetch it into {cached}, or {_FIX_ENV} if you already have a copy."
    )


# --------------------------------------------------------------------------- layouts


def _layout_or_none(folder: Path) -> Optional[str]:
    if (folder / "meta" / "esc50.csv").is_file():
        return LAYOUT_ESC50
    if folder.is_dir() and any(p.is_dir() and _CLASS_DIR_RE.match(p.name) for p in folder.iterdir()):
        return LAYOUT_TREE
    return None


def detect_layout(root: PathLike) -> str:
    """``"esc50"`` if ``root`` holds ``meta/esc50.csv``, ``"esc10-tree"`` if it holds ``NNN - Class`` folders."""
    root = Path(root)
    layout = _layout_or_none(root)
    if layout:
        return layout
    inside = [p.name for p in sorted(root.iterdir()) if p.is_dir() and _layout_or_none(p)] if root.is_dir() else []
    hint = f" It contains {_first_few(inside)}: did you mean {root / inside[0]}?" if inside else ""
    raise DatasetNotFoundError(
        f"{root} is neither an ESC-10 tree (folders like '001 - Dog bark/') nor an ESC-50 release "
        f"(audio/ and meta/esc50.csv).{hint} Point root= or {DATA_ENV} at the folder that contains them, "
        f"or {_FIX_DOWNLOAD}."
    )


def _tree_rows(root: Path) -> list[dict]:
    """One row per ``<fold>-<clipid>-<take>.ogg`` in the ``NNN - Class name`` folders; other files are ignored."""
    rows = []
    for class_dir in sorted(root.iterdir()):
        match = _CLASS_DIR_RE.match(class_dir.name)
        if not (match and class_dir.is_dir()):
            continue
        name = match.group(2).strip()
        if name not in ESC10_CLASSES:
            raise ValueError(
                f"unexpected class folder {class_dir}: ESC-10 has {', '.join(ESC10_CLASSES)}. "
                "Remove the folder or point root= at an unmodified ESC-10 copy."
            )
        for clip in sorted(class_dir.iterdir()):
            clip_match = _TREE_CLIP_RE.match(clip.name)
            if not (clip_match and clip.is_file()):
                continue
            fold, clip_id, take = clip_match.groups()
            rows.append(
                dict(path=str(clip.resolve()), filename=clip.name, fold=int(fold),
                     target=ESC10_CLASSES.index(name), category=name, clip_id=clip_id, take=take)
            )
    return rows


def _check_tree_complete(root: Path, rows: list[dict]) -> None:
    """Raise :class:`IncompleteDatasetError` unless every manifest clip is present."""
    manifest = read_manifest()
    missing = sorted(rel for rel in manifest if not (root / rel).is_file())
    if not missing and len(rows) >= ESC10_NUM_CLIPS:
        return
    raise IncompleteDatasetError(
        f"ESC-10 at {root} is incomplete: found {len(rows)} of {ESC10_NUM_CLIPS} clips, "
        f"{len(missing)} missing: {_first_few(missing)}. "
        f"Restore them (e.g. delete the folder and {_FIX_DOWNLOAD}), "
        f"or pass strict=False to use the clips that are there."
    )


def _read_esc50_csv(root: Path) -> pd.DataFrame:
    csv = root / "meta" / "esc50.csv"
    table = pd.read_csv(csv, dtype={"filename": str, "category": str, "src_file": str, "take": str})
    needed = {"filename", "fold", "target", "category", "esc10", "src_file", "take"}
    if not needed <= set(table.columns):
        raise ValueError(f"{csv} lacks columns {sorted(needed - set(table.columns))}: is it the ESC-50 metadata file?")
    table["esc10"] = table["esc10"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    return table


def _esc50_rows(root: Path, subset: str, strict: bool) -> tuple[pd.DataFrame, tuple[str, ...]]:
    table = _read_esc50_csv(root)
    if subset == "esc10":
        table = table[table["esc10"]].copy()
        unknown = sorted(set(table["category"]) - set(ESC50_TO_ESC10))
        if unknown:
            raise ValueError(f"{root}/meta/esc50.csv marks unexpected categories as ESC-10: {unknown}")
        table["category"] = table["category"].map(ESC50_TO_ESC10)
        table["target"] = table["category"].map(ESC10_CLASSES.index)
        classes = ESC10_CLASSES
    else:
        classes = tuple(table.drop_duplicates("target").sort_values("target")["category"])
    audio = root / "audio"
    table["path"] = [str((audio / f).resolve()) for f in table["filename"]]
    missing = sorted(f for f, p in zip(table["filename"], table["path"]) if not os.path.isfile(p))
    expected = ESC10_NUM_CLIPS if subset == "esc10" else ESC50_NUM_CLIPS
    if missing or (strict and len(table) < expected):
        raise IncompleteDatasetError(
            f"ESC-50 at {root} is incomplete for subset {subset!r}: meta/esc50.csv lists {len(table)} clips "
            f"(expected {expected}), {len(missing)} missing from audio/: {_first_few(missing) or 'none'}. "
            f"Re-extract the ESC-50 release ({ESC50_URL})"
            + ("" if missing else ", or pass strict=False to use the clips that are there")
            + "."
        )
    table = table.rename(columns={"src_file": "clip_id"})
    return table, classes


# --------------------------------------------------------------------------- the clip table


_COLUMNS = ["path", "filename", "fold", "target", "category", "clip_id", "take"]


def load_metadata(
    root: Optional[PathLike] = None,
    subset: str = "esc10",
    download: bool = False,
    strict: bool = True,
) -> pd.DataFrame:
    """The clip table: one row per clip, sorted by ``(fold, target, filename)``.

    Columns: ``path`` (absolute), ``filename``, ``fold`` (1..5), ``target``,
    ``category``, ``clip_id`` (freesound source id), ``take``. ``df.attrs`` holds
    ``root``, ``source``, ``layout`` and ``classes`` (index = target).

    ``subset="esc10"`` reads the ESC-10 tree or the ESC-10 rows of an ESC-50
    release, with the same class ids in both; ``subset="esc50"`` reads all 50
    ESC-50 classes with their own ids.

    ``strict`` (default) requires the complete dataset: for the ESC-10 tree every
    clip of the packaged sha256 manifest, for ESC-50 the official clip count.
    ``strict=False`` accepts partial copies (small synthetic test trees).
    Clips listed in ``meta/esc50.csv`` but absent from ``audio/`` are always an error.
    """
    _check_subset(subset)
    path, source = resolve_root(root, download=download, subset=subset)
    layout = detect_layout(path)
    if layout == LAYOUT_TREE:
        if subset != "esc10":
            raise ValueError(
                f"subset 'esc50' needs the ESC-50 release (audio/ and meta/esc50.csv), but {path} "
                f"is an ESC-10 tree: use subset='esc10' or point root= at ESC-50 ({ESC50_URL})"
            )
        rows = _tree_rows(path)
        if strict:
            _check_tree_complete(path, rows)
        table, classes = pd.DataFrame(rows, columns=_COLUMNS), ESC10_CLASSES
    else:
        table, classes = _esc50_rows(path, subset, strict)
    if table.empty:
        raise IncompleteDatasetError(f"no clips found in {path}: {_FIX_DOWNLOAD}, or {_FIX_ENV}")
    table = table[_COLUMNS].astype({"fold": int, "target": int, "clip_id": str, "take": str})
    table = table.sort_values(["fold", "target", "filename"], kind="stable").reset_index(drop=True)
    table.attrs.update(root=str(path.resolve()), source=source, layout=layout, classes=tuple(classes))
    return table


def verify_dataset(
    root: Optional[PathLike] = None, manifest: Union[None, PathLike, Mapping[str, str]] = None
) -> int:
    """Check every clip of an ESC-10 tree against the sha256 manifest; return how many verified.

    Raises :class:`~audiolab.data.download.IntegrityError` listing missing, modified and
    unexpected ``.ogg`` files (the checking itself is in :mod:`audiolab.data.download`).
    """
    path, _ = resolve_root(root)
    if detect_layout(path) != LAYOUT_TREE:
        raise ValueError(f"{path} is an ESC-50 release: only the ESC-10 tree has a sha256 manifest to verify")
    return _verify_tree(path, manifest)
