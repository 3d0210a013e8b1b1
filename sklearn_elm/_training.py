"""The skorch net behind :class:`~sklearn_elm.ELMClassifier` and its fast batch iterator.

skorch's default path builds every mini-batch sample by sample (``Dataset.__getitem__`` and
``default_collate``); here a batch is one index-select on whole tensors and at most one
host-to-device copy (from pinned memory on CUDA), while skorch's fit loop, history and
callbacks stay as they are.

Batches follow skorch's ``(X, y)`` convention, so skorch callbacks (``EpochScoring``,
``LRScheduler``, custom ``on_batch_end``) and mixins such as ``skorch.hf.AccelerateMixin`` work
unchanged. Sample weights travel inside ``X`` as ``{"X": inputs, "sample_weight": weights}``,
skorch's documented pattern for weights: :meth:`ELMNet.infer` hands the module only the inputs
and :meth:`ELMNet.get_loss` applies the weights.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.dataset import get_len
from torch import nn
from torch.utils.data import Dataset

from ._cuda_graphs import per_batch_callbacks, plan_graphs
from .losses import row_weights, weighted_mean

__all__ = ["TrainingDivergedError", "device_resident", "divergence_error", "fusable",
           "scale_logits"]

#: keys of the dict that carries inputs and sample weights in a weighted batch
INPUT_KEY, WEIGHT_KEY = "X", "sample_weight"
# optimizers with a fused kernel on CPU and CUDA (one kernel for all parameters per step)
_FUSABLE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
#: share of the free accelerator memory that a fit's data may take to stay on the device
DEVICE_DATA_FRACTION = 0.5


class TrainingDivergedError(FloatingPointError, RuntimeError):
    """Raised when the training loss becomes NaN or infinite."""


def divergence_error(loss, epoch, batch, lr):
    """The error a fit raises when its loss ``loss`` (a float) is NaN or infinite.

    One message for ``ELMNet`` and the batched engine; ``epoch`` and ``batch`` are 1-based.
    """
    return TrainingDivergedError(
        f"Training diverged: the loss became {loss} at epoch {epoch}, batch {batch}. Lower the "
        f"learning rate (lr={lr}), lower the logit scale s, or check the input for extreme "
        "values (scale the features)."
    )


def scale_logits(logits, s):
    """The scaled logits ``s · z`` (``s`` a number, or a tensor broadcasting against them)."""
    if isinstance(s, torch.Tensor):
        return logits * s
    return logits if s == 1.0 else logits * s


def criterion_applies_scale(criterion):
    """Whether ``criterion`` applies the logit scale itself (ELM, LDAM) or the net does."""
    return getattr(criterion, "applies_scale", False)


def fusable(optimizer_class, optimizer_kwargs, parameters, modules=()):
    """Whether ``optimizer_class`` may be built with ``fused=True`` for ``parameters``.

    Adam, AdamW and SGD (exact classes: subclasses may differ) have one fused kernel for all
    parameters on CPU and CUDA, unless the caller chose ``fused``, ``foreach`` or
    ``differentiable``, a parameter is not a floating-point CPU/CUDA tensor, or a module in
    ``modules`` has sparse gradients (which fused kernels refuse).
    """
    if optimizer_class not in _FUSABLE_OPTIMIZERS:
        return False
    if {"fused", "foreach", "differentiable"} & set(optimizer_kwargs):
        return False
    if not parameters or any(
        p.device.type not in ("cpu", "cuda") or not p.is_floating_point() for p in parameters
    ):
        return False
    return not any(
        getattr(m, "sparse", False)
        for module in modules for m in module.modules()
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag))
    )


class TensorData(Dataset):
    """Whole-tensor dataset of inputs, integer targets and optional sample weights."""

    def __init__(self, X, y, sample_weight=None):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        # per-sample access, for callbacks or user code written for skorch's Dataset
        return self.X[i], self.y[i]

    def to(self, device):
        def move(t):
            return None if t is None else t.to(device)

        return TensorData(move(self.X), move(self.y), move(self.sample_weight))


def device_resident(data, device):
    """``data`` copied to ``device`` once, when it is a CUDA device with room for it.

    The copy may take at most :data:`DEVICE_DATA_FRACTION` of the device's free memory;
    beyond that (and on the CPU) ``data`` is returned as it is, and :class:`BatchIterator`
    copies each batch from pinned host memory instead.
    """
    device = torch.device(device)
    if device.type != "cuda" or data.X.device.type != "cpu" or not torch.cuda.is_available():
        return data
    tensors = [t for t in (data.X, data.y, data.sample_weight) if t is not None]
    size = sum(t.numel() * t.element_size() for t in tensors)
    free, _ = torch.cuda.mem_get_info(device)
    if size > DEVICE_DATA_FRACTION * free:
        return data

    def move(t):
        # from pinned memory, so that the copy does not wait for the device to go idle
        return None if t is None else t.pin_memory().to(device, non_blocking=True)

    return TensorData(move(data.X), move(data.y), move(data.sample_weight))


class BatchIterator:
    """Iterate over ``TensorData`` in mini-batches by slicing whole tensors.

    Yields ``(X, y)``, or ``({"X": X, "sample_weight": w}, y)`` when the data has sample
    weights. Shuffling draws one permutation per epoch from ``generator`` (a CPU generator: the
    same batch order on every device, and a state that checkpoints and warm starts carry);
    on CUDA it travels to the device with one non-blocking copy, and the batches are gathered
    there from device-resident data (see :func:`device_resident`). When the data lives on the
    CPU and ``device`` is CUDA, each batch is gathered straight into pinned memory and copied
    with ``non_blocking=True``: one host-to-device transfer per tensor per batch.
    """

    def __init__(self, data, batch_size, device, shuffle=False, generator=None):
        self.data = data
        self.batch_size = len(data) if batch_size == -1 else batch_size
        self.device = torch.device(device)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        return math.ceil(len(self.data) / self.batch_size)

    def _take(self, tensor, rows, pin):
        """Rows ``rows`` (a slice or an index tensor) of ``tensor``, on ``self.device``."""
        if tensor is None:
            return None
        if isinstance(rows, slice):
            part = tensor[rows]  # a view: no copy on the host
            if pin:
                part = part.pin_memory()
        elif pin:
            # gather directly into page-locked memory: saves pin_memory()'s extra host copy
            part = torch.empty((rows.numel(), *tensor.shape[1:]), dtype=tensor.dtype,
                               pin_memory=True)
            torch.index_select(tensor, 0, rows, out=part)
        else:
            part = tensor.index_select(0, rows)
        if part.device != self.device:
            part = part.to(self.device, non_blocking=pin)
        return part

    def __iter__(self):
        data, n, size = self.data, len(self.data), self.batch_size
        pin = (data.X.device.type == "cpu" and self.device.type == "cuda"
               and torch.cuda.is_available())
        order = None
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            if data.X.device.type == "cuda":
                order = order.pin_memory().to(data.X.device, non_blocking=True)
        for start in range(0, n, size):
            rows = slice(start, start + size) if order is None else order[start : start + size]
            X = self._take(data.X, rows, pin)
            y = self._take(data.y, rows, pin)
            if data.sample_weight is None:
                yield X, y
            else:
                yield {INPUT_KEY: X, WEIGHT_KEY: self._take(data.sample_weight, rows, pin)}, y


def split_weights(X):
    """``(inputs, sample_weight)`` of a batch's ``X``; ``sample_weight`` is None if unweighted."""
    if isinstance(X, Mapping) and WEIGHT_KEY in X:
        return X[INPUT_KEY], X[WEIGHT_KEY]
    return X, None


def random_crop_flip(X, padding, flip=True):
    """Per-sample random crop after zero padding, and random horizontal flip, on X's device."""
    n, _, height, width = X.shape
    if padding:
        padded = F.pad(X, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n, 1), device=X.device)
        dx = torch.randint(0, 2 * padding + 1, (n, 1), device=X.device)
        rows = (dy + torch.arange(height, device=X.device))[:, :, None]
        cols = (dx + torch.arange(width, device=X.device))[:, None, :]
        batch = torch.arange(n, device=X.device)[:, None, None]
        # advanced indexing gives (n, H, W, C): move channels back in front
        X = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    if flip:
        flipped = torch.rand(n, device=X.device) < 0.5
        X = torch.where(flipped[:, None, None, None], X.flip(-1), X)
    return X.contiguous()


class ELMNet(NeuralNet):
    """skorch ``NeuralNet`` with whole-tensor batches, sample weights and a divergence guard.

    Extra parameters (besides skorch's): ``s`` is the logit scale (see :meth:`scale`);
    ``augment_padding`` / ``augment_flip`` turn on per-batch image augmentation; ``precision``
    in {"fp32", "bf16", "fp16"}; ``shuffle_seed`` seeds the batch order; ``cuda_graphs``
    ("auto", True or False) captures the training steps in CUDA graphs
    (:mod:`sklearn_elm._cuda_graphs`).

    An epoch runs without waiting for the device: on CUDA the data are copied to the device
    once per fit (:func:`device_resident`), the batch losses stay on the device until the
    epoch ends, and then one transfer fills skorch's per-batch history and the divergence
    check. Callbacks that run on every batch (``on_batch_begin``, ``on_batch_end``,
    ``on_grad_computed``) get skorch's behaviour instead: each batch's loss is read, recorded
    and checked as soon as it is computed.
    """

    def __init__(self, *args, s=1.0, augment_padding=0, augment_flip=False,
                 precision="fp32", shuffle_seed=0, cuda_graphs="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.s = s
        self.augment_padding = augment_padding
        self.augment_flip = augment_flip
        self.precision = precision
        self.shuffle_seed = shuffle_seed
        self.cuda_graphs = cuda_graphs

    # ---------------------------------------------------------------- batches
    def get_iterator(self, dataset, training=False):
        if not isinstance(dataset, TensorData):
            # e.g. ``net.forward(numpy_array)`` wraps X in skorch's Dataset: skorch's DataLoader
            self._target_bounds_ = None  # targets not range-checked: the loss checks each batch
            return super().get_iterator(dataset, training=training)
        dataset = device_resident(dataset, self._data_device())
        self._bound_targets(dataset)
        if training:
            if not hasattr(self, "shuffle_generator_"):
                self.shuffle_generator_ = torch.Generator().manual_seed(self.shuffle_seed)
            return BatchIterator(dataset, self.batch_size, self._data_device(), shuffle=True,
                                 generator=self.shuffle_generator_)
        return BatchIterator(dataset, self.batch_size, self._data_device())

    def _bound_targets(self, dataset):
        """Record the smallest and largest target of ``dataset`` (one read per iterator).

        The criteria's ``per_sample`` checks every batch's targets against the number of
        classes, which reads the device at every step; with the whole dataset's range known,
        :meth:`weighted_loss` checks that range instead, without reading the device.
        """
        if dataset.y.numel() == 0 or dataset.y.is_floating_point():
            self._target_bounds_ = None
            return
        low, high = (int(v) for v in torch.aminmax(dataset.y))
        bounds = getattr(self, "_target_bounds_", None)
        if bounds is not None and getattr(self, "_in_fit_loop_", False):
            # the training and validation iterators of one fit: the range of both
            low, high = min(low, bounds[0]), max(high, bounds[1])
        self._target_bounds_ = (low, high)

    def _data_device(self):
        # under accelerate (device=None) the accelerator places the model: follow it
        if self.device is None:
            accelerator = getattr(self, "accelerator", None)
            return accelerator.device if accelerator is not None else "cpu"
        return self.device

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        device_type = torch.device(self._data_device()).type
        # the cache of cast weights must not outlive a captured step (torch.cuda.graphs)
        capturing = device_type == "cuda" and torch.cuda.is_current_stream_capturing()
        return torch.autocast(device_type, dtype=dtype, cache_enabled=not capturing)

    def initialize_optimizer(self, triggered_directly=None):
        """Build the optimizer as skorch does, with the fused kernel where torch has one.

        Adam, AdamW and SGD get ``fused=True`` unless ``optimizer__fused``,
        ``optimizer__foreach`` or ``optimizer__differentiable`` is given: the same update, in
        one kernel over all parameters instead of a Python loop of small ops per parameter.
        """
        named_parameters = list(self.get_all_learnable_params())
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        if self._can_fuse(kwargs, [param for _, param in named_parameters]):
            kwargs["fused"] = True
        self.optimizer_ = self.optimizer(*args, **kwargs)
        # the gradient scaler goes with the optimizer; made here rather than in initialize()
        # because mixins such as skorch.hf.AccelerateMixin replace initialize()
        use_scaler = (self.precision == "fp16"
                      and torch.device(self._data_device()).type == "cuda")
        self.grad_scaler_ = torch.amp.GradScaler("cuda") if use_scaler else None
        return self

    def _can_fuse(self, optimizer_kwargs, parameters):
        return fusable(self.optimizer, optimizer_kwargs, parameters, [self.module_])

    # ---------------------------------------------------------------- loss
    def scale(self, logits):
        """The scaled logits ``s · z``: what the loss trains on and what predictions use.

        ELM and LDAM criteria (:class:`~sklearn_elm.losses.ELMLoss`) apply ``s`` themselves,
        because their margins are subtracted inside the scale, ``s · (z_y - Δ_y)``; the net
        hands them unscaled logits and scales them here for every other criterion.
        """
        return scale_logits(logits, self.s)

    def weighted_loss(self, y_pred, y, sample_weight=None):
        """Mean of the per-sample losses, weighted by class and sample weights.

        Generalises torch's convention: ``sum_i w_i c_{y_i} l_i / sum_i w_i c_{y_i}`` where
        ``c`` are the criterion's class weights and ``w`` the sample weights
        (:func:`~sklearn_elm.losses.weighted_mean`, which the batched engine uses too).
        """
        logits = y_pred.float() if y_pred.dtype in (torch.float16, torch.bfloat16) else y_pred
        criterion = self.criterion_
        if not criterion_applies_scale(criterion):
            logits = self.scale(logits)
        per_sample = self._per_sample(criterion, logits, y)
        class_weight = getattr(criterion, "weight", None)
        if class_weight is not None:
            class_weight = class_weight.to(per_sample.dtype)
        return weighted_mean(per_sample, row_weights(y, class_weight, sample_weight))

    def _per_sample(self, criterion, logits, y):
        """The criterion's per-sample losses, range-checking targets without a device read.

        When the iterator recorded the targets' range (:meth:`_bound_targets`), that range is
        compared with the logits' columns in Python and the criterion's
        ``checked_per_sample`` runs; otherwise, or when anything looks wrong, its
        ``per_sample`` validates the batch (and raises its error).
        """
        bounds = getattr(self, "_target_bounds_", None)
        checked = getattr(criterion, "checked_per_sample", None)
        n_classes = getattr(criterion, "_n_classes", lambda: None)()
        if (bounds is None or checked is None or logits.ndim != 2 or y.ndim != 1
                or n_classes not in (None, logits.shape[1])
                or bounds[0] < 0 or bounds[1] >= logits.shape[1]):
            return criterion.per_sample(logits, y)
        return checked(logits, y)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted loss of a batch; sample weights come from ``X`` when it carries them.

        A NaN or infinite training loss raises :class:`TrainingDivergedError` at the end of
        its epoch (see :meth:`run_single_epoch`), not here: checking here would make the host
        wait for the device at every step.
        """
        _, sample_weight = split_weights(X)
        return self.weighted_loss(y_pred, y_true, sample_weight)

    # ---------------------------------------------------------------- steps
    def _set_training(self, training=True):
        """skorch's ``_set_training``, skipped when it would change nothing.

        skorch calls it before every batch; ``nn.Module.train`` walks and re-assigns every
        submodule (about 0.1 ms a batch for a small MLP, a few per cent of a small job). When
        no module overrides ``train`` and every flag already equals ``training``, that call is
        a no-op, so it is left out.
        """
        modules = [getattr(self, name + "_") for name in self._modules + self._criteria]
        if all(
            type(sub).train is nn.Module.train and sub.training == training
            for module in modules if isinstance(module, nn.Module)
            for sub in module.modules()
        ):
            return
        super()._set_training(training)

    def fit_loop(self, X, y=None, epochs=None, **kwargs):
        """skorch's fit loop, with the training steps captured in CUDA graphs where they can be.

        See :func:`sklearn_elm._cuda_graphs.plan_graphs` for when the steps run eagerly.
        """
        self._in_fit_loop_, self._target_bounds_ = True, None
        self._step_graphs_ = plan_graphs(self, self.cuda_graphs, self._data_device(), ELMNet)
        try:
            return super().fit_loop(X, y, epochs=epochs, **kwargs)
        finally:
            # the graphs hold a memory pool on the device: release it with the fit
            if getattr(self, "_step_graphs_", None) is not None:
                self._step_graphs_.close()
            self._in_fit_loop_, self._step_graphs_, self._target_bounds_ = False, None, None

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One epoch of training or validation, reading the device once, at its end.

        The batch losses stay on the device; one transfer at the end records them in the
        history (``train_loss`` / ``valid_loss`` and batch sizes per batch, as skorch does)
        and checks the training losses: a NaN or infinite one raises
        :class:`TrainingDivergedError` naming the epoch and the first such batch. With
        callbacks that run on every batch, each loss is read as soon as it is computed.
        """
        if iterator is None:
            return
        graphs = getattr(self, "_step_graphs_", None) if training else None
        if graphs is not None:
            graphs.new_epoch()
        live = bool(per_batch_callbacks(self))
        losses, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            graphs = getattr(self, "_step_graphs_", None) if training else None
            step = (graphs.step if graphs is not None else step_fn)(batch, **fit_params)
            sizes.append(get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch))
            if live:
                value = step["loss"].item()
                self._record_batch(prefix, value, sizes[-1])
                if training and not math.isfinite(value):
                    raise divergence_error(value, len(self.history), len(sizes), self.lr)
            else:
                losses.append(step["loss"].detach())
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if losses:
            values = torch.stack(losses).tolist()  # the epoch's one read of the device
            batches = self.history[-1]["batches"][-len(values):]
            for row, value, size in zip(batches, values, sizes, strict=True):
                row[prefix + "_loss"], row[prefix + "_batch_size"] = value, size
            first = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
            if training and first is not None:
                raise divergence_error(values[first], len(self.history), first + 1, self.lr)
        self.history.record(prefix + "_batch_count", len(sizes))

    def _record_batch(self, prefix, loss, size):
        self.history.record_batch(prefix + "_loss", loss)
        self.history.record_batch(prefix + "_batch_size", size)

    def infer(self, x, **fit_params):
        """Module output for a batch's ``X``, without its sample weights.

        In training mode, image augmentation (``augment_padding``, ``augment_flip``) is
        applied here, so that it also runs under mixins that replace ``train_step_single``.
        """
        x, _ = split_weights(x)
        if (self.augment_padding or self.augment_flip) and self.module_.training:
            x = random_crop_flip(x, self.augment_padding, self.augment_flip)
        return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        X, y = batch
        with self._autocast():
            y_pred = self.infer(X, **fit_params)
        loss = self.get_loss(y_pred, y, X=X, training=True)
        if self.grad_scaler_ is not None:
            self.grad_scaler_.scale(loss).backward()
        else:
            loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        if self.grad_scaler_ is None:
            return super().train_step(batch, **fit_params)
        # GradScaler.step does not take the closure skorch passes to optimizer.step
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        for optimizer in self._get_optimizers():
            self.grad_scaler_.step(optimizer)
        self.grad_scaler_.update()
        return step

    def _get_optimizers(self):
        return [getattr(self, name + "_") for name in self._optimizers]

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        X, y = batch
        with torch.no_grad(), self._autocast():
            y_pred = self.infer(X, **fit_params)
            loss = self.get_loss(y_pred, y, X=X, training=False)
        return {"loss": loss, "y_pred": y_pred}
