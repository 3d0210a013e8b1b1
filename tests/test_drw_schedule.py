"""The default learning-rate schedule: the rate drops when deferred re-weighting starts."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_elm import ELMClassifier, WarmupMultiStepLR
from sklearn_elm._batched import fit_members
from sklearn_elm._builder import DRW_LR_DROP, lr_schedule
from sklearn_elm.datasets import make_long_tailed

IMAGES = (1, 8, 8)


def _factors(estimator, image_shape=IMAGES):
    schedule = lr_schedule(estimator, image_shape)
    if schedule is None:
        return None
    return [schedule.factor(epoch, estimator.max_epochs) for epoch in range(estimator.max_epochs)]


@pytest.mark.parametrize("loss", ["elm", "ldam"])
def test_auto_drops_the_rate_at_the_drw_start(loss):
    estimator = ELMClassifier(loss, max_epochs=10)
    assert estimator.lr_schedule == "auto"
    assert _factors(estimator) == [1.0] * 8 + [DRW_LR_DROP] * 2
    # an epoch, or a fraction of the epochs, as drw_start takes them
    drop = DRW_LR_DROP
    assert _factors(ELMClassifier(loss, max_epochs=10, drw_start=3)) == [1.0] * 3 + [drop] * 7
    assert _factors(ELMClassifier(loss, max_epochs=10, drw_start=0.5)) == [1.0] * 5 + [drop] * 5


@pytest.mark.parametrize("params", [
    {"loss": "ce"}, {"loss": "la"}, {"loss": "focal"},
    {"loss": "cb"},  # class-balanced throughout: nothing switches on
    {"loss": "elm", "drw_start": None},
    {"loss": "elm", "drw_start": 0},  # DRW from the first epoch: nothing switches on
    {"loss": "ldam", "lr_schedule": None},  # a constant rate, asked for
])
def test_constant_rate_where_nothing_switches(params):
    assert _factors(ELMClassifier(max_epochs=10, **params)) is None


@pytest.mark.parametrize("loss", ["elm", "ldam"])
def test_auto_keeps_a_constant_rate_on_tables(loss):
    assert _factors(ELMClassifier(loss, max_epochs=10), image_shape=None) is None


def test_explicit_schedules_are_kept():
    paper = _factors(ELMClassifier(max_epochs=200, lr_schedule="paper"))
    assert paper[4] == 1.0 and paper[160] == pytest.approx(0.01) and paper[180] == 1e-4
    mine = WarmupMultiStepLR(warmup_epochs=0, milestones=(2,), gamma=0.5)
    assert _factors(ELMClassifier(max_epochs=4, lr_schedule=mine)) == [1.0, 1.0, 0.5, 0.5]


def test_fit_records_the_dropped_rate_and_the_engine_trains_the_same():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [40, 15, 5])
    X = (rng.normal(size=(60, 16)) + y[:, None]).astype(np.float32)  # 4x4 images, flat
    params = {"max_epochs": 5, "module": "cnn", "input_shape": (1, 4, 4),
              "random_state": 0, "device": "cpu"}
    tables = ELMClassifier(max_epochs=5, hidden_layer_sizes=(8,), random_state=0).fit(X, y)
    assert "lr" not in tables.history_[-1]  # tables: a constant rate
    single = ELMClassifier(**params).fit(X, y)
    assert single.history_[:, "lr"] == [0.01] * 4 + [pytest.approx(0.01 * DRW_LR_DROP)]
    [member] = fit_members(X, y, [(params, np.arange(len(y)))])
    assert member.batched and member.error is None
    assert member.estimator.history_[:, "lr"] == single.history_[:, "lr"]
    np.testing.assert_allclose(member.estimator.predict_proba(X), single.predict_proba(X),
                               atol=1e-5)


@pytest.mark.parametrize("loss, seed", [("elm", 0), ("elm", 2), ("ldam", 0), ("ldam", 2)])
def test_no_collapse_when_drw_starts_on_long_tailed_images(loss, seed, one_torch_thread):
    """Digits as 8x8 images, training part long-tailed at ratio 100 (427 images).

    With DRW at the full learning rate, the class-balanced weights (about 100x between the
    head and the tail) threw these fits out of their minimum: the training loss rose to 52
    times its value at DRW's first epoch (ELM, seed 0) and 3.2 times (ELM, seed 2). With the
    default schedule the rate drops then, and the loss stays within 3 times that value.
    """
    X, y = load_digits(return_X_y=True)
    X, y = make_long_tailed((X / 16).astype(np.float32), y, imbalance_ratio=100,
                            random_state=0)
    clf = ELMClassifier(loss, module="cnn", input_shape=(1, 8, 8), max_epochs=30,
                        random_state=seed, device="cpu").fit(X, y)
    losses = np.asarray(clf.history_[:, "train_loss"])
    start = 24  # drw_start="auto": 80 % of 30 epochs
    assert losses[start:].max() <= 3 * losses[start]
