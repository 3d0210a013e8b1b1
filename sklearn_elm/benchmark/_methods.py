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
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from ..classifier import ELMClassifier

__all__ = [
    "BASELINE_METHODS",
    "CRITERION_METHODS",
    "METHODS",
    "METHOD_TABLE",
    "NETWORK_PARAMS",
    "SAMPLER_METHODS",
    "INNER_FOLDS",
    "MethodSpec",
    "SamplerUnavailableError",
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
    return MethodSpec(name, family, description, dict(grid or {}))


#: The methods and their ``--tune`` grids: the single place where both are declared.
METHOD_TABLE = {
    spec.name: spec
    for spec in (
        _spec(
            "elm",
            "criterion",
            "ELM loss, deferred re-weighting (DRW) from 80% of the epochs",
            {"max_m": [0.3, 0.5], "lam": [0.5, 1.0, 2.0]},
        ),
        _spec(
            "ldam",
            "criterion",
            "LDAM loss with DRW (ELM with lam = 0)",
            {"max_m": [0.3, 0.5], "s": [10.0, 30.0]},
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
            "AdaBoost with random undersampling at each round",
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


class SamplerUnavailableError(ValueError):
    """The sampler of a method cannot run on this training part (too few minority samples)."""


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
    (19, 1)
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


def _neighbours(method, n_smallest):
    """Neighbours of an interpolating sampler: at most 5, and fewer than the smallest class."""
    k_neighbors = min(5, n_smallest - 1)
    if k_neighbors < 1:
        raise SamplerUnavailableError(
            f"{method} needs at least 2 training samples in every class to interpolate; "
            f"the smallest class of this training part has {n_smallest}"
        )
    return k_neighbors


def _sampler(method, class_counts, random_state, k=None):
    if method == "random-over":
        return RandomOverSampler(random_state=random_state)
    if method == "random-under":
        return RandomUnderSampler(random_state=random_state)
    k_neighbors = _neighbours(method, int(np.min(class_counts))) if k is None else k
    if method == "smote":
        return SMOTE(k_neighbors=k_neighbors, random_state=random_state)
    if method == "borderline-smote":
        m_neighbors = min(10, int(np.sum(class_counts)) - 1)
        return BorderlineSMOTE(
            k_neighbors=k_neighbors, m_neighbors=m_neighbors, random_state=random_state
        )
    if method == "adasyn":
        return ADASYN(n_neighbors=k_neighbors, random_state=random_state)
    smote = SMOTE(k_neighbors=k_neighbors, random_state=random_state)  # smote-tomek
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
        return RUSBoostClassifier(random_state=random_state)
    return EasyEnsembleClassifier(random_state=random_state)  # easy-ensemble


def _preprocessing():
    return [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]


def _inner_cv(random_state):
    return StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=random_state)


def _tuned_sampler_grid(method, class_counts):
    """The declared neighbour grid, clipped to what the inner training folds can hold."""
    # an inner training fold holds about (INNER_FOLDS - 1) / INNER_FOLDS of each class
    n_smallest = int(np.min(class_counts)) * (INNER_FOLDS - 1) // INNER_FOLDS
    if n_smallest < 2:
        raise SamplerUnavailableError(
            f"{method} cannot be tuned: its inner training folds would hold {n_smallest} "
            f"sample(s) of the smallest class ({int(np.min(class_counts))} in the training "
            "part), and interpolation needs 2"
        )
    largest = _neighbours(method, n_smallest)
    values = sorted({min(k, largest) for k in METHOD_TABLE[method].grid[_NEIGHBOUR_PARAMS[method]]})
    name = "smote__k_neighbors" if method == "smote-tomek" else _NEIGHBOUR_PARAMS[method]
    return {f"sample__{name}": values}


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
        Samples of each class in the training part: the number of neighbours of SMOTE,
        Borderline-SMOTE, ADASYN and SMOTE-Tomek is ``min(5, smallest count - 1)``.
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
        steps.append(("sample", _sampler(method, class_counts, random_state)))
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
    # imported here: the batched cross-validation engine is only needed by --tune
    from ..model_selection import ELMClassifierCV

    drw_start = "auto" if method in ("elm", "ldam") else None
    return ELMClassifierCV(
        param_grid={k: list(v) for k, v in METHOD_TABLE[method].grid.items()},
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
