"""A grid search over ``ELMClassifier`` on a dask.distributed cluster through joblib.

``GridSearchCV`` runs its fits through joblib; under ``joblib.parallel_backend("dask")`` they
become tasks on the cluster's workers. The test starts a ``LocalCluster`` of two worker
processes (one thread each), checks that the results equal those of a sequential search with
the same ``random_state``, and that every fit in a worker ran with one torch thread: dask's
nanny starts worker processes with ``OMP_NUM_THREADS=1`` (``distributed.nanny.pre-spawn-environ``),
which torch reads when it is imported there, so the workers do not oversubscribe the CPU.
Skipped when dask.distributed is not installed (``pip install "sklearn-elm[dask]"``).
"""

import json
import os

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from sklearn_elm import ELMClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

GRID = {"max_m": [0.3, 0.5], "lam": [0.0, 1.0]}


def record_threads_callback(path):
    """A callback that appends the process id and torch's thread count of each fit to ``path``.

    The class is made inside a function so that cloudpickle ships it by value: the worker
    processes need not be able to import this test module.
    """

    class RecordThreads(Callback):
        def __init__(self, path):
            self.path = path

        def on_train_begin(self, net, **kwargs):
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"pid": os.getpid(),
                                         "threads": torch.get_num_threads()}) + "\n")

    return RecordThreads(path)


def search(callbacks=None):
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4,
                               weights=[0.8, 0.2], random_state=0)
    estimator = ELMClassifier(hidden_layer_sizes=(16,), max_epochs=5, batch_size=32,
                              device="cpu", random_state=0, callbacks=callbacks)
    return GridSearchCV(estimator, GRID, cv=2, scoring="balanced_accuracy").fit(X, y)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_grid_search_on_dask_equals_the_sequential_run(client, tmp_path):
    record = tmp_path / "threads.jsonl"
    with joblib.parallel_backend("dask"):
        on_cluster = search([("record", record_threads_callback(str(record)))])

    # the sequential reference with the workers' thread count, so floating-point sums agree
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sequential = search()
    finally:
        torch.set_num_threads(threads)

    assert on_cluster.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"],
                                  sequential.cv_results_["mean_test_score"])
    for fold in range(2):
        key = f"split{fold}_test_score"
        np.testing.assert_array_equal(on_cluster.cv_results_[key], sequential.cv_results_[key])

    fits = [json.loads(line) for line in record.read_text().splitlines()]
    worker_pids = set(client.run(os.getpid).values())
    in_workers = [fit for fit in fits if fit["pid"] in worker_pids]
    # 4 candidates x 2 folds on the workers; the refit of the best one runs here
    assert len(in_workers) == 8 and len(fits) == 9
    assert {fit["threads"] for fit in in_workers} == {1}


def test_workers_limit_torch_threads(client):
    threads = client.run(torch.get_num_threads)
    assert len(threads) == 2
    assert set(threads.values()) == {1}
    environ = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    assert set(environ.values()) == {"1"}


def test_benchmark_on_dask_equals_the_local_run(client, tmp_path):
    """``run_benchmark(dask_scheduler=...)``: the cells run on the workers, scores unchanged."""
    import pandas as pd
    from sklearn.datasets import load_wine

    from sklearn_elm.benchmark import BenchmarkDataset, run_benchmark

    X, y = load_wine(return_X_y=True)
    datasets = [
        BenchmarkDataset.from_arrays("wine", X, y),
        BenchmarkDataset.from_arrays("wine-lt10", X, y, lt_ratio=10.0),
    ]
    settings = dict(n_splits=2, n_repeats=1, network_params={"max_epochs": 3},
                    progress=False, log=lambda message: None)
    methods = ["ce", "logreg-balanced"]
    local = run_benchmark(datasets, methods, tmp_path / "local", n_jobs=1, **settings)
    on_cluster = run_benchmark(datasets, methods, tmp_path / "dask",
                               dask_scheduler=client.scheduler.address, **settings)
    keys = ["dataset", "method", "repeat", "fold"]
    scores = ["balanced_accuracy", "macro_f1", "g_mean", "roc_auc", "n_train", "n_test", "error"]
    local = local.sort_values(keys).reset_index(drop=True)
    on_cluster = on_cluster.sort_values(keys).reset_index(drop=True)
    assert len(local) == 8 and (local["error"] == "").all()
    pd.testing.assert_frame_equal(local[keys + scores], on_cluster[keys + scores])


def test_benchmark_command_line_runs_on_the_scheduler(client, tmp_path):
    """``sklearn-elm benchmark --dask-scheduler ADDRESS`` writes the same results."""
    import pandas as pd
    from sklearn.datasets import load_wine

    from sklearn_elm.benchmark import main

    X, y = load_wine(return_X_y=True)
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame(X).assign(y=y).to_csv(data / "wine.csv", header=False, index=False)
    args = ["benchmark", "--quick", "--no-progress", "--data-dir", str(data), "--methods",
            "logreg-balanced,balanced-rf"]
    assert main([*args, "--n-jobs", "1", "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--dask-scheduler", client.scheduler.address,
                 "--out", str(tmp_path / "dask")]) == 0
    keys = ["dataset", "method", "repeat", "fold"]
    local = pd.read_csv(tmp_path / "local" / "results.csv").sort_values(keys)
    on_cluster = pd.read_csv(tmp_path / "dask" / "results.csv").sort_values(keys)
    assert len(local) == 4
    pd.testing.assert_series_equal(local["balanced_accuracy"].reset_index(drop=True),
                                   on_cluster["balanced_accuracy"].reset_index(drop=True))
