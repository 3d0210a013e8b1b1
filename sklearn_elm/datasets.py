"""Long-tailed and imbalanced datasets: CIFAR-LT subsampling and KEEL ``.dat`` loaders.

* :func:`long_tailed_counts` and :func:`make_long_tailed` build a long-tailed subset of any
  labelled data set, following the CIFAR-10-LT / CIFAR-100-LT recipe of Cui et al. (2019) and
  Cao et al. (2019, LDAM).
* :func:`load_cifar_lt` reads CIFAR-10/100 from the official python-pickle files and applies it.
* :func:`load_keel` and :func:`load_keel_dir` read the KEEL imbalanced benchmark files.

Every loader returns a scikit-learn :class:`~sklearn.utils.Bunch`, like
:func:`sklearn.datasets.load_iris`.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterator
from numbers import Integral, Real
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "load_cifar_lt",
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
    classes, y_encoded, class_sizes = np.unique(
        column_or_1d(y, warn=True), return_inverse=True, return_counts=True
    )
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
    rng = check_random_state(random_state)
    selected = [
        rng.choice(np.flatnonzero(y_encoded == k), size=n_k, replace=False)
        for k, n_k in enumerate(counts)
    ]
    # sorted indices keep the rows in their original order (and time order, if any)
    indices = np.sort(np.concatenate(selected))
    return _safe_indexing(X, indices), _safe_indexing(y, indices)


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


def _read_keel_file(path):
    """Parse a KEEL file into (relation, attributes, inputs, output, rows of strings)."""
    relation, attributes, inputs, outputs, rows = None, [], None, None, []
    in_data = False
    with open(path, encoding="utf-8") as file:
        for line_number, raw_line in enumerate(file, start=1):
            line = raw_line.strip()
            if not line or line.startswith("%"):
                continue
            if in_data:
                # KEEL values are never quoted: a plain split lets us report the bad line
                fields = [field.strip() for field in line.split(",")]
                if len(fields) != len(attributes):
                    raise ValueError(
                        f"{path}, line {line_number}: expected {len(attributes)} "
                        f"comma-separated values, got {len(fields)}: {line!r}"
                    )
                rows.append(fields)
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
    return relation, attributes, inputs, outputs, rows


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


def _typed_keel_column(path, attribute, values):
    """Turn one column of strings (NaN for missing) into floats or a pandas Categorical."""
    if attribute.kind == "nominal":
        unexpected = sorted(set(values.dropna()) - set(attribute.categories))
        if unexpected:
            raise ValueError(
                f"{path}: attribute {attribute.name!r} has values {unexpected} outside its "
                f"declared set {attribute.categories}"
            )
        return pd.Series(
            pd.Categorical(values, categories=attribute.categories), name=attribute.name
        )
    try:
        return pd.to_numeric(values).astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: attribute {attribute.name!r} is declared {attribute.kind} but holds a "
            f"non-numeric value ({exc})"
        ) from exc


def _keel_target(path, attribute, values):
    """Return (target, target_names, class_labels), ``class_labels[i]`` being how the class
    ``target_names[i]`` appears in ``target``: 1/0 for {positive, negative}, else the label."""
    if values.isna().any():
        raise ValueError(f"{path}: the class attribute {attribute.name!r} has missing values")
    if attribute.kind == "nominal":
        _typed_keel_column(path, attribute, values)  # checks the declared values
        spelled = {category.lower(): category for category in attribute.categories}
        if set(spelled) == {"positive", "negative"}:
            # the imbalanced-learning convention: the minority "positive" class is label 1
            target = (values == spelled["positive"]).to_numpy(dtype=np.int64)
            return target, np.array([spelled["negative"], spelled["positive"]]), [0, 1]
        names = np.array(attribute.categories)
        return values.to_numpy(dtype=object), names, list(attribute.categories)
    if attribute.kind == "integer":
        numbers = _typed_keel_column(path, attribute, values).to_numpy()
        if not np.array_equal(numbers, np.round(numbers)):
            raise ValueError(f"{path}: the integer class {attribute.name!r} has fractional values")
        target = numbers.astype(np.int64)
        names = np.unique(target)
        return target, names, list(names)
    raise ValueError(
        f"{path}: the class attribute {attribute.name!r} is real-valued; only classification "
        "data sets (nominal or integer class) are supported"
    )


def _keel_descr(
    path,
    relation,
    raw,
    input_attributes,
    n_columns,
    target,
    target_names,
    class_labels,
    class_attribute,
):
    n_nominal = sum(attribute.kind == "nominal" for attribute in input_attributes)
    n_missing = int(raw[[attribute.name for attribute in input_attributes]].isna().sum().sum())
    lines = [
        f"KEEL data set: {relation}",
        "",
        f"Read from {Path(path).name} (KEEL .dat format).",
        "",
        f"Samples: {len(raw)}; input attributes: {len(input_attributes)} ({n_nominal} nominal, "
        f"one-hot encoded in `data`: {n_columns} columns in all); class attribute: "
        f"{class_attribute.name}.",
        f"Missing input values: {n_missing}.",
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

    Parameters
    ----------
    path : str or path-like
        The ``.dat`` file.
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
    relation, attributes, inputs, outputs, rows = _read_keel_file(path)
    input_attributes, class_attribute = _resolve_keel_roles(path, attributes, inputs, outputs)
    raw = pd.DataFrame(rows, columns=[attribute.name for attribute in attributes], dtype=object)
    raw = raw.mask(raw.isin(_KEEL_MISSING))  # missing-value tokens -> NaN

    features = pd.concat(
        [
            _typed_keel_column(path, attribute, raw[attribute.name])
            for attribute in input_attributes
        ],
        axis=1,
    )
    target, target_names, class_labels = _keel_target(
        path, class_attribute, raw[class_attribute.name]
    )

    encoded_columns = []
    for attribute in input_attributes:
        column = features[attribute.name]
        if attribute.kind == "nominal":
            one_hot = pd.get_dummies(column, prefix=attribute.name, prefix_sep="_", dtype=float)
            one_hot.loc[column.isna()] = np.nan  # unknown, not "none of the values"
            encoded_columns.append(one_hot)
        else:
            encoded_columns.append(column)
    encoded = pd.concat(encoded_columns, axis=1)

    descr = _keel_descr(
        path,
        relation or Path(path).stem,
        raw,
        input_attributes,
        encoded.shape[1],
        target,
        target_names,
        class_labels,
        class_attribute,
    )
    frame = None
    if as_frame:
        data = features
        target = pd.Series(target, name=class_attribute.name)
        frame = pd.concat([features, target], axis=1)
    else:
        data = encoded.to_numpy(dtype=np.float64)
    if return_X_y:
        return data, target

    bunch = Bunch(
        data=data,
        target=target,
        feature_names=[str(name) for name in (features if as_frame else encoded).columns],
        target_names=target_names,
        DESCR=descr,
        filename=str(path),
    )
    if as_frame:
        bunch.frame = frame
    return bunch


def load_keel_dir(directory, *, as_frame=False):
    """Load every KEEL ``.dat`` file of a folder, sorted by name.

    Parameters
    ----------
    directory : str or path-like
        Folder holding the ``.dat`` files (not searched recursively).
    as_frame : bool, default=False
        Passed to :func:`load_keel`.

    Returns
    -------
    datasets : iterator of (str, :class:`~sklearn.utils.Bunch`)
        ``(name, bunch)`` pairs, ``name`` being the file name without ``.dat``; each file is
        read when the iterator reaches it.

    Raises
    ------
    NotADirectoryError
        If ``directory`` is not an existing folder (raised at the call, not at iteration).

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
    paths = sorted(directory.glob("*.dat"), key=lambda path: path.stem)
    return _iter_keel(paths, as_frame)


def _iter_keel(paths, as_frame) -> Iterator[tuple[str, Bunch]]:
    for path in paths:
        yield path.stem, load_keel(path, as_frame=as_frame)
