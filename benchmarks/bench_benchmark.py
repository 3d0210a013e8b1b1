"""The benchmark's network cells, batched against cell by cell, side by side in one run.

``sklearn-elm benchmark`` trains the untuned network cells of a dataset (the criterion
methods, and the sampler methods after their resampling) in one call of the batched trainer;
``--no-batched`` fits them one cell per worker. This script runs both on the same datasets,
splits and methods, one after the other in one process, and prints

* the wall time of each run and their ratio (the cells' summed fit times too),
* how many cells' balanced accuracy differs between the runs, by how much, and the largest
  change of a method's mean over the datasets: the batched networks are the cell-by-cell ones
  up to float32 rounding, which over the epochs can turn into a few differently predicted
  test rows;
* for scale, the same differences between the cell-by-cell run and a third, cell-by-cell run
  on the same data with every feature value moved up by one float32 unit in the last place:
  how much rounding alone moves the scores of a cell-by-cell run.

Defaults: the long runs' protocol (5-fold CV × 2 repeats, 10 repeats of the long-tail
protocol), the 12 network methods, four shipped datasets of different sizes, ``--n-jobs 1``.
Run ``python benchmarks/bench_benchmark.py`` (``--quick``: 2 folds × 1 repeat, 2 datasets).
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time

import numpy as np

from sklearn_elm.benchmark import load_suite, run_benchmark
from sklearn_elm.benchmark._methods import CRITERION_METHODS, SAMPLER_METHODS

DATASETS = ("glass4", "yeast4", "abalone-17_vs_7-8-9-10", "segment-lt10")
KEYS = ["dataset", "method", "repeat", "fold"]


def timed_run(datasets, methods, batched, args):
    start = time.perf_counter()
    results = run_benchmark(
        datasets,
        methods,
        tempfile.mkdtemp(prefix="bench_benchmark_"),
        n_splits=args.folds,
        n_repeats=args.repeats,
        n_jobs=args.n_jobs,
        progress=False,
        log=lambda message: None,
        batched=batched,
    )
    return time.perf_counter() - start, results


def nudged(dataset):
    """The dataset with every feature value moved up by one float32 unit in the last place."""
    moved = copy.copy(dataset)
    moved.X = np.nextafter(dataset.X.astype(np.float32), np.inf).astype(dataset.X.dtype)
    return moved


def compare(name, first, second):
    both = first.merge(second, on=KEYS, suffixes=("_a", "_b"))
    change = both["balanced_accuracy_b"] - both["balanced_accuracy_a"]
    changed = change.abs() > 1e-9
    means = both.groupby("method")[["balanced_accuracy_a", "balanced_accuracy_b"]].mean()
    shift = (means["balanced_accuracy_b"] - means["balanced_accuracy_a"]).abs().max()
    failed = (both["error_a"].fillna("") != both["error_b"].fillna("")).sum()
    largest = f"{change.abs().max():.4f}" if changed.any() else "-"
    print(f"| {name} | {int(changed.sum())} of {len(both)} | {largest} | {shift:.4f} | "
          f"{int(failed)} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 folds x 1 repeat, 2 datasets")
    args = parser.parse_args(argv)
    if args.quick:
        args.folds, args.repeats, args.datasets = 2, 1, args.datasets[:2]
    by_name = {d.name: d for d in load_suite("all")}
    datasets = [by_name[name] for name in args.datasets]
    methods = [*CRITERION_METHODS, *SAMPLER_METHODS]
    print(f"{len(datasets)} datasets ({', '.join(args.datasets)}), {len(methods)} network "
          f"methods, {args.folds} folds x {args.repeats} repeats, n_jobs={args.n_jobs}; "
          f"load average at the start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")

    single_time, single = timed_run(datasets, methods, False, args)
    batched_time, batched = timed_run(datasets, methods, True, args)
    print(f"load average after the two timed runs: "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    _, moved = timed_run([nudged(d) for d in datasets], methods, False, args)

    print("| run | cells | wall time (s) | summed fit time (s) |")
    print("| --- | --- | --- | --- |")
    for name, seconds, frame in (("cell by cell (--no-batched)", single_time, single),
                                 ("batched (default)", batched_time, batched)):
        print(f"| {name} | {len(frame)} | {seconds:.1f} | {frame['fit_time'].sum():.1f} |")
    print(f"\nwall-time ratio (cell by cell / batched): {single_time / batched_time:.2f}\n")

    print("| against the cell-by-cell run | cells whose balanced accuracy changed | largest "
          "change | largest change of a method's mean | cells failed in one run only |")
    print("| --- | --- | --- | --- | --- |")
    compare("batched", single, batched)
    compare("cell by cell, X moved by one float32 ulp", single, moved)


if __name__ == "__main__":
    main()
