"""Bad input to ELMClassifier and the losses: a finite result or a clear error, never NaN.

Every refusal must come before training starts (the ``NoTraining`` callback fails the test if
an epoch begins) and be a ``ValueError``/``TypeError`` whose message says what to fix, never
an exception from deep inside torch.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from sklearn_elm import (
    ELMClassifier,
    cb_loss,
    elm_loss,
    focal_loss,
    ldam_loss,
    logit_adjusted_loss,
)

SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LOSSES = ("elm", "ldam", "ce", "focal", "cb", "la")


class NoTraining(Callback):
    """Fail the test if an epoch begins: the error had to come before training."""

    def on_epoch_begin(self, net, **kwargs):
        raise AssertionError("an epoch ran before the bad input was refused")


def guarded(**params):
    return ELMClassifier(max_epochs=1, callbacks=[("no_training", NoTraining())], **params)


def refuses(X, y, error, match, sample_weight=None, **params):
    with pytest.raises(error, match=match):
        guarded(**params).fit(X, y, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = np.r_[np.zeros(28, int), np.ones(12, int)]
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return ELMClassifier(max_epochs=1, random_state=0).fit(X, y)


def assert_valid_proba(proba, n_rows, n_classes):
    assert proba.shape == (n_rows, n_classes)
    assert np.isfinite(proba).all(), "NaN or infinite probabilities"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


# --------------------------------------------------------------------------- X at fit
@SETTINGS
@given(
    row=st.integers(0, 39),
    col=st.integers(0, 2),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    as_frame=st.booleans(),
)
def test_nan_or_inf_anywhere_in_X_is_refused(data, row, col, value, as_frame):
    X, y = data
    X = X.copy()
    X[row, col] = value
    refuses(pd.DataFrame(X) if as_frame else X, y, ValueError, "NaN|infinity")


@pytest.mark.parametrize(
    "X, match",
    [
        (np.empty((0, 3)), "0 sample"),
        (np.empty((40, 0)), "0 feature"),
        (np.ones(40), "Expected 2D array"),
        (np.ones((40, 1, 2, 2, 2)), "2 to 4 dimensions"),
        (np.full((40, 3), "a"), "could not convert string to float"),
        (np.array([["1.5", "x", "2"]] * 40, dtype=object), "could not convert string to float"),
        (np.ones((40, 3), dtype=complex), "Complex data not supported"),
        (pd.DataFrame({"a": pd.Categorical(["x", "y"] * 20)}), "could not convert"),
        (np.where(np.eye(40, 3) > 0, None, 1.0).astype(object), "NaN"),
    ],
    ids=[
        "no-rows",
        "no-columns",
        "1-D",
        "5-D",
        "strings",
        "object-strings",
        "complex",
        "categorical",
        "object-None",
    ],
)
def test_malformed_X_is_refused(data, X, match):
    _, y = data
    refuses(X, y[: len(X)] if len(X) else y[:0], ValueError, match)


@pytest.mark.parametrize(
    "to_sparse", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix], ids=["csr", "csc", "coo"]
)
def test_sparse_X_is_refused_with_a_hint_to_densify(data, fitted, to_sparse):
    X, y = data
    refuses(to_sparse(X), y, TypeError, r"dense data is required.*toarray")
    with pytest.raises(TypeError, match="toarray"):
        fitted.predict(to_sparse(X))


@pytest.mark.parametrize(
    "convert",
    [
        lambda X: X.astype(object),
        lambda X: X.astype(np.float32),
        lambda X: X > 0,
        lambda X: np.round(X * 10).astype(np.int64),
        lambda X: X.tolist(),
        lambda X: pd.DataFrame(X).astype("Float64"),
    ],
    ids=["object-numbers", "float32", "bool", "int", "list", "pandas-nullable"],
)
def test_numeric_X_in_other_containers_is_accepted(data, convert):
    X, y = data
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(convert(X), y)
    assert_valid_proba(clf.predict_proba(convert(X)), 40, 2)


# --------------------------------------------------------------------------- y
@pytest.mark.parametrize(
    "y, error, match",
    [
        (np.zeros(40), ValueError, "at least 2 classes"),
        (np.random.RandomState(0).randn(40), ValueError, "Unknown label type: continuous"),
        (np.c_[np.r_[np.zeros(20), np.ones(20)], np.zeros(40)], ValueError, "1d array"),
        (np.array([1, "a"] * 20, dtype=object), ValueError, "Unknown label type"),
        (np.r_[np.nan, np.ones(20), np.zeros(19)], ValueError, "NaN"),
        (np.r_[np.ones(20), np.zeros(19)], ValueError, "inconsistent numbers of samples"),
        (None, ValueError, "requires y"),
    ],
    ids=["one-class", "continuous", "2-D", "mixed-object", "NaN", "short", "None"],
)
def test_bad_y_is_refused(data, y, error, match):
    X, _ = data
    refuses(X, y, error, match)


def test_mixed_labels_in_a_list_become_strings_as_in_numpy(data):
    # numpy turns [1, "a"] into the strings ["1", "a"]: a correct fit on those labels
    X, _ = data
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(X, [1, "a"] * 20)
    assert clf.classes_.tolist() == ["1", "a"]
    assert_valid_proba(clf.predict_proba(X), 40, 2)


@SETTINGS
@given(
    kind=st.sampled_from(["int", "str", "bool", "float"]),
    counts=st.lists(st.integers(1, 12), min_size=2, max_size=4),
)
def test_any_label_type_and_single_sample_classes(kind, counts, data):
    if kind == "bool":
        counts = counts[:2]
    values = {
        "int": [-3, 7, 100, 5],
        "str": ["x", "yy", "z", "w"],
        "bool": [False, True],
        "float": [0.0, 2.0, -1.0, 4.0],
    }[kind]
    y = np.repeat(np.array(values[: len(counts)]), counts)
    X = np.random.RandomState(len(y)).randn(len(y), 3)
    clf = ELMClassifier(max_epochs=1, batch_size=8, random_state=0).fit(X, y)
    assert_valid_proba(clf.predict_proba(X), len(y), len(counts))
    assert set(clf.predict(X)) <= set(y.tolist())
    assert clf.predict(X).dtype.kind == y.dtype.kind


def test_a_class_with_a_single_sample_also_with_early_stopping(data):
    X, _ = data
    y = np.r_[np.zeros(39, int), 1]
    for early_stopping in (False, True):
        clf = ELMClassifier(max_epochs=2, early_stopping=early_stopping, random_state=0)
        assert_valid_proba(clf.fit(X, y).predict_proba(X), 40, 2)


def test_classes_absent_from_y_get_a_column_and_a_warning(data):
    X, y = data
    clf = ELMClassifier(max_epochs=1, classes=[0, 1, 2, 3], random_state=0)
    with pytest.warns(UserWarning, match=r"classes \[2, 3\] have no training samples"):
        clf.fit(X, y)
    assert_valid_proba(clf.predict_proba(X), 40, 4)
    assert np.isfinite(clf.margins_).all()


def test_labels_outside_classes_are_refused(data):
    X, y = data
    refuses(X, y, ValueError, r"labels \[1\] not in classes", classes=[0, 2])


# --------------------------------------------------------------------------- sample_weight
@pytest.mark.parametrize(
    "weight, match",
    [
        (-np.ones(40), "Negative values"),
        (np.r_[-1.0, np.ones(39)], "Negative values"),
        (np.ones(39), r"shape == \(39,\), expected \(40,\)"),
        (np.ones((40, 1)), "1D array"),
        (np.r_[np.nan, np.ones(39)], "NaN"),
        (np.r_[np.inf, np.ones(39)], "infinity"),
        (np.zeros(40), "non-zero"),
        (np.r_[np.ones(28), np.zeros(12)], "single class with positive weight"),
        (np.array(["a"] * 40), "could not convert"),
    ],
    ids=["negative", "one-negative", "short", "2-D", "NaN", "inf", "zeros", "one-class", "strings"],
)
def test_bad_sample_weight_is_refused(data, weight, match):
    X, y = data
    refuses(X, y, ValueError, match, sample_weight=weight)


@SETTINGS
@given(weights=st.lists(st.floats(0, 1e6), min_size=40, max_size=40))
def test_any_valid_sample_weight_gives_finite_probabilities(data, weights):
    X, y = data
    weights = np.asarray(weights)
    weights[[0, -1]] = 1.0  # both classes keep a positive weight
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(X, y, sample_weight=weights)
    assert_valid_proba(clf.predict_proba(X), 40, 2)


# --------------------------------------------------------------------------- magnitudes
@SETTINGS
@given(
    exponent=st.integers(-30, 30),
    loss=st.sampled_from(LOSSES),
    head=st.sampled_from(["cosine", "linear"]),
)
def test_huge_and_tiny_magnitudes_give_finite_probabilities(data, exponent, loss, head):
    X, y = data
    X = X * 10.0**exponent
    clf = ELMClassifier(loss=loss, head=head, max_epochs=2, random_state=0).fit(X, y)
    assert_valid_proba(clf.predict_proba(X), 40, 2)
    assert np.isfinite(clf.decision_function(X)).all()


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_images_of_extreme_magnitude(scale):
    rng = np.random.RandomState(0)
    X = rng.randn(40, 1, 8, 8) * scale
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(X, y)
    assert_valid_proba(clf.predict_proba(X), 40, 2)


def test_constant_and_zero_features(data):
    _, y = data
    for X in (np.zeros((40, 3)), np.ones((40, 3)) * 5):
        clf = ELMClassifier(max_epochs=1, random_state=0).fit(X, y)
        assert_valid_proba(clf.predict_proba(X), 40, 2)


def test_values_beyond_float32_range_are_refused_before_training(data):
    X, y = data
    refuses(X * 1e40, y, ValueError, "float32")


def test_predicting_values_beyond_float32_range_never_gives_nan(data, fitted):
    X, _ = data
    try:
        proba = fitted.predict_proba(X * 1e300)
    except ValueError as error:
        assert "float32" in str(error)
    else:
        assert_valid_proba(proba, 40, 2)


# --------------------------------------------------------------------------- predict
@pytest.mark.parametrize(
    "make_X, match",
    [
        (lambda X: X[:, :2], "3 features"),
        (lambda X: np.c_[X, X], "3 features"),
        (lambda X: np.where(X > 1, np.nan, X), "NaN"),
        (lambda X: np.where(X > 1, np.inf, X), "infinity"),
        (lambda X: np.empty((0, 3)), "0 sample"),
        (lambda X: X[0], "Expected 2D array"),
        (lambda X: np.full((2, 3), "a"), "could not convert"),
        (lambda X: X.reshape(40, 3, 1), "per-sample shape"),
    ],
    ids=["fewer-features", "more-features", "NaN", "inf", "empty", "1-D", "strings", "3-D"],
)
def test_bad_X_at_predict_is_refused(data, fitted, make_X, match):
    X, _ = data
    for method in (fitted.predict, fitted.predict_proba, fitted.decision_function):
        with pytest.raises(ValueError, match=match):
            method(make_X(X))


def test_image_model_refuses_another_image_size():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(rng.rand(40, 1, 8, 8), y)
    with pytest.raises(ValueError, match="per-sample shape"):
        clf.predict(rng.rand(3, 1, 6, 6))
    refuses(rng.rand(40, 64), y, ValueError, "needs 49 values per sample", input_shape=(1, 7, 7))


# --------------------------------------------------------------------------- hyper-parameters
INVALID = {
    "loss": ["hinge", 1, None],
    "max_m": [-0.1, "a", np.nan, np.inf],
    "lam": [np.nan, np.inf, "a"],
    "s": [0, -1, np.inf, np.nan],
    "gamma": [-1, np.nan],
    "tau": [np.nan, np.inf],
    "drw_start": [-1, 1.5, "x", np.nan, True],
    "beta": [1, -0.1, np.nan],
    "module": [
        "transformer",
        3,
        int,
        dict,
    ],
    "hidden_layer_sizes": [
        "abc",
        5,
        (0,),
        (-1,),
        (1.5,),
    ],
    "dropout": [1, -0.1, np.nan],
    "head": ["softmax"],
    "input_shape": [
        "ab",
        (0, 4, 4),
        (1.5, 4, 4),
    ],
    "augment": ["yes", 2],
    "optimizer": [
        "rmsprop",
        3,
        int,
        dict,
    ],
    "lr": [0, -1, np.inf, np.nan],
    "weight_decay": [-1, np.nan, np.inf],
    "lr_schedule": ["cosine", 3],
    "batch_size": [0, 1.5, -1],
    "max_epochs": [0, 1.5],
    "early_stopping": ["x"],
    "validation_fraction": [0, 1, 1.5],
    "n_iter_no_change": [0],
    "classes": [5, [[0, 1], [1, 0]]],
    "callbacks": ["x", [1]],
    "warm_start": ["x"],
    "checkpoint_dir": [3],
    "precision": ["fp64"],
    "compile": ["x"],
    "cuda_graphs": ["x", 2],
    "device": [3, "tpu"],
    "random_state": ["x", -1],
    "verbose": ["x", -1],
}


def test_every_constructor_parameter_has_invalid_cases():
    assert set(ELMClassifier._get_param_names()) == set(INVALID)


@pytest.mark.parametrize(
    "name, value",
    [
        pytest.param(name, value.values[0], marks=value.marks, id=f"{name}={value.values[0]!r}")
        if hasattr(value, "marks")
        else pytest.param(name, value, id=f"{name}={value!r}")
        for name, values in INVALID.items()
        for value in values
    ],
)
def test_invalid_hyper_parameter_is_refused_before_training(data, name, value):
    X, y = data
    clf = guarded()
    clf.set_params(**{name: value})
    if name == "callbacks":
        clf.set_params(callbacks=value)
    with pytest.raises(InvalidParameterError, match=name):
        clf.fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda_is_refused(data):
    X, y = data
    refuses(X, y, ValueError, "CUDA", device="cuda")


@pytest.mark.parametrize("routed", ["module__nonexistent", "optimizer__nonexistent"])
def test_unknown_routed_parameter_names_itself(data, routed):
    X, y = data
    refuses(X, y, TypeError, "nonexistent", **{routed: 1})


# --------------------------------------------------------------------------- losses
LOSS_FUNCTIONS = {
    "elm": lambda z, t, c: elm_loss(z, t, c),
    "ldam": lambda z, t, c: ldam_loss(z, t, c),
    "cb": lambda z, t, c: cb_loss(z, t, c),
    "la": lambda z, t, c: logit_adjusted_loss(z, t, c),
    "focal": lambda z, t, c: focal_loss(z, t),
}


@SETTINGS
@given(
    name=st.sampled_from(sorted(LOSS_FUNCTIONS)),
    n_classes=st.integers(2, 5),
    n_samples=st.integers(1, 8),
    magnitude=st.floats(0, 1e4),
    seed=st.integers(0, 99),
)
def test_losses_are_finite_and_non_negative_on_large_finite_logits(
    name, n_classes, n_samples, magnitude, seed
):
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.rand(n_samples, n_classes, generator=generator) * 2 - 1) * magnitude
    target = torch.randint(0, n_classes, (n_samples,), generator=generator)
    counts = torch.randint(1, 50, (n_classes,), generator=generator).tolist()
    loss = LOSS_FUNCTIONS[name](logits.requires_grad_(), target, counts)
    assert torch.isfinite(loss) and loss >= -1e-6
    loss.backward()
    assert torch.isfinite(logits.grad).all()


@SETTINGS
@given(
    bad=st.sampled_from([0, -1, 0.5, np.nan, np.inf, -np.inf]),
    position=st.integers(0, 2),
    name=st.sampled_from(["elm", "ldam", "cb", "la"]),
)
def test_losses_refuse_bad_class_counts(bad, position, name):
    counts = [5.0, 3.0, 1.0]
    counts[position] = bad
    with pytest.raises(ValueError, match="class_counts must all be finite and >= 1"):
        LOSS_FUNCTIONS[name](torch.zeros(2, 3), torch.tensor([0, 1]), counts)


@SETTINGS
@given(
    bad_target=st.one_of(st.integers(-50, -1), st.integers(3, 50)),
    name=st.sampled_from(sorted(LOSS_FUNCTIONS)),
)
def test_losses_refuse_targets_outside_the_classes(bad_target, name):
    with pytest.raises(ValueError, match=r"target values must lie in \[0, 3\)"):
        LOSS_FUNCTIONS[name](torch.zeros(2, 3), torch.tensor([0, bad_target]), [1, 2, 3])


@pytest.mark.parametrize("name", sorted(LOSS_FUNCTIONS))
@pytest.mark.parametrize(
    "logits, target, error, match",
    [
        (np.zeros((2, 3)), torch.tensor([0, 1]), TypeError, "torch tensors"),
        (torch.zeros(2, 3), [0, 1], TypeError, "torch tensors"),
        (torch.zeros(2, 3), torch.tensor([0.0, 1.0]), ValueError, "integer class indices"),
        (torch.zeros(6), torch.tensor([0, 1]), ValueError, "2-D"),
        (torch.zeros(2, 3), torch.tensor([0, 1, 2]), ValueError, "target must be 1-D"),
        (torch.zeros(2, 4), torch.tensor([0, 1]), ValueError, "columns|shape"),
    ],
    ids=[
        "numpy-logits",
        "list-target",
        "float-target",
        "1-D-logits",
        "long-target",
        "class-mismatch",
    ],
)
def test_losses_refuse_malformed_inputs(name, logits, target, error, match):
    if name == "focal" and match == "columns|shape":
        pytest.skip("focal_loss takes no class counts to disagree with")
    with pytest.raises(error, match=match):
        LOSS_FUNCTIONS[name](logits, target, [1, 2, 3])


@pytest.mark.parametrize("weight", [[-1.0, 1.0, 1.0], [np.nan, 1.0, 1.0]], ids=["negative", "NaN"])
def test_losses_refuse_bad_class_weights(weight):
    with pytest.raises(ValueError, match="weight"):
        elm_loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), [1, 2, 3], weight=weight)


def test_no_warning_storm_on_valid_input(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ELMClassifier(max_epochs=1, random_state=0).fit(X, y).predict_proba(X)
