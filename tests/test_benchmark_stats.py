"""Statistics of the benchmark report, pinned to independent references.

References: scipy (Friedman, Wilcoxon, F and chi-square distributions), the numbers printed in
Demšar (2006), "Statistical comparisons of classifiers over multiple data sets", JMLR 7 (Table
5(a) and the worked example of Section 3.2.4), and small cases worked out by hand.
"""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sklearn_elm.benchmark._stats import (
    _jsonable,
    benchmark_statistics,
    complete_datasets,
    friedman_test,
    holm_adjust,
    iman_davenport,
    mean_ranks,
    nemenyi_cliques,
    nemenyi_critical_difference,
    nemenyi_q,
    plot_critical_difference,
    rank_table,
    wilcoxon_against,
    wilcoxon_min_pvalue,
)

NAN = np.nan

# Demšar (2006), Table 5(a): q_alpha of the Nemenyi test for k = 2..10 methods
DEMSAR_Q_005 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
DEMSAR_Q_010 = [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]

# Ranks of 4 methods on 14 datasets with the rank sums of Demšar's worked example (mean ranks
# 3.143, 2.000, 2.893, 1.964; one tie, in the last dataset).
DEMSAR_METHODS = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
DEMSAR_RANKS = [
    [3, 4, 2, 1],
    [4, 1, 3, 2],
    [3, 4, 2, 1],
    [2, 3, 4, 1],
    [4, 3, 2, 1],
    [4, 1, 3, 2],
    [4, 1, 2, 3],
    [4, 2, 3, 1],
    [1, 2, 3, 4],
    [3, 1, 4, 2],
    [4, 1, 2, 3],
    [4, 2, 3, 1],
    [3, 1, 4, 2],
    [1, 2, 3.5, 3.5],
]


def demsar_scores():
    # higher is better: rank 1 gets the highest score
    return pd.DataFrame(5.0 - np.array(DEMSAR_RANKS), columns=DEMSAR_METHODS)


def random_scores(seed, n_datasets=12, n_methods=5, decimals=None):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.5, 1.0, (n_datasets, n_methods)) + np.linspace(0, 0.1, n_methods)
    if decimals is not None:  # coarse scores: many ties within a dataset
        scores = np.round(scores, decimals)
    return pd.DataFrame(scores, columns=[f"m{j}" for j in range(n_methods)])


# --------------------------------------------------------------------------------------------
# ranks
# --------------------------------------------------------------------------------------------
def test_ranks_best_is_one_ties_share_the_mean_and_failures_rank_last():
    scores = pd.DataFrame(
        {
            "a": [0.9, 0.5, NAN],
            "b": [0.8, 0.5, NAN],
            "c": [0.7, NAN, 0.3],
            "d": [0.95, NAN, NAN],
        }
    )
    expected = pd.DataFrame(
        {
            "a": [2.0, 1.5, 3.0],
            "b": [3.0, 1.5, 3.0],
            "c": [4.0, 3.5, 1.0],  # two failed methods share the last ranks 3 and 4
            "d": [1.0, 3.5, 3.0],  # three failed methods share the last ranks 2, 3 and 4
        }
    )
    pd.testing.assert_frame_equal(rank_table(scores), expected)
    ranks = mean_ranks(scores)
    assert list(ranks.index) == ["a", "b", "d", "c"]  # b and d tie: column order
    np.testing.assert_allclose(ranks.to_numpy(), [6.5 / 3, 7.5 / 3, 7.5 / 3, 8.5 / 3])


def test_complete_datasets_rule_and_reasons():
    scores = pd.DataFrame(
        {"a": [0.9, NAN, 0.1, NAN], "b": [0.8, 0.7, 0.2, NAN]}, index=["p", "q", "r", "s"]
    )
    used, left_out = complete_datasets(scores)
    assert used == ["p", "r"]
    assert left_out == {"q": "no score for: a", "s": "no score for: a, b"}


# --------------------------------------------------------------------------------------------
# Friedman and Iman–Davenport
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("decimals", [None, 1], ids=["tie-free", "with-ties"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_friedman_matches_scipy(seed, decimals):
    scores = random_scores(seed, decimals=decimals)
    has_ties = any(row.size != np.unique(row).size for row in scores.to_numpy())
    assert has_ties == (decimals is not None)
    expected = stats.friedmanchisquare(*(scores[c] for c in scores.columns))
    result = friedman_test(scores)
    assert result["reason"] == ""
    assert result["tie_correction"] is True
    np.testing.assert_allclose(result["statistic"], expected.statistic, rtol=1e-10)
    np.testing.assert_allclose(result["pvalue"], expected.pvalue, rtol=1e-8)
    uncorrected = friedman_test(scores, tie_correction=False)["statistic"]
    if has_ties:  # scipy's tie correction makes the statistic larger
        assert uncorrected < expected.statistic * (1 - 1e-6)
    else:
        np.testing.assert_allclose(uncorrected, expected.statistic, rtol=1e-10)


def test_friedman_and_iman_davenport_reproduce_demsar_example():
    # Demšar's Section 3.2.4 computes chi2 from the mean ranks without a tie correction
    result = friedman_test(demsar_scores(), tie_correction=False)
    np.testing.assert_allclose(
        list(result["mean_ranks"].values()), [1.964, 2.000, 2.893, 3.143], atol=5e-4
    )
    assert list(result["mean_ranks"]) == ["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]
    assert result["n_datasets"] == 14 and result["n_methods"] == 4 and result["df"] == 3
    assert round(result["statistic"], 2) == 9.28
    assert round(result["iman_davenport_statistic"], 2) == 3.69
    assert result["iman_davenport_df"] == [3, 39]
    # "the critical value of F(3, 39) for alpha = 0.05 is 2.85"
    assert round(stats.f.isf(0.05, *result["iman_davenport_df"]), 2) == 2.85
    np.testing.assert_allclose(
        result["iman_davenport_pvalue"],
        stats.f.sf(result["iman_davenport_statistic"], 3, 39),
        rtol=1e-10,
    )
    np.testing.assert_allclose(result["pvalue"], stats.chi2.sf(result["statistic"], 3))
    assert result["rejected"] is True
    # with the tie correction (one tied pair): 9.28 / (1 - 6 / (14 * 4 * 15))
    corrected = friedman_test(demsar_scores())["statistic"]
    np.testing.assert_allclose(corrected, result["statistic"] / (1 - 6 / 840), rtol=1e-12)


def test_iman_davenport_formula_and_perfect_agreement():
    statistic, pvalue = iman_davenport(6.0, 3, 5)
    assert statistic == pytest.approx(4 * 6.0 / (5 * 2 - 6.0))
    assert pvalue == pytest.approx(stats.f.sf(6.0, 2, 8))
    # chi2 = N (k - 1): every dataset ranks the methods alike
    assert iman_davenport(10.0, 3, 5) == (math.inf, 0.0)


def test_friedman_reasons_when_it_cannot_run():
    two_methods = pd.DataFrame({"a": [0.9, 0.8], "b": [0.8, 0.7]})
    assert friedman_test(two_methods)["reason"] == "needs at least 3 methods"
    one_dataset = pd.DataFrame({"a": [0.9, NAN], "b": [0.8, 0.7], "c": [0.1, 0.2]})
    result = friedman_test(one_dataset)
    assert result["reason"] == "needs at least 2 datasets scored by every method"
    assert math.isnan(result["statistic"]) and result["rejected"] is False
    alike = pd.DataFrame({"a": [0.5, 0.7], "b": [0.5, 0.7], "c": [0.5, 0.7]})
    assert "same score" in friedman_test(alike)["reason"]


def test_friedman_leaves_out_incomplete_datasets():
    scores = random_scores(3, n_datasets=8)
    scores.iloc[[2, 5], 1] = NAN
    result = friedman_test(scores)
    complete = scores.drop(index=[2, 5])
    expected = stats.friedmanchisquare(*(complete[c] for c in complete.columns))
    np.testing.assert_allclose(result["statistic"], expected.statistic, rtol=1e-10)
    assert result["n_datasets"] == 6
    assert result["datasets_used"] == [0, 1, 3, 4, 6, 7]
    assert result["datasets_left_out"] == {2: "no score for: m1", 5: "no score for: m1"}


# --------------------------------------------------------------------------------------------
# Nemenyi
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alpha", "k", "tabled"),
    [(0.05, k, q) for k, q in zip(range(2, 11), DEMSAR_Q_005, strict=True)]
    + [(0.10, k, q) for k, q in zip(range(2, 11), DEMSAR_Q_010, strict=True)],
)
def test_nemenyi_q_matches_demsar_table(alpha, k, tabled):
    # the table is rounded to 3 decimals from a studentized range table itself rounded to 3
    assert nemenyi_q(k, alpha) == pytest.approx(tabled, abs=1e-3)


@pytest.mark.parametrize(
    ("k", "n", "alpha", "tabled_q"),
    [
        (4, 14, 0.05, DEMSAR_Q_005[4 - 2]),  # Demšar's example: CD = 1.25
        (6, 20, 0.05, DEMSAR_Q_005[6 - 2]),
        (10, 30, 0.10, DEMSAR_Q_010[10 - 2]),
        (3, 7, 0.10, DEMSAR_Q_010[3 - 2]),
    ],
)
def test_nemenyi_critical_difference_pinned_to_demsar(k, n, alpha, tabled_q):
    expected = tabled_q * math.sqrt(k * (k + 1) / (6 * n))
    assert nemenyi_critical_difference(k, n, alpha) == pytest.approx(expected, rel=5e-4)


def test_nemenyi_critical_difference_of_demsar_example():
    assert round(nemenyi_critical_difference(4, 14), 2) == 1.25
    assert round(nemenyi_critical_difference(4, 14, alpha=0.10), 2) == round(
        2.291 * math.sqrt(20 / 84), 2
    )


@pytest.mark.parametrize(
    ("ranks", "cd", "expected"),
    [
        # span of a-b-c exactly CD (kept: "at most"); b-c is inside a-b-c; c alone; d-e
        (
            {"a": 1.0, "b": 1.5, "c": 2.0, "d": 3.5, "e": 4.0},
            1.0,
            [["a", "b", "c"], ["d", "e"]],
        ),
        # overlapping cliques
        ({"d": 3.2, "b": 1.8, "a": 1.0, "c": 2.5}, 1.5, [["a", "b", "c"], ["b", "c", "d"]]),
        # a chain: every neighbour pair is a clique, no longer group is
        ({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, 1.2, [["a", "b"], ["b", "c"], ["c", "d"]]),
        ({"a": 1.0, "b": 2.0, "c": 3.0}, 0.5, []),  # all significantly different
        ({"a": 1.9, "b": 2.0, "c": 2.1}, 3.0, [["a", "b", "c"]]),  # none
        ({"a": 1.0, "b": 2.5, "c": 2.5, "d": 4.0}, 1.0, [["b", "c"]]),  # tied mean ranks
    ],
)
def test_nemenyi_cliques_by_hand(ranks, cd, expected):
    assert nemenyi_cliques(ranks, cd) == expected
    assert nemenyi_cliques(pd.Series(ranks), cd) == expected


def test_nemenyi_is_run_only_when_iman_davenport_rejects():
    # Demšar's example: the test rejects but no pair differs by more than CD = 1.25
    demsar = benchmark_statistics(demsar_scores(), reference="C4.5")
    assert demsar["friedman"]["rejected"] is True and demsar["nemenyi"]["run"] is True
    assert demsar["nemenyi"]["critical_difference"] == pytest.approx(1.2536, abs=1e-4)
    assert demsar["nemenyi"]["cliques"] == [["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]]
    assert demsar["nemenyi"]["significant_pairs"] == []
    # seven of eight datasets rank b, c, a alike: rejects, and only a vs b is too far apart
    separated = pd.DataFrame(
        {"a": [0.1] * 7 + [0.9], "b": [0.9] * 8, "c": [0.5] * 7 + [0.1]}, index=list("pqrstuvw")
    )
    result = benchmark_statistics(separated, reference="a")
    assert result["nemenyi"]["run"] is True
    assert result["nemenyi"]["significant_pairs"] == [["b", "a"]]
    assert result["nemenyi"]["cliques"] == [["b", "c"], ["c", "a"]]
    # every method is best somewhere and the mean ranks are equal: no evidence of a difference
    alike = pd.DataFrame(
        {"a": [0.9, 0.8, 0.7, 0.6], "b": [0.8, 0.9, 0.6, 0.7], "c": [0.7, 0.7, 0.8, 0.8]}
    )
    result = benchmark_statistics(alike, reference="a")
    assert result["friedman"]["iman_davenport_pvalue"] > 0.05
    assert result["friedman"]["rejected"] is False
    assert result["nemenyi"]["run"] is False
    assert result["nemenyi"]["cliques"] is None and "Iman–Davenport" in result["nemenyi"]["reason"]


def test_decision_uses_iman_davenport_not_the_conservative_chi_square():
    # 4 methods on 5 datasets: chi2 = 7.32 (p = 0.062) but F = 3.81 (p = 0.040)
    ranks = np.array([[2, 4, 1, 3], [1, 3, 2, 4], [2, 1, 3, 4], [2, 1, 3, 4], [2, 3, 1, 4]])
    scores = pd.DataFrame(5.0 - ranks, columns=list("abcd"))
    result = benchmark_statistics(scores, reference="a")
    friedman = result["friedman"]
    assert friedman["statistic"] == pytest.approx(7.32)
    assert friedman["iman_davenport_statistic"] == pytest.approx(4 * 7.32 / (15 - 7.32))
    assert friedman["pvalue"] > 0.05 > friedman["iman_davenport_pvalue"]
    assert friedman["rejected"] is True and result["nemenyi"]["run"] is True


# --------------------------------------------------------------------------------------------
# Holm
# --------------------------------------------------------------------------------------------
def holm_by_definition(p_values):
    """p_adj(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), literally, NaN left out."""
    p_values = np.asarray(p_values, dtype=float)
    finite = [i for i in np.argsort(p_values, kind="stable") if not np.isnan(p_values[i])]
    m = len(finite)
    adjusted = np.full(p_values.shape, np.nan)
    for i, index in enumerate(finite, start=1):
        adjusted[index] = max(
            min(1.0, (m - j + 1) * p_values[finite[j - 1]]) for j in range(1, i + 1)
        )
    return adjusted


def test_holm_step_down_maximum_changes_the_decision():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04: without the
    # running maximum the largest p-value would be "significant" at 0.05 after the smaller
    # one was not
    adjusted = holm_adjust([0.04, 0.01, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.06, 0.03, 0.06, 0.02])
    assert not (adjusted < 0.05)[0]


def test_holm_caps_at_one_and_ignores_nan():
    np.testing.assert_allclose(holm_adjust([0.3, 0.6, 0.9]), [0.9, 1.0, 1.0])
    np.testing.assert_allclose(
        holm_adjust([NAN, 0.02, 0.04, NAN]), [NAN, 0.04, 0.04, NAN], equal_nan=True
    )


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    p_values = rng.uniform(0, 0.2, 9) ** 2
    p_values[rng.integers(0, 9, 2)] = p_values[0]  # ties
    p_values[rng.integers(0, 9)] = NAN
    adjusted = holm_adjust(p_values)
    np.testing.assert_allclose(adjusted, holm_by_definition(p_values), equal_nan=True)
    finite = ~np.isnan(p_values)
    order = np.argsort(p_values[finite])
    assert np.all(np.diff(adjusted[finite][order]) >= 0)


def test_holm_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p_values = np.random.default_rng(0).uniform(0, 0.1, 12)
    expected = multitest.multipletests(p_values, method="holm")[1]
    np.testing.assert_allclose(holm_adjust(p_values), expected)


# --------------------------------------------------------------------------------------------
# Wilcoxon
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 5, 6, 7, 10, 20, 50])
def test_wilcoxon_min_pvalue_is_two_over_two_to_the_n(n):
    assert wilcoxon_min_pvalue(n) == pytest.approx(min(1.0, 2.0 / 2**n), rel=1e-12)


def test_wilcoxon_min_pvalue_edge_cases():
    assert math.isnan(wilcoxon_min_pvalue(0))
    # beyond 50 pairs scipy uses the normal approximation: still the most extreme outcome
    assert wilcoxon_min_pvalue(60) == pytest.approx(
        stats.wilcoxon(np.arange(1.0, 61.0)).pvalue, rel=1e-12
    )


def test_wilcoxon_against_matches_scipy_and_holm():
    rng = np.random.default_rng(4)
    scores = pd.DataFrame(rng.uniform(0.5, 0.9, (15, 4)), columns=["elm", "ce", "la", "focal"])
    scores["ce"] -= 0.15  # elm clearly better than ce
    scores.loc[3, "la"] = NAN
    table = wilcoxon_against(scores, "elm")
    assert list(table.index) == ["ce", "la", "focal"]
    for method in table.index:
        pair = scores[["elm", method]].dropna()
        expected = stats.wilcoxon(pair["elm"], pair[method], alternative="two-sided")
        assert table.loc[method, "pvalue"] == pytest.approx(expected.pvalue, rel=1e-12)
        assert table.loc[method, "n_pairs"] == len(pair)
        assert table.loc[method, "min_pvalue"] == pytest.approx(2.0 / 2 ** len(pair))
    np.testing.assert_allclose(table["pvalue_holm"], holm_adjust(table["pvalue"]))
    assert table.loc["ce", "wins"] + table.loc["ce", "losses"] == 15
    np.testing.assert_array_equal(table["significant"], table["pvalue_holm"] < 0.05)


def test_wilcoxon_identical_scores_and_losses():
    scores = pd.DataFrame({"elm": [0.9, 0.8, 0.7], "ce": [0.9, 0.8, 0.7], "la": [1, 1, 1]})
    table = wilcoxon_against(scores, "elm")
    # identical scores everywhere: no evidence of a difference (scipy would give NaN)
    assert table.loc["ce", "pvalue"] == 1.0 and table.loc["ce", "ties"] == 3
    assert table.loc["la", "losses"] == 3 and table.loc["la", "wins"] == 0
    assert table.loc["la", "mean_difference"] == pytest.approx(-0.2)


def test_wilcoxon_perfect_record_reaches_the_min_pvalue():
    scores = pd.DataFrame({"elm": np.linspace(0.6, 0.9, 7), "ce": np.linspace(0.5, 0.6, 7)})
    table = wilcoxon_against(scores, "elm")
    assert table.loc["ce", "pvalue"] == pytest.approx(table.loc["ce", "min_pvalue"])
    assert table.loc["ce", "pvalue"] == pytest.approx(2 / 2**7)


# --------------------------------------------------------------------------------------------
# stats.json
# --------------------------------------------------------------------------------------------
def assert_plain_json(value):
    if isinstance(value, dict):
        assert all(isinstance(key, str) for key in value)
        for item in value.values():
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)
        assert not (isinstance(value, float) and not math.isfinite(value))


def test_benchmark_statistics_is_plain_json_with_every_statistic():
    scores = random_scores(5, n_datasets=9, n_methods=4)
    scores.columns = ["elm", "ce", "la", "smote"]
    scores.index = [f"d{i}" for i in range(9)]
    scores.loc["d4", "smote"] = NAN  # smote failed on one dataset
    scores.loc["d7", ["la", "smote"]] = NAN
    result = benchmark_statistics(scores, reference="elm", alpha=0.05)
    assert_plain_json(result)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["alpha"] == 0.05
    assert result["datasets_used"] == ["d0", "d1", "d2", "d3", "d5", "d6", "d8"]
    assert result["datasets_left_out"] == {
        "d4": "no score for: smote",
        "d7": "no score for: la, smote",
    }
    assert result["ranks"]["d4"]["smote"] == 4.0 and result["ranks"]["d7"]["la"] == 3.5
    assert result["mean_ranks"] == pytest.approx(mean_ranks(scores).to_dict())
    complete = scores.loc[result["datasets_used"]]
    expected = stats.friedmanchisquare(*(complete[c] for c in complete.columns))
    assert result["friedman"]["statistic"] == pytest.approx(expected.statistic)
    assert result["friedman"]["n_datasets"] == 7
    assert result["friedman"]["mean_ranks"] == pytest.approx(mean_ranks(complete).to_dict())
    # the critical difference is for the datasets of the test, not all of them
    assert result["nemenyi"]["critical_difference"] == pytest.approx(
        nemenyi_critical_difference(4, 7)
    )
    assert result["wilcoxon"]["n_units"] == 9
    assert result["wilcoxon"]["min_pvalue"] == pytest.approx(2 / 2**9)
    rows = {row["method"]: row for row in result["wilcoxon"]["rows"]}
    assert set(rows) == {"ce", "la", "smote"}
    assert rows["smote"]["n_pairs"] == 7
    expected_table = wilcoxon_against(scores, "elm")
    assert rows["la"]["pvalue_holm"] == pytest.approx(expected_table.loc["la", "pvalue_holm"])


def test_benchmark_statistics_nan_becomes_null_and_paired_units():
    scores = pd.DataFrame({"elm": [0.9, 0.8], "ce": [0.8, 0.7]})
    result = benchmark_statistics(scores)
    assert result["friedman"]["statistic"] is None
    assert result["friedman"]["reason"] == "needs at least 3 methods"
    assert result["nemenyi"]["run"] is False and result["nemenyi"]["cliques"] is None
    json.dumps(result, allow_nan=False)
    cells = pd.DataFrame({"elm": np.linspace(0.7, 0.9, 8), "ce": np.linspace(0.5, 0.6, 8)})
    result = benchmark_statistics(scores, paired_scores=cells)
    assert result["wilcoxon"]["n_units"] == 8
    assert result["wilcoxon"]["rows"][0]["pvalue"] == pytest.approx(2 / 2**8)
    assert benchmark_statistics(scores, reference="ldam")["wilcoxon"]["reason"] == (
        "no method 'ldam'"
    )


def test_benchmark_statistics_labels_are_str_in_keys_and_lists():
    scores = random_scores(6, n_datasets=6, n_methods=3)
    scores.columns = ["elm", 1, 2]
    scores.iloc[0, 2] = NAN
    result = benchmark_statistics(scores)
    assert result["methods"] == ["elm", "1", "2"]
    assert result["datasets"] == ["0", "1", "2", "3", "4", "5"]
    assert result["datasets_used"] == ["1", "2", "3", "4", "5"]
    assert result["datasets_left_out"] == {"0": "no score for: 2"}
    assert set(result["ranks"]["0"]) == {"elm", "1", "2"}
    assert [row["method"] for row in result["wilcoxon"]["rows"]] == ["1", "2"]


def test_numpy_values_become_plain_python():
    value = {
        "f": np.float64(1.5),
        "i": np.int64(2),
        np.int64(3): np.bool_(True),
        "list": [np.nan, np.inf, np.float32(0.25)],
        "series": pd.Series({"a": 1.0}),
        "tuple": (1, "x"),
    }
    plain = _jsonable(value)
    assert_plain_json(plain)
    assert plain == {
        "f": 1.5,
        "i": 2,
        "3": True,
        "list": [None, None, 0.25],
        "series": {"a": 1.0},
        "tuple": [1, "x"],
    }


# --------------------------------------------------------------------------------------------
# critical difference diagram
# --------------------------------------------------------------------------------------------
def test_critical_difference_diagram_saves_a_png():
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    ranks = {"elm": 1.4, "ldam": 2.0, "ce": 2.6, "smote": 3.9, "random-over": 4.1}
    ax = plot_critical_difference(ranks, 1.0, highlight="elm", title="balanced accuracy")
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=80)
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(io.BytesIO(data), format="png")
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 200

    labels = {t.get_text(): t for t in ax.texts}
    assert set(ranks) <= set(labels) and "CD = 1.00" in labels

    # rank 1 at the left (on the canvas, not only in data units): the better half is labelled
    # left of the axis, the worse half right
    def canvas_x(rank):
        return ax.transData.transform((rank, 0))[0]

    assert canvas_x(1) < canvas_x(2) < canvas_x(5)
    assert labels["elm"].get_position()[0] < 1 < 5 < labels["smote"].get_position()[0]
    assert labels["ce"].get_position()[0] < 1 < 5 < labels["random-over"].get_position()[0]
    assert labels["elm"].get_color() == "tab:red"
    bars = [line for line in ax.lines if line.get_linewidth() == 4]
    cliques = nemenyi_cliques(ranks, 1.0)
    assert cliques == [["elm", "ldam"], ["ldam", "ce"], ["smote", "random-over"]]
    assert len(bars) == len(cliques)
    spans = sorted((min(b.get_xdata()), max(b.get_xdata())) for b in bars)
    assert spans[0] == pytest.approx((1.35, 2.05))


def test_critical_difference_diagram_on_given_axes_without_cd():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.subplots()
    assert plot_critical_difference(pd.Series({"a": 1.2, "b": 1.8}), None, ax=ax) is ax
    assert not [line for line in ax.lines if line.get_linewidth() == 4]
    assert not [t for t in ax.texts if t.get_text().startswith("CD")]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
