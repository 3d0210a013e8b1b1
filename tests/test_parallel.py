"""Under load: a parallel grid search completes, without oversubscribing the CPU with threads.

joblib's default ``loky`` backend starts worker processes with ``OMP_NUM_THREADS`` (and the
MKL/OpenBLAS equivalents) set to ``cpu_count() // n_jobs`` (at least 1), and limits the thread
pools it can reach through threadpoolctl; torch reads ``OMP_NUM_THREADS`` when it is imported
in the worker, so ``torch.get_num_threads()`` there is that budget: ``n_jobs`` workers then use
about ``cpu_count()`` threads in all instead of ``n_jobs * cpu_count()``. The test checks it
from inside the fits with a callback, in a subprocess whose environment sets no thread limit
of its own (so that joblib's limit is what is measured) and which a timeout kills, so that a
deadlock fails the test instead of hanging the suite.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from joblib import cpu_count
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from skorch.callbacks import Callback
    from sklearn_elm import ELMClassifier

    class RecordThreads(Callback):
        '''Append the process id and torch's thread count of every fit to a file.'''

        def __init__(self, path):
            self.path = path

        def on_train_begin(self, net, **kwargs):
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"pid": os.getpid(),
                                         "threads": torch.get_num_threads()}) + "\\n")

    X, y = make_classification(n_samples=200, n_features=8, weights=[0.8, 0.2],
                               random_state=0)
    estimator = ELMClassifier(max_epochs=3, random_state=0,
                              callbacks=[("record", RecordThreads(sys.argv[1]))])
    search = GridSearchCV(estimator, {"max_m": [0.3, 0.5], "lam": [0, 1]}, n_jobs=2, cv=2)
    search.fit(X, y)
    print(json.dumps({"parent": os.getpid(), "cpu_count": cpu_count(),
                      "n_candidates": len(search.cv_results_["params"]),
                      "best_score": search.best_score_}))
    """
)

# variables that would cap the threads themselves and hide what joblib does
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def test_grid_search_with_two_jobs_completes_without_oversubscription(tmp_path):
    record = tmp_path / "threads.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(record)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["n_candidates"] == 4
    assert 0.0 <= summary["best_score"] <= 1.0

    fits = [json.loads(line) for line in record.read_text().splitlines()]
    in_workers = [fit for fit in fits if fit["pid"] != summary["parent"]]
    # 4 candidates x 2 folds in the workers, then the refit of the best one in the parent
    assert len(in_workers) == 8 and len(fits) == 9
    budget = max(1, summary["cpu_count"] // 2)
    threads = sorted({fit["threads"] for fit in in_workers})
    assert max(threads) <= budget, (
        f"torch uses {threads} threads in each of 2 workers on {summary['cpu_count']} CPUs"
    )
