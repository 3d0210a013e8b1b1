"""Deferred re-weighting and the warm-up/step learning-rate schedule, on plain skorch nets."""

import numpy as np
import pytest
import torch
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import Callback

from sklearn_elm.callbacks import DeferredReweighting, WarmupMultiStepLR
from sklearn_elm.losses import (
    CBLoss,
    ELMLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    class_balanced_weights,
    elm_loss,
)

COUNTS = [40, 15, 5]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(3), COUNTS).astype("int64")
    X = (rng.randn(len(y), 4) + y[:, None]).astype("float32")
    return X, y


class WeightRecorder(Callback):
    """Stores the criterion's weight (None or a copy) at the end of every epoch."""

    def initialize(self):
        self.weights = []
        return self

    def on_epoch_end(self, net, **kwargs):
        weight = net.criterion_.weight
        self.weights.append(None if weight is None else weight.detach().clone())


class LrRecorder(Callback):
    """Stores the optimizer's learning rate seen by the last batch of every epoch."""

    def initialize(self):
        self.lrs = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])


class RecordingCrossEntropy(torch.nn.CrossEntropyLoss):
    """torch's cross-entropy that logs the weight each forward call actually uses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def forward(self, logits, target):
        self.seen.append(None if self.weight is None else self.weight.clone())
        return super().forward(logits, target)


class RecordingELM(ELMLoss):
    """ELMLoss that logs the weight each forward call actually uses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def forward(self, logits, target):
        self.seen.append(None if self.weight is None else self.weight.clone())
        return super().forward(logits, target)


def make_net(criterion, callbacks, max_epochs=5, net_class=NeuralNetClassifier, **kwargs):
    torch.manual_seed(0)
    return net_class(
        torch.nn.Linear,
        module__in_features=4,
        module__out_features=3,
        criterion=criterion,
        max_epochs=max_epochs,
        lr=0.05,
        batch_size=20,
        train_split=None,
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )


def assert_weights_per_epoch(recorded, start, expected_weight):
    for epoch, weight in enumerate(recorded):
        if epoch < start:
            assert weight is None, f"epoch {epoch} should be unweighted"
        else:
            assert weight is not None, f"epoch {epoch} should be re-weighted"
            torch.testing.assert_close(weight.double(), expected_weight)


# --------------------------------------------------------------------------------------------
# DeferredReweighting
# --------------------------------------------------------------------------------------------
def test_drw_with_torch_cross_entropy(data):
    recorder = WeightRecorder()
    drw = DeferredReweighting(start=3, beta=0.99, class_counts=COUNTS)
    net = make_net(RecordingCrossEntropy, [drw, recorder]).fit(*data)
    expected = class_balanced_weights(COUNTS, beta=0.99)
    assert len(recorder.weights) == 5
    assert_weights_per_epoch(recorder.weights, 3, expected)
    # 60 samples / batch 20 = 3 forward calls per epoch, each with its epoch's weight
    seen = net.criterion_.seen
    assert len(seen) == 15
    assert_weights_per_epoch([seen[3 * epoch] for epoch in range(5)], 3, expected)
    assert all(seen[i] is None for i in range(9))
    assert all(weight.dtype == torch.float32 for weight in seen[9:])


def test_drw_with_elm_reads_the_criterion_class_counts(data):
    recorder = WeightRecorder()
    drw = DeferredReweighting(start=0.5)  # half of max_epochs=4 -> epoch 2
    net = make_net(
        RecordingELM,
        [drw, recorder],
        max_epochs=4,
        criterion__class_counts=COUNTS,
        criterion__s=10.0,
    ).fit(*data)
    expected = class_balanced_weights(COUNTS)  # β = 0.9999 by default
    assert_weights_per_epoch(recorder.weights, 2, expected)
    assert [w is None for w in net.criterion_.seen] == [True] * 6 + [False] * 6
    # the switched weight is the one the loss uses
    logits = torch.randn(10, 3)
    target = torch.tensor([0, 1, 2, 0, 0, 1, 2, 2, 1, 0])
    torch.testing.assert_close(
        net.criterion_(logits, target),
        elm_loss(logits, target, COUNTS, s=10.0, weight=expected.float()),
    )


@pytest.mark.parametrize(
    "criterion, params, needs_counts",
    [
        (ELMLoss, {"criterion__class_counts": COUNTS}, False),
        (LDAMLoss, {"criterion__class_counts": COUNTS}, False),
        (LogitAdjustedLoss, {"criterion__class_counts": COUNTS}, False),
        (CBLoss, {"criterion__class_counts": COUNTS}, False),
        (FocalLoss, {}, True),
        (torch.nn.CrossEntropyLoss, {}, True),
    ],
)
def test_drw_works_for_every_criterion(data, criterion, params, needs_counts):
    recorder = WeightRecorder()
    drw = DeferredReweighting(start=1, beta=0.999, class_counts=COUNTS if needs_counts else None)
    net = make_net(criterion, [drw, recorder], max_epochs=3, **params).fit(*data)
    assert_weights_per_epoch(recorder.weights, 1, class_balanced_weights(COUNTS, 0.999))
    assert np.isfinite(net.history[:, "train_loss"]).all()


def test_drw_matches_float64_modules(data):
    X, y = data
    recorder = WeightRecorder()
    drw = DeferredReweighting(start=1, class_counts=COUNTS)
    make_net(
        torch.nn.CrossEntropyLoss, [drw, recorder], max_epochs=2, module__dtype=torch.float64
    ).fit(X.astype("float64"), y)
    assert recorder.weights[1].dtype == torch.float64


def test_drw_restarts_unweighted_on_refit(data):
    recorder = WeightRecorder()
    net = make_net(
        torch.nn.CrossEntropyLoss,
        [DeferredReweighting(start=2, class_counts=COUNTS), recorder],
        max_epochs=3,
    )
    net.fit(*data)
    assert [w is None for w in recorder.weights] == [True, True, False]
    net.fit(*data)  # a new fit starts a new history: epochs 0 and 1 are unweighted again
    assert [w is None for w in recorder.weights] == [True, True, False]
    assert len(net.history) == 3


def test_drw_counts_epochs_across_partial_fit(data):
    recorder = WeightRecorder()
    net = make_net(
        torch.nn.CrossEntropyLoss,
        [DeferredReweighting(start=2, class_counts=COUNTS), recorder],
        max_epochs=1,
    )
    for _ in range(4):
        net.partial_fit(*data)
    assert [w is None for w in recorder.weights] == [True, True, False, False]


def test_drw_needs_class_counts_and_a_weight(data):
    net = make_net(torch.nn.CrossEntropyLoss, [DeferredReweighting(start=1)], max_epochs=2)
    with pytest.raises(ValueError, match="needs class_counts"):
        net.fit(*data)

    class NoWeight(torch.nn.Module):
        def forward(self, output, target):
            return torch.nn.functional.cross_entropy(output, target)

    net = make_net(
        NoWeight,
        [DeferredReweighting(start=1, class_counts=COUNTS)],
        max_epochs=2,
        net_class=NeuralNet,
    )
    with pytest.raises(TypeError, match="NoWeight has none"):
        net.fit(*data)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": 1.0}, r"beta must be < 1, got 1\.0"),
        ({"beta": -0.5}, r"beta must be >= 0, got -0\.5"),
        ({"start": -1}, r"start must be a non-negative epoch or a fraction, got -1"),
        ({"start": 1.5}, r"start given as a float must be a fraction .* got 1\.5"),
        ({"class_counts": [5, 0, 1]}, r"class 1 has count 0\.0"),
    ],
)
def test_drw_refuses_bad_parameters(data, kwargs, message):
    drw = DeferredReweighting(**{"class_counts": COUNTS, **kwargs})
    with pytest.raises(ValueError, match=message):
        make_net(torch.nn.CrossEntropyLoss, [drw], max_epochs=2).fit(*data)


# --------------------------------------------------------------------------------------------
# WarmupMultiStepLR
# --------------------------------------------------------------------------------------------
# base 0.05; warm-up over 2 epochs (0.5, 1.0); ×0.1 from epoch 4 and again from epoch 6
EXPECTED_LRS = [0.025, 0.05, 0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005]


@pytest.mark.parametrize(
    "schedule",
    [
        WarmupMultiStepLR(warmup_epochs=2, milestones=(4, 6), gamma=0.1),
        WarmupMultiStepLR(warmup_epochs=0.25, milestones=(0.5, 0.75), gamma=0.1),  # fractions of 8
    ],
)
def test_lr_schedule_recorded_per_epoch(data, schedule):
    recorder = LrRecorder()
    net = make_net(torch.nn.CrossEntropyLoss, [schedule, recorder], max_epochs=8).fit(*data)
    np.testing.assert_allclose(net.history[:, "lr"], EXPECTED_LRS, rtol=1e-12)
    np.testing.assert_allclose(recorder.lrs, EXPECTED_LRS, rtol=1e-12)


def test_lr_schedule_does_not_compound_over_partial_fit(data):
    net = make_net(
        torch.nn.CrossEntropyLoss,
        [WarmupMultiStepLR(warmup_epochs=2, milestones=(4, 6), gamma=0.1)],
        max_epochs=8,
    )
    net.partial_fit(*data, epochs=1)  # stops inside the warm-up, at half the base rate
    for _ in range(7):
        net.partial_fit(*data, epochs=1)
    np.testing.assert_allclose(net.history[:, "lr"], EXPECTED_LRS, rtol=1e-12)


def test_lr_schedule_restarts_from_the_base_rate_on_refit(data):
    net = make_net(
        torch.nn.CrossEntropyLoss,
        [WarmupMultiStepLR(warmup_epochs=2, milestones=(4, 6), gamma=0.1)],
        max_epochs=8,
    )
    net.fit(*data)
    net.fit(*data)
    np.testing.assert_allclose(net.history[:, "lr"], EXPECTED_LRS, rtol=1e-12)


def test_lr_schedule_with_elm_and_drw_together(data):
    callbacks = [
        DeferredReweighting(start=0.5),
        WarmupMultiStepLR(warmup_epochs=1, milestones=(0.5,), gamma=0.01),
    ]
    net = make_net(ELMLoss, callbacks, max_epochs=4, criterion__class_counts=COUNTS).fit(*data)
    np.testing.assert_allclose(net.history[:, "lr"], [0.05, 0.05, 0.0005, 0.0005], rtol=1e-12)
    assert net.criterion_.weight is not None


def test_lr_factor():
    schedule = WarmupMultiStepLR(warmup_epochs=4, milestones=(6, 8), gamma=0.5)
    assert [schedule.factor(e, 10) for e in range(10)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
        1.0,
        0.5,
        0.5,
        0.25,
        0.25,
    ]
    no_warmup = WarmupMultiStepLR(warmup_epochs=0, milestones=(), gamma=0.1)
    assert [no_warmup.factor(e, 3) for e in range(3)] == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="warmup_epochs must be a non-negative .* got -2"):
        WarmupMultiStepLR(warmup_epochs=-2).factor(0, 10)
    with pytest.raises(ValueError, match="milestones given as a float .* got 2.5"):
        WarmupMultiStepLR(milestones=(2.5,)).factor(6, 10)
