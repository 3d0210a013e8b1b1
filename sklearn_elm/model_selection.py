"""``ELMClassifierCV``: ``ELMClassifier`` with its margin parameters tuned by cross-validation."""

from __future__ import annotations

import inspect
import numbers
import os
import time
import traceback
import warnings

import joblib
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import ParameterGrid, StratifiedKFold, check_cv
from sklearn.model_selection._search import BaseSearchCV, _yield_masked_array_for_each_param
from sklearn.model_selection._validation import _warn_or_raise_about_fit_failures
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _get_feature_names,
    check_is_fitted,
    validate_data,
)

from ._batched import fit_members
from ._builder import ROUTED_PREFIXES as _ROUTED_PREFIXES
from ._builder import module_input_shape
from .classifier import EXPECTED_FAILED_CHECKS as _SINGLE_FIT_FAILURES
from .classifier import ELMClassifier, _RoutedParamsMixin

__all__ = ["DEFAULT_PARAM_GRID", "ELMClassifierCV", "EXPECTED_FAILED_CHECKS"]

#: scikit-learn estimator checks that cannot pass, with the reason: those of ELMClassifier,
#: whose fits the search runs
EXPECTED_FAILED_CHECKS = dict(_SINGLE_FIT_FAILURES)

#: The grid searched when ``param_grid=None``: 16 candidates over the weight of the hardest
#: wrong class's margin (``lam``; 0 is LDAM; a negative value widens the required gap
#: Δ_y - λ·Δ_ĵ instead of narrowing it), the largest margin and deferred re-weighting.
#: Chosen by the defaults study of the documentation (cross-validation on the training parts
#: of 104 development datasets): its best candidate is within 0.002 balanced accuracy, on
#: average, of the best of 30 settings over lam in {-1, -0.5, 0, 0.5, 1}, max_m in
#: {0.1, 0.3, 0.5} and drw_start in {None, 0.8}.
DEFAULT_PARAM_GRID = {
    "lam": [-0.5, 0.0, 0.5, 1.0],
    "max_m": [0.3, 0.5],
    "drw_start": [None, 0.8],
}

_ELM_PARAMS = tuple(ELMClassifier._get_param_names())


class ELMClassifierCV(_RoutedParamsMixin, ClassifierMixin, BaseEstimator):
    """``ELMClassifier`` whose ``lam``, ``max_m`` and ``drw_start`` are chosen by cross-validation.

    In the style of scikit-learn's ``LogisticRegressionCV``: every ``ELMClassifier`` parameter
    is a fixed base setting, ``param_grid`` lists the candidates, and every (candidate, fold)
    network is trained at once by a batched engine that stacks the networks (see the
    performance page for what it saves: on the CPU, MLP searches gain most). Each batched
    network is the network ``ELMClassifier`` would train with the same parameters and seed
    (same initial weights, same batch order; predictions equal to float32 rounding; with
    dropout or augmentation, the random draws differ, so equal in distribution). The MLP, the
    small CNN and ResNet-32 are batched, with dropout, early stopping, image augmentation and
    bf16 precision; networks the engine does not cover (extra callbacks, checkpoints,
    ``torch.compile``, fp16, custom modules or optimizers, routed parameters) are trained one
    by one with ``ELMClassifier.fit``; ``cv_results_["batched"]`` says which and
    ``cv_results_["batched_reason"]`` why. The best candidate is then refitted on all the data
    as an ordinary ``ELMClassifier`` (``best_estimator_``).

    Parameters
    ----------
    loss : {"elm", "ldam", "ce", "focal", "cb", "la"}, default="elm"
        Training criterion, as in :class:`ELMClassifier`.
    max_m : float, default=0.5
        Largest per-class margin (base value; usually searched).
    lam : float, default=0.5
        Weight of the hardest wrong class's margin (base value; usually searched).
    s : float, default=30.0
        Logit scale.
    gamma : float, default=2.0
        Focusing parameter of the focal loss.
    tau : float, default=1.0
        Temperature of the logit-adjusted loss.
    drw_start : "auto", int, float or None, default="auto"
        Start of deferred re-weighting (base value; usually searched).
    beta : float, default=0.9999
        Hyper-parameter of the class-balanced weights.
    module : {"mlp", "cnn", "resnet32"}, torch.nn.Module class or instance, default=None
        The network, as in :class:`ELMClassifier`; the built-in ones are trained batched.
    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden layers of the default MLP.
    dropout : float, default=0.0
        Dropout of the default MLP.
    head : {"cosine", "linear"}, default="cosine"
        Classifier head.
    input_shape : tuple of int, default=None
        Per-sample image shape for flat rows.
    augment : bool, default=False
        Train-time image augmentation.
    optimizer : {"adam", "adamw", "sgd"} or torch.optim.Optimizer class, default="adam"
        Optimizer; custom classes are trained one fit at a time.
    lr : float, default=0.01
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay.
    lr_schedule : "auto", None, "paper" or WarmupMultiStepLR, default="auto"
        Learning-rate schedule, as in :class:`ELMClassifier` ("auto": on images, multiplied
        by 0.01 when deferred re-weighting starts).
    batch_size : int, default=128
        Mini-batch size.
    max_epochs : int, default=60
        Training epochs.
    early_stopping : bool, default=False
        Early stopping on a held-out part of each training fold.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping.
    classes : array-like, default=None
        All class labels.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of every fit.
    warm_start : bool, default=False
        Passed to the refitted estimator; the search's fits always start afresh.
    checkpoint_dir : str or path-like, default=None
        Checkpoint directory of the fits (forces one fit at a time). Every fit has its own
        sub-directory: ``candidate{c}_split{k}`` for candidate ``c`` (its index in
        ``cv_results_``) on split ``k``, and ``refit`` for the refit. Running the same search
        again (same ``param_grid``, ``cv`` and data) resumes every fit from its own
        checkpoint; change the grid or the splits and the sub-directories hold other fits'
        networks: use a new directory.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Training precision.
    compile : bool, default=False
        ``torch.compile`` the module.
    cuda_graphs : "auto" or bool, default="auto"
        CUDA-graph capture of the training steps, as in :class:`ELMClassifier`.
    device : str, default="auto"
        Torch device; "auto" picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the default cross-validation split and every network (as in
        :class:`ELMClassifier`: the same value gives the same initial weights and batch order).
    verbose : int, default=0
        Verbosity of the one-by-one fits.
    param_grid : dict, list of dicts or None, default=None
        ``ELMClassifier`` parameters to search, as in ``GridSearchCV``: named parameters,
        parameters of an estimator-valued one (``lr_schedule__gamma``) and skorch-routed ones
        (``optimizer__betas``), each candidate set on a clone of the base estimator as
        ``GridSearchCV`` does. ``None`` searches
        :data:`DEFAULT_PARAM_GRID`: ``lam`` in (-0.5, 0, 0.5, 1), ``max_m`` in (0.3, 0.5) and
        ``drw_start`` in (None, 0.8), 16 candidates.
    cv : int, cross-validation generator or iterable, default=None
        ``None`` is 5-fold ``StratifiedKFold`` shuffled with ``random_state``; an int is that
        many such folds; anything else is used as in ``GridSearchCV``.
    scoring : str or callable, default="balanced_accuracy"
        Any scikit-learn scorer name, or a callable ``scorer(estimator, X, y)``.
    refit : bool, default=True
        Refit the best candidate on all the data (needed for ``predict``).
    error_score : "raise" or float, default=np.nan
        Score recorded when a fit or a scorer fails, with a ``FitFailedWarning`` that counts
        and shows the failures; "raise" raises the first error instead. As in
        ``GridSearchCV``, a candidate whose mean score is NaN ranks last, and a
        ``UserWarning`` says that some scores are non-finite. When every fit fails, or every
        candidate's mean score is NaN, ``fit`` raises a ``ValueError`` rather than pick
        one arbitrarily (``GridSearchCV`` refits the first candidate when its scorer fails
        everywhere).
    max_batched_members : int, default=None
        Most networks trained together in one batched group; ``None`` sizes the groups so
        that their estimated peak memory stays under 1 GiB.
    n_jobs : int, default=None
        Batched groups trained at the same time, each in its own thread running one torch
        thread (torch's thread setting is restored afterwards). ``None``: on the CPU as many
        as ``torch.get_num_threads()``, on CUDA one group after the other. Negative values
        count as in joblib: -1 is every CPU core, -2 all but one, and so on. The one-by-one
        fits and the refit use torch's own thread setting.
    **kwargs
        skorch-style routed parameters (``module__*``, ``optimizer__*``, ...), as in
        :class:`ELMClassifier`; they make the fits run one at a time.

    Attributes
    ----------
    cv_results_ : dict of ndarrays
        As ``GridSearchCV.cv_results_`` (``params``, ``param_*``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``, ``mean_fit_time``,
        ``std_fit_time``, ``mean_score_time``, ``std_score_time``), plus ``batched``: whether
        all of a candidate's fits ran in the batched trainer, and ``batched_reason``: why some
        did not (the distinct reasons of its splits, joined by "; "; "" when all were
        batched).
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    best_params_ : dict
        Parameters of the best candidate.
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_estimator_ : ELMClassifier
        The best candidate refitted on all the data (only with ``refit=True``), on ``X`` as
        given: fitted on a DataFrame, it has the same ``feature_names_in_``.
    batched_ : ndarray of bool of shape (n_candidates, n_splits)
        Whether each fit ran in the batched trainer.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds spent refitting the best candidate.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Only when ``X`` had string column names.

    See Also
    --------
    ELMClassifier : The estimator searched over.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_elm import ELMClassifierCV
    >>> X, y = make_classification(n_samples=300, weights=[0.9, 0.1], random_state=0)
    >>> search = ELMClassifierCV(param_grid={"lam": [0.0, 1.0]}, cv=3, max_epochs=5,
    ...                          random_state=0).fit(X, y)
    >>> sorted(search.best_params_)
    ['lam']
    >>> search.cv_results_["split2_test_score"].shape
    (2,)
    >>> search.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **ELMClassifier._parameter_constraints,
        "param_grid": [dict, list, None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "refit": ["boolean"],
        "error_score": [StrOptions({"raise"}), numbers.Real],
        "max_batched_members": [Interval(numbers.Integral, 1, None, closed="left"), None],
        # as in joblib: negative counts from the number of cores, 0 means nothing
        "n_jobs": [Interval(numbers.Integral, None, -1, closed="right"),
                   Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        loss="elm",
        *,
        max_m=0.5,
        lam=0.5,
        s=30.0,
        gamma=2.0,
        tau=1.0,
        drw_start="auto",
        beta=0.9999,
        module=None,
        hidden_layer_sizes=(100,),
        dropout=0.0,
        head="cosine",
        input_shape=None,
        augment=False,
        optimizer="adam",
        lr=0.01,
        weight_decay=0.0,
        lr_schedule="auto",
        batch_size=128,
        max_epochs=60,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        classes=None,
        callbacks=None,
        warm_start=False,
        checkpoint_dir=None,
        precision="fp32",
        compile=False,
        cuda_graphs="auto",
        device="auto",
        random_state=None,
        verbose=0,
        param_grid=None,
        cv=None,
        scoring="balanced_accuracy",
        refit=True,
        error_score=np.nan,
        max_batched_members=None,
        n_jobs=None,
        **kwargs,
    ):
        self.loss = loss
        self.max_m = max_m
        self.lam = lam
        self.s = s
        self.gamma = gamma
        self.tau = tau
        self.drw_start = drw_start
        self.beta = beta
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.head = head
        self.input_shape = input_shape
        self.augment = augment
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.classes = classes
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.precision = precision
        self.compile = compile
        self.cuda_graphs = cuda_graphs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.error_score = error_score
        self.max_batched_members = max_batched_members
        self.n_jobs = n_jobs
        vars(self).update(kwargs)

    # ------------------------------------------------------------------ params
    def _base_params(self):
        """The fixed ``ELMClassifier`` parameters (named and routed)."""
        params = {name: getattr(self, name) for name in _ELM_PARAMS}
        params.update(self._extra_params())
        return params

    def _fit_params(self, candidate, checkpoint_name=None):
        """``ELMClassifier`` parameters of one fit of ``candidate``, set as ``GridSearchCV`` does.

        A clone of the base estimator takes the candidate through ``set_params``, so deep keys
        (``lr_schedule__gamma``) change a copy of the value, never the search's own.
        ``checkpoint_name`` is the fit's own sub-directory of ``checkpoint_dir``.
        """
        estimator = clone(ELMClassifier(**self._base_params()))
        estimator.set_params(**clone(candidate, safe=False))
        params = estimator.get_params(deep=False)
        if checkpoint_name is not None and params["checkpoint_dir"] is not None:
            params["checkpoint_dir"] = os.path.join(os.fspath(params["checkpoint_dir"]),
                                                    checkpoint_name)
        return params

    def _checked_estimator(self, params):
        """An ``ELMClassifier`` with ``params``, validated as its ``fit`` would (no training)."""
        estimator = ELMClassifier(**params)
        estimator._validate_params()
        estimator._validate_extra_params()
        estimator._validate_structured_params()
        return estimator

    def _candidates(self):
        grid = DEFAULT_PARAM_GRID if self.param_grid is None else self.param_grid
        if isinstance(grid, dict):
            grid = [grid]
        if not grid or any(not isinstance(g, dict) or not g for g in grid):
            raise ValueError(
                "param_grid must be a non-empty dict, or a non-empty list of non-empty dicts, "
                f"of ELMClassifier parameters; got {self.param_grid!r}"
            )
        known = set(_ELM_PARAMS)
        for g in grid:
            unknown = sorted(k for k in g if k.partition("__")[0] not in known
                             and not k.startswith(_ROUTED_PREFIXES))
            if unknown:
                raise ValueError(
                    f"param_grid has parameters {unknown} that ELMClassifier does not take; "
                    f"valid parameters are {sorted(known)}, their parameters as "
                    f"'name__param' and skorch-routed ones starting with {_ROUTED_PREFIXES}"
                )
        try:
            candidates = list(ParameterGrid(grid))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"param_grid is malformed: {exc}") from exc
        for candidate in candidates:
            try:
                params = self._fit_params(candidate)
            except (AttributeError, TypeError, ValueError) as exc:
                # a 'name__param' key whose parameter's value has no such parameter
                heads = sorted({k.partition("__")[0] for k in candidate
                                if "__" in k and not k.startswith(_ROUTED_PREFIXES)})
                values = ", ".join(f"{head}={candidate.get(head, getattr(self, head))!r}"
                                   for head in heads)
                raise ValueError(
                    f"param_grid candidate {candidate} cannot be set on ELMClassifier "
                    f"({type(exc).__name__}: {exc}): a key 'name__param' sets 'param' on the "
                    f"value of 'name', here {values}; give it a value that has that parameter "
                    "(such as lr_schedule=WarmupMultiStepLR() for lr_schedule__gamma)"
                ) from exc
            self._checked_estimator(params)
        return candidates

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Search the grid by cross-validation, then refit the best candidate on all data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, [C,] H, W)
            Training data.
        y : array-like of shape (n_samples,)
            Labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights of the training loss, and of the test scores
            where the installed scikit-learn's ``GridSearchCV`` weights them too (recent
            releases do, for a scorer that takes ``sample_weight``, and warn about one that
            does not).

        Returns
        -------
        self : ELMClassifierCV
        """
        base = self._checked_estimator(self._base_params())
        candidates = self._candidates()
        X_given = X
        X, y = validate_data(
            self, X, y, dtype=(np.float32, np.float64), allow_nd=True, ensure_min_features=1,
            y_numeric=False,
        )
        check_classification_targets(y)
        # the data checks of ELMClassifier.fit, run once before any training
        base._check_X_shape(X, reset=True)
        base._image_shape_ = module_input_shape(base.input_shape, X.shape[1:])
        if base.input_shape is not None and X.ndim != 2:
            raise ValueError("input_shape is for flat 2-D X; X already has shape " f"{X.shape}")
        base._check_module_input(X)
        labels = np.unique(y)
        if base.classes is not None:
            unknown = np.setdiff1d(labels, np.asarray(base.classes))
            if unknown.size:
                raise ValueError(f"y contains labels {unknown.tolist()} not in classes")
        if labels.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got only "
                f"one class: {labels.tolist()}"
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32,
                                                 ensure_non_negative=True)
            if np.unique(y[sample_weight > 0]).size < 2:
                raise ValueError(
                    "sample_weight leaves a single class with positive weight; at least 2 "
                    "classes are needed"
                )
        scorer = check_scoring(base, scoring=self.scoring)
        score_weights = sample_weight is not None and _scores_with_weights(scorer, self)
        splits = self._splits(X, y)

        n_candidates, n_splits = len(candidates), len(splits)
        members = [(self._fit_params(candidate, f"candidate{c}_split{k}"), train)
                   for c, candidate in enumerate(candidates)
                   for k, (train, _) in enumerate(splits)]
        fitted = fit_members(X, y, members, sample_weight,
                             max_batched_members=self.max_batched_members,
                             n_jobs=self._batched_jobs())

        scores = np.empty((n_candidates, n_splits))
        fit_times = np.empty_like(scores)
        score_times = np.zeros_like(scores)
        batched = np.empty(scores.shape, dtype=bool)
        reasons = [[] for _ in candidates]
        failures = []  # GridSearchCV's record of each fit: the error text, or None
        for index, result in enumerate(fitted):
            c, k = divmod(index, n_splits)
            fit_times[c, k], batched[c, k] = result.fit_time, result.batched
            if result.reason and result.reason not in reasons[c]:
                reasons[c].append(result.reason)
            test = splits[k][1]
            error, stage = result.error, "fit"
            if error is None:
                tic = time.perf_counter()
                try:
                    weights = {"sample_weight": sample_weight[test]} if score_weights else {}
                    scores[c, k] = scorer(result.estimator, X[test], y[test], **weights)
                except Exception as exc:  # recorded like a failed fit
                    error, stage = exc, "scoring"
                score_times[c, k] = time.perf_counter() - tic
            if error is not None:
                if isinstance(self.error_score, str):  # "raise"
                    raise error
                scores[c, k] = self.error_score
                # no candidate in the text: GridSearchCV's summary counts equal errors once
                failures.append(f"The {stage} failed:\n" + "".join(
                    traceback.format_exception(type(error), error, error.__traceback__)))
            else:
                failures.append(None)
        # GridSearchCV's warning, or its ValueError when every fit failed
        _warn_or_raise_about_fit_failures([{"fit_error": f} for f in failures],
                                          self.error_score)

        results = _format_results(candidates, scores, fit_times, score_times, batched)
        results["batched_reason"] = np.array(["; ".join(r) for r in reasons], dtype=object)
        means = results["mean_test_score"]
        if np.isnan(means).all():
            raise ValueError(
                f"{type(self).__name__} has no candidate to choose: every candidate's mean "
                f"test score is NaN ({means}), from a NaN score on at least one split (a "
                "failed fit or scoring with error_score=nan, see the warnings above, or a "
                f"scorer, here {self.scoring!r}, that returned NaN). Check the scorer on "
                "these test parts, or set error_score to a number to rank failed fits"
            )
        self.cv_results_ = results
        self.batched_ = batched
        self.n_splits_ = n_splits
        self.best_index_ = int(self.cv_results_["rank_test_score"].argmin())
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.classes_ = labels if base.classes is None else np.unique(np.asarray(base.classes))
        if self.refit:
            # on X as given: fitted on a DataFrame, the refit keeps its column names
            refit_X = X_given if hasattr(self, "feature_names_in_") else X
            tic = time.perf_counter()
            self.best_estimator_ = ELMClassifier(
                **self._fit_params(self.best_params_, "refit")
            ).fit(refit_X, y, sample_weight=sample_weight)
            self.refit_time_ = time.perf_counter() - tic
            self.classes_ = self.best_estimator_.classes_
        return self

    def _batched_jobs(self):
        """``n_jobs`` for the batched trainer, negative values counted as joblib does."""
        if self.n_jobs is None or self.n_jobs > 0:
            return self.n_jobs
        return max(1, joblib.cpu_count() + 1 + self.n_jobs)

    def _splits(self, X, y):
        cv = self.cv
        if cv is None or isinstance(cv, numbers.Integral):
            cv = StratifiedKFold(5 if cv is None else int(cv), shuffle=True,
                                 random_state=self.random_state)
        cv = check_cv(cv, y, classifier=True)
        if isinstance(cv, StratifiedKFold):
            labels, counts = np.unique(y, return_counts=True)
            smallest = int(np.argmin(counts))
            if counts.max() >= cv.n_splits > counts[smallest]:
                warnings.warn(
                    f"class {labels[smallest].tolist()!r} has only {counts[smallest]} samples, "
                    f"fewer than the {cv.n_splits} folds: some training folds miss it (those "
                    "networks are trained on the classes they see) and some test folds hold "
                    "none of it",
                    UserWarning, stacklevel=4,
                )
        with warnings.catch_warnings():
            # named above, with the class
            warnings.filterwarnings("ignore", message="The least populated class in y")
            splits = list(cv.split(X, y))
        if not splits:
            raise ValueError("cv gave no splits")
        return splits

    # ------------------------------------------------------------------ predict
    def _best(self):
        check_is_fitted(self)
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(
                f"{type(self).__name__} was fitted with refit=False: it has no "
                "best_estimator_ to predict with"
            )
        return self.best_estimator_

    def _check_X(self, X):
        best = self._best()
        checked = validate_data(self, X, reset=False, dtype=(np.float32, np.float64),
                                allow_nd=True, ensure_min_features=1)
        if _get_feature_names(X) is not None:
            # best_estimator_ was fitted on the frame too and checks its names again: an
            # array would make it warn that X has none
            return best, X
        return best, checked

    def decision_function(self, X):
        """Scaled logits of the best estimator (see ``ELMClassifier.decision_function``).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input rows.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Decision values.
        """
        best, X = self._check_X(X)
        return best.decision_function(X)

    def predict_proba(self, X):
        """Class probabilities of the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        best, X = self._check_X(X)
        return best.predict_proba(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input rows.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        best, X = self._check_X(X)
        return best.predict_log_proba(X)

    def predict(self, X):
        """Class labels predicted by the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        best, X = self._check_X(X)
        return best.predict(X)

    def score(self, X, y, sample_weight=None):
        """Accuracy of the best estimator on ``X``, ``y`` (``ELMClassifier.score``).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input rows.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy.
        """
        best, X = self._check_X(X)
        return best.score(X, y, sample_weight=sample_weight)

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Save the refitted best estimator without pickle (see ``ELMClassifier.save``).

        The file holds ``best_estimator_``, an ordinary ``ELMClassifier``; :meth:`load`
        (or :func:`sklearn_elm.persistence.load_model`) gives it back. ``cv_results_`` is not
        stored: keep it with ``pandas.DataFrame(search.cv_results_).to_csv(...)``.

        Parameters
        ----------
        path : str or path-like
            File to write.

        Returns
        -------
        self : ELMClassifierCV
        """
        self._best().save(path)
        return self

    @classmethod
    def load(cls, path):
        """Load the estimator saved by :meth:`save`, safely (nothing is unpickled).

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.

        Returns
        -------
        estimator : ELMClassifier
            The refitted best estimator.
        """
        return ELMClassifier.load(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


def _scores_with_weights(scorer, search):
    """Whether ``GridSearchCV`` would pass the sample weights to ``scorer``.

    Recent scikit-learn releases forward ``sample_weight`` to a scorer that accepts it, and
    warn about one that does not; earlier ones never forward it (and lack the check).
    """
    if not hasattr(BaseSearchCV, "_check_scorers_accept_sample_weight"):
        return False
    if hasattr(scorer, "_accept_sample_weight"):
        accept = scorer._accept_sample_weight()
    else:
        accept = "sample_weight" in inspect.signature(scorer).parameters
    if not accept:
        warnings.warn(
            f"The scoring {scorer} does not support sample_weight, which may lead to "
            f"statistically incorrect results when fitting {search} with sample_weight. ",
            UserWarning,
            stacklevel=3,
        )
    return accept


def _format_results(candidates, scores, fit_times, score_times, batched):
    """``cv_results_`` as ``GridSearchCV._format_results`` gives them, plus ``batched``."""
    from scipy.stats import rankdata

    n_candidates = len(candidates)
    results = {
        "mean_fit_time": fit_times.mean(1),
        "std_fit_time": fit_times.std(1),
        "mean_score_time": score_times.mean(1),
        "std_score_time": score_times.std(1),
    }
    results.update(_yield_masked_array_for_each_param(candidates))
    results["params"] = candidates
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    means = scores.mean(1)
    if not np.isfinite(means).all():
        # stacklevel: the caller of fit, past fit and scikit-learn's _fit_context wrapper
        warnings.warn(f"One or more of the test scores are non-finite: {means}", UserWarning,
                      stacklevel=4)
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(1)  # ddof=0, as GridSearchCV
    if np.isnan(means).all():
        rank = np.ones(n_candidates, dtype=np.int32)
    else:
        # as GridSearchCV: NaN ranks last, after the worst mean (NaNs tie with each other);
        # equal means share the best rank of the tie
        filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
        rank = rankdata(-filled, method="min").astype(np.int32)
    results["rank_test_score"] = rank
    results["batched"] = batched.all(1)
    return results
