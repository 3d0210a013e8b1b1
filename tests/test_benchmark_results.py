"""The results folder: torn, damaged, repeated and empty files, resumes, and what rows hold."""

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _benchmark_data import record_cells_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.neighbors import KNeighborsClassifier

from sklearn_elm.benchmark import (
    BenchmarkDataset,
    _runner,
    make_splits,
    read_per_class,
    read_results,
    run_benchmark,
)
from sklearn_elm.metrics import geometric_mean_score, shot_accuracy

KEYS = ["dataset", "method", "tuned", "repeat", "fold"]
SCORES = ["balanced_accuracy", "macro_f1", "g_mean", "roc_auc", "n_train", "n_test", "error"]
METHODS = {"logreg-balanced": None, "knn": KNeighborsClassifier(n_neighbors=3)}
FILES = ("results.csv", "per_class.csv")
PUBLISHED = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "default"


def _dataset():
    # 200 samples: every test part holds 100, so n_test has three digits to cut
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(1.5, 1, (50, 2))])
    return BenchmarkDataset.from_arrays("tiny", X, np.repeat(["neg", "pos"], [150, 50]))


def _run(out, methods=METHODS, log=None, **kwargs):
    messages = []
    results = run_benchmark(
        [_dataset()], methods, out, n_splits=2, n_repeats=1, n_jobs=1, progress=False,
        log=log or messages.append, **kwargs,
    )  # fmt: skip
    return results, messages


def _by_key(frame, columns, keys=KEYS):
    return frame.sort_values(keys)[keys + columns].reset_index(drop=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished folder, and its results and per-class rows (never changed by a test)."""
    out = tmp_path_factory.mktemp("finished")
    _run(out)
    return out, read_results(out), read_per_class(out)


@pytest.fixture
def folder(finished, tmp_path):
    shutil.copytree(finished[0], tmp_path / "out")
    return tmp_path / "out"


def _assert_same_as_uninterrupted(out, finished):
    _, results, per_class = finished
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the resumed files are clean
        resumed, resumed_per_class = read_results(out), read_per_class(out)
    pd.testing.assert_frame_equal(_by_key(resumed, SCORES), _by_key(results, SCORES))
    keys = [*KEYS, "class"]
    pd.testing.assert_frame_equal(
        _by_key(resumed_per_class, ["train_count", "accuracy"], keys),
        _by_key(per_class, ["train_count", "accuracy"], keys),
    )


def test_a_row_cut_inside_a_number_is_dropped_and_its_cell_redone(folder, finished):
    path = folder / "results.csv"
    text = path.read_text()
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    n_test = ",100,"
    assert n_test in last
    # a run killed while writing n_test: "1" of "100", the rest of the row lost
    path.write_text(text[: text.rindex(last) + last.index(n_test) + 2])
    with pytest.warns(UserWarning, match=r"results\.csv: 1 damaged row\(s\) left out \(line 5"):
        assert len(read_results(folder)) == 3  # the cut row is not a cell with n_test 1
    _, messages = _run(folder)
    assert any("results.csv" in m and "line 5" in m for m in messages)
    _assert_same_as_uninterrupted(folder, finished)


def test_a_row_cut_inside_a_quoted_field_does_not_stop_later_resumes(tmp_path):
    # tuned cells write their chosen parameters as quoted JSON
    full, _ = _run(tmp_path / "full", ["logreg-balanced"], tune=True)
    out = tmp_path / "cut"
    _run(out, ["logreg-balanced"], tune=True)
    path = out / "results.csv"
    text = path.read_text()
    cut = text.rindex('"{""classify__C"": ') + 5
    path.write_text(text[:cut])
    for _ in range(2):  # the first resume redoes the cell, the second finds all done
        resumed, _ = _run(out, ["logreg-balanced"], tune=True)
        pd.testing.assert_frame_equal(_by_key(resumed, SCORES), _by_key(full, SCORES))


def test_a_cell_redone_replaces_its_stale_row(folder, finished):
    from sklearn_elm.benchmark._results import RESULT_COLUMNS, append_rows

    _, results, _ = finished
    redone = results.iloc[0].to_dict()
    stale = {**redone, "balanced_accuracy": 0.0123}
    append_rows(folder / "results.csv", [stale, redone], RESULT_COLUMNS)
    kept = read_results(folder)
    assert len(kept) == len(results)  # one row per cell
    assert 0.0123 not in kept["balanced_accuracy"].to_numpy()
    append_rows(folder / "results.csv", [stale], RESULT_COLUMNS)  # the newer row wins
    assert 0.0123 in read_results(folder)["balanced_accuracy"].to_numpy()


def _append_whole_row(folder, finished, **changes):
    """Append a copy of the last cell's row, changed, with a checksum that matches it."""
    from sklearn_elm.benchmark._results import RESULT_COLUMNS, append_rows

    row = {**finished[1].iloc[-1].to_dict(), "balanced_accuracy": 0.0123, **changes}
    append_rows(folder / "results.csv", [row], RESULT_COLUMNS)


@pytest.mark.parametrize("column", ["repeat", "fold"])
def test_a_row_whose_repeat_or_fold_is_not_an_integer_is_damaged(folder, finished, column):
    # its checksum matches: the row is refused for what it holds, not read as cell 1 of 1.5
    _append_whole_row(folder, finished, **{column: 1.5})
    with pytest.warns(UserWarning, match=rf"line 6: {column} is '1\.5', not an integer"):
        kept = read_results(folder)
    pd.testing.assert_frame_equal(kept, finished[1])


@pytest.mark.parametrize(
    "tuned, reason", [("", "no tuned"), ("yes", "tuned is 'yes', not True or False")]
)
def test_a_row_whose_tuned_field_is_not_true_or_false_is_damaged(folder, finished, tuned, reason):
    # neither a tuned nor an untuned cell: it must not replace the cell's real row
    _append_whole_row(folder, finished, tuned=tuned)
    with pytest.warns(UserWarning, match=rf"line 6: {reason}\)"):
        kept = read_results(folder)
    pd.testing.assert_frame_equal(kept, finished[1])


def test_a_resume_writes_its_own_entry_for_a_dataset_or_method_already_there(tmp_path):
    from sklearn_elm.benchmark._results import check_protocol

    # the same definition (equal dicts), its parameters listed in another order, as an
    # earlier version may have written them: protocol.json holds this invocation's
    earlier = {"parameters": {"b": "2", "a": "1"}, "grid": {}}
    now = {"parameters": {"a": "1", "b": "2"}, "grid": {}}
    dataset = {"sha256": "00", "protocol": "plain"}
    check_protocol(tmp_path, {"seed": 0, "methods": {"elm": earlier}, "datasets": {"x": dataset}})
    check_protocol(tmp_path, {"seed": 0, "methods": {"elm": now, "knn": "KNeighborsClassifier()"},
                              "datasets": {"y": dataset}})  # fmt: skip
    protocol = json.loads((tmp_path / "protocol.json").read_text())
    assert list(protocol["methods"]) == ["elm", "knn"]
    assert list(protocol["methods"]["elm"]["parameters"]) == ["a", "b"]
    assert list(protocol["datasets"]) == ["x", "y"]  # the earlier invocation's are kept


@pytest.mark.parametrize("content", ["", "header"])
def test_an_empty_results_file_resumes_cleanly(folder, finished, content):
    for name in FILES:
        path = folder / name
        path.write_text(path.read_text().split("\n", 1)[0] + "\n" if content else "")
    results, _ = _run(folder)
    assert len(results) == len(finished[1])
    _assert_same_as_uninterrupted(folder, finished)


@pytest.mark.parametrize("content", ["", "header"])
def test_empty_results_files_without_protocol_json_start_afresh(folder, finished, content):
    # no row was written: nothing needs a protocol to be read, so the run starts
    for name in FILES:
        path = folder / name
        path.write_text(path.read_text().split("\n", 1)[0] + "\n" if content else "")
    (folder / "protocol.json").unlink()
    _run(folder)
    assert (folder / "protocol.json").is_file()
    _assert_same_as_uninterrupted(folder, finished)


def test_a_folder_without_protocol_json_is_refused_not_relabelled(folder, finished):
    (folder / "protocol.json").unlink()
    before = (folder / "results.csv").read_text()
    for seed in (0, 1):  # the same settings or others: nothing says which made the rows
        with pytest.raises(ValueError, match=r"protocol\.json is missing, but results\.csv"):
            _run(folder, seed=seed)
    assert (folder / "results.csv").read_text() == before
    assert not (folder / "protocol.json").exists()


def test_protocol_json_is_replaced_atomically(folder, monkeypatch):
    before = (folder / "protocol.json").read_text()

    def crash(*args, **kwargs):  # the process dies between the write and the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _run(folder)
    assert (folder / "protocol.json").read_text() == before
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "damage",
    [b"\x00\xff garbage, not a CSV file\n", b"<html><body>Not Found</body></html>\n"],
)
def test_a_corrupt_results_file_gets_one_clear_message(folder, damage):
    (folder / "results.csv").write_bytes(damage)
    with pytest.raises(ValueError, match=r"results\.csv is not a results file") as raised:
        _run(folder)
    assert "\n" not in str(raised.value) and "Traceback" not in str(raised.value)
    with pytest.raises(ValueError, match=r"results\.csv is not a results file"):
        read_results(folder)


def test_a_damaged_protocol_json_gets_a_clear_message(folder):
    path = folder / "protocol.json"
    path.write_text(path.read_text()[:40])
    with pytest.raises(ValueError, match=r"protocol\.json is damaged"):
        _run(folder)


def test_a_tuned_cell_is_done_only_when_its_tuned_row_is_there(tmp_path, monkeypatch):
    _run(tmp_path, ["logreg-balanced"], tune=True)
    results = pd.read_csv(tmp_path / "results.csv", keep_default_na=False)
    assert results["tuned"].sum() == 2
    results[~results["tuned"]].to_csv(tmp_path / "results.csv", index=False)
    ran = record_cells_run(monkeypatch)
    resumed, _ = _run(tmp_path, ["logreg-balanced"], tune=True)
    assert sorted(ran) == [("logreg-balanced", True, 0, 0), ("logreg-balanced", True, 0, 1)]
    assert resumed["tuned"].sum() == 2 and len(resumed) == 4


def test_lost_per_class_rows_make_their_cell_run_again(folder, finished, monkeypatch):
    path = folder / "per_class.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # the last class of the last cell is gone
    _run(folder)
    _assert_same_as_uninterrupted(folder, finished)


def test_folders_of_earlier_versions_are_read_and_resumed(folder, finished, monkeypatch):
    # files without the checksum column, as written before it existed
    for name in FILES:
        path = folder / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join(line.rpartition(",")[0] for line in lines) + "\n")
    pd.testing.assert_frame_equal(read_results(folder), finished[1])
    pd.testing.assert_frame_equal(read_per_class(folder), finished[2])
    monkeypatch.setattr(_runner, "_evaluate_cell", None)  # nothing to run again
    _run(folder)
    assert (folder / "results.csv").read_text().split("\n", 1)[0].endswith(",checksum")
    _assert_same_as_uninterrupted(folder, finished)


def test_an_earlier_version_row_without_its_line_break_is_dropped_and_redone(folder, finished):
    # files of an earlier version (no checksum) ended every row with a line break: a last row
    # without one was cut short, even where what is left of it still reads as a row
    for name in FILES:
        path = folder / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join(line.rpartition(",")[0] for line in lines))
    with pytest.warns(UserWarning, match=r"results\.csv: 1 damaged row\(s\) left out \(line 5"):
        assert len(read_results(folder)) == 3
    _, messages = _run(folder)
    assert any("results.csv" in m and "line 5" in m for m in messages)
    _assert_same_as_uninterrupted(folder, finished)


@pytest.mark.parametrize("n_damaged", [10, 12])
def test_the_damage_message_names_ten_lines_and_counts_the_others(folder, n_damaged):
    path = folder / "results.csv"
    text = path.read_text()
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    altered = last.replace(",100,", ",101,")  # its checksum no longer matches
    assert altered != last
    path.write_text(text + (altered + "\n") * n_damaged)
    with pytest.warns(UserWarning, match=rf"results\.csv: {n_damaged} damaged row") as caught:
        assert len(read_results(folder)) == 4
    (message,) = [str(w.message) for w in caught if "damaged row" in str(w.message)]
    assert message.count("line ") == 10
    # ten lines are all there is to say about ten: no "and 0 more"
    assert ("more" in message) == (n_damaged == 12)
    assert ("; and 2 more)" in message) == (n_damaged == 12)


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="the published results are not shipped")
def test_the_published_default_run_reads_whole():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results, per_class = read_results(PUBLISHED), read_per_class(PUBLISHED)
    lines = (PUBLISHED / "results.csv").read_text().count("\n") - 1
    assert len(results) == lines and not results.duplicated(KEYS).any()
    assert len(per_class) == (PUBLISHED / "per_class.csv").read_text().count("\n") - 1


class FirstFeatureScore(ClassifierMixin, BaseEstimator):
    """Probability of the second class rising with the first feature."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        positive = 1 / (1 + np.exp(-X[:, 0]))
        return np.column_stack([1 - positive, positive])

    def predict(self, X):
        return self.classes_[(X[:, 0] > 0).astype(int)]


def test_binary_roc_auc_scores_the_positive_class(tmp_path):
    dataset = _dataset()
    results, _ = _run(tmp_path, {"first-feature": FirstFeatureScore()})
    for repeat, fold, _, test in make_splits(dataset, 2, 1, 0):
        (cell,) = results.loc[(results["repeat"] == repeat) & (results["fold"] == fold), "roc_auc"]
        # standardising keeps the order of the first feature, so its AUC is the cell's
        expected = roc_auc_score(dataset.y[test], dataset.X[test, 0])
        assert 0.6 < expected < 0.95  # the wrong column would give 1 - expected
        assert cell == pytest.approx(expected)


def test_the_long_tailed_subsample_differs_between_repeats(monkeypatch):
    rng = np.random.RandomState(0)
    dataset = BenchmarkDataset.from_arrays(
        "lt", rng.normal(size=(120, 2)), np.repeat(["a", "b", "c"], 40), lt_ratio=10.0
    )
    fixed = next(
        StratifiedShuffleSplit(1, test_size=0.25, random_state=0).split(dataset.X, dataset.y)
    )

    class SameSplit:  # every repeat gets the same test part: only the subsample may differ
        def __init__(self, **kwargs):
            pass

        def split(self, X, y):
            yield fixed

    monkeypatch.setattr(_runner, "StratifiedShuffleSplit", SameSplit)
    trains = [tuple(train) for _, _, train, _ in make_splits(dataset, 4, 1, seed=0)]
    assert len(set(trains)) == 4  # four repeats, four subsamples
    again = [tuple(train) for _, _, train, _ in make_splits(dataset, 4, 1, seed=0)]
    other_seed = [tuple(train) for _, _, train, _ in make_splits(dataset, 4, 1, seed=1)]
    assert again == trains and other_seed != trains


def test_each_score_is_its_metric_of_the_cell_predictions(tmp_path):
    rng = np.random.RandomState(0)
    # long-tailed training parts of 150, about 33 and about 7 samples: one class per shot group
    long_tailed = BenchmarkDataset.from_arrays(
        "lt", rng.normal(size=(900, 2)), np.repeat(["a", "b", "c"], 300), lt_ratio=20.0
    )
    datasets = [_dataset(), long_tailed]  # an imbalanced test part tells macro from weighted
    results = run_benchmark(
        datasets, {"majority": DummyClassifier()}, tmp_path, n_splits=2, n_repeats=1,
        progress=False, log=lambda message: None,
    )  # fmt: skip
    assert len(results) == 4
    for dataset in datasets:
        for repeat, fold, train, test in make_splits(dataset, 2, 1, 0):
            (cell,) = results[(results["dataset"] == dataset.name) & (results["repeat"] == repeat)
                              & (results["fold"] == fold)].to_dict("records")  # fmt: skip
            counts = np.bincount(dataset.y[train])
            # the dummy predicts its training part's majority class for every test sample
            y_test, y_pred = dataset.y[test], np.full(test.size, counts.argmax())
            assert cell["balanced_accuracy"] == pytest.approx(
                balanced_accuracy_score(y_test, y_pred)
            )
            assert cell["macro_f1"] == pytest.approx(
                f1_score(y_test, y_pred, average="macro", zero_division=0)
            )
            assert cell["g_mean"] == pytest.approx(
                geometric_mean_score(y_test, y_pred, average="multiclass")
            )
            if dataset is long_tailed:
                shots = shot_accuracy(y_test, y_pred, dict(enumerate(counts.tolist())))
                assert [cell[f"{group}_shot_accuracy"] for group in ("many", "medium", "few")] == [
                    1.0, 0.0, 0.0
                ] == [shots["many"], shots["medium"], shots["few"]]  # fmt: skip


_DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.sampled_from(FILES), st.floats(0, 1)),
    st.tuples(st.just("duplicate"), st.sampled_from(FILES), st.integers(0, 99), st.integers(0, 99)),
    st.tuples(
        st.just("garble"), st.sampled_from(FILES), st.floats(0, 1),
        st.sampled_from(list(b'0123456789,."\nx\x00\xff')),
    ),
    st.tuples(st.just("delete"), st.just("protocol.json")),
)  # fmt: skip


def _damage(out, damage):
    kind, name = damage[:2]
    path = out / name
    if not path.exists():
        return
    data = path.read_bytes()
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        path.write_bytes(data[: int(damage[2] * len(data))])
    elif kind == "duplicate":
        lines = data.splitlines(keepends=True)
        if len(lines) > 1:
            row = lines[1 + damage[2] % (len(lines) - 1)]
            lines.insert(1 + damage[3] % len(lines), row if row.endswith(b"\n") else row + b"\n")
            path.write_bytes(b"".join(lines))
    elif data:
        at = min(int(damage[2] * len(data)), len(data) - 1)
        path.write_bytes(data[:at] + bytes([damage[3]]) + data[at + 1 :])


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damages=st.lists(_DAMAGE, min_size=1, max_size=3))
def test_a_damaged_folder_is_refused_by_name_or_resumed_to_the_same_results(finished, damages):
    out = Path(tempfile.mkdtemp()) / "out"
    try:
        shutil.copytree(finished[0], out)
        for damage in damages:
            _damage(out, damage)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the DataConversionWarning of a tiny fold
                _run(out)
        except ValueError as exc:
            damaged = {damage[1] for damage in damages}
            assert any(name in str(exc) for name in damaged), str(exc)
            return
        _assert_same_as_uninterrupted(out, finished)
    finally:
        shutil.rmtree(out.parent)
