"""Train many independent ``ELMClassifier`` networks in one pass (the engine of the search).

A *member* is one ``ELMClassifier`` fit: a full set of estimator parameters and the rows of
``X`` it trains on (a cross-validation fold, say). :func:`fit_members` trains a list of members
and returns, for each, a fitted :class:`~sklearn_elm.ELMClassifier`.

The engine has no training rules of its own; it runs those of a single fit on many members:

* **data, labels, parameters**: each member's ``ELMClassifier`` validates its parameters
  (``_validate_params`` and the checks of ``fit``) and its rows (``_training_data``: label
  encoding, class counts, sample weights, the seed and the early-stopping split), so the engine
  refuses what ``fit`` refuses, with the same messages;
* **network**: each member's net is built by ``_builder.initialized_net`` (same seed, same
  initial weights); the modules of a group are stacked with ``torch.func.stack_module_state``
  (parameters and buffers, e.g. BatchNorm running statistics, one slice per member) and run
  with ``torch.vmap(torch.func.functional_call(...), randomness="different")``;
* **loss**: the member's criterion ``core`` (:mod:`sklearn_elm.losses`) on the rows of all
  members, with the members' stacked ``core_arguments()``, the scale rule of ``_training``
  and :func:`~sklearn_elm.losses.weighted_mean` (padding rows have weight 0);
* **optimizer**: one ``torch.optim`` optimizer per group from ``_builder.build_optimizer``
  over the stacked weights. Adam, AdamW and SGD are element-wise, so this is exact when the
  members of a group share the optimizer, ``lr``, ``weight_decay``, learning-rate trajectory
  and number of batches per epoch, which are part of the group key;
* **epochs**: each member's own skorch callbacks (deferred re-weighting, the learning-rate
  schedule, early stopping, the history's scoring and timer) are notified at the start and
  end of each epoch, as skorch's fit loop does, and its history gets the same rows; a batch
  order per member from its own generator, as ``BatchIterator`` draws it;
* **shared steps**: members that start alike (the same initial weights, rows, batch order,
  loss arguments and, so far, class weights: the candidates of one fold in a grid over
  ``drw_start``, say) share one stacked network, a *slot* of :class:`_Slots`, until their
  class weights part; the slot is then copied with its optimizer state and each copy trains
  on, so a member's steps are those of its own fit. A slot whose members all stopped (early
  stopping, divergence) is dropped and costs no more compute;
* **divergence**: the members' losses are summed on the device and read once per epoch; a
  non-finite one ends that member with ``_training.divergence_error``'s message;
* **fitted state**: ``_builder.set_fitted_state``, as ``fit`` sets it.

Which parameters the engine honours, and which send a member to an ordinary
``ELMClassifier.fit`` (callbacks, checkpoints, ``torch.compile``, fp16, custom modules and
optimizers, routed parameters), is declared once in :data:`PARAMETERS` and
:data:`ROUTED_PARAMETERS`; :attr:`MemberResult.reason` says why a member was fitted alone.

On glibc, the first CPU group sets the allocator's thresholds to those its own heuristic
reaches (:func:`_keep_freed_memory`): freed activations are then reused instead of being
faulted in afresh at every step.

Peak memory of a group grows with its members; :func:`module_bytes` estimates one member's
share from the module's parameter count and a probe forward pass, and groups are sized to
stay under ``memory_budget``.
"""

from __future__ import annotations

import copy
import ctypes
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ._builder import (
    MODULES,
    OPTIMIZERS,
    ROUTED_PREFIXES,
    _optimizer,
    build_optimizer,
    initialized_net,
    lr_schedule,
    resolve_device,
    set_fitted_state,
)
from ._training import (
    TensorData,
    criterion_applies_scale,
    divergence_error,
    random_crop_flip,
    scale_logits,
)
from .callbacks import WarmupMultiStepLR, _array_digest
from .classifier import ELMClassifier
from .losses import row_weights, weighted_mean
from .modules import MLP

__all__ = ["PARAMETERS", "ROUTED_PARAMETERS", "MemberResult", "batch_reason", "fit_members",
           "member_bytes", "module_bytes"]

#: default cap on the estimated peak memory of one batched group (bytes)
DEFAULT_MEMORY_BUDGET = 2**30


# -------------------------------------------------------------------------------------------
# which parameters the engine honours
# -------------------------------------------------------------------------------------------
def _unless(test, reason):
    """A rule: the member is fitted alone, for ``reason(value)``, when ``test(value)``."""
    return lambda value: reason(value) if test(value) else None


def _known_module(module):
    return module is None or (isinstance(module, str) and module in MODULES) or any(
        module is cls for cls in MODULES.values())


def _known_optimizer(optimizer):
    return (isinstance(optimizer, str) and optimizer in OPTIMIZERS) or any(
        optimizer is cls for cls in OPTIMIZERS.values())


#: every ``ELMClassifier`` parameter: how the engine honours it (a string), or a rule giving
#: the reason to fit a member alone (a function of the value returning a string or None).
#: "group key": members differing in it train in different groups (read from the built net or
#: the estimator); "per member": each member's own value, stacked. ``tests/test_batched.py``
#: fails when a parameter of ``ELMClassifier`` is missing here.
PARAMETERS = {
    "loss": "group key (the criterion class); per member through the criterion",
    "max_m": "per member (the criterion's margins)",
    "lam": "per member (the criterion's core arguments)",
    "s": "per member (the criterion's core arguments, or the net's scale)",
    "gamma": "per member (the criterion's core arguments)",
    "tau": "per member (the criterion's core arguments)",
    "drw_start": "per member (its DeferredReweighting callback sets its class weights)",
    "beta": "per member (class-balanced weights of its criterion or callback)",
    "module": _unless(lambda v: not _known_module(v), lambda v: f"module={v!r}"),
    "hidden_layer_sizes": "group key (the module's architecture)",
    "dropout": "group key (the module's architecture); masks drawn per member",
    "head": "group key (the module's architecture)",
    "input_shape": "group key (the module's input shape)",
    "augment": "group key; crops and flips drawn per sample with random_crop_flip",
    "optimizer": _unless(lambda v: not _known_optimizer(v), lambda v: f"optimizer={v!r}"),
    "lr": "group key",
    "weight_decay": "group key",
    "lr_schedule": _unless(
        lambda v: not (v is None or v in ("auto", "paper") or type(v) is WarmupMultiStepLR),
        lambda v: f"lr_schedule={v!r}"),
    "batch_size": "group key",
    "max_epochs": "group key",
    "early_stopping": "group key; per member its split, EarlyStopping callback and best weights",
    "validation_fraction": "per member (its early-stopping split)",
    "n_iter_no_change": "per member (its EarlyStopping callback)",
    "classes": "per member (the fit's label encoding)",
    "callbacks": _unless(bool, lambda v: f"callbacks={v!r}"),
    "warm_start": "honoured trivially: every member is a new estimator, trained from scratch",
    "checkpoint_dir": _unless(lambda v: v is not None, lambda v: f"checkpoint_dir={v!r}"),
    "precision": _unless(lambda v: v == "fp16", lambda v: "precision='fp16' (gradient scaler)"),
    "compile": _unless(bool, lambda v: "compile=True"),
    "cuda_graphs": "no effect on the result: captured and eager steps train alike; the "
                   "engine's steps run eagerly",
    "device": "group key",
    "random_state": "per member (initial weights, batch order, early-stopping split)",
    "verbose": "per member (its skorch callbacks print as in fit)",
}
#: routed ``prefix__*`` parameters: every one sends its member to ``ELMClassifier.fit``
ROUTED_PARAMETERS = {prefix: "fitted alone (routed to skorch)" for prefix in ROUTED_PREFIXES}


def batch_reason(estimator):
    """Why ``estimator`` cannot be trained by the batched engine (``None`` if it can).

    Parameters
    ----------
    estimator : ELMClassifier

    Returns
    -------
    reason : str or None
    """
    params = estimator.get_params(deep=False)
    for name in estimator._get_param_names():
        rule = PARAMETERS.get(name)
        if rule is None:
            return f"{name} is not declared in sklearn_elm._batched.PARAMETERS"
        if callable(rule) and (reason := rule(params[name])) is not None:
            return reason
    routed = sorted(k for k in estimator._extra_params() if k.startswith(ROUTED_PREFIXES))
    if routed:
        return f"routed parameters {routed}"
    return None


# -------------------------------------------------------------------------------------------
# memory
# -------------------------------------------------------------------------------------------
def module_bytes(module, sample_shape, batch_size):
    """Estimated peak float32 bytes one batched member of ``module`` adds to a group.

    ``4 · (B · (D + 3·A/2 + 6·K) + 4·P)``: ``B`` rows of ``D`` input values, ``A`` values of
    the outputs of the module's layers (all but the head) per sample, measured by one forward
    pass on the meta device (saved for the backward pass with their gradients), ``K`` outputs
    and ``P`` weights (with their gradients and two optimizer moments).

    Parameters
    ----------
    module : torch.nn.Module
        One member's module (not modified).
    sample_shape : tuple of int
        Shape of one input sample.
    batch_size : int
        Rows per batch.

    Returns
    -------
    n_bytes : int
    """
    meta = copy.deepcopy(module).to("meta")
    head = getattr(meta, "head", None)
    activations = []

    def count(layer, inputs, output):
        if layer is not head and isinstance(output, torch.Tensor):
            activations.append(output[0].numel())

    hooks = [m.register_forward_hook(count) for m in meta.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            output = meta(torch.empty((1, *sample_shape), device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    n_weights = sum(p.numel() for p in module.parameters())
    rows = math.prod(sample_shape) + 3 * sum(activations) // 2 + 6 * output.shape[-1]
    return 4 * (int(batch_size) * rows + 4 * n_weights)


def member_bytes(n_features, hidden_layer_sizes, n_classes, batch_size, head="cosine"):
    """:func:`module_bytes` of the default MLP: ``4·(B·(F + 3·ΣH + 6·K) + 4·P)``."""
    with torch.device("meta"):
        module = MLP(int(n_features), int(n_classes), tuple(hidden_layer_sizes), head=head)
    return module_bytes(module, (int(n_features),), batch_size)


# -------------------------------------------------------------------------------------------
# the C allocator
# -------------------------------------------------------------------------------------------
# glibc's mallopt parameters and the largest values its dynamic heuristic reaches on its own
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
_ALLOCATOR_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
_allocator_lock = threading.Lock()
_allocator_tuned = False


def _keep_freed_memory():
    """Let glibc reuse the memory of freed tensors instead of returning it to the system.

    A batched step allocates and frees several tensors of all members' activations (0.8 MB
    for 16 members of the default MLP, 1.5 MB for 30). glibc's defaults serve such blocks with
    fresh ``mmap`` pages or trim them off the heap when freed, so each step paid a page fault
    per 4 KiB of them: one torch thread, 16 members, 3.5 ms a step against 2.5 ms once freed
    memory is reused; 30 members, 13.6 ms against 5.5 ms. glibc's own heuristic raises both
    thresholds after large blocks are freed, up to 32 MiB (mmap) and 64 MiB (trim) on 64-bit
    systems; this sets them there, once, for the process (a heap keeps at most 64 MiB of
    freed memory). Nothing is done on other C libraries or when the environment sets
    malloc's options.
    """
    global _allocator_tuned
    with _allocator_lock:
        if _allocator_tuned:
            return
        _allocator_tuned = True
        if not sys.platform.startswith("linux") or any(
                name in os.environ for name in _ALLOCATOR_ENVIRONMENT):
            return
        try:
            libc = ctypes.CDLL(None)
        except OSError:
            return
        # glibc only: other C libraries have other allocators (musl's mallopt does nothing)
        if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
            return
        mallopt = libc.mallopt
        mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)


# -------------------------------------------------------------------------------------------
# public API
# -------------------------------------------------------------------------------------------
@dataclass
class MemberResult:
    """Outcome of one member of :func:`fit_members`.

    Attributes
    ----------
    estimator : ELMClassifier or None
        The fitted estimator (``None`` when the fit failed).
    batched : bool
        Whether the member was trained by the batched engine (else by ``ELMClassifier.fit``).
    fit_time : float
        Seconds of training; a batched group's time is shared equally among its members.
    error : BaseException or None
        The exception the fit raised, if it failed.
    reason : str or None
        Why the member was not batched.
    """

    estimator: ELMClassifier | None
    batched: bool
    fit_time: float = 0.0
    error: BaseException | None = None
    reason: str | None = field(default=None)


def fit_members(X, y, members, sample_weight=None, *, max_batched_members=None,
                memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Fit one ``ELMClassifier`` per member, the batchable ones in stacked groups.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or (n_samples, [C,] H, W)
        All rows, already validated (float32 or float64).
    y : ndarray of shape (n_samples,)
        Labels of all rows (any type ``ELMClassifier`` accepts).
    members : sequence of (params, train_rows)
        ``params`` is a dict of ``ELMClassifier`` parameters, ``train_rows`` the integer indices
        of the rows that member trains on, in the order a single fit would see them.
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights; each member uses those of its rows.
    max_batched_members : int, default=None
        Most members stacked in one batched group; ``None`` lets ``memory_budget`` decide.
    memory_budget : int, default=2**30
        Bytes the estimated peak of one batched group may reach (see :func:`module_bytes`).
    n_jobs : int, default=None
        Batched groups trained at the same time, each in its own thread with one torch
        thread (the members are split into at least ``n_jobs`` groups; torch's thread setting
        is restored afterwards). ``None``: on the CPU, ``torch.get_num_threads()`` groups; on
        CUDA, one group after the other. Groups that draw random numbers (dropout,
        augmentation) are trained one after the other, after the others.

    Returns
    -------
    results : list of MemberResult
        In the order of ``members``.
    """
    results = [None] * len(members)
    groups = {}
    for i, (params, rows) in enumerate(members):
        estimator = ELMClassifier(**_own_copy(params))
        reason = batch_reason(estimator)
        if reason is not None:
            results[i] = _fit_one(estimator, X, y, rows, sample_weight, reason)
            continue
        try:
            member = _prepare(estimator, X, y, rows, sample_weight)
        except Exception as exc:  # what fit refuses: recorded, the caller decides (error_score)
            results[i] = MemberResult(None, False, 0.0, exc, f"refused by fit: {exc}")
            continue
        groups.setdefault(member.key, []).append((i, member))

    if n_jobs is None:
        # small stacked ops scale better over threads of their own than over torch's
        # intra-op threads, which wait for each other at every op on busy cores
        on_cpu = all(m.device == "cpu" for specs in groups.values() for _, m in specs)
        n_jobs = torch.get_num_threads() if on_cpu else 1
    n_jobs = max(1, int(n_jobs))
    if any(m.device == "cpu" for specs in groups.values() for _, m in specs):
        _keep_freed_memory()
    chunks = []
    for specs in groups.values():
        first = specs[0][1]
        # one estimate per group: its members share the architecture and batch size
        per_member = module_bytes(first.net.module_, first.sample_shape,
                                  first.estimator.batch_size)
        size = max(1, int(memory_budget // max(per_member, 1)))
        if max_batched_members is not None:
            size = min(size, int(max_batched_members))
        size = min(size, math.ceil(len(specs) / n_jobs))  # work for every job
        chunks += _chunks(specs, size)
    inputs = _Inputs(X)

    def train(chunk):
        tic = time.perf_counter()
        outcomes = _train_group([member for _, member in chunk], inputs)
        elapsed = (time.perf_counter() - tic) / len(chunk)
        for (i, _), (estimator, error) in zip(chunk, outcomes, strict=True):
            results[i] = MemberResult(estimator, True, elapsed, error)

    random_chunks = [chunk for chunk in chunks if chunk[0][1].random]
    plain_chunks = [chunk for chunk in chunks if not chunk[0][1].random]
    if n_jobs == 1 or len(plain_chunks) <= 1:
        for chunk in plain_chunks:
            train(chunk)
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # n_jobs threads of one torch thread each
        try:
            with ThreadPoolExecutor(n_jobs) as pool:
                list(pool.map(train, plain_chunks))
        finally:
            torch.set_num_threads(threads)
    # dropout and augmentation draw from torch's global generator: one group at a time, from
    # the first member's seed, so that a search is reproducible
    for chunk in random_chunks:
        with torch.random.fork_rng(devices=_cuda(chunk[0][1].device)):
            torch.manual_seed(chunk[0][1].seed)
            train(chunk)
    return results


def _chunks(specs, size):
    """Split a group's ``(index, member)`` pairs into chunks of at most ``size`` members.

    Members that start alike (:func:`_start_key`) go to the same chunk where they fit, so
    that they can share a slot of :class:`_Slots`; the chunks get as equal a number of
    members as the clusters allow, in the order of ``specs`` within each.
    """
    clusters = {}
    for spec in specs:
        member = spec[1]
        clusters.setdefault(member.start_key or spec[0], []).append(spec)
    pieces = [cluster[start : start + size] for cluster in clusters.values()
              for start in range(0, len(cluster), size)]
    n_chunks = math.ceil(len(specs) / size)
    chunks = [[] for _ in range(n_chunks)]
    # largest pieces first, each to the emptiest chunk it fits in (a new chunk if none)
    for piece in sorted(pieces, key=len, reverse=True):
        fits = [chunk for chunk in chunks if len(chunk) + len(piece) <= size]
        if not fits:
            chunks.append([])
            fits = chunks[-1:]
        min(fits, key=len).extend(piece)
    return [sorted(chunk, key=lambda spec: spec[0]) for chunk in chunks if chunk]


def _own_copy(params):
    params = dict(params)
    if params.get("random_state") is not None:
        # a RandomState instance is advanced by fit: each member draws from its own copy
        params["random_state"] = copy.deepcopy(params["random_state"])
    return params


def _cuda(device):
    return [torch.device(device)] if str(device).startswith("cuda") else []


def _fit_one(estimator, X, y, rows, sample_weight, reason):
    weights = None if sample_weight is None else sample_weight[rows]
    tic = time.perf_counter()
    try:
        estimator.fit(X[rows], y[rows], sample_weight=weights)
    except Exception as exc:  # recorded: the caller decides (error_score)
        return MemberResult(None, False, time.perf_counter() - tic, exc, reason)
    return MemberResult(estimator, False, time.perf_counter() - tic, None, reason)


# -------------------------------------------------------------------------------------------
# members
# -------------------------------------------------------------------------------------------
@dataclass
class _Member:
    estimator: ELMClassifier
    net: object  # the member's ELMNet, initialised
    classes: np.ndarray
    counts: np.ndarray
    seed: int
    device: str
    image_shape: tuple | None
    train_rows: torch.Tensor  # rows of X, in the order of the fit's training data
    train_y: torch.Tensor  # their encoded labels
    train_w: torch.Tensor | None  # and sample weights
    valid_rows: torch.Tensor | None  # the early-stopping validation rows
    valid_y: torch.Tensor | None
    valid_w: torch.Tensor | None
    key: tuple
    sample_shape: tuple  # shape of one sample as the module receives it
    random: bool  # draws random numbers in training (dropout, augmentation)
    start_key: tuple | None = None  # _start_key (None: draws random numbers, never shares)


def _prepare(estimator, X, y, rows, sample_weight):
    """A member's net and data, from the estimator's own checks, as ``fit`` makes them."""
    rows = np.asarray(rows, dtype=np.intp)
    estimator._validate_params()
    weights = None if sample_weight is None else sample_weight[rows]
    early_stopping = estimator.early_stopping
    estimator.early_stopping = False  # all the rows: the engine splits their positions below
    try:
        train_data, classes, counts, seed, _ = estimator._training_data(X[rows], y[rows],
                                                                        weights, None)
    finally:
        estimator.early_stopping = early_stopping
    # the engine reads the samples from the shared X: keep the rows' positions instead
    train = TensorData(torch.arange(rows.size), train_data.y, train_data.sample_weight)
    del train_data
    valid = None
    if estimator.early_stopping:
        # the fit's own split, applied to the row positions
        train, valid = estimator._split_validation(train, train.y.numpy(), seed)
    device = resolve_device(estimator.device)
    with torch.random.fork_rng(devices=_cuda(device)):
        net = initialized_net(estimator, input_shape=estimator.input_shape_,
                              class_counts=counts, seed=seed, device=device)
    rows = torch.from_numpy(rows.astype(np.int64))
    module = net.module_
    sample_shape = estimator._image_shape_ or tuple(estimator.input_shape_)
    schedule = lr_schedule(estimator, estimator._image_shape_)
    max_epochs, batch_size = int(estimator.max_epochs), int(estimator.batch_size)
    optimizer_class, optimizer_kwargs = _optimizer(estimator)
    key = (
        device, repr(module), type(net.criterion_), tuple(sample_shape), estimator.precision,
        net.augment_padding, net.augment_flip, optimizer_class,
        tuple(sorted(optimizer_kwargs.items())), float(estimator.lr),
        None if schedule is None else tuple(schedule.factor(e, max_epochs)
                                            for e in range(max_epochs)),
        batch_size, max_epochs,
        # padding rows would enter the batch statistics of BatchNorm layers: members with
        # those train in groups of one training-set size, the others of one number of batches
        len(train) if _batch_statistics(module) else math.ceil(len(train) / batch_size),
        bool(estimator.early_stopping),
    )
    random = bool(net.augment_padding or net.augment_flip) or any(
        isinstance(m, nn.Dropout) and m.p > 0 for m in module.modules())
    member = _Member(
        estimator=estimator, net=net, classes=classes, counts=counts, seed=seed, device=device,
        image_shape=estimator._image_shape_, train_rows=rows[train.X], train_y=train.y,
        train_w=train.sample_weight, valid_rows=None if valid is None else rows[valid.X],
        valid_y=None if valid is None else valid.y,
        valid_w=None if valid is None else valid.sample_weight,
        key=key, sample_shape=tuple(sample_shape), random=random,
    )
    if not random:
        member.start_key = _start_key(member)
    return member


def _batch_statistics(module):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class _Inputs:
    """``X`` as a float32 tensor, one copy per device, shared by the groups."""

    def __init__(self, X):
        self.X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        self._on = {}

    def on(self, device, image_shape):
        device = torch.device(device)
        if device not in self._on:
            self._on[device] = self.X.to(device)
        X = self._on[device]
        return X if image_shape is None else X.view(X.shape[0], *image_shape)


# -------------------------------------------------------------------------------------------
# the batched training loop
# -------------------------------------------------------------------------------------------
class _Batches:
    """One epoch's batches of a set of members: (steps, G, B) row indices, labels, weights.

    Step ``t`` uses the first ``width[t]`` columns: the most rows a member has in that batch
    (a last batch shorter for all members is as short as theirs). Members with fewer rows are
    padded with their first row, at weight 0.
    """

    def __init__(self, rows, labels, weights, batch_size, device, orders=None):
        G, B = len(rows), batch_size
        self.sizes = np.array([r.numel() for r in rows])
        self.steps = max(1, math.ceil(self.sizes.max() / B))
        width = self.steps * B
        index = torch.empty(G, width, dtype=torch.int64)
        target = torch.zeros(G, width, dtype=torch.int64)
        weight = torch.zeros(G, width)
        for g in range(G):
            n = self.sizes[g]
            order = slice(None) if orders is None else orders[g]
            index[g, :n], target[g, :n] = rows[g][order], labels[g][order]
            index[g, n:] = rows[g][0] if n else 0
            weight[g, :n] = 1.0 if weights[g] is None else weights[g][order]
        # rows of member g in batch t, as BatchIterator slices them
        self.batch_rows = np.clip(self.sizes[None, :] - B * np.arange(self.steps)[:, None], 0, B)
        self.width = self.batch_rows.max(axis=1)
        self.padded = (self.batch_rows < self.width[:, None]).any(axis=1)
        self.weighted = any(w is not None for w in weights)

        def by_step(tensor):
            return tensor.view(G, self.steps, B).transpose(0, 1).contiguous().to(device)

        self.index, self.target, self.weight = by_step(index), by_step(target), by_step(weight)

    def step(self, t):
        """Row indices, labels and sample weights (None when all weigh 1) of step ``t``."""
        width = int(self.width[t])
        weight = self.weight[t, :, :width] if self.weighted or self.padded[t] else None
        return self.index[t, :, :width], self.target[t, :, :width], weight


def _stack_arguments(criteria, batch_size, device):
    """The members' ``core_arguments()`` stacked and repeated for their rows of a step."""
    rows = {}
    for name in criteria[0].core_arguments():
        values = [criterion.core_arguments()[name] for criterion in criteria]
        if not isinstance(values[0], torch.Tensor) and len(set(values)) == 1:
            rows[name] = values[0]  # one number for all: the core may take a shortcut (lam=0)
            continue
        stacked = torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in values])
        rows[name] = stacked.to(device=device, dtype=torch.float32).repeat_interleave(
            batch_size, dim=0)
    return rows


class _Slots:
    """The stacked networks of a group: one slot per distinct training trajectory.

    Members whose training is the same so far (same initial weights, rows, batch order and
    loss arguments, and so far the same class weights) share a slot: its steps train all of
    them at once. When their class weights part (deferred re-weighting starting at different
    epochs, say), :meth:`reslot` copies the slot, weights and optimizer state alike, and each
    copy trains on; a slot whose members all stopped is dropped the same way.
    """

    def __init__(self, members):
        self.estimator = members[0].estimator  # builds the optimizer, as for the group
        self.nets = [m.net for m in members]
        # slots of members that start alike; members that draw random numbers never share
        first = {}
        self.slot_of = []
        for g, member in enumerate(members):
            key = member.start_key or g
            self.slot_of.append(first.setdefault(key, len(first)))
        self.representatives = [self.slot_of.index(k) for k in range(len(first))]
        modules = [self.nets[g].module_ for g in self.representatives]
        self.params, self.buffers = torch.func.stack_module_state(modules)
        self.optimizer = build_optimizer(self.estimator, list(self.params.values()))

    def __len__(self):
        return len(self.representatives)

    def reslot(self, representatives, slot_of):
        """New slots, each a copy of the slot of member ``representatives[k]`` so far."""
        sources = torch.tensor([self.slot_of[g] for g in representatives],
                               device=next(iter(self.params.values())).device)
        old_state = self.optimizer.state
        params = {}
        for name, value in self.params.items():
            params[name] = value.detach().index_select(0, sources).requires_grad_(
                value.requires_grad)
        buffers = {name: value.index_select(0, sources) for name, value in self.buffers.items()}
        optimizer = build_optimizer(self.estimator, list(params.values()))
        for old, new in zip(self.params.values(), params.values(), strict=True):
            if old in old_state:
                # per-weight state (moments, momentum) follows its slot; the step count is shared
                optimizer.state[new] = {
                    key: value.index_select(0, sources)
                    if isinstance(value, torch.Tensor) and value.shape == old.shape
                    else (value.clone() if isinstance(value, torch.Tensor) else value)
                    for key, value in old_state[old].items()
                }
        self.params, self.buffers, self.optimizer = params, buffers, optimizer
        self.representatives, self.slot_of = list(representatives), list(slot_of)

    @torch.no_grad()
    def copy_back(self, running):
        """Copy each running member's slot into its module."""
        for g, net in enumerate(self.nets):
            if not running[g]:
                continue
            k = self.slot_of[g]
            for name, value in net.module_.named_parameters():
                value.copy_(self.params[name][k])
            for name, value in net.module_.named_buffers():
                value.copy_(self.buffers[name][k])


def _start_key(member):
    """What decides a member's training until its class weights change: equal keys, equal steps."""
    net = member.net
    arguments = sorted(net.criterion_.core_arguments().items())
    return (
        _array_digest(list(net.module_.state_dict().values())),
        _array_digest([member.train_rows, member.train_y, member.train_w,
                       member.valid_rows, member.valid_y, member.valid_w]),
        net.shuffle_seed,
        float(net.s),
        tuple((name, _array_digest([value]) if isinstance(value, torch.Tensor) else repr(value))
              for name, value in arguments),
    )


def _class_weight_keys(nets, running):
    """A key of each running member's class weights (None: none), from one host copy."""
    weights = {g: getattr(net.criterion_, "weight", None) for g, net in enumerate(nets)
               if running[g]}
    weighted = [g for g, w in weights.items() if w is not None]
    keys = dict.fromkeys(weights)
    if weighted:
        on_host = torch.stack([weights[g].detach().reshape(-1).to(torch.float64)
                               for g in weighted]).cpu()
        keys.update({g: row.numpy().tobytes() for g, row in zip(weighted, on_host, strict=True)})
    return keys


def _train_group(members, inputs):
    """Train stacked members; returns ``(fitted ELMClassifier or None, error or None)`` each."""
    first = members[0]
    G, device = len(members), torch.device(first.device)
    estimator0, net0 = first.estimator, first.net
    B, max_epochs = int(estimator0.batch_size), int(estimator0.max_epochs)
    nets = [m.net for m in members]
    X = inputs.on(device, first.image_shape)
    slots = _Slots(members)
    base = copy.deepcopy(nets[0].module_).to("meta")

    def member_forward(p, b, x):
        return torch.func.functional_call(base, (p, b), (x,))

    forward = torch.vmap(member_forward, randomness="different")
    criterion_class = type(net0.criterion_)
    core = criterion_class.core
    applies_scale = criterion_applies_scale(net0.criterion_)
    sample_shape = tuple(X.shape[1:])

    def slot_arguments():
        criteria = [nets[g].criterion_ for g in slots.representatives]
        scale = None
        if not applies_scale:
            scale = torch.tensor([float(nets[g].s) for g in slots.representatives],
                                 device=device).view(len(slots), 1, 1)
        return criteria, _stack_arguments(criteria, B, device), scale

    criteria, arguments, scale = slot_arguments()

    def losses_of(batches, t, class_weight):
        """Each slot's loss on its rows of step ``t``, shape (slots,)."""
        index, target, sample_weight = batches.step(t)
        n_slots, width = index.shape
        x = X.index_select(0, index.reshape(-1))
        if base.training and (net0.augment_padding or net0.augment_flip):
            x = random_crop_flip(x, net0.augment_padding, net0.augment_flip)
        with net0._autocast():
            logits = forward(slots.params, slots.buffers, x.view(n_slots, width, *sample_shape))
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the loss in float32, as ELMNet.weighted_loss computes it
        if scale is not None:
            logits = scale_logits(logits, scale)
        rows = arguments if width == B else _stack_arguments(criteria, width, device)
        per_row = core(logits.reshape(n_slots * width, -1), target.reshape(-1), **rows)
        return weighted_mean(per_row.view(n_slots, width),
                             row_weights(target, class_weight, sample_weight))

    # the member's own fit loop, driven epoch by epoch: skorch's events on its net
    for net in nets:
        net.notify("on_train_begin", X=None, y=None)
    generators = [torch.Generator().manual_seed(net.shuffle_seed) for net in nets]
    running = [True] * G  # neither stopped early nor diverged
    errors = [None] * G
    early_stopping = bool(estimator0.early_stopping)
    valid, valid_of = None, None  # the validation batches, and the slots they were made for

    for epoch in range(max_epochs):
        if not any(running):
            break
        for g, net in enumerate(nets):
            if running[g]:
                net.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
        # members of a slot whose class weights now differ part; stopped members leave
        parts = {}
        for g, key in _class_weight_keys(nets, running).items():
            parts.setdefault((slots.slot_of[g], key), []).append(g)
        representatives = [part[0] for part in parts.values()]
        if representatives != slots.representatives:
            slot_of = [None] * G  # stopped members have no slot
            for k, part in enumerate(parts.values()):
                for g in part:
                    slot_of[g] = k
            slots.reslot(representatives, slot_of)
            criteria, arguments, scale = slot_arguments()
        # the learning rate the members' schedules set (one trajectory per group)
        lr = nets[running.index(True)].optimizer_.param_groups[0]["lr"]
        for group in slots.optimizer.param_groups:
            group["lr"] = lr
        representatives = slots.representatives
        class_weight = _class_weights([nets[g] for g in representatives], device)
        # every member's generator draws its order, as its own fit would; members of a slot
        # draw the same one
        orders = [torch.randperm(m.train_rows.numel(), generator=gen)
                  for m, gen in zip(members, generators, strict=True)]
        train = _Batches([members[g].train_rows for g in representatives],
                         [members[g].train_y for g in representatives],
                         [members[g].train_w for g in representatives], B, device,
                         [orders[g] for g in representatives])
        if early_stopping and valid_of != representatives:  # the same batches each epoch
            valid = _Batches([members[g].valid_rows for g in representatives],
                             [members[g].valid_y for g in representatives],
                             [members[g].valid_w for g in representatives], B, device)
            valid_of = representatives
        base.train(True)
        step_losses = []
        for t in range(train.steps):
            loss = losses_of(train, t, class_weight)
            slots.optimizer.zero_grad()  # None: the backward pass hands over its gradients
            loss.sum().backward()  # each slot's gradient is its own
            slots.optimizer.step()
            step_losses.append(loss.detach())
        valid_losses = None
        if early_stopping:
            base.train(False)
            with torch.no_grad():
                valid_losses = torch.stack([losses_of(valid, t, class_weight)
                                            for t in range(valid.steps)])
        # one host read per epoch: the losses of every batch
        step_losses = torch.stack(step_losses).cpu().tolist()
        valid_losses = None if valid_losses is None else valid_losses.cpu().tolist()
        if early_stopping:
            slots.copy_back(running)  # EarlyStopping keeps the best weights
        for g, net in enumerate(nets):
            if not running[g]:
                continue
            k = slots.slot_of[g]
            history = net.history
            # the rows History.new_batch and record_batch write, appended to the epoch's
            # list directly: each History lookup copies the whole history
            batches = history[-1]["batches"]
            for t in range(train.steps):
                size = int(train.batch_rows[t, k])
                if size == 0:
                    break
                loss = step_losses[t][k]
                if not math.isfinite(loss):
                    errors[g] = divergence_error(loss, epoch + 1, t + 1, net.lr)
                    running[g] = False
                    break
                batches.append({"train_loss": loss, "train_batch_size": size})
            if not running[g]:
                continue
            history.record("train_batch_count", int(np.count_nonzero(train.batch_rows[:, k])))
            if valid_losses is not None:
                for t in range(valid.steps):
                    size = int(valid.batch_rows[t, k])
                    if size == 0:
                        break
                    batches.append({"valid_loss": valid_losses[t][k], "valid_batch_size": size})
                history.record("valid_batch_count",
                               int(np.count_nonzero(valid.batch_rows[:, k])))
            try:
                net.notify("on_epoch_end", dataset_train=None, dataset_valid=None)
            except KeyboardInterrupt:  # skorch's EarlyStopping stops a fit this way
                running[g] = False
                net.notify("on_train_end", X=None, y=None)

    slots.copy_back(running)
    outcomes = []
    for g, (member, net) in enumerate(zip(members, nets, strict=True)):
        if errors[g] is not None:
            outcomes.append((None, errors[g]))
            continue
        if running[g]:
            net.notify("on_train_end", X=None, y=None)
        net.shuffle_generator_ = generators[g]  # where the member's batch order stopped
        outcomes.append((set_fitted_state(member.estimator, net, member.classes, member.counts,
                                          member.device), None))
    return outcomes


def _class_weights(nets, device):
    """The members' criterion weights this epoch, (G, K); None when no member has one."""
    weights = [getattr(net.criterion_, "weight", None) for net in nets]
    if all(w is None for w in weights):
        return None
    n_classes = next(w for w in weights if w is not None).numel()
    return torch.stack([
        torch.ones(n_classes, device=device) if w is None
        else w.to(device=device, dtype=torch.float32) for w in weights
    ])
