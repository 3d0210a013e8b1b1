"""``ELMClassifierCV``: GridSearchCV's results and layout, from the batched trainer."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_elm import ELMClassifier, ELMClassifierCV
from sklearn_elm.model_selection import DEFAULT_PARAM_GRID, EXPECTED_FAILED_CHECKS

SMALL = dict(max_epochs=3, batch_size=32, hidden_layer_sizes=(16,), device="cpu",
             random_state=0)


# many tiny fits: one thread avoids per-op synchronisation on busy cores
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def table():
    return make_classification(n_samples=240, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)


def test_default_grid_is_small_and_covers_ldam_and_no_drw():
    candidates = [dict(zip(DEFAULT_PARAM_GRID, values, strict=True))
                  for values in np.array(np.meshgrid(*DEFAULT_PARAM_GRID.values()),
                                         dtype=object).T.reshape(-1, 3)]
    assert len(candidates) <= 16
    assert 0.0 in DEFAULT_PARAM_GRID["lam"] and min(DEFAULT_PARAM_GRID["lam"]) < 0
    assert None in DEFAULT_PARAM_GRID["drw_start"]
    assert ELMClassifierCV().param_grid is None


def test_scores_equal_grid_search(table):
    X, y = table
    grid = {"lam": [0.0, 1.0], "drw_start": [None, 2]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = ELMClassifierCV(**SMALL, param_grid=grid, cv=cv).fit(X, y)
    reference = GridSearchCV(ELMClassifier(**SMALL), grid, cv=cv,
                             scoring="balanced_accuracy").fit(X, y)
    ours, theirs = pd.DataFrame(search.cv_results_), pd.DataFrame(reference.cv_results_)
    # GridSearchCV's columns, in its layout
    assert set(theirs.columns) <= set(ours.columns)
    assert ours["params"].tolist() == theirs["params"].tolist()
    for k in range(3):
        np.testing.assert_allclose(ours[f"split{k}_test_score"], theirs[f"split{k}_test_score"],
                                   atol=1e-9)
    np.testing.assert_array_equal(ours["rank_test_score"], theirs["rank_test_score"])
    assert ours["batched"].all() and search.batched_.shape == (4, 3)
    assert search.best_params_ == reference.best_params_
    assert search.best_index_ == reference.best_index_
    assert search.best_score_ == pytest.approx(reference.best_score_)
    assert search.n_splits_ == 3
    # the refitted model is exactly what ELMClassifier(**best_params_) gives
    best = ELMClassifier(**SMALL, **search.best_params_).fit(X, y)
    assert isinstance(search.best_estimator_, ELMClassifier)
    np.testing.assert_array_equal(search.predict_proba(X), best.predict_proba(X))
    np.testing.assert_array_equal(search.decision_function(X), best.decision_function(X))
    np.testing.assert_array_equal(search.predict(X), best.predict(X))
    assert search.score(X, y) == best.score(X, y)
    np.testing.assert_array_equal(search.classes_, best.classes_)
    assert search.n_features_in_ == 6


def test_unbatchable_candidates_are_fitted_one_by_one_and_recorded(table):
    X, y = table
    grid = {"optimizer": ["adam", torch.optim.RMSprop]}  # a class the batched engine lacks
    search = ELMClassifierCV(**SMALL, param_grid=grid, cv=2).fit(X, y)
    assert search.cv_results_["batched"].tolist() == [True, False]
    assert search.batched_.tolist() == [[True, True], [False, False]]
    first, second = search.cv_results_["batched_reason"]
    assert first == "" and "RMSprop" in second


def test_default_cv_is_seeded_stratified_five_fold(table):
    X, y = table
    params = dict(SMALL, param_grid={"lam": [0.0]})
    a = ELMClassifierCV(**params).fit(X, y)
    b = GridSearchCV(ELMClassifier(**SMALL), {"lam": [0.0]}, scoring="balanced_accuracy",
                     cv=StratifiedKFold(5, shuffle=True, random_state=0)).fit(X, y)
    np.testing.assert_allclose(a.cv_results_["mean_test_score"],
                               b.cv_results_["mean_test_score"], atol=1e-9)


def test_string_labels_pipeline_and_dataframe(table):
    X, y = table
    labels = np.array(["common", "middle", "rare"])[y]
    frame = pd.DataFrame(X * 100, columns=[f"f{i}" for i in range(6)])
    pipe = make_pipeline(StandardScaler(),
                         ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}, cv=2))
    pipe.fit(frame, labels)
    assert set(pipe.predict(frame)) <= set(labels)
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0]}, cv=2).fit(frame, labels)
    assert search.feature_names_in_.tolist() == list(frame.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search.predict(frame)  # no "fitted without feature names" warning


def test_best_estimator_carries_the_column_names(table):
    X, y = table
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}, cv=2).fit(frame, y)
    best = search.best_estimator_
    assert best.feature_names_in_.tolist() == list(frame.columns)
    assert best.n_features_in_ == search.n_features_in_ == 6
    reference = ELMClassifier(**SMALL, **search.best_params_).fit(frame, y)
    np.testing.assert_array_equal(search.predict_proba(frame), reference.predict_proba(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # names checked, and no "without feature names" warning
        search.predict(frame)
        best.predict(frame)
    reordered = frame[frame.columns[::-1]]
    for estimator in (search, best):
        with pytest.raises(ValueError, match="Feature names must be in the same order"):
            estimator.predict(reordered)
    with pytest.warns(UserWarning, match="fitted with feature names"):
        search.predict(X)


def test_refit_uses_the_sample_weights(table):
    X, y = table
    weights = np.where(y == 2, 5.0, 1.0)
    weights[:20] = 0.0
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}, cv=2)
    search.fit(X, y, sample_weight=weights)
    weighted = ELMClassifier(**SMALL, **search.best_params_).fit(X, y, sample_weight=weights)
    unweighted = ELMClassifier(**SMALL, **search.best_params_).fit(X, y)
    np.testing.assert_array_equal(search.predict_proba(X), weighted.predict_proba(X))
    assert not np.allclose(weighted.predict_proba(X), unweighted.predict_proba(X))


def test_checkpoints_one_directory_per_fit_and_resume(table, tmp_path):
    X, y = table
    grid = {"lam": [0.0, 1.0, 0.5]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = ELMClassifierCV(**SMALL, param_grid=grid, cv=cv, checkpoint_dir=tmp_path / "ck")
    search.fit(X, y)
    # every candidate is its own network, as without checkpoints
    reference = GridSearchCV(ELMClassifier(**SMALL), grid, cv=cv,
                             scoring="balanced_accuracy").fit(X, y)
    for k in range(2):
        np.testing.assert_array_equal(search.cv_results_[f"split{k}_test_score"],
                                      reference.cv_results_[f"split{k}_test_score"])
    assert sorted(path.name for path in (tmp_path / "ck").iterdir()) == [
        f"candidate{c}_split{k}" for c in range(3) for k in range(2)] + ["refit"]
    assert all((path / "checkpoint.zip").is_file() for path in (tmp_path / "ck").iterdir())
    best = ELMClassifier(**SMALL, **search.best_params_).fit(X, y)
    np.testing.assert_array_equal(search.predict_proba(X), best.predict_proba(X))
    # the same search again resumes every fit from its own checkpoint: nothing left to train
    again = clone(search).fit(X, y)
    for k in range(2):
        np.testing.assert_array_equal(again.cv_results_[f"split{k}_test_score"],
                                      search.cv_results_[f"split{k}_test_score"])
    checkpoint = dict(again.best_estimator_.net_.callbacks_)["checkpoint"]
    assert checkpoint.restored_epochs_ == SMALL["max_epochs"]
    np.testing.assert_array_equal(again.predict_proba(X), search.predict_proba(X))


def test_pickle_and_safe_save_load(table, tmp_path):
    X, y = table
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}, cv=2).fit(X, y)
    again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(again.predict_proba(X), search.predict_proba(X))
    path = tmp_path / "search.elm"
    search.save(path)
    loaded = ELMClassifierCV.load(path)
    assert isinstance(loaded, ELMClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X), search.predict_proba(X))


def test_refit_false_has_no_best_estimator(table):
    X, y = table
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}, cv=2, refit=False)
    search.fit(X, y)
    assert not hasattr(search, "best_estimator_")
    assert search.best_params_ in search.cv_results_["params"]
    with pytest.raises(AttributeError, match="refit=False"):
        search.predict(X)


def test_routed_parameters_pass_through(table):
    X, y = table
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0]}, cv=2,
                             optimizer__betas=(0.8, 0.99))
    assert search.get_params()["optimizer__betas"] == (0.8, 0.99)
    assert clone(search).get_params()["optimizer__betas"] == (0.8, 0.99)
    search.fit(X, y)
    assert not search.cv_results_["batched"][0]  # routed parameters: one fit at a time
    assert search.best_estimator_.optimizer__betas == (0.8, 0.99)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "grid", [{}, [], [{}], {"lam": []}, {"lam": 0.5}, "lam", [{"lam": [0]}, 3]])
def test_empty_or_malformed_grid(table, grid):
    X, y = table
    with pytest.raises((ValueError, TypeError), match="param_grid"):
        ELMClassifierCV(**SMALL, param_grid=grid).fit(X, y)


def test_grid_over_unknown_parameter(table):
    X, y = table
    with pytest.raises(ValueError, match=r"\['lamda'\]"):
        ELMClassifierCV(**SMALL, param_grid={"lamda": [0, 1]}).fit(X, y)
    with pytest.raises(ValueError, match=r"\['cv'\]"):
        ELMClassifierCV(**SMALL, param_grid={"cv": [2, 3]}).fit(X, y)


@pytest.mark.parametrize("params", [
    dict(lam="big"), dict(s=0), dict(loss="hinge"), dict(batch_size=0),
    dict(hidden_layer_sizes=(0,)), dict(cv="five"), dict(scoring="no_such_scorer"),
    dict(max_batched_members=0), dict(error_score="ignore"),
])
def test_invalid_base_parameters_fail_before_training(table, params, monkeypatch):
    X, y = table
    import sklearn_elm.model_selection as ms

    monkeypatch.setattr(ms, "fit_members", None)  # any training would fail differently
    with pytest.raises((ValueError, TypeError)) as caught:
        ELMClassifierCV(**{**SMALL, **params}, param_grid={"lam": [0.0]}).fit(X, y)
    assert isinstance(caught.value, (InvalidParameterError, ValueError, TypeError))
    assert "NoneType" not in str(caught.value)


def test_invalid_grid_values_fail_before_training(table, monkeypatch):
    X, y = table
    import sklearn_elm.model_selection as ms

    monkeypatch.setattr(ms, "fit_members", None)
    with pytest.raises(InvalidParameterError, match="'max_m'"):
        ELMClassifierCV(**SMALL, param_grid={"max_m": [0.5, -1.0]}).fit(X, y)


def test_bad_data_is_rejected_like_elm_classifier(table):
    X, y = table
    cases = [
        (X[:, :0], y), (np.where(X > 2, np.nan, X), y), (X, np.zeros_like(y)),
        (X, y.astype(float) + 0.5), (X * 1e300, y),
    ]
    for bad_X, bad_y in cases:
        with pytest.raises(ValueError) as single:
            ELMClassifier(**SMALL).fit(bad_X, bad_y)
        with pytest.raises(ValueError) as search:
            ELMClassifierCV(**SMALL, param_grid={"lam": [0.0]}).fit(bad_X, bad_y)
        assert str(search.value).replace("ELMClassifierCV", "ELMClassifier") == str(single.value)


def test_more_folds_than_the_smallest_class_warns_and_runs(table):
    X, y = table
    y = y.copy()
    y[np.flatnonzero(y == 2)[3:]] = 1  # class 2 keeps 3 samples
    with pytest.warns(UserWarning, match="class 2 has only 3 samples, fewer than the 5 folds"):
        search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_as_many_samples_as_folds_does_not_warn(table):
    X, y = table
    y = y.copy()
    y[np.flatnonzero(y == 2)[5:]] = 1  # class 2 keeps 5 samples: one per fold
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0]}, refit=False).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def _failing_scorer(estimator, X, y):
    raise RuntimeError("scorer broke")


def test_failing_scorer_is_recorded_or_raised(table):
    X, y = table

    def scorer(estimator, X, y):
        return _failing_scorer(estimator, X, y) if estimator.lam else 0.5

    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0, 1.0]}, cv=2, scoring=scorer,
                             refit=False)
    with pytest.warns(FitFailedWarning, match="(?s)2 fits failed out of a total of 4.*broke"), \
            pytest.warns(UserWarning, match="non-finite: \\[0.5 +nan\\]"):
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"]).tolist() == [False, True]
    with pytest.raises(RuntimeError, match="scorer broke"):
        search.set_params(error_score="raise").fit(X, y)
    search.set_params(error_score=-1.0)
    with pytest.warns(FitFailedWarning):
        search.fit(X, y)
    assert search.cv_results_["mean_test_score"].tolist() == [0.5, -1.0]


def test_scorer_name_and_callable(table):
    X, y = table
    search = ELMClassifierCV(**SMALL, param_grid={"lam": [0.0]}, cv=2, scoring="f1_macro")
    assert 0.0 <= search.fit(X, y).best_score_ <= 1.0


# ------------------------------------------------------------------------------ estimator checks
@parametrize_with_checks(
    [ELMClassifierCV(max_epochs=5, param_grid={"lam": [0.0, 1.0]}, cv=2, random_state=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_search_on_cuda_equals_grid_search(table):
    X, y = table
    params = dict(SMALL, device="cuda")
    grid = {"lam": [0.0, 1.0]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = ELMClassifierCV(**params, param_grid=grid, cv=cv).fit(X, y)
    reference = GridSearchCV(ELMClassifier(**params), grid, cv=cv,
                             scoring="balanced_accuracy").fit(X, y)
    assert search.cv_results_["batched"].all()
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], atol=0.02)
