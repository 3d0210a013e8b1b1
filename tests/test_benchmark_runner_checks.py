"""The runner's bookkeeping: which cells a resumed run still has to run, its splits and seeds,
the order of its writes, the fit times and choices of the batched tuned cells."""

import json
import os

import numpy as np
import pytest
from _benchmark_data import record_cells_run
from imblearn.over_sampling import SMOTE
from sklearn.metrics import make_scorer

from sklearn_elm import _batched
from sklearn_elm.benchmark import BenchmarkDataset, _runner, make_splits, run_benchmark


def _dataset():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(1.5, 1, (20, 2))])
    return BenchmarkDataset.from_arrays("tiny", X, np.repeat(["neg", "pos"], [60, 20]))


def _run(out, methods, **kwargs):
    messages = []
    results = run_benchmark(
        [_dataset()], methods, out, n_splits=2, n_repeats=1, n_jobs=1, progress=False,
        log=messages.append, **kwargs,
    )  # fmt: skip
    return results, messages


def test_a_finished_tuned_run_has_no_cell_left_to_run(tmp_path, monkeypatch):
    first, _ = _run(tmp_path, ["logreg-balanced"], tune=True)
    assert sorted(first["tuned"].tolist()) == [False, False, True, True]

    def refuse(*args, **kwargs):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(_runner, "_evaluate_cell", refuse)
    resumed, messages = _run(tmp_path, ["logreg-balanced"], tune=True)
    assert messages[0].startswith("0 cells to run (4 already in")
    assert len(resumed) == 4


@pytest.mark.parametrize("tune", [False, True])
def test_a_resume_runs_exactly_the_missing_cells(tmp_path, monkeypatch, tune):
    results, _ = _run(tmp_path, ["logreg-balanced"], tune=tune)
    kept = results.iloc[1:]  # the first cell never finished
    missing = results.iloc[0]
    path = tmp_path / "results.csv"
    header, *lines = path.read_text().splitlines(keepends=True)
    path.write_text(header + "".join(lines[1:]))
    ran = record_cells_run(monkeypatch)
    resumed, _ = _run(tmp_path, ["logreg-balanced"], tune=tune)
    assert ran == [(missing["method"], bool(missing["tuned"]), int(missing["repeat"]),
                    int(missing["fold"]))]  # fmt: skip
    assert len(resumed) == len(kept) + 1


def test_folds_are_reduced_and_noted_only_below_the_smallest_class():
    rng = np.random.RandomState(0)
    for smallest, note in [(3, True), (4, False), (5, False)]:
        dataset = BenchmarkDataset.from_arrays(
            "small", rng.normal(size=(20 + smallest, 2)), np.repeat(["a", "b"], [20, smallest])
        )
        splits = make_splits(dataset, 4, 1, seed=0)
        assert len(splits) == min(4, smallest)
        assert any("folds reduced to" in n for n in dataset.notes) == note, dataset.notes


def _constant_score(y_true, y_pred):
    return 0.5


class _OutlierShySMOTE(SMOTE):
    """SMOTE that refuses ``k_neighbors=3`` on a training part holding the outlier row."""

    seen = []  # every training part it was given, as a hashable key

    def _fit_resample(self, X, y):
        _OutlierShySMOTE.seen.append(np.round(X, 6).tobytes())
        if self.k_neighbors == 3 and np.abs(X[:, 2]).max() > 4:
            raise ValueError("this training part is refused")
        return super()._fit_resample(X, y)


@pytest.fixture
def tied_shy_smote(monkeypatch):
    """Tuned smote cells whose inner fits all score alike, with a sampler refusing k=3 on
    training parts that hold an outlier; the runs record every training part it saw."""
    make = _runner.make_method

    def build(method, counts, **kwargs):
        model = make(method, counts, **kwargs)
        if method == "smote":
            steps = (model.estimator if hasattr(model, "param_grid") else model).steps
            steps[2] = ("sample", _OutlierShySMOTE(**steps[2][1].get_params()))
        return model

    monkeypatch.setattr(_runner, "make_method", build)
    monkeypatch.setitem(_runner.METRICS, "balanced_accuracy", make_scorer(_constant_score))
    monkeypatch.setattr(_OutlierShySMOTE, "seen", [])


def _outlier_dataset():
    rng = np.random.RandomState(0)
    # 24 minority samples: the inner training folds keep k_neighbors 3 and 5 apart
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(1.5, 1, (24, 3))])
    X[0, 2] = 1000.0  # in the training part of one split only
    return BenchmarkDataset.from_arrays("outlier", X, np.repeat(["neg", "pos"], [60, 24]))


def _tuned_smote(out, batched):
    results = run_benchmark(
        [_outlier_dataset()], ["smote"], out, n_splits=2, n_repeats=1, tune=True,
        network_params={"hidden_layer_sizes": (4,), "batch_size": 16, "max_epochs": 1},
        progress=False, log=lambda message: None, batched=batched,
    )  # fmt: skip
    return results.sort_values(["tuned", "repeat", "fold"]).reset_index(drop=True)


def test_batched_tuned_cells_choose_as_the_grid_search_on_ties_and_failed_fits(
    tied_shy_smote, tmp_path
):
    single = _tuned_smote(tmp_path / "single", batched=False)
    seen_single = set(_OutlierShySMOTE.seen)
    _OutlierShySMOTE.seen.clear()
    batched = _tuned_smote(tmp_path / "batched", batched=True)
    tuned = batched[batched["tuned"]]
    assert (batched["error"] == "").all()
    assert batched["note"].str.startswith("batched").all()
    # every score ties, so the first candidate (k=3) wins, except where an inner fit of k=3
    # failed: a NaN fold score makes its candidate's mean NaN, which ranks last
    outlier_in_train = [0 not in make_splits(_outlier_dataset(), 2, 1, 0)[int(f)][3]
                        for f in tuned["fold"]]  # fmt: skip
    assert tuned["best_params"].tolist() == [
        f'{{"sample__k_neighbors": {5 if shy else 3}}}' for shy in outlier_in_train
    ]
    assert batched["best_params"].tolist() == single["best_params"].tolist()
    # the samplers saw the same training parts (inner folds and refits) as in the search
    assert set(_OutlierShySMOTE.seen) == seen_single


def test_a_batched_cell_fit_time_adds_its_resampling_and_inner_fits(tmp_path, monkeypatch):
    fit_members = _batched.fit_members

    def one_second_each(*args, **kwargs):  # whatever each network took
        results = fit_members(*args, **kwargs)
        for result in results:
            result.fit_time = 1.0
        return results

    monkeypatch.setattr(_batched, "fit_members", one_second_each)
    results = _tuned_smote(tmp_path, batched=True)
    untuned, tuned = results[~results["tuned"]], results[results["tuned"]]
    # its network's second, plus the resampling of its training part
    assert (untuned["fit_time"] > 1.0).all() and (untuned["fit_time"] < 2.0).all()
    # the refit's second, plus 2 candidates x 3 inner folds, plus the resamplings
    assert (tuned["fit_time"] > 7.0).all() and (tuned["fit_time"] < 8.0).all()


def test_batched_groups_use_n_jobs_cores_at_most_those_of_the_machine(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    jobs = {n_jobs: _runner._batched_jobs(n_jobs) for n_jobs in (None, 1, 2, 8, 16, -1)}
    assert jobs == {None: 1, 1: 1, 2: 2, 8: 8, 16: 8, -1: 8}


def test_every_split_seeds_its_cells_and_its_methods_share_the_seed(tmp_path, monkeypatch):
    seeds = {}
    build = _runner._build

    def spy(method, estimator, train_counts, random_state, settings):
        seeds.setdefault(method, []).append(random_state)
        return build(method, estimator, train_counts, random_state, settings)

    monkeypatch.setattr(_runner, "_build", spy)
    run_benchmark(
        [_dataset()], ["logreg-balanced", "balanced-bagging"], tmp_path, n_splits=2,
        n_repeats=2, progress=False, log=lambda message: None,
    )  # fmt: skip
    # 2 repeats x 2 folds: four splits, four seeds, the same for both methods
    assert len(set(seeds["logreg-balanced"])) == 4
    assert seeds["balanced-bagging"] == seeds["logreg-balanced"]


def test_a_cell_is_written_to_results_csv_only_after_its_per_class_rows(tmp_path, monkeypatch):
    appended = []
    append_rows = _runner.append_rows

    def interrupted_after_one_file(path, rows, columns):
        if appended:
            raise KeyboardInterrupt  # the run is stopped between the two files of a cell
        appended.append(path.name)
        append_rows(path, rows, columns)

    monkeypatch.setattr(_runner, "append_rows", interrupted_after_one_file)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, ["logreg-balanced"])
    assert appended == ["per_class.csv"]
    assert not (tmp_path / "results.csv").exists()


def test_protocol_json_records_the_long_tail_repeats_make_splits_makes(tmp_path):
    rng = np.random.RandomState(0)
    long_tailed = BenchmarkDataset.from_arrays(
        "lt", rng.normal(size=(90, 2)), np.repeat(["a", "b", "c"], 30), lt_ratio=5.0
    )
    run_benchmark(
        [long_tailed], ["logreg-balanced"], tmp_path, n_splits=3, n_repeats=2,
        progress=False, log=lambda message: None,
    )  # fmt: skip
    protocol = json.loads((tmp_path / "protocol.json").read_text())
    splits = make_splits(long_tailed, 3, 2, seed=0)
    assert protocol["long_tail"] == {"test_size": 1 / 3, "repeats": len(splits)}
    assert len(splits) == 6
