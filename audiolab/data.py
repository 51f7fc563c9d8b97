"""ESC-10 on disk: finding it, downloading it, reading it, and caching features.

Everything that touches the dataset files lives here:

* the class list (:data:`ESC10_CLASSES`, folder order = target ids 0..9);
* where the data is (:func:`resolve_root`: ``root=``, ``$AUDIOLAB_DATA``, the
  cache folder, then a download);
* the metadata table for both layouts, the original ESC-10 tree and the ESC-50
  release (:func:`load_metadata`);
* the verified download (:func:`download_esc10`, :func:`verify_dataset`);
* decoding with ``soundfile`` (:func:`load_audio`) and :class:`ESC10Dataset`;
* the on-disk log-mel cache (:func:`load_features`);
* the official folds (:func:`cv_folds`, :func:`holdout_split`);
* what ``audiolab data`` prints (:func:`summarize`, :func:`format_summary`,
  :func:`data_command`).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio
from tqdm.auto import tqdm

from audiolab.features import FeatureConfig, LogMel

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
    "summarize",
    "format_summary",
    "data_command",
]

PathLike = Union[str, os.PathLike]

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

ESC10_COMMIT = "553c8f1743b9dba6b282e1323c3ca8fa76923448"
ESC10_URL = f"https://github.com/karolpiczak/ESC-10/archive/{ESC10_COMMIT}.zip"
ESC50_URL = "https://github.com/karolpiczak/ESC-50/archive/master.zip"
ESC10_NUM_CLIPS = 400
ESC50_NUM_CLIPS = 2000

DATA_ENV = "AUDIOLAB_DATA"
CACHE_ENV = "AUDIOLAB_CACHE"

MANIFEST_PATH = Path(__file__).with_name("esc10.sha256")
FEATURE_CACHE_VERSION = 1

LAYOUT_TREE = "esc10-tree"
LAYOUT_ESC50 = "esc50"
SUBSETS = ("esc10", "esc50")

_CLASS_DIR_RE = re.compile(r"^(\d{3}) - (.+)$")
_TREE_CLIP_RE = re.compile(r"^(\d+)-([0-9A-Za-z]+)-([A-Za-z]+)\.ogg$", re.IGNORECASE)
_OFFSETS = ("center", "random", "start")
_DOWNLOAD_CHUNK = 1 << 16

_FIX_DOWNLOAD = "run `audiolab data --download` (or pass download=True)"
_FIX_ENV = f"set {DATA_ENV}=/path/to/ESC-10"


# --------------------------------------------------------------------------- errors


class DatasetNotFoundError(FileNotFoundError):
    """No dataset where audiolab looked; the message says how to get one."""


class IncompleteDatasetError(FileNotFoundError):
    """The dataset folder exists but clips are missing."""


class IntegrityError(ValueError):
    """Files do not match the sha256 manifest (corrupt, modified, or missing)."""


class DownloadError(RuntimeError):
    """A download failed or its archive was unsafe or did not verify."""


class AudioDecodeError(ValueError):
    """An audio file could not be decoded."""


# --------------------------------------------------------------------------- where the data is


def default_cache_dir() -> Path:
    """``$AUDIOLAB_CACHE``, or ``~/.cache/audiolab``: downloads and feature caches live here."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "audiolab"


def _default_data_dir(subset: str) -> Path:
    return default_cache_dir() / ("ESC-50" if subset == "esc50" else "ESC-10")


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


# --------------------------------------------------------------------------- metadata


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


def _first_few(items: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


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


# --------------------------------------------------------------------------- manifest and verification


def read_manifest(manifest: Union[None, PathLike, Mapping[str, str]] = None) -> dict[str, str]:
    """``{relative posix path: sha256}`` from a ``sha256sum`` file (default: the packaged ESC-10 one) or a dict."""
    if isinstance(manifest, Mapping):
        return {_clean_rel(k): str(v).lower() for k, v in manifest.items()}
    path = Path(manifest) if manifest is not None else MANIFEST_PATH
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, rel = line[:64], line[64:].lstrip(" *")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", digest) or not rel:
            raise ValueError(f"{path}:{number} is not a sha256sum line: {line!r}")
        entries[_clean_rel(rel)] = digest.lower()
    return entries


def _clean_rel(rel: str) -> str:
    rel = str(rel).replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_problems(root: Path, manifest: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """``(missing, mismatched, unexpected .ogg files)`` of ``root`` against ``manifest``."""
    missing, mismatched = [], []
    for rel, digest in sorted(manifest.items()):
        path = root / rel
        if not path.is_file():
            missing.append(rel)
        elif _sha256(path) != digest:
            mismatched.append(rel)
    present = {  # the clips load_metadata would read; junk such as __MACOSX/ or ._* files is not a clip
        p.relative_to(root).as_posix()
        for p in root.glob("*/*")
        if _CLASS_DIR_RE.match(p.parent.name) and _TREE_CLIP_RE.match(p.name) and p.is_file()
    }
    unexpected = sorted(present - set(manifest))
    return missing, mismatched, unexpected


def verify_dataset(
    root: Optional[PathLike] = None, manifest: Union[None, PathLike, Mapping[str, str]] = None
) -> int:
    """Check every clip of an ESC-10 tree against the sha256 manifest; return how many verified.

    Raises :class:`IntegrityError` listing missing, modified and unexpected ``.ogg`` files.
    """
    path, _ = resolve_root(root)
    if detect_layout(path) != LAYOUT_TREE:
        raise ValueError(f"{path} is an ESC-50 release: only the ESC-10 tree has a sha256 manifest to verify")
    entries = read_manifest(manifest)
    missing, mismatched, unexpected = _manifest_problems(path, entries)
    if missing or mismatched or unexpected:
        raise IntegrityError(_integrity_message(path, missing, mismatched, unexpected))
    return len(entries)


def _problems_text(missing, mismatched, unexpected) -> str:
    groups = (("missing", missing), ("checksum mismatch", mismatched), ("not in manifest", unexpected))
    return "; ".join(f"{label} {len(items)}: {_first_few(items)}" for label, items in groups if items)


def _integrity_message(root: Path, missing, mismatched, unexpected) -> str:
    return (
        f"ESC-10 files in {root} do not match the sha256 manifest ({_problems_text(missing, mismatched, unexpected)}). "
        f"Delete the folder and {_FIX_DOWNLOAD} again."
    )


# --------------------------------------------------------------------------- download


def _is_complete(dest: Path, manifest: dict[str, str]) -> bool:
    return dest.is_dir() and all((dest / rel).is_file() for rel in manifest)


def download_esc10(
    dest: Optional[PathLike] = None,
    url: str = ESC10_URL,
    progress: bool = True,
    manifest: Union[None, PathLike, Mapping[str, str]] = None,
) -> Path:
    """Download, verify and unpack ESC-10 into ``dest`` (default ``default_cache_dir()/"ESC-10"``).

    The zip goes to a temporary file beside ``dest``, is unpacked safely into a
    temporary folder, every ``.ogg`` is checked against the sha256 manifest, and
    only then is the folder moved into place with one ``os.replace``: ``dest``
    is either complete or absent. When ``dest`` already holds every clip of the
    manifest nothing is downloaded. Failures raise :class:`DownloadError` and
    leave no temporary files behind, so simply run it again.
    """
    dest = Path(dest).expanduser() if dest is not None else _default_data_dir("esc10")
    entries = read_manifest(manifest)
    if _is_complete(dest, entries):
        return dest
    if dest.exists() and any(dest.iterdir()):
        raise DownloadError(
            f"{dest} exists but is not a complete ESC-10 copy: move it away or delete it, then download again"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    archive = _fetch(url, dest.parent, f".{dest.name}-", progress)
    workdir = Path(tempfile.mkdtemp(prefix=f".{dest.name}-unpack-", dir=dest.parent))
    try:
        top = _safe_extract(archive, workdir)
        _verify_download(top, entries, url)
        _move_into_place(top, dest, entries)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return dest


def _fetch(url: str, folder: Path, prefix: str, progress: bool) -> Path:
    """Download ``url`` into a new temporary file in ``folder``; raise :class:`DownloadError` on any failure."""
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=prefix, suffix=".zip.part", delete=False)
    path = Path(handle.name)
    try:
        with handle, urllib.request.urlopen(url, timeout=60) as response:
            expected = response.headers.get("Content-Length")
            expected = int(expected) if expected and expected.isdigit() else None
            received = _copy_with_progress(response, handle, expected, progress)
        if expected is not None and received != expected:
            raise DownloadError(f"download of {url} was interrupted: got {received} of {expected} bytes. Run it again.")
        return path
    except urllib.error.HTTPError as error:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {url}: HTTP {error.code} {error.reason}. Check the URL; or fetch the zip by hand, "
            f"unzip it, and {_FIX_ENV}"
        ) from error
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"download of {url} failed ({error!r}). Check your internet connection and run it again, "
            f"or fetch the zip by hand, unzip it, and {_FIX_ENV}"
        ) from error
    except BaseException:  # DownloadError above, KeyboardInterrupt: leave no partial file
        path.unlink(missing_ok=True)
        raise


def _copy_with_progress(response, handle, total: Optional[int], progress: bool) -> int:
    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc="Downloading ESC-10", disable=not progress) as bar:
        while True:
            block = response.read(_DOWNLOAD_CHUNK)
            if not block:
                return received
            handle.write(block)
            received += len(block)
            bar.update(len(block))


def _unsafe_reason(info: zipfile.ZipInfo) -> Optional[str]:
    """Why a zip member must not be extracted, or ``None`` if it is safe."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in path"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def _safe_extract(archive: Path, workdir: Path) -> Path:
    """Unpack ``archive`` into ``workdir``; return the dataset folder (the single top-level folder, if any)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            unsafe = [f"{m.filename} ({_unsafe_reason(m)})" for m in members if _unsafe_reason(m)]
            if unsafe:
                raise DownloadError(
                    f"refusing to unpack the downloaded archive: unsafe members {_first_few(unsafe)}. "
                    "The download is not the ESC-10 release; check the URL."
                )
            for member in members:
                _extract_member(zf, member, workdir)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise DownloadError(f"the downloaded archive is corrupt ({error}); run the download again") from error
    entries = [p for p in workdir.iterdir()]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return workdir


def _extract_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, workdir: Path) -> None:
    target = workdir.joinpath(*PurePosixPath(member.filename.replace("\\", "/")).parts)
    if member.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(member) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, _DOWNLOAD_CHUNK)


def _verify_download(top: Path, entries: dict[str, str], url: str) -> None:
    problems = _problems_text(*_manifest_problems(top, entries))
    if problems:
        raise DownloadError(
            f"the archive from {url} does not match the ESC-10 sha256 manifest ({problems}). "
            "Nothing was installed; run the download again (the file may have been damaged in transit)."
        )


def _move_into_place(top: Path, dest: Path, entries: dict[str, str]) -> None:
    """Atomically rename ``top`` to ``dest`` (an empty ``dest`` folder is replaced)."""
    try:
        os.replace(top, dest)
    except OSError as error:
        if _is_complete(dest, entries):  # another process finished the same download first
            return
        raise DownloadError(f"could not move the verified dataset into {dest}: {error}") from error


# --------------------------------------------------------------------------- decoding


def _decode(path: PathLike) -> tuple[np.ndarray, int]:
    """Read ``path`` with soundfile as mono float32; raise :class:`AudioDecodeError` if that fails."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile raises several types for bad files
        raise AudioDecodeError(_decode_message(path, str(error))) from error
    if data.shape[0] == 0:
        raise AudioDecodeError(_decode_message(path, "it holds no audio samples"))
    return data.mean(axis=1), rate


def _decode_message(path: PathLike, why: str) -> str:
    return (
        f"cannot decode audio file {path}: {why}. The file is corrupt or incomplete: verify the dataset with "
        f"audiolab.data.verify_dataset() and re-download it (delete the folder, then {_FIX_DOWNLOAD})."
    )


def _fit_length(wave: torch.Tensor, length: int, offset: str, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Crop or zero-pad ``wave`` to ``length`` samples; ``offset`` places the window or the padding."""
    excess = wave.shape[0] - length
    if excess == 0:
        return wave
    room = abs(excess)
    if offset == "center":
        start = room // 2
    elif offset == "random":
        start = int(torch.randint(0, room + 1, (1,), generator=generator))
    else:
        start = 0
    if excess > 0:
        return wave[start : start + length]
    return torch.nn.functional.pad(wave, (start, room - start))


def load_audio(
    path: PathLike,
    sample_rate: int = 22050,
    duration: float = 5.0,
    offset: str = "center",
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Decode one clip: mono, resampled to ``sample_rate``, exactly ``round(sample_rate * duration)`` samples.

    Longer clips are cropped and shorter ones zero-padded; ``offset`` says where:
    ``"center"`` (the middle, padding split evenly), ``"random"`` (a random
    window or padding split, for training; uses ``generator``) or ``"start"``.
    Returns a 1-D float32 tensor. Raises :class:`AudioDecodeError` for files that
    cannot be read or hold no samples.
    """
    if offset not in _OFFSETS:
        raise ValueError(f"offset must be one of {_OFFSETS}, got {offset!r}")
    data, rate = _decode(path)
    wave = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    if rate != sample_rate:
        wave = torchaudio.functional.resample(wave, rate, sample_rate)
    return _fit_length(wave, int(round(sample_rate * duration)), offset, generator).contiguous()


class ESC10Dataset(torch.utils.data.Dataset):
    """Waveforms and targets, decoded per item: ``dataset[i] -> (waveform, target)``.

    ``meta_or_root`` is a table from :func:`load_metadata` or a dataset folder
    (``None`` resolves it as :func:`resolve_root` does). ``folds`` keeps only those
    folds. With ``train=True`` each item is a random window of the clip (a new one
    every epoch); otherwise the centre. ``transform`` is applied to the waveform.
    """

    def __init__(
        self,
        meta_or_root: Union[pd.DataFrame, PathLike, None] = None,
        config: FeatureConfig = FeatureConfig(),
        folds: Optional[Iterable[int]] = None,
        train: bool = False,
        transform=None,
    ):
        meta = meta_or_root if isinstance(meta_or_root, pd.DataFrame) else load_metadata(meta_or_root)
        if folds is not None:
            attrs = dict(meta.attrs)
            meta = meta[meta["fold"].isin(list(folds))].reset_index(drop=True)
            meta.attrs.update(attrs)
        self.meta = meta
        self.classes: tuple[str, ...] = tuple(meta.attrs.get("classes", ESC10_CLASSES))
        self.config = config
        self.train = train
        self.transform = transform

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self.meta.iloc[index]
        wave = load_audio(
            row["path"], self.config.sample_rate, self.config.duration, offset="random" if self.train else "center"
        )
        if self.transform is not None:
            wave = self.transform(wave)
        return wave, int(row["target"])


# --------------------------------------------------------------------------- feature cache


def _feature_key(meta: pd.DataFrame, config: FeatureConfig) -> str:
    """sha256 of the clip list (relative path, size, mtime), the config and the cache format version."""
    root = meta.attrs.get("root")
    files = []
    for path in meta["path"]:
        info = os.stat(path)
        rel = os.path.relpath(path, root) if root else os.path.abspath(path)
        files.append([Path(rel).as_posix(), info.st_size, info.st_mtime_ns])
    payload = {"version": FEATURE_CACHE_VERSION, "decode": "center", "config": config.to_dict(), "files": files}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path, expected_shape: tuple[int, ...]) -> Optional[torch.Tensor]:
    if not path.is_file():
        return None
    try:
        features = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a damaged cache file is recomputed, never trusted
        return None
    if not isinstance(features, torch.Tensor) or tuple(features.shape) != expected_shape:
        return None
    return features


def _write_cache(path: Path, features: torch.Tensor) -> None:
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem + "-", suffix=".tmp", delete=False)
    try:
        with handle:
            torch.save(features, handle)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _compute_features(paths: Sequence[str], config: FeatureConfig, progress: bool, workers: int) -> torch.Tensor:
    logmel = LogMel(config)

    def one(path: str) -> torch.Tensor:
        with torch.no_grad():
            return logmel(load_audio(path, config.sample_rate, config.duration, offset="center"))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from the workers; nested intra-op threads only contend
    try:
        return _run_workers(one, paths, progress, workers)
    finally:
        torch.set_num_threads(threads)


def _run_workers(one, paths: Sequence[str], progress: bool, workers: int) -> torch.Tensor:
    with tqdm(total=len(paths), desc="Decoding clips", unit="clip", disable=not progress) as bar:
        if workers <= 1:
            out = []
            for path in paths:
                out.append(one(path))
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                out = []
                for features in pool.map(one, paths):
                    out.append(features)
                    bar.update()
    return torch.stack(out).float().contiguous()


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def load_features(
    meta: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
    workers: Optional[int] = None,
) -> torch.Tensor:
    """Log-mel features ``(clips, n_mels, frames)`` float32, in ``meta``'s row order, cached on disk.

    Each clip is decoded with :func:`load_audio` (centre window) and turned into
    a :class:`~audiolab.features.LogMel` spectrogram. The result is stored in
    ``cache_dir`` (default ``default_cache_dir()/"features"``) under a key that
    changes whenever a file (path, size, mtime), the config, or the cache format
    changes; later calls load that file without decoding anything.
    ``workers`` threads decode in parallel (default: up to 4, one per core).
    """
    shape = (len(meta), config.n_mels, config.num_frames)
    if len(meta) == 0:
        return torch.zeros(shape)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir() / "features"
    path = folder / f"logmel-{_feature_key(meta, config)[:32]}.pt"
    cached = _read_cache(path, shape)
    if cached is not None:
        return cached
    features = _compute_features(list(meta["path"]), config, progress, workers or _default_workers())
    _write_cache(path, features)
    return features


# --------------------------------------------------------------------------- folds and splits


def _folds(meta: pd.DataFrame) -> np.ndarray:
    return meta["fold"].to_numpy()


def cv_folds(meta: pd.DataFrame) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The official cross-validation: ``[(test_fold, train_idx, test_idx), ...]`` for each fold present.

    Indices are positions in ``meta`` (use ``meta.iloc`` / index feature tensors).
    """
    folds = _folds(meta)
    present = sorted(int(f) for f in np.unique(folds))
    if len(present) < 2:
        raise ValueError(f"cross-validation needs at least two folds, the table has {present}")
    return [(f, np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in present]


def holdout_split(meta: pd.DataFrame, test_fold: int = 5, val_fold: int = 4) -> dict[str, np.ndarray]:
    """``{"train", "val", "test"}`` positional indices: one fold for test, one for validation, the rest to train."""
    folds = _folds(meta)
    present = sorted(int(f) for f in np.unique(folds))
    if test_fold == val_fold:
        raise ValueError(f"test_fold and val_fold must differ, both are {test_fold}")
    absent = [f for f in (test_fold, val_fold) if f not in present]
    if absent:
        raise ValueError(f"fold(s) {absent} not in the table (folds present: {present}); choose among those")
    train = np.flatnonzero((folds != test_fold) & (folds != val_fold))
    if train.size == 0:
        raise ValueError(f"no training folds left after test fold {test_fold} and validation fold {val_fold}")
    return {"train": train, "val": np.flatnonzero(folds == val_fold), "test": np.flatnonzero(folds == test_fold)}


# --------------------------------------------------------------------------- summary


def summarize(meta: pd.DataFrame) -> dict:
    """Counts, audio properties (from file headers) and provenance of a metadata table."""
    classes = tuple(meta.attrs.get("classes", ESC10_CLASSES))
    infos = [sf.info(p) for p in meta["path"]]
    counts = pd.crosstab(meta["category"], meta["fold"])
    present = [c for c in classes if c in counts.index]
    counts = counts.reindex(present)
    return {
        "clips": len(meta),
        "classes": present,
        "folds": sorted(int(f) for f in meta["fold"].unique()),
        "per_class": {c: int(meta["category"].eq(c).sum()) for c in present},
        "per_fold": {int(f): int(n) for f, n in meta["fold"].value_counts().sort_index().items()},
        "per_class_fold": {c: {int(f): int(n) for f, n in counts.loc[c].items()} for c in present},
        "sample_rates": sorted({int(i.samplerate) for i in infos}),
        "channels": sorted({int(i.channels) for i in infos}),
        "durations": sorted({round(i.frames / i.samplerate, 3) for i in infos}),
        "median_duration": float(np.median([i.frames / i.samplerate for i in infos])) if infos else None,
        "root": meta.attrs.get("root"),
        "source": meta.attrs.get("source"),
        "layout": meta.attrs.get("layout"),
        "size_bytes": int(sum(os.path.getsize(p) for p in meta["path"])),
    }


def _span(values: Sequence, unit: str) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:g} {unit}"
    return f"{min(values):g}-{max(values):g} {unit}"


def _duration_text(summary: dict) -> str:
    durations = summary["durations"]
    if len(durations) <= 1:
        return _span(durations, "s")
    return (
        f"median {summary['median_duration']:.3f} s, range {_span(durations, 's')} "
        "(decoding pads or crops every clip to the configured duration)"
    )


def format_summary(summary: dict) -> str:
    """Human-readable text of :func:`summarize`: a class x fold table, audio properties and provenance."""
    folds = summary["folds"]
    width = max([len("class"), len("total")] + [len(c) for c in summary["classes"]])
    header = f"{'class':<{width}}" + "".join(f"  fold {f}" for f in folds) + "   total"
    lines = [header, "-" * len(header)]
    for name in summary["classes"]:
        row = summary["per_class_fold"][name]
        lines.append(f"{name:<{width}}" + "".join(f"{row.get(f, 0):>8}" for f in folds) + f"{summary['per_class'][name]:>8}")
    lines.append("-" * len(header))
    lines.append(f"{'total':<{width}}" + "".join(f"{summary['per_fold'][f]:>8}" for f in folds) + f"{summary['clips']:>8}")
    lines += [
        "",
        f"clips:        {summary['clips']} in {len(summary['classes'])} classes, {len(folds)} folds",
        f"sample rate:  {_span(summary['sample_rates'], 'Hz')}",
        f"channels:     {', '.join(str(c) for c in summary['channels'])}",
        f"duration:     {_duration_text(summary)}",
        f"layout:       {summary['layout']}",
        f"root:         {summary['root']}",
        f"found via:    {summary['source']}",
        f"size on disk: {summary['size_bytes'] / 1e6:.1f} MB ({summary['size_bytes']} bytes)",
    ]
    return "\n".join(lines)


def data_command(root: Optional[PathLike] = None, download: bool = False, strict: bool = True) -> int:
    """``audiolab data [--root PATH] [--download]``: print the dataset summary; 0 on success, 2 on error.

    Errors (no dataset, incomplete dataset, failed download) go to stderr with the fix.
    """
    try:
        meta = load_metadata(root, download=download, strict=strict)
        print(format_summary(summarize(meta)))
    except (OSError, ValueError, RuntimeError) as error:
        print(f"audiolab data: error: {error}", file=sys.stderr)
        return 2
    return 0
