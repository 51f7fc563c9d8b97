"""What every figure module shares: array conversion, the palette, and :func:`save`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from .._util import to_numpy

__all__ = ["save"]


def _to_numpy(x: Any) -> np.ndarray:
    """:func:`audiolab._util.to_numpy`, tensors cast to float32 first (NumPy has no bfloat16)."""
    return to_numpy(x.float() if hasattr(x, "float") and hasattr(x, "detach") else x)


def _palette(n: int) -> list:
    return sns.color_palette("tab10" if n <= 10 else "husl", n)


def save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG (dpi 120, tight bounding box), creating parent folders,
    then close it. A path without a suffix gets ``.png``; another suffix (``.pdf``,
    ``.svg``) picks that format. Returns the path written."""
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    try:  # a pyplot-managed figure would otherwise stay open
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:
        pass
    return path
