"""Does ``ELMClassifierCV()`` with its defaults reach the best balanced accuracy on long tails?

Runs the benchmark's long-tail protocol (``sklearn-elm benchmark --suite lt``: every shipped
multi-class source, training part made long-tailed at ratios 10 and 100, balanced test part)
for the comparison the user guide's "Tuning" section reports:

* ``elm-cv``: :class:`~sklearn_elm.ELMClassifierCV` with its defaults (default grid, 5-fold);
* ``ldam-cv``: an LDAM search over the same budget (16 candidates: ``max_m``, ``drw_start``
  and ``s``), also through ``ELMClassifierCV``;
* ``elm-paper``: ``ELMClassifier()`` with the paper's settings, untuned;
* ``ce-net``: the same network with cross-entropy;
* ``smote-ce``: SMOTE, then the same network with cross-entropy;
* ``logreg-cv``: ``LogisticRegressionCV(class_weight="balanced")``;
* ``hgb-cw``: ``HistGradientBoostingClassifier(class_weight="balanced")``.

Every method sees the same splits and the benchmark's preprocessing (median imputation,
standardisation, fitted on the training part). The search's folds are inside the training part:
no setting is chosen on a test part. The folder is resumable (rerun the same command to go on).

Usage, from the repository root::

    python benchmarks/tuning_goal.py                      # 3 repeats per dataset, 2 processes
    python benchmarks/tuning_goal.py --summary            # tables of what has run so far
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegressionCV

from sklearn_elm import ELMClassifier, ELMClassifierCV
from sklearn_elm.benchmark import load_suite, run_benchmark

OUT = Path(__file__).resolve().parent / "results" / "tuning_goal"

#: LDAM's search: as many candidates as ELMClassifierCV's default grid
LDAM_GRID = {"max_m": [0.1, 0.3, 0.5, 0.7], "drw_start": [None, 0.8], "s": [10.0, 30.0]}


def methods():
    seed = 0
    return {
        "elm-cv": ELMClassifierCV(random_state=seed),
        "ldam-cv": ELMClassifierCV(loss="ldam", param_grid=LDAM_GRID, random_state=seed),
        "elm-paper": ELMClassifier(random_state=seed),
        "ce-net": ELMClassifier(loss="ce", random_state=seed),
        # k_neighbors=1: the long-tailed training parts have classes of 2 samples
        "smote-ce": Pipeline([("smote", SMOTE(k_neighbors=1, random_state=seed)),
                              ("ce", ELMClassifier(loss="ce", random_state=seed))]),
        "logreg-cv": LogisticRegressionCV(class_weight="balanced", max_iter=2000),
        "hgb-cw": HistGradientBoostingClassifier(class_weight="balanced", random_state=seed),
    }


def summary(out=OUT):
    results = pd.read_csv(out / "results.csv")
    scores = results.pivot_table(index="dataset", columns="method", values="balanced_accuracy",
                                 aggfunc="mean")
    complete = scores.dropna()
    best = complete.max(axis=1)
    lines = [f"{len(complete)} datasets with every method scored "
             f"(of {scores.shape[0]} started)\n"]
    table = complete.copy()
    table["elm-cv - best other"] = complete["elm-cv"] - complete.drop(columns="elm-cv").max(axis=1)
    lines.append(table.to_markdown(floatfmt=".3f"))
    within = (complete["elm-cv"] >= best - 0.005).mean()
    lines.append(
        "\nmean balanced accuracy: "
        + ", ".join(f"{m} {complete[m].mean():.4f}" for m in complete.columns)
        + f"\nelm-cv best or within 0.5 point of the best on {within:.0%} of the datasets; "
        f"elm-cv >= ldam-cv on {(complete['elm-cv'] >= complete['ldam-cv']).mean():.0%}; "
        f"mean elm-cv - ldam-cv = {np.mean(complete['elm-cv'] - complete['ldam-cv']):+.4f}"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="long-tailed splits per dataset (different seeds)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args(argv)
    if not args.summary:
        # the long-tail protocol makes n_splits × n_repeats splits with a 1 / n_splits test part
        run_benchmark(load_suite("lt"), methods(), out_dir=OUT, n_splits=args.repeats,
                      n_repeats=1, seed=0, n_jobs=args.n_jobs, progress=False)
    print(summary())


if __name__ == "__main__":
    main()
