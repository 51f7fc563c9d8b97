"""Small helpers the whole package shares (plumbing a student may skip): files written atomically, complete or absent
(:func:`atomic_write`, :func:`write_json`, :func:`write_csv`, :func:`read_json`), config dataclasses read from files
with their types checked (:func:`config_from`), values to JSON (:func:`plain`) and back (:func:`tupled`)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import typing
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

logger = logging.getLogger("audiolab")

PathLike = Union[str, os.PathLike]


def atomic_write(path: PathLike, write: Callable[[Any], Any], binary: bool = False) -> Path:
    """``write(handle)`` into a temporary file next to ``path``, then ``os.replace`` it into place; the file is
    created as any other (mode 0666 less the umask), so a shared course folder stays readable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") if binary else open(tmp, "x", newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except OSError as error:  # a full disk or a read-only folder: say which file, and what to do
        raise OSError(error.errno, f"cannot write {path} ({error.strerror or error}): free space on that disk or "
                                   "choose another folder") from error
    finally:
        tmp.unlink(missing_ok=True)
    return path


def file_sha256(path: PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_json(path: PathLike, obj: Any) -> Path:
    """``obj`` (made :func:`plain`) as indented JSON, atomically."""
    return atomic_write(path, lambda h: json.dump(plain(obj), h, indent=1))


def write_csv(path: PathLike, table) -> Path:
    """A pandas DataFrame as CSV without its index, atomically."""
    return atomic_write(path, lambda h: table.to_csv(h, index=False))


def read_json(path: PathLike) -> Optional[dict]:
    """The JSON at ``path``, or ``None`` when it is missing or damaged (a damaged result is recomputed)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable result %s (%s); it will be recomputed", path, error)
        return None


def is_a(value, hint) -> bool:
    """Whether ``value`` (read from a file) has the type ``hint`` a dataclass field declares (``int``, ``float``,
    ``str``, ``Optional[...]``, ``Union[...]``, ``Sequence[...]``); a bool is no number, NaN and inf no float."""
    if typing.get_origin(hint) is typing.Union:
        return any(is_a(value, option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is Sequence:
        return isinstance(value, (list, tuple)) and all(is_a(v, typing.get_args(hint)[0]) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return value is None if hint is type(None) else isinstance(value, hint)


def config_from(cls, values, where: str):
    """``cls(**values)`` for a config read from a file: only ``cls``'s own fields, each of its declared type;
    anything else is a ``ValueError`` that names ``where`` (the file and the entry)."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{where} must be a mapping of {cls.__name__} fields, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"{where} has the unknown {cls.__name__} field {key!r}; valid: {sorted(fields)}")
        if not is_a(value, fields[key]):
            kind = fields[key].__name__ if isinstance(fields[key], type) else str(fields[key]).replace("typing.", "")
            raise ValueError(f"{where}: {key}={value!r:.60} is not of type {kind}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where} is not a valid {cls.__name__}: {error}") from None


def plain(value: Any) -> Any:
    """JSON-friendly copy: configs and dataclasses to dicts, tuples to lists, NumPy/torch values to numbers."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # a pandas DataFrame: one dict per row, NA as null
        return plain(value.astype(object).where(value.notna(), None).to_dict("records"))
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return plain(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and callable(value.tolist):  # NumPy scalar or array
        return value.tolist()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return str(value)


def tupled(value: Any) -> Any:
    """Lists (also nested, also NumPy arrays) become tuples, NumPy scalars Python numbers."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(tupled(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_numpy(x: Any) -> np.ndarray:
    """Array from a NumPy array, a list or a (possibly CUDA, possibly grad-tracking) tensor."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def repo_root() -> Path:
    """The checkout this package lives in (for an installed package: the working directory)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()
