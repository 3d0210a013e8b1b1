"""One builder for the net: routed parameters, warm start, initial weights and shared rules."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.utils import check_random_state
from skorch.callbacks import Callback

from sklearn_elm import ELMClassifier, WarmupMultiStepLR
from sklearn_elm._builder import (
    class_margins,
    count_absent_as_one,
    fit_seed,
    initial_module,
)
from sklearn_elm.losses import label_distribution_margins


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=4, n_classes=3,
        weights=[0.6, 0.3, 0.1], random_state=0,
    )
    return X.astype(np.float32), y


def small(**params):
    params = {"hidden_layer_sizes": (16,), "max_epochs": 2, "random_state": 0,
              "device": "cpu", **params}
    return ELMClassifier(**params)


class RecordStartWeights(Callback):
    """Keeps the module weights as they are when training begins."""

    def __init__(self):
        self.weights = []

    def on_train_begin(self, net, **kwargs):
        self.weights.append({k: v.clone() for k, v in net.module_.state_dict().items()})


# --------------------------------------------------------------------------- same models
def test_fit_gives_the_models_it_gave_before_the_builder(table):
    # predict_proba of these fits, computed before the net was built by _builder (under the
    # defaults of then: lam=1 and a constant learning rate)
    X, y = table
    elm = ELMClassifier(max_epochs=4, lam=1.0, lr_schedule=None, random_state=3,
                        device="cpu").fit(X, y)
    assert_allclose(elm.predict_proba(X[:2]), [
        [0.6727247192115964, 0.054177442088927504, 0.27309783869947607],
        [1.5114721572598704e-05, 0.8919743626765975, 0.1080105226018298],
    ], rtol=1e-5, atol=1e-9)
    ce = ELMClassifier(loss="ce", drw_start=2, max_epochs=4, lr_schedule=None, random_state=3,
                       device="cpu").fit(X, y)
    assert_allclose(ce.predict_proba(X[:1]),
                    [[0.9958553074526864, 0.004142275197778833, 2.4173495349014506e-06]],
                    rtol=1e-5, atol=1e-9)


def test_fit_seed_is_the_first_draw_of_random_state():
    expected = check_random_state(7).randint(np.iinfo(np.int32).max)
    assert fit_seed(7) == expected
    assert isinstance(fit_seed(None), int)


@pytest.mark.parametrize("images", [False, True])
def test_initial_module_holds_the_weights_fit_starts_from(images):
    rng = np.random.RandomState(0)
    if images:
        X, y = rng.rand(30, 1, 8, 8).astype(np.float32), np.arange(30) % 3
    else:
        X, y = rng.randn(30, 5).astype(np.float32), np.arange(30) % 3
    record = RecordStartWeights()
    clf = small(max_epochs=1, dropout=0.2, callbacks=[record], random_state=4)
    clf.fit(X, y)
    recorder = next(cb for _, cb in clf.net_.callbacks_ if isinstance(cb, RecordStartWeights))
    start = recorder.weights[0]
    torch_state = torch.get_rng_state()
    module = initial_module(clf, X.shape[1:], n_classes=3, seed=fit_seed(4))
    assert torch.equal(torch.get_rng_state(), torch_state)  # the caller's RNG is left alone
    state = module.state_dict()
    assert state.keys() == start.keys()
    assert all(torch.equal(state[k], start[k]) for k in state)


# --------------------------------------------------------------------------- routed parameters
def test_criterion_parameters_reach_the_criterion(table):
    X, y = table
    clf = small(criterion__s=10.0).fit(X, y)
    criterion = clf.net_.criterion_
    assert criterion.s == 10.0
    # merged with the class counts the estimator supplies
    assert_array_equal(criterion.class_counts.numpy(), np.bincount(y))
    # predictions use the scale the network was trained with
    assert clf.net_.s == 10.0


def test_unknown_routed_parameter_names_the_closest(table):
    X, y = table
    with pytest.raises(TypeError, match="criterion__tua.*did you mean 'criterion__tau'"):
        small(loss="la", criterion__tua=2.0).fit(X, y)
    with pytest.raises(TypeError, match="did you mean 'module__dropout'"):
        small(module__dropuot=0.1).fit(X, y)


def test_unknown_parameter_names_the_closest(table):
    X, y = table
    with pytest.raises(TypeError, match="'hidden_units'.*did you mean 'hidden_layer_sizes'"):
        ELMClassifier(hidden_units=3).fit(X, y)


def test_deep_parameters_of_the_lr_schedule_can_be_set(table):
    X, y = table
    clf = small(lr_schedule=WarmupMultiStepLR(warmup_epochs=1, milestones=(1,), gamma=0.1))
    assert "lr_schedule__gamma" in clf.get_params(deep=True)
    clf.set_params(lr_schedule__gamma=0.5).fit(X, y)
    assert dict(clf.net_.callbacks_)["lr_schedule"].gamma == 0.5
    assert clf.history_[-1, "lr"] == pytest.approx(clf.lr * 0.5)


def test_grid_search_over_the_lr_schedule_gamma(table):
    X, y = table
    search = GridSearchCV(
        small(max_epochs=2, lr_schedule=WarmupMultiStepLR(warmup_epochs=1, milestones=(1,))),
        {"lr_schedule__gamma": [0.5, 0.01]}, cv=2, error_score="raise",
    ).fit(X, y)
    assert search.best_params_["lr_schedule__gamma"] in (0.5, 0.01)
    assert search.best_estimator_.lr_schedule.gamma == search.best_params_["lr_schedule__gamma"]


def test_print_log_is_left_out_at_verbose_0_and_the_history_is_the_same(table, capsys):
    X, y = table
    quiet = small(verbose=0).fit(X, y)
    assert "print_log" not in dict(quiet.net_.callbacks_)
    assert capsys.readouterr().out == ""
    loud = small(verbose=1).fit(X, y)
    assert "print_log" in dict(loud.net_.callbacks_)
    table_lines = capsys.readouterr().out.splitlines()
    assert table_lines[0].split() == ["epoch", "train_loss", "dur"]
    assert len(table_lines) == 2 + 2  # header, rule, one line per epoch

    def rows(history):  # the durations differ from run to run
        return [{k: v for k, v in row.items() if k != "dur"} for row in history.to_list()]

    assert rows(quiet.history_) == rows(loud.history_)
    assert_array_equal(quiet.predict_proba(X), loud.predict_proba(X))


def test_a_routed_print_log_setting_keeps_print_log_at_verbose_0(table):
    # PrintLog hands its rows to a sink other than print at any verbosity
    X, y = table
    lines = []
    clf = small(verbose=0, callbacks__print_log__sink=lines.append).fit(X, y)
    assert "print_log" in dict(clf.net_.callbacks_)
    assert len(lines) == 2 + 2


# --------------------------------------------------------------------------- warm start
def assert_unchanged(clf, X, net, proba):
    assert clf.net_ is net
    assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.parametrize(
    "change",
    ["features", "classes", "architecture"],
)
def test_warm_start_refuses_what_the_fitted_weights_cannot_serve(table, change):
    X, y = table
    clf = small(warm_start=True).fit(X, y)
    net, proba = clf.net_, clf.predict_proba(X)
    if change == "features":
        args, match = (X[:, :4], y), "shape"
    elif change == "classes":
        args, match = (X[y < 2], y[y < 2]), "classes"
    else:
        clf.set_params(hidden_layer_sizes=(8,))
        args, match = (X, y), "architecture|weights do not fit"
    with pytest.raises(ValueError, match=match):
        clf.fit(*args)
    # the fitted model is intact
    assert_unchanged(clf, X, net, proba)
    assert clf.n_features_in_ == X.shape[1] and clf.n_iter_ == 2


def test_warm_start_uses_the_current_lr_batch_size_and_scale(table):
    X, y = table
    clf = small(loss="ce", warm_start=True).fit(X, y)
    steps = clf.net_.optimizer_.state_dict()["state"][0]["step"]
    clf.set_params(lr=0.001, batch_size=32, s=5.0).fit(X, y)
    net = clf.net_
    assert net.optimizer_.param_groups[0]["lr"] == 0.001
    assert net.history_[-1, "batches", 0, "train_batch_size"] == 32
    # the loss trains at the scale predict uses
    assert net.s == 5.0
    logits = clf.module_(torch.from_numpy(X[:3])).double()
    assert_allclose(clf.predict_proba(X[:3]), torch.softmax(5.0 * logits, 1).detach().numpy(),
                    rtol=1e-6)
    # the optimizer's moments carried over: its step count went on
    assert net.optimizer_.state_dict()["state"][0]["step"] > steps
    assert clf.n_iter_ == 4


# --------------------------------------------------------------------------- shared rules
def test_an_absent_class_counts_as_one_sample(table):
    assert_array_equal(count_absent_as_one([5, 0, 2]), [5, 1, 2])
    X, y = table
    with pytest.warns(UserWarning, match="no training samples"):
        clf = small(classes=[0, 1, 2, 3]).fit(X, y)
    expected = label_distribution_margins([*np.bincount(y), 1], clf.max_m).numpy()
    assert_allclose(clf.margins_, expected)
    assert_allclose(class_margins(clf.class_counts_, clf.max_m), expected)
    assert_allclose(clf.net_.criterion_.margins.numpy(), expected)
    drw = dict(clf.net_.callbacks_)["deferred_reweighting"]
    assert_array_equal(drw.class_counts, [*np.bincount(y), 1])
