"""benchmarks/weight_averaging.py: EMA and SWA of the weights, scored from the same training as the last
epoch, whose score must be the kit's own development-fold score."""
import pytest
import torch

from audiolab import configs
from audiolab.evaluation import cross_validate

import _bench


@pytest.fixture(scope="module")
def wa():
    return _bench.load("weight_averaging")


def test_ema_and_swa_follow_their_formulas(wa):
    model = torch.nn.BatchNorm1d(1)  # a float parameter and an integer buffer (num_batches_tracked)
    averages = wa.WeightAverages(model, epochs=4, decay=0.5, swa_epochs=2)
    for epoch, value in enumerate([1.0, 3.0, 5.0, 9.0], 1):
        model.weight.data.fill_(value)
        model.num_batches_tracked.fill_(epoch)
        averages({"epoch": epoch})
    # EMA: 1 -> 0.5*1+0.5*3 = 2 -> 0.5*2+0.5*5 = 3.5 -> 0.5*3.5+0.5*9 = 6.25; SWA: epochs 3 and 4 only
    assert averages.ema["weight"].item() == pytest.approx(6.25)
    assert averages.swa["weight"].item() == pytest.approx(7.0) and averages.swa_count == 2
    assert averages.ema["num_batches_tracked"].item() == averages.swa["num_batches_tracked"].item() == 4


def test_summary_pairs_each_rule_with_the_last_epoch_seed_by_seed(wa):
    results = {(s, f): {"last": 0.8, "ema": 0.8 + 0.01 * s, "swa": 0.8} for s in (0, 1) for f in wa.FOLDS}
    rows = {r["rule"]: r for r in wa.summarize(results)}
    assert rows["last"]["accuracy"] == pytest.approx(80.0) and "difference" not in rows["last"]
    assert rows["ema"]["difference"] == pytest.approx(0.5) and rows["swa"]["difference"] == pytest.approx(0.0)
    low, high = rows["ema"]["ci"]
    assert low < 0.5 < high


def test_the_last_epoch_is_the_kits_development_score(wa, synthetic_esc10, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIOLAB_WORKERS", "1")  # main sets it from --workers: restored after the test
    monkeypatch.setenv("AUDIOLAB_COHORT", "1")  # one model per step, as the benchmark's fit: the same dropout masks
    threads = torch.get_num_threads()
    try:
        rows = wa.main(["--seeds", "0", "--epochs", "2", "--workers", "1", "--root", str(synthetic_esc10)])
        meta, features = configs.load_dataset(root=synthetic_esc10, strict=False)
        exp = configs.arch1(configs.get_profile("full", epochs=2))
        kit = cross_validate(exp, meta, features, tmp_path, "development")  # one thread too
    finally:
        torch.set_num_threads(threads)
    assert rows[0]["rule"] == "last" and rows[0]["accuracy"] == pytest.approx(100 * kit["accuracy_mean"])
    assert "95 % CI" not in capsys.readouterr().out  # one seed: no interval
