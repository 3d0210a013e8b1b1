"""Plots for imbalanced classification, in scikit-learn's ``Display`` style.

Each display stores the numbers it draws, draws them with :meth:`plot`, and can be built from
raw values (its constructor), from predictions or from a fitted
:class:`~sklearn_elm.ELMClassifier` (the ``from_*`` classmethods). After :meth:`plot`, ``ax_``
and ``figure_`` hold the matplotlib axes and figure, and one attribute per artist
(``scatter_``, ``bars_``, ``lines_``, ...) holds what was drawn, so that it can be restyled.

* :class:`PerClassAccuracyDisplay` -- test accuracy of each class against its number of
  training samples: the plot that shows whether the tail classes are being sacrificed.
* :class:`MarginsDisplay` -- the per-class margins :math:`\\Delta_k` and, for ELM, the range of
  the gap :math:`\\Delta_y - \\lambda\\Delta_{\\hat{j}}` a sample of class ``y`` must win by.
* :class:`TrainingHistoryDisplay` -- training (and validation) loss per epoch, with the epoch
  where deferred re-weighting starts.

The displays are the API, as in scikit-learn since 1.2. :func:`plot_per_class_accuracy`,
:func:`plot_margins` and :func:`plot_training_history` are one-line shortcuts for their
``from_*`` classmethods.

matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from .metrics import per_class_accuracy

__all__ = [
    "MarginsDisplay",
    "PerClassAccuracyDisplay",
    "TrainingHistoryDisplay",
    "plot_margins",
    "plot_per_class_accuracy",
    "plot_training_history",
]


def _axes(ax):
    """``ax``, or the current axes of a new figure; imports pyplot only when needed."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _as_labels(values):
    return [str(value) for value in values]


# --------------------------------------------------------------------------------------------
# per-class accuracy
# --------------------------------------------------------------------------------------------
class PerClassAccuracyDisplay:
    """Per-class test accuracy against the number of training samples of each class.

    Each class is a point: its training count on a logarithmic x-axis, the fraction of its
    test samples predicted correctly (its recall) on the y-axis. A dashed line marks the mean
    over classes, which is the balanced accuracy. On imbalanced data, points sloping down to
    the left mean the rare classes are being sacrificed for the frequent ones.

    Use :meth:`from_predictions` or :meth:`from_estimator` rather than the constructor.

    Parameters
    ----------
    per_class_accuracy : array-like of shape (n_classes,)
        Test accuracy of each class; NaN for a class without test samples (not drawn).
    train_class_counts : array-like of shape (n_classes,)
        Training samples of each class.
    display_labels : array-like of shape (n_classes,), default=None
        Class names for the annotations; ``None`` uses ``0, ..., n_classes - 1``.

    Attributes
    ----------
    scatter_ : matplotlib.collections.PathCollection
        One point per class with test samples, at (training count, accuracy).
    mean_line_ : matplotlib.lines.Line2D
        Horizontal line at the balanced accuracy.
    annotations_ : list of matplotlib.text.Annotation
        The class labels next to the points (empty with ``annotate=False``).
    ax_ : matplotlib.axes.Axes
        Axes the display was drawn on.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    See Also
    --------
    plot_per_class_accuracy : Shortcut for :meth:`from_predictions`.
    sklearn_elm.metrics.per_class_accuracy : The accuracies drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_elm.plotting import PerClassAccuracyDisplay
    >>> y_true = ["a", "a", "a", "b", "b", "c"]
    >>> y_pred = ["a", "a", "a", "a", "b", "a"]
    >>> display = PerClassAccuracyDisplay.from_predictions(
    ...     y_true, y_pred, train_class_counts={"a": 500, "b": 50, "c": 5})
    >>> display.per_class_accuracy
    array([1. , 0.5, 0. ])
    >>> display.scatter_.get_offsets().tolist()
    [[500.0, 1.0], [50.0, 0.5], [5.0, 0.0]]
    >>> round(display.mean_line_.get_ydata()[0], 3)
    0.5
    """

    def __init__(self, per_class_accuracy, train_class_counts, *, display_labels=None):
        self.per_class_accuracy = np.asarray(per_class_accuracy, dtype=float)
        self.train_class_counts = np.asarray(train_class_counts, dtype=float)
        self.display_labels = display_labels

    def plot(self, ax=None, *, annotate=True, scatter_kwargs=None):
        """Draw the points, the balanced-accuracy line and the class labels.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        annotate : bool, default=True
            Write each class's label next to its point.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter``.

        Returns
        -------
        display : PerClassAccuracyDisplay
            ``self``, drawn.
        """
        ax = _axes(ax)
        accuracy, counts = self.per_class_accuracy, self.train_class_counts
        check_consistent_length(accuracy, counts)
        labels = _as_labels(
            range(len(counts)) if self.display_labels is None else self.display_labels
        )
        has_test_samples = ~np.isnan(accuracy)
        style = {"s": 50, "zorder": 3, "label": "classes"}
        style.update(scatter_kwargs or {})
        self.scatter_ = ax.scatter(counts[has_test_samples], accuracy[has_test_samples], **style)
        balanced_accuracy = float(np.mean(accuracy[has_test_samples]))
        self.mean_line_ = ax.axhline(
            balanced_accuracy,
            color="grey",
            linestyle="--",
            label=f"balanced accuracy = {balanced_accuracy:.3f}",
        )
        self.annotations_ = []
        if annotate:
            for label, count, value in zip(labels, counts, accuracy, strict=True):
                if not np.isnan(value):
                    self.annotations_.append(
                        ax.annotate(
                            label,
                            (count, value),
                            xytext=(4, 4),
                            textcoords="offset points",
                            fontsize="small",
                        )
                    )
        # counts of long-tailed data span orders of magnitude: a log axis spreads the tail out
        if counts.min() > 0 and counts.max() / counts.min() >= 10:
            ax.set_xscale("log")
        ax.margins(x=0.1)  # room for the class labels at both ends
        ax.set_ylim(-0.05, 1.08)
        ax.set_xlabel("training samples of the class")
        ax.set_ylabel("test accuracy of the class (recall)")
        ax.set_title("Per-class accuracy")
        ax.legend(loc="lower right", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        train_class_counts,
        *,
        labels=None,
        ax=None,
        annotate=True,
        scatter_kwargs=None,
    ):
        """Compute the per-class accuracy of ``y_pred`` and plot it.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True test labels.
        y_pred : array-like of shape (n_samples,)
            Predicted test labels.
        train_class_counts : mapping or array-like of shape (n_classes,)
            Training samples of each class: a mapping ``{label: count}`` (a ``dict`` or a
            ``pandas.Series`` such as ``pd.Series(y_train).value_counts()``), or counts in the
            order of ``labels``.
        labels : array-like of shape (n_classes,), default=None
            The classes, in the order of an array ``train_class_counts``. Defaults to the keys
            of a mapping, else to the sorted labels of ``y_true``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        annotate : bool, default=True
            Write each class's label next to its point.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter``.

        Returns
        -------
        display : PerClassAccuracyDisplay
            The drawn display.
        """
        y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
        check_consistent_length(y_true, y_pred)
        if isinstance(train_class_counts, Mapping) or hasattr(train_class_counts, "items"):
            mapping = dict(train_class_counts.items())
            if labels is None:
                labels = sorted(mapping)
            counts = [mapping[label] for label in labels]
        else:
            labels = np.unique(y_true) if labels is None else labels
            counts = column_or_1d(train_class_counts)
            if len(counts) != len(labels):
                raise ValueError(
                    f"train_class_counts has {len(counts)} entries but there are "
                    f"{len(labels)} classes; pass labels= to say which count is which class"
                )
        accuracy = per_class_accuracy(y_true, y_pred, labels=labels)
        display = cls(accuracy, counts, display_labels=labels)
        return display.plot(ax=ax, annotate=annotate, scatter_kwargs=scatter_kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, annotate=True, scatter_kwargs=None):
        """Predict ``X`` with a fitted classifier and plot its per-class accuracy on ``y``.

        The training counts are the estimator's ``class_counts_`` (set by
        :class:`~sklearn_elm.ELMClassifier`, or by a pipeline ending in one).

        Parameters
        ----------
        estimator : fitted classifier with ``classes_`` and ``class_counts_``
            Also a pipeline whose last step has them.
        X : array-like of shape (n_samples, n_features)
            Test inputs.
        y : array-like of shape (n_samples,)
            True test labels.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        annotate : bool, default=True
            Write each class's label next to its point.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter``.

        Returns
        -------
        display : PerClassAccuracyDisplay
            The drawn display.
        """
        final = _final_estimator(estimator)
        check_is_fitted(final, "class_counts_")
        return cls.from_predictions(
            y,
            estimator.predict(X),
            final.class_counts_,
            labels=final.classes_,
            ax=ax,
            annotate=annotate,
            scatter_kwargs=scatter_kwargs,
        )


def _final_estimator(estimator):
    """The last step of a (possibly nested) pipeline, else the estimator itself."""
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


# --------------------------------------------------------------------------------------------
# margins
# --------------------------------------------------------------------------------------------
class MarginsDisplay:
    """The per-class margins :math:`\\Delta_k` and the ELM gap each class must win by.

    Bars show :math:`\\Delta_k = C\\,n_k^{-1/4}` per class. With ``lam`` (ELM), a vertical
    segment over each class ``y`` spans the gap :math:`\\Delta_y - \\lambda\\Delta_{\\hat{j}}`
    its samples must win by, from its smallest value (the hardest wrong class :math:`\\hat{j}`
    is the rarest other class) to its largest (:math:`\\hat{j}` is the most frequent other
    class). With ``lam=0`` (LDAM) the gap is the bar itself.

    Parameters
    ----------
    margins : array-like of shape (n_classes,)
        Margins :math:`\\Delta_k`.
    class_counts : array-like of shape (n_classes,)
        Training samples of each class.
    lam : float or None, default=None
        ELM's :math:`\\lambda`; ``None`` or ``0`` draws no gap segments.
    display_labels : array-like of shape (n_classes,), default=None
        Class names for the x-axis; ``None`` uses ``0, ..., n_classes - 1``.

    Attributes
    ----------
    bars_ : matplotlib.container.BarContainer
        One bar of height :math:`\\Delta_k` per class.
    gap_range_ : matplotlib.collections.LineCollection or None
        The ELM gap segments (``None`` without ``lam``).
    ax_ : matplotlib.axes.Axes
        Axes the display was drawn on.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    See Also
    --------
    plot_margins : Shortcut for :meth:`from_estimator`.
    sklearn_elm.losses.label_distribution_margins : How the margins are computed.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_elm.plotting import MarginsDisplay
    >>> display = MarginsDisplay.from_class_counts([10000, 100, 1], max_m=0.5, lam=1.0)
    >>> [round(float(bar.get_height()), 4) for bar in display.bars_]
    [0.05, 0.1581, 0.5]
    >>> display.gap_range_.get_segments()[2].round(4).tolist()
    [[2.0, 0.3419], [2.0, 0.45]]
    """

    def __init__(self, margins, class_counts, *, lam=None, display_labels=None):
        self.margins = np.asarray(margins, dtype=float)
        self.class_counts = np.asarray(class_counts)
        self.lam = lam
        self.display_labels = display_labels

    def gap_bounds(self):
        """Smallest and largest ELM gap :math:`\\Delta_y - \\lambda\\Delta_{\\hat{j}}` per class.

        Returns
        -------
        low, high : ndarray of shape (n_classes,)
            The gap when the hardest wrong class is the other class with the largest margin
            (``low``) and with the smallest margin (``high``), for ``lam >= 0``.
        """
        margins, lam = self.margins, float(self.lam or 0.0)
        others = [np.delete(margins, k) for k in range(margins.size)]
        with_largest = margins - lam * np.array([o.max() if o.size else 0.0 for o in others])
        with_smallest = margins - lam * np.array([o.min() if o.size else 0.0 for o in others])
        return np.minimum(with_largest, with_smallest), np.maximum(with_largest, with_smallest)

    def plot(self, ax=None, *, bar_kwargs=None):
        """Draw the margin bars and, for ELM, the gap segments.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        bar_kwargs : dict, default=None
            Passed to ``ax.bar``.

        Returns
        -------
        display : MarginsDisplay
            ``self``, drawn.
        """
        ax = _axes(ax)
        check_consistent_length(self.margins, self.class_counts)
        positions = np.arange(self.margins.size)
        labels = _as_labels(positions if self.display_labels is None else self.display_labels)
        style = {"color": "tab:blue", "alpha": 0.8, "label": r"margin $\Delta_k$"}
        style.update(bar_kwargs or {})
        self.bars_ = ax.bar(positions, self.margins, **style)
        self.gap_range_ = None
        if self.lam:
            low, high = self.gap_bounds()
            self.gap_range_ = ax.vlines(
                positions,
                low,
                high,
                color="tab:red",
                linewidth=3,
                label=rf"ELM gap $\Delta_y - \lambda\Delta_{{\hat{{j}}}}$ ($\lambda$={self.lam:g})",
            )
            ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(
            positions,
            [f"{label}\nn={count}" for label, count in zip(labels, self.class_counts, strict=True)],
            fontsize="small" if positions.size <= 12 else "x-small",
        )
        ax.set_xlabel("class (training samples)")
        ax.set_ylabel("margin (cosine-logit units)")
        ax.set_title("Per-class margins")
        ax.legend(loc="upper left", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, bar_kwargs=None):
        """Plot the margins of a fitted :class:`~sklearn_elm.ELMClassifier`.

        Parameters
        ----------
        estimator : fitted ELMClassifier, or a pipeline ending in one
            Reads ``margins_``, ``class_counts_``, ``classes_``, and ``lam`` when ``loss`` is
            ``"elm"``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        bar_kwargs : dict, default=None
            Passed to ``ax.bar``.

        Returns
        -------
        display : MarginsDisplay
            The drawn display.
        """
        estimator = _final_estimator(estimator)
        check_is_fitted(estimator, "margins_")
        lam = estimator.lam if getattr(estimator, "loss", "elm") == "elm" else None
        display = cls(
            estimator.margins_, estimator.class_counts_, lam=lam, display_labels=estimator.classes_
        )
        return display.plot(ax=ax, bar_kwargs=bar_kwargs)

    @classmethod
    def from_class_counts(
        cls, class_counts, *, max_m=0.5, lam=1.0, display_labels=None, ax=None, bar_kwargs=None
    ):
        """Plot the margins ELM would use for these class counts, without training.

        Parameters
        ----------
        class_counts : array-like of shape (n_classes,)
            Training samples of each class, all >= 1.
        max_m : float, default=0.5
            Largest margin (that of the rarest class), as in
            :func:`~sklearn_elm.losses.label_distribution_margins`.
        lam : float, default=1.0
            ELM's :math:`\\lambda`; ``0`` draws the LDAM margins without gap segments.
        display_labels : array-like of shape (n_classes,), default=None
            Class names for the x-axis; ``None`` uses ``0, ..., n_classes - 1``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        bar_kwargs : dict, default=None
            Passed to ``ax.bar``.

        Returns
        -------
        display : MarginsDisplay
            The drawn display.
        """
        from .losses import label_distribution_margins

        margins = label_distribution_margins(class_counts, max_m).numpy()
        display = cls(margins, class_counts, lam=lam, display_labels=display_labels)
        return display.plot(ax=ax, bar_kwargs=bar_kwargs)


# --------------------------------------------------------------------------------------------
# training history
# --------------------------------------------------------------------------------------------
class TrainingHistoryDisplay:
    """Training (and validation) loss per epoch of a network.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        Epoch numbers (skorch counts from 1).
    train_loss : array-like of shape (n_epochs,)
        Training loss of each epoch.
    valid_loss : array-like of shape (n_epochs,), default=None
        Present when the estimator held out a validation set (``early_stopping=True``).
    drw_start_epoch : int or None, default=None
        First epoch (in the numbering of ``epochs``) with deferred re-weighting; marked by a
        vertical line, since the weighted loss is on another scale from there on.

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        ``"train_loss"`` and, if available, ``"valid_loss"``.
    drw_line_ : matplotlib.lines.Line2D or None
        The vertical line at ``drw_start_epoch`` (``None`` without it).
    ax_ : matplotlib.axes.Axes
        Axes the display was drawn on.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    See Also
    --------
    plot_training_history : Shortcut for :meth:`from_estimator`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_elm.plotting import TrainingHistoryDisplay
    >>> display = TrainingHistoryDisplay([1, 2, 3], [0.9, 0.5, 0.4], drw_start_epoch=3).plot()
    >>> display.lines_["train_loss"].get_ydata().tolist()
    [0.9, 0.5, 0.4]
    >>> display.drw_line_.get_xdata()[0]
    3
    """

    def __init__(self, epochs, train_loss, *, valid_loss=None, drw_start_epoch=None):
        self.epochs = np.asarray(epochs)
        self.train_loss = np.asarray(train_loss, dtype=float)
        self.valid_loss = None if valid_loss is None else np.asarray(valid_loss, dtype=float)
        self.drw_start_epoch = drw_start_epoch

    def plot(self, ax=None, *, log_scale=False):
        """Draw the loss curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        log_scale : bool, default=False
            Logarithmic loss axis.

        Returns
        -------
        display : TrainingHistoryDisplay
            ``self``, drawn.
        """
        ax = _axes(ax)
        check_consistent_length(self.epochs, self.train_loss)
        self.lines_ = {}
        (self.lines_["train_loss"],) = ax.plot(
            self.epochs, self.train_loss, marker=".", label="training loss"
        )
        if self.valid_loss is not None:
            check_consistent_length(self.epochs, self.valid_loss)
            (self.lines_["valid_loss"],) = ax.plot(
                self.epochs, self.valid_loss, marker=".", label="validation loss"
            )
        self.drw_line_ = None
        if self.drw_start_epoch is not None and self.drw_start_epoch <= self.epochs.max():
            self.drw_line_ = ax.axvline(
                self.drw_start_epoch,
                color="grey",
                linestyle=":",
                label="deferred re-weighting starts",
            )
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title("Training history")
        ax.legend(loc="upper right", fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, log_scale=False):
        """Plot the loss history of a fitted :class:`~sklearn_elm.ELMClassifier`.

        Parameters
        ----------
        estimator : fitted ELMClassifier, or a pipeline ending in one
            Reads ``history_`` and the start epoch of its deferred re-weighting callback.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a new figure.
        log_scale : bool, default=False
            Logarithmic loss axis.

        Returns
        -------
        display : TrainingHistoryDisplay
            The drawn display.
        """
        from .callbacks import DeferredReweighting

        estimator = _final_estimator(estimator)
        check_is_fitted(estimator, "history_")
        history = list(estimator.history_)
        epochs = [row["epoch"] for row in history]
        train_loss = [row["train_loss"] for row in history]
        valid_loss = None
        if all("valid_loss" in row for row in history):
            valid_loss = [row["valid_loss"] for row in history]
        drw_start_epoch = None
        for _, callback in getattr(estimator.net_, "callbacks_", []):
            if isinstance(callback, DeferredReweighting) and hasattr(callback, "start_epoch_"):
                # the callback counts epochs from 0, skorch's history from 1
                drw_start_epoch = callback.start_epoch_ + 1
        display = cls(epochs, train_loss, valid_loss=valid_loss, drw_start_epoch=drw_start_epoch)
        return display.plot(ax=ax, log_scale=log_scale)


# --------------------------------------------------------------------------------------------
# shortcuts: one call to a display's classmethod each, so that no drawing logic lives here
# --------------------------------------------------------------------------------------------
def plot_per_class_accuracy(y_true, y_pred, train_class_counts, ax=None, **kwargs):
    """Plot each class's test accuracy against its number of training samples.

    Shortcut for ``PerClassAccuracyDisplay.from_predictions(y_true, y_pred,
    train_class_counts, ax=ax, **kwargs)``; the display is the API.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True test labels.
    y_pred : array-like of shape (n_samples,)
        Predicted test labels.
    train_class_counts : mapping or array-like of shape (n_classes,)
        ``{label: count}`` or counts in the order of ``labels`` (see
        :meth:`PerClassAccuracyDisplay.from_predictions`).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    **kwargs : dict
        ``labels``, ``annotate`` and ``scatter_kwargs`` of
        :meth:`PerClassAccuracyDisplay.from_predictions`.

    Returns
    -------
    display : PerClassAccuracyDisplay
        The drawn display.

    See Also
    --------
    PerClassAccuracyDisplay.from_predictions : The method this calls.
    PerClassAccuracyDisplay.from_estimator : The same plot from a fitted classifier.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_elm.plotting import plot_per_class_accuracy
    >>> display = plot_per_class_accuracy([0, 0, 1, 1], [0, 0, 1, 0], [90, 10])
    >>> display.per_class_accuracy
    array([1. , 0.5])
    """
    return PerClassAccuracyDisplay.from_predictions(
        y_true, y_pred, train_class_counts, ax=ax, **kwargs
    )


def plot_margins(estimator, ax=None, **kwargs):
    """Plot the per-class margins of a fitted :class:`~sklearn_elm.ELMClassifier`.

    Shortcut for ``MarginsDisplay.from_estimator(estimator, ax=ax, **kwargs)``; the display is
    the API.

    Parameters
    ----------
    estimator : fitted ELMClassifier, or a pipeline ending in one
        The classifier whose ``margins_`` are drawn.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    **kwargs : dict
        ``bar_kwargs`` of :meth:`MarginsDisplay.from_estimator`.

    Returns
    -------
    display : MarginsDisplay
        The drawn display.

    See Also
    --------
    MarginsDisplay.from_estimator : The method this calls.
    MarginsDisplay.from_class_counts : The margins of given class counts, without training.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_elm import ELMClassifier
    >>> from sklearn_elm.plotting import plot_margins
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = ELMClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> display = plot_margins(clf)
    >>> [round(float(bar.get_height()), 3) for bar in display.bars_]
    [0.293, 0.5]
    """
    return MarginsDisplay.from_estimator(estimator, ax=ax, **kwargs)


def plot_training_history(estimator, ax=None, **kwargs):
    """Plot the loss per epoch of a fitted :class:`~sklearn_elm.ELMClassifier`.

    Shortcut for ``TrainingHistoryDisplay.from_estimator(estimator, ax=ax, **kwargs)``; the
    display is the API.

    Parameters
    ----------
    estimator : fitted ELMClassifier, or a pipeline ending in one
        The classifier whose ``history_`` is drawn.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new figure.
    **kwargs : dict
        ``log_scale`` of :meth:`TrainingHistoryDisplay.from_estimator`.

    Returns
    -------
    display : TrainingHistoryDisplay
        The drawn display.

    See Also
    --------
    TrainingHistoryDisplay.from_estimator : The method this calls.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_elm import ELMClassifier
    >>> from sklearn_elm.plotting import plot_training_history
    >>> X, y = make_classification(n_samples=200, weights=[0.9, 0.1], random_state=0)
    >>> clf = ELMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> display = plot_training_history(clf)
    >>> display.lines_["train_loss"].get_xdata().tolist(), display.drw_start_epoch
    ([1, 2, 3, 4, 5], 5)
    """
    return TrainingHistoryDisplay.from_estimator(estimator, ax=ax, **kwargs)
