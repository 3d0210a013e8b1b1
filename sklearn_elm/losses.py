"""Margin losses for imbalanced classification, each in a functional and a module form.

The functional forms (``elm_loss``, ``ldam_loss``, ...) mirror ``F.cross_entropy``; the module
forms (``ELMLoss``, ``LDAMLoss``, ...) mirror ``nn.CrossEntropyLoss`` and keep their per-class
margins and weights in registered buffers, so ``.to(device)`` and ``state_dict`` carry them.

Every module form exposes a ``weight`` buffer (``None`` or a tensor of shape ``(K,)``), which is
what :class:`sklearn_elm.callbacks.DeferredReweighting` switches during training.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

__all__ = [
    "CBLoss",
    "ELMLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "cb_loss",
    "class_balanced_weights",
    "cross_entropy_core",
    "elm_loss",
    "focal_core",
    "focal_loss",
    "ldam_loss",
    "label_distribution_margins",
    "logit_adjusted_core",
    "logit_adjusted_loss",
    "margin_loss_core",
    "row_weights",
    "weighted_mean",
]

_REDUCTIONS = ("mean", "sum", "none")
_LOW_PRECISION = (torch.float16, torch.bfloat16)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _as_class_counts(class_counts) -> torch.Tensor:
    """Return ``class_counts`` as a 1-D float64 CPU tensor, refusing counts below 1."""
    if isinstance(class_counts, torch.Tensor):
        counts = class_counts.detach().to("cpu", torch.float64)
    else:
        try:
            counts = torch.as_tensor(np.asarray(class_counts, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"class_counts must be a 1-D sequence of numbers, got {class_counts!r}"
            ) from exc
    if counts.ndim != 1 or counts.numel() == 0:
        raise ValueError(
            f"class_counts must be a non-empty 1-D sequence, got shape {tuple(counts.shape)}"
        )
    bad = ~torch.isfinite(counts) | (counts < 1)
    if bad.any():
        k = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"class_counts must all be finite and >= 1; class {k} has count {counts[k].item()!r}"
        )
    return counts


def _check_real(name, value, *, low=None, low_inclusive=True, high=None, high_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if low is not None and (value < low if low_inclusive else value <= low):
        sign = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {sign} {low}, got {value!r}")
    if high is not None and (value > high if high_inclusive else value >= high):
        sign = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {sign} {high}, got {value!r}")
    return float(value)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_logits_target(logits, target, n_classes=None):
    """Validate shapes and target range; return logits in a dtype safe for the loss."""
    if not isinstance(logits, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(
            "logits and target must be torch tensors, got "
            f"{type(logits).__name__} and {type(target).__name__}"
        )
    if logits.ndim != 2:
        raise ValueError(
            f"logits must be 2-D (n_samples, n_classes), got shape {tuple(logits.shape)}"
        )
    if target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must be 1-D with {logits.shape[0]} entries to match logits, "
            f"got shape {tuple(target.shape)}"
        )
    if target.dtype.is_floating_point or target.dtype == torch.bool or target.is_complex():
        raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}")
    n_logit_classes = logits.shape[1]
    if n_classes is not None and n_classes != n_logit_classes:
        raise ValueError(
            f"logits have {n_logit_classes} columns but class_counts has {n_classes} classes"
        )
    if target.numel():
        low, high = torch.aminmax(target)
        if low < 0 or high >= n_logit_classes:
            bad = int(low) if low < 0 else int(high)
            raise ValueError(f"target values must lie in [0, {n_logit_classes}); found {bad}")
    # autocast hands us half precision logits; exp/logsumexp at scale s need float32
    if logits.dtype in _LOW_PRECISION:
        logits = logits.float()
    return logits


def _check_weight_values(weight):
    """Refuse negative or non-finite class weights, which give a -inf or NaN loss."""
    bad = ~torch.isfinite(weight) | (weight < 0)
    if bad.any():
        k = int(bad.nonzero()[0, 0]) if weight.ndim == 1 else 0
        value = weight.reshape(-1)[k].item()
        raise ValueError(f"weight must be finite and >= 0; class {k} has weight {value!r}")


def _as_weight(weight, n_classes, like):
    """Per-class weights as a tensor on ``like``'s device and dtype (or ``None``)."""
    if weight is None:
        return None
    if not isinstance(weight, torch.Tensor):
        # via float64 numpy: torch.as_tensor would round a list of floats to float32 first
        weight = torch.as_tensor(np.asarray(weight, dtype=np.float64))
    if weight.device.type == "cpu":  # checking a CUDA weight would sync at every call
        _check_weight_values(weight)
    weight = weight.to(device=like.device, dtype=like.dtype)
    if weight.shape != (n_classes,):
        raise ValueError(
            f"weight must have shape ({n_classes},), one entry per class, "
            f"got shape {tuple(weight.shape)}"
        )
    return weight


def weighted_mean(losses, weights=None):
    """The weighted mean ``Σ w_i l_i / Σ w_i`` over the last axis; the plain mean without weights.

    The one definition of how per-sample losses become a batch loss: the criteria's ``"mean"``
    reduction, :meth:`~sklearn_elm._training.ELMNet.weighted_loss` and the batched engine (whose
    padding rows get weight 0) all call it.

    Parameters
    ----------
    losses : torch.Tensor of shape (..., n_samples)
        Unweighted per-sample losses.
    weights : torch.Tensor of shape (..., n_samples), default=None
        Per-sample weights (see :func:`row_weights`).

    Returns
    -------
    loss : torch.Tensor of shape (...)

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import weighted_mean
    >>> weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([3.0, 1.0]))
    tensor(1.5000)
    """
    if weights is None:
        return losses.mean(-1)
    return (losses * weights).sum(-1) / weights.sum(-1)


def row_weights(target, class_weight=None, sample_weight=None):
    """Per-sample weights ``c_{y_i} · w_i`` from class weights ``c`` and sample weights ``w``.

    Parameters
    ----------
    target : torch.Tensor of shape (..., n_samples)
        Integer class indices.
    class_weight : torch.Tensor of shape (..., n_classes), default=None
        Per-class weights (a criterion's ``weight``), one row per leading index of ``target``.
    sample_weight : torch.Tensor of shape (..., n_samples), default=None
        Per-sample weights.

    Returns
    -------
    weights : torch.Tensor of shape (..., n_samples) or None
        None when both weights are None (the plain mean).
    """
    weights = None if class_weight is None else class_weight.gather(-1, target)
    if sample_weight is not None:
        weights = sample_weight if weights is None else weights * sample_weight
    return weights


def _weighted_reduce(per_sample, target, weight, reduction):
    """Reduce unweighted per-sample losses like ``F.cross_entropy`` with class weights ``weight``.

    ``"none"`` returns ``w_{y_i} l_i``, ``"sum"`` their sum and ``"mean"`` the weighted mean.
    """
    weights = row_weights(target, weight)
    if reduction == "mean":
        return weighted_mean(per_sample, weights)
    if weights is not None:
        per_sample = per_sample * weights
    return per_sample if reduction == "none" else per_sample.sum()


# --------------------------------------------------------------------------------------------
# margins and class-balanced weights
# --------------------------------------------------------------------------------------------
def label_distribution_margins(class_counts, max_m=0.5) -> torch.Tensor:
    """Per-class LDAM margins ``Δ_k = C · n_k^(-1/4)`` with ``max_k Δ_k = max_m``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Number of training samples of each class, all >= 1.
    max_m : float, default=0.5
        The largest margin, given to the rarest class. ``0`` gives no margins.

    Returns
    -------
    margins : torch.Tensor of shape (n_classes,), float64

    Examples
    --------
    >>> from sklearn_elm.losses import label_distribution_margins
    >>> label_distribution_margins([10000, 100, 1], max_m=0.5)
    tensor([0.0500, 0.1581, 0.5000], dtype=torch.float64)
    """
    counts = _as_class_counts(class_counts)
    max_m = _check_real("max_m", max_m, low=0)
    margins = counts.pow(-0.25)
    return margins * (max_m / margins.max())


def class_balanced_weights(class_counts, beta=0.9999) -> torch.Tensor:
    """Class-balanced weights from the effective number of samples (Cui et al., 2019).

    ``w_k ∝ (1 - β) / (1 - β^{n_k})``, normalised so that the weights sum to the number of
    classes ``K``. ``β = 0`` gives uniform weights; ``β → 1`` approaches inverse frequency.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Number of training samples of each class, all >= 1.
    beta : float in [0, 1), default=0.9999
        Hyper-parameter of the effective number ``(1 - β^n) / (1 - β)``.

    Returns
    -------
    weights : torch.Tensor of shape (n_classes,), float64

    Examples
    --------
    >>> from sklearn_elm.losses import class_balanced_weights
    >>> class_balanced_weights([100, 10], beta=0.0)
    tensor([1., 1.], dtype=torch.float64)
    >>> w = class_balanced_weights([1000, 10], beta=0.999)
    >>> round(float(w.sum()), 6), bool(w[1] > w[0])
    (2.0, True)
    """
    counts = _as_class_counts(class_counts)
    beta = _check_real("beta", beta, low=0, high=1, high_inclusive=False)
    # 1 - β^n, computed as -expm1(n·log β) to stay accurate for β close to 1
    if beta == 0.0:
        effective = torch.ones_like(counts)
    else:
        effective = -torch.expm1(counts * np.log(beta)) / (1.0 - beta)
    weights = 1.0 / effective
    return weights * (counts.numel() / weights.sum())


# --------------------------------------------------------------------------------------------
# ELM and LDAM
# --------------------------------------------------------------------------------------------
# Signed integers of the same width as each float dtype, for the bit-level key below.
_SAME_WIDTH_INT = {torch.float32: torch.int32, torch.float64: torch.int64}
# Below this many logits the five small passes of the "key" method cost more than torch's
# row-wise argmax. Measured crossover on CPU with one torch thread (the batched engine's
# setting): about 75,000 logits with 10 classes, 32,000 with 100 or more, 100,000 with 2;
# more threads move it up, as argmax then splits the rows between them.
_MIN_LOGITS_FOR_KEY = 2**16


def _hardest_wrong_class(logits, target, method="auto"):
    """Index of the largest non-target logit per row, the lowest such index on ties.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes), n_classes >= 2
        Logits, one row per sample.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``, not checked.
    method : {"auto", "argmax", "key"}, default="auto"
        ``"argmax"`` masks the target column with -inf and calls ``argmax``. ``"key"`` gets the
        same answer from vectorised passes only (``amax``, subtraction, bitwise or): on CPU
        torch's row-wise ``argmax`` is a scalar loop about ten times slower than ``amax``, and it
        alone cost about as much as the rest of the loss's forward pass. ``"auto"`` picks
        ``"key"`` for large float32/float64 logits on CPU and ``"argmax"`` otherwise.

    Returns
    -------
    hardest : torch.LongTensor of shape (n_samples,)

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import _hardest_wrong_class
    >>> logits = torch.tensor([[3.0, 1.0, 1.0], [3.0, 1.0, 2.0]])
    >>> _hardest_wrong_class(logits, torch.tensor([0, 2])).tolist()
    [1, 0]
    >>> _hardest_wrong_class(logits, torch.tensor([0, 2]), method="argmax").tolist()
    [1, 0]
    """
    n_classes = logits.shape[1]
    if method == "auto":
        use_key = (
            logits.device.type == "cpu"
            and logits.dtype in _SAME_WIDTH_INT
            and logits.numel() >= _MIN_LOGITS_FOR_KEY
        )
        method = "key" if use_key else "argmax"
    with torch.no_grad():
        masked = logits.detach().scatter(1, target.unsqueeze(1), float("-inf"))
        if method == "argmax":
            # torch's argmax returns the first maximal index, i.e. the lowest one on ties
            return masked.argmax(dim=1)
        # gap = z_ij - max_{j != y} z_ij is exactly +0.0 at the row's maxima (x - x = +0 in
        # IEEE arithmetic) and negative elsewhere, so read as a signed integer of the same width
        # it is 0 at the maxima and negative (sign bit set) everywhere else: -inf, and even a
        # gap flushed to -0.0 by flush-to-zero. OR-ing in the descending ranks K..1 keeps each
        # maximum's rank and leaves every other entry negative, so the row's largest key is the
        # rank of its lowest maximal index.
        gap = masked.sub_(masked.amax(dim=1, keepdim=True))
        int_dtype = _SAME_WIDTH_INT[gap.dtype]
        descending_rank = torch.arange(n_classes, 0, -1, dtype=int_dtype, device=gap.device)
        key = gap.view(int_dtype).bitwise_or_(descending_rank)
        hardest = n_classes - key.amax(dim=1).long()
        # a row with NaN or +inf logits has a meaningless key (and a NaN loss); keep its index
        # in range so that the margin lookup cannot fail
        return hardest.clamp_(0, n_classes - 1)


def _margin_loss(logits, target, margins, lam, s, weight, reduction):
    """Validate the arguments of ELM/LDAM, then :func:`margin_loss_core` and the reduction."""
    _check_reduction(reduction)
    logits = _check_logits_target(logits, target, margins.numel())
    s = _check_real("s", s, low=0, low_inclusive=False)
    lam = _check_real("lam", lam)
    weight = _as_weight(weight, logits.shape[1], logits)
    per_sample = margin_loss_core(
        logits, target, margins.to(device=logits.device, dtype=logits.dtype), lam, s
    )
    return _weighted_reduce(per_sample, target, weight, reduction)


def margin_loss_core(logits, target, margins, lam, s):
    """Unweighted per-sample ELM loss (LDAM for ``lam=0``) on tensors, without any checks.

    The arithmetic of :func:`elm_loss`, separated from its validation so that it runs under
    ``torch.vmap`` and on the rows of many networks at once: ``margins`` has shape
    ``(n_classes,)`` or one row per sample ``(n_samples, n_classes)``; ``lam`` and ``s`` are
    numbers, 0-d tensors or per-sample tensors of shape ``(n_samples,)``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Unscaled logits (float32 or float64).
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``, not checked.
    margins : torch.Tensor of shape (n_classes,) or (n_samples, n_classes)
        Per-class margins Δ_k, in the dtype of ``logits``.
    lam, s : float or torch.Tensor
        Weight of the hardest wrong class's margin, and the logit scale.

    Returns
    -------
    losses : torch.Tensor of shape (n_samples,)
    """
    margins = margins.expand_as(logits)
    column = target.unsqueeze(-1)
    shift = margins.gather(-1, column).squeeze(-1)
    if (isinstance(lam, torch.Tensor) or lam != 0.0) and logits.shape[-1] > 1:
        # the hardest wrong class is chosen on detached logits: no gradient flows through it
        hardest_wrong = _hardest_wrong_class(logits, target)
        shift = shift - lam * margins.gather(-1, hardest_wrong.unsqueeze(-1)).squeeze(-1)
    # s·z'_y = s·z_y - s·(Δ_y - λ·Δ_ĵ), added in place into the target column of the freshly
    # scaled logits: no one-hot matrix and no extra (N, K) copy in forward or backward
    scale = s.unsqueeze(-1) if isinstance(s, torch.Tensor) and s.ndim else s
    scaled = logits * scale
    scaled.scatter_add_(-1, column, (shift * -s).unsqueeze(-1))
    return cross_entropy_core(scaled, target)


def cross_entropy_core(logits, target):
    """Unweighted per-sample cross-entropy ``logsumexp(z) - z_y``, without checks (vmap-safe).

    The value of ``F.cross_entropy(..., reduction="none")`` up to rounding, in a few vectorised
    passes: for rows of few classes (the usual tables, and the many rows of a batched step)
    torch's row-wise log-softmax kernel and its backward cost about three times as much.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Logits, one row per sample.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``, not checked.

    Returns
    -------
    losses : torch.Tensor of shape (n_samples,)
    """
    peak = logits.detach().amax(dim=-1, keepdim=True)
    log_sum = (logits - peak).exp().sum(dim=-1).log() + peak.squeeze(-1)
    return log_sum - logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)


def elm_loss(
    logits,
    target,
    class_counts,
    max_m=0.5,
    lam=1.0,
    s=30.0,
    weight=None,
    reduction="mean",
):
    r"""Enlarged Large Margin (ELM) loss of Kato & Hotta (2023).

    With per-class margins :math:`\Delta_k = C\,n_k^{-1/4}` (``C`` chosen so that
    :math:`\max_k \Delta_k` = ``max_m``) and the hardest wrong class
    :math:`\hat{j}_i = \arg\max_{j \ne y_i} z_{ij}`, the true logit is replaced by

    .. math:: z'_{i,y} = z_{i,y} - \Delta_{y} + \lambda\,\Delta_{\hat{j}}

    and the loss is the cross-entropy of :math:`s\,z'` against ``y``. Equivalently,

    .. math::

        \ell_i = \operatorname{softplus}\Big(\operatorname{logsumexp}_{j \ne y}(s z_{ij})
                 - s z_{i,y} + s(\Delta_{y} - \lambda \Delta_{\hat{j}})\Big).

    ``λ`` (``lam``) widens the margin a sample must win by when its strongest competitor is a
    *frequent* class (small :math:`\Delta_{\hat{j}}`) compared with a rare one: the required
    gap becomes :math:`\Delta_y - \lambda\Delta_{\hat{j}}`, so rare competitors, whose own
    margins are large, are not pushed as hard. ``lam=0`` is exactly LDAM; ``max_m=0, s=1`` is
    exactly cross-entropy.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Unscaled logits, usually cosine similarities from a normalised classifier head.
        float16/bfloat16 inputs are computed in float32; float64 stays float64.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    class_counts : array-like of shape (n_classes,)
        Training samples per class (list, numpy array or tensor), all >= 1.
    max_m : float, default=0.5
        Largest margin (that of the rarest class).
    lam : float, default=1.0
        Weight of the hardest wrong class's margin.
    s : float, default=30.0
        Logit scale, > 0.
    weight : array-like of shape (n_classes,), default=None
        Per-class weights, as in ``F.cross_entropy``.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` is the weighted mean ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` as in torch.

    Returns
    -------
    loss : torch.Tensor
        Scalar, or shape (n_samples,) with ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import elm_loss
    >>> logits = torch.tensor([[0.2, 0.1, -0.2], [0.2, 0.3, 0.4]])
    >>> target = torch.tensor([0, 2])
    >>> loss = elm_loss(logits, target, class_counts=[100, 10, 1])
    >>> round(loss.item(), 4)
    1.8207
    """
    margins = label_distribution_margins(class_counts, max_m)
    return _margin_loss(logits, target, margins, lam, s, weight, reduction)


def ldam_loss(logits, target, class_counts, max_m=0.5, s=30.0, weight=None, reduction="mean"):
    """Label-Distribution-Aware Margin loss (Cao et al., 2019); ``elm_loss`` with ``lam=0``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Unscaled logits, as in :func:`elm_loss`.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    class_counts : array-like of shape (n_classes,)
        Training samples per class (list, numpy array or tensor), all >= 1.
    max_m : float, default=0.5
        Largest margin (that of the rarest class).
    s : float, default=30.0
        Logit scale, > 0.
    weight : array-like of shape (n_classes,), default=None
        Per-class weights, as in ``F.cross_entropy``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in :func:`elm_loss`.

    Returns
    -------
    loss : torch.Tensor
        Scalar, or shape (n_samples,) with ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import ldam_loss, elm_loss
    >>> z, y = torch.randn(8, 4), torch.arange(8) % 4
    >>> counts = [500, 50, 20, 5]
    >>> torch.equal(ldam_loss(z, y, counts), elm_loss(z, y, counts, lam=0.0))
    True
    """
    margins = label_distribution_margins(class_counts, max_m)
    return _margin_loss(logits, target, margins, 0.0, s, weight, reduction)


class _WeightedLoss(nn.Module):
    """Base for the module forms: a ``weight`` buffer that DRW can switch, and a tensor core.

    Each criterion is its validation plus a plain tensor function, ``core(logits, target,
    **core_arguments())``, giving the unweighted per-sample losses; ``forward`` applies the
    class weights and the reduction. The batched engine stacks the members'
    ``core_arguments()`` and calls the same ``core`` on the rows of all members at once.
    ``applies_scale`` says whether the criterion applies the logit scale ``s`` itself (ELM and
    LDAM: ``s · (z_y - Δ_y)``); otherwise the net scales the logits before the criterion.
    """

    applies_scale = False

    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction
        if isinstance(weight, torch.Tensor):
            # np.asarray would fail on a CUDA tensor; buffers start on CPU, .to() moves them
            weight = weight.detach().to("cpu", torch.float64)
        elif weight is not None:
            weight = torch.as_tensor(np.asarray(weight, dtype=np.float64))
        if weight is not None:
            _check_weight_values(weight)
        self.register_buffer("weight", weight)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # DRW switches ``weight`` between None (absent from state_dict) and a tensor, so a
        # checkpoint may hold a weight this module does not (yet) have, or lack one it has:
        # adopt the checkpoint's state instead of failing on an unexpected/missing key
        key = prefix + "weight"
        if key in state_dict and self.weight is None:
            self.weight = torch.empty_like(state_dict[key])
        elif key not in state_dict and self.weight is not None:
            self.weight = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _n_classes(self):
        counts = getattr(self, "class_counts", None)
        return None if counts is None else counts.numel()

    def core_arguments(self):
        """The per-criterion arguments of ``core``: numbers and tensors (float64 buffers)."""
        return {}

    def per_sample(self, logits, target):
        """Unweighted per-sample losses: the inputs validated, then the criterion's ``core``.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Logits, one row per sample.
        target : torch.Tensor of shape (n_samples,)
            Integer class indices in ``[0, n_classes)``.

        Returns
        -------
        losses : torch.Tensor of shape (n_samples,)
        """
        logits = _check_logits_target(logits, target, self._n_classes())
        return self.checked_per_sample(logits, target)

    def checked_per_sample(self, logits, target):
        """:meth:`per_sample` of inputs the caller has already validated: the ``core`` alone.

        For a training loop that checks the targets' range once per dataset rather than at
        every batch (that check reads the device); the inputs are used as they are.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Logits, one row per sample.
        target : torch.Tensor of shape (n_samples,)
            Integer class indices in ``[0, n_classes)``, already checked.

        Returns
        -------
        losses : torch.Tensor of shape (n_samples,)
        """
        arguments = {
            name: value.to(device=logits.device, dtype=logits.dtype)
            if isinstance(value, torch.Tensor) else value
            for name, value in self.core_arguments().items()
        }
        return self.core(logits, target, **arguments)

    def forward(self, logits, target):
        per_sample = self.per_sample(logits, target)
        weight = _as_weight(self.weight, logits.shape[1], per_sample)
        return _weighted_reduce(per_sample, target, weight, self.reduction)


class ELMLoss(_WeightedLoss):
    """Module form of :func:`elm_loss`, the Enlarged Large Margin loss.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class (list, numpy array or tensor), all >= 1.
    max_m : float, default=0.5
        Largest margin (that of the rarest class).
    lam : float, default=1.0
        Weight of the hardest wrong class's margin; ``0`` gives LDAM.
    s : float, default=30.0
        Logit scale.
    weight : array-like of shape (n_classes,), default=None
        Per-class weights (switched by deferred re-weighting).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in :func:`elm_loss`.

    Attributes
    ----------
    margins : torch.Tensor of shape (n_classes,)
        Registered buffer holding the per-class margins Δ_k.
    class_counts : torch.Tensor of shape (n_classes,)
        Registered buffer holding the class counts.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import ELMLoss
    >>> criterion = ELMLoss(class_counts=[100, 10, 1])
    >>> logits = torch.tensor([[0.2, 0.1, -0.2], [0.2, 0.3, 0.4]], requires_grad=True)
    >>> loss = criterion(logits, torch.tensor([0, 2]))
    >>> loss.backward()
    >>> round(loss.item(), 4), logits.grad.shape
    (1.8207, torch.Size([2, 3]))
    """

    def __init__(self, class_counts, max_m=0.5, lam=1.0, s=30.0, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        counts = _as_class_counts(class_counts)
        self.max_m = _check_real("max_m", max_m, low=0)
        self.lam = _check_real("lam", lam)
        self.s = _check_real("s", s, low=0, low_inclusive=False)
        if self.weight is not None and self.weight.shape != counts.shape:
            raise ValueError(
                f"weight must have shape ({counts.numel()},), got {tuple(self.weight.shape)}"
            )
        # float64 buffers: cast to the logits' dtype at use, so float64 inputs lose nothing
        self.register_buffer("class_counts", counts)
        self.register_buffer("margins", label_distribution_margins(counts, self.max_m))

    applies_scale = True
    core = staticmethod(margin_loss_core)

    def core_arguments(self):
        return {"margins": self.margins, "lam": self.lam, "s": self.s}

    def extra_repr(self):
        return (
            f"n_classes={self.margins.numel()}, max_m={self.max_m}, lam={self.lam}, "
            f"s={self.s}, reduction={self.reduction!r}"
        )


class LDAMLoss(ELMLoss):
    """Module form of :func:`ldam_loss`: :class:`ELMLoss` with ``lam=0``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class (list, numpy array or tensor), all >= 1.
    max_m : float, default=0.5
        Largest margin (that of the rarest class).
    s : float, default=30.0
        Logit scale.
    weight : array-like of shape (n_classes,), default=None
        Per-class weights (switched by deferred re-weighting).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in :func:`elm_loss`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import LDAMLoss
    >>> LDAMLoss([100, 10, 1]).margins
    tensor([0.1581, 0.2812, 0.5000], dtype=torch.float64)
    """

    def __init__(self, class_counts, max_m=0.5, s=30.0, weight=None, reduction="mean"):
        super().__init__(
            class_counts, max_m=max_m, lam=0.0, s=s, weight=weight, reduction=reduction
        )

    def extra_repr(self):
        return (
            f"n_classes={self.margins.numel()}, max_m={self.max_m}, s={self.s}, "
            f"reduction={self.reduction!r}"
        )


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------
def cb_loss(logits, target, class_counts, beta=0.9999, reduction="mean"):
    """Cross-entropy weighted by :func:`class_balanced_weights` (Cui et al., 2019).

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Logits (unscaled: no margins, no scale).
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    class_counts : array-like of shape (n_classes,)
        Training samples per class, all >= 1; they give the class weights.
    beta : float in [0, 1), default=0.9999
        Hyper-parameter of the effective number, see :func:`class_balanced_weights`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in ``F.cross_entropy``.

    Returns
    -------
    loss : torch.Tensor
        Scalar, or shape (n_samples,) with ``reduction="none"``.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from sklearn_elm.losses import cb_loss
    >>> z, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    >>> torch.allclose(cb_loss(z, y, [10, 10, 10]), F.cross_entropy(z, y))
    True
    """
    _check_reduction(reduction)
    weights = class_balanced_weights(class_counts, beta)
    logits = _check_logits_target(logits, target, weights.numel())
    return _weighted_reduce(cross_entropy_core(logits, target), target, weights.to(logits),
                            reduction)


class CBLoss(_WeightedLoss):
    """Module form of :func:`cb_loss`: class-balanced weighted cross-entropy.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class, all >= 1; they give the class weights.
    beta : float in [0, 1), default=0.9999
        Hyper-parameter of the effective number, see :func:`class_balanced_weights`.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in ``F.cross_entropy``.

    Attributes
    ----------
    weight : torch.Tensor of shape (n_classes,) or None
        The class-balanced weights, a registered buffer. :class:`DeferredReweighting` may set
        it to ``None`` (plain cross-entropy) before its start epoch.
    class_counts : torch.Tensor of shape (n_classes,)
        Registered buffer holding the class counts (read by ``DeferredReweighting``).

    Examples
    --------
    >>> from sklearn_elm.losses import CBLoss
    >>> CBLoss([1000, 10], beta=0.999).weight
    tensor([0.0310, 1.9690], dtype=torch.float64)
    """

    def __init__(self, class_counts, beta=0.9999, reduction="mean"):
        self.beta = _check_real("beta", beta, low=0, high=1, high_inclusive=False)
        counts = _as_class_counts(class_counts)
        super().__init__(weight=class_balanced_weights(counts, beta), reduction=reduction)
        self.register_buffer("class_counts", counts)

    core = staticmethod(cross_entropy_core)

    def extra_repr(self):
        return (
            f"n_classes={self.class_counts.numel()}, beta={self.beta}, reduction={self.reduction!r}"
        )


def focal_loss(logits, target, gamma=2.0, alpha=None, reduction="mean"):
    """Multiclass softmax focal loss (Lin et al., 2017).

    ``l_i = -α_{y_i} (1 - p_{i,y_i})^γ log p_{i,y_i}`` with ``p = softmax(logits)``. ``alpha`` is
    a per-class weight applied as ``weight`` is in ``F.cross_entropy`` (also in the weighted
    ``"mean"``), so ``gamma=0`` is exactly (weighted) cross-entropy.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Logits (unscaled: no margins, no scale).
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    gamma : float >= 0, default=2.0
        Focusing parameter; ``0`` is plain cross-entropy.
    alpha : array-like of shape (n_classes,), default=None
        Per-class weights.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined; ``"mean"`` is the weighted mean, as in
        ``F.cross_entropy``.

    Returns
    -------
    loss : torch.Tensor
        Scalar, or shape (n_samples,) with ``reduction="none"``.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from sklearn_elm.losses import focal_loss
    >>> z, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    >>> torch.allclose(focal_loss(z, y, gamma=0.0), F.cross_entropy(z, y))
    True
    >>> bool(focal_loss(z, y, gamma=2.0) < F.cross_entropy(z, y))
    True
    """
    _check_reduction(reduction)
    gamma = _check_real("gamma", gamma, low=0)
    logits = _check_logits_target(logits, target)
    weight = _as_weight(alpha, logits.shape[1], logits)
    return _weighted_reduce(focal_core(logits, target, gamma), target, weight, reduction)


def focal_core(logits, target, gamma):
    """Unweighted per-sample focal loss on tensors, without any checks (vmap-safe).

    ``gamma`` is a number, a 0-d tensor or per-sample exponents of shape ``(n_samples,)``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Logits, one row per sample.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``, not checked.
    gamma : float or torch.Tensor
        Focusing parameter.

    Returns
    -------
    losses : torch.Tensor of shape (n_samples,)
    """
    cross_entropy = cross_entropy_core(logits, target)
    return cross_entropy * _focal_factor(-cross_entropy, gamma)


def _focal_factor(log_p, gamma):
    """``(1 - p)^γ`` from ``log p``: the focal loss's down-weighting of easy samples.

    ``1 - p`` is computed as ``-expm1(log p)``, accurate when p is close to 1. The clamp to the
    smallest normal number keeps the gradient finite: at p == 1 (reached in float32 for logit
    gaps beyond ~17), d/dx x^γ is infinite at x = 0 for γ < 1, and inf · 0 would give NaN.
    ``gamma`` may be a tensor of per-row exponents.
    """
    one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
    return one_minus_p.pow(gamma)


class FocalLoss(_WeightedLoss):
    """Module form of :func:`focal_loss`.

    Parameters
    ----------
    gamma : float >= 0, default=2.0
        Focusing parameter; ``0`` is plain cross-entropy.
    alpha : array-like of shape (n_classes,), default=None
        Per-class weights, stored in the ``weight`` buffer (switched by DRW).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in :func:`focal_loss`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import FocalLoss
    >>> loss = FocalLoss(gamma=2.0)(torch.tensor([[2.0, 0.0]]), torch.tensor([0]))
    >>> round(loss.item(), 6)
    0.001804
    """

    def __init__(self, gamma=2.0, alpha=None, reduction="mean"):
        super().__init__(weight=alpha, reduction=reduction)
        self.gamma = _check_real("gamma", gamma, low=0)

    core = staticmethod(focal_core)

    def core_arguments(self):
        return {"gamma": self.gamma}

    def extra_repr(self):
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


def logit_adjusted_loss(logits, target, class_counts, tau=1.0, weight=None, reduction="mean"):
    """Logit-adjusted cross-entropy (Menon et al., 2021): CE on ``z + τ · log π_k``.

    ``π_k`` is the training class prior ``n_k / Σ n``. The adjustment is for training only:
    predict with the raw logits.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Logits (unscaled: no margins, no scale).
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    class_counts : array-like of shape (n_classes,)
        Training samples per class, all >= 1; they give the prior ``π_k``.
    tau : float, default=1.0
        Temperature of the adjustment; ``0`` is plain cross-entropy.
    weight : array-like of shape (n_classes,), default=None
        Per-class weights, as in ``F.cross_entropy``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in ``F.cross_entropy``.

    Returns
    -------
    loss : torch.Tensor
        Scalar, or shape (n_samples,) with ``reduction="none"``.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from sklearn_elm.losses import logit_adjusted_loss
    >>> z, y = torch.randn(4, 2), torch.tensor([0, 1, 1, 0])
    >>> torch.allclose(logit_adjusted_loss(z, y, [90, 10], tau=0.0), F.cross_entropy(z, y))
    True
    """
    counts = _as_class_counts(class_counts)
    return _logit_adjusted(
        logits, target, counts.log() - counts.sum().log(), tau, weight, reduction
    )


def _logit_adjusted(logits, target, log_prior, tau, weight, reduction):
    _check_reduction(reduction)
    tau = _check_real("tau", tau)
    logits = _check_logits_target(logits, target, log_prior.numel())
    weight = _as_weight(weight, logits.shape[1], logits)
    adjustment = (tau * log_prior).to(device=logits.device, dtype=logits.dtype)
    return _weighted_reduce(logit_adjusted_core(logits, target, adjustment), target, weight,
                            reduction)


def logit_adjusted_core(logits, target, adjustment):
    """Unweighted per-sample cross-entropy of ``logits + adjustment`` (vmap-safe, no checks).

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Logits, one row per sample.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``, not checked.
    adjustment : torch.Tensor of shape (n_classes,) or (n_samples, n_classes)
        ``τ · log π_k``.

    Returns
    -------
    losses : torch.Tensor of shape (n_samples,)
    """
    return cross_entropy_core(logits + adjustment, target)


class LogitAdjustedLoss(_WeightedLoss):
    """Module form of :func:`logit_adjusted_loss`.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class, all >= 1; they give the prior ``π_k``.
    tau : float, default=1.0
        Temperature of the adjustment; ``0`` is plain cross-entropy.
    weight : array-like of shape (n_classes,), default=None
        Per-class weights, stored in the ``weight`` buffer (switched by DRW).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are combined, as in ``F.cross_entropy``.

    Attributes
    ----------
    log_prior : torch.Tensor of shape (n_classes,)
        Registered buffer with ``log π_k``.
    class_counts : torch.Tensor of shape (n_classes,)
        Registered buffer holding the class counts.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.losses import LogitAdjustedLoss
    >>> LogitAdjustedLoss([3, 1]).log_prior
    tensor([-0.2877, -1.3863], dtype=torch.float64)
    """

    def __init__(self, class_counts, tau=1.0, weight=None, reduction="mean"):
        super().__init__(weight=weight, reduction=reduction)
        counts = _as_class_counts(class_counts)
        self.tau = _check_real("tau", tau)
        self.register_buffer("class_counts", counts)
        self.register_buffer("log_prior", counts.log() - counts.sum().log())

    core = staticmethod(logit_adjusted_core)

    def core_arguments(self):
        return {"adjustment": self.tau * self.log_prior}

    def extra_repr(self):
        return f"n_classes={self.log_prior.numel()}, tau={self.tau}, reduction={self.reduction!r}"
