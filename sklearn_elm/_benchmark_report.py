"""``report.md`` and PNG plots of ``sklearn-elm benchmark`` (private)."""

from __future__ import annotations

import datetime
import os
import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._benchmark_stats import (
    friedman_test,
    mean_ranks,
    nemenyi_critical_difference,
    wilcoxon_against,
)

__all__ = ["markdown_table", "write_report"]

_METRIC_TITLES = {
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "g_mean": "G-mean",
    "roc_auc": "ROC AUC",
    "fit_time": "fit time (s)",
}
#: methods of the per-class accuracy plots
_PER_CLASS_METHODS = ("elm", "ldam", "ce", "smote")
_REFERENCE = "elm"
#: below this many datasets, Wilcoxon pairs dataset × fold cells instead of datasets
_MIN_DATASETS_FOR_WILCOXON = 6
_PACKAGES = ("numpy", "scikit-learn", "imbalanced-learn", "torch", "skorch", "sklearn-elm")


def markdown_table(frame, index_name=None):
    """A DataFrame as a GitHub-flavoured markdown table (cells are written with ``str``).

    Parameters
    ----------
    frame : DataFrame
    index_name : str, default=None
        Header of the index column; the index is left out when None.

    Returns
    -------
    table : str

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm._benchmark_report import markdown_table
    >>> print(markdown_table(pd.DataFrame({"rank": [1.5, 2.0]}, index=["elm", "ce"]), "method"))
    | method | rank |
    | --- | --- |
    | elm | 1.5 |
    | ce | 2.0 |
    """
    header = ([index_name] if index_name is not None else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for label, row in frame.iterrows():
        cells = ([str(label)] if index_name is not None else []) + [str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _versions():
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _format_p(p):
    if np.isnan(p):
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def _mean_std(mean, std):
    if np.isnan(mean):
        return "failed"
    return f"{mean:.3f} ± {std:.3f}" if not np.isnan(std) else f"{mean:.3f}"


def _dataset_scores(results, metric, methods, dataset_names):
    """Mean over folds of ``metric``: rows datasets, columns methods (NaN if all folds failed)."""
    scores = results.pivot_table(
        index="dataset", columns="method", values=metric, aggfunc="mean", dropna=False
    )
    return scores.reindex(index=dataset_names, columns=methods)


def _summary(results, methods, complete_datasets, ranks):
    """Mean rank over all datasets; mean scores over the datasets every method scored."""
    summary = pd.DataFrame(index=methods)
    summary["mean rank"] = ranks.reindex(methods).map("{:.2f}".format)
    for metric in ("balanced_accuracy", "macro_f1", "g_mean", "roc_auc", "fit_time"):
        # mean of the per-dataset means, so that every dataset weighs the same; only over
        # complete datasets, or a method that failed on a hard dataset would look better
        means = _dataset_scores(results, metric, methods, complete_datasets).mean(axis=0)
        digits = 2 if metric == "fit_time" else 3
        summary[_METRIC_TITLES[metric]] = means.map(lambda v, d=digits: f"{v:.{d}f}")
    failed = results[results["error"] != ""].groupby("method").size()
    total = results.groupby("method").size()
    summary["failed cells"] = [f"{failed.get(m, 0)}/{total.get(m, 0)}" for m in methods]
    order = ranks.reindex(methods).sort_values(kind="stable").index
    return summary.loc[order]


def _score_matrix(scores):
    """Balanced accuracy matrix as text, the best method of each dataset in bold."""
    text = scores.map(lambda v: "failed" if np.isnan(v) else f"{v:.3f}")
    for dataset, row in scores.iterrows():
        if row.notna().any():
            best = f"{row.max():.3f}"
            for method in row.index[text.loc[dataset] == best]:
                text.loc[dataset, method] = f"**{text.loc[dataset, method]}**"
    return text


def _dataset_details(results, methods):
    grouped = results.groupby("method")
    table = pd.DataFrame(index=methods)
    for metric, title in _METRIC_TITLES.items():
        mean, std = grouped[metric].mean(), grouped[metric].std()
        table[title] = [_mean_std(mean.get(m, np.nan), std.get(m, np.nan)) for m in methods]
    errors = results[results["error"] != ""].groupby("method").size()
    table["folds ok"] = [
        f"{grouped.size().get(m, 0) - errors.get(m, 0)}/{grouped.size().get(m, 0)}" for m in methods
    ]
    return table


def _wilcoxon(results, balanced_accuracy, methods):
    """Wilcoxon of elm against each method, over datasets or dataset × fold cells."""
    n_datasets = len(balanced_accuracy)
    if n_datasets >= _MIN_DATASETS_FOR_WILCOXON:
        units = f"the {n_datasets} datasets (mean balanced accuracy over folds)"
        paired = balanced_accuracy
    else:
        paired = results.pivot_table(
            index=["dataset", "repeat", "fold"], columns="method", values="balanced_accuracy"
        )
        # only the folds that exist (a dataset with fewer folds has no cells for the others)
        paired = paired.reindex(columns=methods).dropna(axis=0, how="all")
        units = (
            f"the {len(paired)} dataset × fold cells (only {n_datasets} datasets, fewer than "
            f"{_MIN_DATASETS_FOR_WILCOXON}; the cells of one dataset are not independent, so "
            "read these p-values as optimistic)"
        )
    return wilcoxon_against(paired, _REFERENCE), units


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------
def _plot_mean_ranks(ranks, critical_difference, n_datasets, path):
    ranks = ranks.sort_values(ascending=False)  # best at the top of a horizontal bar chart
    figure = Figure(figsize=(6.4, 0.3 * len(ranks) + 1.6), layout="constrained")
    axes = figure.subplots()
    colors = ["tab:red" if m == _REFERENCE else "tab:blue" for m in ranks.index]
    axes.barh(ranks.index, ranks.to_numpy(), color=colors)
    for position, value in enumerate(ranks):
        axes.text(value, position, f" {value:.2f}", va="center", fontsize=8)
    if np.isfinite(critical_difference):
        best = ranks.min()
        axes.axvline(
            best + critical_difference,
            color="grey",
            linestyle="--",
            linewidth=1,
            label=f"best + Nemenyi CD ({critical_difference:.2f}, α = 0.05)",
        )
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlabel("mean rank of balanced accuracy (1 = best)")
    axes.set_title(f"Mean rank over {n_datasets} dataset(s)")
    axes.set_xlim(0, len(ranks) + 1)
    figure.savefig(path, dpi=120)


def _plot_per_class(per_class, dataset, path):
    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.subplots()
    for method in _PER_CLASS_METHODS:
        rows = per_class[per_class["method"] == method]
        if rows.empty:
            continue
        by_class = rows.groupby("class").agg(
            train_count=("train_count", "mean"), accuracy=("accuracy", "mean")
        )
        by_class = by_class.sort_values("train_count")
        axes.plot(
            by_class["train_count"],
            by_class["accuracy"],
            marker="o",
            markersize=4,
            linewidth=1.2,
            label=method,
            color="tab:red" if method == _REFERENCE else None,
        )
    axes.set_xscale("log")
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("training samples of the class (mean over folds, log scale)")
    axes.set_ylabel("test accuracy of the class (mean over folds)")
    axes.set_title(f"{dataset}: per-class accuracy against class frequency")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=120)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def write_report(
    results, per_class, datasets, methods, out_dir, *, command_line, protocol, wall_time
):
    """Write ``report.md`` and the PNG plots for the selected datasets and methods.

    Parameters
    ----------
    results : DataFrame
        Rows of ``results.csv`` for ``datasets`` × ``methods``.
    per_class : DataFrame
        Rows of ``per_class.csv``.
    datasets : list of BenchmarkDataset
    methods : list of str
    out_dir : Path
    command_line : str
    protocol : dict
        Folds, repeats, seed, network parameters, device, n_jobs, quick.
    wall_time : float
        Seconds taken by this invocation.

    Returns
    -------
    path : Path
        The report.
    """
    methods = [m for m in methods if m in set(results["method"])]
    dataset_names = [d.name for d in datasets if d.name in set(results["dataset"])]
    balanced_accuracy = _dataset_scores(results, "balanced_accuracy", methods, dataset_names)
    ranks = mean_ranks(balanced_accuracy)
    friedman = friedman_test(balanced_accuracy)
    complete_datasets = list(balanced_accuracy.dropna(axis=0, how="any").index)
    incomplete = [name for name in dataset_names if name not in complete_datasets]
    n_complete = friedman["n_datasets"]
    critical_difference = (
        nemenyi_critical_difference(len(methods), len(dataset_names))
        if len(methods) >= 2 and dataset_names
        else np.nan
    )

    figures = []
    if len(methods) >= 2:
        _plot_mean_ranks(ranks, critical_difference, len(dataset_names), out_dir / "mean_rank.png")
        figures.append(("Mean rank per method", "mean_rank.png"))
    for dataset in datasets:
        rows = per_class[
            (per_class["dataset"] == dataset.name)
            & per_class["method"].isin(_PER_CLASS_METHODS)
            & per_class["method"].isin(methods)
        ]
        if dataset.long_tailed and not rows.empty:
            name = f"per_class_accuracy_{dataset.name}.png"
            _plot_per_class(rows, dataset.name, out_dir / name)
            figures.append((f"{dataset.name}: per-class accuracy", name))

    lines = [
        "# sklearn-elm benchmark report",
        "",
        f"Command: `{command_line}`",
        "",
        f"Written {datetime.datetime.now().isoformat(timespec='seconds')}; this invocation "
        f"took {wall_time:.0f} s of wall time (cells resumed from an earlier run not "
        f"included). Total fit time in the cells: {results['fit_time'].sum():.0f} s.",
        "",
        "## Protocol",
        "",
        f"- RepeatedStratifiedKFold, {protocol['folds']} folds × {protocol['repeats']} "
        f"repeat(s), seed {protocol['seed']}; the same folds for every method (fewer folds "
        "where a dataset's smallest class is smaller, see the dataset table).",
        "- Every method is an imbalanced-learn Pipeline: median imputation and "
        "standardisation fitted on the training fold, then the sampler (sampler methods), "
        "then the classifier; resampling only ever touches training folds.",
        f"- Network methods share `ELMClassifier({_format_params(protocol['network_params'])})`"
        " on `" + protocol["device"] + "`; `elm` and `ldam` use deferred re-weighting from 80% "
        "of the epochs, `ce`, `focal`, `la` and the sampler methods none, `cb` class-balanced "
        "weights throughout. SMOTE-type samplers use k = min(5, smallest training class − 1) "
        "neighbours and are recorded as failed when a class has a single training sample.",
        "- Ranks, the Friedman test and the Wilcoxon tests use balanced accuracy. The mean "
        "columns of the summary are means over datasets of the per-dataset means over folds.",
        f"- n_jobs = {protocol['n_jobs']}"
        + (", `--quick` (smoke run)" if protocol["quick"] else "")
        + ".",
        "",
        "## Datasets",
        "",
        markdown_table(_dataset_table(datasets, results, dataset_names), "dataset"),
        "",
        "## Summary",
        "",
        f"Mean rank of balanced accuracy (1 = best) over all {len(dataset_names)} datasets, a "
        "method ranked last where it failed on every fold; mean scores over the "
        f"{len(complete_datasets)} dataset(s) that every method scored"
        + (f" (left out: {', '.join(incomplete)})" if incomplete else "")
        + ".",
        "",
        markdown_table(_summary(results, methods, complete_datasets, ranks), "method"),
        "",
        "## Statistical tests",
        "",
    ]
    if friedman["reason"]:
        lines.append(f"Friedman test not run: {friedman['reason']}.")
    else:
        left_out = len(dataset_names) - n_complete
        lines.append(
            f"Friedman test over {n_complete} datasets and {friedman['n_methods']} methods: "
            f"χ² = {friedman['statistic']:.2f}, p = {_format_p(friedman['pvalue'])}"
            + (f" ({left_out} dataset(s) with a failed method left out)" if left_out else "")
            + f". Nemenyi critical difference of the mean ranks (over all {len(dataset_names)} "
            f"datasets) at α = 0.05: {critical_difference:.2f}."
        )
    if _REFERENCE in methods and len(methods) >= 2:
        wilcoxon, units = _wilcoxon(results, balanced_accuracy, methods)
        table = pd.DataFrame(
            {
                "pairs": wilcoxon["n_pairs"],
                "elm wins / ties / losses": [
                    f"{r.wins} / {r.ties} / {r.losses}" for r in wilcoxon.itertuples()
                ],
                "mean difference (elm − method)": wilcoxon["mean_difference"].map("{:+.4f}".format),
                "p": wilcoxon["pvalue"].map(_format_p),
                "p (Holm)": wilcoxon["pvalue_holm"].map(_format_p),
                "significant (α = 0.05)": wilcoxon["significant"].map({True: "yes", False: "no"}),
            }
        )
        lines += [
            "",
            "Two-sided Wilcoxon signed-rank tests of balanced accuracy, `elm` against each "
            f"method, over {units}; p-values Holm-corrected over the {len(table)} comparisons.",
            "",
            markdown_table(table, "method"),
        ]
    lines += [
        "",
        "## Balanced accuracy per dataset",
        "",
        "Mean over folds; the best of each dataset in bold.",
        "",
        markdown_table(_score_matrix(balanced_accuracy).T, "method"),
        "",
    ]
    failures = results[results["error"] != ""]
    if not failures.empty:
        grouped = failures.groupby(["dataset", "method", "error"]).size().rename("cells")
        lines += [
            "## Failed cells",
            "",
            markdown_table(grouped.reset_index().set_index("dataset"), "dataset"),
            "",
        ]
    if figures:
        lines += ["## Figures", ""]
        for title, name in figures:
            lines += [f"![{title}]({name})", ""]
    lines += ["## Per-dataset details (mean ± std over folds)", ""]
    for name in dataset_names:
        rows = results[results["dataset"] == name]
        lines += [f"### {name}", "", markdown_table(_dataset_details(rows, methods), "method"), ""]
    versions = pd.DataFrame({"version": _versions()})
    lines += [
        "## Environment",
        "",
        markdown_table(versions, "package"),
        "",
        f"Platform: {platform.platform()}, {os.cpu_count()} CPU(s).",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _format_params(params):
    return ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in params.items())


def _dataset_table(datasets, results, dataset_names):
    rows = {}
    for dataset in datasets:
        if dataset.name not in dataset_names:
            continue
        folds = results.loc[results["dataset"] == dataset.name, "fold"]
        rows[dataset.name] = {
            "samples": dataset.y.size,
            "features": dataset.X.shape[1],
            "classes": dataset.class_names.size,
            "imbalance ratio": f"{dataset.imbalance_ratio:.1f}",
            "folds": int(folds.max()) + 1,
            "source": dataset.source,
            "notes": "; ".join(dataset.notes) or "",
        }
    return pd.DataFrame.from_dict(rows, orient="index")
