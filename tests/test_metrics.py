"""audiolab.metrics against small hand-computed examples."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from audiolab import metrics

NAMES = ["dog", "rain", "siren"]


def one_hot_probs(pred, n_classes=3, high=0.8):
    """Probabilities with `high` on the predicted class and the rest spread evenly."""
    low = (1.0 - high) / (n_classes - 1)
    p = np.full((len(pred), n_classes), low)
    p[np.arange(len(pred)), pred] = high
    return p


def test_perfect_predictions():
    y = np.array([0, 1, 2, 0, 1, 2])
    res = metrics.evaluate(y, one_hot_probs(y), NAMES)
    assert res["n"] == 6
    assert res["accuracy"] == 1.0
    assert res["macro_f1"] == 1.0
    assert res["per_class_f1"] == {"dog": 1.0, "rain": 1.0, "siren": 1.0}
    assert res["auc_macro_ovr"] == 1.0
    assert res["auc_classes"] == NAMES
    assert res["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    for name in NAMES:
        curve = res["roc"][name]
        assert curve["auc"] == 1.0
        assert curve["fpr"][0] == 0.0 and curve["tpr"][-1] == 1.0
        assert len(curve["fpr"]) == len(curve["tpr"])
    json.dumps(res, allow_nan=False)  # plain JSON, no NaN


def test_known_confusion_matrix_and_f1():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    res = metrics.evaluate(torch.tensor(y), torch.tensor(one_hot_probs(pred)), NAMES)
    assert res["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert res["accuracy"] == pytest.approx(4 / 6)
    # dog: P=1/2 R=1/2; rain: P=2/3 R=1; siren: P=1 R=1/2
    assert res["per_class_f1"]["dog"] == pytest.approx(0.5)
    assert res["per_class_f1"]["rain"] == pytest.approx(0.8)
    assert res["per_class_f1"]["siren"] == pytest.approx(2 / 3)
    assert res["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # dog AUC by counting pairs: positives score (0.8, 0.1), negatives (0.1, 0.1, 0.1, 0.8)
    # -> (3 wins + 1 tie) + (3 ties) = 5 of 8 pairs
    assert res["roc"]["dog"]["auc"] == pytest.approx(5 / 8)
    assert res["auc_macro_ovr"] == pytest.approx(
        np.mean([res["roc"][n]["auc"] for n in NAMES])
    )


def test_absent_class_is_excluded_from_auc_and_reported():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    res = metrics.evaluate(y, one_hot_probs(pred), NAMES)
    assert res["auc_classes"] == ["dog", "rain"]
    assert set(res["roc"]) == {"dog", "rain"}
    assert res["auc_macro_ovr"] is not None and math.isfinite(res["auc_macro_ovr"])
    assert res["per_class_f1"]["siren"] is None  # neither present nor predicted
    assert res["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert res["confusion_matrix"][2] == [0, 0, 0]
    json.dumps(res, allow_nan=False)


def test_single_class_gives_no_auc():
    res = metrics.evaluate(np.array([1, 1]), one_hot_probs(np.array([1, 0])), NAMES)
    assert res["auc_macro_ovr"] is None and res["auc_classes"] == [] and res["roc"] == {}


def test_logits_are_rejected_with_a_hint():
    with pytest.raises(ValueError, match="softmax"):
        metrics.evaluate(np.array([0, 1]), np.array([[2.0, -1.0, 0.5], [0.1, 3.0, -2.0]]), NAMES)


def test_shape_and_label_errors():
    with pytest.raises(ValueError, match="class names"):
        metrics.evaluate(np.array([0]), one_hot_probs(np.array([0])), NAMES[:2])
    with pytest.raises(ValueError, match="range"):
        metrics.evaluate(np.array([3]), one_hot_probs(np.array([0])), NAMES)


def test_nonfinite_rows_warn_instead_of_crashing():
    p = one_hot_probs(np.array([0, 1, 2]))
    p[1] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN"):
        res = metrics.evaluate(np.array([0, 1, 2]), p, NAMES)
    assert res["nonfinite_rows"] == 1
    assert res["accuracy"] == pytest.approx(2 / 3)


def small_model():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model[0].bias.requires_grad_(False)
    return model


def test_count_parameters_exact():
    counts = metrics.count_parameters(small_model())
    # Linear weight 6 trainable, bias 2 frozen; BatchNorm weight+bias 4 trainable;
    # buffers running_mean 2 + running_var 2 + num_batches_tracked 1
    assert counts == {"trainable": 10, "non_trainable": 2, "buffers": 5, "total": 12}


class WithToken(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, 4))
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.head = small_model()


def test_parameter_table_rows_add_up():
    table = metrics.parameter_table(WithToken())
    assert list(table.columns) == ["module", "type", "trainable", "non_trainable", "buffers"]
    assert list(table["module"]) == ["(direct)", "body", "head", "total"]
    rows = table.set_index("module")
    assert rows.loc["(direct)", "trainable"] == 4
    assert rows.loc["body", "trainable"] == 20
    assert rows.loc["head", "type"] == "Sequential"
    assert rows.loc["total", "type"] == "WithToken"
    body = table[table["module"] != "total"][["trainable", "non_trainable", "buffers"]].sum()
    assert list(body) == list(rows.loc["total", ["trainable", "non_trainable", "buffers"]])
    assert rows.loc["total", "buffers"] == 5


def test_parameter_table_depth_two():
    table = metrics.parameter_table(WithToken(), depth=2)
    assert list(table["module"]) == ["(direct)", "body.0", "body.1", "head.0", "head.1", "total"]
    assert table.set_index("module").loc["head.0", "non_trainable"] == 2


def test_top_confusions_lists_the_largest_mistakes_first():
    cm = np.array([[5, 0, 2], [3, 4, 0], [1, 0, 6]])
    table = metrics.top_confusions(cm, ["a", "b", "c"], n=2)
    assert table.to_dict("records") == [{"true": "b", "predicted": "a", "clips": 3},
                                        {"true": "a", "predicted": "c", "clips": 2}]
    assert len(metrics.top_confusions(np.eye(3), ["a", "b", "c"])) == 0  # no mistakes, no rows
    with pytest.raises(ValueError, match="one row per class"):
        metrics.top_confusions(cm, ["a", "b"])
