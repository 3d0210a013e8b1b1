"""The benchmark's protocols, suites, methods table and user estimators, through its Python API."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

from sklearn_elm.benchmark import (
    BASELINE_METHODS,
    DEFAULT_SUITE_METHODS,
    METHOD_TABLE,
    METHODS,
    BenchmarkDataset,
    inner_budget,
    load_default_suite,
    load_suite,
    make_method,
    make_splits,
    run_benchmark,
)
from sklearn_elm.datasets import list_datasets, long_tailed_counts


def _quiet(message):
    pass


def _blobs(n_per_class=60, n_classes=5, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(y.size, 4)) + y[:, None]
    return X, y


def test_long_tail_protocol_keeps_the_test_part_balanced_and_every_class():
    X, y = _blobs(n_per_class=60, n_classes=5)
    dataset = BenchmarkDataset.from_arrays("blobs-lt100", X, y, lt_ratio=100.0)
    splits = make_splits(dataset, n_splits=5, n_repeats=2, seed=0)
    assert len(splits) == 10 and {fold for _, fold, _, _ in splits} == {0}
    for _, _, train, test in splits:
        assert not set(train) & set(test)
        # test part: a stratified fifth of the balanced source, balanced
        assert np.bincount(y[test]).tolist() == [12] * 5
        # training part: the rest made long-tailed, head = 48 samples, no class dropped
        assert np.bincount(y[train], minlength=5).tolist() == long_tailed_counts(48, 5, 100)
        assert np.bincount(y[train]).min() == 1
    # repeats draw other splits and other subsamples
    tests = {tuple(sorted(test)) for _, _, _, test in splits}
    trains = {tuple(sorted(train)) for _, _, train, _ in splits}
    assert len(tests) == len(trains) == 10
    # the head class (48 samples) cannot reach ratio 100: said once, in the dataset's notes
    assert [n for n in dataset.notes if "reach ratio 48, not 100" in n]


def test_long_tail_ratio_reached_gives_no_note():
    X, y = _blobs(n_per_class=60, n_classes=5)
    dataset = BenchmarkDataset.from_arrays("blobs-lt10", X, y, lt_ratio=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_splits(dataset, n_splits=5, n_repeats=1, seed=0)
    assert dataset.notes == []


def test_kfold_protocol_drops_only_single_sample_classes_and_says_so():
    X, y = _blobs(n_per_class=6, n_classes=3)
    y = np.append(y, 7)
    X = np.vstack([X, X[:1]])
    dataset = BenchmarkDataset.from_arrays("odd", X, y)
    assert dataset.class_names.tolist() == [0, 1, 2]
    assert "dropped class(es) [7] with a single sample" in dataset.notes[0]
    splits = make_splits(dataset, n_splits=10, n_repeats=1, seed=0)
    assert len(splits) == 6 and "10 folds reduced to 6" in dataset.notes[-1]


def test_shot_accuracy_of_a_long_tailed_run(tmp_path):
    X, y = _blobs(n_per_class=200, n_classes=6)
    dataset = BenchmarkDataset.from_arrays("blobs-lt100", X, y, lt_ratio=100.0, long_tailed=True)
    results = run_benchmark(
        [dataset],
        ["logreg-balanced"],
        tmp_path,
        n_splits=4,
        n_repeats=1,
        progress=False,
        log=_quiet,
    )
    # head 150 training samples (many-shot), then 59, 23 (medium), 9, 3, 1 (few)
    assert (
        results[["many_shot_accuracy", "medium_shot_accuracy", "few_shot_accuracy"]]
        .notna()
        .all()
        .all()
    )
    per_class = pd.read_csv(tmp_path / "per_class.csv")
    assert sorted(set(per_class["train_count"])) == [1, 3, 9, 23, 59, 150]


def test_default_suite_composition():
    suite = load_default_suite()
    kinds = set(list_datasets()["name"])
    assert len(suite) >= 25 and len({d.name for d in suite}) == len(suite)
    long_tailed = [d for d in suite if d.protocol == "long-tail"]
    assert len(long_tailed) >= 6
    assert all(d.class_names.size > 2 for d in long_tailed)
    # every dataset is shipped data; every long-tailed tail keeps >= 2 training samples
    for dataset in suite:
        assert dataset.name.rsplit("-lt", 1)[0] in kinds
    for dataset in long_tailed:
        splits = make_splits(dataset, 3, 1, 0)
        assert min(np.bincount(dataset.y[train]).min() for _, _, train, _ in splits) >= 2
    assert set(DEFAULT_SUITE_METHODS) <= set(METHODS) and "elm" in DEFAULT_SUITE_METHODS


def test_lt_and_keel_suites_cover_the_shipped_data():
    keel = list_datasets(kind="keel")
    multiclass = list_datasets(kind="multiclass")
    lt = load_suite("lt")
    assert len(lt) == 2 * len(multiclass)
    assert {d.name for d in lt} == {f"{n}-lt{r}" for n in multiclass["name"] for r in (10, 100)}
    assert all(d.protocol == "long-tail" for d in lt)
    assert len(keel) == 80
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        load_suite("nope")


def test_methods_table_declares_every_method_and_its_grid():
    assert set(METHODS) == set(METHOD_TABLE)
    assert {"balanced-bagging", "rusboost"} <= set(BASELINE_METHODS)
    for name, spec in METHOD_TABLE.items():
        assert inner_budget(name) == (spec.n_candidates * 3 + 1 if spec.grid else 1)
    search = make_method("hgb-balanced", [50, 10], tune=True, random_state=0)
    assert isinstance(search, GridSearchCV) and search.cv.n_splits == 3
    assert search.param_grid == {
        "classify__learning_rate": [0.05, 0.1],
        "classify__max_leaf_nodes": [15, 31],
    }
    # the neighbour grid of a sampler is clipped to what an inner training fold holds
    search = make_method("smote", [50, 6], tune=True)
    assert search.param_grid == {"sample__k_neighbors": [3]}
    assert make_method("ce", [50, 6], tune=True).steps[-1][0] == "classify"  # no grid: untuned
    # a class too small to interpolate in the inner folds is duplicated there, not a limit
    assert make_method("smote", [50, 2], tune=True).param_grid == {"sample__k_neighbors": [3, 5]}


@pytest.mark.parametrize("method", ["smote", "borderline-smote", "adasyn", "smote-tomek"])
def test_interpolating_samplers_run_on_two_and_one_sample_classes(method):
    X, y = _blobs(n_per_class=30, n_classes=3)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 2)[:1]]
    X, y = X[keep], y[keep]
    sampler = make_method(method, np.bincount(y), random_state=0).named_steps["sample"]
    with pytest.warns(UserWarning):  # the adaptation is said, and lands in the cell's note
        _, y_resampled = sampler.fit_resample(X, y)
    counts = np.bincount(y_resampled)
    assert len(counts) == 3 and counts.min() > 2  # no class dropped, every one oversampled


class FailsOnSmallFolds(ClassifierMixin, BaseEstimator):
    """Fails when fitted on fewer than ``min_samples`` rows: some folds fail, others not."""

    def __init__(self, min_samples=50):
        self.min_samples = min_samples

    def fit(self, X, y):
        if len(X) < self.min_samples:
            raise RuntimeError(f"only {len(X)} rows")
        self.classes_ = np.unique(y)
        self.majority_ = self.classes_[np.argmax(np.bincount(np.searchsorted(self.classes_, y)))]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_custom_estimators_are_cloned_recorded_and_failures_kept(tmp_path):
    X, y = _blobs(n_per_class=30, n_classes=3)
    big = BenchmarkDataset.from_arrays("big", X, y)
    small = BenchmarkDataset.from_arrays("small", X[::3], y[::3])
    knn = KNeighborsClassifier(n_neighbors=3)
    methods = {"knn": knn, "picky": FailsOnSmallFolds(min_samples=40), "logreg-balanced": None}
    results = run_benchmark(
        [big, small], methods, tmp_path, n_splits=2, n_repeats=1, progress=False, log=_quiet
    )
    assert not hasattr(knn, "classes_")  # cloned per cell, never fitted itself
    assert set(results["method"]) == {"knn", "picky", "logreg-balanced"}
    picky = results[results["method"] == "picky"].set_index("dataset")
    assert (picky.loc["small", "error"] == "RuntimeError: only 15 rows").all()
    assert (picky.loc["big", "error"] == "").all()  # 45 rows: fitted
    assert results.loc[results["method"] == "knn", "balanced_accuracy"].notna().all()
    protocol = json.loads((tmp_path / "protocol.json").read_text())
    assert protocol["methods"]["knn"] == "KNeighborsClassifier(n_neighbors=3)"
    assert protocol["methods"]["logreg-balanced"]["grid"] == {"C": ["0.1", "1.0", "10.0"]}
    # the same name for another estimator: refused, not mixed
    with pytest.raises(ValueError, match="method knn"):
        run_benchmark(
            [big],
            [("knn", KNeighborsClassifier(n_neighbors=5))],
            tmp_path,
            n_splits=2,
            n_repeats=1,
            progress=False,
            log=_quiet,
        )


@pytest.mark.parametrize(
    "methods, message",
    [
        (["elm", "svm"], "unknown method"),
        ([("elm", DummyClassifier())], "is a built-in method"),
        ([("a", DummyClassifier()), ("a", DummyClassifier())], "named twice"),
        ([("scaler", object())], "not a classifier"),
    ],
)
def test_bad_methods_are_refused(tmp_path, methods, message):
    X, y = _blobs(n_per_class=10, n_classes=2)
    with pytest.raises(ValueError, match=message):
        run_benchmark([BenchmarkDataset.from_arrays("d", X, y)], methods, tmp_path, log=_quiet)
