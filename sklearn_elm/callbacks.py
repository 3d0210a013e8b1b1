"""skorch callbacks: deferred re-weighting and the papers' learning-rate schedule.

Both work with :class:`~sklearn_elm.ELMClassifier` and with a plain skorch
``NeuralNetClassifier`` / ``NeuralNet``.
"""

from __future__ import annotations

import numbers

import torch
from skorch.callbacks import Callback

from .losses import _as_class_counts, class_balanced_weights

__all__ = ["DeferredReweighting", "WarmupMultiStepLR"]


def _resolve_epoch(value, max_epochs, name):
    """An epoch index from an int, or from a float fraction of ``max_epochs``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{name} must be a non-negative epoch or a fraction, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if value > 1:
        raise ValueError(
            f"{name} given as a float must be a fraction of max_epochs in [0, 1], got {value!r}"
        )
    return int(round(value * max_epochs))


def _current_epoch(net):
    # skorch appends the new history row before the callbacks' on_epoch_begin runs
    return len(net.history) - 1


class DeferredReweighting(Callback):
    """Deferred re-weighting (DRW, Cao et al., 2019) as a skorch callback.

    Before epoch ``start`` the criterion's per-class ``weight`` is ``None`` (uniform); from
    ``start`` on it is set to :func:`~sklearn_elm.losses.class_balanced_weights` with ``beta``.
    Works with any criterion that has a ``weight`` attribute or buffer: the losses of
    :mod:`sklearn_elm.losses` and ``torch.nn.CrossEntropyLoss``/``NLLLoss`` alike.

    Parameters
    ----------
    start : int or float, default=0.8
        First (0-based) epoch with class-balanced weights; a float in [0, 1] is a fraction of
        the net's ``max_epochs`` (the papers use 160 of 200, i.e. 0.8).
    beta : float in [0, 1), default=0.9999
        Effective-number hyper-parameter of the class-balanced weights.
    class_counts : array-like of shape (n_classes,), default=None
        Training samples per class. ``None`` reads the criterion's ``class_counts`` buffer
        (set by :class:`~sklearn_elm.losses.ELMLoss`, ``LDAMLoss`` and ``LogitAdjustedLoss``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_elm.callbacks import DeferredReweighting
    >>> X = np.random.RandomState(0).randn(60, 4).astype("float32")
    >>> y = np.r_[np.zeros(50), np.ones(10)].astype("int64")
    >>> net = NeuralNetClassifier(
    ...     torch.nn.Linear, module__in_features=4, module__out_features=2,
    ...     criterion=torch.nn.CrossEntropyLoss, max_epochs=3, train_split=None, verbose=0,
    ...     callbacks=[DeferredReweighting(start=2, class_counts=[50, 10], beta=0.99)],
    ... ).fit(X, y)
    >>> net.criterion_.weight
    tensor([0.3898, 1.6102])
    """

    def __init__(self, start=0.8, beta=0.9999, class_counts=None):
        self.start = start
        self.beta = beta
        self.class_counts = class_counts

    def initialize(self):
        if self.class_counts is not None:
            _as_class_counts(self.class_counts)
        class_balanced_weights([1], self.beta)  # validates beta early
        _resolve_epoch(self.start, 1, "start")  # type and range checks need no max_epochs
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        counts = self.class_counts
        if counts is None:
            counts = getattr(net.criterion_, "class_counts", None)
            if counts is None:
                raise ValueError(
                    "DeferredReweighting needs class_counts: pass them to the callback, or use "
                    "a criterion with a class_counts buffer (ELMLoss, LDAMLoss, ...)"
                )
        if not hasattr(net.criterion_, "weight"):
            raise TypeError(
                f"DeferredReweighting needs a criterion with a 'weight' attribute; "
                f"{type(net.criterion_).__name__} has none"
            )
        self.start_epoch_ = _resolve_epoch(self.start, net.max_epochs, "start")
        self.weights_ = class_balanced_weights(counts, self.beta)

    def on_epoch_begin(self, net, **kwargs):
        criterion = net.criterion_
        if _current_epoch(net) >= self.start_epoch_:
            # match the module's device and float dtype: torch's own CrossEntropyLoss refuses
            # a float32 weight with float64 logits
            reference = next(net.module_.parameters(), None)
            device, dtype = "cpu", torch.float32
            if reference is not None:
                device = reference.device
                if reference.dtype.is_floating_point:
                    dtype = reference.dtype
            weight = self.weights_.to(device=device, dtype=dtype)
        else:
            weight = None
        criterion.weight = weight


class WarmupMultiStepLR(Callback):
    """Linear learning-rate warm-up followed by step decays, as in the LDAM/ELM recipes.

    At 0-based epoch ``e`` the learning rate of every parameter group is
    ``base_lr · (e + 1) / warmup_epochs`` while ``e < warmup_epochs``, and afterwards
    ``base_lr · gamma^m`` where ``m`` is the number of milestones ``<= e``.

    Parameters
    ----------
    warmup_epochs : int or float, default=5
        Epochs of linear warm-up; a float in [0, 1] is a fraction of ``max_epochs``.
    milestones : sequence of int or float, default=(160, 180)
        Epochs at which the rate is multiplied by ``gamma``; floats are fractions of
        ``max_epochs``.
    gamma : float, default=0.1
        Multiplicative decay at each milestone (the LDAM code uses 0.01).

    Examples
    --------
    >>> from sklearn_elm.callbacks import WarmupMultiStepLR
    >>> sched = WarmupMultiStepLR(warmup_epochs=2, milestones=(4, 6), gamma=0.1)
    >>> [sched.factor(e, max_epochs=8) for e in range(8)]
    [0.5, 1.0, 1.0, 1.0, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002]
    """

    def __init__(self, warmup_epochs=5, milestones=(160, 180), gamma=0.1):
        self.warmup_epochs = warmup_epochs
        self.milestones = milestones
        self.gamma = gamma

    def factor(self, epoch, max_epochs):
        """Multiplier of the base learning rate at 0-based ``epoch``."""
        warmup = _resolve_epoch(self.warmup_epochs, max_epochs, "warmup_epochs")
        if epoch < warmup:
            return (epoch + 1) / warmup
        milestones = [_resolve_epoch(m, max_epochs, "milestones") for m in self.milestones]
        return self.gamma ** sum(epoch >= m for m in milestones)

    def on_train_begin(self, net, **kwargs):
        # remember the base rates only at the start of training: a later partial_fit finds the
        # optimizer at an already scheduled rate, which must not become the new base
        if not hasattr(self, "base_lrs_") or len(net.history) == 0:
            self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_epoch_begin(self, net, **kwargs):
        factor = self.factor(_current_epoch(net), net.max_epochs)
        for group, base_lr in zip(net.optimizer_.param_groups, self.base_lrs_, strict=True):
            group["lr"] = base_lr * factor
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])
