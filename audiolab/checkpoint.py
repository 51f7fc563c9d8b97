"""Model checkpoints: weights, the normaliser's statistics and a description, in one file.

A checkpoint is plain data: tensors, numbers, strings, lists and dicts. It is loaded with ``torch.load(...,
weights_only=True)``, which refuses anything else, so a ``.pt`` file a classmate shares can never run code on your
machine (a pickled object could): such a file is refused with :class:`UnsafeCheckpointError`. Plain data can still be
hostile (a depth of a billion blocks, a ten-hour "clip", a config key that does not exist), so the description is
checked, types and bounds, before anything is built from it, and the weights must have the shapes the description gives.
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ._util import atomic_write, config_from, is_a
from .features import FeatureConfig, Normalizer
from .models import ARCHITECTURES, build_model

#: What a checkpoint's ``info`` must hold to rebuild its model.
REQUIRED_INFO = ("arch", "params", "n_mels", "classes")
#: Bounds on what a checkpoint may describe: far beyond the kit's models, far below what would exhaust a machine.
LIMITS = {"blocks": 64, "classes": 10_000, "n_mels": 512, "n_fft": 8192, "frames": 4096, "seconds": 30.0,
          "sample_rate": 192_000, "tta_shifts": 64}


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds more than plain data (tensors, numbers, strings, lists, dicts) and was not loaded."""


def save_checkpoint(path, model: nn.Module, normalizer: Normalizer, epoch: int, info: Optional[dict] = None) -> Path:
    """Write weights, normaliser and ``info`` (arch, params, feature config, classes) atomically."""
    payload = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "normalizer": {k: v.detach().cpu() for k, v in normalizer.state_dict().items()},
               "epoch": int(epoch), "info": dict(info or {})}
    return atomic_write(path, lambda handle: torch.save(payload, handle), binary=True)


def _check_info(info, path: Path):
    """The model config of a checkpoint's ``info``, after checking its types and :data:`LIMITS`."""
    if not isinstance(info, Mapping) or any(k not in info for k in REQUIRED_INFO):
        raise ValueError(f"checkpoint {path} lacks {[k for k in REQUIRED_INFO if k not in (info or {})]} in its "
                         "info; it was not written by audiolab")
    if not isinstance(info["arch"], str) or info["arch"] not in ARCHITECTURES:
        raise ValueError(f"checkpoint {path}: unknown architecture {info['arch']!r}; choose one of {sorted(ARCHITECTURES)}")
    config = config_from(ARCHITECTURES[info["arch"]][0], info["params"], f"checkpoint {path}: params")
    features = config_from(FeatureConfig, info["features"], f"checkpoint {path}: features") \
        if info.get("features") is not None else None
    classes, shifts = info["classes"], info.get("tta_shifts", 1)
    problems = {"n_mels": not is_a(info["n_mels"], int) or not 1 <= info["n_mels"] <= LIMITS["n_mels"],
                "classes": not isinstance(classes, list) or not 1 <= len(classes) <= LIMITS["classes"]
                or not all(isinstance(c, str) for c in classes),
                "params (conv blocks)": len(config.channels) > LIMITS["blocks"],
                "params.depth": getattr(config, "depth", 1) > LIMITS["blocks"],
                "tta_shifts": not is_a(shifts, int) or not 1 <= shifts <= LIMITS["tta_shifts"]}
    if features is not None:
        problems.update({"features.sample_rate": features.sample_rate > LIMITS["sample_rate"],
                         "features.duration": features.duration > LIMITS["seconds"],
                         "features.n_fft": features.n_fft > LIMITS["n_fft"],
                         "features (frames)": features.num_frames > LIMITS["frames"],
                         "features.n_mels (differs from n_mels)": features.n_mels != info["n_mels"]})
    if bad := [name for name, wrong in problems.items() if wrong]:
        raise ValueError(f"checkpoint {path} describes an impossible model: {', '.join(bad)} out of type or bounds "
                         f"({LIMITS}); it was not written by audiolab, or was changed since")
    return config


def load_checkpoint(path, map_location="cpu"):
    """``(model, normalizer, info)`` from a checkpoint written by :func:`save_checkpoint`. Raises
    :class:`UnsafeCheckpointError` (running nothing of the file) when it holds more than plain data,
    ``FileNotFoundError`` when there is none, and ``ValueError`` naming the file when its description is out of type or
    bounds or its weights do not have the shapes it describes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one first (`audiolab train` or `make reports`)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:  # torch's own message offers ways to load it anyway: none is given here
        raise UnsafeCheckpointError(f"refused to load checkpoint {path}: it holds more than tensors and plain data (a "
                                    "pickled object, which could run code when loaded). Use only checkpoints written "
                                    "by audiolab (`make reports`, `audiolab train`)") from None
    except Exception as error:  # a truncated or foreign file fails in many ways inside the unpickler
        why = str(error).splitlines()[0].split(". ")[0] if str(error) else ""
        raise ValueError(f"checkpoint {path} could not be read ({type(error).__name__}: {why}); "
                         "is it a file written by audiolab?") from None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), dict) for k in ("model", "normalizer")):
        raise ValueError(f"checkpoint {path} has no 'model' and 'normalizer' entries; it was not written by audiolab")
    info = payload.get("info")
    config = _check_info(info, path)
    n_mels, n_classes = info["n_mels"], len(info["classes"])
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated until the weights are known to fit
            expected = {**build_model(config, n_mels, n_classes).state_dict(), **Normalizer(n_mels).state_dict()}
    except Exception as error:  # e.g. sizes beyond what a tensor can have: torch raises several types
        raise ValueError(f"checkpoint {path} describes a model that cannot be built "
                         f"({str(error).splitlines()[0][:200]})") from None
    stored = {**payload["model"], **payload["normalizer"]}
    if {k: tuple(v.shape) for k, v in expected.items()} != \
            {k: tuple(v.shape) if isinstance(v, torch.Tensor) else v for k, v in stored.items()}:
        raise ValueError(f"checkpoint {path}: its weights do not have the shapes its info describes "
                         f"({info['arch']}, {n_mels} mel bands, {n_classes} classes); it was changed since it was written")
    model, normalizer = build_model(config, n_mels, n_classes), Normalizer(n_mels)
    model.load_state_dict(payload["model"])
    normalizer.load_state_dict(payload["normalizer"])
    return model.eval(), normalizer, info
