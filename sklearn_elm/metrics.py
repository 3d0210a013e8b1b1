"""Metrics for imbalanced and long-tailed classification.

* :func:`per_class_accuracy`: the accuracy (recall) of every class.
* :func:`shot_accuracy`: many-shot / medium-shot / few-shot accuracy, as reported in the
  long-tail literature (Liu et al., "Large-Scale Long-Tailed Recognition in an Open World",
  CVPR 2019; Kang et al., "Decoupling Representation and Classifier", ICLR 2020).
* :func:`geometric_mean_score` and :func:`classification_report_imbalanced` are
  imbalanced-learn's, re-exported here so that one import gives the usual imbalanced metrics.
  imbalanced-learn is imported when one of them is first looked up, not with this module.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.metrics import accuracy_score, recall_score
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "classification_report_imbalanced",  # noqa: F822 (defined by __getattr__)
    "geometric_mean_score",  # noqa: F822
    "per_class_accuracy",
    "shot_accuracy",
]

# imbalanced-learn's metrics, re-exported by __getattr__: importing imbalanced-learn takes
# longer than this whole module (it imports pytest, through scikit-learn's test helpers), a
# cost that per_class_accuracy, shot_accuracy and the plots need not pay
_IMBLEARN_METRICS = ("classification_report_imbalanced", "geometric_mean_score")


def __getattr__(name):
    if name not in _IMBLEARN_METRICS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import imblearn.metrics

    value = getattr(imblearn.metrics, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted({*globals(), *_IMBLEARN_METRICS})


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], "labels": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def per_class_accuracy(y_true, y_pred, labels=None):
    """Accuracy of each class: the fraction of its samples predicted as that class.

    This is the per-class recall, ``recall_score(y_true, y_pred, average=None)``, except that a
    class absent from ``y_true`` gets NaN (its accuracy is undefined) rather than 0 and a
    warning. Its NaN-ignoring mean over the classes of ``y_true`` is the balanced accuracy.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes to report, in this order. Defaults to the sorted labels found in ``y_true`` and
        ``y_pred``.

    Returns
    -------
    accuracies : ndarray of shape (n_classes,), float64
        ``accuracies[k]`` is the accuracy of the ``k``-th class, NaN if it has no true sample.

    See Also
    --------
    shot_accuracy : Per-class accuracies averaged over many-, medium- and few-shot classes.
    sklearn.metrics.balanced_accuracy_score : Their mean.

    Examples
    --------
    >>> from sklearn_elm.metrics import per_class_accuracy
    >>> y_true = ["cat", "cat", "cat", "dog", "dog", "fox"]
    >>> y_pred = ["cat", "cat", "dog", "dog", "cat", "fox"]
    >>> per_class_accuracy(y_true, y_pred)
    array([0.66666667, 0.5       , 1.        ])
    >>> per_class_accuracy(y_true, y_pred, labels=["fox", "owl"])
    array([ 1., nan])
    """
    # zero_division=nan: a class without true samples has an undefined accuracy, not 0
    return recall_score(y_true, y_pred, labels=labels, average=None, zero_division=np.nan)


def _train_counts_of(classes, train_class_counts, y_true, y_pred):
    """Training-set count of each of ``classes`` (the sorted classes of ``y_true``)."""
    if isinstance(train_class_counts, dict):
        missing = [label for label in classes.tolist() if label not in train_class_counts]
        if missing:
            raise ValueError(
                f"train_class_counts has no count for the classes {missing} of y_true; give "
                "every test class its number of training samples (0 if unseen in training)"
            )
        counts = np.array([train_class_counts[label] for label in classes], dtype=np.float64)
    else:
        counts_by_position = np.asarray(train_class_counts, dtype=np.float64)
        # An array is aligned with the sorted labels; those of y_true and y_pred are the
        # training labels exactly when they are as many (a classifier predicts only labels
        # seen in training), otherwise the alignment is ambiguous and we refuse to guess.
        labels = unique_labels(y_true, y_pred)
        if counts_by_position.ndim != 1 or len(counts_by_position) != len(labels):
            raise ValueError(
                f"train_class_counts of shape {counts_by_position.shape} cannot be aligned "
                f"with the {len(labels)} sorted labels {labels} of y_true and y_pred; pass a "
                "dict {label: count} when the test labels and predictions miss some training "
                "class"
            )
        counts = counts_by_position[np.searchsorted(labels, classes)]
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"train_class_counts must be finite and >= 0, got {counts}")
    return counts


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "train_class_counts": [dict, "array-like"],
        "many": [Interval(Real, 0, None, closed="left")],
        "few": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def shot_accuracy(y_true, y_pred, train_class_counts, many=100, few=20):
    """Many-shot, medium-shot, few-shot and overall accuracy of a long-tailed classifier.

    Each class of ``y_true`` falls in one group by its number ``n`` of *training* samples:

    * ``"many"``: many-shot classes, ``n > many``;
    * ``"medium"``: medium-shot classes, ``few <= n <= many``;
    * ``"few"``: few-shot classes, ``n < few``.

    The defaults (``many=100``, ``few=20``) are those of Liu et al. (2019) and of the
    ImageNet-LT / Places-LT / CIFAR-LT literature since. The score of a group is the unweighted
    mean of the :func:`per_class_accuracy` of its classes, so that every class counts the same
    whatever its number of test samples; it is NaN when no class of ``y_true`` is in the group.
    Classes of the training set that are absent from ``y_true`` are not scored.

    ``"overall"`` is the plain top-1 accuracy over all test samples,
    ``accuracy_score(y_true, y_pred)``, as in those papers. On their balanced test sets it
    equals the mean of the per-class accuracies; on an imbalanced test set use
    :func:`sklearn.metrics.balanced_accuracy_score` for the latter.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    train_class_counts : dict or array-like of shape (n_classes,)
        Number of training samples per class: a dict ``{label: count}`` holding every class of
        ``y_true`` (give 0 for a class unseen in training), or an array aligned with the sorted
        training labels, such as ``np.unique(y_train, return_counts=True)[1]`` or
        ``np.bincount(y_train)``. An array is accepted only if ``y_true`` and ``y_pred``
        together show as many labels as it has entries, so that the alignment is certain;
        otherwise pass a dict.
    many : float, default=100
        Classes with more than ``many`` training samples are many-shot.
    few : float, default=20
        Classes with fewer than ``few`` training samples are few-shot; ``few <= many``.

    Returns
    -------
    scores : dict
        ``{"many": float, "medium": float, "few": float, "overall": float}``.

    See Also
    --------
    per_class_accuracy : The per-class accuracies averaged here.

    Examples
    --------
    >>> from sklearn_elm.metrics import shot_accuracy
    >>> y_true = [0, 0, 1, 1, 2, 2]
    >>> y_pred = [0, 0, 1, 0, 0, 2]
    >>> shot_accuracy(y_true, y_pred, train_class_counts=[500, 50, 5])
    {'many': 1.0, 'medium': 0.5, 'few': 0.5, 'overall': 0.666...}
    >>> shot_accuracy(y_true, y_pred, train_class_counts={0: 500, 1: 300, 2: 5})
    {'many': 0.75, 'medium': nan, 'few': 0.5, 'overall': 0.666...}
    """
    if few > many:
        raise ValueError(f"few must be <= many, got few={few} and many={many}")
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)

    classes = np.unique(y_true)
    counts = _train_counts_of(classes, train_class_counts, y_true, y_pred)
    accuracies = per_class_accuracy(y_true, y_pred, labels=classes)
    groups = {
        "many": counts > many,
        "medium": (counts >= few) & (counts <= many),
        "few": counts < few,
    }
    # an empty group is NaN, without numpy's "mean of empty slice" warning
    scores = {
        group: float(accuracies[in_group].mean()) if in_group.any() else float("nan")
        for group, in_group in groups.items()
    }
    scores["overall"] = float(accuracy_score(y_true, y_pred))
    return scores
