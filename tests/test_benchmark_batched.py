"""``run_benchmark(batched=True)`` / ``--batched``: the network cells of a dataset in one fit."""

import tempfile

import numpy as np
import pandas as pd
import pytest

from sklearn_elm import _batched
from sklearn_elm.benchmark import BenchmarkDataset, _cli, _runner, run_benchmark
from sklearn_elm.benchmark._results import ProtocolMismatchError, read_per_class, read_results

CRITERION = ["elm", "ldam", "ce", "focal", "cb", "la"]
OTHERS = ["smote", "logreg-balanced"]
NETWORK_METHODS = [*CRITERION, "smote"]
NETWORK = {"hidden_layer_sizes": (8,), "lr": 0.01, "batch_size": 16, "max_epochs": 2}
KEYS = ["dataset", "method", "tuned", "repeat", "fold"]


def _datasets():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (40, 3)), rng.normal(2, 1, (12, 3))])
    X[0, 1] = np.nan  # the imputation is per training part
    y = np.array(["neg"] * 40 + ["pos"] * 12)
    Xm = np.vstack([rng.normal(k, 1, (30, 3)) for k in range(3)])
    ym = np.repeat(["a", "b", "c"], 30)
    return [
        BenchmarkDataset.from_arrays("tiny", X, y),
        BenchmarkDataset.from_arrays("tiny-lt", Xm, ym, lt_ratio=5.0),
    ]


def _run(out, batched, methods=CRITERION + OTHERS, network_params=NETWORK, **kwargs):
    return run_benchmark(
        _datasets(),
        methods,
        out,
        n_splits=2,
        n_repeats=1,
        network_params=network_params,
        progress=False,
        log=lambda message: None,
        batched=batched,
        **kwargs,
    )


def _sorted(frame):
    return frame.sort_values(KEYS).reset_index(drop=True)


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory):
    single = _run(tmp_path_factory.mktemp("single"), False)
    out = tmp_path_factory.mktemp("batched")
    batched = _run(out, True)
    return _sorted(single), _sorted(batched), out


def test_batched_scores_match_the_cell_by_cell_run(both_runs):
    single, batched, _ = both_runs
    assert len(single) == len(batched) == 2 * 2 * len(CRITERION + OTHERS)
    assert (batched["error"] == "").all()
    pd.testing.assert_frame_equal(single[KEYS], batched[KEYS])
    # the predictions agree: the batched engine matches a single fit up to float32 rounding
    scores = ["balanced_accuracy", "macro_f1", "g_mean", "many_shot_accuracy", "few_shot_accuracy"]
    np.testing.assert_allclose(
        batched[scores].to_numpy(float), single[scores].to_numpy(float), atol=1e-6
    )
    # ROC AUC ranks probabilities: after 2 epochs, near-equal ones of a tiny 3-class network
    # may swap under float32 rounding, so it agrees to a few pairs of test samples only
    np.testing.assert_allclose(batched["roc_auc"], single["roc_auc"], atol=1e-2)


def test_untuned_network_cells_run_batched(both_runs):
    _, batched, _ = both_runs
    network = batched["method"].isin(NETWORK_METHODS)
    assert batched.loc[network, "note"].str.startswith("batched").all()
    assert not batched.loc[~network, "note"].str.contains("batched|fitted alone").any()
    assert (batched.loc[network, "fit_time"] > 0).all()


def test_networks_outside_the_batched_trainer_are_fitted_alone_and_say_why(tmp_path):
    results = _run(tmp_path, True, methods=["elm", "smote"],
                   network_params={**NETWORK, "precision": "fp16"})
    assert (results["error"] == "").all()
    assert results["note"].str.startswith("fitted alone (precision=").all()


class _RefusingSampler:
    """A sampler that cannot run on any training part."""

    def fit_resample(self, X, y):
        raise ValueError("this sampler cannot run here")


def test_a_sampler_that_cannot_run_fails_its_cells_alone(monkeypatch):
    # the smote cells' sampler refuses every training part: the batched run records the
    # failure as the cell-by-cell run does, and the other cells are unaffected
    make = _runner.make_method

    def build(method, counts, **kwargs):
        model = make(method, counts, **kwargs)
        if method == "smote":
            model.steps[2] = ("sample", _RefusingSampler())
        return model

    monkeypatch.setattr(_runner, "make_method", build)
    runs = {}
    for batched in (False, True):
        runs[batched] = _sorted(
            run_benchmark(_datasets(), ["smote", "ce"], tempfile.mkdtemp(), n_splits=2,
                          n_repeats=1, network_params=NETWORK, progress=False,
                          log=lambda message: None, batched=batched)
        )
    single, batched = runs[False], runs[True]
    smote = batched["method"] == "smote"
    assert batched.loc[smote, "error"].str.contains("cannot run here").all()
    assert batched.loc[smote, "error"].tolist() == single.loc[smote, "error"].tolist()
    assert batched.loc[smote, "balanced_accuracy"].isna().all()
    assert (batched.loc[~smote, "error"] == "").all()
    assert batched.loc[~smote, "note"].str.startswith("batched").all()
    np.testing.assert_allclose(
        batched.loc[~smote, "balanced_accuracy"], single.loc[~smote, "balanced_accuracy"],
        atol=1e-6,
    )


def test_per_class_rows_match(both_runs):
    _, _, out = both_runs
    per_class = read_per_class(out)
    results = read_results(out)
    assert len(per_class.drop_duplicates(KEYS)) == len(results)


def test_batched_run_resumes_only_the_missing_cells(both_runs, tmp_path, monkeypatch):
    _, expected, _ = both_runs
    first = _run(tmp_path, True, methods=["elm", "ce", "logreg-balanced"])
    assert len(first) == 12
    results = pd.read_csv(tmp_path / "results.csv")
    # one elm cell of each dataset (tiny: fold 1; tiny-lt, long-tail: repeat 1) is missing
    missing = (results["method"] == "elm") & ((results["fold"] == 1) | (results["repeat"] == 1))
    results[~missing].to_csv(
        tmp_path / "results.csv", index=False
    )
    calls = []
    fit_members = _batched.fit_members

    def spy(X, y, members, *args, **kwargs):
        calls.append([params["loss"] for params, _ in members])
        return fit_members(X, y, members, *args, **kwargs)

    monkeypatch.setattr(_batched, "fit_members", spy)
    resumed = _sorted(_run(tmp_path, True, methods=["elm", "ce", "logreg-balanced"]))
    assert calls == [["elm"], ["elm"]]  # one call per dataset, the missing cells only
    assert len(resumed) == 12
    again = expected[expected["method"].isin(["elm", "ce", "logreg-balanced"])]
    np.testing.assert_allclose(
        resumed["balanced_accuracy"], again["balanced_accuracy"].to_numpy(), atol=1e-6
    )


def test_batched_and_unbatched_folders_do_not_mix(tmp_path):
    _run(tmp_path / "a", False, methods=["logreg-balanced"])
    with pytest.raises(ProtocolMismatchError, match="batched(.|\n)*resume it with --no-batched"):
        _run(tmp_path / "a", True, methods=["logreg-balanced"])
    _run(tmp_path / "b", True, methods=["logreg-balanced"])
    with pytest.raises(ProtocolMismatchError, match="batched"):
        _run(tmp_path / "b", False, methods=["logreg-balanced"])


def test_tuned_criterion_cells_are_not_batched_by_the_runner(tmp_path):
    # a tuned criterion cell is an ELMClassifierCV, which batches its own search
    results = _run(tmp_path, True, methods=["ce", "la"], tune=True)
    tuned = results[results["tuned"]]
    assert set(tuned["method"]) == {"la"}
    assert not tuned["note"].str.contains("batched").any()
    assert results.loc[~results["tuned"], "note"].str.startswith("batched").all()


def test_a_failed_batched_fit_falls_back_to_single_cells(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no batch today")

    monkeypatch.setattr(_batched, "fit_members", broken)
    results = _run(tmp_path, True, methods=["ce"])
    assert len(results) == 4
    assert (results["error"] == "").all()
    assert results["balanced_accuracy"].between(0, 1).all()
    assert results["note"].str.contains("batched fit failed.*no batch today").all()


def test_cli_flag_reaches_run_benchmark(tmp_path, monkeypatch):
    seen = {}

    def fake_run(*args, **kwargs):
        seen.update(kwargs)
        return pd.DataFrame()

    monkeypatch.setattr(_cli, "run_benchmark", fake_run)
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.RandomState(0)
    lines = [f"{a:.3f},{b:.3f},{k}" for k in "xy" for a, b in rng.normal(size=(10, 2))]
    (data / "small.csv").write_text("\n".join(lines) + "\n")
    base = ["benchmark", "--quick", "--no-progress", "--data-dir", str(data)]
    base += ["--methods", "ce", "--out", str(tmp_path / "out")]
    # the fake run scores no cell, which the command reports with status 1
    assert _cli.main(base) == 1
    assert seen["batched"] is True  # the default
    assert _cli.main([*base, "--no-batched"]) == 1
    assert seen["batched"] is False
    assert _cli.main([*base, "--batched"]) == 1
    assert seen["batched"] is True
