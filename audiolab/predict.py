"""Classify any audio file with a trained model: ``audiolab predict FILE...``.

The model is the one ``audiolab reports`` keeps as the winner of the comparison
(``reports/results/best_model.pt``), or any checkpoint written by
:func:`audiolab.checkpoint.save_checkpoint` whose ``info`` names its architecture,
classes and feature configuration.

Every file soundfile can read works (wav, flac, ogg, ... at any sample rate,
mono or stereo, any length). It is decoded exactly as the training clips were
(:func:`audiolab.data.load_audio`: mono, resampled to the model's rate). A clip
longer than the model's window (5 s) is scored in sliding windows (hop: half a
window) and the class probabilities of the windows are averaged; a shorter one
is zero-padded to one window, as the short ESC-10 clips were in training.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np
import soundfile as sf
import torch

from .checkpoint import load_checkpoint
from .data import AudioDecodeError, load_audio
from .evaluation.store import BEST_MODEL, ResultsStore
from .features import FeatureConfig, LogMel
from .train import predict_proba

__all__ = [
    "BEST_MODEL",
    "default_checkpoint",
    "load_predictor",
    "predict_files",
    "format_prediction",
    "predict_command",
]

#: Windows overlap by half: a hop of ``HOP_FRACTION`` x the model's clip duration.
HOP_FRACTION = 0.5
#: Files up to this much longer than the model's clip duration are centre-cropped to one window, as the
#: training clips were (ESC-10's "5-s" clips are often a few samples longer).
ONE_WINDOW_SLACK = 0.05

PathLike = Union[str, os.PathLike]


class CheckpointNotFoundError(FileNotFoundError):
    """No model to predict with; the message says how to get one."""


def default_checkpoint() -> Path:
    """``reports/results/best_model.pt`` of this checkpoint (``$AUDIOLAB_RESULTS/best_model.pt`` when set)."""
    return ResultsStore.for_profile("full").best_model


def _resolve_checkpoint(checkpoint: Optional[PathLike]) -> Path:
    path = Path(checkpoint).expanduser() if checkpoint is not None else default_checkpoint()
    if not path.is_file():
        how = (
            "run `make reports` first (it trains the models and keeps the best one there) or pass --checkpoint PATH"
            if checkpoint is None
            else "check the path, or leave --checkpoint out to use the model `make reports` keeps"
        )
        raise CheckpointNotFoundError(f"no model checkpoint at {path}: {how}")
    return path


class Predictor:
    """A loaded checkpoint, ready to score audio files (see :func:`load_predictor`)."""

    def __init__(self, checkpoint: Optional[PathLike] = None):
        self.checkpoint = _resolve_checkpoint(checkpoint)
        self.model, self.normalizer, self.info = load_checkpoint(self.checkpoint)
        self.model.eval()
        self.classes = tuple(self.info["classes"])
        features = self.info.get("features")
        self.features = FeatureConfig(**features) if features else FeatureConfig()
        if self.features.n_mels != self.info["n_mels"]:
            raise ValueError(
                f"checkpoint {self.checkpoint} is inconsistent: the model reads {self.info['n_mels']} mel bands "
                f"but its feature config has {self.features.n_mels}"
            )
        self.logmel = LogMel(self.features)
        beside = self._json(self.checkpoint.with_suffix(".json"))  # written by notebook 03 beside best_model.pt
        self.name = self.info.get("experiment") or self.info.get("name") or beside.get("experiment")
        self.tta_shifts = self._tta_shifts(beside)

    @staticmethod
    def _json(path: Path) -> dict:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _tta_shifts(self, beside: dict) -> int:
        """How many time shifts the model was evaluated with (``TrainConfig.tta_shifts``): predictions match it.

        Looked up in the checkpoint's info, then the JSON beside it; 1 (no shifts) if none says.
        """
        for source in (self.info, beside):
            if source.get("tta_shifts"):
                return int(source["tta_shifts"])
        return 1

    def windows(self, path: PathLike) -> tuple[torch.Tensor, float]:
        """The decoded file cut into model-sized windows ``(windows, samples)``, and its duration in seconds."""
        try:
            info = sf.info(str(path))
        except Exception as error:  # libsndfile raises several types for unreadable files
            raise AudioDecodeError(f"cannot read audio file {path}: {error}") from error
        if info.frames <= 0 or info.samplerate <= 0:
            raise AudioDecodeError(f"cannot read audio file {path}: it holds no audio samples")
        seconds = info.frames / info.samplerate
        config = self.features
        window = config.num_samples
        if seconds <= config.duration * (1 + ONE_WINDOW_SLACK):
            # Decoding pads (and crops a sample of rounding) exactly as for the training clips.
            return load_audio(path, config.sample_rate, config.duration, offset="center").unsqueeze(0), seconds
        wave = load_audio(path, config.sample_rate, seconds, offset="start")
        hop = max(1, int(round(window * HOP_FRACTION)))
        starts = list(range(0, wave.shape[0] - window + 1, hop))
        if starts[-1] + window < wave.shape[0]:  # the last window ends where the file ends
            starts.append(wave.shape[0] - window)
        return torch.stack([wave[s : s + window] for s in starts]), seconds

    @torch.no_grad()
    def predict(self, path: PathLike, top: int = 3) -> dict:
        """Class probabilities of one file (mean over its windows) and its ``top`` classes."""
        windows, seconds = self.windows(path)
        x = self.logmel(windows)
        probs = predict_proba(self.model, x, self.normalizer, shifts=self.tta_shifts).mean(axis=0)
        order = np.argsort(-probs, kind="stable")[: max(1, min(top, len(self.classes)))]
        return {
            "path": str(path),
            "duration": seconds,
            "windows": int(windows.shape[0]),
            "top": [(self.classes[i], float(probs[i])) for i in order],
            "probs": {name: float(p) for name, p in zip(self.classes, probs)},
            "error": None,
        }


def load_predictor(checkpoint: Optional[PathLike] = None) -> Predictor:
    """Load a checkpoint (default: :func:`default_checkpoint`); raises a clear error if it is missing."""
    return Predictor(checkpoint)


def predict_files(paths: Iterable[PathLike], checkpoint: Optional[PathLike] = None, top: int = 3) -> list[dict]:
    """Top-``top`` classes of each audio file.

    Returns one dict per file, in order: ``path``, ``duration`` (s), ``windows``
    (how many 5-s windows were averaged), ``top`` (``[(class, probability), ...]``,
    most likely first), ``probs`` (every class) and ``error`` (``None``, or why the
    file could not be read; then ``top`` and ``probs`` are empty). A missing
    checkpoint raises :class:`FileNotFoundError` saying how to get one.
    """
    predictor = load_predictor(checkpoint)
    results = []
    for path in paths:
        try:
            results.append(predictor.predict(path, top))
        except (AudioDecodeError, OSError) as error:
            results.append({"path": str(path), "duration": None, "windows": 0, "top": [], "probs": {},
                            "error": str(error)})
    return results


def format_prediction(result: dict) -> str:
    """Text for one result of :func:`predict_files`."""
    if result["error"]:
        return f"{result['path']}: error: {result['error']}"
    windows = result["windows"]
    head = f"{result['path']}  ({result['duration']:.1f} s, {windows} window{'s' if windows != 1 else ''})"
    width = max(len(name) for name, _ in result["top"])
    lines = [head] + [f"  {rank}. {name:<{width}}  {p:6.1%}" for rank, (name, p) in enumerate(result["top"], 1)]
    return "\n".join(lines)


def predict_command(args) -> int:
    """``audiolab predict FILE... [--checkpoint PATH] [--top K]``: 0 if every file was classified, 2 otherwise."""
    top = getattr(args, "top", 3) or 3
    if top < 1:
        print("audiolab predict: error: --top must be at least 1", file=sys.stderr)
        return 2
    try:
        predictor = load_predictor(getattr(args, "checkpoint", None))
    except (FileNotFoundError, ValueError) as error:
        print(f"audiolab predict: error: {error}", file=sys.stderr)
        return 2
    model = predictor.name or predictor.info.get("arch", "model")
    print(f"model: {model} ({predictor.checkpoint})")
    status = 0
    for path in args.files:
        try:
            result = predictor.predict(path, top)
        except (AudioDecodeError, OSError) as error:
            print(f"audiolab predict: error: {error}", file=sys.stderr)
            status = 2
            continue
        print(format_prediction(result))
    return status
