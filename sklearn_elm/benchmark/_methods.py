"""The methods of the benchmark: one table of every built-in method with its tuning grid.

Every method is an imbalanced-learn :class:`~imblearn.pipeline.Pipeline` that imputes missing
values (median) and standardises the features, fitted on the training part only, then
resamples (sampler methods) and classifies. A user's own estimator is appended to the same two
preprocessing steps (:func:`make_custom_method`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from imblearn.combine import SMOTETomek
from imblearn.ensemble import (
    BalancedBaggingClassifier,
    BalancedRandomForestClassifier,
    EasyEnsembleClassifier,
    RUSBoostClassifier,
)
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from ..classifier import ELMClassifier
from ..model_selection import DEFAULT_PARAM_GRID, ELMClassifierCV
from ._samplers import SmallClassADASYN, SmallClassBorderlineSMOTE, SmallClassSMOTE

__all__ = [
    "BASELINE_METHODS",
    "CRITERION_METHODS",
    "METHODS",
    "METHOD_TABLE",
    "NETWORK_PARAMS",
    "SAMPLER_METHODS",
    "INNER_FOLDS",
    "MethodSpec",
    "inner_budget",
    "make_custom_method",
    "make_method",
]

#: ELMClassifier settings shared by every network method. 40 epochs: on long-tailed digits the
#: training loss has flattened by epoch 20-30 and test balanced accuracy is the same at 40 and
#: 60 epochs, at two thirds of the cost.
NETWORK_PARAMS = {"hidden_layer_sizes": (100,), "lr": 0.01, "batch_size": 128, "max_epochs": 40}
#: folds of the inner cross-validation of ``--tune`` (on the training part only)
INNER_FOLDS = 3


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A built-in method of the benchmark.

    Attributes
    ----------
    name : str
        The name used on the command line and in ``results.csv``.
    family : {"criterion", "sampler", "baseline"}
        ``"criterion"``: the shared network trained with its own loss; ``"sampler"``: the
        shared network trained with cross-entropy after an imbalanced-learn sampler;
        ``"baseline"``: a classic imbalanced-learning classifier.
    description : str
        One line for the report.
    grid : dict
        The declared grid of ``--tune``: parameter of the network (criterion methods), of the
        sampler (sampler methods) or of the classifier (baselines), to the values tried. Empty
        when the method has nothing a user would tune.
    """

    name: str
    family: str
    description: str
    grid: dict = dataclasses.field(default_factory=dict)

    @property
    def n_candidates(self):
        """Number of parameter combinations of the grid (1 when there is none)."""
        return int(np.prod([len(values) for values in self.grid.values()])) if self.grid else 1


def _spec(name, family, description, grid=None):
    # the grid itself, not a copy: ``elm`` shares ELMClassifierCV's default grid
    return MethodSpec(name, family, description, {} if grid is None else grid)


#: The methods and their ``--tune`` grids: the single place where both are declared.
METHOD_TABLE = {
    spec.name: spec
    for spec in (
        # tuned: ELMClassifierCV with its default grid (lam, max_m and DRW)
        _spec(
            "elm",
            "criterion",
            "ELM loss, deferred re-weighting (DRW) from 80% of the epochs",
            DEFAULT_PARAM_GRID,
        ),
        # tuned over what an LDAM user tunes: the largest margin and DRW. The scale s stays
        # at 30: on the default suite's training parts, fixing it cost 0.003 of inner-CV
        # balanced accuracy against also trying s = 10 (max_m: 0.005-0.011, DRW: 0.056)
        _spec(
            "ldam",
            "criterion",
            "LDAM loss with DRW (ELM with lam = 0)",
            {"max_m": [0.3, 0.5], "drw_start": [None, 0.8]},
        ),
        _spec("ce", "criterion", "plain cross-entropy"),
        _spec("focal", "criterion", "focal loss", {"gamma": [1.0, 2.0, 3.0]}),
        _spec(
            "cb",
            "criterion",
            "class-balanced weights throughout",
            {"beta": [0.99, 0.999, 0.9999]},
        ),
        _spec("la", "criterion", "logit-adjusted cross-entropy", {"tau": [0.5, 1.0, 1.5]}),
        _spec("smote", "sampler", "SMOTE, then cross-entropy", {"k_neighbors": [3, 5]}),
        _spec(
            "borderline-smote",
            "sampler",
            "Borderline-SMOTE, then cross-entropy",
            {"k_neighbors": [3, 5]},
        ),
        _spec("adasyn", "sampler", "ADASYN, then cross-entropy", {"n_neighbors": [3, 5]}),
        _spec("random-over", "sampler", "random oversampling, then cross-entropy"),
        _spec("random-under", "sampler", "random undersampling, then cross-entropy"),
        _spec(
            "smote-tomek",
            "sampler",
            "SMOTE and Tomek-link cleaning, then cross-entropy",
            {"k_neighbors": [3, 5]},
        ),
        _spec(
            "logreg-balanced",
            "baseline",
            "logistic regression, balanced class weights",
            {"C": [0.1, 1.0, 10.0]},
        ),
        _spec(
            "hgb-balanced",
            "baseline",
            "histogram gradient boosting, balanced class weights",
            {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]},
        ),
        _spec(
            "balanced-rf",
            "baseline",
            "balanced random forest (every class undersampled per tree)",
            {"min_samples_leaf": [1, 3], "max_features": ["sqrt", 0.5]},
        ),
        _spec(
            "balanced-bagging",
            "baseline",
            "bagged decision trees, each on a random undersampling of the majority classes",
            {"max_features": [0.5, 1.0], "n_estimators": [10, 30]},
        ),
        _spec(
            "rusboost",
            "baseline",
            "AdaBoost of unpruned decision trees, each round on a random undersampling of "
            "every class to at most twice the smallest",
            {"n_estimators": [10, 50], "learning_rate": [0.5, 1.0]},
        ),
        _spec("easy-ensemble", "baseline", "AdaBoost ensembles on balanced subsets"),
    )
}
METHODS = tuple(METHOD_TABLE)
#: the same network trained with different criteria
CRITERION_METHODS = tuple(m for m, s in METHOD_TABLE.items() if s.family == "criterion")
#: the same network with plain cross-entropy after an imbalanced-learn sampler
SAMPLER_METHODS = tuple(m for m, s in METHOD_TABLE.items() if s.family == "sampler")
#: classic imbalanced-learning baselines
BASELINE_METHODS = tuple(m for m, s in METHOD_TABLE.items() if s.family == "baseline")
# the neighbour parameter of each interpolating sampler
_NEIGHBOUR_PARAMS = {
    "smote": "k_neighbors",
    "borderline-smote": "k_neighbors",
    "adasyn": "n_neighbors",
    "smote-tomek": "k_neighbors",
}


def inner_budget(method):
    """Fits that ``--tune`` spends on one training part: grid x inner folds, plus the refit.

    Parameters
    ----------
    method : str
        A name of :data:`METHODS`.

    Returns
    -------
    n_fits : int
        1 for a method without grid (it is not tuned).

    Examples
    --------
    >>> from sklearn_elm.benchmark import inner_budget
    >>> inner_budget("elm"), inner_budget("ce")
    (49, 1)
    """
    spec = METHOD_TABLE[method]
    return spec.n_candidates * INNER_FOLDS + 1 if spec.grid else 1


def _network(loss, network_params, random_state, device, **params):
    # DRW is part of ELM and LDAM as published; the other criteria train without it
    drw_start = "auto" if loss in ("elm", "ldam") else None
    return ELMClassifier(
        loss,
        drw_start=drw_start,
        device=device,
        random_state=random_state,
        **network_params,
        **params,
    )


def _sampler(method, random_state):
    # imbalanced-learn's defaults (5 neighbours); the SmallClass samplers reduce them, and
    # duplicate single samples, where a training part (or an inner fold) is too small
    if method == "random-over":
        return RandomOverSampler(random_state=random_state)
    if method == "random-under":
        return RandomUnderSampler(random_state=random_state)
    if method == "smote":
        return SmallClassSMOTE(random_state=random_state)
    if method == "borderline-smote":
        return SmallClassBorderlineSMOTE(random_state=random_state)
    if method == "adasyn":
        return SmallClassADASYN(random_state=random_state)
    smote = SmallClassSMOTE(random_state=random_state)  # smote-tomek
    return SMOTETomek(smote=smote, random_state=random_state)


def _baseline(method, random_state):
    if method == "logreg-balanced":
        return LogisticRegression(class_weight="balanced", max_iter=1000)
    if method == "hgb-balanced":
        return HistGradientBoostingClassifier(class_weight="balanced", random_state=random_state)
    if method == "balanced-rf":
        # imbalanced-learn >= 0.13 defaults, spelled out: every class undersampled per tree
        return BalancedRandomForestClassifier(
            sampling_strategy="all", replacement=True, bootstrap=False, random_state=random_state
        )
    if method == "balanced-bagging":
        # each bag is the undersampled training part: a bootstrap of a part with a handful of
        # minority samples often holds none of them, and the bag fails to fit
        return BalancedBaggingClassifier(bootstrap=False, random_state=random_state)
    if method == "rusboost":
        # RUSBoost as published boosts C4.5 trees, not imbalanced-learn's default stumps, and
        # leaves the class distribution after undersampling as a parameter. On the 104
        # shipped datasets, balanced rounds of stumps were worse than chance on the whole
        # training part (imbalanced-learn then gives up) in 112 of 1,040 cells; unpruned
        # trees on rounds with each class kept to at most twice the smallest ran 110 of those
        # 112, and scored the best mean balanced accuracy of the depths, leaf sizes and
        # distributions tried
        return RUSBoostClassifier(
            estimator=DecisionTreeClassifier(),
            sampling_strategy=_at_most_twice_the_smallest,
            random_state=random_state,
        )
    return EasyEnsembleClassifier(random_state=random_state)  # easy-ensemble


def _at_most_twice_the_smallest(y):
    """RUSBoost's undersampling: every class kept to at most twice the smallest class."""
    labels, counts = np.unique(y, return_counts=True)
    kept = np.minimum(counts, 2 * counts.min())
    return {label: int(n) for label, n in zip(labels, kept, strict=True)}


def _preprocessing():
    return [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]


def _inner_cv(random_state):
    return StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=random_state)


def _tuned_sampler_grid(method, class_counts):
    """The declared neighbour grid, clipped to what the inner training folds can interpolate.

    Values above what an inner fold's smallest interpolated class allows would all be reduced
    to the same count by the sampler, and tie: they are merged into that count. Classes too
    small to be interpolated in a fold are duplicated there and do not limit the grid.
    """
    counts = np.sort(np.asarray(class_counts, dtype=int))[:-1]  # the oversampled classes
    # an inner training fold holds about (INNER_FOLDS - 1) / INNER_FOLDS of each class
    in_fold = counts * (INNER_FOLDS - 1) // INNER_FOLDS
    interpolated = in_fold[in_fold >= 2]
    values = METHOD_TABLE[method].grid[_NEIGHBOUR_PARAMS[method]]
    if interpolated.size:
        values = sorted({min(k, int(interpolated.min()) - 1) for k in values})
    name = "smote__k_neighbors" if method == "smote-tomek" else _NEIGHBOUR_PARAMS[method]
    return {f"sample__{name}": list(values)}


def make_method(
    method,
    class_counts,
    *,
    network_params=None,
    random_state=None,
    device="cpu",
    tune=False,
    scoring="balanced_accuracy",
):
    """The imbalanced-learn pipeline of a built-in method, for one training part.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    class_counts : array-like of shape (n_classes,)
        Samples of each class in the training part; with ``tune``, the neighbour grid of
        SMOTE, Borderline-SMOTE, ADASYN and SMOTE-Tomek is clipped to what its inner training
        folds can interpolate. These samplers use 5 neighbours, reduced when they resample
        to ``min(5, n - 1)``, ``n`` the smallest class they interpolate; a class with a
        single sample is oversampled by duplication. Each such adaptation raises a
        ``UserWarning`` naming it (the benchmark records it in the cell's note).
    network_params : dict, default=None
        ELMClassifier parameters of the network methods; defaults to :data:`NETWORK_PARAMS`.
    random_state : int, default=None
        Seed of the network, the sampler, the ensembles and the inner folds of ``tune``.
    device : str, default="cpu"
        Torch device of the network methods.
    tune : bool, default=False
        Choose the method's parameters among its declared grid (:data:`METHOD_TABLE`) by an
        inner stratified :data:`INNER_FOLDS`-fold cross-validation of the training part:
        network methods through :class:`~sklearn_elm.model_selection.ELMClassifierCV`, the
        others through :class:`~sklearn.model_selection.GridSearchCV` around the pipeline. A
        method without grid is returned untuned.
    scoring : str, default="balanced_accuracy"
        Scorer of the inner cross-validation of ``tune``.

    Returns
    -------
    estimator : imblearn.pipeline.Pipeline or sklearn.model_selection.GridSearchCV

    Examples
    --------
    >>> from sklearn_elm.benchmark import make_method
    >>> make_method("smote", [40, 4], random_state=0).named_steps["sample"]
    SmallClassSMOTE(random_state=0)
    >>> [name for name, _ in make_method("elm", [40, 4]).steps]
    ['impute', 'scale', 'classify']
    >>> make_method("logreg-balanced", [40, 4], tune=True).param_grid
    {'classify__C': [0.1, 1.0, 10.0]}
    """
    if method not in METHOD_TABLE:
        raise ValueError(f"unknown method {method!r}; choose among {', '.join(METHODS)}")
    spec = METHOD_TABLE[method]
    tune = tune and bool(spec.grid)
    network_params = NETWORK_PARAMS if network_params is None else network_params
    steps = _preprocessing()
    if spec.family == "criterion":
        if tune:
            classifier = _tuned_network(method, network_params, random_state, device, scoring)
        else:
            classifier = _network(method, network_params, random_state, device)
        return Pipeline([*steps, ("classify", classifier)])
    if spec.family == "sampler":
        steps.append(("sample", _sampler(method, random_state)))
        steps.append(("classify", _network("ce", network_params, random_state, device)))
        grid = _tuned_sampler_grid(method, class_counts) if tune else None
    else:
        steps.append(("classify", _baseline(method, random_state)))
        grid = {f"classify__{k}": list(v) for k, v in spec.grid.items()} if tune else None
    pipeline = Pipeline(steps)
    if not grid:
        return pipeline
    return GridSearchCV(pipeline, grid, cv=_inner_cv(random_state), scoring=scoring)


def _tuned_network(method, network_params, random_state, device, scoring):
    drw_start = "auto" if method in ("elm", "ldam") else None
    grid = METHOD_TABLE[method].grid
    return ELMClassifierCV(
        # None: ELMClassifierCV's own default grid, which is elm's declared one
        param_grid=None if grid is DEFAULT_PARAM_GRID else {k: list(v) for k, v in grid.items()},
        cv=_inner_cv(random_state),
        scoring=scoring,
        loss=method,
        drw_start=drw_start,
        device=device,
        random_state=random_state,
        **network_params,
    )


def make_custom_method(estimator):
    """A user's classifier behind the benchmark's preprocessing (imputation, standardisation).

    Parameters
    ----------
    estimator : estimator
        Any scikit-learn or imbalanced-learn classifier or pipeline; it is cloned, so the one
        given is never fitted.

    Returns
    -------
    pipeline : imblearn.pipeline.Pipeline

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> from sklearn_elm.benchmark import make_custom_method
    >>> [name for name, _ in make_custom_method(SVC()).steps]
    ['impute', 'scale', 'classify']
    """
    return Pipeline([*_preprocessing(), ("classify", clone(estimator))])


def grid_table():
    """Rows ``(method, family, grid, inner fits)`` of :data:`METHOD_TABLE`, for the report."""
    rows = []
    for name, spec in METHOD_TABLE.items():
        grid = "; ".join(f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in spec.grid.items())
        rows.append((name, spec.family, grid or "none (not tuned)", inner_budget(name)))
    return rows
