"""The plotting displays draw the numbers they claim to draw (checked in the artists' data).

The displays are the API; the ``plot_*`` functions are checked to be one-call shortcuts.
"""

import ast
import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_elm import ELMClassifier
from sklearn_elm.losses import label_distribution_margins
from sklearn_elm.plotting import (
    MarginsDisplay,
    PerClassAccuracyDisplay,
    TrainingHistoryDisplay,
    plot_margins,
    plot_per_class_accuracy,
    plot_training_history,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def imbalanced_data():
    X, y = make_classification(
        n_samples=400,
        n_classes=3,
        n_informative=4,
        weights=[0.8, 0.15, 0.05],
        random_state=0,
    )
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def fitted_elm(imbalanced_data):
    X_train, y_train, _, _ = imbalanced_data
    return ELMClassifier(max_epochs=6, random_state=0).fit(X_train, y_train)


def _save_png(display, tmp_path):
    """Render the figure like a user would and check a real image came out."""
    path = tmp_path / "figure.png"
    display.figure_.savefig(path)
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank canvas


# ------------------------------------------------------------------ per-class accuracy
def test_per_class_accuracy_points_are_recall_against_training_counts(tmp_path):
    y_true = np.array(["cat"] * 4 + ["dog"] * 4 + ["eel"] * 2)
    y_pred = np.array(["cat"] * 4 + ["dog", "dog", "cat", "cat"] + ["cat", "cat"])
    counts = {"cat": 1000, "dog": 100, "eel": 10}

    display = PerClassAccuracyDisplay.from_predictions(y_true, y_pred, counts)

    assert isinstance(display, PerClassAccuracyDisplay)
    np.testing.assert_allclose(display.scatter_.get_offsets(), [[1000, 1.0], [100, 0.5], [10, 0]])
    expected_mean = balanced_accuracy_score(y_true, y_pred)
    np.testing.assert_allclose(display.mean_line_.get_ydata(), expected_mean)
    assert [a.get_text() for a in display.annotations_] == ["cat", "dog", "eel"]
    assert display.ax_.get_xscale() == "log"  # counts span two orders of magnitude
    assert f"{expected_mean:.3f}" in display.ax_.get_legend().get_texts()[-1].get_text()
    _save_png(display, tmp_path)


def test_per_class_accuracy_accepts_value_counts_and_skips_classes_without_test_samples():
    y_train = pd.Series([0] * 30 + [1] * 20 + [2] * 5)
    y_true, y_pred = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])

    display = PerClassAccuracyDisplay.from_predictions(
        y_true, y_pred, y_train.value_counts(), annotate=False
    )

    np.testing.assert_array_equal(display.train_class_counts, [30, 20, 5])
    assert np.isnan(display.per_class_accuracy[2])
    np.testing.assert_allclose(display.scatter_.get_offsets(), [[30, 0.5], [20, 1.0]])
    assert display.annotations_ == []
    assert display.ax_.get_xscale() == "linear"  # 30/5 < 10: no need for a log axis


def test_per_class_accuracy_array_counts_must_match_the_classes():
    with pytest.raises(ValueError, match="pass labels="):
        PerClassAccuracyDisplay.from_predictions([0, 1, 2], [0, 1, 2], [10, 5])


def test_per_class_accuracy_from_estimator_draws_on_the_given_axes(fitted_elm, imbalanced_data):
    _, _, X_test, y_test = imbalanced_data
    fig, ax = plt.subplots()

    display = PerClassAccuracyDisplay.from_estimator(fitted_elm, X_test, y_test, ax=ax)

    assert display.ax_ is ax and display.figure_ is fig
    recall = recall_score(y_test, fitted_elm.predict(X_test), average=None)
    np.testing.assert_allclose(
        display.scatter_.get_offsets(), np.column_stack([fitted_elm.class_counts_, recall])
    )


def test_per_class_accuracy_from_a_pipeline(imbalanced_data):
    X_train, y_train, X_test, y_test = imbalanced_data
    pipeline = make_pipeline(StandardScaler(), ELMClassifier(max_epochs=2, random_state=0))
    pipeline.fit(X_train, y_train)

    display = PerClassAccuracyDisplay.from_estimator(pipeline, X_test, y_test)

    np.testing.assert_array_equal(display.train_class_counts, np.bincount(y_train))


def test_from_estimator_refuses_an_unfitted_estimator():
    with pytest.raises(NotFittedError):
        PerClassAccuracyDisplay.from_estimator(ELMClassifier(), np.zeros((2, 2)), [0, 1])
    with pytest.raises(NotFittedError):
        MarginsDisplay.from_estimator(ELMClassifier())
    with pytest.raises(NotFittedError):
        TrainingHistoryDisplay.from_estimator(ELMClassifier())


# ------------------------------------------------------------------ margins
def test_margin_bars_are_the_fitted_margins(fitted_elm, tmp_path):
    display = MarginsDisplay.from_estimator(fitted_elm)

    assert isinstance(display, MarginsDisplay)
    heights = [bar.get_height() for bar in display.bars_]
    np.testing.assert_allclose(heights, fitted_elm.margins_)
    tick_labels = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert tick_labels == [
        f"{label}\nn={count}"
        for label, count in zip(fitted_elm.classes_, fitted_elm.class_counts_, strict=True)
    ]
    _save_png(display, tmp_path)


def test_elm_gap_segments_span_every_possible_hardest_wrong_class():
    counts, lam = [5000, 400, 60, 7], 0.7
    margins = label_distribution_margins(counts, 0.5).numpy()

    display = MarginsDisplay.from_class_counts(counts, max_m=0.5, lam=lam)

    for y, segment in enumerate(display.gap_range_.get_segments()):
        # brute force: the gap Δ_y − λ·Δ_j for every wrong class j
        gaps = [margins[y] - lam * margins[j] for j in range(len(counts)) if j != y]
        np.testing.assert_allclose(segment[:, 0], y)
        np.testing.assert_allclose(sorted(segment[:, 1]), [min(gaps), max(gaps)])


def test_ldam_margins_have_no_elm_gap(imbalanced_data):
    X_train, y_train, _, _ = imbalanced_data
    ldam = ELMClassifier(loss="ldam", max_epochs=1, random_state=0).fit(X_train, y_train)

    display = MarginsDisplay.from_estimator(ldam)

    assert display.gap_range_ is None
    np.testing.assert_allclose([bar.get_height() for bar in display.bars_], ldam.margins_)


# ------------------------------------------------------------------ training history
def test_training_history_lines_follow_the_history(fitted_elm, tmp_path):
    display = TrainingHistoryDisplay.from_estimator(fitted_elm)

    assert isinstance(display, TrainingHistoryDisplay)
    line = display.lines_["train_loss"]
    np.testing.assert_array_equal(line.get_xdata(), fitted_elm.history_[:, "epoch"])
    np.testing.assert_allclose(line.get_ydata(), fitted_elm.history_[:, "train_loss"])
    assert "valid_loss" not in display.lines_
    # DRW from 80% of 6 epochs: 0-based epoch 5, i.e. skorch's epoch 6
    assert display.drw_line_.get_xdata()[0] == 6
    _save_png(display, tmp_path)


def test_training_history_with_validation_and_without_drw(imbalanced_data):
    X_train, y_train, _, _ = imbalanced_data
    clf = ELMClassifier(loss="ce", early_stopping=True, max_epochs=4, random_state=0)
    clf.fit(X_train, y_train)

    display = TrainingHistoryDisplay.from_estimator(clf, log_scale=True)

    np.testing.assert_allclose(
        display.lines_["valid_loss"].get_ydata(), clf.history_[:, "valid_loss"]
    )
    assert display.drw_line_ is None
    assert display.ax_.get_yscale() == "log"
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training loss",
        "validation loss",
    ]


# ------------------------------------------------------------------ shortcuts
SHORTCUTS = [
    pytest.param(
        plot_per_class_accuracy,
        PerClassAccuracyDisplay,
        "from_predictions",
        ([0, 1], [0, 0], [9, 1]),
        id="plot_per_class_accuracy",
    ),
    pytest.param(
        plot_margins, MarginsDisplay, "from_estimator", ("estimator",), id="plot_margins"
    ),
    pytest.param(
        plot_training_history,
        TrainingHistoryDisplay,
        "from_estimator",
        ("estimator",),
        id="plot_training_history",
    ),
]


@pytest.mark.parametrize(("shortcut", "display", "method", "args"), SHORTCUTS)
def test_shortcuts_pass_everything_to_the_display(monkeypatch, shortcut, display, method, args):
    calls = []

    def record(cls, *args, **kwargs):
        calls.append((cls, args, kwargs))
        return "drawn"

    monkeypatch.setattr(display, method, classmethod(record))

    assert shortcut(*args, ax="the axes", option="value") == "drawn"
    assert calls == [(display, args, {"ax": "the axes", "option": "value"})]


@pytest.mark.parametrize(("shortcut", "display", "method", "args"), SHORTCUTS)
def test_shortcuts_are_one_call_with_a_documented_target(shortcut, display, method, args):
    """No drawing logic in the shortcuts: their body is ``return Display.from_...(...)``."""
    function = ast.parse(inspect.getsource(shortcut)).body[0]
    statements = function.body[1:]  # after the docstring
    assert len(statements) == 1 and isinstance(statements[0], ast.Return)
    call = statements[0].value
    assert ast.unparse(call.func) == f"{display.__name__}.{method}"
    doc = inspect.getdoc(shortcut)
    assert f"Shortcut for ``{display.__name__}.{method}(" in doc
    assert f"See Also\n--------\n{display.__name__}.{method} :" in doc
