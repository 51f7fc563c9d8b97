"""What ``audiolab data`` prints: clip counts per class and fold, audio properties, provenance.

* :func:`summarize` -- the numbers, from a :func:`~audiolab.data.metadata.load_metadata`
  table and the audio file headers (nothing is decoded);
* :func:`format_summary` -- those numbers as text;
* :func:`data_command` -- the ``audiolab data`` command itself.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import soundfile as sf

from audiolab.data.metadata import ESC10_CLASSES, load_metadata
from audiolab.data.paths import PathLike

__all__ = ["summarize", "format_summary", "data_command"]


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
