"""``report.md``, ``stats.json`` and the PNG figures of ``sklearn-elm benchmark``."""

from __future__ import annotations

import datetime
import json
import numbers
import os
import platform
import warnings

import numpy as np
import pandas as pd

from ._methods import INNER_FOLDS, METHOD_TABLE, grid_table
from ._results import package_versions
from ._stats import benchmark_statistics, plot_critical_difference

__all__ = ["dataset_scores", "failed_cells", "grid_edges", "markdown_table", "write_report"]

_METRIC_TITLES = {
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "g_mean": "G-mean",
    "roc_auc": "ROC AUC",
    "fit_time": "fit time (s)",
}
_SHOT_COLUMNS = {
    "many_shot_accuracy": "many-shot",
    "medium_shot_accuracy": "medium-shot",
    "few_shot_accuracy": "few-shot",
}
#: methods of the per-class accuracy plots
_PER_CLASS_METHODS = ("elm", "ldam", "ce", "smote")
_REFERENCE = "elm"
#: below this many datasets, Wilcoxon pairs dataset × split cells instead of datasets
_MIN_DATASETS_FOR_WILCOXON = 6
#: methods in the fold-score figure, and datasets per image of it
_N_LEADING = 5
_PANELS_PER_FIGURE = 30


def markdown_table(frame, index_name=None):
    """A DataFrame as a GitHub-flavoured markdown table (cells are written with ``str``).

    Parameters
    ----------
    frame : DataFrame
        The table.
    index_name : str, default=None
        Header of the index column; the index is left out when None.

    Returns
    -------
    table : str

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark import markdown_table
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


def _format_p(p):
    if p is None or np.isnan(p):
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def _number(value, digits=2):
    """A statistic of ``stats.json``, where None is NaN or an infinity (a perfect ranking)."""
    return "n/a (infinite or undefined)" if value is None else f"{value:.{digits}f}"


def _mean_std(mean, std):
    if np.isnan(mean):
        return "failed"
    return f"{mean:.3f} ± {std:.3f}" if not np.isnan(std) else f"{mean:.3f}"


def _select(results, tuned):
    """Default cells, or tuned cells where a method has them and default cells elsewhere."""
    default = results[~results["tuned"]]
    if not tuned:
        return default
    tuned_rows = results[results["tuned"]]
    untuned = default[~default["method"].isin(set(tuned_rows["method"]))]
    return pd.concat([tuned_rows, untuned], ignore_index=True)


def dataset_scores(results, metric, methods, dataset_names):
    """Mean over splits of ``metric``: rows datasets, columns methods (NaN if all failed).

    Parameters
    ----------
    results : DataFrame
        Rows of ``results.csv`` (one kind of cell: default or tuned).
    metric : str
        A score column.
    methods : list of str
        Columns, in this order.
    dataset_names : list of str
        Rows, in this order.

    Returns
    -------
    scores : DataFrame of shape (n_datasets, n_methods)
    """
    scores = results.pivot_table(
        index="dataset", columns="method", values=metric, aggfunc="mean", dropna=False
    )
    return scores.reindex(index=dataset_names, columns=methods)


def _summary(results, methods, complete_datasets, ranks, metric):
    """Mean rank over all datasets; mean scores over the datasets every method scored."""
    summary = pd.DataFrame(index=methods)
    summary["mean rank"] = pd.Series(ranks).reindex(methods).map("{:.2f}".format)
    columns = [metric] + [m for m in _METRIC_TITLES if m != metric]
    for column in columns:
        # mean of the per-dataset means, so that every dataset weighs the same; only over
        # complete datasets, or a method that failed on a hard dataset would look better
        means = dataset_scores(results, column, methods, complete_datasets).mean(axis=0)
        digits = 2 if column == "fit_time" else 3
        summary[_METRIC_TITLES[column]] = means.map(lambda v, d=digits: f"{v:.{d}f}")
    failed = results[results["error"] != ""].groupby("method").size()
    total = results.groupby("method").size()
    summary["failed cells"] = [f"{failed.get(m, 0)}/{total.get(m, 0)}" for m in methods]
    order = pd.Series(ranks).reindex(methods).sort_values(kind="stable").index
    return summary.loc[order]


def _score_matrix(scores):
    """Scores as text, the best method of each dataset in bold."""
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
    for metric, title in {**_METRIC_TITLES, **_SHOT_COLUMNS}.items():
        if metric in _SHOT_COLUMNS and results[metric].isna().all():
            continue
        mean, std = grouped[metric].mean(), grouped[metric].std()
        table[title] = [_mean_std(mean.get(m, np.nan), std.get(m, np.nan)) for m in methods]
    errors = results[results["error"] != ""].groupby("method").size()
    table["splits ok"] = [
        f"{grouped.size().get(m, 0) - errors.get(m, 0)}/{grouped.size().get(m, 0)}" for m in methods
    ]
    return table


def _statistics(results, metric, methods, dataset_names):
    """:func:`benchmark_statistics` of ``metric``, and the description of its Wilcoxon units."""
    scores = dataset_scores(results, metric, methods, dataset_names)
    paired, units = None, f"the {len(dataset_names)} datasets (mean over splits)"
    if len(dataset_names) < _MIN_DATASETS_FOR_WILCOXON:
        paired = results.pivot_table(
            index=["dataset", "repeat", "fold"], columns="method", values=metric
        )
        paired = paired.reindex(columns=methods).dropna(axis=0, how="all")
        units = (
            f"the {len(paired)} dataset × split cells (only {len(dataset_names)} datasets, "
            f"fewer than {_MIN_DATASETS_FOR_WILCOXON}; the cells of one dataset are not "
            "independent, so read these p-values as optimistic)"
        )
    reference = _REFERENCE if _REFERENCE in methods else methods[0]
    return scores, benchmark_statistics(scores, reference=reference, paired_scores=paired), units


def _statistics_lines(statistics, units, metric_title):
    friedman, nemenyi, wilcoxon = (
        statistics["friedman"],
        statistics["nemenyi"],
        statistics["wilcoxon"],
    )
    lines = []
    if friedman["reason"]:
        lines.append(f"Friedman test not run: {friedman['reason']}.")
    else:
        left_out = statistics["datasets_left_out"]
        lines.append(
            f"Friedman test of the {metric_title} ranks over the {friedman['n_datasets']} "
            f"datasets every method scored, {friedman['n_methods']} methods: "
            f"χ² = {_number(friedman['statistic'])} (df {friedman['df']}), "
            f"p = {_format_p(friedman['pvalue'])}; Iman–Davenport F = "
            f"{_number(friedman['iman_davenport_statistic'])} (df "
            f"{friedman['iman_davenport_df'][0]}, {friedman['iman_davenport_df'][1]}), "
            f"p = {_format_p(friedman['iman_davenport_pvalue'])}"
            + (
                f" (left out: {', '.join(f'{k} ({v})' for k, v in left_out.items())})"
                if left_out
                else ""
            )
            + "."
        )
    cd = nemenyi["critical_difference"]
    if nemenyi["run"]:
        lines.append(
            f"Iman–Davenport rejects at α = {nemenyi['alpha']}, so the Nemenyi post-hoc test "
            f"runs on the same {nemenyi['n_datasets']} datasets: critical difference "
            f"{cd:.2f} ranks (q = {nemenyi['q_alpha']:.3f}). Pairs further apart than it: "
            + (
                ", ".join(f"{a} > {b}" for a, b in nemenyi["significant_pairs"])
                if nemenyi["significant_pairs"]
                else "none"
            )
            + "."
        )
    else:
        lines.append(
            f"No Nemenyi post-hoc test: {nemenyi['reason']}"
            + (f" (its critical difference would be {cd:.2f} ranks)" if cd else "")
            + "."
        )
    if wilcoxon["rows"]:
        rows = pd.DataFrame(wilcoxon["rows"]).set_index("method")
        reference = wilcoxon["reference"]
        table = pd.DataFrame(
            {
                "pairs": rows["n_pairs"],
                f"{reference} wins / ties / losses": [
                    f"{r.wins} / {r.ties} / {r.losses}" for r in rows.itertuples()
                ],
                f"mean difference ({reference} − method)": rows["mean_difference"].map(
                    lambda v: "n/a" if v is None else f"{v:+.4f}"
                ),
                "p": rows["pvalue"].map(_format_p),
                "p (Holm)": rows["pvalue_holm"].map(_format_p),
                "significant (α = 0.05)": rows["significant"].map({True: "yes", False: "no"}),
            }
        )
        lines += [
            "",
            f"Two-sided Wilcoxon signed-rank tests of {metric_title}, `{reference}` against "
            f"each method, over {units}; p-values Holm-corrected over the {len(table)} "
            f"comparisons. With {wilcoxon['n_units']} pairs the smallest p-value the test can "
            f"reach is {_format_p(wilcoxon['min_pvalue'])}.",
            "",
            markdown_table(table, "method"),
        ]
    return lines


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def _plot_cd(statistics, title, path):
    nemenyi = statistics["nemenyi"]
    ranks = statistics["friedman"]["mean_ranks"] or statistics["mean_ranks"]
    cd = nemenyi["critical_difference"] if nemenyi["run"] else None
    ax = plot_critical_difference(ranks, cd, highlight=_REFERENCE, title=title)
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")


def _plot_fold_scores(results, metric, leading, dataset_names, path):
    """One panel per dataset: the split scores of the leading methods, box and points."""
    from matplotlib.figure import Figure  # matplotlib is imported only to draw

    n_columns = 5
    n_rows = -(-len(dataset_names) // n_columns)
    figure = Figure(figsize=(3.0 * n_columns, 2.3 * n_rows + 0.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(n_rows, n_columns, sharey=False)).ravel()
    rng = np.random.RandomState(0)
    for ax, dataset in zip(axes, dataset_names, strict=False):
        rows = results[results["dataset"] == dataset]
        values = [rows.loc[rows["method"] == m, metric].dropna().to_numpy() for m in leading]
        positions = np.arange(len(leading))
        ax.boxplot(values, positions=positions, widths=0.6, showfliers=False)
        for position, points, method in zip(positions, values, leading, strict=True):
            jitter = rng.uniform(-0.15, 0.15, size=points.size)
            color = "tab:red" if method == _REFERENCE else "tab:blue"
            ax.plot(position + jitter, points, "o", markersize=3, alpha=0.7, color=color)
        ax.set_xticks(positions, leading, rotation=45, ha="right", fontsize=7)
        ax.set_title(dataset, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[len(dataset_names) :]:
        ax.set_axis_off()
    figure.suptitle(f"{_METRIC_TITLES[metric]} of each split (leading methods by mean rank)")
    figure.savefig(path, dpi=100)


def _plot_per_class(per_class, dataset, path):
    from matplotlib.figure import Figure

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
    axes.set_xlabel("training samples of the class (mean over splits, log scale)")
    axes.set_ylabel("test accuracy of the class (mean over splits)")
    axes.set_title(f"{dataset}: per-class accuracy against class frequency")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=120)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _protocol_lines(protocol, datasets, metric_title):
    n_lt = sum(d.protocol == "long-tail" for d in datasets)
    folds, repeats = protocol["folds"], protocol["repeats"]
    network = ", ".join(
        f"{k}={tuple(v) if isinstance(v, list) else v!r}"
        for k, v in protocol["network_params"].items()
    )
    lines = [
        f"- **k-fold datasets** ({len(datasets) - n_lt}): RepeatedStratifiedKFold, {folds} folds "
        f"× {repeats} repeat(s), seed {protocol['seed']}; the same folds for every method "
        "(fewer folds where a dataset's smallest class is smaller, see its notes).",
        f"- **long-tailed datasets** ({n_lt}): {folds * repeats} repeats; each splits the "
        f"*source* once into a stratified training part and a test part of 1/{folds}, with "
        "its own seed, then only the training part is made long-tailed "
        "(`make_long_tailed`, exponential profile, head class = the smallest training class "
        "count, every class keeps at least one sample); the test part keeps the source's "
        "classes and proportions (balanced for a balanced source). Many-, medium- and "
        "few-shot accuracy (`shot_accuracy`: > 100, 20–100, < 20 training samples) are "
        "reported next to balanced accuracy.",
        "- Every method is an imbalanced-learn Pipeline: median imputation and "
        "standardisation fitted on the training part, then the sampler (sampler methods), "
        "then the classifier; resampling only ever touches training parts.",
        f"- Network methods share `ELMClassifier({network})` on `{protocol['device']}`; `elm` "
        "and `ldam` use deferred re-weighting from 80% of the epochs, `ce`, `focal`, `la` and "
        "the sampler methods none, `cb` class-balanced weights throughout. SMOTE-type "
        "samplers use k = min(5, n − 1) neighbours, n the smallest training class they "
        "interpolate, and oversample a class with a single training sample by duplication "
        "(each such adaptation is in the cell's note); ADASYN oversamples a class it cannot "
        "weight as SMOTE does.",
        (
            "- The untuned network cells of a dataset were trained together by the batched "
            "trainer (`--batched`, the default): the same networks as cell by cell, up to "
            "float32 rounding; a cell's fit time is its resampling plus its share of the "
            "batched training."
            if protocol["batched"]
            else "- Every cell was fitted on its own (`--no-batched`)."
        ),
        f"- Ranks, the Friedman test and the Wilcoxon tests use **{metric_title}** "
        "(`--metric`). The mean columns of the summary are means over datasets of the "
        "per-dataset means over splits.",
        f"- n_jobs = {protocol['n_jobs']}"
        + (", `--quick` (smoke run)" if protocol["quick"] else "")
        + ".",
    ]
    if protocol["tune"]:
        lines.append(
            f"- `--tune`: each method with a grid is also run tuned, its parameters chosen "
            f"on each training part by stratified {INNER_FOLDS}-fold cross-validation scored "
            f"by {metric_title} (network methods through `ELMClassifierCV`, the others "
            "through `GridSearchCV` around the whole pipeline), then refitted on the whole "
            "training part. The grids and the fits each spends per training part:"
        )
    return lines


def _is_numeric_grid(values):
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


def _value_label(value):
    return "None" if value is None else str(value)


def grid_edges(results):
    """How often each tuned method chose each end of its declared grid.

    Parameters
    ----------
    results : DataFrame
        Rows of ``results.csv``; the ``best_params`` (JSON) of the tuned cells that ran are
        read.

    Returns
    -------
    edges : dict
        ``{method: {parameter: entry}}`` for every method of :data:`METHOD_TABLE` with tuned
        cells. Each entry holds ``grid`` (the declared values) and ``cells`` (tuned cells
        that chose a value); for a numeric grid, ``lowest`` and ``highest``, the shares of
        those cells whose choice is at (or, for a neighbour grid clipped to a small
        training part, below) the lowest value and at the highest, and ``warning``: a
        sentence when one end holds more than half of the cells, else None (with two
        values, both are ends); for another grid (such as ``drw_start`` None or 0.8),
        ``shares`` of each value chosen, and no warning.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._report import grid_edges
    >>> cells = pd.DataFrame({"method": ["logreg-balanced"] * 4, "tuned": [True] * 4,
    ...                       "error": [""] * 4,
    ...                       "best_params": ['{"classify__C": 10.0}'] * 3
    ...                                      + ['{"classify__C": 0.1}']})
    >>> entry = grid_edges(cells)["logreg-balanced"]["C"]
    >>> entry["lowest"], entry["highest"]
    (0.25, 0.75)
    >>> print(entry["warning"])  # doctest: +NORMALIZE_WHITESPACE
    logreg-balanced chose C at the highest value of its grid (10.0) in 75% of 4 tuned cells:
    the best value may lie above the grid
    """
    ran = (results["error"] == "") & (results["best_params"] != "")
    tuned = results[results["tuned"].astype(bool) & ran]
    edges = {}
    for method, rows in tuned.groupby("method", sort=False):
        spec = METHOD_TABLE.get(method)
        if spec is None or not spec.grid:
            continue
        chosen = [json.loads(text) for text in rows["best_params"]]
        for name, values in spec.grid.items():
            # a pipeline's search names it step__name (sample__smote__k_neighbors)
            picks = [
                value
                for params in chosen
                for key, value in params.items()
                if key == name or key.endswith(f"__{name}")
            ]
            if not picks:
                continue
            entry = {"grid": list(values), "cells": len(picks)}
            if _is_numeric_grid(values) and _is_numeric_grid(picks):
                low, high = min(values), max(values)
                entry["lowest"] = sum(v <= low for v in picks) / len(picks)
                entry["highest"] = sum(v >= high for v in picks) / len(picks)
                entry["warning"] = None
                for end, value, share, side in (
                    ("lowest", low, entry["lowest"], "below"),
                    ("highest", high, entry["highest"], "above"),
                ):
                    if share > 0.5:
                        entry["warning"] = (
                            f"{method} chose {name} at the {end} value of its grid ({value}) "
                            f"in {share:.0%} of {len(picks)} tuned cells: the best value may "
                            f"lie {side} the grid"
                        )
            else:
                labels = [_value_label(v) for v in picks]
                order = dict.fromkeys([*map(_value_label, values), *labels])
                entry["shares"] = {
                    label: labels.count(label) / len(labels) for label in order
                }
            edges.setdefault(method, {})[name] = entry
    return edges


def _grid_edge_lines(edges):
    rows = []
    for method, parameters in edges.items():
        for name, entry in parameters.items():
            numeric = "lowest" in entry
            rows.append(
                {
                    "method": method,
                    "parameter": name,
                    "grid": ", ".join(map(_value_label, entry["grid"])),
                    "tuned cells": entry["cells"],
                    "at lowest": f"{entry['lowest']:.0%}" if numeric else "",
                    "at highest": f"{entry['highest']:.0%}" if numeric else "",
                    "choices": ""
                    if numeric
                    else ", ".join(f"{k}: {v:.0%}" for k, v in entry["shares"].items()),
                }
            )
    lines = [
        "### Grid edges of the tuned choices",
        "",
        "Share of the tuned cells whose chosen value is the lowest, and the highest, of the "
        "method's grid (a neighbour count clipped below the grid on a small training part "
        "counts as the lowest); non-numeric choices as shares of each value. An end chosen "
        "in more than half of the cells suggests widening the grid beyond it.",
        "",
        markdown_table(pd.DataFrame(rows).set_index("method"), "method"),
        "",
    ]
    warnings_ = [entry["warning"] for p in edges.values() for entry in p.values()
                 if entry.get("warning")]
    lines += [f"**Warning:** {message}." for message in warnings_]
    return lines + ([""] if warnings_ else [])


def failed_cells(results):
    """Failed cells (an error instead of scores), counted overall and per method.

    Parameters
    ----------
    results : DataFrame
        Rows of ``results.csv``.

    Returns
    -------
    failed : dict
        ``count`` failed of ``cells``, and ``by_method``: ``{method: {"default": n,
        "tuned": n}}`` for the methods with a failed cell.
    """
    failures = results[results["error"] != ""]
    by_method = {}
    for (method, tuned), rows in failures.groupby(["method", "tuned"], sort=True):
        counts = by_method.setdefault(str(method), {"default": 0, "tuned": 0})
        counts["tuned" if tuned else "default"] = len(rows)
    return {"count": len(failures), "cells": len(results), "by_method": by_method}


def _grid_lines():
    table = pd.DataFrame(
        grid_table(), columns=["method", "family", "grid", "inner fits per training part"]
    ).set_index("method")
    return [markdown_table(table, "method")]


def _dataset_table(datasets, results, dataset_names):
    rows = {}
    for dataset in datasets:
        if dataset.name not in dataset_names:
            continue
        cells = results[results["dataset"] == dataset.name]
        rows[dataset.name] = {
            "samples": dataset.y.size,
            "features": dataset.X.shape[1],
            "classes": dataset.class_names.size,
            "imbalance ratio": f"{dataset.imbalance_ratio:.1f}",
            "protocol": dataset.protocol,
            "splits": cells[["repeat", "fold"]].drop_duplicates().shape[0],
            "source": dataset.source,
            "notes": "; ".join(dataset.notes) or "",
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _shot_table(results, methods, lt_names):
    rows = results[results["dataset"].isin(lt_names)]
    table = pd.DataFrame(index=methods)
    for column, title in {"balanced_accuracy": "balanced accuracy", **_SHOT_COLUMNS}.items():
        # per-dataset means first, so that each long-tailed dataset weighs the same
        means = dataset_scores(rows, column, methods, lt_names).mean(axis=0)
        table[title] = means.map(lambda v: "n/a" if np.isnan(v) else f"{v:.3f}")
    return table


def write_report(
    results,
    per_class,
    datasets,
    methods,
    out_dir,
    *,
    command_line,
    protocol,
    wall_time,
    skipped=(),
):
    """Write ``report.md``, ``stats.json`` and the PNG figures.

    Parameters
    ----------
    results : DataFrame
        Rows of ``results.csv`` for ``datasets`` x ``methods``.
    per_class : DataFrame
        Rows of ``per_class.csv``.
    datasets : list of BenchmarkDataset
        The datasets of the run.
    methods : list of str
        Names of the methods of the run.
    out_dir : Path
        The results folder.
    command_line : str
        The command, written at the top of the report.
    protocol : dict
        ``folds``, ``repeats``, ``seed``, ``network_params``, ``device``, ``n_jobs``,
        ``quick``, ``tune``, ``metric`` and ``batched``.
    wall_time : float
        Seconds taken by this invocation.
    skipped : sequence of str, default=()
        Files of ``--data-dir`` that could not be read, with the reason.

    Returns
    -------
    path : Path
        The report.
    """
    metric = protocol["metric"]
    metric_title = _METRIC_TITLES[metric]
    methods = [m for m in methods if m in set(results["method"])]
    dataset_names = [d.name for d in datasets if d.name in set(results["dataset"])]
    default = _select(results, tuned=False)
    scores, statistics, units = _statistics(default, metric, methods, dataset_names)
    stats_json = {"metric": metric, "default": statistics, "failed_cells": failed_cells(results)}
    tuned, edges = None, {}
    if protocol["tune"] and results["tuned"].any():
        tuned = _select(results, tuned=True)
        _, tuned_statistics, tuned_units = _statistics(tuned, metric, methods, dataset_names)
        stats_json["tuned"] = tuned_statistics
        edges = grid_edges(results)
        stats_json["grid_edges"] = edges
        for parameters in edges.values():
            for entry in parameters.values():
                if entry.get("warning"):
                    warnings.warn(entry["warning"], UserWarning, stacklevel=2)
    (out_dir / "stats.json").write_text(json.dumps(stats_json, indent=2, allow_nan=False) + "\n")

    complete = statistics["datasets_used"]
    incomplete = [name for name in dataset_names if name not in complete]
    ranks = statistics["mean_ranks"]
    figures = []
    if len(methods) >= 2:
        _plot_cd(statistics, f"Mean rank of {metric_title}", out_dir / "critical_difference.png")
        figures.append(("Critical difference diagram", "critical_difference.png"))
        if tuned is not None:
            _plot_cd(
                tuned_statistics,
                f"Mean rank of {metric_title}, tuned",
                out_dir / "critical_difference_tuned.png",
            )
            figures.append(("Critical difference diagram, tuned", "critical_difference_tuned.png"))
        leading = [m for m in pd.Series(ranks).sort_values(kind="stable").index][:_N_LEADING]
        if _REFERENCE in methods and _REFERENCE not in leading:
            leading.append(_REFERENCE)
        for page, start in enumerate(range(0, len(dataset_names), _PANELS_PER_FIGURE)):
            name = "fold_scores.png" if page == 0 else f"fold_scores_{page + 1}.png"
            chunk = dataset_names[start : start + _PANELS_PER_FIGURE]
            _plot_fold_scores(default, metric, leading, chunk, out_dir / name)
            figures.append((f"Split scores per dataset ({page + 1})", name))
    for dataset in datasets:
        rows = per_class[
            (per_class["dataset"] == dataset.name)
            & ~per_class["tuned"]
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
        f"included). {len(results)} cells; total fit time in them: "
        f"{results['fit_time'].sum():.0f} s. Every statistic below is in `stats.json`.",
        "",
        "## Protocol",
        "",
        *_protocol_lines(protocol, datasets, metric_title),
        "",
    ]
    if protocol["tune"]:
        lines += [*_grid_lines(), ""]
    lines += [
        "## Datasets",
        "",
        markdown_table(_dataset_table(datasets, results, dataset_names), "dataset"),
        "",
    ]
    not_run = [d for d in datasets if d.name not in dataset_names]
    if not_run:
        lines += ["Datasets without any result (not in the statistics):", ""]
        lines += [f"- {d.name}: {'; '.join(d.notes) or 'no cell finished'}" for d in not_run]
        lines.append("")
    if skipped:
        lines += ["Files skipped (unreadable):", ""]
        lines += [f"- {message}" for message in skipped]
        lines.append("")
    lines += [
        "## Summary",
        "",
        f"Mean rank of {metric_title} (1 = best) over all {len(dataset_names)} datasets, a "
        "method ranked last where it failed on every split; mean scores over the "
        f"{len(complete)} dataset(s) that every method scored"
        + (f" (left out: {', '.join(incomplete)})" if incomplete else "")
        + ".",
        "",
        markdown_table(_summary(default, methods, complete, ranks, metric), "method"),
        "",
    ]
    if tuned is not None:
        # mean scores over the datasets every method scored both ways, so that a method that
        # failed on a hard dataset does not look better
        both = [n for n in complete if n in set(tuned_statistics["datasets_used"])]
        side = pd.DataFrame(
            {
                "default: mean rank": pd.Series(ranks),
                "tuned: mean rank": pd.Series(tuned_statistics["mean_ranks"]),
                f"default: {metric_title}": scores.loc[both].mean(axis=0),
                f"tuned: {metric_title}": dataset_scores(tuned, metric, methods, both).mean(axis=0),
            }
        ).reindex(methods)
        side["inner fits"] = [
            METHOD_TABLE[m].n_candidates * INNER_FOLDS + 1
            if m in METHOD_TABLE and METHOD_TABLE[m].grid
            else "not tuned"
            for m in side.index
        ]
        side = side.sort_values("tuned: mean rank", kind="stable")
        for column in side.columns[:4]:
            side[column] = side[column].map("{:.3f}".format)
        lines += [
            "### Tuned and default, side by side",
            "",
            f"Mean ranks of each ranking (among methods of the same kind: all default, or all "
            f"tuned, a method without grid taking its default cells in both; over all "
            f"{len(dataset_names)} datasets) and mean {metric_title} over the {len(both)} "
            "dataset(s) every method scored, default and tuned.",
            "",
            markdown_table(side, "method"),
            "",
        ]
        if edges:
            lines += _grid_edge_lines(edges)
    lt_names = [d.name for d in datasets if d.protocol == "long-tail" and d.name in dataset_names]
    if lt_names:
        lines += [
            "### Long-tailed datasets: many-, medium- and few-shot accuracy",
            "",
            f"Means over the {len(lt_names)} long-tailed datasets of the per-dataset means "
            "over splits; a group is n/a where no dataset has a class in it.",
            "",
            markdown_table(_shot_table(default, methods, lt_names), "method"),
            "",
        ]
    lines += ["## Statistical tests", "", *_statistics_lines(statistics, units, metric_title), ""]
    if tuned is not None:
        lines += [
            "### Tuned methods",
            "",
            *_statistics_lines(tuned_statistics, tuned_units, metric_title),
            "",
        ]
    lines += [
        f"## {metric_title[0].upper()}{metric_title[1:]} per dataset",
        "",
        "Mean over splits; the best of each dataset in bold.",
        "",
        markdown_table(_score_matrix(scores).T, "method"),
        "",
    ]
    failures = results[results["error"] != ""]
    if not failures.empty:
        grouped = failures.groupby(["dataset", "method", "tuned", "error"]).size().rename("cells")
        lines += [
            "## Failed cells",
            "",
            f"{len(failures)} of {len(results)} cells failed (`failed_cells` in `stats.json`); "
            "a failed cell has no scores and ranks its method last on its dataset's split.",
            "",
            markdown_table(grouped.reset_index().set_index("dataset"), "dataset"),
            "",
        ]
    if figures:
        lines += ["## Figures", ""]
        for title, name in figures:
            lines += [f"![{title}]({name})", ""]
    lines += ["## Per-dataset details (mean ± std over splits)", ""]
    for name in dataset_names:
        rows = default[default["dataset"] == name]
        lines += [f"### {name}", "", markdown_table(_dataset_details(rows, methods), "method"), ""]
    versions = pd.DataFrame({"version": package_versions()})
    lines += [
        "## Environment",
        "",
        markdown_table(versions, "package"),
        "",
        f"Platform: {platform.platform()}, {os.cpu_count()} CPU(s).",
        "",
    ]
    recorded = out_dir / "protocol.json"
    processors = json.loads(recorded.read_text()).get("processors") if recorded.exists() else None
    if processors:
        lines += [
            "Processors of the invocations that wrote to this folder (float32 training rounds "
            "differently on different processors, so a few cells may change from one to "
            "another): " + "; ".join(processors) + ".",
            "",
        ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
