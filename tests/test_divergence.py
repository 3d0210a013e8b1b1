"""Divergence guard: a NaN or infinite training loss stops fit with a clear error."""

import re

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sklearn_elm import ELMClassifier, TrainingDivergedError
from sklearn_elm.persistence import checkpoint_epochs


@pytest.fixture(scope="module")
def table():
    return make_classification(n_samples=200, n_features=10, random_state=0)


class ConstantOutput(nn.Module):
    """A module whose logits are all ``value`` (NaN or inf), whatever the input."""

    def __init__(self, n_features, n_classes, value=float("nan")):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)
        self.value = value

    def forward(self, X):
        return self.linear(X) * 0 + self.value


class NaNAfterSteps(nn.Module):
    """Finite logits for the first ``steps`` forward passes in training, then NaN."""

    def __init__(self, n_features, n_classes, steps=3):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)
        self.steps = steps
        self.calls = 0

    def forward(self, X):
        if self.training:
            self.calls += 1
        out = self.linear(X)
        return out if self.calls <= self.steps else out * float("nan")


def epoch_and_batch(error):
    match = re.search(r"epoch (\d+), batch (\d+)", str(error))
    assert match, f"the message names no epoch and batch: {error}"
    return int(match.group(1)), int(match.group(2))


def assert_unfitted(clf, X):
    with pytest.raises(NotFittedError):
        clf.predict(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert not hasattr(clf, "n_iter_")


def test_huge_learning_rate_diverges_with_a_clear_error(table):
    X, y = table
    clf = ELMClassifier(
        loss="ce", head="linear", s=1, optimizer="sgd", lr=1e6, max_epochs=10, random_state=0
    )
    with pytest.raises(TrainingDivergedError) as info:
        clf.fit(X * 1e3, y)
    message = str(info.value)
    epoch, batch = epoch_and_batch(info.value)
    assert 1 <= epoch <= 10 and batch >= 1
    assert "Lower the learning rate" in message and "lr=1000000.0" in message
    assert "scale the features" in message
    assert isinstance(info.value, FloatingPointError)
    assert_unfitted(clf, X)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("loss", ["elm", "ce", "focal"])
def test_non_finite_module_output_stops_at_the_first_batch(table, value, loss):
    X, y = table
    clf = ELMClassifier(
        loss=loss, module=ConstantOutput, module__value=value, max_epochs=3, random_state=0
    )
    with pytest.raises(TrainingDivergedError) as info:
        clf.fit(X, y)
    assert epoch_and_batch(info.value)[0] == 1
    assert_unfitted(clf, X)


@pytest.mark.parametrize("steps, expected", [(0, (1, 1)), (5, (2, 2)), (8, (3, 1))])
def test_the_reported_epoch_and_batch_are_the_failing_ones(table, steps, expected):
    X, y = table
    # batch_size 50 gives 4 batches per epoch: the first ``steps`` training steps are finite
    clf = ELMClassifier(
        module=NaNAfterSteps, module__steps=steps, batch_size=50, max_epochs=3, random_state=0
    )
    with pytest.raises(TrainingDivergedError) as info:
        clf.fit(X, y)
    assert epoch_and_batch(info.value) == expected


@pytest.mark.parametrize("steps, epoch", [(0, 1), (3, 1), (5, 2), (8, 3)])
def test_the_reported_epoch_is_the_failing_one(table, steps, epoch):
    X, y = table
    clf = ELMClassifier(
        module=NaNAfterSteps, module__steps=steps, batch_size=50, max_epochs=3, random_state=0
    )
    with pytest.raises(TrainingDivergedError) as info:
        clf.fit(X, y)
    assert epoch_and_batch(info.value)[0] == epoch


def test_a_fitted_estimator_that_diverges_on_refit_is_unfitted(table):
    X, y = table
    clf = ELMClassifier(max_epochs=2, random_state=0).fit(X, y)
    check_is_fitted(clf)
    clf.set_params(module=ConstantOutput)
    with pytest.raises(TrainingDivergedError):
        clf.fit(X, y)
    # the old network must not survive as if it were the result of this fit
    assert_unfitted(clf, X)
    assert not hasattr(clf, "classes_") and not hasattr(clf, "net_")


def test_warm_start_divergence_also_unfits(table):
    X, y = table
    clf = ELMClassifier(
        loss="ce",
        head="linear",
        s=1,
        optimizer="sgd",
        lr=1e-3,
        max_epochs=2,
        warm_start=True,
        random_state=0,
    ).fit(X, y)
    clf.set_params(lr=1e6)
    clf.net_.set_params(lr=1e6)  # warm start reuses the net: give it the divergent rate too
    with pytest.raises(TrainingDivergedError):
        clf.set_params(max_epochs=10).fit(X * 1e3, y)
    assert_unfitted(clf, X)


def test_checkpoint_keeps_the_last_finite_epoch(table, tmp_path):
    if "checkpoint_dir" not in ELMClassifier().get_params():
        pytest.skip("ELMClassifier has no checkpoint_dir parameter yet")
    X, y = table
    clf = ELMClassifier(
        module=NaNAfterSteps,
        module__steps=5,
        batch_size=50,
        max_epochs=3,
        checkpoint_dir=tmp_path,
        random_state=0,
    )
    with pytest.raises(TrainingDivergedError):
        clf.fit(X, y)
    assert checkpoint_epochs(tmp_path) == 1  # epoch 2 diverged and was never saved


def test_finite_training_is_not_flagged(table):
    X, y = table
    clf = ELMClassifier(max_epochs=3, random_state=0).fit(X, y)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert torch.isfinite(next(clf.module_.parameters())).all()
