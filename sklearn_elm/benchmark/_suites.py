"""The datasets of the benchmark: suites of the shipped data, folders of files, long tails.

Two protocols: a dataset that is imbalanced as it comes is scored by repeated stratified
k-fold cross-validation; a long-tailed dataset is built from a (balanced) source, split once
per repeat into a stratified train/test part of the *source*, and only the training part is
made long-tailed (:func:`~sklearn_elm.datasets.make_long_tailed`, exponential profile), so that
the test part keeps every class, as many samples of each as the source had.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from pathlib import Path

import numpy as np
from sklearn.preprocessing import LabelEncoder

from .. import datasets as _datasets

__all__ = [
    "DEFAULT_SUITE",
    "LT_RATIOS",
    "SUITES",
    "BenchmarkDataset",
    "load_data_dir",
    "load_default_suite",
    "load_suite",
]

#: names of ``--suite``
SUITES = ("default", "keel", "lt", "all")
#: imbalance ratios of the ``lt`` suite
LT_RATIOS = (10, 100)
#: The README's main job: 20 KEEL binary sets and 6 long-tailed multi-class sets. The KEEL sets
#: span imbalance ratios 1.9 to 68 and seven families (ecoli, glass, yeast, abalone, wine
#: quality, shuttle, poker, and classic UCI sets), all under 1500 samples so that the suite
#: fits the ten minutes of the main job; the long-tailed sets are the balanced multi-class
#: sources with at least 4 classes and under 11,000 samples, at the ratio (10 or 100) that
#: leaves their tail class at least 2 training samples, so that every method, SMOTE included,
#: can run on every one of them (letter, with 26 classes and 20,000 samples, is left to
#: ``--suite lt``). The default suite is scored by 3-fold cross-validation and 3 long-tail
#: repeats (see ``sklearn_elm.benchmark._cli``).
DEFAULT_SUITE = {
    "keel": (
        "abalone-3_vs_11",
        "ecoli1",
        "ecoli3",
        "ecoli4",
        "glass0",
        "glass2",
        "glass4",
        "haberman",
        "new-thyroid1",
        "pima",
        "poker-9_vs_7",
        "shuttle-c2-vs-c4",
        "vehicle0",
        "winequality-red-3_vs_5",
        "winequality-red-8_vs_6",
        "wisconsin",
        "yeast-1_vs_7",
        "yeast-2_vs_8",
        "yeast4",
        "yeast6",
    ),
    "lt": (
        ("led7digit", 10),
        ("optdigits", 100),
        ("penbased", 100),
        ("segment", 10),
        ("vehicle", 10),
        ("vowel", 10),
    ),
}


@dataclasses.dataclass
class BenchmarkDataset:
    """A dataset of the benchmark.

    Attributes
    ----------
    name : str
        Its name in the results.
    X : ndarray of shape (n_samples, n_features)
        Float features; NaN marks a missing value (imputed inside the pipeline). For a
        long-tailed dataset, the balanced source.
    y : ndarray of shape (n_samples,)
        Integer-encoded classes ``0 .. n_classes - 1``.
    class_names : ndarray of shape (n_classes,)
        Original label of each encoded class.
    long_tailed : bool
        Plot its per-class accuracy against training class frequency.
    source : str
        Where it comes from and how it was made imbalanced.
    notes : list of str
        What was changed to make it usable (dropped classes, fewer folds).
    lt_ratio : float or None
        For a long-tailed dataset, the imbalance ratio of its training parts: it is scored by
        the long-tail protocol instead of k-fold cross-validation.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    class_names: np.ndarray
    long_tailed: bool = False
    source: str = ""
    notes: list = dataclasses.field(default_factory=list)
    lt_ratio: float | None = None

    @classmethod
    def from_arrays(cls, name, X, y, **kwargs):
        """Encode ``y``, cast ``X`` to float and drop the classes no protocol can split.

        A class with a single sample cannot be both in a training and in a test part; it is
        dropped, and :attr:`notes` (shown in the report) says which and why.

        Parameters
        ----------
        name : str
            Name of the dataset.
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,)
            Class labels of any sortable type.
        **kwargs : dict
            Other attributes (``long_tailed``, ``source``, ``notes``, ``lt_ratio``).

        Returns
        -------
        dataset : BenchmarkDataset
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        notes = list(kwargs.pop("notes", []))
        labels, counts = np.unique(y, return_counts=True)
        too_small = labels[counts < 2]
        if too_small.size:
            keep = ~np.isin(y, too_small)
            X, y = X[keep], y[keep]
            notes.append(
                f"dropped class(es) {too_small.tolist()} with a single sample "
                "(it cannot be in both a training and a test part)"
            )
        encoder = LabelEncoder().fit(y)
        return cls(name, X, encoder.transform(y), encoder.classes_, notes=notes, **kwargs)

    @property
    def protocol(self):
        """``"long-tail"`` (train part made long-tailed, test part as the source) or ``"cv"``."""
        return "cv" if self.lt_ratio is None else "long-tail"

    @property
    def class_counts(self):
        """Samples of each class (of the source, for a long-tailed dataset)."""
        return np.bincount(self.y, minlength=self.class_names.size)

    @property
    def imbalance_ratio(self):
        """Largest over smallest class count (of the training parts, for a long-tailed one)."""
        if self.lt_ratio is not None:
            return float(self.lt_ratio)
        counts = self.class_counts
        return float(counts.max() / counts.min())

    def digest(self):
        """SHA-256 of the data, the labels and the protocol: resuming checks it is unchanged."""
        hasher = hashlib.sha256()
        hasher.update(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        hasher.update(np.ascontiguousarray(self.y, dtype=np.int64).tobytes())
        hasher.update(repr((self.X.shape, self.protocol, self.lt_ratio)).encode())
        return hasher.hexdigest()


def _lt_name(name, ratio):
    return f"{name}-lt{ratio:g}"


def _long_tailed(name, X, y, ratio, source):
    return BenchmarkDataset.from_arrays(
        _lt_name(name, ratio),
        X,
        y,
        long_tailed=True,
        lt_ratio=float(ratio),
        source=f"{source}; training parts made long-tailed (exponential, ratio {ratio:g})",
    )


def _shipped(name, *, lt_ratio=None):
    bunch = _datasets.load_dataset(name)
    n_missing = int(np.isnan(np.asarray(bunch.data, dtype=np.float64)).sum())
    source = f"{bunch.kind} {name}" + (
        f" ({n_missing} missing values, median-imputed in the pipeline)" if n_missing else ""
    )
    if lt_ratio is not None:
        return _long_tailed(name, bunch.data, bunch.target, lt_ratio, source)
    return BenchmarkDataset.from_arrays(
        name,
        bunch.data,
        bunch.target,
        long_tailed=np.unique(bunch.target).size > 2,
        source=source,
    )


def load_default_suite():
    """The suite of the README's main job: 20 KEEL sets and 6 long-tailed multi-class sets.

    The KEEL sets (:data:`DEFAULT_SUITE`) are scored by stratified k-fold cross-validation; the
    long-tailed ones by the long-tail protocol (the training part of each split made
    long-tailed, the test part as the balanced source). Every set ships with the package, so
    the suite runs offline.

    Returns
    -------
    datasets : list of BenchmarkDataset

    Examples
    --------
    >>> from sklearn_elm.benchmark import load_default_suite
    >>> suite = load_default_suite()
    >>> len(suite), sum(dataset.protocol == "long-tail" for dataset in suite)
    (26, 6)
    >>> [dataset.name for dataset in suite if dataset.long_tailed][:3]
    ['led7digit-lt10', 'optdigits-lt100', 'penbased-lt100']
    """
    suite = [_shipped(name) for name in DEFAULT_SUITE["keel"]]
    suite += [_shipped(name, lt_ratio=ratio) for name, ratio in DEFAULT_SUITE["lt"]]
    return suite


def load_suite(name):
    """The datasets of a ``--suite``.

    Parameters
    ----------
    name : {"default", "keel", "lt", "all"}
        ``"default"``: :func:`load_default_suite`; ``"keel"``: every shipped KEEL binary set
        (k-fold cross-validation); ``"lt"``: every shipped multi-class source made long-tailed
        at each ratio of :data:`LT_RATIOS`; ``"all"``: ``"keel"`` and ``"lt"``.

    Returns
    -------
    datasets : list of BenchmarkDataset

    Raises
    ------
    ValueError
        If ``name`` is not a suite.

    Examples
    --------
    >>> from sklearn_elm.benchmark import load_suite
    >>> load_suite("nope")
    Traceback (most recent call last):
    ...
    ValueError: unknown suite 'nope'; choose among default, keel, lt, all
    """
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose among {', '.join(SUITES)}")
    if name == "default":
        return load_default_suite()
    suite = []
    if name in ("keel", "all"):
        suite += [_shipped(n) for n in _datasets.list_datasets(kind="keel")["name"]]
    if name in ("lt", "all"):
        for source in _datasets.list_datasets(kind="multiclass")["name"]:
            suite += [_shipped(source, lt_ratio=ratio) for ratio in LT_RATIOS]
    return suite


def load_data_dir(directory, *, long_tail=None):
    """Every KEEL ``.dat`` and header-less ``.csv`` (class last) of a folder.

    A file that cannot be read is skipped, and the reason (naming the file and, where the
    reader gives it, the line) is returned, so that one malformed file does not end a run.

    Parameters
    ----------
    directory : str or path-like
        The folder (not searched recursively).
    long_tail : sequence of float, default=None
        Imbalance ratios: every multi-class set (more than two classes) is replaced by one
        long-tailed dataset per ratio, scored by the long-tail protocol. Binary sets stay
        k-fold cross-validated.

    Returns
    -------
    datasets : list of BenchmarkDataset
        In the order of the file names.
    skipped : list of str
        One message per unreadable file.

    Raises
    ------
    NotADirectoryError
        If ``directory`` is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_elm.benchmark import load_data_dir
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "ok.csv").write_text("".join(f"{i},{i % 3}\\n" for i in range(30)))
    >>> _ = (folder / "bad.csv").write_text("1,0\\n2,0,7\\n")
    >>> datasets, skipped = load_data_dir(folder, long_tail=[10])
    >>> [dataset.name for dataset in datasets], len(skipped)
    (['ok-lt10'], 1)
    """
    datasets, skipped = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        for name, bunch in _datasets.load_dir(directory, errors="warn"):
            n_missing = int(np.isnan(np.asarray(bunch.data, dtype=np.float64)).sum())
            source = Path(bunch.filename).name
            if n_missing:
                source += f" ({n_missing} missing values, median-imputed)"
            n_classes = np.unique(bunch.target).size
            if long_tail and n_classes > 2:
                datasets += [
                    _long_tailed(name, bunch.data, bunch.target, ratio, source)
                    for ratio in long_tail
                ]
            else:
                datasets.append(
                    BenchmarkDataset.from_arrays(
                        name, bunch.data, bunch.target, long_tailed=n_classes > 2, source=source
                    )
                )
    # load_dir warns, naming the file and the line, for each malformed file it skips
    skipped = [" ".join(str(w.message).split()) for w in caught if w.category is UserWarning]
    return datasets, skipped
