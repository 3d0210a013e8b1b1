"""Statistics of the benchmark: ranks, Friedman / Iman–Davenport, Nemenyi, Wilcoxon with Holm.

Private helpers of :mod:`sklearn_elm.benchmark`; they follow Demšar (2006), "Statistical
comparisons of classifiers over multiple data sets", JMLR 7, 1–30.

Conventions used throughout:

- ``scores`` is a DataFrame of shape (n_datasets, n_methods), one row per dataset and one
  column per method, holding a score where **higher is better**; NaN means the method failed on
  that dataset.
- Ranks: 1 is the best; tied methods share the mean of the ranks they span; a failed method
  ranks last, and failed methods of one dataset share the mean of the last ranks.
- The Friedman / Iman–Davenport tests and the Nemenyi post-hoc test use the same datasets: those
  on which **every** method has a score (a rank forced to "last" is not an observed score, so
  it would bias a test on ranks). The datasets left out, and why, are returned with the tests.
- The Nemenyi post-hoc test is only run when the Iman–Davenport test rejects at ``alpha``
  (Demšar recommends it over Friedman's chi-square, which is conservative).

The module depends on numpy, pandas and scipy only (matplotlib lazily, for the plot), so that
it can move with the benchmark.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "benchmark_statistics",
    "complete_datasets",
    "friedman_test",
    "holm_adjust",
    "iman_davenport",
    "mean_ranks",
    "nemenyi_cliques",
    "nemenyi_critical_difference",
    "nemenyi_q",
    "plot_critical_difference",
    "rank_table",
    "wilcoxon_against",
    "wilcoxon_min_pvalue",
]


# --------------------------------------------------------------------------------------------
# multiple comparisons
# --------------------------------------------------------------------------------------------
def holm_adjust(p_values):
    """Holm's step-down adjustment of p-values for multiple comparisons.

    The ``i``-th smallest of ``m`` p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    rejecting the hypotheses whose adjusted p-value is below ``alpha`` controls the
    family-wise error rate at ``alpha``. NaN p-values stay NaN and do not count in ``m``.

    Parameters
    ----------
    p_values : array-like of shape (m,)
        Raw p-values, in any order.

    Returns
    -------
    adjusted : ndarray of shape (m,)
        Holm-adjusted p-values, in the order of ``p_values``; non-decreasing in the raw
        p-values.

    Examples
    --------
    >>> from sklearn_elm.benchmark._stats import holm_adjust
    >>> holm_adjust([0.01, 0.04, 0.03, float("nan")])
    array([0.03, 0.06, 0.06,  nan])
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p_values, np.nan)
    finite = np.flatnonzero(~np.isnan(p_values))
    order = finite[np.argsort(p_values[finite], kind="stable")]
    n_tests = order.size
    # the j-th smallest (0-based) is multiplied by m - j ...
    scaled = (n_tests - np.arange(n_tests)) * p_values[order]
    # ... and the running maximum makes the procedure step-down: a hypothesis is only rejected
    # when every hypothesis with a smaller p-value is rejected too
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


# --------------------------------------------------------------------------------------------
# ranks
# --------------------------------------------------------------------------------------------
def rank_table(scores):
    """Rank the methods on every dataset: 1 is the best (highest) score, ties share the mean.

    A method without a score on a dataset (NaN: it failed there) ranks last; several failed
    methods share the mean of the last ranks.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)
        Score of each method (column) on each dataset (row); higher is better.

    Returns
    -------
    ranks : DataFrame of shape (n_datasets, n_methods)
        Rank of each method on each dataset, from 1 to ``n_methods``; every row sums to
        ``n_methods (n_methods + 1) / 2``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._stats import rank_table
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
        Score of each method (column) on each dataset (row); higher is better, NaN for a
        failed method (ranked last on that dataset).

    Returns
    -------
    ranks : Series of shape (n_methods,)
        Mean rank of each method, sorted ascending (ties kept in column order).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._stats import mean_ranks
    >>> mean_ranks(pd.DataFrame({"a": [0.9, 0.7], "b": [0.8, 0.8], "c": [0.7, None]}))
    a    1.5
    b    1.5
    c    3.0
    dtype: float64
    """
    return rank_table(scores).mean(axis=0).sort_values(kind="stable")


def complete_datasets(scores):
    """Split the datasets into those scored by every method and the others.

    This is the rule of the Friedman, Iman–Davenport and Nemenyi tests: a dataset on which
    some method failed is left out of all three.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)
        Score of each method (column) on each dataset (row), NaN where a method failed.

    Returns
    -------
    used : list
        Labels of the datasets where every method has a score, in row order.
    left_out : dict
        ``{dataset: reason}`` for the other datasets, the reason naming the methods without a
        score.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._stats import complete_datasets
    >>> scores = pd.DataFrame({"a": [0.9, None], "b": [0.8, 0.7]}, index=["iris", "wine"])
    >>> complete_datasets(scores)
    (['iris'], {'wine': 'no score for: a'})
    """
    missing = scores.isna()
    used = [label for label, row in missing.iterrows() if not row.any()]
    left_out = {
        label: "no score for: " + ", ".join(str(m) for m in row.index[row])
        for label, row in missing.iterrows()
        if row.any()
    }
    return used, left_out


# --------------------------------------------------------------------------------------------
# Friedman and Iman–Davenport
# --------------------------------------------------------------------------------------------
def iman_davenport(chi2, n_methods, n_datasets):
    """Iman–Davenport's F statistic from Friedman's chi-square, and its p-value.

    ``F = (N - 1) chi2 / (N (k - 1) - chi2)``, distributed as F with ``k - 1`` and
    ``(k - 1)(N - 1)`` degrees of freedom under the null hypothesis (Demšar, 2006, Sec. 3.2.2).

    Parameters
    ----------
    chi2 : float
        Friedman's chi-square statistic.
    n_methods : int
        Number of methods ``k``, at least 2.
    n_datasets : int
        Number of datasets ``N``, at least 2.

    Returns
    -------
    statistic : float
        ``F``; infinite when ``chi2`` reaches its maximum ``N (k - 1)`` (every dataset ranks
        the methods the same way).
    pvalue : float
        Upper tail of the F distribution at ``statistic`` (0 when it is infinite).

    Examples
    --------
    Demšar's example, 4 methods on 14 datasets with chi-square 9.28:

    >>> from sklearn_elm.benchmark._stats import iman_davenport
    >>> statistic, pvalue = iman_davenport(9.28, 4, 14)
    >>> round(statistic, 2), round(pvalue, 3)
    (3.69, 0.02)
    """
    k, n = int(n_methods), int(n_datasets)
    denominator = n * (k - 1) - chi2
    if denominator <= 0:  # perfect agreement of the rankings: the statistic diverges
        return math.inf, 0.0
    statistic = (n - 1) * chi2 / denominator
    return float(statistic), float(stats.f.sf(statistic, k - 1, (k - 1) * (n - 1)))


def _friedman_chi2(complete, tie_correction):
    """Friedman's chi-square over a table without NaN (Demšar's formula from mean ranks)."""
    n, k = complete.shape
    average = rank_table(complete).to_numpy().mean(axis=0)
    chi2 = 12.0 * n / (k * (k + 1)) * (np.sum(average**2) - k * (k + 1) ** 2 / 4.0)
    if tie_correction:
        # the variance of the ranks of a dataset shrinks with ties; dividing by
        # 1 - sum(t^3 - t) / (N k (k^2 - 1)) restores it (as scipy.stats.friedmanchisquare)
        ties = sum(
            float(np.sum(counts**3 - counts))
            for counts in (np.unique(row, return_counts=True)[1] for row in complete.to_numpy())
        )
        chi2 /= 1.0 - ties / (n * k * (k * k - 1))
    return float(chi2)


def friedman_test(scores, alpha=0.05, *, tie_correction=True):
    """Friedman and Iman–Davenport tests that all methods perform alike.

    Only the datasets scored by every method enter the tests (see
    :func:`complete_datasets`). The chi-square statistic is Demšar's
    ``12 N / (k (k + 1)) [sum_j R_j^2 - k (k + 1)^2 / 4]`` over the mean ranks ``R_j``,
    divided by the tie correction of :func:`scipy.stats.friedmanchisquare` unless
    ``tie_correction`` is False (then it is Demšar's formula as printed, which ignores ties).
    The decision ``rejected`` uses Iman–Davenport's p-value.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)
        Score of each method (column) on each dataset (row); higher is better, NaN for a
        failed method.
    alpha : float, default=0.05
        Level of the decision ``rejected``.
    tie_correction : bool, default=True
        Whether to correct the chi-square statistic for tied scores.

    Returns
    -------
    result : dict
        - ``statistic``, ``pvalue``, ``df``: Friedman's chi-square, its p-value and degrees of
          freedom ``k - 1``;
        - ``iman_davenport_statistic``, ``iman_davenport_pvalue``, ``iman_davenport_df``
          (``[k - 1, (k - 1)(N - 1)]``);
        - ``rejected``: Iman–Davenport's p-value is below ``alpha`` (False when not run);
        - ``alpha``, ``tie_correction``;
        - ``n_datasets``, ``n_methods``: ``N`` and ``k`` of the tests;
        - ``mean_ranks``: ``{method: mean rank}`` over the datasets used, best first;
        - ``datasets_used`` (list) and ``datasets_left_out`` (``{dataset: reason}``);
        - ``reason``: empty, or why the tests could not be run (statistics are then NaN).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._stats import friedman_test
    >>> scores = pd.DataFrame({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.7, 0.6], "c": [0.7, 0.6, 0.5]})
    >>> result = friedman_test(scores)
    >>> round(result["statistic"], 3), round(result["pvalue"], 4), result["n_datasets"]
    (6.0, 0.0498, 3)
    >>> result["iman_davenport_statistic"], result["rejected"]
    (inf, True)
    """
    used, left_out = complete_datasets(scores)
    complete = scores.loc[used]
    n, k = complete.shape
    result = {
        "statistic": np.nan,
        "pvalue": np.nan,
        "df": k - 1,
        "iman_davenport_statistic": np.nan,
        "iman_davenport_pvalue": np.nan,
        "iman_davenport_df": [k - 1, (k - 1) * (n - 1)],
        "rejected": False,
        "alpha": float(alpha),
        "tie_correction": bool(tie_correction),
        "n_datasets": n,
        "n_methods": k,
        "mean_ranks": {m: float(r) for m, r in mean_ranks(complete).items()} if n else {},
        "datasets_used": list(used),
        "datasets_left_out": left_out,
        "reason": "",
    }
    if k < 3:
        # scipy refuses k = 2 too; with two methods the Wilcoxon test is the one to read
        result["reason"] = "needs at least 3 methods"
    elif n < 2:
        result["reason"] = "needs at least 2 datasets scored by every method"
    elif np.all(complete.to_numpy() == complete.to_numpy()[:, :1]):
        # every rank is tied: the tie-corrected statistic is 0 / 0
        result["reason"] = "every method has the same score on every dataset"
    else:
        chi2 = _friedman_chi2(complete, tie_correction)
        f_statistic, f_pvalue = iman_davenport(chi2, k, n)
        result.update(
            statistic=chi2,
            pvalue=float(stats.chi2.sf(chi2, k - 1)),
            iman_davenport_statistic=f_statistic,
            iman_davenport_pvalue=f_pvalue,
            rejected=bool(f_pvalue < alpha),
        )
    return result


# --------------------------------------------------------------------------------------------
# Nemenyi
# --------------------------------------------------------------------------------------------
def nemenyi_q(n_methods, alpha=0.05):
    """Critical value ``q_alpha`` of the Nemenyi test: the studentized range quantile / sqrt(2).

    ``scipy.stats.studentized_range.ppf(1 - alpha, k, inf) / sqrt(2)``; it reproduces Demšar
    (2006), Table 5(a), to the three decimals printed there (1.960, 2.343, 2.569, ... for
    ``alpha = 0.05`` and ``k = 2, 3, 4, ...``).

    Parameters
    ----------
    n_methods : int
        Number of methods ``k``, at least 2.
    alpha : float, default=0.05
        Significance level, in (0, 1).

    Returns
    -------
    q_alpha : float
        The critical value.

    Examples
    --------
    >>> from sklearn_elm.benchmark._stats import nemenyi_q
    >>> round(nemenyi_q(4), 3), round(nemenyi_q(10, alpha=0.10), 3)
    (2.569, 2.92)
    """
    if n_methods < 2:
        raise ValueError(f"n_methods must be at least 2, got {n_methods}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}.")
    return float(stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / np.sqrt(2))


def nemenyi_critical_difference(n_methods, n_datasets, alpha=0.05):
    """Critical difference of mean ranks for the Nemenyi post-hoc test (Demšar, 2006).

    Two methods whose mean ranks differ by more than
    ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` perform significantly differently, where
    ``q_alpha`` is :func:`nemenyi_q`. ``N`` must be the number of datasets the mean ranks
    were computed over (those of the Friedman test).

    Parameters
    ----------
    n_methods : int
        Number of methods ``k``, at least 2.
    n_datasets : int
        Number of datasets ``N``, at least 1.
    alpha : float, default=0.05
        Significance level, in (0, 1).

    Returns
    -------
    cd : float
        The critical difference, in units of mean rank.

    Examples
    --------
    Demšar's example, 4 methods on 14 datasets:

    >>> from sklearn_elm.benchmark._stats import nemenyi_critical_difference
    >>> round(nemenyi_critical_difference(4, 14), 2)
    1.25
    """
    if n_datasets < 1:
        raise ValueError(f"n_datasets must be at least 1, got {n_datasets}.")
    q_alpha = nemenyi_q(n_methods, alpha)
    return float(q_alpha * np.sqrt(n_methods * (n_methods + 1) / (6.0 * n_datasets)))


def nemenyi_cliques(mean_ranks, critical_difference):
    """Maximal groups of methods not significantly different by the Nemenyi test.

    A group is a run of methods, in rank order, whose mean ranks span at most
    ``critical_difference``; only maximal groups of at least two methods are returned (none is
    contained in another). Groups may overlap. These are the thick bars of the critical
    difference diagram.

    Parameters
    ----------
    mean_ranks : Series or dict
        Mean rank of each method, in any order.
    critical_difference : float
        Nemenyi critical difference (:func:`nemenyi_critical_difference`).

    Returns
    -------
    cliques : list of list
        Each group as its method labels, best first; groups ordered by their best method.

    Examples
    --------
    >>> from sklearn_elm.benchmark._stats import nemenyi_cliques
    >>> nemenyi_cliques({"a": 1.0, "b": 1.8, "c": 2.5, "d": 3.2}, 1.5)
    [['a', 'b', 'c'], ['b', 'c', 'd']]
    """
    ranks = pd.Series(mean_ranks, dtype=np.float64).sort_values(kind="stable")
    values = ranks.to_numpy()
    cliques, last_end = [], 0
    for start in range(values.size):
        # last method within the critical difference of this one (ranks are sorted)
        end = int(np.searchsorted(values, values[start] + critical_difference, side="right"))
        # a group ending where the previous one ended is contained in it
        if end - start >= 2 and end > last_end:
            cliques.append(list(ranks.index[start:end]))
        last_end = max(last_end, end)
    return cliques


# --------------------------------------------------------------------------------------------
# Wilcoxon
# --------------------------------------------------------------------------------------------
def wilcoxon_min_pvalue(n_pairs):
    """Smallest two-sided p-value the Wilcoxon signed-rank test can reach with ``n_pairs`` pairs.

    Computed by :func:`scipy.stats.wilcoxon` on a vector of positive, distinct differences, so
    it follows scipy's choice of method: the exact distribution (``2 / 2**n_pairs``) up to 50
    pairs, the normal approximation beyond. With 5 pairs or fewer it is above 0.05: no result
    can be significant at that level.

    Parameters
    ----------
    n_pairs : int
        Number of paired observations (datasets) without ties or zero differences.

    Returns
    -------
    pvalue : float
        The smallest reachable two-sided p-value; NaN when ``n_pairs`` is 0.

    Examples
    --------
    >>> from sklearn_elm.benchmark._stats import wilcoxon_min_pvalue
    >>> wilcoxon_min_pvalue(5), wilcoxon_min_pvalue(6)
    (0.0625, 0.03125)
    """
    n_pairs = int(n_pairs)
    if n_pairs < 1:
        return np.nan
    # every difference positive and of a distinct size: the most extreme sign pattern
    perfect = np.arange(1.0, n_pairs + 1.0)
    return float(stats.wilcoxon(perfect, alternative="two-sided").pvalue)


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
        reference), ``mean_difference`` (reference minus method), ``statistic``, ``pvalue``
        (scipy's default: exact without ties up to 50 pairs, zero differences dropped),
        ``min_pvalue`` (:func:`wilcoxon_min_pvalue` of ``n_pairs``), ``pvalue_holm`` (Holm
        over the rows) and ``significant`` (``pvalue_holm < alpha``).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._stats import wilcoxon_against
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
            "min_pvalue": wilcoxon_min_pvalue(len(pair)),
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


# --------------------------------------------------------------------------------------------
# everything, for stats.json
# --------------------------------------------------------------------------------------------
def _jsonable(value):
    """Plain Python types for ``json.dumps(..., allow_nan=False)``: NaN and ±inf become None."""
    if isinstance(value, pd.Series):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def benchmark_statistics(scores, reference="elm", alpha=0.05, *, paired_scores=None):
    """Every statistic of the benchmark report, as a JSON-serialisable dict.

    Parameters
    ----------
    scores : DataFrame of shape (n_datasets, n_methods)
        Score of each method (column) on each dataset (row); higher is better, NaN where a
        method failed.
    reference : str, default="elm"
        Method compared with each other one by the Wilcoxon tests.
    alpha : float, default=0.05
        Level of the Friedman / Iman–Davenport decision, of the Nemenyi test and of the
        Holm-adjusted Wilcoxon decisions.
    paired_scores : DataFrame, default=None
        Units of the Wilcoxon tests, if not the rows of ``scores`` (for example dataset × fold
        cells when there are few datasets).

    Returns
    -------
    statistics : dict
        Only str, int, float, bool, None, lists and dicts (NaN and infinities are None;
        dataset and method labels become str):

        - ``alpha``, ``methods``, ``datasets``;
        - ``ranks``: ``{dataset: {method: rank}}`` over all datasets (failed methods last);
        - ``mean_ranks``: ``{method: mean rank}`` over all datasets, best first;
        - ``datasets_used`` and ``datasets_left_out`` (``{dataset: reason}``): the datasets of
          the Friedman, Iman–Davenport and Nemenyi tests;
        - ``friedman``: :func:`friedman_test`'s dict (``mean_ranks`` in it are over the
          datasets used);
        - ``nemenyi``: ``run`` (the Iman–Davenport test rejected), ``reason`` (why not),
          ``q_alpha``, ``critical_difference`` (computed whenever ``k >= 2`` and ``N >= 1``,
          for information), ``n_methods``, ``n_datasets``, ``mean_ranks`` (over the datasets
          used), and when run ``cliques`` (:func:`nemenyi_cliques`) and
          ``significant_pairs`` (``[better, worse]`` pairs whose mean ranks differ by more
          than the critical difference), otherwise None;
        - ``wilcoxon``: ``reference``, ``n_units``, ``min_pvalue`` (:func:`wilcoxon_min_pvalue`
          of ``n_units``), ``reason`` and ``rows``, a list of :func:`wilcoxon_against`'s rows
          with a ``method`` key.

    Examples
    --------
    >>> import json
    >>> import pandas as pd
    >>> from sklearn_elm.benchmark._stats import benchmark_statistics
    >>> scores = pd.DataFrame(
    ...     {"elm": [0.9, 0.8, 0.7, 0.9], "ce": [0.8, 0.7, 0.6, None], "la": [0.7, 0.6, 0.5, 0.5]},
    ...     index=["a", "b", "c", "d"])
    >>> statistics = benchmark_statistics(scores)
    >>> statistics["datasets_left_out"], round(statistics["friedman"]["statistic"], 1)
    ({'d': 'no score for: ce'}, 6.0)
    >>> statistics["nemenyi"]["run"], statistics["nemenyi"]["cliques"]
    (True, [['elm', 'ce'], ['ce', 'la']])
    >>> statistics["wilcoxon"]["min_pvalue"]
    0.125
    >>> len(json.dumps(statistics, allow_nan=False)) > 0
    True
    """
    # str labels everywhere, so that keys and list items of the JSON agree
    scores = scores.rename(index=str, columns=str)
    if paired_scores is not None:
        paired_scores = paired_scores.rename(columns=str)
    friedman = friedman_test(scores, alpha)
    k, n = friedman["n_methods"], friedman["n_datasets"]
    nemenyi = {
        "run": bool(friedman["rejected"]),
        "reason": "",
        "alpha": float(alpha),
        "q_alpha": nemenyi_q(k, alpha) if k >= 2 else np.nan,
        "critical_difference": nemenyi_critical_difference(k, n, alpha) if k >= 2 and n else np.nan,
        "n_methods": k,
        "n_datasets": n,
        "mean_ranks": friedman["mean_ranks"],
        "cliques": None,
        "significant_pairs": None,
    }
    if friedman["reason"]:
        nemenyi["reason"] = f"Friedman test not run: {friedman['reason']}"
    elif not friedman["rejected"]:
        nemenyi["reason"] = (
            f"Iman–Davenport p = {friedman['iman_davenport_pvalue']:.4g} is not below "
            f"alpha = {alpha}: no evidence that the methods differ"
        )
    else:
        cd = nemenyi["critical_difference"]
        ranks = friedman["mean_ranks"]
        nemenyi["cliques"] = nemenyi_cliques(ranks, cd)
        nemenyi["significant_pairs"] = [
            [better, worse]
            for better in ranks
            for worse in ranks
            if ranks[worse] - ranks[better] > cd
        ]

    paired = scores if paired_scores is None else paired_scores
    wilcoxon = {
        "reference": reference,
        "n_units": len(paired),
        "min_pvalue": wilcoxon_min_pvalue(len(paired)),
        "reason": "",
        "rows": [],
    }
    if reference not in paired.columns:
        wilcoxon["reason"] = f"no method {reference!r}"
    elif paired.shape[1] < 2:
        wilcoxon["reason"] = "needs at least 2 methods"
    else:
        table = wilcoxon_against(paired, reference, alpha)
        wilcoxon["rows"] = [{"method": m, **row} for m, row in table.to_dict("index").items()]

    return _jsonable(
        {
            "alpha": float(alpha),
            "methods": list(scores.columns),
            "datasets": list(scores.index),
            "ranks": rank_table(scores).to_dict("index"),
            "mean_ranks": mean_ranks(scores),
            "datasets_used": friedman["datasets_used"],
            "datasets_left_out": friedman["datasets_left_out"],
            "friedman": friedman,
            "nemenyi": nemenyi,
            "wilcoxon": wilcoxon,
        }
    )


# --------------------------------------------------------------------------------------------
# critical difference diagram
# --------------------------------------------------------------------------------------------
def plot_critical_difference(
    mean_ranks,
    critical_difference,
    *,
    ax=None,
    cliques=None,
    highlight=None,
    title=None,
    fontsize=9,
):
    """Demšar's critical difference diagram of mean ranks.

    A horizontal axis of ranks from 1 (best, at the **left**) to ``k``; each method's mean rank
    is marked on it and joined by an elbow line to its label (the better half on the left, the
    worse half on the right); thick bars under the axis join the methods that are not
    significantly different (:func:`nemenyi_cliques`), and a bar above the axis shows the
    length of the critical difference.

    Parameters
    ----------
    mean_ranks : Series or dict
        Mean rank of each method, in any order.
    critical_difference : float or None
        Nemenyi critical difference; None or NaN draws neither the CD bar nor cliques (for
        example when the Friedman test did not reject).
    ax : matplotlib Axes, default=None
        Axes to draw on (its axis lines are turned off); a new figure is made when None.
    cliques : list of list, default=None
        Groups to join with bars; computed from ``critical_difference`` when None.
    highlight : str, default=None
        Method drawn in red (for example the reference method).
    title : str, default=None
        Title of the axes.
    fontsize : float, default=9
        Size of the method labels.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on; ``ax.figure`` is the figure to save.

    Examples
    --------
    >>> from sklearn_elm.benchmark._stats import plot_critical_difference
    >>> ax = plot_critical_difference({"elm": 1.5, "ce": 2.1, "la": 2.4}, 1.0)
    >>> sorted(t.get_text() for t in ax.texts if t.get_text().isalpha())
    ['ce', 'elm', 'la']
    """
    ranks = pd.Series(mean_ranks, dtype=np.float64).sort_values(kind="stable")
    k = ranks.size
    cd = None if critical_difference is None else float(critical_difference)
    if cd is not None and not math.isfinite(cd):
        cd = None
    if cliques is None:
        cliques = nemenyi_cliques(ranks, cd) if cd is not None else []
    low, high = 1, max(k, 2)

    n_left = (k + 1) // 2
    n_rows = max(n_left, k - n_left)
    row_height, clique_height = 0.45, 0.18
    first_row = 0.5 + clique_height * len(cliques)
    bottom = first_row + row_height * n_rows

    if ax is None:
        from matplotlib.figure import Figure

        longest = max((len(str(m)) for m in ranks.index), default=1)
        width = max(6.4, 2 * (0.6 * fontsize / 72 * (longest + 6)) + 3.0)
        height = 0.9 + 0.3 * (bottom + 1.2)
        title_inches = 0.35 if title is not None else 0.0
        figure = Figure(figsize=(width, height + title_inches))
        ax = figure.add_axes((0.0, 0.0, 1.0, height / (height + title_inches)))
    # labels need room beside the axis: a margin in data units from the label length in inches
    box = ax.get_position()
    axes_width = box.width * ax.figure.get_figwidth()
    longest = max((len(str(m)) for m in ranks.index), default=1)
    label_inches = 0.6 * fontsize / 72 * (longest + 6)
    span = high - low
    margin = label_inches * span / max(axes_width - 2 * label_inches, 0.5 * axes_width)
    ax.set_xlim(low - margin, high + margin)
    ax.set_ylim(bottom + 0.2, -1.3)  # y grows downwards, the axis of ranks at y = 0
    ax.set_axis_off()

    line = {"color": "black", "linewidth": 1}
    ax.plot([low, high], [0, 0], **line)
    for tick in np.arange(low, high + 0.25, 0.5):
        major = float(tick).is_integer()
        ax.plot([tick, tick], [0, -0.18 if major else -0.09], **line)
        if major:
            ax.text(tick, -0.25, f"{tick:.0f}", ha="center", va="bottom", fontsize=fontsize)
    if cd is not None:
        ax.plot([low, low + cd], [-0.9, -0.9], **line)
        for end in (low, low + cd):
            ax.plot([end, end], [-0.97, -0.83], **line)
        ax.text(low + cd / 2, -0.95, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=fontsize)

    for i, (method, rank) in enumerate(ranks.items()):
        # the better half goes left, best on the top row; the worse half right, worst on top,
        # so that no elbow crosses another
        left = i < n_left
        row = i if left else k - 1 - i
        y = first_row + row_height * row
        x_end = low - margin * 0.15 if left else high + margin * 0.15
        color = "tab:red" if method == highlight else "black"
        ax.plot([rank, rank, x_end], [0, y, y], color=color, linewidth=1)
        ax.plot([rank], [0], marker="o", markersize=3, color=color)
        ax.text(
            x_end + (-0.03 if left else 0.03) * margin,
            y,
            str(method),
            ha="right" if left else "left",
            va="center",
            fontsize=fontsize,
            color=color,
        )
        ax.text(
            rank + (-0.04 if left else 0.04),
            y - 0.05,
            f"{rank:.2f}",
            ha="right" if left else "left",
            va="bottom",
            fontsize=fontsize - 2,
            color=color,
        )

    for level, clique in enumerate(cliques):
        members = ranks.loc[list(clique)]
        y = 0.3 + clique_height * level
        # a little overhang so that a group of tied methods still shows as a bar
        ax.plot(
            [members.min() - 0.05, members.max() + 0.05],
            [y, y],
            color="black",
            linewidth=4,
            solid_capstyle="butt",
        )
    if title is not None:
        ax.set_title(title)
    return ax
