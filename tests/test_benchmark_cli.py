"""``sklearn-elm benchmark`` exits non-zero when it did not do what was asked, and says why."""

import numpy as np
import pytest
from _benchmark_data import write_csv

from sklearn_elm.benchmark import BenchmarkDataset, main, run_benchmark

FAST = ["benchmark", "--quick", "--no-progress", "--n-jobs", "1", "--max-epochs", "1"]


def _run(data, out, *extra):
    return main([*FAST, "--data-dir", str(data), "--out", str(out), *extra])


def test_an_empty_data_dir_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a dataset\n")
    with pytest.raises(SystemExit, match=r"--data-dir .*empty: no KEEL \.dat or header-less"):
        _run(tmp_path / "empty", tmp_path / "out", "--methods", "logreg-balanced")
    assert not (tmp_path / "out" / "results.csv").exists()


def test_a_skipped_file_fails_the_run_unless_allowed(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "fine.csv", 12, 2, np.random.RandomState(0))
    (data / "broken.csv").write_text("1.0,2.0,a\n1.5,2.5,b\n1.0,2.0,3.0,a\n")
    args = ["--methods", "logreg-balanced"]
    assert _run(data, tmp_path / "out", *args) == 1
    err = capsys.readouterr().err
    assert "broken.csv" in err and "--allow-skipped-files" in err
    # the other files ran all the same, and the report names the skipped one
    assert "fine" in (tmp_path / "out" / "results.csv").read_text()
    assert "broken.csv" in (tmp_path / "out" / "report.md").read_text()
    assert _run(data, tmp_path / "out", *args, "--allow-skipped-files") == 0


def test_a_run_whose_every_cell_failed_exits_non_zero(tmp_path, capsys, monkeypatch):
    from sklearn_elm.benchmark._samplers import SmallClassSMOTE

    def refuse(self, X, y):
        raise ValueError("this sampler refuses every training part")

    monkeypatch.setattr(SmallClassSMOTE, "_fit_resample", refuse)
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "lt.csv", 30, 3, np.random.RandomState(1))
    args = ["--long-tail", "15", "--methods", "smote", "--allow-skipped-files"]
    assert _run(data, tmp_path / "out", *args) == 1
    assert "every cell of the run failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"n_splits": 1}, "The 'n_splits' parameter of run_benchmark must be an int in the "
                          "range [2, inf). Got 1 instead."),
        ({"n_splits": 0}, "'n_splits' parameter of run_benchmark"),
        ({"n_repeats": 0}, "'n_repeats' parameter of run_benchmark"),
        ({"seed": -1}, "'seed' parameter of run_benchmark"),
        ({"n_jobs": 0}, "'n_jobs' parameter of run_benchmark"),
        ({"network_params": {"max_epochs": -3}},
         "The 'max_epochs' parameter of ELMClassifier must be an int in the range [1, inf)"),
        ({"network_params": {"max_epochs": 0}}, "'max_epochs' parameter of ELMClassifier"),
        ({"network_params": {"batch_size": 0}}, "'batch_size' parameter of ELMClassifier"),
        ({"network_params": {"lr": 0.0}}, "'lr' parameter of ELMClassifier"),
        ({"network_params": {"epochs": 3}}, "'epochs' is not an ELMClassifier parameter"),
    ],
)  # fmt: skip
def test_run_benchmark_refuses_what_the_command_refuses(tmp_path, settings, message):
    rng = np.random.RandomState(0)
    dataset = BenchmarkDataset.from_arrays("d", rng.normal(size=(30, 2)), np.arange(30) % 2)
    with pytest.raises(ValueError) as raised:
        run_benchmark([dataset], ["elm"], tmp_path, progress=False, log=lambda m: None,
                      **settings)  # fmt: skip
    assert message in str(raised.value)
    assert not (tmp_path / "results.csv").exists()  # refused before any cell ran
