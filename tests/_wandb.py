"""Offline W&B runs in a test: ``import _wandb`` and ``offline_wandb = _wandb.offline_wandb`` (the fixture).

``offline_wandb`` is a temporary folder for the runs (pass it as ``wandb_dir``; they land in its
``wandb/``), with W&B's own data folder (where it stages artifact files until a sync) moved there
too, so no test writes into ``~/.local/share/wandb``.
"""
import pytest


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    folder = tmp_path / "wandb-runs"
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    monkeypatch.delenv("WANDB_SWEEP_ID", raising=False)
    return folder
