"""Checkpoints round-trip, and a crafted one is refused without running its code."""

import numpy as np
import pytest
import torch

from audiolab._util import plain
from audiolab import checkpoint
from audiolab.checkpoint import UnsafeCheckpointError, load_checkpoint, save_checkpoint
from audiolab.features import Normalizer
from audiolab.models import ARCHITECTURES, ConvConfig, build_model
from audiolab.predict import predict_command
from audiolab.train import predict_proba

CONFIG = ConvConfig(channels=(8, 8, 8), kernel_size=3, stride=1)
# info["params"] is the model config in full, so the model is rebuilt exactly as it was trained
INFO = {"arch": "conv1d", "params": plain(CONFIG), "n_mels": 8, "classes": ["a", "b", "c"]}


def _model_and_normalizer():
    torch.manual_seed(0)
    model = build_model(CONFIG, 8, 3).eval()
    normalizer = Normalizer(8).fit(torch.randn(10, 8, 24))
    return model, normalizer


def test_round_trip(tmp_path):
    model, normalizer = _model_and_normalizer()
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer, 3, INFO)
    loaded, loaded_norm, info = load_checkpoint(path)
    assert info == INFO and loaded.config == CONFIG == ARCHITECTURES[info["arch"]][0](**info["params"])
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
    with pytest.raises(UnsafeCheckpointError, match="shared_by_a_classmate.pt") as info:
        load_checkpoint(path)
    assert not marker.exists()
    assert not any(w in str(info.value) for w in ("weights_only", "trust", "\x1b"))  # no way to load it anyway
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
    with pytest.raises(ValueError, match="m.pt: params has the unknown ConvConfig field 'kernel'"):
        load_checkpoint(path)


HOSTILE = {  # plain data, accepted by weights_only=True: each used to hang, allocate tens of GB or raise TypeError
    "tta_shifts": ({"tta_shifts": 10**9}, "tta_shifts out of type or bounds"),
    "duration": ({"features": {"duration": 1e9, "n_mels": 8}}, "features.duration, .*out of type or bounds"),
    "sample_rate": ({"features": {"sample_rate": 10**9, "n_mels": 8}}, "features.sample_rate, .*out of type"),
    "hop": ({"features": {"hop_length": 1, "n_mels": 8}}, r"features \(frames\) out of type"),
    "feature key": ({"features": {"n_mels": 8, "window": "hann"}}, "unknown FeatureConfig field 'window'"),
    "feature type": ({"features": {"n_mels": 8, "f_min": "low"}}, "features: f_min='low' is not"),
    "channels": ({"params": {**plain(CONFIG), "channels": [2**20, 8, 8]}}, "weights do not have the shapes"),
    "blocks": ({"params": {**plain(CONFIG), "channels": [8] * 1000, "stride": 1}}, r"params \(conv blocks\)"),
    "depth": ({"arch": "transformer", "params": {"channels": [8], "stride": 1, "depth": 10**9, "d_model": 8,
                                                 "heads": 2}}, "params.depth out of type or bounds"),
    "n_mels": ({"n_mels": 10**9}, "n_mels out of type or bounds"),
    "classes": ({"classes": "abc"}, "classes out of type or bounds"),
    "arch": ({"arch": ["conv1d"]}, "unknown architecture"),
    "mlp_ratio": ({"arch": "transformer", "params": {"channels": [8], "stride": 1, "d_model": 8, "heads": 2,
                                                     "mlp_ratio": 1e300}}, "cannot be built"),
}


@pytest.mark.parametrize("change", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_values_are_refused_before_anything_is_built(tmp_path, change, capsys, monkeypatch):
    values, message = change
    model, normalizer = _model_and_normalizer()
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer, 3, {**INFO, **values})
    real = checkpoint.build_model

    def shapes_only(*args):  # on the meta device a model allocates nothing: only its shapes are compared
        assert torch.empty(0).device.type == "meta", "a model was built before its description was checked"
        return real(*args)

    monkeypatch.setattr(checkpoint, "build_model", shapes_only)
    with pytest.raises(ValueError, match=message) as info:
        load_checkpoint(path)
    assert "m.pt" in str(info.value)
    assert predict_command(__import__("types").SimpleNamespace(files=["x.wav"], checkpoint=str(path), top=3)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "m.pt" in err and "Traceback" not in err


def test_weights_of_another_shape_than_the_info_says_are_refused(tmp_path):
    model, normalizer = _model_and_normalizer()
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer, 3, {**INFO, "classes": ["a", "b"]})
    with pytest.raises(ValueError, match="m.pt: its weights do not have the shapes"):
        load_checkpoint(path)
