"""One experiment, fully described: which model, which features, how it is trained and augmented.

An :class:`Experiment` composes four typed configs whose defaults are the kit's recipe: ``model``
(:class:`~audiolab.models.ConvConfig` or :class:`~audiolab.models.TransformerConfig`), ``features``
(:class:`~audiolab.features.FeatureConfig`), ``train`` (:class:`~audiolab.train.TrainConfig`) and ``augment``
(:class:`~audiolab.augment.AugmentConfig`). So ``Experiment()`` is the kit's Architecture 1 and
``Experiment(model=TransformerConfig())`` its Architecture 2 (with ``lr=1e-3``, see :mod:`audiolab.configs`).

Change any field with a dotted name, the one way the search, the CLI, the W&B sweeps and the
benchmarks vary an experiment::

    exp = Experiment().replace({"train.lr": 1e-3, "model.channels": (64, 64, 64)})
    exp = exp.replace({"lr": 1e-3})          # a field name found in exactly one section also works
    exp = exp.replace(name="arch1-small")    # plain fields as keyword arguments

:meth:`Experiment.key` hashes everything that changes training, so two experiments with the same key train the same
model and a stored result can be reused."""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import re
import typing
from collections import abc
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, get_type_hints

import torch

from ._util import config_from, is_a, plain, tupled
from .augment import AugmentConfig
from .features import FeatureConfig
from .models import ARCHITECTURES, ConvConfig, ModelConfig, TransformerConfig, build_model
from .train import TrainConfig

#: The sections of an experiment that :meth:`Experiment.replace` reaches with dotted names.
SECTIONS = ("model", "features", "train", "augment")

_SECTION_TYPES = {"features": FeatureConfig, "train": TrainConfig, "augment": AugmentConfig}

#: Options added after results were first stored, with the value that switches each off: while off, they are left
#: out of :meth:`Experiment.to_dict` and so of the key, and results stored before they existed are still reused.
LATER_OPTIONS = {"augment": {"time_stretch": 1.0, "mel_shift": 0, "between_class": False, "crop_frames": 0},
                 "train": {"copies": 1}}


@dataclass(frozen=True)
class Experiment:
    """A model config, a front-end, a training recipe and augmentations, with a name."""

    name: str = ""  # default: "arch1" for Architecture 1, "arch2" for Architecture 2
    model: ModelConfig = field(default_factory=ConvConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    description: str = ""

    def __post_init__(self):
        if self.name == "" and isinstance(self.model, (ConvConfig, TransformerConfig)):
            object.__setattr__(self, "name", "arch1" if self.model.arch == "conv1d" else "arch2")
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}", self.name):
            raise ValueError(f"experiment name must be 1-100 letters, digits, '_', '.', '+' or '-', without slashes "
                             f"and not starting with a dot (it names a results folder), got {self.name!r}")
        if not isinstance(self.model, (ConvConfig, TransformerConfig)):
            raise TypeError(f"model must be a ConvConfig or a TransformerConfig, got {type(self.model).__name__}")
        for section, cls in _SECTION_TYPES.items():
            if not isinstance(getattr(self, section), cls):
                raise TypeError(f"{section} must be a {cls.__name__}, got {type(getattr(self, section)).__name__}")
        # Build on the meta device: checks that the parts fit together without allocating weights.
        with torch.device("meta"):
            build_model(self.model, self.features.n_mels, 10)

    @property
    def arch(self) -> str:
        """``"conv1d"`` (Architecture 1) or ``"transformer"`` (Architecture 2)."""
        return self.model.arch

    # -- serialisation -----------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-serialisable dict; ``Experiment.from_dict(e.to_dict()) == e``."""
        sections = {s: plain(getattr(self, s)) for s in SECTIONS}
        for section, off in LATER_OPTIONS.items():  # left out while off: the dict (and key) they had before
            sections[section] = {k: v for k, v in sections[section].items() if k not in off or v != off[k]}
        return {"name": self.name, "arch": self.arch, **sections, "description": self.description}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Experiment":
        """The experiment a :meth:`to_dict` describes (read back from a file): every field and type is checked."""
        if unknown := set(d) - {"name", "arch", "description", *SECTIONS}:
            raise ValueError(f"unknown Experiment field(s) {sorted(unknown)}; valid: name, arch, description, "
                             f"{', '.join(SECTIONS)}")
        arch = d.get("arch", "conv1d")
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
        types = {"model": ARCHITECTURES[arch][0], **_SECTION_TYPES}
        return cls(name=d.get("name", ""), description=d.get("description", ""),
                   **{s: config_from(t, d.get(s) or {}, f"experiment {s}") for s, t in types.items()})

    def key(self) -> str:
        """12 hex digits of the sha256 of :meth:`to_dict` without name and description: two experiments with the same
        key train identically (stored results are reused); any change of model, features, recipe or augmentation
        changes it."""
        d = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    # -- variations ---------------------------------------------------------------
    def replace(self, overrides: Optional[Mapping[str, Any]] = None, **fields) -> "Experiment":
        """A copy with ``overrides`` (``{"section.field": value}``; a key without a dot names a field of exactly one
        section: ``"lr"`` is ``"train.lr"``) and top-level ``fields`` changed. Strings (from the command line or a
        sweep) are parsed to the field's type (:func:`parse_value`); an unknown key or a bad value raises ``ValueError``
        naming it and the valid choices."""
        changes: dict[str, dict] = {}
        for key, value in dict(overrides or {}).items():
            section, name = self.resolve(key)
            changes.setdefault(section, {})[name] = self._coerce(section, name, value)
        for section, values in changes.items():
            try:
                fields[section] = dataclasses.replace(getattr(self, section), **values)
            except (TypeError, ValueError) as error:
                raise ValueError(f"experiment {self.name!r}: bad {section} values {values}: {error}") from None
        return dataclasses.replace(self, **fields)

    def resolve(self, key: str) -> tuple[str, str]:
        """``(section, field)`` of a dotted key (``"train.lr"``) or of a field name found in one section."""
        if "." in key:
            section, name = key.split(".", 1)
            if section not in SECTIONS:
                raise ValueError(f"unknown section {section!r} in {key!r}; sections: {', '.join(SECTIONS)}")
            if name not in self._fields(section):
                raise ValueError(f"{type(getattr(self, section)).__name__} has no field {name!r} ({key!r}); "
                                 f"valid: {', '.join(self._fields(section))}")
            return section, name
        found = [s for s in SECTIONS if key in self._fields(s)]
        if len(found) != 1:
            valid = ", ".join(f"{s}.{f}" for s in SECTIONS for f in self._fields(s))
            what = "is ambiguous" if found else "is not a field of any section"
            raise ValueError(f"{key!r} {what}; use a dotted name, one of: {valid}")
        return found[0], key

    def get(self, key: str) -> Any:
        """The current value of a dotted key (lists as tuples)."""
        section, name = self.resolve(key)
        return tupled(getattr(getattr(self, section), name))

    def _fields(self, section: str) -> list[str]:
        return [f.name for f in dataclasses.fields(getattr(self, section))]

    def _coerce(self, section: str, name: str, value: Any) -> Any:
        value = tupled(value)
        if not isinstance(value, str):
            return value
        hint = get_type_hints(type(getattr(self, section)))[name]
        parsed = parse_value(value, hint)
        if typing.get_origin(hint) is abc.Sequence and not isinstance(parsed, tuple):
            parsed = (parsed,)  # "64" for a sequence field (channels) is one block, as "64," is
        if not is_a(parsed, hint):
            kind = {int: "an integer", float: "a number"}.get(hint, str(hint).replace("typing.", ""))
            raise ValueError(f"{section}.{name} takes {kind}, got {value!r}")
        return parsed


def parse_value(text: str, hint: Any = None) -> Any:
    """A command-line string as the value of a config field of type ``hint``: ``"none"`` -> ``None`` (optional
    fields), ``"true"``/``"false"`` -> bools, ``"64,128"`` or ``"(64, 128)"`` -> a tuple of numbers, numbers -> int or
    float; anything else stays a string."""
    raw = text.strip()
    if raw.lower() in ("none", "null") and (hint is None or type(None) in typing.get_args(hint)):
        return None
    if hint is bool or raw.lower() in ("true", "false"):
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return raw.lower() in ("true", "1")
    if hint is str:
        return raw
    if "," in raw or raw[:1] in "([":
        return tuple(_number(v.strip()) for v in raw.strip("()[] ").split(",") if v.strip())
    return _number(raw)


def _number(text: str) -> Any:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else text
