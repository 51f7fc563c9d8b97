"""Getting ESC-10 onto the disk, and checking it against its sha256 manifest (plumbing).

* the manifest: ``audiolab/esc10.sha256`` lists every clip of ESC-10 with its
  sha256 (:func:`read_manifest`);
* verification: a dataset folder against the manifest, :class:`IntegrityError`
  listing missing, modified and unexpected clips (``verify_dataset`` in
  :mod:`~audiolab.data.metadata` first finds the folder, then calls :func:`_verify_tree`);
* the download (:func:`download_esc10`): fetch with a progress bar, unpack the zip
  safely (no absolute paths, ``..`` or links), verify, and move into place in one
  ``os.replace``, so a dataset folder is either complete or absent.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Mapping, Optional, Union

from tqdm.auto import tqdm

from audiolab.data.paths import (
    _CLASS_DIR_RE,
    _FIX_DOWNLOAD,
    _FIX_ENV,
    _TREE_CLIP_RE,
    PathLike,
    _default_data_dir,
    _first_few,
)

__all__ = [
    "ESC10_COMMIT",
    "ESC10_URL",
    "MANIFEST_PATH",
    "IntegrityError",
    "DownloadError",
    "read_manifest",
    "download_esc10",
]

ESC10_COMMIT = "553c8f1743b9dba6b282e1323c3ca8fa76923448"
ESC10_URL = f"https://github.com/karolpiczak/ESC-10/archive/{ESC10_COMMIT}.zip"

MANIFEST_PATH = Path(__file__).parent.parent / "esc10.sha256"
"""The packaged manifest, ``audiolab/esc10.sha256`` (``sha256sum`` format, one line per clip)."""

_DOWNLOAD_CHUNK = 1 << 16


class IntegrityError(ValueError):
    """Files do not match the sha256 manifest (corrupt, modified, or missing)."""


class DownloadError(RuntimeError):
    """A download failed or its archive was unsafe or did not verify."""


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


def _verify_tree(root: Path, manifest: Union[None, PathLike, Mapping[str, str]] = None) -> int:
    """Check the ESC-10 tree at ``root`` against ``manifest``; return how many clips verified.

    The work behind :func:`audiolab.data.verify_dataset`, which finds ``root`` first.
    """
    entries = read_manifest(manifest)
    missing, mismatched, unexpected = _manifest_problems(root, entries)
    if missing or mismatched or unexpected:
        raise IntegrityError(_integrity_message(root, missing, mismatched, unexpected))
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
