"""``sklearn-elm benchmark``: ELM against re-weighting, resampling and ensembles, fairly.

Every method is cross-validated on the same folds of the same datasets, with the same
preprocessing (median imputation, then standardisation, fitted on the training fold only), and
scored by balanced accuracy, macro F1, G-mean and ROC AUC:

* the same network (:class:`~sklearn_elm.ELMClassifier`, same module, optimiser and epochs)
  trained with different criteria: ``elm`` and ``ldam`` (with deferred re-weighting), ``ce``,
  ``focal``, ``cb`` (class-balanced weights) and ``la`` (logit adjustment);
* the same network trained with plain cross-entropy after an imbalanced-learn sampler, inside an
  imbalanced-learn :class:`~imblearn.pipeline.Pipeline` so that only training folds are
  resampled: ``smote``, ``borderline-smote``, ``adasyn``, ``random-over``, ``random-under`` and
  ``smote-tomek``;
* classic baselines: ``logreg-balanced``, ``hgb-balanced``, ``balanced-rf`` and
  ``easy-ensemble``.

Run ``sklearn-elm benchmark --help`` for the options. The run writes ``results.csv`` (one row
per dataset, method and fold, appended as cells finish, so that re-running with the same
``--out`` resumes), ``per_class.csv``, ``report.md`` and PNG plots; see
:func:`run_benchmark` and :func:`main`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import socket
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.combine import SMOTETomek
from imblearn.datasets import make_imbalance
from imblearn.ensemble import BalancedRandomForestClassifier, EasyEnsembleClassifier
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from joblib import Parallel, delayed
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.preprocessing import LabelEncoder, StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .classifier import ELMClassifier
from .datasets import load_keel_dir, make_long_tailed
from .metrics import geometric_mean_score, per_class_accuracy

__all__ = [
    "BASELINE_METHODS",
    "CRITERION_METHODS",
    "METHODS",
    "NETWORK_PARAMS",
    "SAMPLER_METHODS",
    "BenchmarkDataset",
    "SamplerUnavailableError",
    "load_default_suite",
    "main",
    "make_method",
    "run_benchmark",
]

#: the same network trained with different criteria
CRITERION_METHODS = ("elm", "ldam", "ce", "focal", "cb", "la")
#: the same network with plain cross-entropy after an imbalanced-learn sampler
SAMPLER_METHODS = (
    "smote",
    "borderline-smote",
    "adasyn",
    "random-over",
    "random-under",
    "smote-tomek",
)
#: classic imbalanced-learning baselines
BASELINE_METHODS = ("logreg-balanced", "hgb-balanced", "balanced-rf", "easy-ensemble")
METHODS = CRITERION_METHODS + SAMPLER_METHODS + BASELINE_METHODS

#: ELMClassifier settings shared by every network method. 40 epochs: on digits-LT10 and
#: synthetic-LT20 the training loss has flattened by epoch 20-30 and test balanced accuracy
#: is the same at 40 and 60 epochs (docs/benchmark_results.md), at two thirds of the cost.
NETWORK_PARAMS = {"hidden_layer_sizes": (100,), "lr": 0.01, "batch_size": 128, "max_epochs": 40}
#: ``--quick``: a smoke run of the whole pipeline, not a measurement
QUICK = {"folds": 2, "repeats": 1, "max_epochs": 15}

RESULT_COLUMNS = [
    "dataset",
    "method",
    "repeat",
    "fold",
    "seed",
    "balanced_accuracy",
    "macro_f1",
    "g_mean",
    "roc_auc",
    "fit_time",
    "predict_time",
    "n_train",
    "n_test",
    "error",
    "note",
]
PER_CLASS_COLUMNS = ["dataset", "method", "repeat", "fold", "class", "train_count", "accuracy"]
_CELL_KEYS = ["dataset", "method", "repeat", "fold"]
_METRICS = ("balanced_accuracy", "macro_f1", "g_mean", "roc_auc")
_NETWORK_PARAM_NAMES = ("hidden_layer_sizes", "lr", "batch_size", "max_epochs")
_IMBLEARN_TIMEOUT_S = 30


@dataclasses.dataclass
class BenchmarkDataset:
    """A dataset of the benchmark.

    Attributes
    ----------
    name : str
    X : ndarray of shape (n_samples, n_features)
        Float features; NaN marks a missing value (imputed inside the pipeline).
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
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    class_names: np.ndarray
    long_tailed: bool = False
    source: str = ""
    notes: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_arrays(cls, name, X, y, **kwargs):
        """Encode ``y``, cast ``X`` to float and drop classes too small to cross-validate."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        notes = list(kwargs.pop("notes", []))
        labels, counts = np.unique(y, return_counts=True)
        too_small = labels[counts < 2]
        if too_small.size:
            # a class with one sample can be in the training or the test fold, never both
            keep = ~np.isin(y, too_small)
            X, y = X[keep], y[keep]
            notes.append(
                f"dropped class(es) {too_small.tolist()} with a single sample "
                "(it cannot be in both a training and a test fold)"
            )
        encoder = LabelEncoder().fit(y)
        return cls(name, X, encoder.transform(y), encoder.classes_, notes=notes, **kwargs)

    @property
    def class_counts(self):
        return np.bincount(self.y, minlength=self.class_names.size)

    @property
    def imbalance_ratio(self):
        counts = self.class_counts
        return float(counts.max() / counts.min())


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
def load_default_suite():
    """The embedded, offline suite of five imbalanced datasets.

    * ``digits-lt10`` and ``digits-lt100``: sklearn's digits made long-tailed with
      :func:`~sklearn_elm.datasets.make_long_tailed` (exponential profile, ratios 10 and 100;
      at ratio 100 the tail class keeps a single digit and is dropped, leaving 9 classes);
    * ``wine-imb``: the three wine cultivars subsampled by imbalanced-learn's
      :func:`~imblearn.datasets.make_imbalance` to 24 / 71 / 7 samples;
    * ``breast-cancer-imb``: 30 malignant against 357 benign tumours (``make_imbalance``);
    * ``synthetic-lt20``: a 20-class ``make_classification`` problem made long-tailed (ratio
      40).

    The suite is fixed (``random_state=0``), whatever the seed of the cross-validation.

    Returns
    -------
    datasets : list of BenchmarkDataset

    Examples
    --------
    >>> from sklearn_elm.benchmark import load_default_suite
    >>> for dataset in load_default_suite():
    ...     print(dataset.name, dataset.X.shape, dataset.class_counts.min(),
    ...           round(dataset.imbalance_ratio))
    digits-lt10 (707, 64) 17 10
    digits-lt100 (426, 64) 2 87
    wine-imb (102, 13) 7 10
    breast-cancer-imb (387, 30) 30 12
    synthetic-lt20 (1358, 20) 6 41
    """
    digits = load_digits()
    suite = []
    for ratio in (10, 100):
        X, y = make_long_tailed(digits.data, digits.target, imbalance_ratio=ratio, random_state=0)
        suite.append(
            BenchmarkDataset.from_arrays(
                f"digits-lt{ratio}",
                X,
                y,
                long_tailed=True,
                source=f"load_digits, make_long_tailed(imbalance_ratio={ratio})",
            )
        )
    wine = load_wine()
    wine_counts = {0: 24, 1: 71, 2: 7}
    X, y = make_imbalance(wine.data, wine.target, sampling_strategy=wine_counts, random_state=0)
    suite.append(
        BenchmarkDataset.from_arrays(
            "wine-imb", X, y, source=f"load_wine, make_imbalance({wine_counts})"
        )
    )
    cancer = load_breast_cancer()
    cancer_counts = {0: 30, 1: 357}  # 0 is malignant
    X, y = make_imbalance(
        cancer.data, cancer.target, sampling_strategy=cancer_counts, random_state=0
    )
    suite.append(
        BenchmarkDataset.from_arrays(
            "breast-cancer-imb",
            X,
            y,
            source=f"load_breast_cancer, make_imbalance({cancer_counts})",
        )
    )
    X, y = make_classification(
        n_samples=5000,
        n_features=20,
        n_informative=10,
        n_classes=20,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=0,
    )
    X, y = make_long_tailed(X, y, imbalance_ratio=40, random_state=0)
    suite.append(
        BenchmarkDataset.from_arrays(
            "synthetic-lt20",
            X,
            y,
            long_tailed=True,
            source="make_classification(20 classes, 10 informative of 20 features), "
            "make_long_tailed(imbalance_ratio=40)",
        )
    )
    return suite


def _load_keel_suite(directory):
    suite = []
    for name, bunch in load_keel_dir(directory):
        n_missing = int(np.isnan(bunch.data).sum())
        source = f"KEEL {Path(bunch.filename).name}"
        if n_missing:
            source += f" ({n_missing} missing values, median-imputed in the pipeline)"
        suite.append(
            BenchmarkDataset.from_arrays(
                name,
                bunch.data,
                bunch.target,
                long_tailed=np.unique(bunch.target).size > 2,
                source=source,
            )
        )
    return suite


def _load_imblearn_suite(names, log):
    from imblearn.datasets import fetch_datasets

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_IMBLEARN_TIMEOUT_S)  # fail, rather than hang, behind a firewall
    try:
        collection = fetch_datasets(filter_data=tuple(names) if names else None)
    except ValueError as exc:  # a name of --datasets is not in the collection
        raise SystemExit(str(exc)) from exc
    except OSError as exc:  # URLError, timeouts, DNS failures
        log(
            "imbalanced-learn's fetch_datasets collection is not cached and could not be "
            f"downloaded ({type(exc).__name__}: {exc}); skipping --suite imblearn"
        )
        return []
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return [
        BenchmarkDataset.from_arrays(
            name, bunch.data, bunch.target, source="imblearn.datasets.fetch_datasets"
        )
        for name, bunch in collection.items()
    ]


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------
class SamplerUnavailableError(ValueError):
    """The sampler of a method cannot run on this training fold (too few minority samples)."""


def _network(loss, network_params, random_state, device):
    # DRW is part of ELM and LDAM as published; the other criteria train without it
    drw_start = "auto" if loss in ("elm", "ldam") else None
    return ELMClassifier(
        loss,
        drw_start=drw_start,
        device=device,
        random_state=random_state,
        **network_params,
    )


def _sampler(method, class_counts, random_state):
    if method == "random-over":
        return RandomOverSampler(random_state=random_state)
    if method == "random-under":
        return RandomUnderSampler(random_state=random_state)
    # interpolating samplers need k neighbours inside the smallest class, so k adapts to it
    n_smallest = int(np.min(class_counts))
    k_neighbors = min(5, n_smallest - 1)
    if k_neighbors < 1:
        raise SamplerUnavailableError(
            f"{method} needs at least 2 training samples in every class to interpolate; "
            f"the smallest class of this training fold has {n_smallest}"
        )
    if method == "smote":
        return SMOTE(k_neighbors=k_neighbors, random_state=random_state)
    if method == "borderline-smote":
        m_neighbors = min(10, int(np.sum(class_counts)) - 1)
        return BorderlineSMOTE(
            k_neighbors=k_neighbors, m_neighbors=m_neighbors, random_state=random_state
        )
    if method == "adasyn":
        return ADASYN(n_neighbors=k_neighbors, random_state=random_state)
    if method == "smote-tomek":
        smote = SMOTE(k_neighbors=k_neighbors, random_state=random_state)
        return SMOTETomek(smote=smote, random_state=random_state)
    raise ValueError(f"unknown sampler method {method!r}")


def make_method(method, class_counts, *, network_params=None, random_state=None, device="cpu"):
    """The imbalanced-learn pipeline of a benchmark method, for one training fold.

    Every pipeline imputes missing values (median) and standardises the features, fitted on the
    training fold only, then resamples (sampler methods) and classifies.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    class_counts : array-like of shape (n_classes,)
        Samples of each class in the training fold: the number of neighbours of SMOTE,
        Borderline-SMOTE, ADASYN and SMOTE-Tomek is ``min(5, smallest count - 1)``.
    network_params : dict, default=None
        ELMClassifier parameters of the network methods; defaults to :data:`NETWORK_PARAMS`.
    random_state : int, default=None
        Seed of the network, the sampler and the ensembles.
    device : str, default="cpu"
        Torch device of the network methods.

    Returns
    -------
    pipeline : imblearn.pipeline.Pipeline

    Raises
    ------
    SamplerUnavailableError
        If a neighbour-based sampler cannot run: a class has fewer than 2 training samples.

    Examples
    --------
    >>> from sklearn_elm.benchmark import make_method
    >>> make_method("smote", [40, 4], random_state=0).named_steps["sample"]
    SMOTE(k_neighbors=3, random_state=0)
    >>> [name for name, _ in make_method("elm", [40, 4]).steps]
    ['impute', 'scale', 'classify']
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose among {', '.join(METHODS)}")
    network_params = NETWORK_PARAMS if network_params is None else network_params
    steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    if method in CRITERION_METHODS:
        steps.append(("classify", _network(method, network_params, random_state, device)))
    elif method in SAMPLER_METHODS:
        steps.append(("sample", _sampler(method, class_counts, random_state)))
        steps.append(("classify", _network("ce", network_params, random_state, device)))
    elif method == "logreg-balanced":
        steps.append(("classify", LogisticRegression(class_weight="balanced", max_iter=1000)))
    elif method == "hgb-balanced":
        steps.append(
            (
                "classify",
                HistGradientBoostingClassifier(class_weight="balanced", random_state=random_state),
            )
        )
    elif method == "balanced-rf":
        # imbalanced-learn >= 0.13 defaults, spelled out: every class undersampled per tree
        steps.append(
            (
                "classify",
                BalancedRandomForestClassifier(
                    sampling_strategy="all",
                    replacement=True,
                    bootstrap=False,
                    random_state=random_state,
                ),
            )
        )
    else:  # easy-ensemble
        steps.append(("classify", EasyEnsembleClassifier(random_state=random_state)))
    return Pipeline(steps)


# --------------------------------------------------------------------------------------------
# cross-validation grid
# --------------------------------------------------------------------------------------------
def _cell_seed(seed, repeat, fold):
    # the same seed for every method and dataset of a (repeat, fold): only the method differs
    return int(np.random.SeedSequence([seed, repeat, fold]).generate_state(1)[0] % (2**31 - 1))


def _folds(dataset, n_splits, n_repeats, seed):
    """Splits of a dataset, with ``n_splits`` reduced to its smallest class count."""
    smallest = int(dataset.class_counts.min())
    if n_splits > smallest:
        note = f"{n_splits} folds reduced to {smallest}: its smallest class has {smallest} samples"
        if note not in dataset.notes:
            dataset.notes.append(note)
        n_splits = smallest
    cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    splits = cv.split(np.zeros((dataset.y.size, 1)), dataset.y)
    return [
        (index // n_splits, index % n_splits, train, test)
        for index, (train, test) in enumerate(splits)
    ]


def _one_line(message):
    return " ".join(str(message).split())  # one CSV line per row, whatever the message


def _warning_note(caught):
    messages = dict.fromkeys(f"{w.category.__name__}: {_one_line(w.message)}" for w in caught)
    note = " | ".join(messages)
    return note if len(note) <= 300 else note[:297] + "..."


def _roc_auc(y_true, proba, n_classes):
    if n_classes == 2:
        return roc_auc_score(y_true, proba[:, 1])
    return roc_auc_score(
        y_true, proba, multi_class="ovr", average="macro", labels=np.arange(n_classes)
    )


_WARMED_UP_DEVICES = set()


def _warm_up_torch(device):
    """Fit a tiny network once per process, so that no cell's fit_time pays torch's set-up."""
    if device in _WARMED_UP_DEVICES:
        return
    X = np.random.RandomState(0).normal(size=(8, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _network("elm", {"max_epochs": 1}, 0, device).fit(X, np.arange(8) % 2)
    _WARMED_UP_DEVICES.add(device)


def _evaluate_cell(dataset, method, repeat, fold, train, test, seed, network_params, device):
    """Fit and score one method on one fold, on one thread; failures become NaN and an error."""
    import torch

    # Small models on a shared machine: one thread per cell is faster and steadier than
    # several (OpenMP spin-waiting made a 2-thread HistGradientBoosting fit 10x slower on 2
    # busy cores); parallelism comes from running cells side by side (n_jobs).
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            if method not in BASELINE_METHODS:
                _warm_up_torch(device)
            return _score_cell(
                dataset, method, repeat, fold, train, test, seed, network_params, device
            )
    finally:
        torch.set_num_threads(torch_threads)


def _score_cell(dataset, method, repeat, fold, train, test, seed, network_params, device):
    X_train, y_train = dataset.X[train], dataset.y[train]
    X_test, y_test = dataset.X[test], dataset.y[test]
    n_classes = dataset.class_names.size
    train_counts = np.bincount(y_train, minlength=n_classes)
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    row.update(
        dataset=dataset.name,
        method=method,
        repeat=repeat,
        fold=fold,
        seed=seed,
        n_train=y_train.size,
        n_test=y_test.size,
        error="",
        note="",
    )
    per_class = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = make_method(
                method,
                train_counts,
                network_params=network_params,
                random_state=_cell_seed(seed, repeat, fold),
                device=device,
            )
            start = time.perf_counter()
            model.fit(X_train, y_train)
            row["fit_time"] = time.perf_counter() - start
            start = time.perf_counter()
            y_pred = model.predict(X_test)
            row["predict_time"] = time.perf_counter() - start
            row["balanced_accuracy"] = balanced_accuracy_score(y_test, y_pred)
            row["macro_f1"] = f1_score(y_test, y_pred, average="macro", zero_division=0)
            row["g_mean"] = geometric_mean_score(y_test, y_pred, average="multiclass")
            if hasattr(model, "predict_proba"):
                row["roc_auc"] = _roc_auc(y_test, model.predict_proba(X_test), n_classes)
            accuracies = per_class_accuracy(y_test, y_pred, labels=np.arange(n_classes))
            per_class = [
                {
                    "dataset": dataset.name,
                    "method": method,
                    "repeat": repeat,
                    "fold": fold,
                    "class": str(name),
                    "train_count": int(count),
                    "accuracy": float(accuracy),
                }
                for name, count, accuracy in zip(
                    dataset.class_names, train_counts, accuracies, strict=True
                )
            ]
        except Exception as exc:  # one failed cell must not end a long run
            row["error"] = f"{type(exc).__name__}: {_one_line(exc)}"[:300]
    row["note"] = _warning_note(caught)
    return row, per_class


# --------------------------------------------------------------------------------------------
# results files
# --------------------------------------------------------------------------------------------
def _read_csv(path, columns, keys, last_required):
    """Rows of a results file, without the cut or repeated rows an interrupted run leaves."""
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=columns)
    # A run killed mid-line leaves a cut last row: too many fields once the next row is
    # appended (skipped), or too few (missing ``last_required``, dropped); the cell is redone.
    frame = pd.read_csv(path, on_bad_lines="skip", dtype={"class": str, "error": str, "note": str})
    frame = frame.dropna(subset=[last_required])
    # a cut row read as NaN made integer columns float; give them back their type
    integers = [
        c for c in ("repeat", "fold", "seed", "n_train", "n_test", "train_count") if c in frame
    ]
    frame = frame.astype(dict.fromkeys(integers, "int64"))
    for column in ("error", "note"):
        if column in frame:
            frame[column] = frame[column].fillna("")
    frame = frame.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)
    with open(path) as file:
        n_rows = sum(1 for _ in file) - 1
    if n_rows != len(frame):  # leave a clean file for the user and for appending
        frame.to_csv(path, index=False)
    return frame


def _read_results(out_dir):
    """Read ``results.csv`` of a benchmark folder (cells in the order they finished).

    Parameters
    ----------
    out_dir : str or path-like

    Returns
    -------
    results : DataFrame
    """
    return _read_csv(Path(out_dir) / "results.csv", RESULT_COLUMNS, _CELL_KEYS, "n_test")


def _read_per_class(out_dir):
    return _read_csv(
        Path(out_dir) / "per_class.csv", PER_CLASS_COLUMNS, [*_CELL_KEYS, "class"], "train_count"
    )


def _append_rows(path, rows, columns):
    if not rows:
        return
    header = not path.exists() or path.stat().st_size == 0
    if not header:
        with open(path, "rb") as file:  # finish a line cut by an interrupted run
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                with open(path, "a") as fix:
                    fix.write("\n")
    pd.DataFrame(rows, columns=columns).to_csv(path, mode="a", header=header, index=False)


def _check_protocol(out_dir, protocol):
    """Refuse to mix rows of different protocols in one results folder."""
    path = out_dir / "protocol.json"
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != protocol:
            changed = sorted(
                k for k in protocol.keys() | previous.keys() if previous.get(k) != protocol.get(k)
            )
            raise ValueError(
                f"{out_dir} holds results of another protocol (different {', '.join(changed)}: "
                f"{ {k: previous.get(k) for k in changed} } there, "
                f"{ {k: protocol.get(k) for k in changed} } now); use another --out to keep "
                "both, or delete the folder to start over"
            )
    else:
        path.write_text(json.dumps(protocol, indent=2) + "\n")


def run_benchmark(
    datasets,
    methods=METHODS,
    out_dir="benchmark_results",
    *,
    n_splits=5,
    n_repeats=2,
    seed=0,
    network_params=None,
    device="cpu",
    n_jobs=1,
    progress=True,
    log=None,
):
    """Cross-validate every method on every dataset, appending rows to ``results.csv``.

    The grid of (dataset, method, repeat, fold) cells runs in joblib workers; the main process
    appends each cell to ``out_dir/results.csv`` (and its per-class accuracies to
    ``per_class.csv``) as soon as it finishes. Cells already in ``results.csv`` are skipped, so
    an interrupted run resumes where it stopped. Folds come from
    :class:`~sklearn.model_selection.RepeatedStratifiedKFold` with ``random_state=seed``, the
    same for every method, with ``n_splits`` reduced to the smallest class count of a dataset
    when it exceeds it.

    Parameters
    ----------
    datasets : list of BenchmarkDataset
    methods : sequence of str, default=METHODS
    out_dir : str or path-like, default="benchmark_results"
    n_splits : int, default=5
    n_repeats : int, default=2
    seed : int, default=0
        Seed of the folds and, through a per-fold seed, of every network, sampler and ensemble.
    network_params : dict, default=None
        ELMClassifier settings of all network methods; defaults to :data:`NETWORK_PARAMS`.
    device : str, default="cpu"
        Torch device of the networks.
    n_jobs : int, default=1
        Parallel cells (joblib); -1 uses every core. Every cell runs on one thread (torch,
        BLAS and OpenMP), so ``n_jobs`` is the number of cores used.
    progress : bool, default=True
        Show a tqdm progress bar with the ETA on stderr.
    log : callable, default=None
        Receives progress messages; defaults to printing them on stderr.

    Returns
    -------
    results : DataFrame
        The rows of ``results.csv`` that belong to ``datasets`` × ``methods``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elm.benchmark import load_default_suite, run_benchmark
    >>> wine = [d for d in load_default_suite() if d.name == "wine-imb"]
    >>> results = run_benchmark(wine, ["logreg-balanced"], tempfile.mkdtemp(), n_splits=2,
    ...                         n_repeats=1, progress=False, log=lambda message: None)
    >>> results[["dataset", "method", "fold"]].to_numpy().tolist()
    [['wine-imb', 'logreg-balanced', 0], ['wine-imb', 'logreg-balanced', 1]]
    >>> bool(results["balanced_accuracy"].between(0, 1).all())
    True
    """
    log = log or _print_stderr
    network_params = dict(NETWORK_PARAMS if network_params is None else network_params)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    protocol = {
        "folds": n_splits,
        "repeats": n_repeats,
        "seed": seed,
        "network_params": {
            k: list(v) if isinstance(v, tuple) else v for k, v in network_params.items()
        },
    }
    _check_protocol(out_dir, protocol)
    results_path, per_class_path = out_dir / "results.csv", out_dir / "per_class.csv"
    done = set(_read_results(out_dir)[_CELL_KEYS].itertuples(index=False, name=None))

    tasks = []
    for dataset in datasets:
        for repeat, fold, train, test in _folds(dataset, n_splits, n_repeats, seed):
            for method in methods:
                if (dataset.name, method, repeat, fold) not in done:
                    tasks.append((dataset, method, repeat, fold, train, test))
    log(
        f"{len(tasks)} cells to run ({len(done)} already in {results_path}); "
        f"{len(datasets)} datasets x {len(methods)} methods"
    )
    for dataset in datasets:
        for note in dataset.notes:
            log(f"{dataset.name}: {note}")

    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    cells = parallel(
        delayed(_evaluate_cell)(
            dataset, method, repeat, fold, train, test, seed, network_params, device
        )
        for dataset, method, repeat, fold, train, test in tasks
    )
    with tqdm(
        total=len(tasks),
        desc="benchmark",
        unit="cell",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        for row, per_class in cells:
            # per-class rows first: a cell in results.csv always has its per-class rows
            _append_rows(per_class_path, per_class, PER_CLASS_COLUMNS)
            _append_rows(results_path, [row], RESULT_COLUMNS)
            bar.set_postfix_str(f"{row['dataset']} / {row['method']}", refresh=False)
            bar.update()
    results = _read_results(out_dir)
    selected = results["dataset"].isin([d.name for d in datasets]) & results["method"].isin(
        list(methods)
    )
    return results[selected].reset_index(drop=True)


def _print_stderr(message):
    tqdm.write(message, file=sys.stderr)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
def _comma_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-elm",
        description="Tools of sklearn-elm, the Enlarged Large Margin loss for scikit-learn.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "benchmark",
        help="compare ELM with re-weighting, resampling and ensembles on imbalanced datasets",
        description=(
            "Cross-validate ELM and its competitors on the same folds and write results.csv, "
            "per_class.csv, report.md and PNG plots to --out. Re-running with the same --out "
            "resumes: cells already in results.csv are skipped."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bench.add_argument("--out", default="benchmark_results", help="output folder")
    bench.add_argument(
        "--suite",
        choices=["default", "imblearn", "none"],
        default=None,
        help="datasets: the embedded offline suite, or imbalanced-learn's fetch_datasets "
        "collection (downloaded once, then cached; skipped when offline). Default: 'default', "
        "or 'none' when --keel-dir is given",
    )
    bench.add_argument(
        "--keel-dir", default=None, help="also run every KEEL .dat file of this folder"
    )
    bench.add_argument(
        "--datasets", type=_comma_list, default=None, help="comma-separated dataset names to keep"
    )
    bench.add_argument(
        "--methods",
        type=_comma_list,
        default=list(METHODS),
        help="comma-separated methods among: " + ",".join(METHODS),
    )
    bench.add_argument("--folds", type=int, default=None, help="folds per repeat [5; quick: 2]")
    bench.add_argument("--repeats", type=int, default=None, help="repeats [2; quick: 1]")
    bench.add_argument("--seed", type=int, default=0, help="seed of folds and models")
    bench.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help=f"epochs of the networks [{NETWORK_PARAMS['max_epochs']}; "
        f"quick: {QUICK['max_epochs']}]",
    )
    bench.add_argument("--device", default="cpu", help="torch device of the networks")
    bench.add_argument("--n-jobs", type=int, default=1, help="parallel cells (joblib); -1: all")
    bench.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 folds x 1 repeat, 15 epochs (under 2 minutes)",
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Entry point of the ``sklearn-elm`` command; ``benchmark`` is its subcommand.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None. With no arguments, or
        options only, the subcommand defaults to ``benchmark``.

    Returns
    -------
    status : int
        0 on success.

    Examples
    --------
    >>> from sklearn_elm.benchmark import main
    >>> main(["benchmark", "--methods", "nope"])
    Traceback (most recent call last):
    ...
    SystemExit: unknown method(s) nope; choose among elm, ldam, ce, ...
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "benchmark")
    command_line = shlex.join(["sklearn-elm", *argv])
    args = _build_parser().parse_args(argv)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(
            f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}"
        )
    started = time.perf_counter()
    n_splits = args.folds or (QUICK["folds"] if args.quick else 5)
    n_repeats = args.repeats or (QUICK["repeats"] if args.quick else 2)
    network_params = dict(NETWORK_PARAMS)
    if args.quick:
        network_params["max_epochs"] = QUICK["max_epochs"]
    if args.max_epochs:
        network_params["max_epochs"] = args.max_epochs

    suite = args.suite or ("none" if args.keel_dir else "default")
    datasets = []
    if suite == "default":
        datasets += load_default_suite()
    elif suite == "imblearn":
        datasets += _load_imblearn_suite(args.datasets, _print_stderr)
    if args.keel_dir:
        datasets += _load_keel_suite(args.keel_dir)
    if args.datasets:
        missing = sorted(set(args.datasets) - {d.name for d in datasets})
        if missing and suite != "imblearn":
            raise SystemExit(f"unknown dataset(s) {', '.join(missing)}")
        datasets = [d for d in datasets if d.name in args.datasets]
    if not datasets:
        _print_stderr("no dataset to run; nothing written")
        return 0

    try:
        results = run_benchmark(
            datasets,
            args.methods,
            args.out,
            n_splits=n_splits,
            n_repeats=n_repeats,
            seed=args.seed,
            network_params=network_params,
            device=args.device,
            n_jobs=args.n_jobs,
            progress=not args.no_progress,
        )
    except ValueError as exc:  # e.g. --out holds another protocol's results
        raise SystemExit(str(exc)) from exc

    from ._benchmark_report import write_report

    per_class = _read_per_class(args.out)
    report = write_report(
        results,
        per_class,
        datasets,
        args.methods,
        Path(args.out),
        command_line=command_line,
        protocol={
            "folds": n_splits,
            "repeats": n_repeats,
            "seed": args.seed,
            "network_params": network_params,
            "device": args.device,
            "n_jobs": args.n_jobs,
            "quick": args.quick,
        },
        wall_time=time.perf_counter() - started,
    )
    _print_stderr(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
