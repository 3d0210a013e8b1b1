"""``ELMClassifierCV``'s parameters are ``ELMClassifier``'s, set and searched the same way."""

import inspect

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils._param_validation import InvalidParameterError, make_constraint

from sklearn_elm import ELMClassifier, ELMClassifierCV
from sklearn_elm.callbacks import WarmupMultiStepLR
from sklearn_elm.modules import MLP

docscrape = pytest.importorskip("numpydoc.docscrape", reason="numpydoc reads the docstrings")

TINY = dict(max_epochs=3, batch_size=32, hidden_layer_sizes=(8,), device="cpu", random_state=0)
#: the parameters of the search itself; every other one is ELMClassifier's
SEARCH_PARAMS = {"param_grid", "cv", "scoring", "refit", "error_score", "max_batched_members",
                 "n_jobs"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def table():
    return make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)


# ------------------------------------------------------------------------------ one list
def _signature(cls):
    return {name: parameter for name, parameter in inspect.signature(cls).parameters.items()
            if parameter.kind is not parameter.VAR_KEYWORD}


def test_parameters_and_defaults_are_elm_classifiers():
    single, search = _signature(ELMClassifier), _signature(ELMClassifierCV)
    assert set(search) - set(single) == SEARCH_PARAMS
    assert set(single) <= set(search), set(single) - set(search)
    for name, parameter in single.items():
        assert search[name].kind == parameter.kind, name
        assert repr(search[name].default) == repr(parameter.default), name
    # the order too: the search's own parameters come last
    assert list(search)[: len(single)] == list(single)


def test_docstring_entries_are_elm_classifiers():
    def entries(cls):
        return {p.name: p.type for p in docscrape.ClassDoc(cls)["Parameters"]}

    single, search = entries(ELMClassifier), entries(ELMClassifierCV)
    assert set(search) - set(single) == SEARCH_PARAMS
    for name, type_line in single.items():
        assert search.get(name) == type_line, name


def test_constraints_are_elm_classifiers():
    def described(constraints):
        return [str(make_constraint(c)) for c in constraints]

    single = ELMClassifier._parameter_constraints
    search = ELMClassifierCV._parameter_constraints
    assert set(search) == set(_signature(ELMClassifierCV))
    assert set(search) - set(single) == SEARCH_PARAMS
    for name, constraints in single.items():
        assert described(search[name]) == described(constraints), name


# ------------------------------------------------------------------------------ set_params
@pytest.mark.parametrize("params", [
    {"lr_schedule__gamma": 0.5},
    {"lr_schedule__gamma": 0.5, "lr_schedule__milestones": (1,), "lam": 0.0},
    {"optimizer__betas": (0.8, 0.99)},
    {"criterion__s": 10.0, "module__dropout": 0.1, "callbacks__print_log__sink": print},
])
def test_set_params_like_elm_classifier(params):
    single = ELMClassifier(lr_schedule=WarmupMultiStepLR()).set_params(**params)
    search = ELMClassifierCV(lr_schedule=WarmupMultiStepLR()).set_params(**params)
    expected = single.get_params()
    got = search.get_params()
    for key, value in expected.items():
        if hasattr(value, "get_params"):  # compared through its own deep keys
            assert type(got[key]) is type(value), key
        else:
            assert got[key] == value, key
    assert set(got) - set(expected) == SEARCH_PARAMS
    # no stray attribute: the schedule itself holds the value
    assert "lr_schedule__gamma" not in vars(search)
    assert search.lr_schedule.gamma == single.lr_schedule.gamma
    assert clone(search).get_params()["lr_schedule__gamma"] == single.lr_schedule.gamma


def test_deep_grid_keys_are_searched_as_grid_search_does(table):
    X, y = table
    schedule = WarmupMultiStepLR(warmup_epochs=0, milestones=(1,), gamma=0.1)
    grid = {"lr_schedule__gamma": [0.01, 1.0], "lr_schedule__milestones": [(1,), (2,)]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = ELMClassifierCV(**TINY, lr_schedule=schedule, param_grid=grid, cv=cv).fit(X, y)
    reference = GridSearchCV(ELMClassifier(**TINY, lr_schedule=schedule), grid, cv=cv,
                             scoring="balanced_accuracy").fit(X, y)
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], atol=1e-9)
    assert search.cv_results_["batched"].all()
    # the refit uses the best candidate's schedule, on a copy: the base one is left as it was
    best = search.best_estimator_.lr_schedule
    assert (best.gamma, best.milestones) == (search.best_params_["lr_schedule__gamma"],
                                             search.best_params_["lr_schedule__milestones"])
    assert best is not schedule
    assert (schedule.gamma, schedule.milestones) == (0.1, (1,))
    single = ELMClassifier(**TINY, lr_schedule=schedule).set_params(**search.best_params_)
    np.testing.assert_array_equal(search.predict_proba(X), single.fit(X, y).predict_proba(X))


def test_every_fit_gets_its_own_copy_of_a_module_instance(table):
    X, y = table
    module = MLP(n_features=4, n_classes=2, hidden_layer_sizes=(8,))
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    grid = {"lam": [0.0, 1.0]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = ELMClassifierCV(**TINY, module=module, param_grid=grid, cv=cv).fit(X, y)
    reference = GridSearchCV(ELMClassifier(**TINY, module=module), grid, cv=cv,
                             scoring="balanced_accuracy").fit(X, y)
    for k in range(2):
        np.testing.assert_array_equal(search.cv_results_[f"split{k}_test_score"],
                                      reference.cv_results_[f"split{k}_test_score"])
    # no fit trained the caller's module (nor continued another fit's training)
    for name, value in module.state_dict().items():
        assert torch.equal(value, initial[name]), name
    assert search.best_estimator_.module_ is not module


def test_every_fit_gets_its_own_copy_of_the_grid_values(table):
    X, y = table
    module = MLP(n_features=4, n_classes=2, hidden_layer_sizes=(8,))
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    schedule = WarmupMultiStepLR(warmup_epochs=0, milestones=(1,), gamma=0.1)
    search = ELMClassifierCV(**TINY, param_grid={"module": [module], "lr_schedule": [schedule]},
                             cv=2).fit(X, y)
    # as GridSearchCV: the candidate's values are cloned for every fit and the refit
    assert search.best_estimator_.module is not module
    assert search.best_estimator_.lr_schedule is not schedule
    for name, value in module.state_dict().items():
        assert torch.equal(value, initial[name]), name


def test_deep_grid_key_of_a_parameter_without_parameters_is_refused(table):
    X, y = table
    search = ELMClassifierCV(**TINY, lr_schedule=None, param_grid={"lr_schedule__gamma": [0.5]})
    with pytest.raises(ValueError, match=r"param_grid.*lr_schedule__gamma.*lr_schedule=None"):
        search.fit(X, y)


def test_routed_grid_keys_run_one_by_one(table):
    X, y = table
    grid = {"optimizer__betas": [(0.8, 0.99), (0.9, 0.999)]}
    search = ELMClassifierCV(**TINY, param_grid=grid, cv=2).fit(X, y)
    assert not search.cv_results_["batched"].any()
    assert search.best_estimator_.optimizer__betas == search.best_params_["optimizer__betas"]


# ------------------------------------------------------------------------------ folds
def test_a_class_smaller_than_the_folds_warns_when_the_largest_has_exactly_as_many():
    # 5 and 3 samples, 5 folds: the smallest class misses 2 test folds (the largest class fills
    # every fold exactly, so the split itself is allowed)
    X = np.random.RandomState(0).normal(size=(8, 3))
    y = np.repeat([0, 1], [5, 3])
    search = ELMClassifierCV(**{**TINY, "max_epochs": 1}, param_grid={"lam": [0.0]}, cv=5,
                             refit=False)
    with pytest.warns(UserWarning, match="class 1 has only 3 samples, fewer than the 5 folds"):
        search.fit(X, y)


def test_sample_weights_reach_every_fit_of_the_search(table):
    X, y = table
    weights = np.where(y == 1, 5.0, 1.0)
    weights[:30] = 0.0
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0, 1.0]}, cv=cv,
                             scoring="neg_log_loss", refit=False)
    search.fit(X, y, sample_weight=weights)
    # each fit is the weighted single fit on its training part, scored with the test part's
    # weights as GridSearchCV does (log-loss: continuous, so a fit that lost its weights shows)
    for c, lam in enumerate([0.0, 1.0]):
        for k, (train, test) in enumerate(cv.split(X, y)):
            single = ELMClassifier(**TINY, lam=lam)
            weighted_fit = single.fit(X[train], y[train], sample_weight=weights[train])
            expected = -log_loss(y[test], weighted_fit.predict_proba(X[test]),
                                 sample_weight=weights[test])
            plain_fit = single.fit(X[train], y[train])
            unweighted = -log_loss(y[test], plain_fit.predict_proba(X[test]),
                                   sample_weight=weights[test])
            # float32 rounding of the batched fits, against a difference of the weights' size
            assert search.cv_results_[f"split{k}_test_score"][c] == pytest.approx(expected,
                                                                                  rel=1e-3)
            assert expected != pytest.approx(unweighted, rel=0.1)


def test_sample_weights_leaving_one_class_are_refused_before_any_fit(table, monkeypatch):
    import sklearn_elm.model_selection as ms

    def no_fit(*args, **kwargs):
        raise AssertionError("the search trained networks")

    monkeypatch.setattr(ms, "fit_members", no_fit)
    X, y = table
    weights = (y == 0).astype(float)  # every sample of class 1 weighs nothing
    with pytest.raises(ValueError, match="sample_weight leaves a single class with positive"):
        ELMClassifierCV(**TINY, param_grid={"lam": [0.0]}, cv=2).fit(X, y, sample_weight=weights)


def test_declared_classes_are_checked_against_y_before_any_fit(table, monkeypatch):
    import sklearn_elm.model_selection as ms

    X, y = table
    # a declared class absent from y is allowed, and kept in classes_
    search = ELMClassifierCV(**TINY, classes=[0, 1, 2], param_grid={"lam": [0.0]}, cv=2)
    np.testing.assert_array_equal(search.fit(X, y).classes_, [0, 1, 2])
    search.set_params(refit=False)
    np.testing.assert_array_equal(search.fit(X, y).classes_, [0, 1, 2])

    def no_fit(*args, **kwargs):
        raise AssertionError("the search trained networks")

    monkeypatch.setattr(ms, "fit_members", no_fit)
    # a label of y that is not declared is refused before training
    with pytest.raises(ValueError, match=r"y contains labels \[1\] not in classes"):
        ELMClassifierCV(**TINY, classes=[0, 2], param_grid={"lam": [0.0]}, cv=2).fit(X, y)


# ------------------------------------------------------------------------------ n_jobs
@pytest.mark.parametrize("n_jobs, expected", [
    (-1, joblib.cpu_count()), (-2, max(1, joblib.cpu_count() - 1)), (-1000, 1), (None, None),
    (1, 1), (3, 3),
])
def test_n_jobs_negative_as_joblib_means_them(table, monkeypatch, n_jobs, expected):
    import sklearn_elm.model_selection as ms

    seen = []
    fit_members = ms.fit_members

    def spy(*args, **kwargs):
        seen.append(kwargs["n_jobs"])
        return fit_members(*args, **kwargs)

    monkeypatch.setattr(ms, "fit_members", spy)
    X, y = table
    ELMClassifierCV(**TINY, param_grid={"lam": [0.0]}, cv=2, n_jobs=n_jobs).fit(X, y)
    assert seen == [expected]


def test_n_jobs_zero_is_refused(table):
    X, y = table
    with pytest.raises(InvalidParameterError, match="'n_jobs'"):
        ELMClassifierCV(**TINY, n_jobs=0).fit(X, y)
