"""Train many independent ``ELMClassifier`` networks in one pass (the engine of the search).

A *member* is one ``ELMClassifier`` fit: a full set of estimator parameters and the rows of
``X`` it trains on (a cross-validation fold, say). :func:`fit_members` trains a list of members
and returns, for each, a fitted :class:`~sklearn_elm.ELMClassifier`.

Members whose network is the default MLP are trained *batched*: the weights of G members are
stacked along a leading axis, every layer is one batched matrix product (``torch.baddbmm``)
and the optimizer update is one element-wise pass over the stacked tensors. Members never mix:
the total loss is the sum of the per-member losses, so each member's gradient is its own, and
the optimizer (Adam, AdamW or SGD with momentum, re-implemented element-wise with per-member
learning rate, weight decay and step count) moves each member exactly as torch's would. Each
member starts from the weights ``ELMClassifier.fit`` would initialise (same seed), draws the
same batch order (same shuffle generator), and uses its own class counts, margins, ``lam``,
``s``, loss, deferred re-weighting schedule, learning-rate schedule and sample weights. Folds
of different sizes are padded and masked; a member with no batch at a step is left untouched
(weights, moments and step count). After training the stacked weights are loaded into ordinary
fitted ``ELMClassifier`` objects, so their predictions run through ``ELMClassifier`` itself.

Everything else (other modules, dropout, early stopping, callbacks, checkpoints,
mixed precision, ``torch.compile``, custom optimizer classes or routed ``module__*`` /
``optimizer__*`` parameters) is trained one member at a time with ``ELMClassifier.fit``;
:attr:`MemberResult.batched` says which path a member took.

Peak memory of a batched group of G members, B rows per batch, F features, hidden widths
H_1..H_L and K classes, in float32 bytes: ``4 · G · (B · (F + 3·ΣH + 6·K) + 4·P)`` where P is
the number of weights of one network (weights, gradients and two optimizer moments), plus the
shared copy of ``X``. The group size is capped so that this stays under ``memory_budget``.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from skorch.history import History

from . import losses as _losses
from ._builder import (
    class_margins,
    count_absent_as_one,
    effective_drw_start,
    fit_seed,
    initialized_net,
    resolve_device,
)
from ._training import TrainingDivergedError
from .callbacks import DeferredReweighting, WarmupMultiStepLR, _resolve_epoch
from .classifier import ELMClassifier
from .modules import _EPS, MLP

__all__ = ["MemberResult", "fit_members", "member_bytes"]

#: losses the batched trainer computes; the others fall back to one fit per member
BATCHED_LOSSES = ("elm", "ldam", "ce", "la", "cb", "focal")
_BATCHED_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                       "sgd": torch.optim.SGD}
#: default cap on the estimated peak memory of one batched group (bytes)
DEFAULT_MEMORY_BUDGET = 2**30
_ADAM_BETAS, _ADAM_EPS, _SGD_MOMENTUM = (0.9, 0.999), 1e-8, 0.9


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
        Whether the member was trained by the batched trainer (else by ``ELMClassifier.fit``).
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


def fallback_reason(params, X_ndim=2):
    """Why a member with ``params`` cannot be trained batched (``None`` if it can)."""
    if X_ndim != 2 or params.get("input_shape") is not None:
        return "image input"
    if params.get("module") not in (None, "mlp", MLP):
        return f"module={params.get('module')!r}"
    if params.get("dropout", 0.0):
        return "dropout > 0"
    if params.get("loss") not in BATCHED_LOSSES:
        return f"loss={params.get('loss')!r}"
    optimizer = params.get("optimizer")
    if not (optimizer in _BATCHED_OPTIMIZERS
            or any(optimizer is cls for cls in _BATCHED_OPTIMIZERS.values())):
        return f"optimizer={optimizer!r}"
    # (warm_start needs no check: every member is a fresh estimator, trained from scratch)
    for name in ("early_stopping", "callbacks", "checkpoint_dir", "compile"):
        if params.get(name):
            return f"{name}={params.get(name)!r}"
    if params.get("precision", "fp32") != "fp32":
        return f"precision={params.get('precision')!r}"
    schedule = params.get("lr_schedule")
    if not (schedule is None or schedule == "paper" or type(schedule) is WarmupMultiStepLR):
        return f"lr_schedule={schedule!r}"
    routed = sorted(k for k in params if "__" in k)
    if routed:
        return f"routed parameters {routed}"
    return None


def member_bytes(n_features, hidden_layer_sizes, n_classes, batch_size, head="cosine"):
    """Estimated peak float32 bytes one batched member adds (see the module docstring)."""
    widths = [int(n_features), *(int(h) for h in hidden_layer_sizes)]
    n_weights = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    n_weights += widths[-1] * n_classes + (n_classes if head == "linear" else 0)
    rows = batch_size * (n_features + 3 * sum(widths[1:]) + 6 * n_classes)
    return 4 * (rows + 4 * n_weights)


def fit_members(X, y, members, sample_weight=None, *, max_batched_members=None,
                memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Fit one ``ELMClassifier`` per member, the batchable ones in stacked groups.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or (n_samples, ...)
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
        Bytes the estimated peak of one batched group may reach.
    n_jobs : int, default=None
        Batched groups trained at the same time, each in its own thread with one torch
        thread (the members are split into at least ``n_jobs`` groups; torch's thread setting
        is restored afterwards). ``None``: on the CPU, ``torch.get_num_threads()`` groups; on
        CUDA, one group after the other.

    Returns
    -------
    results : list of MemberResult
        In the order of ``members``.
    """
    results = [None] * len(members)
    groups = {}
    for i, (params, rows) in enumerate(members):
        params = dict(params)
        reason = fallback_reason(params, np.ndim(X))
        if reason is None:
            spec = _prepare(params, X, y, rows, sample_weight)
            if isinstance(spec, str):
                reason = spec
            else:
                groups.setdefault(spec.key, []).append((i, spec))
        if reason is not None:
            results[i] = _fit_one(params, X, y, rows, sample_weight, reason)

    if n_jobs is None:
        # small stacked ops scale better over threads of their own than over torch's
        # intra-op threads, which wait for each other at every op on busy cores
        on_cpu = all(spec.device == "cpu" for specs in groups.values() for _, spec in specs)
        n_jobs = torch.get_num_threads() if on_cpu else 1
    n_jobs = max(1, int(n_jobs))
    chunks = []
    for specs in groups.values():
        first = specs[0][1]
        per_member = member_bytes(X.shape[1], first.hidden, first.n_classes, first.batch_size,
                                  first.head)
        size = max(1, int(memory_budget // max(per_member, 1)))
        if max_batched_members is not None:
            size = min(size, int(max_batched_members))
        size = min(size, math.ceil(len(specs) / n_jobs))  # work for every job
        chunks += [specs[start : start + size] for start in range(0, len(specs), size)]
    inputs = {}
    for chunk in chunks:
        device = torch.device(chunk[0][1].device)
        if device not in inputs:
            weights = None
            if sample_weight is not None:
                weights = torch.as_tensor(np.asarray(sample_weight, dtype=np.float32))
                weights = weights.to(device)
            inputs[device] = (
                torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device), weights)
    # initial weights in this thread: they are drawn from torch's global generator
    nets = [_initial_nets([spec for _, spec in chunk], X.shape[1]) for chunk in chunks]

    def train(index):
        chunk = chunks[index]
        device = torch.device(chunk[0][1].device)
        tic = time.perf_counter()
        outcomes = _train_group([spec for _, spec in chunk], *inputs[device], device,
                                nets[index])
        elapsed = (time.perf_counter() - tic) / len(chunk)
        for (i, _), (estimator, error) in zip(chunk, outcomes, strict=True):
            results[i] = MemberResult(estimator, True, elapsed, error)

    with warnings.catch_warnings():
        # set here, not in the worker threads: warning filters are process-wide. The gradients
        # are views into one (G, P) buffer on purpose, which torch reports as a layout mismatch
        warnings.filterwarnings("ignore", message="grad and param do not obey")
        if n_jobs == 1 or len(chunks) <= 1:
            for index in range(len(chunks)):
                train(index)
        else:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # n_jobs threads of one torch thread each
            try:
                with ThreadPoolExecutor(n_jobs) as pool:
                    list(pool.map(train, range(len(chunks))))
            finally:
                torch.set_num_threads(threads)
    return results


# -------------------------------------------------------------------------------------------
# one-by-one path
# -------------------------------------------------------------------------------------------
def _fit_one(params, X, y, rows, sample_weight, reason):
    estimator = ELMClassifier(**params)
    weights = None if sample_weight is None else sample_weight[rows]
    tic = time.perf_counter()
    try:
        estimator.fit(X[rows], y[rows], sample_weight=weights)
    except Exception as exc:  # recorded: the caller decides (error_score)
        return MemberResult(None, False, time.perf_counter() - tic, exc, reason)
    return MemberResult(estimator, False, time.perf_counter() - tic, None, reason)


# -------------------------------------------------------------------------------------------
# batched path
# -------------------------------------------------------------------------------------------
@dataclass
class _Spec:
    estimator: ELMClassifier
    rows: torch.Tensor
    classes: np.ndarray
    counts: np.ndarray
    labels: torch.Tensor  # encoded labels of all rows (-1 outside the member's classes)
    seed: int
    device: str
    hidden: tuple
    head: str
    n_classes: int
    batch_size: int
    optimizer: str

    @property
    def key(self):
        loss = self.estimator.loss
        family = "margin" if loss in ("elm", "ldam") else "focal" if loss == "focal" else "adjusted"
        return (self.device, self.hidden, self.head, self.n_classes, self.batch_size,
                int(self.estimator.max_epochs), self.optimizer, family)


def _prepare(params, X, y, rows, sample_weight=None):
    """A member's fit-time quantities, computed as ``ELMClassifier.fit`` does."""
    if params.get("random_state") is not None:
        # a RandomState instance is advanced by fit: each member draws from its own copy
        params["random_state"] = copy.deepcopy(params["random_state"])
    estimator = ELMClassifier(**params)
    rows = np.asarray(rows, dtype=np.intp)
    y_rows = y[rows]
    if estimator.classes is not None:
        classes = np.unique(np.asarray(estimator.classes))
        if np.setdiff1d(np.unique(y_rows), classes).size:
            return "labels outside classes"
    else:
        classes = np.unique(y_rows)
    if classes.size < 2:
        return "fewer than 2 classes"
    encoded = np.searchsorted(classes, y)
    encoded = np.where(
        (encoded < classes.size) & (classes[np.minimum(encoded, classes.size - 1)] == y),
        encoded, -1,
    )
    counts = np.bincount(encoded[rows], minlength=classes.size)
    if sample_weight is not None and np.unique(y_rows[sample_weight[rows] > 0]).size < 2:
        return "sample_weight leaves fewer than 2 classes"  # the single fit says how
    optimizer = params.get("optimizer", "adam")
    if not isinstance(optimizer, str):
        optimizer = next(k for k, v in _BATCHED_OPTIMIZERS.items() if v is optimizer)
    seed = fit_seed(estimator.random_state)
    return _Spec(
        estimator=estimator, rows=torch.from_numpy(rows.astype(np.int64)), classes=classes,
        counts=counts, labels=torch.from_numpy(encoded.astype(np.int64)), seed=seed,
        device=resolve_device(estimator.device),
        hidden=tuple(int(h) for h in estimator.hidden_layer_sizes), head=estimator.head,
        n_classes=int(classes.size), batch_size=int(estimator.batch_size),
        optimizer=optimizer,
    )


def _lr_factor(estimator, epoch):
    schedule = estimator.lr_schedule
    if schedule is None:
        return 1.0
    if schedule == "paper":
        schedule = WarmupMultiStepLR(warmup_epochs=0.025, milestones=(0.8, 0.9), gamma=0.01)
    return schedule.factor(epoch, estimator.max_epochs)


def _class_weight_start(estimator):
    """First epoch with class-balanced weights (``None``: never)."""
    if estimator.loss == "cb":
        return 0
    start = effective_drw_start(estimator)
    return None if start is None else _resolve_epoch(start, estimator.max_epochs, "start")


class _RowNorm(torch.autograd.Function):
    """``vector_norm(h, dim=2, keepdim=True).clamp_min(eps)`` with a one-pass backward.

    The same values and gradients as the composed ops (which ``CosineLinear`` uses); torch's
    generic backward of the two takes several passes over the (G, B, H) activations, which
    dominated the batched step.
    """

    @staticmethod
    def forward(ctx, h):
        norm = torch.linalg.vector_norm(h, dim=2, keepdim=True)
        ctx.save_for_backward(h, norm)
        return norm.clamp_min(_EPS)

    @staticmethod
    def backward(ctx, grad):
        h, norm = ctx.saved_tensors
        # d|h|/dh = h/|h|; no gradient where the clamp holds the norm at eps
        scale = torch.where(norm > _EPS, grad / norm, 0.0)
        return h * scale


def _forward(params, x, head):
    """Stacked MLP forward: ``x`` (G, B, F) -> logits (G, B, K)."""
    n_hidden = (len(params) - (2 if head == "linear" else 1)) // 2
    h = x
    for layer in range(n_hidden):
        weight, bias = params[2 * layer], params[2 * layer + 1]
        h = torch.relu(torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2)))
    if head == "linear":
        return torch.baddbmm(params[-1].unsqueeze(1), h, params[-2].transpose(1, 2))
    # CosineLinear.forward, per member
    norm = _RowNorm.apply(h)
    weight = F.normalize(params[-1], dim=2, eps=_EPS)
    return torch.bmm(h, weight.transpose(1, 2)) / norm


def _per_member(values, device, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype, device=device)


def _initial_nets(specs, n_features):
    """The nets ``ELMClassifier.fit`` would build for ``specs``: same seeds, same weights."""
    nets = []
    for spec in specs:
        device = torch.device(spec.device)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            nets.append(initialized_net(spec.estimator, input_shape=(n_features,),
                                        class_counts=spec.counts, seed=spec.seed,
                                        device=spec.device))
    return nets


def _train_group(specs, X, sample_weight, device, nets):
    """Train stacked members; returns ``(fitted ELMClassifier or None, error or None)`` each."""
    G = len(specs)
    first = specs[0]
    estimators = [spec.estimator for spec in specs]
    max_epochs, batch_size, head = int(first.estimator.max_epochs), first.batch_size, first.head
    loss_kind = first.estimator.loss
    margin_family = loss_kind in ("elm", "ldam")

    # all weights of a member in one row of ``flat``: the optimizer is one element-wise pass
    # over (G, P) tensors; the layers are views into it, and so are their gradients
    shapes = [tuple(p.shape) for p in nets[0].module_.parameters()]
    flat = torch.cat([
        torch.stack([p.detach().reshape(-1) for p in parts])
        for parts in zip(*(list(n.module_.parameters()) for n in nets), strict=True)
    ], dim=1).to(device)
    flat_grad = torch.zeros_like(flat)
    params, offset = [], 0
    for shape in shapes:
        size = math.prod(shape)
        view = flat[:, offset : offset + size].view(G, *shape).requires_grad_()
        view.grad = flat_grad[:, offset : offset + size].view(G, *shape)
        params.append(view)
        offset += size
    state = {"exp_avg": torch.zeros_like(flat), "exp_avg_sq": torch.zeros_like(flat)}
    steps = torch.zeros(G, dtype=torch.float64)

    counts = [count_absent_as_one(spec.counts) for spec in specs]
    K = first.n_classes
    B = batch_size
    # per-row constants of the loss, for the G·B rows of a step
    s_rows = _per_member([float(e.s) for e in estimators], device).repeat_interleave(B)
    if margin_family:
        margins = torch.stack([
            _losses.label_distribution_margins(c, e.max_m)
            for c, e in zip(counts, estimators, strict=True)
        ]).to(device=device, dtype=torch.float32)
        margin_rows = margins.repeat_interleave(B, dim=0)
        lam_rows = _per_member([float(e.lam) if e.loss == "elm" else 0.0 for e in estimators],
                               device).repeat_interleave(B)
    else:
        log_prior = torch.stack([
            torch.as_tensor(np.log(c) - np.log(c.sum()), dtype=torch.float64) for c in counts
        ]).to(device=device, dtype=torch.float32)
        tau = _per_member([float(e.tau) if e.loss == "la" else 0.0 for e in estimators], device)
        adjust_rows = (tau.unsqueeze(1) * log_prior).repeat_interleave(B, dim=0)
        if loss_kind == "focal":
            gamma_rows = _per_member([float(e.gamma) for e in estimators],
                                     device).repeat_interleave(B)
    balanced = torch.stack([
        _losses.class_balanced_weights(c, e.beta) for c, e in zip(counts, estimators, strict=True)
    ]).to(device=device, dtype=torch.float32)
    weight_start = [_class_weight_start(e) for e in estimators]
    base_lr = np.array([float(e.lr) for e in estimators])
    weight_decay = np.array([float(e.weight_decay) for e in estimators])
    optimizer = first.optimizer

    labels = torch.stack([spec.labels for spec in specs]).to(device)
    n_rows = np.array([int(spec.rows.numel()) for spec in specs])
    n_batches = -(-n_rows // B)
    n_steps = int(n_batches.max())
    width = n_steps * B
    # rows of member g in batch t: the slice [t·B, (t+1)·B) of its permutation, as in skorch
    batch_rows = np.clip(n_rows[None, :] - B * np.arange(n_steps)[:, None], 0, B)
    generators = [torch.Generator().manual_seed(spec.seed) for spec in specs]
    diverged = np.zeros(G, dtype=bool)
    history = [[] for _ in specs]
    scheduled = [e.lr_schedule is not None for e in estimators]

    for epoch in range(max_epochs):
        tic = time.perf_counter()
        epoch_loss = torch.zeros(G, dtype=torch.float64)
        # this epoch's batch order: one permutation per member, as BatchIterator draws it
        index = torch.empty(G, width, dtype=torch.int64)
        valid = torch.zeros(G, width, dtype=torch.bool)
        for g, (spec, gen) in enumerate(zip(specs, generators, strict=True)):
            order = spec.rows[torch.randperm(n_rows[g], generator=gen)]
            index[g, : n_rows[g]] = order
            index[g, n_rows[g]:] = spec.rows[0]  # a real row, masked out of the loss
            valid[g, : n_rows[g]] = True
        index, valid = index.to(device), valid.to(device)
        targets = labels.gather(1, index)
        row_weights = valid.to(torch.float32)
        use_balanced = [start is not None and epoch >= start for start in weight_start]
        weighted = any(use_balanced) or sample_weight is not None
        if any(use_balanced):
            class_weight = torch.where(_per_member(use_balanced, device, torch.bool)[:, None],
                                       balanced, 1.0)
            row_weights = row_weights * class_weight.gather(1, targets)
        if sample_weight is not None:
            row_weights = row_weights * sample_weight[index]

        # (steps, G, B) layouts: each step reads contiguous blocks
        def by_step(tensor):
            return tensor.view(G, n_steps, B).transpose(0, 1).contiguous()

        index, targets, row_weights = by_step(index), by_step(targets), by_step(row_weights)
        factor = np.array([_lr_factor(e, epoch) for e in estimators])
        lr = base_lr * factor

        for t in range(n_steps):
            active = (batch_rows[t] > 0) & ~diverged
            if not active.any():
                continue
            rows, target, row_weight = index[t], targets[t], row_weights[t]
            logits = _forward(params, X.index_select(0, rows.view(-1)).view(G, B, -1), head)
            flat_logits, flat_target = logits.reshape(G * B, K), target.view(G * B)
            if margin_family:
                per_row = _losses._margin_loss(flat_logits, flat_target, margin_rows, lam_rows,
                                               s_rows, None, "none")
            else:
                scaled = flat_logits * s_rows.unsqueeze(1) + adjust_rows
                per_row = _losses._cross_entropy_rows(scaled, flat_target)
                if loss_kind == "focal":
                    per_row = per_row * _losses._focal_factor(-per_row, gamma_rows)
            per_row = per_row.view(G, B)
            numerator = (per_row * row_weight).sum(1)
            if weighted:
                denominator = row_weight.sum(1)
            else:
                denominator = torch.as_tensor(np.maximum(batch_rows[t], 1), dtype=torch.float32,
                                              device=device)
            member_loss = numerator / denominator
            losses = member_loss.detach().cpu().double()
            finite = torch.isfinite(losses).numpy()
            diverged |= active & ~finite
            active &= finite
            all_active = bool(active.all())
            total = member_loss.sum() if all_active else torch.where(
                torch.as_tensor(active, device=device), member_loss, 0.0).sum()
            flat_grad.zero_()
            total.backward()  # accumulates in place into flat_grad's views
            steps += torch.as_tensor(active, dtype=torch.float64)
            _step(optimizer, flat, flat_grad, state, None if all_active else active, lr,
                  weight_decay, steps)
            # skorch's train_loss: the batch losses averaged with the batch sizes as weights
            epoch_loss += torch.where(torch.as_tensor(active), losses, 0.0) * torch.as_tensor(
                batch_rows[t], dtype=torch.float64)

        duration = time.perf_counter() - tic
        epoch_loss = (epoch_loss / torch.as_tensor(n_rows, dtype=torch.float64)).tolist()
        for g in range(G):
            row = {"epoch": epoch + 1, "batches": [], "train_loss": epoch_loss[g],
                   "dur": duration / G}
            if scheduled[g]:
                row["lr"] = float(lr[g])
            history[g].append(row)

    outcomes = []
    for g, (spec, estimator) in enumerate(zip(specs, estimators, strict=True)):
        if diverged[g]:
            outcomes.append((None, _losses_diverged(estimator)))
            continue
        module = nets[g].module_
        with torch.no_grad():
            for p, stacked in zip(module.parameters(), params, strict=True):
                p.copy_(stacked[g].detach())
        final_weight = None
        start = weight_start[g]
        if start is not None and max_epochs - 1 >= start:
            final_weight = balanced[g].detach()
        outcomes.append((_as_fitted(estimator, spec, nets[g], generators[g], final_weight,
                                    history[g]), None))
    return outcomes


def _losses_diverged(estimator):
    return TrainingDivergedError(
        "Training diverged: the loss became NaN or infinite. Lower the learning rate "
        f"(lr={estimator.lr}), lower the logit scale s, or check the input for extreme values "
        "(scale the features)."
    )


@torch.no_grad()
def _step(kind, flat, grad, state, active, lr, weight_decay, steps):
    """Torch's Adam / AdamW / SGD(momentum) update of the (G, P) weights, per member.

    ``lr``, ``weight_decay`` (arrays of shape (G,)) and the step counts ``steps`` are the
    members' own; with ``active`` (bool array, None: all) only those members move: the others
    keep their weights, moments and step counts.
    """
    device = flat.device

    def column(values):
        return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=flat.dtype,
                               device=device).unsqueeze(1)

    decay = bool(np.any(weight_decay))
    lr_ = column(lr)
    if active is not None:
        keep = torch.as_tensor(~active, device=device).unsqueeze(1)
        old = {"flat": flat.clone(), **{k: v.clone() for k, v in state.items()}}
    if kind == "sgd":
        if decay:
            grad = grad.add(flat * column(weight_decay))
        # the buffer starts at zero, so its first value is the gradient, as in torch
        buf = state["exp_avg"].mul_(_SGD_MOMENTUM).add_(grad)
        flat.sub_(lr_ * buf)
    else:
        beta1, beta2 = _ADAM_BETAS
        if decay and kind == "adamw":
            flat.mul_(1 - lr_ * column(weight_decay))
        elif decay:
            grad = grad.add(flat * column(weight_decay))
        step = np.maximum(steps.numpy(), 1)
        # bias corrections in float64 from each member's step count, as torch computes them
        step_size = column(lr / (1 - beta1**step))
        bias2_sqrt = column(np.sqrt(1 - beta2**step))
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(_ADAM_EPS)
        flat.sub_(step_size * exp_avg / denom)
    if active is not None:
        flat.copy_(torch.where(keep, old["flat"], flat))
        for key, value in state.items():
            value.copy_(torch.where(keep, old[key], value))


def _as_fitted(estimator, spec, net, generator, final_weight, history):
    """``estimator`` in the state ``ELMClassifier.fit`` leaves it, holding ``net``."""
    if final_weight is not None and estimator.loss != "cb":
        # as DeferredReweighting sets it on the last epoch
        net.criterion_.weight = final_weight
    for _, callback in net.callbacks_:
        if isinstance(callback, DeferredReweighting):
            callback.on_train_begin(net)
    net.shuffle_generator_ = generator  # where the member's batch order stopped
    net.history_ = History(history)
    n_features = int(next(net.module_.parameters()).shape[-1])
    estimator.n_features_in_ = n_features
    estimator.input_ndim_ = 2
    estimator.input_shape_ = (n_features,)
    estimator._image_shape_ = None
    estimator.device_ = resolve_device(estimator.device)
    estimator.net_ = net
    estimator.classes_ = spec.classes
    estimator.class_counts_ = spec.counts
    estimator.margins_ = class_margins(spec.counts, estimator.max_m)
    estimator.module_ = net.module_
    estimator.history_ = net.history_
    estimator.n_iter_ = len(history)
    return estimator
