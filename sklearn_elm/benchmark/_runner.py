"""The runner of the benchmark: splits, one scored cell, and the grid of cells.

A cell is one method fitted on the training part of one split of one dataset and scored on its
test part. Cells are independent, so they run in joblib workers (or on a dask cluster) and are
appended to ``results.csv`` as they finish. The split of a dataset is made once, in the main
process, and shared by every method: only the method differs between the cells of a split.
Tasks are listed dataset by dataset, so that an engine training every split of a dataset at
once (such as the batched trainer of ``ELMClassifierCV``) can take over a dataset's network
cells in place of :func:`_evaluate_cell`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import platform
import re
import sys
import time
import traceback
import types
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_backend
from sklearn.base import clone
from sklearn.metrics import (
    balanced_accuracy_score,
    check_scoring,
    f1_score,
    make_scorer,
    roc_auc_score,
)
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    RepeatedStratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.model_selection._validation import _warn_or_raise_about_fit_failures
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..classifier import ELMClassifier
from ..datasets import make_long_tailed
from ..metrics import geometric_mean_score, per_class_accuracy, shot_accuracy
from ._methods import (
    INNER_FOLDS,
    METHOD_TABLE,
    METHODS,
    NETWORK_PARAMS,
    make_custom_method,
    make_method,
)
from ._results import (
    CELL_KEYS,
    PER_CLASS_COLUMNS,
    RESULT_COLUMNS,
    append_rows,
    check_protocol,
    load_results_folder,
    package_versions,
    read_results,
)

__all__ = ["METRICS", "RUN_PARAMETER_CONSTRAINTS", "run_benchmark"]

#: the metrics ``--metric`` can rank, with their scikit-learn scorer (inner CV of ``--tune``)
METRICS = {
    "balanced_accuracy": "balanced_accuracy",
    "macro_f1": "f1_macro",
    "g_mean": make_scorer(geometric_mean_score, average="multiclass"),
}

#: what :func:`run_benchmark` accepts for its counts, and ``sklearn-elm benchmark`` for their
#: options: at least 2 folds (a test part and a training part), a seed numpy's seed
#: sequences and scikit-learn's splitters both take, and joblib's ``n_jobs`` (never 0)
RUN_PARAMETER_CONSTRAINTS = {
    "n_splits": [Interval(numbers.Integral, 2, None, closed="left")],
    "n_repeats": [Interval(numbers.Integral, 1, None, closed="left")],
    "seed": [Interval(numbers.Integral, 0, 2**32 - 1, closed="both")],
    "n_jobs": [
        Interval(numbers.Integral, None, -1, closed="right"),
        Interval(numbers.Integral, 1, None, closed="left"),
        None,
    ],
}


def _seed(*entropy):
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0] % (2**31 - 1))


def _cell_seed(seed, repeat, fold):
    # the same seed for every method of a (repeat, fold): only the method differs
    return _seed(seed, repeat, fold)


def _cv_splits(dataset, n_splits, n_repeats, seed):
    """Repeated stratified k-fold, ``n_splits`` reduced to the smallest class count."""
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


def _long_tail_splits(dataset, n_splits, n_repeats, seed):
    """The long-tail protocol: per repeat, one stratified split of the source, train made LT.

    There are ``n_splits * n_repeats`` repeats, so that a long-tailed dataset has as many
    scored cells as a k-fold one; each test part is ``1 / n_splits`` of the source. The split
    and the subsampling of each repeat have their own seeds.
    """
    splits = []
    for repeat in range(n_splits * n_repeats):
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=1 / n_splits, random_state=_seed(seed, repeat, 0)
        )
        train, test = next(splitter.split(np.zeros((dataset.y.size, 1)), dataset.y))
        # make_long_tailed subsamples the rows it is given: here, the training indices
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train, _ = make_long_tailed(
                train,
                dataset.y[train],
                imbalance_ratio=dataset.lt_ratio,
                random_state=_seed(seed, repeat, 1),
            )
        splits.append((repeat, 0, train, test))
        _note_lower_ratio(dataset, caught, train)
    return splits


def _note_lower_ratio(dataset, caught, train):
    """A dataset note (not a warning per repeat) when its training parts miss the asked ratio."""
    for warning in caught:
        if "imbalance_ratio=" not in str(warning.message):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
            continue
        counts = np.unique(dataset.y[train], return_counts=True)[1]
        note = (f"long-tailed training parts reach ratio {counts.max() / counts.min():.4g}, "
                f"not {dataset.lt_ratio:g}: every class keeps at least one sample")
        if not any(n.startswith("long-tailed training parts reach") for n in dataset.notes):
            dataset.notes.append(note)


def make_splits(dataset, n_splits, n_repeats, seed):
    """The ``(repeat, fold, train, test)`` index arrays of a dataset under its protocol.

    Parameters
    ----------
    dataset : BenchmarkDataset
        The dataset; its ``protocol`` chooses k-fold or long-tail splits.
    n_splits : int
        Folds of k-fold cross-validation; a long-tailed dataset holds out ``1 / n_splits`` of
        its source per repeat.
    n_repeats : int
        Repeats of k-fold; a long-tailed dataset gets ``n_splits * n_repeats`` repeats.
    seed : int
        Seed of the splits (and of the long-tailed subsampling).

    Returns
    -------
    splits : list of tuple
        ``(repeat, fold, train_indices, test_indices)``.
    """
    if dataset.protocol == "long-tail":
        return _long_tail_splits(dataset, n_splits, n_repeats, seed)
    return _cv_splits(dataset, n_splits, n_repeats, seed)


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
        make_method("elm", [4, 4], network_params={"max_epochs": 1}, device=device).fit(
            X, np.arange(8) % 2
        )
    _WARMED_UP_DEVICES.add(device)


def _build(method, estimator, train_counts, random_state, settings):
    if estimator is not None:
        return make_custom_method(estimator)
    return make_method(
        method,
        train_counts,
        network_params=settings["network_params"],
        random_state=random_state,
        device=settings["device"],
        tune=settings["tuned"],
        scoring=METRICS[settings["metric"]],
    )


def _params_text(params):
    """The ``best_params`` column: a search's chosen parameters as JSON."""
    return json.dumps(params, sort_keys=True, default=str)


def _best_params(model):
    search = model if hasattr(model, "best_params_") else None
    if search is None and hasattr(model, "named_steps"):
        search = model.named_steps.get("classify")
    params = getattr(search, "best_params_", None)
    return _params_text(params) if params is not None else ""


def _evaluate_cell(dataset, method, estimator, repeat, fold, train, test, seed, settings):
    """Fit and score one cell on one thread; a failure becomes NaN scores and an error."""
    import torch

    # Small models on a shared machine: one thread per cell is faster and steadier than
    # several (OpenMP spin-waiting made a 2-thread HistGradientBoosting fit 10x slower on 2
    # busy cores); parallelism comes from running cells side by side (n_jobs).
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            if estimator is not None or METHOD_TABLE[method].family != "baseline":
                _warm_up_torch(settings["device"])
            return _score_cell(
                dataset, method, estimator, repeat, fold, train, test, seed, settings
            )
    finally:
        torch.set_num_threads(torch_threads)


def _new_row(dataset, method, repeat, fold, seed, settings, n_train, n_test):
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    row.update(
        dataset=dataset.name,
        method=method,
        tuned=settings["tuned"],
        repeat=repeat,
        fold=fold,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        best_params="",
        error="",
        note="",
    )
    return row


def _score_fitted(model, row, dataset, method, settings, X_test, y_test, train_counts):
    """Score a fitted model on a test part: fills ``row``, returns the per-class rows."""
    n_classes = dataset.class_names.size
    start = time.perf_counter()
    y_pred = model.predict(X_test)
    row["predict_time"] = time.perf_counter() - start
    row["balanced_accuracy"] = balanced_accuracy_score(y_test, y_pred)
    row["macro_f1"] = f1_score(y_test, y_pred, average="macro", zero_division=0)
    row["g_mean"] = geometric_mean_score(y_test, y_pred, average="multiclass")
    if hasattr(model, "predict_proba"):
        row["roc_auc"] = _roc_auc(y_test, model.predict_proba(X_test), n_classes)
    if dataset.protocol == "long-tail":
        shots = shot_accuracy(y_test, y_pred, dict(enumerate(train_counts.tolist())))
        for group in ("many", "medium", "few"):
            row[f"{group}_shot_accuracy"] = shots[group]
    row["best_params"] = _best_params(model)
    accuracies = per_class_accuracy(y_test, y_pred, labels=np.arange(n_classes))
    return [
        {
            "dataset": dataset.name,
            "method": method,
            "tuned": settings["tuned"],
            "repeat": row["repeat"],
            "fold": row["fold"],
            "class": str(name),
            "train_count": int(count),
            "accuracy": float(accuracy),
        }
        for name, count, accuracy in zip(
            dataset.class_names, train_counts, accuracies, strict=True
        )
    ]


def _error_text(exc):
    return f"{type(exc).__name__}: {_one_line(exc)}"[:300]


def _join_notes(*notes):
    note = " | ".join(n for n in notes if n)
    return note if len(note) <= 300 else note[:297] + "..."


def _score_cell(dataset, method, estimator, repeat, fold, train, test, seed, settings):
    X_train, y_train = dataset.X[train], dataset.y[train]
    X_test, y_test = dataset.X[test], dataset.y[test]
    train_counts = np.bincount(y_train, minlength=dataset.class_names.size)
    row = _new_row(dataset, method, repeat, fold, seed, settings, y_train.size, y_test.size)
    per_class = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = _build(
                method, estimator, train_counts, _cell_seed(seed, repeat, fold), settings
            )
            start = time.perf_counter()
            model.fit(X_train, y_train)
            row["fit_time"] = time.perf_counter() - start
            per_class = _score_fitted(
                model, row, dataset, method, settings, X_test, y_test, train_counts
            )
        except Exception as exc:  # one failed cell must not end a long run
            row["error"] = _error_text(exc)
    row["note"] = _join_notes(settings.get("batch_note", ""), _warning_note(caught))
    return row, per_class


def _is_batchable(method, estimator, settings):
    """Whether a cell joins its dataset's batched fit: a network cell without its own engine.

    An untuned criterion or sampler cell is one network; a tuned sampler cell is the networks
    of its grid search (every candidate on every inner fold, then the refit). A tuned criterion
    cell is an ``ELMClassifierCV``, which batches its own search.
    """
    if not settings["batched"] or estimator is not None:
        return False
    family = METHOD_TABLE[method].family
    return family == "sampler" or (family == "criterion" and not settings["tuned"])


class _StackedRows:
    """Blocks of rows stacked into one matrix, for the calls of the batched trainer."""

    def __init__(self):
        self.X, self.y, self.size = [], [], 0

    def add(self, X, y):
        """Append a block; returns the indices of its rows in the stacked matrix."""
        rows = np.arange(self.size, self.size + len(y))
        self.X.append(np.asarray(X, dtype=np.float32))
        self.y.append(np.asarray(y))
        self.size += len(y)
        return rows

    def stacked(self):
        return np.vstack(self.X), np.concatenate(self.y)


@dataclasses.dataclass
class _BatchedCell:
    """One cell of a dataset's batched fit, from its preparation to its scores.

    ``member`` indexes the members of the final :func:`fit_members` call (the cell's network,
    or a tuned cell's refit); ``search`` holds a tuned cell's grid search until its choice.
    """

    task: tuple
    train_counts: np.ndarray = None
    test_rows: np.ndarray = None
    member: int = None
    seconds: float = 0.0  # resampling, and a tuned cell's inner training
    batched: bool = True
    reasons: list = dataclasses.field(default_factory=list)
    best_params: str = ""
    note: str = ""
    failure: Exception = None
    search: _InnerSearch = None


@dataclasses.dataclass
class _InnerSearch:
    """The inner cross-validation of a tuned sampler cell, as its ``GridSearchCV`` runs it.

    ``fits[c][k]`` is the inner member of candidate ``c`` on inner split ``k``, or the
    exception its sampler raised; ``test_rows[k]`` the stacked rows of split ``k``'s test part.
    """

    search: GridSearchCV
    candidates: list
    fits: list
    test_rows: list


def _network_steps(pipeline, method):
    """``(preprocessing, sampler or None, network)`` of a network method's pipeline."""
    steps = [name for name, _ in pipeline.steps]
    if steps[:2] != ["impute", "scale"] or steps[-1] != "classify" or steps[2:-1] not in (
        [],
        ["sample"],
    ):
        raise ValueError(f"{method} is not a preprocessed network; it cannot be batched")
    return pipeline[:2], pipeline.named_steps.get("sample"), pipeline.named_steps["classify"]


def _params_key(estimator):
    """A hashable key of an estimator's parameters (nested estimators by their own ones)."""
    from sklearn.base import BaseEstimator

    params = estimator.get_params(deep=True)
    return tuple(
        (name, repr(value))
        for name, value in sorted(params.items())
        if not isinstance(value, BaseEstimator)
    )


def _block(stack, blocks, key, preprocessing, X_fit, X, y):
    """``X`` transformed by ``preprocessing`` fitted on ``X_fit``: ``(rows in stack, block)``.

    The block is kept in float64 (as the pipeline passes it on to a sampler) under ``key``
    in ``blocks``, so that the cells sharing a split and its preprocessing share its block.
    """
    key = (*key, _params_key(preprocessing))
    if key not in blocks:
        with threadpool_limits(limits=1):
            block = clone(preprocessing).fit(X_fit).transform(X)
        blocks[key] = (stack.add(block, y), block)
    return blocks[key]


def _training_rows(stack, rows, block, y, positions, sampler):
    """``(rows, seconds)``: the stacked rows a network trains on, and the resampling time.

    The rows at ``positions`` of a block, or, with a sampler, its resampling of them (fitted
    on those rows, as the pipeline fits it), added to ``stack`` as a block of its own.
    """
    if sampler is None:
        return rows[positions], 0.0
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        X_res, y_res = sampler.fit_resample(block[positions], y[positions])
    return stack.add(X_res, y_res), time.perf_counter() - start


def _add_network(dataset, cell, pipeline, stack, blocks, members, shared):
    """Make ``pipeline``, fitted on the cell's training part, a member of the final fit.

    The cell's split is preprocessed once (see :func:`_block`), and a sampler resamples its
    training rows. A network already a member with the same pipeline on the same split (a
    tuned cell's refit with the default parameters, say) is shared rather than trained twice.
    """
    _, method, _, repeat, fold, train, test, _ = cell.task
    preprocessing, sampler, network = _network_steps(pipeline, method)
    rows, block = _block(
        stack, blocks, (repeat, fold), preprocessing, dataset.X[train], dataset.X, dataset.y
    )
    cell.test_rows = rows[test]
    key = (repeat, fold, _params_key(pipeline))
    if key not in shared:
        train_rows, seconds = _training_rows(stack, rows, block, dataset.y, train, sampler)
        members.append((network.get_params(deep=False), train_rows))
        shared[key] = (len(members) - 1, seconds)
    cell.member, seconds = shared[key]
    cell.seconds += seconds


def _add_inner_search(dataset, cell, search, stack, blocks, inner):
    """Make every (candidate, inner split) network of a tuned cell's search a first-pass member.

    The candidates, inner splits and scorer are those of ``search`` (the ``GridSearchCV``
    :func:`make_method` returns): each inner split's preprocessing is fitted on its training
    fold and transforms the cell's training part; each candidate's sampler resamples the
    training fold. A sampler that raises leaves its exception in place of the member.
    """
    _, method, _, repeat, fold, train, _, _ = cell.task
    if not (
        isinstance(search, GridSearchCV)
        and search.refit is True
        and (search.scoring is None or isinstance(search.scoring, str) or callable(search.scoring))
    ):
        raise ValueError(f"the tuned {method} is not a single-metric grid search with refit")
    X_train, y_train = dataset.X[train], dataset.y[train]
    candidates = list(ParameterGrid(search.param_grid))
    pipelines = [clone(search.estimator).set_params(**c) for c in candidates]
    steps = [_network_steps(pipeline, method) for pipeline in pipelines]
    splits = list(check_cv(search.cv, y_train, classifier=True).split(X_train, y_train))
    fits = [[None] * len(splits) for _ in candidates]
    test_rows = []
    for k, (fold_train, fold_test) in enumerate(splits):
        for c, (preprocessing, sampler, network) in enumerate(steps):
            rows, block = _block(
                stack, blocks, (repeat, fold, fold_train.tobytes()), preprocessing,
                X_train[fold_train], X_train, y_train,
            )
            try:
                train_rows, seconds = _training_rows(
                    stack, rows, block, y_train, fold_train, sampler
                )
            except Exception as exc:  # GridSearchCV's error_score decides
                fits[c][k] = exc
                continue
            cell.seconds += seconds
            inner.append((network.get_params(deep=False), train_rows))
            fits[c][k] = len(inner) - 1
        test_rows.append(rows[fold_test])
    cell.search = _InnerSearch(search, candidates, fits, test_rows)


def _choose(cell, results, X, y):
    """The best candidate of a tuned cell's search, by ``GridSearchCV``'s rule.

    Each fitted inner network is scored by the search's scorer on its test fold; a failed
    fit or scoring gets ``error_score`` with ``GridSearchCV``'s warning (its ``ValueError``
    when every fit failed, the failure itself for ``error_score="raise"``). The best is the
    highest mean score, the first of a tie, a NaN mean ranking last.
    """
    from ..model_selection import _format_results

    inner = cell.search
    search, candidates = inner.search, inner.candidates
    scorer = check_scoring(search.estimator, scoring=search.scoring)
    shape = (len(candidates), len(inner.test_rows))
    scores, fit_times = np.empty(shape), np.zeros(shape)
    failures = []  # GridSearchCV's record of each fit: the error text, or None
    for c, k in np.ndindex(shape):
        fit = inner.fits[c][k]
        result = None if isinstance(fit, Exception) else results[fit]
        error = fit if result is None else result.error
        if result is not None:
            fit_times[c, k] = result.fit_time
            cell.batched = cell.batched and result.batched
            if result.reason and result.reason not in cell.reasons:
                cell.reasons.append(result.reason)
            if error is None and result.estimator is None:
                error = RuntimeError("the fit failed")
        if error is not None:
            if search.error_score == "raise":
                raise error
            scores[c, k] = search.error_score
            failures.append("".join(traceback.format_exception(error)))
            continue
        failures.append(None)
        test_rows = inner.test_rows[k]
        try:
            scores[c, k] = scorer(result.estimator, X[test_rows], y[test_rows])
        except Exception:
            if search.error_score == "raise":
                raise
            scores[c, k] = search.error_score
            warnings.warn(
                "Scoring failed. The score on this train-test partition for these parameters "
                f"will be set to {search.error_score}. Details: \n{traceback.format_exc()}",
                UserWarning,
                stacklevel=2,
            )
    _warn_or_raise_about_fit_failures([{"fit_error": f} for f in failures], search.error_score)
    ranks = _format_results(
        candidates, scores, fit_times, np.zeros(shape), np.ones(shape, dtype=bool)
    )["rank_test_score"]
    cell.seconds += float(fit_times.sum())
    return candidates[int(np.argmin(ranks))]


def _fit_pass(stack, members, n_jobs):
    """One :func:`fit_members` call on the rows stacked so far: ``(results, X, y)``."""
    from .. import _batched

    if not members:
        return [], None, None
    X, y = stack.stacked()
    return _batched.fit_members(X, y, members, n_jobs=n_jobs), X, y


def _batched_dataset_cells(dataset, tasks, seed, n_jobs):
    """Fit the batched network cells of one dataset in (at most) two :func:`fit_members` calls.

    A cell trains on its rows of one stacked matrix and is scored on the rows of its test
    part. The networks are the ``classify`` steps of what :func:`make_method` builds for the
    cells, so a method has one definition. The first call trains the inner networks of the
    tuned sampler cells (their ``GridSearchCV``'s candidates on its inner folds); then each
    tuned cell chooses its candidate as ``GridSearchCV`` does, and the second call trains the
    untuned cells' networks and the tuned cells' refits. A cell whose preparation or choice
    fails (a sampler that cannot run on its training part) is a failed cell, as it would be
    cell by cell. Yields ``(row, per_class)``.
    """
    stack, blocks, shared = _StackedRows(), {}, {}
    inner, members, cells = [], [], []
    for task in tasks:
        cell = _BatchedCell(task)
        _, method, _, repeat, fold, train, _, settings = task
        cell.train_counts = np.bincount(dataset.y[train], minlength=dataset.class_names.size)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = _build(
                    method, None, cell.train_counts, _cell_seed(seed, repeat, fold), settings
                )
                if hasattr(model, "param_grid"):
                    _add_inner_search(dataset, cell, model, stack, blocks, inner)
                else:
                    _add_network(dataset, cell, model, stack, blocks, members, shared)
            except Exception as exc:  # one failed cell must not end a long run
                cell.failure = exc
        cell.note = _warning_note(caught)
        cells.append(cell)

    inner_results, X, y = _fit_pass(stack, inner, n_jobs)
    for cell in cells:
        if cell.search is None or cell.failure is not None:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                best = _choose(cell, inner_results, X, y)
                cell.best_params = _params_text(best)
                refit = clone(cell.search.search.estimator).set_params(**best)
                _add_network(dataset, cell, refit, stack, blocks, members, shared)
            except Exception as exc:  # one failed cell must not end a long run
                cell.failure = exc
        cell.note = _join_notes(cell.note, _warning_note(caught))

    results, X, y = _fit_pass(stack, members, n_jobs)
    for cell in cells:
        _, method, _, repeat, fold, train, test, settings = cell.task
        row = _new_row(dataset, method, repeat, fold, seed, settings, train.size, test.size)
        if cell.failure is not None:
            row["error"] = _error_text(cell.failure)
            row["note"] = cell.note
            yield row, []
            continue
        result = results[cell.member]
        row["fit_time"] = result.fit_time + cell.seconds
        if result.reason and result.reason not in cell.reasons:
            cell.reasons.append(result.reason)
        batched = cell.batched and result.batched
        how = "batched" if batched else f"fitted alone ({_one_line('; '.join(cell.reasons))})"
        per_class = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if result.error is not None or result.estimator is None:
                row["error"] = _error_text(result.error or RuntimeError("the fit failed"))
            else:
                try:
                    per_class = _score_fitted(
                        result.estimator,
                        row,
                        dataset,
                        method,
                        settings,
                        X[cell.test_rows],
                        y[cell.test_rows],
                        cell.train_counts,
                    )
                    row["best_params"] = cell.best_params
                except Exception as exc:  # one failed cell must not end a long run
                    row["error"] = _error_text(exc)
        row["note"] = _join_notes(how, cell.note, _warning_note(caught))
        yield row, per_class


def _batched_jobs(n_jobs):
    """Batched groups trained side by side: ``n_jobs`` cores (every core for -1)."""
    import os

    if n_jobs is None or n_jobs == 1:
        return 1
    cores = os.cpu_count() or 1
    return cores if n_jobs < 0 else min(int(n_jobs), cores)


def _run_batched(tasks, seed, n_jobs, emit, log):
    """Fit one dataset's batched cells together, passing each ``(row, per_class)`` to ``emit``.

    Returns the cells to fit one by one instead: all of them if the batched fit raised.
    """
    import torch

    if not tasks:
        return []
    dataset = tasks[0][0]
    threads = None if n_jobs is None or n_jobs < 1 else int(n_jobs)
    _warm_up_torch(tasks[0][-1]["device"])
    torch_threads = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        cells = list(_batched_dataset_cells(dataset, tasks, seed, threads))
    except Exception as exc:  # the cells run one by one instead
        note = f"batched fit failed, fitted alone ({_error_text(exc)})"
        log(f"{dataset.name}: {note}")
        return [(*task[:-1], {**task[-1], "batch_note": note}) for task in tasks]
    finally:
        torch.set_num_threads(torch_threads)
    for row, per_class in cells:
        emit(row, per_class)
    return []


def normalize_methods(methods):
    """``[(name, estimator or None)]`` from names, ``(name, estimator)`` pairs or a dict.

    Parameters
    ----------
    methods : sequence or dict
        Built-in method names (:data:`METHODS`) and ``(name, estimator)`` pairs, or a dict
        ``{name: estimator}``; a name mapped to None is a built-in method.

    Returns
    -------
    methods : list of tuple
        ``(name, estimator)``, ``estimator`` None for a built-in method.

    Raises
    ------
    ValueError
        If a name is unknown, used twice, or an estimator is not a classifier.
    """
    items = list(methods.items()) if isinstance(methods, dict) else list(methods)
    normalized, unknown = [], []
    for item in items:
        name, estimator = (item, None) if isinstance(item, str) else tuple(item)
        if estimator is None and name not in METHOD_TABLE:
            unknown.append(name)
            continue
        if estimator is not None:
            if name in METHOD_TABLE:
                raise ValueError(f"{name!r} is a built-in method; give your estimator another name")
            if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
                raise ValueError(f"the estimator of {name!r} is not a classifier: {estimator!r}")
        normalized.append((str(name), estimator))
    if unknown:
        raise ValueError(
            f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}"
        )
    names = [name for name, _ in normalized]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"method(s) named twice: {', '.join(repeated)}")
    return normalized


def _device_name(device):
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return str(device)


def _processor_name():
    """This machine's processor and the SIMD level torch's CPU kernels use, in one line.

    Float32 training rounds differently on different processors, so a results folder records
    where its cells ran.
    """
    import torch

    name = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip()
                break
    name = name or platform.processor() or platform.machine() or "unknown processor"
    return f"{name} (torch CPU capability {torch.backends.cpu.get_cpu_capability()})"


def _protocol(datasets, methods, n_splits, n_repeats, seed, settings):
    protocol = {
        "folds": n_splits,
        "repeats": n_repeats,
        "seed": seed,
        "long_tail": {"test_size": 1 / n_splits, "repeats": n_splits * n_repeats},
        "network_params": settings["network_params"],
        "tune": settings["tune"],
        "device": _device_name(settings["device"]),
        "processors": [_processor_name()],
        "versions": package_versions(),
        "methods": {
            name: method_definition(name, settings) if estimator is None
            else _stable_repr(estimator)
            for name, estimator in methods
        },
        "datasets": {
            dataset.name: {"sha256": dataset.digest(), "protocol": dataset.protocol}
            for dataset in datasets
        },
    }
    if settings["batched"]:  # absent when False: cell-by-cell folders of earlier versions resume
        protocol["batched"] = True
    if settings["tune"]:  # the inner scorer makes the tuned scores
        protocol["inner_cv"] = {"folds": INNER_FOLDS, "metric": settings["metric"]}
    return protocol


def method_definition(method, settings):
    """What a built-in method is in this version, as ``protocol.json`` records it.

    Every parameter of its pipeline (defaults included: a changed default changes the
    method) and its ``--tune`` grid, as text, so that a folder written by a version whose
    methods differ is not resumed as if its cells were this version's.

    Parameters
    ----------
    method : str
        A name of :data:`~sklearn_elm.benchmark.METHODS`.
    settings : dict
        The run's settings (``network_params`` and ``device`` are used).

    Returns
    -------
    definition : dict
        ``{"parameters": {name: repr}, "grid": {name: [repr, ...]}}``.
    """
    pipeline = make_method(method, [50, 50], network_params=settings["network_params"],
                           random_state=0, device=settings["device"])
    parameters = {
        name: _stable_repr(value)
        for name, value in sorted(pipeline.get_params(deep=True).items())
        # the steps and the estimators themselves: their parameters are listed one by one
        if name != "steps" and not hasattr(value, "get_params")
    }
    grid = {name: [_stable_repr(v) for v in values]
            for name, values in METHOD_TABLE[method].grid.items()}
    return {"parameters": parameters, "grid": grid}


# the memory address in a default repr, e.g. "<function f at 0x7f4c71c5c720>"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable_repr(value):
    """``repr(value)`` without what changes from one process to the next.

    A function is named by its module and qualified name; memory addresses in any other
    repr are dropped. Otherwise a folder whose methods take a function (RUSBoost's
    sampling strategy) would read as written by other methods in every new process, and could
    not be resumed.
    """
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        return f"{getattr(value, '__module__', None)}.{value.__qualname__}"
    return _ADDRESS.sub("", repr(value))


def check_network_params(network_params):
    """Refuse network settings that :class:`~sklearn_elm.ELMClassifier` would refuse.

    Each value is checked against ``ELMClassifier._parameter_constraints``, so the message is
    the estimator's own; a network whose settings are invalid is never trained, batched or not.

    Parameters
    ----------
    network_params : dict
        ELMClassifier parameters of the network methods.

    Raises
    ------
    ValueError
        If a name is not an ELMClassifier parameter, or a value is out of its range.
    """
    constraints = ELMClassifier._parameter_constraints
    unknown = sorted(set(network_params) - set(constraints))
    if unknown:
        raise ValueError(
            f"network_params: {', '.join(map(repr, unknown))} is not an ELMClassifier "
            f"parameter; choose among {', '.join(sorted(constraints))}"
        )
    validate_parameter_constraints(
        {name: constraints[name] for name in network_params},
        network_params,
        caller_name="ELMClassifier",
    )


def _done_cells(results, per_class, datasets):
    """Cells with a complete result: a row, and a per-class row per class unless it failed.

    A cell whose per-class rows were lost (a damaged ``per_class.csv``) is not done: it runs
    again, and its new rows replace the old ones.
    """
    n_classes = {dataset.name: dataset.class_names.size for dataset in datasets}
    per_class_rows = per_class.groupby(CELL_KEYS, sort=False).size().to_dict()
    done = set()
    for row in results[[*CELL_KEYS, "error"]].itertuples(index=False, name=None):
        key = (str(row[0]), str(row[1]), bool(row[2]), int(row[3]), int(row[4]))
        if row[5] or per_class_rows.get(key, 0) == n_classes.get(key[0], -1):
            done.add(key)
    return done


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
    tune=False,
    metric="balanced_accuracy",
    n_jobs=1,
    dask_scheduler=None,
    progress=True,
    log=None,
    batched=True,
):
    """Score every method on every split of every dataset, appending to ``results.csv``.

    The grid of (dataset, method, repeat, fold) cells runs in joblib workers; the main process
    appends each cell to ``out_dir/results.csv`` (and its per-class accuracies to
    ``per_class.csv``) as soon as it finishes. Cells already in ``results.csv`` are skipped,
    so an interrupted run resumes where it stopped; ``protocol.json`` records the protocol,
    the package versions, the device, a hash of each dataset and the processor of every
    invocation (float32 training rounds differently on different CPUs), and a run whose
    protocol differs from the folder's stops instead of mixing results. A row cut short by an
    interrupted run or damaged since is dropped from the files (``log`` names the file and the
    line) and its cell runs again, as does a cell whose per-class rows are missing; a folder
    with results but no ``protocol.json`` is refused. The splits come from
    :func:`make_splits`, the same for every method.

    Parameters
    ----------
    datasets : list of BenchmarkDataset
        The datasets.
    methods : sequence or dict, default=METHODS
        Built-in method names, ``(name, estimator)`` pairs, or a ``{name: estimator}`` dict
        with any scikit-learn or imbalanced-learn classifier or pipeline: it is cloned for
        every cell behind the same imputation and standardisation as the built-in methods.
    out_dir : str or path-like, default="benchmark_results"
        The results folder.
    n_splits : int, default=5
        Folds of k-fold cross-validation (test fraction of the long-tail protocol).
    n_repeats : int, default=2
        Repeats of k-fold cross-validation.
    seed : int, default=0
        Seed of the splits and, through a per-split seed, of every network, sampler and
        ensemble.
    network_params : dict, default=None
        ELMClassifier settings of all network methods; defaults to :data:`NETWORK_PARAMS`.
    device : str, default="cpu"
        Torch device of the networks.
    tune : bool, default=False
        Also run, for every built-in method with a grid, a tuned cell: its parameters chosen
        on the training part by inner 3-fold cross-validation (see :func:`make_method`). The
        untuned cells run too, so that both rankings come from the same splits.
    metric : {"balanced_accuracy", "macro_f1", "g_mean"}, default="balanced_accuracy"
        Scorer of the inner cross-validation of ``tune``.
    n_jobs : int, default=1
        Parallel cells (joblib); -1 uses every core. Every cell runs on one thread (torch,
        BLAS and OpenMP), so ``n_jobs`` is the number of cores used.
    dask_scheduler : str, default=None
        Address of a dask.distributed scheduler: the cells run on its workers (joblib's dask
        backend) instead of local processes.
    progress : bool, default=True
        Show a tqdm progress bar with the ETA on stderr.
    log : callable, default=None
        Receives progress messages; defaults to printing them on stderr.
    batched : bool, default=True
        Train the network cells of each dataset (the untuned criterion methods, and the
        sampler methods after their resampling, tuned or not) together with the batched
        trainer, in the main process, instead of one cell per worker. Each cell gets the
        network :func:`make_method` builds for it, trained on its split's preprocessed (and,
        for a sampler, resampled) training part, so its scores match the cell-by-cell run up
        to float32 rounding, which over the epochs can turn into a few differently predicted
        test rows. A tuned sampler cell runs its ``GridSearchCV`` this way: every candidate's
        network on every inner fold in a first call, then its choice by the search's own
        rule (same inner splits, scorer and ``error_score``), then its refit in a second
        call with the untuned cells. A cell's ``fit_time`` is its resampling time plus its
        share of its batched groups' training, and its ``note`` says it ran batched, or why
        it was fitted alone. Baseline, tuned criterion (``ELMClassifierCV`` batches its own
        search) and custom cells run one per worker. ``protocol.json`` records it: a batched
        run does not resume into a folder of a cell-by-cell run, nor the reverse.

    Returns
    -------
    results : DataFrame
        The rows of ``results.csv`` that belong to ``datasets`` x ``methods``.

    Raises
    ------
    ValueError
        Before any cell runs: if a count is out of :data:`RUN_PARAMETER_CONSTRAINTS`
        (``n_splits`` at least 2, ``n_repeats`` at least 1, ``seed`` in [0, 2**32 - 1],
        ``n_jobs`` not 0), a network setting out of ``ELMClassifier``'s own constraints, a
        method or the metric unknown; ``ResultsFolderError`` (a ``ValueError``) if the folder
        cannot be resumed: another protocol, no or a damaged ``protocol.json``, or a results
        file that is not one.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn_elm.benchmark import BenchmarkDataset, run_benchmark
    >>> wine = BenchmarkDataset.from_arrays("wine", *load_wine(return_X_y=True))
    >>> results = run_benchmark([wine], ["logreg-balanced", ("knn", KNeighborsClassifier())],
    ...                         tempfile.mkdtemp(), n_splits=2, n_repeats=1, progress=False,
    ...                         log=lambda message: None)
    >>> results.groupby("method")["fold"].count().to_dict()
    {'knn': 2, 'logreg-balanced': 2}
    >>> bool(results["balanced_accuracy"].between(0, 1).all())
    True
    """
    log = log or print_stderr
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose among {', '.join(METRICS)}")
    validate_parameter_constraints(
        RUN_PARAMETER_CONSTRAINTS,
        {"n_splits": n_splits, "n_repeats": n_repeats, "seed": seed, "n_jobs": n_jobs},
        caller_name="run_benchmark",
    )
    methods = normalize_methods(methods)
    network_params = dict(NETWORK_PARAMS if network_params is None else network_params)
    check_network_params(network_params)
    settings = {
        "network_params": network_params,
        "device": device,
        "tune": bool(tune),
        "metric": metric,
        "batched": bool(batched),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_protocol(out_dir, _protocol(datasets, methods, n_splits, n_repeats, seed, settings))
    results_path, per_class_path = out_dir / "results.csv", out_dir / "per_class.csv"
    done = _done_cells(*load_results_folder(out_dir, log), datasets)

    # per dataset: the cells of the batched trainer, and those fitted one per worker
    work = {}
    for dataset in datasets:
        try:
            splits = make_splits(dataset, n_splits, n_repeats, seed)
        except ValueError as exc:  # e.g. a test part too small for every class
            dataset.notes.append(f"not run: its splits cannot be made ({_one_line(exc)})")
            continue
        for repeat, fold, train, test in splits:
            for name, estimator in methods:
                tuned_options = [False]
                if tune and estimator is None and METHOD_TABLE[name].grid:
                    tuned_options.append(True)
                for tuned in tuned_options:
                    if (dataset.name, name, tuned, repeat, fold) not in done:
                        cell_settings = {**settings, "tuned": tuned}
                        task = (dataset, name, estimator, repeat, fold, train, test, cell_settings)
                        batch_tasks, tasks = work.setdefault(dataset.name, ([], []))
                        if _is_batchable(name, estimator, cell_settings):
                            batch_tasks.append(task)
                        else:
                            tasks.append(task)
    n_cells = sum(len(batch_tasks) + len(tasks) for batch_tasks, tasks in work.values())
    log(
        f"{n_cells} cells to run ({len(done)} already in {results_path}); "
        f"{len(datasets)} datasets x {len(methods)} methods"
    )
    for dataset in datasets:
        for note in dataset.notes:
            log(f"{dataset.name}: {note}")

    backend = contextlib.nullcontext()
    if dask_scheduler is not None:
        from distributed import Client  # optional: pip install "sklearn-elm[dask]"

        client = Client(dask_scheduler)
        backend = parallel_backend("dask", client=client)
        n_jobs = -1
    with backend, tqdm(
        total=n_cells,
        desc="benchmark",
        unit="cell",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:

        def emit(row, per_class):
            # per-class rows first: a cell in results.csv always has its per-class rows
            append_rows(per_class_path, per_class, PER_CLASS_COLUMNS)
            append_rows(results_path, [row], RESULT_COLUMNS)
            bar.set_postfix_str(f"{row['dataset']} / {row['method']}", refresh=False)
            bar.update()

        # dataset after dataset, so that an interrupted run leaves whole datasets behind
        for batch_tasks, tasks in work.values():
            tasks = _run_batched(batch_tasks, seed, _batched_jobs(n_jobs), emit, log) + tasks
            cells = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_evaluate_cell)(
                    dataset, name, estimator, repeat, fold, train, test, seed, s
                )
                for dataset, name, estimator, repeat, fold, train, test, s in tasks
            )
            for row, per_class in cells:
                emit(row, per_class)
    if dask_scheduler is not None:
        client.close()
    results = read_results(out_dir)
    selected = results["dataset"].isin([d.name for d in datasets]) & results["method"].isin(
        [name for name, _ in methods]
    )
    return results[selected].reset_index(drop=True)


def print_stderr(message):
    """Print a message on stderr without breaking the progress bar."""
    tqdm.write(message, file=sys.stderr)
