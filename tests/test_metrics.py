"""Tests of sklearn_elm.metrics: per-class and shot accuracies, imbalanced-learn re-exports."""

import warnings

import imblearn.metrics
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from sklearn_elm import metrics
from sklearn_elm.metrics import (
    classification_report_imbalanced,
    geometric_mean_score,
    per_class_accuracy,
    shot_accuracy,
)


@pytest.fixture
def random_predictions():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=400)
    # right 60% of the time, a uniform guess otherwise
    y_pred = np.where(rng.random(400) < 0.6, y_true, rng.integers(0, 5, size=400))
    return y_true, y_pred


# --------------------------------------------------------------------------------------------
# per_class_accuracy
# --------------------------------------------------------------------------------------------
def test_per_class_accuracy_matches_confusion_matrix(random_predictions):
    y_true, y_pred = random_predictions
    matrix = confusion_matrix(y_true, y_pred)
    expected = np.diag(matrix) / matrix.sum(axis=1)
    assert_allclose(per_class_accuracy(y_true, y_pred), expected)
    assert np.mean(per_class_accuracy(y_true, y_pred)) == pytest.approx(
        balanced_accuracy_score(y_true, y_pred)
    )


def test_per_class_accuracy_labels_order_and_absent_classes():
    y_true = ["cat", "cat", "dog", "dog", "dog", "fox"]
    y_pred = ["cat", "dog", "dog", "dog", "owl", "cat"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an absent class is NaN, silently
        by_default = per_class_accuracy(y_true, y_pred)
        chosen = per_class_accuracy(y_true, y_pred, labels=["fox", "emu", "dog"])
    # sorted labels of y_true and y_pred; "owl" is never a true label
    assert_allclose(by_default, [0.5, 2 / 3, 0.0, np.nan])
    assert_allclose(chosen, [0.0, np.nan, 2 / 3])


def test_per_class_accuracy_binary_reports_both_classes():
    assert_allclose(per_class_accuracy([0, 0, 0, 1], [0, 1, 0, 1]), [2 / 3, 1.0])


# --------------------------------------------------------------------------------------------
# shot_accuracy
# --------------------------------------------------------------------------------------------
def test_shot_accuracy_groups_by_training_counts():
    # classes 0..5 with per-class accuracies 1, 1/2, 0, 1/4, 3/4, 1
    y_true = np.repeat(np.arange(6), 4)
    y_pred = y_true.copy()
    y_pred[[4, 5]] = 0  # class 1: 2 of 4 right
    y_pred[8:12] = 3  # class 2: none right
    y_pred[[12, 13, 14]] = 1  # class 3: 1 of 4 right
    y_pred[16] = 5  # class 4: 3 of 4 right
    train_counts = [1000, 101, 100, 20, 19, 3]  # many, many, medium, medium, few, few

    scores = shot_accuracy(y_true, y_pred, train_counts)
    assert set(scores) == {"many", "medium", "few", "overall"}
    assert scores["many"] == pytest.approx((1 + 0.5) / 2)
    assert scores["medium"] == pytest.approx((0 + 0.25) / 2)  # both bounds are medium
    assert scores["few"] == pytest.approx((0.75 + 1) / 2)
    assert scores["overall"] == pytest.approx(accuracy_score(y_true, y_pred))

    as_dict = shot_accuracy(y_true, y_pred, dict(enumerate(train_counts)))
    assert as_dict == scores
    narrower = shot_accuracy(y_true, y_pred, train_counts, many=19, few=19)
    assert narrower["medium"] == pytest.approx(0.75)  # only the class with 19 samples


def test_shot_accuracy_overall_is_plain_accuracy_on_imbalanced_test_sets():
    y_true = np.array([0] * 8 + [1] * 2)
    y_pred = np.array([0] * 8 + [0, 1])
    scores = shot_accuracy(y_true, y_pred, [500, 5])
    assert scores["overall"] == pytest.approx(0.9)
    assert (scores["many"], scores["few"]) == (1.0, 0.5)


def test_shot_accuracy_empty_group_is_nan_without_warning():
    y_true = ["a", "a", "b", "b"]
    y_pred = ["a", "b", "b", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = shot_accuracy(y_true, y_pred, {"a": 300, "b": 10, "unused": 50})
    assert scores["many"] == 0.5 and scores["few"] == 1.0
    assert np.isnan(scores["medium"])  # "unused" has no test sample, so it is not scored


def test_shot_accuracy_array_aligns_with_sorted_labels():
    y_true = ["b", "c", "a", "a"]
    y_pred = ["b", "a", "a", "a"]
    # sorted labels a, b, c: a is many-shot, b medium, c few
    scores = shot_accuracy(y_true, y_pred, np.array([200, 50, 2]))
    assert (scores["many"], scores["medium"], scores["few"]) == (1.0, 1.0, 0.0)


def test_shot_accuracy_refuses_ambiguous_or_bad_counts():
    y_true, y_pred = [0, 0, 2], [0, 0, 2]
    # three training classes, but only 0 and 2 are seen: which count is class 2's?
    with pytest.raises(ValueError, match="pass a dict"):
        shot_accuracy(y_true, y_pred, [300, 30, 3])
    with pytest.raises(ValueError, match=r"no count for the classes \[2\]"):
        shot_accuracy(y_true, y_pred, {0: 300, 1: 30})
    with pytest.raises(ValueError, match="few must be <= many"):
        shot_accuracy(y_true, y_pred, [300, 3], many=10, few=20)
    with pytest.raises(ValueError, match=">= 0"):
        shot_accuracy(y_true, y_pred, [300, -3])
    with pytest.raises(ValueError, match="many"):
        shot_accuracy(y_true, y_pred, [300, 3], many=-1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        shot_accuracy(y_true, y_pred[:2], [300, 3])


# --------------------------------------------------------------------------------------------
# imbalanced-learn re-exports
# --------------------------------------------------------------------------------------------
def test_imblearn_metrics_are_reexported():
    assert geometric_mean_score is imblearn.metrics.geometric_mean_score
    assert classification_report_imbalanced is imblearn.metrics.classification_report_imbalanced
    assert {"geometric_mean_score", "classification_report_imbalanced"} <= set(metrics.__all__)
    for name in metrics.__all__:
        assert callable(getattr(metrics, name))


def test_reexported_metrics_agree_with_per_class_accuracy(random_predictions):
    y_true, y_pred = random_predictions
    recalls = per_class_accuracy(y_true, y_pred)
    # the multi-class G-mean is the geometric mean of the per-class recalls
    assert geometric_mean_score(y_true, y_pred) == pytest.approx(np.prod(recalls) ** (1 / 5))

    report = classification_report_imbalanced(y_true, y_pred, output_dict=True)
    assert_allclose([report[str(k)]["rec"] for k in range(5)], recalls)
