"""Checkpoints round-trip, and a crafted one is refused without running its code."""

import numpy as np
import pytest
import torch

from audiolab.checkpoint import UnsafeCheckpointError, load_checkpoint, save_checkpoint
from audiolab.features import Normalizer
from audiolab.models import ConvConfig, build_model, model_config
from audiolab.predict import predict_command
from audiolab.train import predict_proba

CONFIG = ConvConfig(channels=(8, 8, 8), kernel_size=3, stride=1)
# info["params"] is the model config in full, so the model is rebuilt exactly as it was trained
INFO = {"arch": "conv1d", "params": CONFIG.to_dict(), "n_mels": 8, "classes": ["a", "b", "c"]}


def _model_and_normalizer():
    torch.manual_seed(0)
    model = build_model(CONFIG, 8, 3).eval()
    normalizer = Normalizer(8).fit(torch.randn(10, 8, 24))
    return model, normalizer


def test_round_trip(tmp_path):
    model, normalizer = _model_and_normalizer()
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer, 3, INFO)
    loaded, loaded_norm, info = load_checkpoint(path)
    assert info == INFO and loaded.config == CONFIG == model_config(info["arch"], info["params"])
    x = torch.randn(5, 8, 24)
    np.testing.assert_allclose(predict_proba(loaded, x, loaded_norm), predict_proba(model, x, normalizer), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: the code a crafted checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _crafted(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "shared_by_a_classmate.pt"
    model, normalizer = _model_and_normalizer()
    payload = {"model": model.state_dict(), "normalizer": normalizer.state_dict(), "epoch": 1,
               "info": {**INFO, "note": _Payload(marker)}}
    torch.save(payload, path)
    return path, marker


def test_crafted_checkpoint_is_refused_and_its_code_never_runs(tmp_path):
    path, marker = _crafted(tmp_path)
    with pytest.raises(UnsafeCheckpointError, match="shared_by_a_classmate.pt"):
        load_checkpoint(path)
    assert not marker.exists()
    # the same file really does run code when unpickled without the guard, so the test can fail:
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_predict_command_refuses_a_crafted_checkpoint(tmp_path, capsys):
    from types import SimpleNamespace

    path, marker = _crafted(tmp_path)
    assert predict_command(SimpleNamespace(files=["x.wav"], checkpoint=str(path), top=3)) == 2
    err = capsys.readouterr().err
    assert "refused" in err and str(path) in err
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="notes.pt"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="audiolab train"):
        load_checkpoint(tmp_path / "nope.pt")


def test_info_must_describe_the_model(tmp_path):
    model, normalizer = _model_and_normalizer()
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer, 3, {k: v for k, v in INFO.items() if k != "classes"})
    with pytest.raises(ValueError, match=r"lacks \['classes'\]"):
        load_checkpoint(path)
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer, 3, {**INFO, "params": {**INFO["params"], "kernel": 3}})
    with pytest.raises(ValueError, match="unknown model parameter"):
        load_checkpoint(path)
