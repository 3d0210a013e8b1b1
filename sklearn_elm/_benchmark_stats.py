"""Statistics of the benchmark: per-dataset ranks, Friedman, Wilcoxon with Holm, Nemenyi CD.

Private helpers of :mod:`sklearn_elm.benchmark`; they follow Demšar (2006), "Statistical
comparisons of classifiers over multiple data sets", JMLR 7.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "friedman_test",
    "holm_adjust",
    "mean_ranks",
    "nemenyi_critical_difference",
    "rank_table",
    "wilcoxon_against",
]


def holm_adjust(p_values):
    """Holm's step-down adjustment of p-values for multiple comparisons.

    The ``i``-th smallest of ``m`` p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    rejecting the hypotheses whose adjusted p-value is below ``alpha`` controls the
    family-wise error rate at ``alpha``. NaN p-values stay NaN and do not count in ``m``.

    Parameters
    ----------
    p_values : array-like of shape (m,)
        Raw p-values.

    Returns
    -------
    adjusted : ndarray of shape (m,)
        Holm-adjusted p-values, in the order of ``p_values``.

    Examples
    --------
    >>> from sklearn_elm._benchmark_stats import holm_adjust
    >>> holm_adjust([0.01, 0.04, 0.03, float("nan")])
    array([0.03, 0.06, 0.06,  nan])
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p_values, np.nan)
    finite = np.flatnonzero(~np.isnan(p_values))
    order = finite[np.argsort(p_values[finite], kind="stable")]
    n_tests = order.size
    # step-down: multiply the i-th smallest by (m - i), then keep the sequence non-decreasing
    scaled = (n_tests - np.arange(n_tests)) * p_values[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def rank_table(scores):
    """Rank the methods on every dataset: 1 is the best (highest) score, ties share the mean.

    A method without a score on a dataset (it failed on every fold) is ranked last there.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)
        Mean score of each method (column) on each dataset (row); higher is better.

    Returns
    -------
    ranks : DataFrame of shape (n_datasets, n_methods)

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm._benchmark_stats import rank_table
    >>> scores = pd.DataFrame({"a": [0.9, 0.7], "b": [0.8, 0.7], "c": [0.7, None]})
    >>> rank_table(scores)
         a    b    c
    0  1.0  2.0  3.0
    1  1.5  1.5  3.0
    """
    return scores.rank(axis=1, ascending=False, method="average", na_option="bottom")


def mean_ranks(scores):
    """Mean over datasets of :func:`rank_table`, best (lowest) first.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)

    Returns
    -------
    ranks : Series of shape (n_methods,)
    """
    return rank_table(scores).mean(axis=0).sort_values()


def friedman_test(scores):
    """Friedman test that all methods perform alike, over the datasets scored by every method.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)
        Mean score of each method on each dataset; datasets with a missing score are left out.

    Returns
    -------
    result : dict
        ``statistic``, ``pvalue``, ``n_datasets``, ``n_methods``, and ``reason`` (empty, or why
        the test could not be run, in which case statistic and p-value are NaN).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm._benchmark_stats import friedman_test
    >>> scores = pd.DataFrame({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.7, 0.6], "c": [0.7, 0.6, 0.5]})
    >>> result = friedman_test(scores)
    >>> round(result["statistic"], 3), round(result["pvalue"], 4), result["n_datasets"]
    (6.0, 0.0498, 3)
    """
    complete = scores.dropna(axis=0, how="any")
    result = {
        "statistic": np.nan,
        "pvalue": np.nan,
        "n_datasets": len(complete),
        "n_methods": complete.shape[1],
        "reason": "",
    }
    if complete.shape[1] < 3:
        result["reason"] = "needs at least 3 methods"
    elif len(complete) < 2:
        result["reason"] = "needs at least 2 datasets scored by every method"
    elif np.all(complete.to_numpy() == complete.to_numpy()[:, :1]):
        result["reason"] = "every method has the same score on every dataset"
    else:
        statistic, pvalue = stats.friedmanchisquare(*(complete[c] for c in complete.columns))
        result.update(statistic=float(statistic), pvalue=float(pvalue))
    return result


def nemenyi_critical_difference(n_methods, n_datasets, alpha=0.05):
    """Critical difference of mean ranks for the Nemenyi post-hoc test (Demšar, 2006).

    Two methods whose mean ranks differ by more than
    ``q_alpha * sqrt(k (k + 1) / (6 N))`` perform significantly differently, where ``q_alpha``
    is the studentized range quantile divided by ``sqrt(2)``.

    Parameters
    ----------
    n_methods : int
        Number of methods ``k``, at least 2.
    n_datasets : int
        Number of datasets ``N``, at least 1.
    alpha : float, default=0.05

    Returns
    -------
    cd : float

    Examples
    --------
    >>> from sklearn_elm._benchmark_stats import nemenyi_critical_difference
    >>> round(nemenyi_critical_difference(4, 14), 3)  # Demsar's q_0.05 = 2.569 for k = 4
    1.254
    """
    q_alpha = stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / np.sqrt(2)
    return float(q_alpha * np.sqrt(n_methods * (n_methods + 1) / (6.0 * n_datasets)))


def wilcoxon_against(paired_scores, reference, alpha=0.05):
    """Two-sided Wilcoxon signed-rank tests of one method against each other, Holm-corrected.

    Parameters
    ----------
    paired_scores : DataFrame of shape (n_pairs, n_methods)
        Scores of every method on the same units (datasets, or dataset × fold cells); rows with
        a missing score are left out of the comparisons that involve it.
    reference : str
        Column of the method compared with all others.
    alpha : float, default=0.05
        Level of the Holm-adjusted decision.

    Returns
    -------
    table : DataFrame
        One row per other method: ``n_pairs``, ``wins``, ``ties``, ``losses`` (of the
        reference), ``mean_difference`` (reference minus method), ``statistic``, ``pvalue``,
        ``pvalue_holm`` and ``significant``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm._benchmark_stats import wilcoxon_against
    >>> scores = pd.DataFrame({"elm": [0.9, 0.8, 0.7, 0.6, 0.9, 0.8],
    ...                        "ce": [0.8, 0.7, 0.6, 0.5, 0.8, 0.7]})
    >>> wilcoxon_against(scores, "elm")[["wins", "losses", "pvalue", "pvalue_holm"]]
        wins  losses   pvalue  pvalue_holm
    ce     6       0  0.03125      0.03125
    """
    rows = {}
    for method in paired_scores.columns.drop(reference):
        pair = paired_scores[[reference, method]].dropna()
        difference = pair[reference] - pair[method]
        row = {
            "n_pairs": len(pair),
            "wins": int((difference > 0).sum()),
            "ties": int((difference == 0).sum()),
            "losses": int((difference < 0).sum()),
            "mean_difference": float(difference.mean()) if len(pair) else np.nan,
            "statistic": np.nan,
            "pvalue": np.nan,
        }
        if len(pair) and not np.allclose(difference, 0.0):
            test = stats.wilcoxon(pair[reference], pair[method], alternative="two-sided")
            row.update(statistic=float(test.statistic), pvalue=float(test.pvalue))
        elif len(pair):  # identical scores everywhere: no evidence of any difference
            row["pvalue"] = 1.0
        rows[method] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    if table.empty:
        return table
    table["pvalue_holm"] = holm_adjust(table["pvalue"])
    table["significant"] = table["pvalue_holm"] < alpha
    return table
