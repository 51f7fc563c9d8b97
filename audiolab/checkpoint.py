"""Model checkpoints: weights, the normaliser's statistics and a description, in one file.

A checkpoint is plain data: tensors, numbers, strings, lists and dicts. It is loaded with
``torch.load(..., weights_only=True)``, which refuses anything else, so a ``.pt`` file a
classmate shares can never run code on your machine (a pickled object could). A file
that needs more than plain data is refused with :class:`UnsafeCheckpointError`.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ._util import atomic_write
from .features import Normalizer
from .models import build_model, model_config

__all__ = ["save_checkpoint", "load_checkpoint", "UnsafeCheckpointError", "REQUIRED_INFO"]

#: What a checkpoint's ``info`` must hold to rebuild its model.
REQUIRED_INFO = ("arch", "params", "n_mels", "classes")


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds more than plain data (tensors, numbers, strings, lists, dicts) and was not loaded."""


def save_checkpoint(path, model: nn.Module, normalizer: Normalizer, epoch: int, info: Optional[dict] = None) -> Path:
    """Write weights, normaliser and ``info`` (arch, params, feature config, classes) atomically."""
    payload = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "normalizer": {k: v.detach().cpu() for k, v in normalizer.state_dict().items()},
        "epoch": int(epoch),
        "info": dict(info or {}),
    }
    return atomic_write(path, lambda handle: torch.save(payload, handle), binary=True)


def _load_payload(path: Path, map_location) -> dict:
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f"refused to load checkpoint {path}: it holds more than tensors and plain data, and loading it "
            f"could run code it contains ({str(error).splitlines()[0]}). Only load checkpoints written by "
            "audiolab (`make reports`, `audiolab train`); if you trust this file, re-save its state_dict."
        ) from None
    except Exception as error:  # a truncated or foreign file fails in many ways inside the unpickler
        raise ValueError(f"checkpoint {path} could not be read ({type(error).__name__}: {error}); "
                         "is it a file written by audiolab?") from None
    if not isinstance(payload, dict) or "model" not in payload or "normalizer" not in payload:
        raise ValueError(f"checkpoint {path} has no 'model' and 'normalizer' entries; it was not written by audiolab")
    return payload


def load_checkpoint(path, map_location="cpu"):
    """``(model, normalizer, info)`` from a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`UnsafeCheckpointError` (and runs nothing of the file) when it holds more
    than plain data, ``FileNotFoundError`` when there is no file.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one first (`audiolab train` or `make reports`)")
    payload = _load_payload(path, map_location)
    info = payload.get("info", {})
    missing = [k for k in REQUIRED_INFO if k not in info]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing} in its info; it was not written by audiolab")
    model = build_model(model_config(info["arch"], info["params"]), info["n_mels"], len(info["classes"]))
    model.load_state_dict(payload["model"])
    model.eval()
    normalizer = Normalizer(info["n_mels"])
    normalizer.load_state_dict(payload["normalizer"])
    return model, normalizer, info
