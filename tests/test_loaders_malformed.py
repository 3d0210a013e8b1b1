"""Loaders refuse what they cannot read: a malformed CSV or KEEL file gives a ValueError that
names the file (and the line, and what to do), or the table the well-formed file gives."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_elm.datasets import load_csv, load_dir, load_keel, make_long_tailed

CSV_DECIMAL_COMMAS = "0,126;-1,5;0\n1,25;2,0;1\n-0,5;0,75;0\n"


# --------------------------------------------------------------------------------------------
# the reported files, one by one
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        # read with ",", "0,126;-1,5;0" gave the values "0", "126;-1" and "5;0"
        (CSV_DECIMAL_COMMAS, {}, r"line 1: .*';'-separated with decimal commas.*delimiter=';'"),
        (CSV_DECIMAL_COMMAS, {"delimiter": ";"}, r"line 1: column 1 holds '0,126'.*decimal"),
        ("0.5;1.5;0\n0.2;1;1\n", {}, r"line 1: .*';'-separated, so pass delimiter=';'"),
        ("0.5\t1.5\t0\n0.2\t1\t1\n", {}, r"line 1: .*pass delimiter='\\t'"),
        ("0.5, 1\n0.2, 1\n0.7, 1\n", {}, r"every row has the class 1; .* at least 2 classes"),
        ("0.5, 1\ninf, 0\n", {}, r"line 2: column 1 holds the infinite value 'inf'"),
        ("0.5, 1\n1e999, 0\n", {}, r"line 2: column 1 holds the infinite value '1e999'"),
        ("0.5, 1\n0.2, 0\n0.3, l\n", {}, r"line 3: the class 'l' is text but other classes"),
        ("0.5, 1\n0.2, 99999999999999999999\n", {}, r"too large for a 64-bit integer"),
        ("0.5, 1\n0.2, NaN\n", {}, r"line 2: the class \(last value\) is missing"),
    ],
)
def test_malformed_csv_files_are_refused_with_what_to_do(tmp_path, text, kwargs, match):
    path = tmp_path / "mine.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as error:
        load_csv(path, **kwargs)
    assert "mine.csv" in str(error.value)


def test_a_byte_order_mark_is_stripped(tmp_path):
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    plain.write_text("0.5, a\n0.25, b\n", encoding="utf-8")
    marked.write_text("\ufeff0.5, a\n0.25, b\n", encoding="utf-8")
    np.testing.assert_array_equal(load_csv(marked).data, load_csv(plain).data)
    keel = tmp_path / "marked.dat"
    keel.write_text(
        "\ufeff@relation r\n@attribute x real\n@attribute C {a, b}\n@data\n0.5, a\n0.25, b\n",
        encoding="utf-8",
    )
    assert load_keel(keel).data.tolist() == [[0.5], [0.25]]


@pytest.mark.parametrize(
    "data, match",
    [
        ("0.5;a\n0.2;b\n", r"line 5: .*';'-separated, but KEEL files separate values with comm"),
        ("0,5, a\n0,2, b\n", r"line 5: expected 2 .* got 3.*decimal commas"),
        ("inf, a\n0.2, b\n", r"line 5: attribute 'x' holds the infinite value 'inf'"),
        ("0.5, a\n0.2, a\n", r"every row has the class 'a'"),
        ("", r"no data rows after @data"),
    ],
)
def test_malformed_keel_files_are_refused(tmp_path, data, match):
    path = tmp_path / "mine.dat"
    path.write_text(f"@relation r\n@attribute x real\n@attribute C {{a, b}}\n@data\n{data}")
    with pytest.raises(ValueError, match=match):
        load_keel(path)


def test_a_folder_loader_skips_a_decimal_comma_file_and_reads_the_others(tmp_path):
    (tmp_path / "commas.csv").write_text(CSV_DECIMAL_COMMAS)
    (tmp_path / "good.csv").write_text("0.5, 1\n0.2, 0\n0.3, 0\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = dict(load_dir(tmp_path, errors="warn"))
    assert list(loaded) == ["good"]
    assert [str(w.message).split(":")[0] for w in caught] == ["skipped commas.csv"]
    assert "delimiter=';'" in str(caught[0].message)


@pytest.mark.parametrize("y", [[0.0, 1.0, np.nan] * 4, ["a", "b", None] * 4], ids=["nan", "none"])
def test_make_long_tailed_refuses_missing_labels(y):
    with pytest.raises(ValueError, match="y has 4 missing labels .* first at index 2"):
        make_long_tailed(np.zeros((12, 1)), np.array(y, dtype=object if None in y else float))


def test_make_long_tailed_warns_when_the_ratio_cannot_be_reached():
    X, y = np.zeros((30, 1)), np.repeat([0, 1, 2], 10)
    with pytest.warns(UserWarning, match=r"imbalance_ratio=100 was asked but .* gets 10 "):
        _, y_lt = make_long_tailed(X, y, imbalance_ratio=100, random_state=0)
    assert np.bincount(y_lt).tolist() == [10, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_long_tailed(X, y, imbalance_ratio=10, random_state=0)


# --------------------------------------------------------------------------------------------
# property: any corruption is refused, naming the file, or read as the well-formed file
# --------------------------------------------------------------------------------------------
CORRUPTIONS = [
    "bom",
    "separator",
    "decimal_comma",
    "truncated",
    "missing_field",
    "missing_feature",
    "missing_label",
    "infinite",
    "junk",
    "one_class",
    "empty",
]


@st.composite
def tables(draw):
    """``rows`` of strings (features then an integer class), with at least 2 classes."""
    n_rows = draw(st.integers(3, 6))
    n_features = draw(st.integers(1, 3))
    values = st.floats(-100, 100, allow_nan=False).map(lambda v: f"{v:.3f}")
    labels = [0, 1] + draw(st.lists(st.integers(0, 2), min_size=n_rows - 2, max_size=n_rows - 2))
    return [[draw(values) for _ in range(n_features)] + [str(label)] for label in labels]


@st.composite
def corrupted(draw, keel):
    """``(rows or None, separator, prefix, expected)``: a corruption of a drawn table, and
    what reading it must give: None (an error), or the well-formed table with NaN at
    ``expected`` (a cell made missing), or "same"."""
    rows = draw(tables())
    kind = draw(st.sampled_from(CORRUPTIONS))
    n_rows, n_fields = len(rows), len(rows[0])
    row = draw(st.integers(0, n_rows - 1))
    column = draw(st.integers(0, n_fields - 1))
    separator, prefix, expected = ",", "", None
    if kind == "bom":
        prefix, expected = "\ufeff", "same"
    elif kind == "separator":
        separator = draw(st.sampled_from([";", "\t", "|"]))
    elif kind == "decimal_comma":
        separator = ";"
        rows = [[value.replace(".", ",") for value in fields] for fields in rows]
    elif kind == "truncated":
        rows[-1] = rows[-1][: draw(st.integers(1, n_fields - 1))]
    elif kind == "missing_field":
        del rows[row][column]
    elif kind == "missing_feature":
        # the documented missing-value tokens of each format
        tokens = ["?", ""] + (["<null>"] if keel else ["NA", "NaN", "nan"])
        position = draw(st.integers(0, n_fields - 2))
        rows[row][position] = draw(st.sampled_from(tokens))
        expected = (row, position)
    elif kind == "missing_label":
        rows[row][-1] = draw(st.sampled_from(["?", "", "NaN", "<null>"]))
    elif kind == "infinite":
        rows[row][column] = draw(st.sampled_from(["inf", "-inf", "Infinity", "1e999"]))
    elif kind == "junk":
        rows[row][column] = "x" + draw(st.text("abcdefghij", max_size=4))
    elif kind == "one_class":
        for fields in rows:
            fields[-1] = "1"
    else:  # empty
        rows = None
    return rows, separator, prefix, expected


def keel_text(rows, n_features, separator=", "):
    header = "@relation r\n" + "".join(f"@attribute x{i} real\n" for i in range(n_features))
    header += "@attribute class {0, 1, 2}\n@data\n"
    return header + "".join(separator.join(fields) + "\n" for fields in rows or [])


def assert_same_table(bunch, reference, nan_at):
    data = reference.data.copy()
    if nan_at is not None:
        data[nan_at] = np.nan
    np.testing.assert_array_equal(bunch.data, data)
    np.testing.assert_array_equal(bunch.target, reference.target)
    assert bunch.feature_names == reference.feature_names


def check(read, path, expected, reference):
    """Read ``path``: an error naming the file when ``expected`` is None, else the table of
    the well-formed file (``reference``), with NaN where ``expected`` says."""
    if expected is None:
        with pytest.raises(ValueError) as error:
            read(path)
        assert path.name in str(error.value)
        return
    assert_same_table(read(path), reference, None if expected == "same" else expected)


def good_rows(rows, expected):
    """The well-formed rows: the cell made missing (if any) back to a number."""
    if expected is None:
        return None
    rows = [list(fields) for fields in rows]
    if expected != "same":
        rows[expected[0]][expected[1]] = "0"
    return rows


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_malformed_csv_files_are_refused_or_read_as_the_good_file(tmp_path, data):
    rows, separator, prefix, expected = data.draw(corrupted(keel=False))
    path = tmp_path / "drawn.csv"
    text = "" if rows is None else "".join(separator.join(fields) + "\n" for fields in rows)
    path.write_text(prefix + text, encoding="utf-8")
    reference = None
    if expected is not None:
        good = tmp_path / "good.csv"
        good.write_text("".join(",".join(f) + "\n" for f in good_rows(rows, expected)))
        reference = load_csv(good)
    check(load_csv, path, expected, reference)
    if separator != ",":
        # what the error message says to do: pass the file's separator
        if "," not in text:
            good = tmp_path / "good.csv"
            good.write_text("".join(",".join(fields) + "\n" for fields in rows))
            reference = load_csv(good)
        passing = "same" if "," not in text else None  # decimal commas stay refused
        check(lambda p: load_csv(p, delimiter=separator), path, passing, reference)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_malformed_keel_files_are_refused_or_read_as_the_good_file(tmp_path, data):
    rows, separator, prefix, expected = data.draw(corrupted(keel=True))
    n_features = 1 if rows is None else max(len(fields) for fields in rows) - 1
    path = tmp_path / "drawn.dat"
    path.write_text(prefix + keel_text(rows, n_features, separator + " "), encoding="utf-8")
    reference = None
    if expected is not None:
        good = tmp_path / "good.dat"
        good.write_text(keel_text(good_rows(rows, expected), n_features))
        reference = load_keel(good)
    check(load_keel, path, expected, reference)
