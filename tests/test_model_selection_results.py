"""``ELMClassifierCV.cv_results_`` is ``GridSearchCV``'s, failures included.

A scorer that returns fixed values per candidate and split makes ties, spreads and NaN scores
deterministic and cheap, so both searches can be compared key by key.
"""

import dataclasses
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV

from sklearn_elm import ELMClassifier, ELMClassifierCV

TINY = dict(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), device="cpu", random_state=0)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: test parts of 40 and 60 rows: the scorer tells the splits apart by their size
TEST_SIZES = (40, 60)
#: per lam, the score of each split (exact in binary): means 0.75, 0.75, 0.625 (a tie, then a
#: gap: ranks 1, 1, 3), spreads that tell ddof=0 from ddof=1, and a NaN on one split (ranked
#: last, not first)
FIXED_SCORES = {
    0.0: (0.5, 1.0),
    0.5: (0.75, 0.75),
    1.0: (0.5, 0.75),
    2.0: (1.0, np.nan),
}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)
    rows = np.arange(120)
    splits, start = [], 0
    for size in TEST_SIZES:
        test = rows[start : start + size]
        splits.append((np.setdiff1d(rows, test), test))
        start += size
    return X, y, splits


def fixed_scorer(estimator, X, y):
    return FIXED_SCORES[estimator.lam][TEST_SIZES.index(len(y))]


def _both_searches(data, param_grid, scoring=fixed_scorer):
    X, y, splits = data
    with pytest.warns(UserWarning, match="non-finite"):
        ours = ELMClassifierCV(**TINY, param_grid=param_grid, cv=splits, scoring=scoring,
                               refit=False).fit(X, y)
    with pytest.warns(UserWarning, match="non-finite"):
        theirs = GridSearchCV(ELMClassifier(**TINY), param_grid, cv=splits, scoring=scoring,
                              refit=False).fit(X, y)
    return ours, theirs


def test_cv_results_equal_grid_search_key_by_key(data):
    # a list of grids: param_lam is masked for the last candidate, param_max_m for the others
    grid = [{"lam": [0.0, 0.5, 1.0]}, {"lam": [2.0], "max_m": [0.3]}]
    ours, theirs = _both_searches(data, grid)
    ours_results, theirs_results = ours.cv_results_, theirs.cv_results_
    shared = set(ours_results) & set(theirs_results)
    assert set(theirs_results) <= set(ours_results)
    for key in sorted(shared - {"mean_fit_time", "std_fit_time", "mean_score_time",
                                "std_score_time"}):
        mine, reference = ours_results[key], theirs_results[key]
        if key == "params":
            assert mine == reference
        elif key.startswith("param_"):
            assert isinstance(mine, np.ma.MaskedArray), key
            np.testing.assert_array_equal(np.ma.getmaskarray(mine),
                                          np.ma.getmaskarray(reference), err_msg=key)
            assert mine.dtype == reference.dtype, key
            assert mine.compressed().tolist() == reference.compressed().tolist(), key
        else:
            np.testing.assert_array_equal(mine, reference, err_msg=key)
            assert np.asarray(mine).dtype == np.asarray(reference).dtype, key
    # what the fixed scores mean, spelled out
    np.testing.assert_array_equal(ours_results["rank_test_score"], [1, 1, 3, 4])
    np.testing.assert_allclose(ours_results["std_test_score"][:3],
                               [0.25, 0.0, 0.125])
    assert ours.best_index_ == theirs.best_index_ == 0
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_)


def test_failed_candidates_rank_last_with_a_warning(data):
    X, y, splits = data

    def scorer(estimator, X, y):
        if estimator.lam == 1.0:
            raise RuntimeError("cannot score this one")
        return fixed_scorer(estimator, X, y)

    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0, 1.0, 0.5]}, cv=splits,
                             scoring=scorer)
    with pytest.warns(FitFailedWarning, match="2 fits failed out of a total of 6"), \
            pytest.warns(UserWarning, match="non-finite"):
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][1])
    np.testing.assert_array_equal(search.cv_results_["rank_test_score"], [1, 3, 1])
    assert search.best_params_ == {"lam": 0.0}


def test_every_fit_failing_raises_instead_of_refitting_one(data):
    X, y, splits = data
    # fails in every fit (the MLP takes no such argument), not in the parameter checks
    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0, 1.0]}, cv=splits,
                             module__no_such_argument=1)
    with pytest.raises(ValueError, match="All the 4 fits failed"):
        search.fit(X, y)
    assert not hasattr(search, "best_estimator_")


def test_every_scorer_call_failing_raises_whatever_the_error_score(data):
    X, y, splits = data

    def broken(estimator, X, y):
        raise RuntimeError("scorer broke")

    for error_score in (np.nan, -1.0):
        search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0, 1.0]}, cv=splits,
                                 scoring=broken, error_score=error_score)
        with pytest.raises(ValueError, match="(?s)All the 4 fits failed.*scorer broke"):
            search.fit(X, y)
        assert not hasattr(search, "best_estimator_")


def test_nan_scores_everywhere_raise_instead_of_refitting_one(data):
    X, y, splits = data
    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0, 1.0]}, cv=splits,
                             scoring=lambda estimator, X, y: np.nan)
    with pytest.raises(ValueError, match="no candidate to choose: every candidate.s mean"), \
            pytest.warns(UserWarning, match="non-finite"):
        search.fit(X, y)
    assert not hasattr(search, "best_params_")


def test_some_nan_scores_warn_as_grid_search_does(data):
    X, y, splits = data
    search = ELMClassifierCV(**TINY, param_grid={"lam": [2.0, 0.0]}, cv=splits,
                             scoring=fixed_scorer, refit=False)
    with pytest.warns(UserWarning, match=r"One or more of the test scores are non-finite"):
        search.fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["rank_test_score"], [2, 1])


def test_error_score_raise_raises_the_first_error(data):
    X, y, splits = data
    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0]}, cv=splits, error_score="raise",
                             module__no_such_argument=1)
    with pytest.raises(TypeError, match="no_such_argument"):
        search.fit(X, y)


def test_batched_reason_says_why_a_candidate_ran_one_by_one(data):
    X, y, splits = data
    grid = [{"lam": [0.0]}, {"optimizer__betas": [(0.8, 0.99)]}]  # routed: fitted alone
    search = ELMClassifierCV(**TINY, param_grid=grid, cv=splits, refit=False).fit(X, y)
    results = search.cv_results_
    assert results["batched"].tolist() == [True, False]
    first, second = results["batched_reason"]
    assert first == "" and "optimizer__betas" in second


def test_fit_and_score_times_are_summarised_per_candidate(data, monkeypatch):
    import sklearn_elm.model_selection as ms

    X, y, splits = data
    # known fit times per (candidate, split), in the order the search lists its fits
    fit_times = np.array([[1.0, 3.0], [2.0, 6.0]])
    fit_members = ms.fit_members

    def timed(*args, **kwargs):
        results = fit_members(*args, **kwargs)
        return [dataclasses.replace(result, fit_time=float(seconds))
                for result, seconds in zip(results, fit_times.ravel(), strict=True)]

    def slow_scorer(estimator, X, y):
        time.sleep(0.01)
        return FIXED_SCORES[estimator.lam][TEST_SIZES.index(len(y))]

    monkeypatch.setattr(ms, "fit_members", timed)
    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0, 0.5]}, cv=splits,
                             scoring=slow_scorer, refit=False).fit(X, y)
    results = search.cv_results_
    np.testing.assert_array_equal(results["mean_fit_time"], [2.0, 4.0])
    np.testing.assert_array_equal(results["std_fit_time"], [1.0, 2.0])  # ddof=0
    # every scoring call slept 10 ms: never less, and far from the fit times
    assert ((results["mean_score_time"] >= 0.01) & (results["mean_score_time"] < 0.9)).all()
    assert ((results["std_score_time"] >= 0) & (results["std_score_time"] < 0.9)).all()


def test_a_candidate_is_batched_only_when_all_its_fits_were(data):
    X, y, splits = data
    # the second training part keeps no weighted sample of class 1: that fit is refused,
    # the first one trains batched
    weights = np.ones(len(y))
    weights[np.intersect1d(splits[1][0], np.flatnonzero(y == 1))] = 0.0
    search = ELMClassifierCV(**TINY, param_grid={"lam": [0.0]}, cv=splits, refit=False,
                             error_score=0.0)
    with pytest.warns(FitFailedWarning, match="1 fits failed out of a total of 2"):
        search.fit(X, y, sample_weight=weights)
    assert search.batched_.tolist() == [[True, False]]
    assert search.cv_results_["batched"].tolist() == [False]
    assert "sample_weight" in search.cv_results_["batched_reason"][0]



def weight_total(estimator, X, y, sample_weight=None):
    """A scorer that shows which weights it was given: their sum (-1 for none)."""
    return -1.0 if sample_weight is None else float(np.sum(sample_weight))


def test_sample_weights_reach_the_scores_as_in_grid_search(data):
    X, y, splits = data
    weights = np.random.default_rng(0).uniform(0.1, 5.0, len(y))
    searches = [
        search(**kwargs, cv=splits, scoring=weight_total).fit(X, y, sample_weight=weights)
        for search, kwargs in (
            (ELMClassifierCV, dict(**TINY, param_grid={"lam": [0.0, 1.0]})),
            (GridSearchCV, dict(estimator=ELMClassifier(**TINY), param_grid={"lam": [0.0, 1.0]})),
        )
    ]
    for k in range(len(splits)):
        ours, theirs = (s.cv_results_[f"split{k}_test_score"] for s in searches)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)  # weights held in float32
    # an unweighted fit scores unweighted, in both
    assert ELMClassifierCV(**TINY, param_grid={"lam": [0.0]}, cv=splits,
                           scoring=weight_total).fit(X, y).best_score_ == -1.0
