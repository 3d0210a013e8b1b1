"""The runner's bookkeeping: which cells a resumed run still has to run, and its splits."""

import numpy as np
import pytest

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
    ran = []
    evaluate = _runner._evaluate_cell

    def spy(dataset, method, estimator, repeat, fold, train, test, seed, cell_settings):
        ran.append((method, cell_settings["tuned"], repeat, fold))
        return evaluate(dataset, method, estimator, repeat, fold, train, test, seed,
                        cell_settings)  # fmt: skip

    monkeypatch.setattr(_runner, "_evaluate_cell", spy)
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
