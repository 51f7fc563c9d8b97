"""ESC-10 on disk: its classes (:data:`ESC10_CLASSES`), where it is (:func:`resolve_root`), its verified download
(:func:`download_esc10`), the clip table of the ESC-10 tree or the ESC-50 release (:func:`load_metadata`) and what
``audiolab data`` prints (:func:`summarize`, :func:`data_command`)."""
from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import stat
import sys
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from audiolab._util import PathLike, file_sha256

try:
    import fcntl
except ImportError:  # Windows: no flock, but there a running download's open zip cannot be removed anyway
    fcntl = None

ESC10_CLASSES: tuple[str, ...] = ("Dog bark", "Rain", "Sea waves", "Baby cry", "Clock tick", "Person sneeze",
                                  "Helicopter", "Chainsaw", "Rooster", "Fire crackling")
"""The ten ESC-10 classes in folder order: index = target id."""

ESC50_TO_ESC10: dict[str, str] = dict(zip(("dog", "rain", "sea_waves", "crying_baby", "clock_tick", "sneezing",
                                           "helicopter", "chainsaw", "rooster", "crackling_fire"), ESC10_CLASSES))
"""ESC-50 category name -> ESC-10 class name, for the ``esc10`` rows of ESC-50."""

ESC10_COMMIT = "553c8f1743b9dba6b282e1323c3ca8fa76923448"
ESC10_URL = f"https://github.com/karolpiczak/ESC-10/archive/{ESC10_COMMIT}.zip"
ESC50_URL = "https://github.com/karolpiczak/ESC-50/archive/master.zip"
ESC10_NUM_CLIPS, ESC50_NUM_CLIPS = 400, 2000
MANIFEST_PATH = Path(__file__).parent.parent / "esc10.sha256"
DATA_ENV, CACHE_ENV = "AUDIOLAB_DATA", "AUDIOLAB_CACHE"

CLASS_DIR = re.compile(r"^(\d{3}) - (.+)$")
TREE_CLIP = re.compile(r"^(\d+)-([0-9A-Za-z]+)-([A-Za-z]+)\.ogg$", re.IGNORECASE)
FIX_DOWNLOAD = "run `audiolab data --download` (or pass download=True)"
FIX_ENV = f"set {DATA_ENV}=/path/to/ESC-10"
COLUMNS = ["path", "filename", "fold", "target", "category", "clip_id", "take"]


class DatasetNotFoundError(FileNotFoundError):
    """No dataset where audiolab looked; the message says how to get one."""


class IncompleteDatasetError(FileNotFoundError):
    """The dataset folder exists but clips are missing."""


class DownloadError(RuntimeError):
    """A download failed, or its archive was unsafe or did not match the manifest."""


def _first_few(items, n: int = 5) -> str:
    items = list(items)
    return ", ".join(map(str, items[:n])) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def default_cache_dir() -> Path:
    """``$AUDIOLAB_CACHE``, or ``~/.cache/audiolab``: downloads and feature caches live here."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "audiolab"


def resolve_root(root: Optional[PathLike] = None, download: bool = False, subset: str = "esc10") -> tuple[Path, str]:
    """Find the dataset folder: ``root``, then ``$AUDIOLAB_DATA``, then the cache folder, then (with
    ``download``) a download of ESC-10 into the cache folder or into a missing ``root``. Returns ``(root, where
    it came from)``; a ``$AUDIOLAB_DATA`` that points nowhere is an error, not skipped."""
    if subset not in ("esc10", "esc50"):
        raise ValueError(f"unknown subset {subset!r}: choose one of esc10, esc50")
    cached = default_cache_dir() / ("ESC-50" if subset == "esc50" else "ESC-10")
    given = root if root is not None else os.environ.get(DATA_ENV)
    path = Path(given).expanduser() if given else cached
    where = "root argument" if root is not None else f"${DATA_ENV}" if given else "cache folder"
    if path.exists():
        return path, f"{where} ({path})"
    if given and root is None:
        raise DatasetNotFoundError(f"${DATA_ENV} points to {path}, which does not exist: fix the path "
                                   f"or unset {DATA_ENV} to use the cache folder {cached}")
    if subset == "esc50":
        raise DatasetNotFoundError(f"no ESC-50 dataset at {path}; audiolab downloads ESC-10 only. Fix: download "
                                   f"{ESC50_URL}, unzip it, and pass its folder as root= or set {DATA_ENV} to it.")
    if not download:
        raise DatasetNotFoundError(f"dataset folder {path} (root argument) does not exist: check the path, or "
                                   f"{FIX_DOWNLOAD} to download ESC-10 there" if given else
                                   f"no ESC-10 dataset found (looked at root=, ${DATA_ENV}, and {cached}). Fix: "
                                   f"{FIX_DOWNLOAD} to fetch it into {cached}, or {FIX_ENV} if you already have a copy.")
    return download_esc10(path), f"downloaded from {ESC10_URL} into {path}"


def read_manifest(manifest: Union[None, PathLike, Mapping[str, str]] = None) -> dict[str, str]:
    """``{relative posix path: sha256}`` from a ``sha256sum`` file (default: the packaged one) or a dict."""
    if not isinstance(manifest, Mapping):
        path = Path(manifest) if manifest is not None else MANIFEST_PATH
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        bad = [n for n, line in enumerate(lines, 1) if not re.fullmatch(r"[0-9a-fA-F]{64} [ *]?\S.*", line)]
        if bad:
            raise ValueError(f"{path}:{bad[0]} is not a sha256sum line: {lines[bad[0] - 1]!r}")
        manifest = {line[64:].lstrip(" *"): line[:64] for line in lines}
    return {re.sub(r"^(\./)+", "", str(k).replace("\\", "/")): str(v).lower() for k, v in manifest.items()}


def _manifest_problems(root: Path, manifest: dict[str, str]) -> str:
    """Missing, modified and unexpected clips of ``root`` against ``manifest``, in words ("" if none)."""
    missing = [rel for rel in sorted(manifest) if not (root / rel).is_file()]
    modified = [rel for rel in sorted(manifest) if rel not in missing and file_sha256(root / rel) != manifest[rel]]
    clips = {p.relative_to(root).as_posix() for p in root.glob("*/*")  # junk (__MACOSX/, ._*) is no clip
             if CLASS_DIR.match(p.parent.name) and TREE_CLIP.match(p.name) and p.is_file()}
    groups = (("missing", missing), ("checksum mismatch", modified), ("not in manifest", sorted(clips - set(manifest))))
    return "; ".join(f"{label} {len(items)}: {_first_few(items)}" for label, items in groups if items)


def _unsafe(member: zipfile.ZipInfo) -> Optional[str]:
    """Why an archive member must not be unpacked, or ``None``."""
    name = member.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in path"
    return "symbolic link" if stat.S_ISLNK(member.external_attr >> 16) else None


def _remove_leftovers(dest: Path) -> None:
    """Remove what killed downloads into ``dest`` left beside it: partial zips no download holds any more, and
    unpack folders without their zip (the kit's own names only; a running download's files stay)."""
    for part in dest.parent.glob(f".{dest.name}-*.zip.part"):
        with contextlib.suppress(OSError), open(part, "rb") as handle:
            if fcntl is not None:  # fails while its download runs
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            part.unlink()
    for work in dest.parent.glob(f".{dest.name}-unpack-*"):
        if not (dest.parent / f".{dest.name}-{work.name.split('-unpack-')[-1]}.zip.part").exists():
            shutil.rmtree(work, ignore_errors=True)


def download_esc10(dest: Optional[PathLike] = None, url: str = ESC10_URL,
                   manifest: Union[None, PathLike, Mapping[str, str]] = None) -> Path:
    """Download, verify and unpack ESC-10 into ``dest`` (default ``default_cache_dir()/"ESC-10"``): the zip goes to a
    temporary file beside it, is unpacked into a temporary folder (an absolute path, ``..`` or a link refuses the whole
    archive), every clip is checked against the sha256 manifest, and one ``os.replace`` moves it into place, so
    ``dest`` is complete or absent. :class:`DownloadError` on failure; what a killed download left goes at the next."""
    dest = Path(dest).expanduser() if dest is not None else default_cache_dir() / "ESC-10"
    entries = read_manifest(manifest)
    if dest.is_dir() and all((dest / rel).is_file() for rel in entries):
        return dest
    if dest.exists() and any(dest.iterdir()):
        raise DownloadError(f"{dest} exists but is not a complete ESC-10 copy: move it away or delete it, "
                            "then download again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(dest)
    tag = uuid.uuid4().hex[:8]  # files made as any other (umask), named so that a later start knows them
    part, work = dest.parent / f".{dest.name}-{tag}.zip.part", dest.parent / f".{dest.name}-unpack-{tag}"
    with open(part, "xb+") as out:
        if fcntl is not None:  # held while this download runs, released when its process ends, however it ends
            fcntl.flock(out, fcntl.LOCK_EX)
        work.mkdir()
        try:
            _fetch(url, out)
            _install(out, work, dest, entries, url)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            part.unlink(missing_ok=True)
    return dest


def _install(archive, work: Path, dest: Path, entries: dict[str, str], url: str) -> None:
    """Unpack ``archive`` into ``work``, check it against ``entries``, move it to ``dest``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            if unsafe := [f"{m.filename} ({_unsafe(m)})" for m in zf.infolist() if _unsafe(m)]:
                raise DownloadError(f"refusing to unpack the downloaded archive: unsafe members {_first_few(unsafe)}. "
                                    "The download is not the ESC-10 release; check the URL.")
            zf.extractall(work)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise DownloadError(f"the downloaded archive is corrupt ({error}); run the download again") from error
    top = list(work.iterdir())
    top = top[0] if len(top) == 1 and top[0].is_dir() else work
    if problems := _manifest_problems(top, entries):
        raise DownloadError(f"the archive from {url} does not match the ESC-10 sha256 manifest ({problems}). "
                            "Nothing was installed; run the download again (the file may have been damaged).")
    try:
        os.replace(top, dest)
    except OSError as error:
        if not all((dest / rel).is_file() for rel in entries):  # else another process finished it first
            raise DownloadError(f"could not move the verified dataset into {dest}: {error}") from error


def _fetch(url: str, out) -> None:
    """Copy ``url`` into the open file ``out`` with a progress bar; :class:`DownloadError` on any failure."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with tqdm.wrapattr(response, "read", total=expected, desc="Downloading ESC-10") as r:
                shutil.copyfileobj(r, out, 1 << 16)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:  # HTTPError is a URLError
        why = f"HTTP {error.code} {error.reason}" if isinstance(error, urllib.error.HTTPError) else repr(error)
        raise DownloadError(f"download of {url} failed ({why}). Check the URL and your internet connection and run "
                            f"it again, or fetch the zip by hand, unzip it, and {FIX_ENV}") from error
    if expected is not None and out.tell() != expected:
        raise DownloadError(f"download of {url} was interrupted: got {out.tell()} of {expected} bytes. Run it again.")


def _layout(folder: Path) -> Optional[str]:
    if (folder / "meta" / "esc50.csv").is_file():
        return "esc50"
    if folder.is_dir() and any(p.is_dir() and CLASS_DIR.match(p.name) for p in folder.iterdir()):
        return "esc10-tree"
    return None


def _tree_table(root: Path, strict: bool) -> pd.DataFrame:
    """One row per ``<fold>-<clipid>-<take>.ogg`` in the ``NNN - Class name`` folders; other files are ignored."""
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and CLASS_DIR.match(p.name)):
        name = CLASS_DIR.match(folder.name).group(2).strip()
        if name not in ESC10_CLASSES:
            raise ValueError(f"unexpected class folder {folder}: ESC-10 has {', '.join(ESC10_CLASSES)}. "
                             "Remove the folder or point root= at an unmodified ESC-10 copy.")
        for clip in sorted(folder.iterdir()):
            if (match := TREE_CLIP.match(clip.name)) and clip.is_file():
                fold, clip_id, take = match.groups()
                rows.append([str(clip.resolve()), clip.name, int(fold), ESC10_CLASSES.index(name), name, clip_id, take])
    missing = [rel for rel in sorted(read_manifest()) if not (root / rel).is_file()] if strict else []
    if missing:
        raise IncompleteDatasetError(
            f"ESC-10 at {root} is incomplete: found {len(rows)} of {ESC10_NUM_CLIPS} clips, {len(missing)} missing: "
            f"{_first_few(missing)}. Restore them (e.g. delete the folder and {FIX_DOWNLOAD}), or pass strict=False "
            "to use the clips that are there.")
    return pd.DataFrame(rows, columns=COLUMNS)


def _esc50_table(root: Path, subset: str, strict: bool) -> tuple[pd.DataFrame, tuple[str, ...]]:
    csv = root / "meta" / "esc50.csv"
    table = pd.read_csv(csv, dtype={"filename": str, "category": str, "src_file": str, "take": str})
    needed = {"filename", "fold", "target", "category", "esc10", "src_file", "take"}
    if not needed <= set(table.columns):
        raise ValueError(f"{csv} lacks columns {sorted(needed - set(table.columns))}: is it the ESC-50 metadata file?")
    audio = (root / "audio").resolve()
    table["filename"] = table["filename"].fillna("")
    table["path"] = [str((audio / name).resolve()) for name in table["filename"]]
    outside = [(i + 2, name) for i, (name, p) in enumerate(zip(table["filename"], table["path"]))
               if p == str(audio) or not Path(p).is_relative_to(audio)]
    if outside:  # e.g. "../../outside.ogg": a table names clips in audio/, never files elsewhere on the machine
        line, name = outside[0]
        raise ValueError(f"{csv}, line {line}: filename {name!r} is not a file inside {audio} ({len(outside)} such "
                         "row(s)); every filename must name a clip in audio/. Fix the table.")
    if subset == "esc10":
        table = table[table["esc10"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])].copy()
        if unknown := sorted(set(table["category"]) - set(ESC50_TO_ESC10)):
            raise ValueError(f"{csv} marks unexpected categories as ESC-10: {unknown}")
        table["category"] = table["category"].map(ESC50_TO_ESC10)
        table["target"] = table["category"].map(ESC10_CLASSES.index)
        classes = ESC10_CLASSES
    else:
        classes = tuple(table.drop_duplicates("target").sort_values("target")["category"])
    missing = sorted(f for f, p in zip(table["filename"], table["path"]) if not os.path.isfile(p))
    expected = ESC10_NUM_CLIPS if subset == "esc10" else ESC50_NUM_CLIPS
    if missing or (strict and len(table) < expected):
        raise IncompleteDatasetError(
            f"ESC-50 at {root} is incomplete for subset {subset!r}: meta/esc50.csv lists {len(table)} clips "
            f"(expected {expected}), {len(missing)} missing from audio/: {_first_few(missing) or 'none'}. "
            f"Re-extract the ESC-50 release ({ESC50_URL})"
            + ("." if missing else ", or pass strict=False to use the clips that are there."))
    return table.rename(columns={"src_file": "clip_id"}), classes


def load_metadata(root: Optional[PathLike] = None, subset: str = "esc10", download: bool = False,
                  strict: bool = True) -> pd.DataFrame:
    """The clip table: one row per clip, sorted by ``(fold, target, filename)``. Columns: ``path`` (absolute),
    ``filename``, ``fold`` (1..5), ``target``, ``category``, ``clip_id`` (freesound source id), ``take``; ``df.attrs``
    holds ``root``, ``source``, ``layout`` and ``classes`` (index = target). ``subset="esc10"`` reads the ESC-10 tree or
    the ESC-10 rows of an ESC-50 release (same class ids), ``"esc50"`` all 50 classes of the ESC-50 layout (your own
    data). ``strict`` (default) requires the complete dataset; ``strict=False`` accepts partial copies. A clip the table
    names but ``audio/`` lacks is always an error."""
    path, source = resolve_root(root, download=download, subset=subset)
    layout = _layout(path)
    if layout is None:
        inside = [p.name for p in sorted(path.iterdir()) if p.is_dir() and _layout(p)] if path.is_dir() else []
        hint = f" It contains {_first_few(inside)}: did you mean {path / inside[0]}?" if inside else ""
        raise DatasetNotFoundError(
            f"{path} is neither an ESC-10 tree (folders like '001 - Dog bark/') nor an ESC-50 release (audio/ and "
            f"meta/esc50.csv).{hint} Point root= or {DATA_ENV} at the folder that contains them, or {FIX_DOWNLOAD}.")
    if layout == "esc10-tree" and subset != "esc10":
        raise ValueError(f"subset 'esc50' needs the ESC-50 release (audio/ and meta/esc50.csv), but {path} is an "
                         f"ESC-10 tree: use subset='esc10' or point root= at ESC-50 ({ESC50_URL})")
    table, classes = (_tree_table(path, strict), ESC10_CLASSES) if layout == "esc10-tree" else \
        _esc50_table(path, subset, strict)
    if table.empty:
        raise IncompleteDatasetError(f"no clips found in {path}: {FIX_DOWNLOAD}, or {FIX_ENV}")
    table = table[COLUMNS].astype({"fold": int, "target": int, "clip_id": str, "take": str})
    table = table.sort_values(["fold", "target", "filename"], kind="stable").reset_index(drop=True)
    table.attrs.update(root=str(path.resolve()), source=source, layout=layout, classes=tuple(classes))
    return table


def summarize(meta: pd.DataFrame) -> dict:
    """Counts and audio properties (from the file headers, nothing decoded) of a clip table."""
    infos = [sf.info(p) for p in meta["path"]]
    seconds = [i.frames / i.samplerate for i in infos]
    return {"clips": len(meta),
            "classes": [c for c in meta.attrs.get("classes", ESC10_CLASSES) if c in set(meta["category"])],
            "folds": sorted(int(f) for f in meta["fold"].unique()),
            "sample_rates": sorted({int(i.samplerate) for i in infos}), "channels": sorted({int(i.channels) for i in infos}),
            "median_duration": float(np.median(seconds)) if infos else None,
            "duration_range": (min(seconds), max(seconds)) if infos else None,
            "size_bytes": int(sum(os.path.getsize(p) for p in meta["path"]))}


def data_command(root: Optional[PathLike] = None, download: bool = False, strict: bool = True) -> int:
    """``audiolab data [--root PATH] [--download]``: clips per class and fold, audio properties, provenance; 0 on
    success, 2 (the error and its fix on one line of stderr) when there is no usable dataset."""
    try:
        meta = load_metadata(root, download=download, strict=strict)
        summary = summarize(meta)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"audiolab data: error: {error}", file=sys.stderr)
        return 2
    counts = pd.crosstab(meta["category"], meta["fold"], margins=True, margins_name="total")
    counts = counts.reindex(summary["classes"] + ["total"]).rename(columns=lambda f: f if f == "total" else f"fold {f}")
    low, high = summary["duration_range"]
    print(counts.rename_axis(index="class", columns=None).to_string(), "",
          f"clips:        {summary['clips']} in {len(summary['classes'])} classes, {len(summary['folds'])} folds",
          f"sample rate:  {', '.join(f'{r} Hz' for r in summary['sample_rates'])}",
          f"channels:     {', '.join(map(str, summary['channels']))}",
          f"duration:     median {summary['median_duration']:.3f} s, range {low:.3f}-{high:.3f} s "
          "(decoding pads or crops every clip to the configured duration)",
          f"layout:       {meta.attrs['layout']}", f"root:         {meta.attrs['root']}",
          f"found via:    {meta.attrs['source']}",
          f"size on disk: {summary['size_bytes'] / 1e6:.1f} MB ({summary['size_bytes']} bytes)", sep="\n")
    return 0
