"""Classify any audio file with a trained model: ``audiolab predict FILE...``.

The model is the winner ``audiolab reports`` keeps (``reports/results/best_model.pt``) or any checkpoint written by
:func:`audiolab.checkpoint.save_checkpoint`. Any file soundfile reads (wav, flac, ogg, ...; any rate, channels and
length) is decoded as the training clips were (:func:`audiolab.data.load_audio`). A clip longer than the model's window
(5 s) is scored in sliding windows (hop: half a window) whose probabilities are averaged; a shorter one is zero-padded.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
import torch

from ._util import PathLike
from .checkpoint import load_checkpoint
from .data import AudioDecodeError, load_audio
from .evaluation.store import ResultsStore
from .features import FeatureConfig, LogMel
from .train import predict_proba

#: Windows overlap by half: a hop of ``HOP_FRACTION`` x the model's clip duration.
HOP_FRACTION = 0.5
#: Files up to this much longer than the model's clip duration are centre-cropped to one window, as the
#: training clips were (ESC-10's "5-s" clips are often a few samples longer).
ONE_WINDOW_SLACK = 0.05


class Predictor:
    """A loaded checkpoint (default: ``reports/results/best_model.pt``, or ``$AUDIOLAB_RESULTS/best_model.pt``),
    ready to score audio files; a clear error when it is missing or invalid."""

    def __init__(self, checkpoint: Optional[PathLike] = None):
        path = Path(checkpoint).expanduser() if checkpoint is not None else ResultsStore.for_profile("full").best_model
        if not path.is_file():
            how = ("run `make reports` first (it trains the models and keeps the best one there) or pass "
                   "--checkpoint PATH" if checkpoint is None
                   else "check the path, or leave --checkpoint out to use the model `make reports` keeps")
            raise FileNotFoundError(f"no model checkpoint at {path}: {how}")
        self.checkpoint = path
        self.model, self.normalizer, self.info = load_checkpoint(path)  # checks the info's types and bounds
        self.classes = tuple(self.info["classes"])
        self.features = FeatureConfig(**self.info["features"]) if self.info.get("features") else FeatureConfig()
        if self.features.n_mels != self.info["n_mels"]:
            raise ValueError(f"checkpoint {path} has no feature config for its {self.info['n_mels']} mel bands; "
                             "it was not written by audiolab")
        self.logmel = LogMel(self.features)
        self.name = self.info.get("experiment") or self.info["arch"]
        # predictions average the time shifts the model was evaluated with (TrainConfig.tta_shifts); 1: none
        self.tta_shifts = self.info.get("tta_shifts", 1)

    def windows(self, path: PathLike) -> tuple[torch.Tensor, float]:
        """The decoded file cut into model-sized windows ``(windows, samples)``, and its duration in seconds."""
        try:
            info = sf.info(str(path))
        except Exception as error:  # libsndfile raises several types for unreadable files
            raise AudioDecodeError(f"cannot read audio file {path}: {error}") from error
        seconds, config = info.frames / max(info.samplerate, 1), self.features
        if seconds <= config.duration * (1 + ONE_WINDOW_SLACK):
            # Decoding pads (and crops a sample of rounding) exactly as for the training clips.
            return load_audio(path, config.sample_rate, config.duration, offset="center").unsqueeze(0), seconds
        wave, window = load_audio(path, config.sample_rate, seconds, offset="start"), config.num_samples
        starts = list(range(0, wave.shape[0] - window + 1, max(1, int(round(window * HOP_FRACTION)))))
        if starts[-1] + window < wave.shape[0]:  # the last window ends where the file ends
            starts.append(wave.shape[0] - window)
        return torch.stack([wave[s : s + window] for s in starts]), seconds

    @torch.no_grad()
    def predict(self, path: PathLike, top: int = 3) -> dict:
        """Class probabilities of one file (mean over its windows) and its ``top`` classes."""
        windows, seconds = self.windows(path)
        probs = predict_proba(self.model, self.logmel(windows), self.normalizer, shifts=self.tta_shifts).mean(axis=0)
        order = np.argsort(-probs, kind="stable")[: max(1, min(top, len(self.classes)))]
        return {"path": str(path), "duration": seconds, "windows": int(windows.shape[0]),
                "top": [(self.classes[i], float(probs[i])) for i in order],
                "probs": {name: float(p) for name, p in zip(self.classes, probs)}}


def predict_command(args) -> int:
    """``audiolab predict FILE... [--checkpoint PATH] [--top K]``: 0 if every file was classified, 2 otherwise
    (each refusal one line on stderr)."""
    try:
        if args.top < 1:
            raise ValueError("--top must be at least 1")
        predictor = Predictor(args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        print(f"audiolab predict: error: {error}", file=sys.stderr)
        return 2
    print(f"model: {predictor.name} ({predictor.checkpoint})")
    status = 0
    for path in args.files:
        try:
            result = predictor.predict(path, args.top)
            width = max(len(name) for name, _ in result["top"])
            print(f"{result['path']}  ({result['duration']:.1f} s, {result['windows']} window(s))",
                  *(f"  {rank}. {name:<{width}}  {p:6.1%}" for rank, (name, p) in enumerate(result["top"], 1)), sep="\n")
        except (AudioDecodeError, OSError) as error:
            print(f"audiolab predict: error: {error}", file=sys.stderr)
            status = 2
    return status
