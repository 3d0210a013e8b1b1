"""Time ``ELMClassifierCV`` against ``GridSearchCV(ELMClassifier(...))``, side by side.

The problem of the performance page: a 5,000 × 20 table with 10 long-tailed classes
(``make_classification`` with geometric class weights 1 … 0.02), a 12-candidate grid over
``lam``, ``max_m`` and ``drw_start``, 5-fold stratified CV, the default network (60 epochs),
two CPU threads for each side:

* ``GridSearchCV(ELMClassifier(random_state=0), grid, cv, n_jobs=2)``: 60 fits + the refit in
  two worker processes of one torch thread each;
* ``ELMClassifierCV(random_state=0, param_grid=grid, cv=cv, n_jobs=2)``: the 60 networks in
  two batched groups, two threads of one torch thread each, then the refit (one torch
  thread).

Then: the achieved GFLOP/s of the batched training against ``torch.mm`` on a large square
matrix (two threads), and how the batched training time grows with the number of members
(1, 4, 16, 64) and with the table's rows (one torch thread, 5 epochs).

Run ``python benchmarks/bench_search.py`` (add ``--quick`` for a smoke run with fewer epochs;
``--out FILE`` writes the numbers as JSON, ``--write-docs`` the section of
``docs/performance.md``, between its ``bench_search`` markers; ``--from-json FILE
--write-docs`` renders an earlier run). The machine's load average is printed: on shared
machines compare only the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from joblib import parallel_config
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_elm import ELMClassifier, ELMClassifierCV, _batched
from sklearn_elm._batched import fit_members

GRID = {"lam": [0.0, 0.5, 1.0], "max_m": [0.3, 0.5], "drw_start": [None, 0.8]}
THREADS = 2


def long_tailed_table(n_samples=5000, n_features=20, n_classes=10, random_state=0):
    weights = np.geomspace(1.0, 0.02, n_classes)
    return make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=10, n_redundant=4,
        n_classes=n_classes, weights=weights / weights.sum(), random_state=random_state,
    )


def mlp_step_flops(rows, n_features, hidden, n_classes):
    """Multiply-add FLOPs of one training step (forward + backward) of the default MLP."""
    widths = [n_features, *hidden, n_classes]
    forward = sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    # backward: weight gradients for every layer, input gradients for all but the first
    first = 2 * rows * widths[0] * widths[1]
    return forward + forward + (forward - first)


def mm_gflops(size=2048, repeats=5):
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    tic = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - tic) / 1e9


def workers_cpu_s():
    """CPU seconds of this process's children (joblib's workers); None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # a worker that just exited
            continue
        total += times.user + times.system
    return total


class _CountSteps:
    """Counts the stacked network-steps the batched engine trains (members sharing a slot
    count once), by wrapping its batch builder; restores it on exit."""

    def __enter__(self):
        self.network_steps = 0
        builder = self._builder = _batched._Batches
        counter = self

        class Counting(builder):
            def __init__(self, rows, labels, weights, batch_size, device, orders=None):
                super().__init__(rows, labels, weights, batch_size, device, orders)
                if orders is not None:  # training batches, not validation ones
                    counter.network_steps += len(rows) * self.steps

        _batched._Batches = Counting
        return self

    def __exit__(self, *exc):
        _batched._Batches = self._builder


def compare_search(X, y, max_epochs):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    base = ELMClassifier(max_epochs=max_epochs, random_state=0, device="cpu")
    # two CPU threads on each side: n_jobs=2 threads of one torch thread (and the refit on one)
    torch.set_num_threads(1)
    with _CountSteps() as counted:
        tic, cpu = time.perf_counter(), time.process_time()
        search = ELMClassifierCV(max_epochs=max_epochs, random_state=0, device="cpu",
                                 param_grid=GRID, cv=cv, n_jobs=THREADS).fit(X, y)
        ours, ours_cpu = time.perf_counter() - tic, time.process_time() - cpu
    # each worker process: one torch thread (OMP_NUM_THREADS=1 from inner_max_num_threads)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        workers, cpu = workers_cpu_s(), time.process_time()
        tic = time.perf_counter()
        reference = GridSearchCV(base, GRID, cv=cv, scoring="balanced_accuracy",
                                 n_jobs=THREADS).fit(X, y)
        theirs = time.perf_counter() - tic
        # CPU seconds: less sensitive than wall time to other jobs on a shared machine
        theirs_cpu = None if workers is None else (
            workers_cpu_s() - workers + time.process_time() - cpu)
    gap = np.abs(search.cv_results_["mean_test_score"] - reference.cv_results_["mean_test_score"])
    n_steps = sum(
        max_epochs * -(-len(train) // base.batch_size) for train, _ in cv.split(X, y)
    ) * len(search.cv_results_["params"])
    step_flops = mlp_step_flops(base.batch_size, X.shape[1], base.hidden_layer_sizes,
                                np.unique(y).size)
    # wall time of the search without the refit (setup, batched training, scoring)
    batched_time = ours - search.refit_time_
    return {
        "elm_classifier_cv_s": ours,
        "grid_search_cv_s": theirs,
        "speedup": theirs / ours,
        "elm_classifier_cv_cpu_s": ours_cpu,
        "grid_search_cv_cpu_s": theirs_cpu,
        "cpu_ratio": None if theirs_cpu is None else theirs_cpu / ours_cpu,
        "refit_s": search.refit_time_,
        "search_without_refit_s": batched_time,
        # the products of the network-steps trained (members sharing steps count once)
        "batched_gflops": step_flops * counted.network_steps / batched_time / 1e9,
        "network_steps": n_steps,
        "trained_network_steps": counted.network_steps,
        "mean_abs_score_gap": float(gap.mean()),
        "max_abs_score_gap": float(gap.max()),
        "same_best_params": search.best_params_ == reference.best_params_,
        "all_batched": bool(search.cv_results_["batched"].all()),
    }


CNN_GRID = {"lam": [0.0, 1.0], "max_m": [0.3, 0.5]}


def compare_cnn_search(max_epochs):
    """A ``SmallCNN`` search on the 8 × 8 digits (as images), against GridSearchCV."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8).astype(np.float32)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    params = dict(module="cnn", max_epochs=max_epochs, random_state=0, device="cpu")
    torch.set_num_threads(1)
    tic = time.perf_counter()
    search = ELMClassifierCV(**params, param_grid=CNN_GRID, cv=cv, n_jobs=THREADS).fit(X, y)
    ours = time.perf_counter() - tic
    with parallel_config(backend="loky", inner_max_num_threads=1):
        tic = time.perf_counter()
        reference = GridSearchCV(ELMClassifier(**params), CNN_GRID, cv=cv,
                                 scoring="balanced_accuracy", n_jobs=THREADS).fit(X, y)
        theirs = time.perf_counter() - tic
    gap = np.abs(search.cv_results_["mean_test_score"] - reference.cv_results_["mean_test_score"])
    return {
        "elm_classifier_cv_s": ours,
        "grid_search_cv_s": theirs,
        "speedup": theirs / ours,
        "refit_s": search.refit_time_,
        "mean_abs_score_gap": float(gap.mean()),
        "max_abs_score_gap": float(gap.max()),
        "all_batched": bool(search.cv_results_["batched"].all()),
        "max_epochs": max_epochs,
    }


def scaling(X, y, epochs, members=(1, 4, 16, 64), rows=(1000, 2500, 5000, 10000)):
    """Seconds per epoch of batched training (one torch thread) and of one single fit."""
    torch.set_num_threads(1)
    params = {**ELMClassifier(device="cpu").get_params(), "max_epochs": epochs}

    def batched(X, y, n_members, train):
        fit_members(X, y, [({**params, "random_state": 0}, train[:200])])  # warm-up
        candidates = [({**params, "lam": float(i % 4) / 2, "random_state": i}, train)
                      for i in range(n_members)]
        tic = time.perf_counter()
        fit_members(X, y, candidates)
        return (time.perf_counter() - tic) / epochs

    def single(X, y, train):
        tic = time.perf_counter()
        ELMClassifier(**{**params, "random_state": 0}).fit(X[train], y[train])
        return (time.perf_counter() - tic) / epochs

    train = np.arange(int(0.8 * len(y)))
    by_members = [{"members": g, "s_per_epoch": batched(X, y, g, train)} for g in members]
    by_members.insert(0, {"members": "single fit", "s_per_epoch": single(X, y, train)})
    by_rows = []
    for n in rows:
        Xn, yn = long_tailed_table(n_samples=n)
        train = np.arange(int(0.8 * n))
        by_rows.append({"rows": n, "train_rows": len(train),
                        "batched_16_s_per_epoch": batched(Xn, yn, 16, train),
                        "single_s_per_epoch": single(Xn, yn, train)})
    return by_members, by_rows


DOCS_PAGE = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "performance.md")
BEGIN, END = "<!-- bench_search: begin -->", "<!-- bench_search: end -->"


def render(results, command):
    """The performance page's section, as Markdown."""
    s = results["search"]
    load_before = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    load_after = ", ".join(f"{x:.2f}" for x in results["load_average_after"])
    lines = [
        "## Tuning: ELMClassifierCV against GridSearchCV",
        "",
        f"Generated by `benchmarks/bench_search.py` (command: `{command}`; "
        f"{results['total_s'] / 60:.0f} min in all). A 5,000 × 20 table with 10 long-tailed "
        "classes (`make_classification`, geometric class weights 1 … 0.02), the 12-candidate "
        "grid `lam` ∈ {0, 0.5, 1} × `max_m` ∈ {0.3, 0.5} × `drw_start` ∈ {None, 0.8}, "
        f"5-fold stratified CV, the default network ({results['max_epochs']} epochs), "
        "`random_state=0`, two CPU threads on each side: `GridSearchCV(..., n_jobs=2)` runs two "
        "worker processes of one torch thread; `ELMClassifierCV(..., n_jobs=2)` runs two "
        "batched groups in two threads of one torch thread, then the refit on one. torch "
        f"{results['torch']}, {results['cpu_count']} logical CPUs shared with other jobs: load "
        f"average (1, 5, 15 min) {load_before} at the start and {load_after} at the end, so "
        "compare the ratios, which were measured side by side in this one run.",
        "",
        "| | seconds |",
        "| --- | ---: |",
        f"| `GridSearchCV(ELMClassifier(), n_jobs=2)`: 60 fits + refit | "
        f"{s['grid_search_cv_s']:.1f} |",
        f"| `ELMClassifierCV(n_jobs=2)`: batched search + refit | {s['elm_classifier_cv_s']:.1f} |",
        f"| of which the refit (one ordinary `ELMClassifier` fit) | {s['refit_s']:.1f} |",
        f"| **speed-up** | **{s['speedup']:.1f}×** (goal ≥ 6×) |",
        "",
    ]
    if s.get("cpu_ratio") is not None:
        lines += [
            f"CPU seconds, which other jobs on the machine disturb less than wall time: "
            f"{s['grid_search_cv_cpu_s']:.1f} for GridSearchCV (its worker processes and the "
            f"parent), {s['elm_classifier_cv_cpu_s']:.1f} for ELMClassifierCV (all its "
            f"threads): {s['cpu_ratio']:.1f}× less.",
            "",
        ]
    lines += [
        f"Scores: `mean_test_score` differs from GridSearchCV's by {s['mean_abs_score_gap']:.4f} "
        f"on average over the 12 candidates (largest {s['max_abs_score_gap']:.4f}; goal ≤ 0.01 "
        f"on average); the same `best_params_`: {'yes' if s['same_best_params'] else 'no'}. "
        "Each batched network is the network of the single fit up to float32 rounding, which "
        "grows over the epochs into a few differently predicted test rows.",
        "",
        "Shared steps: the candidates of a fold that differ only in `drw_start` train as one "
        "network until deferred re-weighting starts (epoch "
        f"{int(0.8 * results['max_epochs'])}), so the engine trained "
        f"{s.get('trained_network_steps', s['network_steps']):,} network-steps of the "
        f"{s['network_steps']:,} that 60 separate fits take.",
        "",
    ]
    cnn = results.get("cnn_search")
    if cnn is not None:
        lines += [
            "The same comparison for images: a `SmallCNN` (`module=\"cnn\"`) on the 1,797 "
            "8 × 8 digits as (N, 8, 8) images, the 4-candidate grid `lam` ∈ {0, 1} × `max_m` ∈ "
            f"{{0.3, 0.5}}, 3-fold stratified CV, {cnn['max_epochs']} epochs, two CPU threads "
            "on each side:",
            "",
            "| | seconds |",
            "| --- | ---: |",
            f"| `GridSearchCV(ELMClassifier(module=\"cnn\"), n_jobs=2)`: 12 fits + refit | "
            f"{cnn['grid_search_cv_s']:.1f} |",
            f"| `ELMClassifierCV(module=\"cnn\", n_jobs=2)`: batched search + refit | "
            f"{cnn['elm_classifier_cv_s']:.1f} |",
            f"| of which the refit | {cnn['refit_s']:.1f} |",
            f"| **speed-up** | **{cnn['speedup']:.1f}×** |",
            "",
            f"Scores: `mean_test_score` differs by {cnn['mean_abs_score_gap']:.4f} on average "
            f"(largest {cnn['max_abs_score_gap']:.4f}); every fit batched: "
            f"{'yes' if cnn['all_batched'] else 'no'}.",
            "",
        ]
    lines += [
        f"Arithmetic: the batched search (without the refit) ran at {s['batched_gflops']:.1f} "
        "GFLOP/s (multiply-adds of the forward and backward matrix products of the "
        "network-steps it trained, over its wall time), against "
        f"{results['mm_gflops_2_threads']:.1f} GFLOP/s for `torch.mm` on 2048 × 2048 float32 "
        "matrices on the same two threads. The layers of the default MLP are small (20 → 100 "
        "→ 10, batches of 128): the step is bound by memory traffic and per-operation "
        "overhead, not by the matrix products.",
        "",
        "Batched training time against the number of networks (one fold of 4,000 rows, one "
        f"torch thread, {2 if '--quick' in command else 5} epochs), and against one "
        "`ELMClassifier` fit:",
        "",
        "| networks | s / epoch | s / network-epoch |",
        "| --- | ---: | ---: |",
    ]
    for row in results["by_members"]:
        g = row["members"]
        per = row["s_per_epoch"] / (1 if g == "single fit" else g)
        name = "one `ELMClassifier` fit" if g == "single fit" else f"{g} batched"
        lines.append(f"| {name} | {row['s_per_epoch']:.3f} | {per:.4f} |")
    lines += [
        "",
        "Against the table's rows (80 % of them train; 16 batched networks, one torch thread):",
        "",
        "| rows (training rows) | 16 batched networks, s / epoch | one `ELMClassifier` fit, "
        "s / epoch |",
        "| --- | ---: | ---: |",
    ]
    for row in results["by_rows"]:
        lines.append(f"| {row['rows']:,} ({row['train_rows']:,}) | "
                     f"{row['batched_16_s_per_epoch']:.3f} | {row['single_s_per_epoch']:.3f} |")
    lines += [
        "",
        "Peak memory of a batched group: see the user guide's Tuning section (0.24 MB per "
        "network here, `sklearn_elm._batched.member_bytes(20, (100,), 10, 128)`). No CUDA GPU "
        "was available, so there is no GPU figure yet; the CUDA test of the batched trainer "
        "(`tests/test_batched.py`) skips without one.",
    ]
    return "\n".join(lines)


def write_docs(section):
    with open(DOCS_PAGE) as f:
        page = f.read()
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in page and END in page:
        page = page[: page.index(BEGIN)] + block + page[page.index(END) + len(END):]
    else:
        page = page.rstrip("\n") + "\n\n" + block + "\n"
    with open(DOCS_PAGE, "w") as f:
        f.write(page)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 epochs, smaller scaling runs")
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--from-json", help="render the results of an earlier --out file")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the section of docs/performance.md")
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            results = json.load(f)
        command = results.get("command", "python benchmarks/bench_search.py")
        section = render(results, command)
        print(section)
        if args.write_docs:
            write_docs(section)
        return
    command = "python benchmarks/bench_search.py" + (" --quick" if args.quick else "")
    epochs = 10 if args.quick else 60
    X, y = long_tailed_table()
    load_before = os.getloadavg()
    started = time.perf_counter()
    results = {"command": command, "max_epochs": epochs, "cpu_count": os.cpu_count(),
               "torch": torch.__version__, "load_average_before": load_before}
    torch.set_num_threads(THREADS)
    results["mm_gflops_2_threads"] = mm_gflops()
    results["search"] = compare_search(X, y, epochs)
    results["cnn_search"] = compare_cnn_search(3 if args.quick else 10)
    torch.set_num_threads(THREADS)
    results["mm_gflops_2_threads_after"] = mm_gflops()
    members, rows = scaling(X, y, epochs=2 if args.quick else 5,
                            members=(1, 4, 16) if args.quick else (1, 4, 16, 64),
                            rows=(1000, 5000) if args.quick else (1000, 2500, 5000, 10000))
    results["by_members"], results["by_rows"] = members, rows
    results["load_average_after"] = os.getloadavg()
    results["total_s"] = time.perf_counter() - started

    s = results["search"]
    print(f"load average before {load_before}, after {results['load_average_after']}")
    print("\n| | seconds |\n| --- | --- |")
    print(f"| GridSearchCV(ELMClassifier(), n_jobs=2), 60 fits + refit | "
          f"{s['grid_search_cv_s']:.1f} |")
    print(f"| ELMClassifierCV(n_jobs=2), batched + refit | {s['elm_classifier_cv_s']:.1f} |")
    print(f"| of which the refit | {s['refit_s']:.1f} |")
    print(f"| speed-up | {s['speedup']:.1f}× |")
    if s.get("cpu_ratio") is not None:
        print(f"| CPU seconds (all threads / worker processes) | GridSearchCV "
              f"{s['grid_search_cv_cpu_s']:.1f}, ELMClassifierCV {s['elm_classifier_cv_cpu_s']:.1f}"
              f" ({s['cpu_ratio']:.1f}×) |")
    c = results["cnn_search"]
    print(f"| SmallCNN digits: GridSearchCV {c['grid_search_cv_s']:.1f} s, ELMClassifierCV "
          f"{c['elm_classifier_cv_s']:.1f} s, speed-up {c['speedup']:.1f}×, score gap "
          f"{c['mean_abs_score_gap']:.2e}, all batched {c['all_batched']} |")
    print(f"\nmean_test_score gap per candidate: mean {s['mean_abs_score_gap']:.2e}, "
          f"max {s['max_abs_score_gap']:.2e}; same best_params_: {s['same_best_params']}")
    print(f"batched search (without the refit): {s['batched_gflops']:.2f} GFLOP/s; "
          f"torch.mm 2048² on 2 threads: "
          f"{results['mm_gflops_2_threads']:.1f} GFLOP/s before, "
          f"{results['mm_gflops_2_threads_after']:.1f} after")
    print("\n| members | s / epoch | s / member-epoch |\n| --- | --- | --- |")
    for row in members:
        g = row["members"]
        per = row["s_per_epoch"] / (1 if g == "single fit" else g)
        print(f"| {g} | {row['s_per_epoch']:.3f} | {per:.4f} |")
    print("\n| rows (train) | 16 members, s / epoch | single fit, s / epoch |\n| --- | --- | --- |")
    for row in rows:
        print(f"| {row['rows']} ({row['train_rows']}) | {row['batched_16_s_per_epoch']:.3f} | "
              f"{row['single_s_per_epoch']:.3f} |")
    print(f"\ntotal {results['total_s']:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2, default=str)
    if args.write_docs:
        write_docs(render(results, command))


if __name__ == "__main__":
    main()
