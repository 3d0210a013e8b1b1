"""Tables of the results page that the benchmark report does not print, from result folders.

Reads the files ``sklearn-elm benchmark`` writes (``results.csv``, ``per_class.csv``,
``stats.json``) and prints, as Markdown:

* progress: cells done and complete datasets (all methods, all splits) of each folder;
* mean ranks over the KEEL (two-class, k-fold) and the long-tailed datasets separately, taken
  from the per-dataset ranks of ``stats.json`` (ranks among all the run's methods);
* where ELM wins and loses: on how many datasets each method ranks first, ELM's rank
  distribution and the datasets where it is best;
* the two-class check of the results page: mean minority and majority accuracy of each method
  over the KEEL datasets (minority = the class with fewer training samples in the split), and
  how ELM's loss of majority accuracy against LDAM relates to the imbalance ratio and to how
  separable the classes are (LDAM's ROC AUC);
* for ``--tune`` folders, the parameters the inner cross-validation chose for tuned ELM and
  LDAM, balanced and many-, medium- and few-shot accuracy of each method default and tuned,
  on how many datasets tuning helped ELM, and tuned ELM against tuned LDAM per dataset with
  how the difference relates to the size of the training part and to LDAM's own score.

Run ``python benchmarks/long_runs_summary.py benchmarks/results/all benchmarks/results/tune-lt``
(any result folders; a folder still running is summarised over its complete datasets).
``--write-complete`` also writes each folder's complete datasets, comma-separated, to its
``complete.txt``, for an interim report over them that re-runs no cell::

    sklearn-elm benchmark <the run's options> --datasets "$(cat FOLDER/complete.txt)" --out FOLDER
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from sklearn_elm.benchmark import markdown_table, read_per_class, read_results
from sklearn_elm.datasets import list_datasets


def complete_datasets(results):
    """Datasets with a row for every method (and tuned option) on every split of theirs.

    A run writes a dataset's batched network cells of all splits at once, before its other
    cells, so the splits present in its rows are all of its splits.
    """
    options = len(results[["method", "tuned"]].drop_duplicates())
    complete = []
    for name, rows in results.groupby("dataset"):
        splits = len(rows[["repeat", "fold"]].drop_duplicates())
        if len(rows) == splits * options:  # read_results keeps one row per cell
            complete.append(name)
    return sorted(complete)


def print_table(frame, floatfmt="{:.3f}"):
    formatted = frame.map(lambda v: floatfmt.format(v) if isinstance(v, float) else v)
    print(markdown_table(formatted, frame.index.name or ""))
    print()


def rank_tables(stats, kind, long_tailed):
    ranks = pd.DataFrame(stats[kind]["ranks"]).T  # datasets x methods
    groups = {"KEEL (two classes)": [d for d in ranks.index if d not in long_tailed],
              "long-tailed": [d for d in ranks.index if d in long_tailed]}
    table = pd.DataFrame({
        f"{name}: mean rank ({len(rows)})": ranks.loc[rows].mean()
        for name, rows in groups.items() if rows
    })
    table.insert(0, f"all: mean rank ({len(ranks)})", ranks.mean())
    table = table.sort_values(table.columns[0])
    table.index.name = "method"
    print(f"Mean ranks ({kind} cells), from the per-dataset ranks of stats.json:\n")
    print_table(table, "{:.2f}")

    firsts = (ranks == ranks.min(axis=1).to_numpy()[:, None]).sum()
    print("Datasets where each method ranks first (ties count for each):",
          ", ".join(f"{m} {int(n)}" for m, n in firsts.sort_values(ascending=False).items()))
    if "elm" in ranks:
        elm = ranks["elm"]
        n_methods = ranks.shape[1]
        print(f"ELM's rank: median {elm.median():.1f} of {n_methods}; first on "
              f"{int((elm == ranks.min(axis=1)).sum())}, in the top three on "
              f"{int((elm <= 3).sum())}, in the bottom three on "
              f"{int((elm > n_methods - 3).sum())} of {len(elm)} datasets")
        best = sorted(ranks.index[elm == ranks.min(axis=1)])
        print("ELM first on:", ", ".join(best) if best else "none")
    print()


def two_class_table(per_class, results, datasets):
    keel = per_class[per_class["dataset"].isin(datasets) & ~per_class["tuned"]]
    keys = ["dataset", "method", "repeat", "fold"]
    keel = keel.sort_values([*keys, "train_count"])
    minority = keel.groupby(keys).first()["accuracy"]
    majority = keel.groupby(keys).last()["accuracy"]
    both = pd.DataFrame({"minority accuracy": minority, "majority accuracy": majority})
    per_dataset = both.groupby(["method", "dataset"]).mean()
    table = per_dataset.groupby("method").mean()
    table["minority − majority"] = table["minority accuracy"] - table["majority accuracy"]
    table = table.sort_values("minority − majority", ascending=False)
    print(f"Two classes: mean over the {len(datasets)} complete KEEL datasets (mean over splits "
          "first; untuned cells):\n")
    print_table(table)
    if {"elm", "ldam"} <= set(per_dataset.index.get_level_values(0)):
        elm, ldam = per_dataset.loc["elm"], per_dataset.loc["ldam"]
        lower = int((elm["majority accuracy"] < ldam["majority accuracy"] - 1e-12).sum())
        higher = int((elm["minority accuracy"] >= ldam["minority accuracy"] - 1e-12).sum())
        print(f"ELM against LDAM: lower majority accuracy on {lower}, higher or equal minority "
              f"accuracy on {higher} of {len(elm)} datasets")
        scores = ["roc_auc", "balanced_accuracy", "macro_f1"]
        untuned = results[results["dataset"].isin(datasets) & ~results["tuned"]]
        means = untuned.groupby(["method", "dataset"])[scores].mean().groupby("method").mean()
        print("Means over the same datasets, ELM / LDAM: " + "; ".join(
            f"{score} {means.loc['elm', score]:.3f} / {means.loc['ldam', score]:.3f}"
            for score in scores))
        deficit = (ldam["majority accuracy"] - elm["majority accuracy"]).sort_values()
        ratios = list_datasets().set_index("name")["imbalance_ratio"].reindex(deficit.index)
        rho = spearmanr(ratios, deficit, nan_policy="omit")
        worst = ", ".join(f"{name} {value:.2f}" for name, value in deficit[::-1][:4].items())
        # how separable a dataset's classes are: LDAM's ROC AUC there (1 = no overlap)
        separability = (untuned[untuned["method"] == "ldam"].groupby("dataset")["roc_auc"]
                        .mean().reindex(deficit.index))
        overlap = spearmanr(separability, deficit, nan_policy="omit")
        print(f"ELM's majority-accuracy deficit against LDAM, largest: {worst}; Spearman "
              f"correlation with the imbalance ratio {rho.statistic:.2f} (p = {rho.pvalue:.2f}), "
              f"with LDAM's ROC AUC {overlap.statistic:.2f} (p = {overlap.pvalue:.1e})\n")


def tuned_choices(results, method="elm"):
    chosen = results["best_params"].ne("")
    tuned = results[(results["method"] == method) & results["tuned"] & chosen]
    if tuned.empty:
        return
    choices = Counter()
    for text in tuned["best_params"]:
        params = json.loads(text)
        choices[", ".join(f"{k}={v}" for k, v in sorted(params.items()))] += 1
    print(f"Parameters chosen for tuned {method} ({len(tuned)} cells):",
          "; ".join(f"{k}: {n}" for k, n in choices.most_common()))
    print()


def tuning_effects(results, datasets):
    rows = results[results["dataset"].isin(datasets)]
    if not rows["tuned"].any():
        return
    scores = [score for score in ("balanced_accuracy", "many_shot_accuracy",
                                   "medium_shot_accuracy", "few_shot_accuracy")
              if rows[score].notna().any()]  # no shots on k-fold sets
    per_dataset = rows.groupby(["method", "tuned", "dataset"])[scores].mean()
    scored_everywhere = per_dataset["balanced_accuracy"].notna().groupby(
        ["method", "tuned"]).sum().eq(len(datasets))
    complete = scored_everywhere[scored_everywhere].index
    tuned_methods = sorted({m for m, tuned in complete if tuned and (m, False) in complete})
    means = per_dataset.groupby(["method", "tuned"]).mean()
    table = pd.DataFrame({
        score: [f"{means.loc[(m, False), score]:.3f} → {means.loc[(m, True), score]:.3f}"
                for m in tuned_methods]
        for score in scores
    }, index=pd.Index(tuned_methods, name="method"))
    print(f"Default → tuned, means over the {len(datasets)} datasets (mean over splits first), "
          "methods that scored all of them:\n")
    print_table(table)
    accuracy = per_dataset["balanced_accuracy"].unstack(["method", "tuned"])
    if ("elm", True) not in accuracy:
        return
    gain = (accuracy[("elm", True)] - accuracy[("elm", False)]).sort_values()
    print(f"Tuning changed ELM's balanced accuracy: higher on {int((gain > 0).sum())}, lower on "
          f"{int((gain < 0).sum())} of {len(gain)} datasets; most: "
          + ", ".join(f"{name} {value:+.3f}" for name, value in gain[::-1][:3].items())
          + "; least: " + ", ".join(f"{name} {value:+.3f}" for name, value in gain[:3].items()))
    if ("ldam", True) in accuracy:
        against = (accuracy[("elm", True)] - accuracy[("ldam", True)]).sort_values()
        n_train = rows.groupby("dataset")["n_train"].mean().reindex(against.index)
        size = spearmanr(against, n_train)
        level = spearmanr(against, accuracy[("ldam", True)].reindex(against.index))
        print("Tuned ELM − tuned LDAM, balanced accuracy per dataset (mean training rows): "
              + ", ".join(f"{name} {value:+.4f} ({n_train[name]:.0f})"
                          for name, value in against.items()))
        print(f"Spearman correlation of that difference with the training rows "
              f"{size.statistic:.2f} (p = {size.pvalue:.3f}), with tuned LDAM's balanced "
              f"accuracy {level.statistic:.2f} (p = {level.pvalue:.3f})")
    print()


def summarise(folder, write_complete=False):
    folder = Path(folder)
    results = read_results(folder)
    per_class = read_per_class(folder)
    protocols = json.loads((folder / "protocol.json").read_text())["datasets"]
    long_tailed = {name for name, entry in protocols.items() if entry["protocol"] == "long-tail"}
    done = complete_datasets(results)
    if write_complete:
        (folder / "complete.txt").write_text(",".join(done) + "\n")
    print(f"## {folder}\n")
    print(f"{len(results)} cells, {results['dataset'].nunique()} datasets started, "
          f"{len(done)} complete; failed cells: {int(results['error'].ne('').sum())}\n")
    stats_path = folder / "stats.json"
    if stats_path.exists():
        stats = json.loads(stats_path.read_text())
        for kind in ("default", "tuned"):
            if kind in stats:
                rank_tables(stats, kind, long_tailed)
    keel = [d for d in done if d not in long_tailed]
    if keel:
        two_class_table(per_class, results, keel)
    for method in ("elm", "ldam"):
        tuned_choices(results[results["dataset"].isin(done)], method)
    tuning_effects(results, done)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--write-complete", action="store_true",
                        help="write each folder's complete datasets to its complete.txt")
    args = parser.parse_args(argv)
    for folder in args.folders:
        summarise(folder, args.write_complete)


if __name__ == "__main__":
    main()
