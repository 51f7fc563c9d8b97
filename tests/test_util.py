"""audiolab._util: atomic writes."""
import os

import pytest

from audiolab._util import atomic_write, read_json, write_json


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    """Result files were created 0600 (mkstemp), so a shared course folder was unreadable by others (#20)."""
    old = os.umask(umask)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
        atomic_write(tmp_path / "m.pt", lambda h: h.write(b"x"), binary=True)
    finally:
        os.umask(old)
    for name in ("r.json", "m.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
    assert read_json(tmp_path / "r.json") == {"a": 1} and sorted(os.listdir(tmp_path)) == ["m.pt", "r.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    write_json(tmp_path / "r.json", {"a": 1})

    def fail(handle):
        handle.write("{half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "r.json", fail)
    assert read_json(tmp_path / "r.json") == {"a": 1} and os.listdir(tmp_path) == ["r.json"]


def test_config_from_checks_fields_and_types():
    from audiolab._util import config_from
    from audiolab.features import FeatureConfig
    from audiolab.models import ConvConfig

    assert config_from(FeatureConfig, {"n_mels": 32, "f_max": None, "duration": 4}, "x") == FeatureConfig(n_mels=32,
                                                                                                          duration=4)
    assert config_from(ConvConfig, {"channels": [8, 16], "stride": [1, 2]}, "x").channels == (8, 16)
    for values, message in [({"n_mels": "64"}, "x: n_mels='64' is not"), ({"n_mels": True}, "n_mels=True"),
                            ({"duration": float("nan")}, "duration=nan"), ({"window": "hann"}, "unknown FeatureConfig"),
                            ({"n_mels": 0}, "not a valid FeatureConfig"), ([1, 2], "must be a mapping")]:
        with pytest.raises(ValueError, match=message):
            config_from(FeatureConfig, values, "x")
    with pytest.raises(ValueError, match=r"channels=\['8'\] is not"):
        config_from(ConvConfig, {"channels": ["8"]}, "x")
