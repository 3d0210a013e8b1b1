"""``--tune``: declared grids, nested cross-validation on the training part, both rankings."""

import json

import numpy as np
import pandas as pd
import pytest
from _benchmark_data import write_csv, write_keel

from sklearn_elm.benchmark import METHOD_TABLE, main, make_method
from sklearn_elm.model_selection import DEFAULT_PARAM_GRID, ELMClassifierCV


def test_tuned_networks_use_the_batched_search_with_the_same_scorer():
    pipeline = make_method("elm", [40, 8], tune=True, scoring="f1_macro", random_state=3)
    search = pipeline.named_steps["classify"]
    assert isinstance(search, ELMClassifierCV)
    # ELMClassifierCV's own default grid, which is the declared grid of elm
    assert search.param_grid is None and METHOD_TABLE["elm"].grid is DEFAULT_PARAM_GRID
    assert search.cv.n_splits == 3 and search.scoring == "f1_macro"
    assert search.loss == "elm" and search.drw_start == "auto"


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.RandomState(0)
    write_keel(folder / "tiny.dat", "tiny", 60, 15, rng)
    write_csv(folder / "blobs.csv", 45, 3, rng)
    out = tmp_path_factory.mktemp("tuned")
    args = [
        "benchmark", "--quick", "--no-progress", "--n-jobs", "1", "--tune",
        "--max-epochs", "3", "--data-dir", str(folder), "--methods",
        "elm,ce,smote,logreg-balanced", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    return out


def test_tuned_and_default_cells_on_the_same_splits(tuned_run):
    results = pd.read_csv(tuned_run / "results.csv", keep_default_na=False)
    tuned = results[results["tuned"]]
    # ce has no grid: only its default cells; the others run both ways
    assert set(tuned["method"]) == {"elm", "smote", "logreg-balanced"}
    assert (results[~results["tuned"]].groupby("method").size() == 4).all()
    assert len(tuned) == 3 * 2 * 2
    keys = ["dataset", "repeat", "fold"]
    assert set(map(tuple, tuned[keys].to_numpy())) == set(map(tuple, results[keys].to_numpy()))
    for row in tuned.itertuples():
        assert row.error == "", row.error
        params = json.loads(row.best_params)
        if row.method == "elm":
            assert set(params) == set(DEFAULT_PARAM_GRID)
            for name, values in DEFAULT_PARAM_GRID.items():
                assert params[name] in values
        elif row.method == "logreg-balanced":
            assert params["classify__C"] in (0.1, 1.0, 10.0)
        else:
            assert set(params) == {"sample__k_neighbors"}
    assert (results.loc[~results["tuned"], "best_params"] == "").all()


def test_report_ranks_tuned_and_default_side_by_side(tuned_run):
    report = (tuned_run / "report.md").read_text()
    assert "### Tuned and default, side by side" in report
    assert "every method scored, default and tuned" in report
    assert "| elm | ELM loss" not in report  # the grid table lists grids, not descriptions
    assert "lam ∈ {-0.5, 0.0, 0.5, 1.0}; max_m ∈ {0.3, 0.5}; drw_start ∈ {None, 0.8}" in report
    assert "| 49 |" in report
    assert "### Grid edges of the tuned choices" in report
    assert "### Tuned methods" in report and "critical_difference_tuned.png" in report
    statistics = json.loads((tuned_run / "stats.json").read_text())
    assert set(statistics) == {"metric", "default", "tuned", "failed_cells", "grid_edges"}
    assert set(statistics["grid_edges"]) == {"elm", "smote", "logreg-balanced"}
    assert set(statistics["grid_edges"]["elm"]) == {"lam", "max_m", "drw_start"}
    assert statistics["failed_cells"]["count"] == 0
    assert set(statistics["tuned"]["mean_ranks"]) == {"elm", "ce", "smote", "logreg-balanced"}
    protocol = json.loads((tuned_run / "protocol.json").read_text())
    assert protocol["tune"] is True and protocol["inner_cv"]["folds"] == 3
