"""skorch callbacks: deferred re-weighting, the papers' learning-rate schedule, checkpoints.

All three work with :class:`~sklearn_elm.ELMClassifier` and with a plain skorch
``NeuralNetClassifier`` / ``NeuralNet``.
"""

from __future__ import annotations

import hashlib
import numbers
import os

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from ._archive import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    Encoder,
    decode,
    json_history,
    package_versions,
    read_archive,
    write_archive,
)
from ._version import __version__
from .losses import _as_class_counts, class_balanced_weights

__all__ = ["DeferredReweighting", "TrainingCheckpoint", "WarmupMultiStepLR", "checkpoint_epochs"]

_CHECKPOINT_FILE = "checkpoint.zip"
# the components of a skorch net a checkpoint holds, by the names of skorch's public attributes
# (``module_``, ``criterion_``, ``optimizer_``)
_CHECKPOINTED = {"modules": "module", "criteria": "criterion", "optimizers": "optimizer"}


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
        """Multiplier of the base learning rate at 0-based ``epoch``.

        Parameters
        ----------
        epoch : int
            0-based epoch.
        max_epochs : int
            Epochs of the whole training, for milestones given as fractions.

        Returns
        -------
        factor : float
            The learning rate of ``epoch`` divided by the base learning rate.
        """
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


# --------------------------------------------------------------------------------------------
# resumable training
# --------------------------------------------------------------------------------------------
def _data_fingerprint(X, y=None):
    """A hash of the training tensors (``TensorData`` or arrays), or None for other data."""
    return _array_digest(
        [getattr(X, "X", X), getattr(X, "y", y), getattr(X, "sample_weight", None)])


def _array_digest(parts):
    """A hash of arrays and tensors (their dtype, shape and values; None parts allowed).

    None when a part is neither an array nor a tensor, or holds Python objects.
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        if part is None:
            digest.update(b"none")
            continue
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().numpy()
        if not isinstance(part, np.ndarray) or part.dtype.kind == "O":
            return None
        digest.update(f"{part.dtype.str}{part.shape}".encode())
        digest.update(memoryview(np.ascontiguousarray(part)).cast("B"))
    return digest.hexdigest()


def checkpoint_epochs(dirname):
    """Number of epochs recorded in the checkpoint in ``dirname`` (0 if there is none).

    Reads only the checkpoint's JSON metadata; safe to call while training writes it.

    Parameters
    ----------
    dirname : str or path-like
        The directory given to :class:`TrainingCheckpoint` (``checkpoint_dir``).

    Returns
    -------
    epochs : int
        Epochs the checkpoint holds.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elm.persistence import checkpoint_epochs
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     checkpoint_epochs(tmp)
    0
    """
    path = os.path.join(os.fspath(dirname), _CHECKPOINT_FILE)
    if not os.path.exists(path):
        return 0
    metadata, _ = read_archive(path, CHECKPOINT_FORMAT)
    return int(metadata["epochs"])


class TrainingCheckpoint(Callback):
    """Save the training state after every epoch; restore it when training starts again.

    At every epoch end the callback atomically replaces ``dirname/checkpoint.zip`` (same format
    as :func:`~sklearn_elm.persistence.save_model`: JSON and safetensors, no pickle) with the
    state of the net: module weights, optimizer state, criterion buffers (including the
    deferred re-weighting weight), the skorch history, the global torch random-number generator
    state (CPU and CUDA) and the batch-shuffling generator of
    :class:`~sklearn_elm.ELMClassifier`'s net. At ``on_train_begin``, if such a file exists, it
    is restored into the net and ``restored_epochs_`` is the number of epochs it holds (0
    otherwise); the caller then trains only the remaining epochs.
    ``ELMClassifier(checkpoint_dir=...)`` does all of this, and a resumed fit continues
    exactly as the uninterrupted one would have on CPU.

    A killed process or a ``KeyboardInterrupt`` loses at most the epoch in progress. The
    checkpoint stays after training ends, so running the same ``fit`` again trains nothing;
    delete the directory (or use another) to start afresh. The checkpoint is refused (with a
    ``ValueError``) if it was written while training on other data (a hash of ``X``, ``y`` and
    the sample weights is stored) or for a network of another shape; with ``early_stopping``,
    set an int ``random_state`` so that the validation split is the same on resume (the
    early-stopping patience counter restarts on resume).

    Place this callback after callbacks that set the learning rate from the epoch number at
    ``on_train_begin`` (``ELMClassifier`` adds it last). One directory per training run: do not
    share it between the fits of a grid search or cross-validation.

    Parameters
    ----------
    dirname : str or path-like
        Directory of the checkpoint; created if needed.

    Attributes
    ----------
    restored_epochs_ : int
        Epochs restored from the checkpoint at the last ``on_train_begin`` (0 if none).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_elm import ELMClassifier
    >>> from sklearn_elm.persistence import checkpoint_epochs
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     clf = ELMClassifier(max_epochs=3, checkpoint_dir=tmp, random_state=0).fit(X, y)
    ...     print(checkpoint_epochs(tmp))
    ...     again = ELMClassifier(max_epochs=5, checkpoint_dir=tmp, random_state=0).fit(X, y)
    ...     print(dict(again.net_.callbacks_)["checkpoint"].restored_epochs_, again.n_iter_)
    3
    3 5
    """

    def __init__(self, dirname):
        self.dirname = dirname

    @property
    def path(self):
        """Path of the checkpoint file."""
        return os.path.join(os.fspath(self.dirname), _CHECKPOINT_FILE)

    def initialize(self):
        self.restored_epochs_ = 0
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.restored_epochs_ = 0
        self.data_fingerprint_ = _data_fingerprint(X, y)
        if not os.path.exists(self.path):
            return
        metadata, tensors = read_archive(self.path, CHECKPOINT_FORMAT)
        stored = metadata.get("data_fingerprint")
        if stored and self.data_fingerprint_ and stored != self.data_fingerprint_:
            raise ValueError(
                f"The checkpoint in {os.fspath(self.dirname)!r} was written while training on "
                "other data; delete it or choose another checkpoint directory to start afresh"
            )
        try:
            self._restore(net, decode(metadata["state"], tensors), metadata["history"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(
                f"The checkpoint in {os.fspath(self.dirname)!r} does not fit this network "
                f"({exc}); delete it or choose another checkpoint directory"
            ) from exc
        self.restored_epochs_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        os.makedirs(os.fspath(self.dirname), exist_ok=True)
        encoder = Encoder()
        state = {
            group: {name: getattr(net, name + "_").state_dict()}
            for group, name in _CHECKPOINTED.items()
        }
        state.update({
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
            "shuffle_generator": (
                net.shuffle_generator_.get_state() if hasattr(net, "shuffle_generator_") else None
            ),
            "grad_scaler": (
                net.grad_scaler_.state_dict()
                if getattr(net, "grad_scaler_", None) is not None
                else None
            ),
        })
        history = json_history(net.history, "TrainingCheckpoint")
        metadata = {
            "format": CHECKPOINT_FORMAT,
            "format_version": FORMAT_VERSION,
            "versions": package_versions(__version__),
            "epochs": len(history),
            "data_fingerprint": getattr(self, "data_fingerprint_", None),
            "history": history,
            "state": encoder.encode(state, where="state"),
        }
        write_archive(self.path, metadata, encoder.tensors)

    @staticmethod
    def _restore(net, state, history):
        for group in _CHECKPOINTED:
            for name, state_dict in state[group].items():
                component = getattr(net, name + "_")
                if group == "criteria":
                    # a plain torch criterion may lack the DRW ``weight`` buffer the checkpoint
                    # has; DRW sets it again at every epoch start anyway
                    component.load_state_dict(state_dict, strict=False)
                    component.to(net.device)
                elif group == "optimizers":
                    # a checkpoint written while CUDA graphs ran has capturable=True, which
                    # this net (perhaps on the CPU) may not support: keep the net's own flags
                    flags = [g.get("capturable") for g in component.param_groups]
                    component.load_state_dict(state_dict)
                    for param_group, flag in zip(component.param_groups, flags, strict=False):
                        if flag is not None:
                            param_group["capturable"] = flag
                else:
                    component.load_state_dict(state_dict)
        torch.set_rng_state(state["torch_rng"])
        cuda_states = state["cuda_rng"]
        if (
            cuda_states
            and torch.cuda.is_available()
            and len(cuda_states) == torch.cuda.device_count()
        ):
            torch.cuda.set_rng_state_all(cuda_states)
        if state["shuffle_generator"] is not None:
            generator = torch.Generator()
            generator.set_state(state["shuffle_generator"])
            net.shuffle_generator_ = generator
        if state["grad_scaler"] is not None and getattr(net, "grad_scaler_", None) is not None:
            net.grad_scaler_.load_state_dict(state["grad_scaler"])
        net.history_ = History(history)
