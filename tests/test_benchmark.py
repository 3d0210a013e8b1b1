"""End-to-end tests of ``sklearn-elm benchmark`` on tiny data folders and ``--quick`` settings."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _benchmark_data import write_csv, write_keel
from matplotlib.image import imread

from sklearn_elm import ELMClassifier
from sklearn_elm.benchmark import METHOD_TABLE, _runner, main
from sklearn_elm.benchmark._results import ProtocolMismatchError, check_protocol

METHODS = ["elm", "ce", "smote", "logreg-balanced", "balanced-bagging", "rusboost"]
DATASETS = {"tiny-a", "tiny-b", "blobs-lt10"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.RandomState(0)
    write_keel(folder / "tiny-a.dat", "tiny-a", 60, 12, rng, with_missing=True)
    write_keel(folder / "tiny-b.dat", "tiny-b", 40, 10, rng)
    write_csv(folder / "blobs.csv", 40, 4, rng)
    # a malformed file: a row with a field too many, on line 3
    (folder / "broken.csv").write_text("1.0,2.0,a\n1.5,2.5,b\n1.0,2.0,3.0,a\n")
    return folder


def _args(data_dir, out, *extra):
    return [
        "benchmark",
        "--quick",
        "--no-progress",
        "--n-jobs",
        "1",
        "--data-dir",
        str(data_dir),
        "--long-tail",
        "10",
        "--methods",
        ",".join(METHODS),
        "--out",
        str(out),
        "--allow-skipped-files",  # broken.csv is skipped on purpose
        *extra,
    ]


@pytest.fixture(scope="module")
def quick_run(data_dir, tmp_path_factory):
    """One ``--quick`` run on the tiny folder, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("quick")
    assert main(_args(data_dir, out)) == 0
    return out


def _results(out):
    return pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])


def test_results_cover_every_method_dataset_and_split(quick_run):
    results = _results(quick_run)
    assert set(results["method"]) == set(METHODS)
    assert set(results["dataset"]) == DATASETS  # broken.csv skipped, blobs made long-tailed
    # --quick: 2 folds x 1 repeat; the long-tailed set gets 2 x 1 repeats of its own split
    assert len(results) == len(METHODS) * len(DATASETS) * 2
    assert not results.duplicated(["dataset", "method", "tuned", "repeat", "fold"]).any()
    assert not results["tuned"].any()
    lt = results[results["dataset"] == "blobs-lt10"]
    assert set(lt["repeat"]) == {0, 1} and set(lt["fold"]) == {0}


def test_scores_are_valid_and_shot_accuracy_only_on_long_tails(quick_run):
    results = _results(quick_run)
    assert results["error"].isna().all(), results["error"].dropna().tolist()
    scores = results[["balanced_accuracy", "macro_f1", "g_mean", "roc_auc"]]
    assert ((scores >= 0) & (scores <= 1)).all().all()
    shots = ["many_shot_accuracy", "medium_shot_accuracy", "few_shot_accuracy"]
    lt = results["dataset"] == "blobs-lt10"
    assert results.loc[~lt, shots].isna().all().all()
    # blobs-lt10: about 32 training samples in the head class, 3 in the tail: no many-shot
    # class (> 100), medium- and few-shot classes scored
    assert results.loc[lt, "many_shot_accuracy"].isna().all()
    assert results.loc[lt, ["medium_shot_accuracy", "few_shot_accuracy"]].notna().all().all()
    cells = results[results["method"] == "logreg-balanced"]
    assert cells["balanced_accuracy"].mean() > 0.7  # separable blobs: far above chance


def test_identical_splits_for_every_method(quick_run):
    results = _results(quick_run)
    sizes = results.groupby(["dataset", "repeat", "fold"])[["n_train", "n_test"]].nunique()
    assert (sizes == 1).all().all()


def test_report_sections_statistics_and_skipped_file(quick_run):
    report = (quick_run / "report.md").read_text()
    for section in (
        "## Protocol",
        "## Datasets",
        "## Summary",
        "### Long-tailed datasets: many-, medium- and few-shot accuracy",
        "## Statistical tests",
        "## Balanced accuracy per dataset",
        "## Figures",
        "## Environment",
    ):
        assert section in report
    assert "Friedman test" in report and "Iman–Davenport" in report
    assert "smallest p-value the test can reach" in report
    # the malformed file is named with its line, and the run went on
    assert "Files skipped" in report and "broken.csv" in report and "line 3" in report
    statistics = json.loads((quick_run / "stats.json").read_text())
    default = statistics["default"]
    assert statistics["metric"] == "balanced_accuracy"
    assert set(default["mean_ranks"]) == set(METHODS)
    assert sorted(default["datasets"]) == sorted(DATASETS)
    assert {"statistic", "pvalue", "iman_davenport_pvalue"} <= set(default["friedman"])
    # 3 datasets: the Wilcoxon units are dataset x split cells, and the report says so
    assert default["wilcoxon"]["n_units"] == 6 and "dataset × split cells" in report


def test_figures_are_valid_images(quick_run):
    report = (quick_run / "report.md").read_text()
    for name in ("critical_difference.png", "fold_scores.png", "per_class_accuracy_blobs-lt10.png"):
        image = imread(quick_run / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
        assert f"]({name})" in report


def test_protocol_json_records_versions_device_and_hashes(quick_run):
    protocol = json.loads((quick_run / "protocol.json").read_text())
    assert protocol["device"] == "cpu"
    assert {"numpy", "scikit-learn", "imbalanced-learn", "torch", "sklearn-elm"} <= set(
        protocol["versions"]
    )
    assert set(protocol["datasets"]) == DATASETS
    assert all(len(entry["sha256"]) == 64 for entry in protocol["datasets"].values())
    assert protocol["datasets"]["blobs-lt10"]["protocol"] == "long-tail"
    assert set(protocol["methods"]) == set(METHODS)
    # a built-in method is recorded with every parameter, defaults included, and its grid
    elm = protocol["methods"]["elm"]
    assert elm["parameters"]["classify__lam"] == repr(ELMClassifier().lam)
    assert elm["grid"]["lam"] == [repr(v) for v in METHOD_TABLE["elm"].grid["lam"]]
    (processor,) = protocol["processors"]
    assert "torch CPU capability" in processor
    assert processor in (quick_run / "report.md").read_text()


def test_a_folder_resumed_on_another_processor_lists_both(tmp_path):
    first = {"seed": 0, "methods": {"ce": "built-in"}, "processors": ["cpu A (AVX2)"]}
    check_protocol(tmp_path, first)
    check_protocol(tmp_path, {**first, "processors": ["cpu B (AVX512)"]})  # not refused
    check_protocol(tmp_path, {**first, "processors": ["cpu A (AVX2)"]})
    protocol = json.loads((tmp_path / "protocol.json").read_text())
    assert protocol["processors"] == ["cpu A (AVX2)", "cpu B (AVX512)"]
    with pytest.raises(ProtocolMismatchError, match="seed"):  # the protocol is still checked
        check_protocol(tmp_path, {**first, "seed": 1})


def test_a_folder_of_other_method_definitions_is_not_resumed(quick_run, data_dir, tmp_path,
                                                             monkeypatch):
    # as if a later version changed a default of a method: its old cells must not count as done
    folder = shutil.copytree(quick_run, tmp_path / "run")
    definition = _runner.method_definition

    def changed(method, settings):
        recorded = definition(method, settings)
        if method == "elm":
            recorded["parameters"]["classify__lam"] = "0.25"
        return recorded

    monkeypatch.setattr(_runner, "method_definition", changed)
    with pytest.raises(SystemExit, match=r"method elm: .*classify__lam.* there, .*0\.25"):
        main(_args(data_dir, folder))
    # a folder of a version that recorded only "built-in": refused, saying so
    protocol = json.loads((folder / "protocol.json").read_text())
    protocol["methods"]["elm"] = "built-in"
    (folder / "protocol.json").write_text(json.dumps(protocol))
    monkeypatch.setattr(_runner, "method_definition", definition)
    with pytest.raises(SystemExit, match="earlier version defined it"):
        main(_args(data_dir, folder))


def test_method_definitions_are_the_same_in_a_new_process():
    # a folder is resumed by later processes: nothing of one process (a function's memory
    # address in its repr, say) may enter what protocol.json records of a method
    settings = {"network_params": {"max_epochs": 2}, "device": "cpu"}
    here = {name: _runner.method_definition(name, settings) for name in METHOD_TABLE}
    code = (
        "import json, sys\n"
        "from sklearn_elm.benchmark import METHOD_TABLE, _runner\n"
        f"settings = {settings!r}\n"
        "json.dump({n: _runner.method_definition(n, settings) for n in METHOD_TABLE}, sys.stdout)"
    )
    there = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                      capture_output=True, text=True).stdout)
    assert there == here
    # RUSBoost's sampling strategy is a function: recorded by name
    strategy = here["rusboost"]["parameters"]["classify__sampling_strategy"]
    assert strategy == "sklearn_elm.benchmark._methods._at_most_twice_the_smallest"


def test_rerun_resumes_without_new_work(quick_run, data_dir, monkeypatch):
    before = (quick_run / "results.csv").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(_runner, "_evaluate_cell", fail)
    assert main(_args(data_dir, quick_run)) == 0
    assert (quick_run / "results.csv").read_text() == before


def test_changed_data_or_seed_is_refused(quick_run, data_dir, tmp_path):
    with pytest.raises(SystemExit, match=r"another protocol(.|\n)*seed: 0 there, 1 now"):
        main(_args(data_dir, quick_run, "--seed", "1"))
    # the same name with other data: the hash differs
    changed = tmp_path / "changed"
    changed.mkdir()
    write_keel(changed / "tiny-a.dat", "tiny-a", 60, 12, np.random.RandomState(1))
    args = _args(changed, quick_run)
    with pytest.raises(SystemExit, match="dataset tiny-a"):
        main(args)


def test_interrupted_run_resumes_the_missing_cells(data_dir, tmp_path):
    args = _args(data_dir, tmp_path, "--datasets", "tiny-b", "--methods", "ce,logreg-balanced")
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


def test_keel_dir_still_works_and_folds_shrink_to_the_smallest_class(tmp_path):
    keel = tmp_path / "keel"
    keel.mkdir()
    write_keel(keel / "small.dat", "small", 30, 3, np.random.RandomState(0))
    out = tmp_path / "out"
    main(
        [
            "benchmark",
            "--quick",
            "--no-progress",
            "--n-jobs",
            "1",
            "--keel-dir",
            str(keel),
            "--out",
            str(out),
            "--methods",
            "logreg-balanced,random-over",
            "--folds",
            "5",
        ]
    )
    results = _results(out)
    assert results.groupby("dataset")["fold"].nunique().to_dict() == {"small": 3}
    assert "5 folds reduced to 3" in (out / "report.md").read_text()


def test_metric_option_ranks_macro_f1(data_dir, tmp_path):
    main(
        _args(
            data_dir, tmp_path, "--methods", "ce,logreg-balanced,rusboost", "--metric", "macro_f1"
        )
    )
    report = (tmp_path / "report.md").read_text()
    assert "## Macro F1 per dataset" in report and "Friedman test of the macro F1 ranks" in report
    statistics = json.loads((tmp_path / "stats.json").read_text())
    results = _results(tmp_path)
    means = results.groupby(["dataset", "method"])["macro_f1"].mean().unstack()
    ranks = means.rank(axis=1, ascending=False).mean()
    for method, rank in statistics["default"]["mean_ranks"].items():
        assert rank == pytest.approx(ranks[method])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--methods", "elm,svm"], "unknown method"),
        (["--suite", "nope"], "invalid choice: 'nope'"),
        (["--long-tail", "0.5"], "ratios must be finite numbers >= 1"),
        (["--long-tail", "nan"], "ratios must be finite numbers >= 1"),
        (["--long-tail", "10,inf"], "ratios must be finite numbers >= 1"),
        # counts: 0 or negative is refused, never replaced by a default
        (["--max-epochs", "0"], "The 'max_epochs' parameter of ELMClassifier must be an int"),
        (["--max-epochs", "-3"], "The 'max_epochs' parameter of ELMClassifier must be an int"),
        (["--folds", "0"], "argument --folds: The 'n_splits' parameter of run_benchmark"),
        (["--folds", "1"], "must be an int in the range [2, inf). Got 1 instead"),
        (["--repeats", "0"], "argument --repeats: The 'n_repeats' parameter"),
        (["--n-jobs", "0"], "argument --n-jobs: The 'n_jobs' parameter"),
        (["--seed", "-1"], "argument --seed: The 'seed' parameter"),
        (["--folds", "two"], "argument --folds: not an integer: 'two'"),
        (["--methods", ""], "argument --methods: no name in ''"),
        (["--methods", " , "], "argument --methods: no name in"),
        (["--datasets", ""], "argument --datasets: no name in ''"),
    ],
)
def test_bad_command_lines_are_refused(tmp_path, capsys, extra, message):
    # a missing --data-dir: a command line that is not refused ends at once, never runs a suite
    base = ["benchmark", "--out", str(tmp_path), "--data-dir", str(tmp_path / "absent")]
    with pytest.raises(SystemExit) as raised:
        main([*base, *extra])
    # argparse prints its errors; the others are the exit message
    assert message in str(raised.value) + capsys.readouterr().err


def test_imblearn_suite_offline_is_skipped_with_a_message(tmp_path, monkeypatch, capsys):
    import imblearn.datasets

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(imblearn.datasets, "fetch_datasets", offline)
    args = ["benchmark", "--quick", "--no-progress", "--suite", "imblearn", "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="no dataset to run"):  # nothing ran: not a success
        main(args)
    message = capsys.readouterr().err
    assert "fetch_datasets" in message and "skipping --suite imblearn" in message
    assert not (tmp_path / "results.csv").exists()


def test_module_runs_as_a_script():
    """``python -m sklearn_elm.benchmark`` is the same command as ``sklearn-elm``."""
    completed = subprocess.run(
        [sys.executable, "-m", "sklearn_elm.benchmark", "benchmark", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    for option in (
        "--data-dir",
        "--keel-dir",
        "--long-tail",
        "--tune",
        "--metric",
        "--dask-scheduler",
    ):
        assert option in completed.stdout


def test_parallel_cells_give_the_same_scores(data_dir, tmp_path):
    extra = ["--datasets", "tiny-a,blobs-lt10", "--methods", "ce,balanced-rf"]
    main(_args(data_dir, tmp_path / "serial", *extra))
    main(_args(data_dir, tmp_path / "parallel", *extra, "--n-jobs", "2"))
    keys = ["dataset", "method", "repeat", "fold"]
    scores = ["balanced_accuracy", "macro_f1", "g_mean", "roc_auc", "few_shot_accuracy"]
    serial = _results(tmp_path / "serial").sort_values(keys).reset_index(drop=True)
    parallel = _results(tmp_path / "parallel").sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(serial[keys + scores], parallel[keys + scores])


def test_datasets_too_small_for_the_protocol_are_reported(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.RandomState(0)
    write_csv(data / "fine.csv", 20, 3, rng)
    # 12 classes of 2 samples: a test part of a third holds 8 samples, fewer than the classes
    write_csv(data / "crowded.csv", 2, 12, rng, n_features=2)
    # one class with a single sample: dropped, and the report says so
    (data / "lonely.csv").write_text(
        (data / "fine.csv").read_text() + "0.5,0.5,0.5,c9\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    args = ["benchmark", "--quick", "--no-progress", "--n-jobs", "1", "--folds", "3"]
    args += ["--data-dir", str(data), "--long-tail", "10", "--methods", "logreg-balanced,ce"]
    assert main([*args, "--out", str(out)]) == 0
    results = _results(out)
    assert set(results["dataset"]) == {"fine-lt10", "lonely-lt10"}
    report = (out / "report.md").read_text()
    assert "Datasets without any result" in report
    assert "crowded-lt10: not run: its splits cannot be made" in report
    assert "dropped class(es) ['c9'] with a single sample" in report


def test_no_runnable_dataset_exits_non_zero(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "crowded.csv", 2, 12, np.random.RandomState(0), n_features=2)
    args = ["benchmark", "--quick", "--no-progress", "--n-jobs", "1", "--folds", "3"]
    args += ["--data-dir", str(data), "--long-tail", "10", "--out", str(tmp_path / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "crowded-lt10: not run" in err and "no report written" in err
    assert not (tmp_path / "out" / "report.md").exists()
