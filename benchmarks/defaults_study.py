"""Which margin settings win on real tables? The study behind ELMClassifierCV's default grid.

For every development dataset -- the 80 shipped KEEL binary sets and every shipped multi-class
source made long-tailed at ratios 10 and 100 -- one training part is taken exactly as the
benchmark takes it (fold 0 of 5-fold stratified CV for a KEEL set; the long-tailed training part
of repeat 0 for a long-tailed set, whose balanced test part is never loaded here), and
:class:`~sklearn_elm.ELMClassifierCV` scores a wide grid of ``lam``, ``max_m`` and
``drw_start`` by stratified 5-fold cross-validation **inside that training part**. No test part
is used: the numbers are cross-validated balanced accuracies of the training data, which is
what a user tuning on their own data would see.

The run is resumable: one row per (dataset, candidate) is appended to
``benchmarks/results/defaults_study/scores.csv`` as each dataset finishes, and a rerun skips the
datasets already there. ``--summary`` only reads that file and prints the tables of the docs
page ``docs/defaults_study.md``.

Usage, from the repository root::

    python benchmarks/defaults_study.py                  # the whole study (resumable)
    python benchmarks/defaults_study.py --suite lt       # one suite
    python benchmarks/defaults_study.py --summary        # tables only
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_elm import ELMClassifierCV
from sklearn_elm.benchmark import load_suite, make_splits
from sklearn_elm.model_selection import DEFAULT_PARAM_GRID

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "defaults_study"

#: the grid studied: every sign and size of ``lam`` the user guide discusses, three largest
#: margins, with and without deferred re-weighting (30 candidates; ``lam=0`` is LDAM)
STUDY_GRID = {
    "lam": [-1.0, -0.5, 0.0, 0.5, 1.0],
    "max_m": [0.1, 0.3, 0.5],
    "drw_start": [None, 0.8],
}
#: ``--grid drw``: the DRW candidates a learning-rate schedule changes (LDAM, ELM at lam 0.5
#: and 1, the largest margin), to compare schedules against a full run at another schedule
DRW_GRID = {"lam": [0.0, 0.5, 1.0], "max_m": [0.5], "drw_start": [0.8]}
#: the paper's configuration (Kato & Hotta, 2023), the ``ELMClassifier`` defaults
PAPER = {"lam": 1.0, "max_m": 0.5, "drw_start": 0.8}
INNER_FOLDS = 5
COLUMNS = ["group", "dataset", "lam", "max_m", "drw_start", "mean_test_score",
           "std_test_score", "n_train", "fit_seconds"]


def _group(dataset):
    if dataset.lt_ratio is None:
        return "keel"
    return f"lt{dataset.lt_ratio:g}"


def _training_part(dataset):
    """The training part of the benchmark's first split, preprocessed as the benchmark does."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, _, train, _ = make_splits(dataset, n_splits=5, n_repeats=1, seed=0)[0]
    X = make_pipeline(SimpleImputer(strategy="median"), StandardScaler()).fit_transform(
        dataset.X[train]
    )
    return X.astype(np.float32), dataset.y[train]


def _run_dataset(dataset, grid=STUDY_GRID, lr_schedule="auto"):
    X, y = _training_part(dataset)
    search = ELMClassifierCV(param_grid=grid, cv=INNER_FOLDS, refit=False, random_state=0,
                             lr_schedule=lr_schedule)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # long-tailed training parts have classes with fewer samples than folds: scikit-learn
        # warns and the search still runs, which is what this study wants to measure
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y)
    seconds = time.perf_counter() - start
    results = search.cv_results_
    rows = []
    for index, params in enumerate(results["params"]):
        rows.append({
            "group": _group(dataset),
            "dataset": dataset.name,
            "lam": params["lam"],
            "max_m": params["max_m"],
            "drw_start": "none" if params["drw_start"] is None else params["drw_start"],
            "mean_test_score": results["mean_test_score"][index],
            "std_test_score": results["std_test_score"][index],
            "n_train": y.size,
            "fit_seconds": seconds,
        })
    return rows


def run(suites, out=OUT, log=print, grid=STUDY_GRID, lr_schedule="auto"):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scores.csv"
    done = set(pd.read_csv(path)["dataset"]) if path.exists() else set()
    for suite in suites:
        for dataset in load_suite(suite):
            if dataset.name in done:
                continue
            rows = _run_dataset(dataset, grid, lr_schedule)
            frame = pd.DataFrame(rows, columns=COLUMNS)
            frame.to_csv(path, mode="a", header=not path.exists(), index=False)
            done.add(dataset.name)
            log(f"{dataset.name}: {len(rows)} candidates, n_train={rows[0]['n_train']}, "
                f"{rows[0]['fit_seconds']:.1f} s")
    return path


# ------------------------------------------------------------------------------------ summary
def _key(frame):
    return list(zip(frame["lam"], frame["max_m"], frame["drw_start"].astype(str), strict=False))


def _label(key):
    lam, max_m, drw = key
    return f"lam={lam:g}, max_m={max_m:g}, drw={drw}"


def _score_matrix(scores):
    """Datasets × candidates table of mean CV balanced accuracy."""
    scores = scores.assign(candidate=_key(scores))
    return scores.pivot_table(index="dataset", columns="candidate", values="mean_test_score")


def _grid_regret(matrix, candidates):
    """Mean over datasets of (best of all candidates) − (best of ``candidates``)."""
    best_all = matrix.max(axis=1)
    return float((best_all - matrix[list(candidates)].max(axis=1)).mean())


def _greedy_grid(matrix, size):
    chosen = []
    for _ in range(size):
        remaining = [c for c in matrix.columns if c not in chosen]
        chosen.append(min(remaining, key=lambda c: _grid_regret(matrix, chosen + [c])))
    return chosen


def _markdown(frame, floatfmt=".3f"):
    return frame.to_markdown(floatfmt=floatfmt)


def summary(out=OUT):
    scores = pd.read_csv(out / "scores.csv")
    scores["drw_start"] = scores["drw_start"].astype(str).replace({"0.8": "0.8"})
    lines = []
    paper_key = (PAPER["lam"], PAPER["max_m"], str(PAPER["drw_start"]))
    default_keys = [
        (lam, max_m, "none" if drw is None else str(drw))
        for lam, max_m, drw in itertools.product(
            DEFAULT_PARAM_GRID["lam"], DEFAULT_PARAM_GRID["max_m"], DEFAULT_PARAM_GRID["drw_start"]
        )
    ]
    groups = [("all", scores)] + [(g, s) for g, s in scores.groupby("group")]
    overview = []
    for group, part in groups:
        matrix = _score_matrix(part)
        ranks = matrix.rank(axis=1, ascending=False, method="average")
        mean_rank = ranks.mean().sort_values()
        regret = (matrix.max(axis=1).values[:, None] - matrix).mean()
        best = mean_rank.index[0]
        overview.append({
            "datasets": group,
            "n": matrix.shape[0],
            "best single setting (mean rank)": f"{_label(best)} ({mean_rank[best]:.1f})",
            "paper setting: mean rank": f"{mean_rank[paper_key]:.1f} of {matrix.shape[1]}",
            "paper setting: mean gap to per-dataset best": f"{regret[paper_key]:.4f}",
            "best single setting: gap": f"{regret[best]:.4f}",
            "default grid: gap": f"{_grid_regret(matrix, default_keys):.4f}",
        })
        table = pd.DataFrame({"mean rank": mean_rank, "mean gap to best": regret[mean_rank.index],
                              "mean score": matrix.mean()[mean_rank.index]})
        table.index = [_label(k) for k in table.index]
        lines.append(f"\n### Candidates on {group} ({matrix.shape[0]} datasets)\n")
        lines.append(_markdown(table.head(12)))
        # the sign of lam: best of each sign's settings, per dataset
        signs = {"lam < 0": [c for c in matrix.columns if c[0] < 0],
                 "lam = 0 (LDAM)": [c for c in matrix.columns if c[0] == 0],
                 "lam > 0": [c for c in matrix.columns if c[0] > 0]}
        best_of = pd.DataFrame({name: matrix[cols].max(axis=1) for name, cols in signs.items()})
        wins = best_of.idxmax(axis=1).value_counts().reindex(list(signs), fill_value=0)
        lines.append(f"\nBest setting of each sign of lam, {group}: mean CV score "
                     + ", ".join(f"{k} {best_of[k].mean():.4f}" for k in signs)
                     + "; datasets where that sign holds the best setting (ties to the first): "
                     + ", ".join(f"{k} {wins[k]}" for k in signs) + ".\n")
    greedy = _greedy_grid(_score_matrix(scores), 16)
    curve = [(k, _grid_regret(_score_matrix(scores), greedy[:k])) for k in (1, 2, 4, 8, 12, 16)]
    text = ["## Overview\n", _markdown(pd.DataFrame(overview).set_index("datasets")),
            "\n## Greedy grid (all datasets)\n",
            "Settings added one at a time, each the one that most lowers the mean gap between "
            "the best setting of the grid and the best of all 30:\n",
            "\n".join(f"{i + 1}. {_label(k)}" for i, k in enumerate(greedy)),
            "\nMean gap by grid size: " + ", ".join(f"{k}: {v:.4f}" for k, v in curve),
            *lines]
    return "\n".join(text)


def compare(before, after):
    """Per group, the settings both folders scored: mean CV score before and after, wins."""
    keys = ["group", "dataset", "lam", "max_m", "drw_start"]
    old = pd.read_csv(before / "scores.csv")
    new = pd.read_csv(after / "scores.csv")
    for frame in (old, new):
        frame["drw_start"] = frame["drw_start"].astype(str)
    both = old.merge(new, on=keys, suffixes=("_before", "_after"))
    lines = [f"{len(both)} (dataset, setting) pairs, {both['dataset'].nunique()} datasets",
             "| group | lam | max_m | drw | before | after | after - before | after wins |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    both["delta"] = both["mean_test_score_after"] - both["mean_test_score_before"]
    for (group, lam, max_m, drw), part in both.groupby(["group", "lam", "max_m", "drw_start"]):
        lines.append(
            f"| {group} | {lam:g} | {max_m:g} | {drw} | {part['mean_test_score_before'].mean():.3f}"
            f" | {part['mean_test_score_after'].mean():.3f} | {part['delta'].mean():+.4f} | "
            f"{int((part['delta'] > 0).sum())}/{len(part)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", nargs="+", default=["keel", "lt"], choices=["keel", "lt"])
    parser.add_argument("--summary", action="store_true", help="only print the tables")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT,
                        help="folder of scores.csv (another folder for another schedule)")
    parser.add_argument("--grid", choices=["study", "drw"], default="study",
                        help="the 30 settings, or only the 3 DRW settings of DRW_GRID")
    parser.add_argument("--lr-schedule", choices=["auto", "constant"], default="auto",
                        help="ELMClassifier's lr_schedule: 'auto' (the default: the rate drops "
                        "when DRW starts) or 'constant' (None, the schedule of the first run)")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"),
                        help="only compare the shared settings of two folders' scores.csv")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(*args.compare))
        return
    import torch

    torch.set_num_threads(args.threads)
    if not args.summary:
        start = time.perf_counter()
        run(args.suite, out=args.out, log=lambda m: print(m, file=sys.stderr, flush=True),
            grid=DRW_GRID if args.grid == "drw" else STUDY_GRID,
            lr_schedule=None if args.lr_schedule == "constant" else "auto")
        print(f"study wall time {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.grid == "study":
        print(summary(args.out))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
