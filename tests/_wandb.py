"""W&B in a test: ``import _wandb``, then ``offline_wandb = _wandb.offline_wandb`` (real offline runs in a temporary
``WANDB_DIR``, W&B's data folder there too) or ``_wandb.Recorder`` (a stand-in run that keeps what it is given)."""
import pytest


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    folder = tmp_path / "wandb-runs"
    folder.mkdir()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(folder))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    monkeypatch.delenv("WANDB_SWEEP_ID", raising=False)
    return folder


class Recorder:
    """A W&B run that records what reaches it: ``init`` (the arguments of start_run), ``logged``, ``summary``,
    ``artifacts``, ``finished``. Patch it in with ``monkeypatch.setattr(tracking, "start_run", Recorder.start(runs))``."""

    disabled = False

    def __init__(self, **init):
        self.init, self.logged, self.summary, self.artifacts, self.finished = init, [], {}, [], None

    @classmethod
    def start(cls, runs: list):
        return lambda **init: runs.append(cls(**init)) or runs[-1]

    def log(self, values):
        self.logged.append(dict(values))

    def log_artifact(self, artifact):
        self.artifacts.append(artifact)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finished = "failed" if exc_type else "finished"
        return False
