"""End-to-end tests of ``sklearn-elm benchmark`` (issue 5), on the ``--quick`` settings."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from sklearn_elm import benchmark
from sklearn_elm._benchmark_stats import holm_adjust, wilcoxon_against
from sklearn_elm.benchmark import METHODS, main, make_method

DEFAULT_DATASETS = {
    "digits-lt10",
    "digits-lt100",
    "wine-imb",
    "breast-cancer-imb",
    "synthetic-lt20",
}
SMOTE_TYPE = ("smote", "borderline-smote", "adasyn", "smote-tomek")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One full ``--quick`` run of the default suite, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("quick")
    assert main(["benchmark", "--quick", "--no-progress", "--out", str(out)]) == 0
    return out


def _results(out):
    return pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])


def test_results_csv_covers_every_method_dataset_and_fold(quick_run):
    results = _results(quick_run)
    for column in (
        "dataset",
        "method",
        "fold",
        "balanced_accuracy",
        "macro_f1",
        "g_mean",
        "fit_time",
        "roc_auc",
        "predict_time",
        "repeat",
        "seed",
        "error",
    ):
        assert column in results.columns
    assert set(results["method"]) == set(METHODS)
    assert set(results["dataset"]) == DEFAULT_DATASETS
    # --quick: 2 folds x 1 repeat, every method on every fold, each cell once
    assert len(results) == len(METHODS) * len(DEFAULT_DATASETS) * 2
    assert not results.duplicated(["dataset", "method", "repeat", "fold"]).any()
    assert set(results["fold"]) == {0, 1} and set(results["repeat"]) == {0}


def test_scores_are_valid_or_failed_with_a_reason(quick_run):
    results = _results(quick_run)
    failed = results["error"].notna()
    scores = results.loc[~failed, ["balanced_accuracy", "macro_f1", "g_mean", "roc_auc"]]
    assert scores.notna().all().all()
    assert ((scores >= 0) & (scores <= 1)).all().all()
    assert (results.loc[~failed, "fit_time"] > 0).all()
    assert results.loc[failed, "balanced_accuracy"].isna().all()
    # digits-lt100 keeps 2 digits of its smallest class: 1 per training fold, nothing for
    # SMOTE-type samplers to interpolate between; they fail cleanly, the rest runs
    assert set(results.loc[failed, "method"]) == set(SMOTE_TYPE)
    assert set(results.loc[failed, "dataset"]) == {"digits-lt100"}
    assert results.loc[failed, "error"].str.contains("at least 2 training samples").all()
    # the networks learn something: far above chance (0.5 or less) on breast cancer
    cancer = results[(results["dataset"] == "breast-cancer-imb") & (results["method"] == "elm")]
    assert cancer["balanced_accuracy"].mean() > 0.8


def test_identical_folds_for_every_method(quick_run):
    results = _results(quick_run)
    sizes = results.groupby(["dataset", "repeat", "fold"])[["n_train", "n_test"]].nunique()
    assert (sizes == 1).all().all()


def test_report_sections_and_versions(quick_run):
    report = (quick_run / "report.md").read_text()
    for section in (
        "## Protocol",
        "## Datasets",
        "## Summary",
        "## Statistical tests",
        "## Balanced accuracy per dataset",
        "## Failed cells",
        "## Figures",
        "## Environment",
    ):
        assert section in report
    assert f"sklearn-elm benchmark --quick --no-progress --out {quick_run}" in report
    assert "Friedman test over" in report and "Wilcoxon signed-rank" in report
    assert "Holm" in report
    for package in (
        "python",
        "numpy",
        "scikit-learn",
        "imbalanced-learn",
        "torch",
        "skorch",
        "sklearn-elm",
    ):
        assert f"| {package} |" in report
    assert "folds reduced" not in report  # --quick asks for 2 folds, every class has 2


def test_plots_are_valid_images(quick_run):
    names = ["mean_rank.png"] + [
        f"per_class_accuracy_{name}.png"
        for name in ("digits-lt10", "digits-lt100", "synthetic-lt20")
    ]
    for name in names:
        image = imread(quick_run / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
        assert f"]({name})" in (quick_run / "report.md").read_text()


def test_rerun_resumes_without_new_work(quick_run, monkeypatch):
    before = (quick_run / "results.csv").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(benchmark, "_evaluate_cell", fail)
    assert main(["benchmark", "--quick", "--no-progress", "--out", str(quick_run)]) == 0
    assert (quick_run / "results.csv").read_text() == before


def test_interrupted_run_resumes_the_missing_cells(tmp_path):
    args = [
        "benchmark",
        "--quick",
        "--no-progress",
        "--out",
        str(tmp_path),
        "--datasets",
        "wine-imb",
        "--methods",
        "ce,logreg-balanced",
    ]
    main(args)
    full = _results(tmp_path)
    # simulate a run killed while writing: last row cut in the middle
    lines = (tmp_path / "results.csv").read_text().splitlines(keepends=True)
    (tmp_path / "results.csv").write_text("".join(lines[:-1]) + lines[-1][:15])
    main(args)
    resumed = _results(tmp_path)  # the cut row is gone from the file, its cell redone
    keys = ["dataset", "method", "repeat", "fold"]
    assert len(resumed) == len(full) == 4
    pd.testing.assert_frame_equal(
        resumed.sort_values(keys)[keys + ["n_train"]].reset_index(drop=True),
        full.sort_values(keys)[keys + ["n_train"]].reset_index(drop=True),
    )


def test_methods_subset(tmp_path):
    main(
        [
            "benchmark",
            "--quick",
            "--no-progress",
            "--out",
            str(tmp_path),
            "--methods",
            "elm,logreg-balanced",
            "--datasets",
            "wine-imb,breast-cancer-imb",
        ]
    )
    results = _results(tmp_path)
    assert set(results["method"]) == {"elm", "logreg-balanced"}
    assert set(results["dataset"]) == {"wine-imb", "breast-cancer-imb"}
    report = (tmp_path / "report.md").read_text()
    assert "| elm |" in report and "| smote |" not in report


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown method"):
        main(["benchmark", "--out", str(tmp_path), "--methods", "elm,svm"])


def test_changed_protocol_is_refused(tmp_path):
    args = [
        "benchmark",
        "--quick",
        "--no-progress",
        "--out",
        str(tmp_path),
        "--datasets",
        "wine-imb",
        "--methods",
        "logreg-balanced",
    ]
    main(args)
    with pytest.raises(SystemExit, match="another protocol.*seed"):
        main([*args, "--seed", "1"])


def _write_keel(path, relation, n_negative, n_positive, rng, with_missing=False):
    rows = []
    for label, n in (("negative", n_negative), ("positive", n_positive)):
        shift = 0.0 if label == "negative" else 2.0
        for _ in range(n):
            x1, x2 = rng.normal(shift, 1.0, size=2)
            rows.append(f"{x1:.4f}, {x2:.4f}, {rng.choice(['a', 'b'])}, {label}")
    if with_missing:
        rows[0] = "<null>, " + rows[0].split(", ", 1)[1]
        rows[-1] = rows[-1].replace(", a,", ", ?,").replace(", b,", ", ?,")
    path.write_text(
        f"@relation {relation}\n"
        "@attribute x1 real [-10.0, 10.0]\n"
        "@attribute x2 real [-10.0, 10.0]\n"
        "@attribute colour {a, b}\n"
        "@attribute Class {positive, negative}\n"
        "@inputs x1, x2, colour\n"
        "@outputs Class\n"
        "@data\n" + "\n".join(rows) + "\n"
    )


def test_keel_dir_with_missing_values(tmp_path):
    keel = tmp_path / "keel"
    keel.mkdir()
    rng = np.random.RandomState(0)
    _write_keel(keel / "tiny-a.dat", "tiny-a", 40, 6, rng, with_missing=True)
    _write_keel(keel / "tiny-b.dat", "tiny-b", 30, 3, rng)
    out = tmp_path / "out"
    main(
        [
            "benchmark",
            "--quick",
            "--no-progress",
            "--keel-dir",
            str(keel),
            "--out",
            str(out),
            "--methods",
            "elm,smote,hgb-balanced",
            "--folds",
            "5",
        ]
    )
    results = _results(out)
    assert set(results["dataset"]) == {"tiny-a", "tiny-b"}
    # missing values are imputed inside the pipeline: every cell ran
    assert results["error"].isna().all()
    assert results["balanced_accuracy"].notna().all()
    # 5 folds asked; tiny-b has 3 positives, so 3 folds there, and the report says why
    assert results.groupby("dataset")["fold"].nunique().to_dict() == {"tiny-a": 5, "tiny-b": 3}
    report = (out / "report.md").read_text()
    assert "5 folds reduced to 3" in report


def test_imblearn_suite_offline_is_skipped_with_a_message(tmp_path, monkeypatch, capsys):
    import imblearn.datasets

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(imblearn.datasets, "fetch_datasets", offline)
    assert (
        main(
            ["benchmark", "--quick", "--no-progress", "--suite", "imblearn", "--out", str(tmp_path)]
        )
        == 0
    )
    message = capsys.readouterr().err
    assert "fetch_datasets" in message and "skipping --suite imblearn" in message
    assert "Temporary failure in name resolution" in message
    assert not (tmp_path / "results.csv").exists()


def test_k_neighbors_adapt_to_the_smallest_class():
    assert make_method("smote", [50, 3], random_state=0).named_steps["sample"].k_neighbors == 2
    assert make_method("smote", [50, 30]).named_steps["sample"].k_neighbors == 5
    assert make_method("adasyn", [50, 4]).named_steps["sample"].n_neighbors == 3
    smote_tomek = make_method("smote-tomek", [50, 2]).named_steps["sample"]
    assert smote_tomek.smote.k_neighbors == 1
    with pytest.raises(benchmark.SamplerUnavailableError, match="has 1"):
        make_method("borderline-smote", [50, 1])
    # random samplers need no neighbours
    make_method("random-over", [50, 1])


def test_holm_and_wilcoxon():
    # Holm by hand: sorted 0.01, 0.02, 0.04 times 3, 2, 1 -> 0.03, 0.04, 0.04 (monotone)
    np.testing.assert_allclose(holm_adjust([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    scores = pd.DataFrame({"elm": [0.9, 0.8, 0.7], "ce": [0.9, 0.8, 0.7], "la": [1, 1, 1]})
    table = wilcoxon_against(scores, "elm")
    assert table.loc["ce", "pvalue"] == 1.0 and table.loc["ce", "ties"] == 3
    assert table.loc["la", "losses"] == 3


def test_module_runs_as_a_script(tmp_path):
    """``python -m sklearn_elm.benchmark`` is the same command as ``sklearn-elm``."""
    completed = subprocess.run(
        [sys.executable, "-m", "sklearn_elm.benchmark", "benchmark", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    assert "--keel-dir" in completed.stdout and "--n-jobs" in completed.stdout


def test_parallel_cells_give_the_same_scores(tmp_path):
    args = [
        "benchmark",
        "--quick",
        "--no-progress",
        "--datasets",
        "wine-imb",
        "--methods",
        "ce,random-over,balanced-rf",
    ]
    main([*args, "--out", str(tmp_path / "serial")])
    main([*args, "--out", str(tmp_path / "parallel"), "--n-jobs", "2"])
    keys = ["dataset", "method", "repeat", "fold"]
    scores = ["balanced_accuracy", "macro_f1", "g_mean", "roc_auc"]
    serial = _results(tmp_path / "serial").sort_values(keys).reset_index(drop=True)
    parallel = _results(tmp_path / "parallel").sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(serial[keys + scores], parallel[keys + scores])
