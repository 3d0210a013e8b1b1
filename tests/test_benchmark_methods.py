"""The benchmark's methods: tuned grids, the grid-edge report, RUSBoost and small classes."""

import json
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest
from imblearn.ensemble import RUSBoostClassifier
from imblearn.pipeline import Pipeline
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from sklearn_elm.benchmark import (
    METHOD_TABLE,
    BenchmarkDataset,
    inner_budget,
    make_method,
    make_splits,
    run_benchmark,
    write_report,
)
from sklearn_elm.benchmark._report import grid_edges
from sklearn_elm.benchmark._results import PER_CLASS_COLUMNS, RESULT_COLUMNS
from sklearn_elm.benchmark._runner import _cell_seed
from sklearn_elm.datasets import load_dataset
from sklearn_elm.model_selection import DEFAULT_PARAM_GRID

INTERPOLATING = ["smote", "borderline-smote", "adasyn", "smote-tomek"]
NETWORK = {"hidden_layer_sizes": (8,), "lr": 0.01, "batch_size": 32, "max_epochs": 2}


# --------------------------------------------------------------------------------------------
# tuned grids
# --------------------------------------------------------------------------------------------
def test_elm_is_tuned_over_the_default_grid_of_elmclassifiercv():
    assert METHOD_TABLE["elm"].grid is DEFAULT_PARAM_GRID
    assert inner_budget("elm") == 16 * 3 + 1


def test_ldam_is_tuned_over_its_margin_and_drw():
    assert METHOD_TABLE["ldam"].grid == {"max_m": [0.3, 0.5], "drw_start": [None, 0.8]}
    search = make_method("ldam", [40, 8], tune=True, random_state=0).named_steps["classify"]
    assert search.param_grid == METHOD_TABLE["ldam"].grid
    assert search.param_grid is not METHOD_TABLE["ldam"].grid  # the table is not shared
    assert search.loss == "ldam" and inner_budget("ldam") == 13


# --------------------------------------------------------------------------------------------
# grid edges and failed cells in the report
# --------------------------------------------------------------------------------------------
def _cells(rows):
    """A results frame from ``(dataset, method, tuned, fold, score, best_params, error)``."""
    frame = pd.DataFrame(
        [
            {
                **dict.fromkeys(RESULT_COLUMNS, np.nan),
                "dataset": dataset,
                "method": method,
                "tuned": tuned,
                "repeat": 0,
                "fold": fold,
                "seed": 0,
                "balanced_accuracy": np.nan if error else score,
                "macro_f1": np.nan if error else score,
                "g_mean": np.nan if error else score,
                "roc_auc": np.nan if error else score,
                "fit_time": 0.1,
                "predict_time": 0.01,
                "n_train": 40,
                "n_test": 10,
                "best_params": params,
                "error": error,
                "note": "",
            }
            for dataset, method, tuned, fold, score, params, error in rows
        ]
    )
    return frame[RESULT_COLUMNS]


def _hand_made_results():
    rng = np.random.RandomState(0)
    rows = []
    for d in range(6):
        for fold in range(2):
            rows.append((f"d{d}", "ce", False, fold, rng.uniform(0.6, 0.8), "", ""))
            for tuned in (False, True):
                # C: 10.0 (the highest) on 9 of the 12 tuned cells
                c = 10.0 if (d * 2 + fold) % 4 else 0.1
                params = json.dumps({"classify__C": c}) if tuned else ""
                rows.append((f"d{d}", "logreg-balanced", tuned, fold,
                             rng.uniform(0.7, 0.9), params, ""))
                # max_m split evenly; drw_start: 0.8 on two thirds of the cells
                m = 0.3 if fold else 0.5
                drw = None if d % 3 == 0 else 0.8
                error = "ValueError: boom" if (d, fold, tuned) == (5, 1, True) else ""
                params = json.dumps({"drw_start": drw, "max_m": m}) if tuned and not error else ""
                rows.append((f"d{d}", "ldam", tuned, fold, rng.uniform(0.7, 0.9), params, error))
    return _cells(rows)


def test_grid_edges_from_a_hand_made_results_frame():
    edges = grid_edges(_hand_made_results())
    c = edges["logreg-balanced"]["C"]
    assert c["cells"] == 12 and c["grid"] == [0.1, 1.0, 10.0]
    assert c["lowest"] == pytest.approx(3 / 12) and c["highest"] == pytest.approx(9 / 12)
    assert c["warning"].startswith("logreg-balanced chose C at the highest value of its grid")
    # a two-value grid: both values are ends; 6 of the 11 tuned ldam cells that ran have 0.5
    m = edges["ldam"]["max_m"]
    assert m["cells"] == 11
    assert m["lowest"] == pytest.approx(5 / 11) and m["highest"] == pytest.approx(6 / 11)
    assert "at the highest value of its grid (0.5) in 55% of 11" in m["warning"]
    # non-numeric choices: shares of each value, no edge and no warning
    drw = edges["ldam"]["drw_start"]
    assert drw["shares"] == {"None": pytest.approx(4 / 11), "0.8": pytest.approx(7 / 11)}
    assert "warning" not in drw and "lowest" not in drw
    assert "ce" not in edges  # no tuned cell


def test_grid_edges_no_warning_when_the_ends_are_even():
    cells = _cells([("d", "ldam", True, f, 0.8, json.dumps({"max_m": m}), "")
                    for f, m in enumerate([0.3, 0.5, 0.3, 0.5])])
    entry = grid_edges(cells)["ldam"]["max_m"]
    assert entry["lowest"] == entry["highest"] == 0.5 and entry["warning"] is None


def test_report_warns_of_grid_edges_and_counts_failed_cells(tmp_path):
    results = _hand_made_results()
    rng = np.random.RandomState(1)
    datasets = [
        BenchmarkDataset.from_arrays(f"d{d}", rng.normal(size=(50, 2)), np.repeat([0, 1], 25))
        for d in range(6)
    ]
    protocol = {"folds": 2, "repeats": 1, "seed": 0, "network_params": NETWORK,
                "device": "cpu", "n_jobs": 1, "quick": False, "tune": True,
                "metric": "balanced_accuracy", "batched": True}
    with pytest.warns(UserWarning) as caught:
        write_report(results, pd.DataFrame(columns=PER_CLASS_COLUMNS).astype({"tuned": bool}),
                     datasets, ["ce", "logreg-balanced", "ldam"], tmp_path,
                     command_line="test", protocol=protocol, wall_time=1.0)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("logreg-balanced chose C at the highest value") for m in messages)
    assert any(m.startswith("ldam chose max_m at the highest value") for m in messages)
    report = (tmp_path / "report.md").read_text()
    assert "### Grid edges of the tuned choices" in report
    assert "**Warning:** logreg-balanced chose C at the highest value of its grid (10.0)" in report
    assert "| ldam | drw_start | None, 0.8 | 11 |" in report and "None: 36%, 0.8: 64%" in report
    assert "1 of 60 cells failed" in report and "ValueError: boom" in report
    statistics = json.loads((tmp_path / "stats.json").read_text())
    assert statistics["failed_cells"] == {
        "count": 1, "cells": 60, "by_method": {"ldam": {"default": 0, "tuned": 1}},
    }
    assert statistics["grid_edges"]["logreg-balanced"]["C"]["highest"] == pytest.approx(0.75)


# --------------------------------------------------------------------------------------------
# RUSBoost
# --------------------------------------------------------------------------------------------
def test_rusboost_runs_where_boosted_stumps_are_worse_than_chance():
    # glass2 (214 samples, 17 positive), first split of the benchmark: the stumps of
    # imbalanced-learn's default RUSBoost are worse than chance on the training part
    bunch = load_dataset("glass2")
    dataset = BenchmarkDataset.from_arrays("glass2", bunch.data, bunch.target)
    repeat, fold, train, test = make_splits(dataset, 5, 2, 0)[0]
    X, y, seed = dataset.X[train], dataset.y[train], _cell_seed(0, repeat, fold)
    stumps = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                       ("classify", RUSBoostClassifier(random_state=seed))])
    with pytest.raises(ValueError, match="worse than random"):
        stumps.fit(X, y)
    model = make_method("rusboost", np.bincount(y), random_state=seed).fit(X, y)
    assert len(model.named_steps["classify"].estimators_) >= 1
    assert set(model.predict(dataset.X[test])) <= {0, 1}


# --------------------------------------------------------------------------------------------
# interpolating samplers on classes with very few samples
# --------------------------------------------------------------------------------------------
def _one_sample_class():
    """Two classes of 20 and one of 2: a training part of a 2-fold split holds one of it."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(3 * k, 1, (n, 3)) for k, n in enumerate((20, 20, 2))])
    return X, np.repeat([0, 1, 2], (20, 20, 2))


@pytest.mark.parametrize("method", INTERPOLATING)
def test_sampler_duplicates_a_single_sample_and_says_so(method):
    X, y = _one_sample_class()
    train = np.r_[0:16, 20:30, 40]  # classes of 16, 10 and 1 samples
    sampler = make_method(method, np.bincount(y[train]), random_state=0).named_steps["sample"]
    with pytest.warns(UserWarning, match="with a single training sample oversampled by dup"):
        X_res, y_res = sampler.fit_resample(X[train], y[train])
    counts = np.bincount(y_res)
    assert counts[2] >= 2 and (X_res[y_res == 2] == X[40]).all()


def test_neighbours_reduced_to_the_smallest_interpolated_class():
    X, y = _one_sample_class()
    train = np.r_[0:20, 20:23]  # a class of 3: 2 neighbours at most
    sampler = make_method("smote", [20, 3], random_state=0).named_steps["sample"]
    with pytest.warns(UserWarning, match="k_neighbors reduced from 5 to 2"):
        _, y_res = sampler.fit_resample(X[train], y[train])
    assert np.bincount(y_res).tolist() == [20, 20]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to adapt: no warning
        make_method("smote", [20, 20]).named_steps["sample"].fit_resample(X[:40], y[:40])


def test_adasyn_oversamples_a_class_without_foreign_neighbours_as_smote():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(20, 1, (8, 2))])
    y = np.repeat([0, 1], (40, 8))
    sampler = make_method("adasyn", [40, 8], random_state=0).named_steps["sample"]
    with pytest.warns(UserWarning, match="oversampled as by SMOTE"):
        _, y_res = sampler.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [40, 40]


def test_sampler_cells_with_a_one_sample_class_run_default_and_tuned():
    X, y = _one_sample_class()
    dataset = BenchmarkDataset.from_arrays("tiny-tail", X, np.array(["a", "b", "c"])[y])
    results = run_benchmark([dataset], INTERPOLATING, tempfile.mkdtemp(), n_splits=2,
                            n_repeats=1, network_params=NETWORK, tune=True, progress=False,
                            log=lambda message: None)
    assert len(results) == len(INTERPOLATING) * 2 * 2  # default and tuned, two splits
    assert (results["error"] == "").all(), results["error"].tolist()
    adapted = "class(es) 2 with a single training sample"
    assert results["note"].str.contains(adapted, regex=False).all()
    assert results["balanced_accuracy"].notna().all()
