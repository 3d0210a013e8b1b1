"""CUDA-graph-captured training steps for :class:`~sklearn_elm._training.ELMNet`.

A small network on a fast GPU spends most of a training step launching kernels from Python.
A CUDA graph records the step once (forward, loss, backward, optimizer update) and replays it
with one launch. PyTorch's whole-network recipe (``torch.cuda.graphs``) is followed: a few
eager warm-up steps on a side stream, gradients set to ``None`` before the capture (so the
captured backward writes fresh gradients on every replay), static input buffers refilled with
``copy_`` before each replay. Random draws (dropout, augmentation) come from the default CUDA
generator, which graphs advance on every replay.

Everything the step reads as a Python number is frozen into the graph: the learning rate, the
criterion's class weights (which deferred re-weighting swaps at an epoch start), Python code in
the module. The graph is therefore captured again at the start of every epoch, when callbacks
have made their changes, and :func:`capture_reason` refuses configurations that change the step
inside an epoch (callbacks that run on every batch) or that need the host during a step (the
fp16 gradient scaler).
"""

from __future__ import annotations

import warnings

import torch
from skorch.callbacks import Callback

__all__ = ["GraphedSteps", "capture_reason", "plan_graphs"]

#: eager steps before the first capture (cuBLAS workspaces, optimizer state, autograd)
WARMUP_STEPS = 3
# optimizers whose update is known to capture: Adam and AdamW with capturable=True (their
# step count lives on the device), SGD (no step count)
_CAPTURABLE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
# ELMNet's methods that make a training step: a subclass or mixin replacing one of them
# (e.g. skorch.hf.AccelerateMixin) runs its own step, which is not captured
_STEP_METHODS = ("train_step", "train_step_single", "infer", "get_loss", "weighted_loss")
_PER_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


def per_batch_callbacks(net):
    """Names of the net's callbacks that run Python on every batch (or every gradient)."""
    return [
        name for name, callback in net.callbacks_
        if any(getattr(type(callback), hook) is not getattr(Callback, hook)
               for hook in _PER_BATCH_HOOKS)
    ]


def capture_reason(net, device, base):
    """Why the training steps of ``net`` on ``device`` cannot be captured (None if they can).

    Parameters
    ----------
    net : ELMNet
        An initialised net.
    device : torch.device
        The device the batches are on.
    base : type
        ``ELMNet``, whose step methods are the ones known to capture.

    Returns
    -------
    reason : str or None
    """
    if device.type != "cuda" or not torch.cuda.is_available():
        return f"CUDA graphs need a CUDA device; the net trains on {device.type!r}"
    if net.precision == "fp16":
        return ("precision='fp16' uses a gradient scaler, whose inf check reads the device "
                "on every step")
    if net.compile:
        return "compile=True: torch.compile captures graphs itself (mode='reduce-overhead')"
    replaced = [name for name in _STEP_METHODS
                if getattr(type(net), name) is not getattr(base, name)]
    if replaced:
        return f"{type(net).__name__} replaces the training step ({', '.join(replaced)})"
    optimizers = net._get_optimizers()
    unknown = [type(o).__name__ for o in optimizers if type(o) not in _CAPTURABLE_OPTIMIZERS]
    if unknown:
        return f"optimizer {unknown[0]} is not known to be capturable (Adam, AdamW and SGD are)"
    live = per_batch_callbacks(net)
    if live:
        return f"callbacks {live} run Python on every batch"
    return None


def plan_graphs(net, setting, device, base):
    """The :class:`GraphedSteps` for a fit, or None (eager steps), warning once when needed.

    ``setting`` is the ``cuda_graphs`` parameter: ``False`` never captures; ``True`` and
    ``"auto"`` capture when :func:`capture_reason` allows, and otherwise warn why, except
    ``"auto"`` off CUDA, where eager steps are simply the rule.
    """
    if setting is False:
        return None
    device = torch.device(device)
    reason = capture_reason(net, device, base)
    if reason is None:
        return GraphedSteps(net)
    if setting is True or device.type == "cuda":
        fallback_warning(reason)
    return None


def fallback_warning(reason):
    warnings.warn(
        f"cuda_graphs: training steps run eagerly because {reason}. Set cuda_graphs=False to "
        "run eagerly without this warning.",
        UserWarning,
        stacklevel=4,
    )


def _clone(batch):
    if isinstance(batch, torch.Tensor):
        return batch.clone()
    if isinstance(batch, dict):
        return {key: _clone(value) for key, value in batch.items()}
    return type(batch)(_clone(value) for value in batch)


def _fill(static, batch):
    if isinstance(static, torch.Tensor):
        static.copy_(batch, non_blocking=True)
    elif isinstance(static, dict):
        for key, value in static.items():
            _fill(value, batch[key])
    else:
        for target, value in zip(static, batch, strict=True):
            _fill(target, value)


def _shapes(batch):
    if isinstance(batch, torch.Tensor):
        return (tuple(batch.shape), batch.dtype)
    if isinstance(batch, dict):
        return tuple((key, _shapes(value)) for key, value in sorted(batch.items()))
    return tuple(_shapes(value) for value in batch)


class GraphedSteps:
    """Training steps of one fit: eager warm-up, then one captured graph per epoch.

    :meth:`step` takes the place of ``net.train_step``. Batches of another shape than the
    captured one (the last, partial batch of an epoch) run eagerly. :meth:`close` ends the
    fit: it drops the graph and gives the optimizers their own ``capturable`` setting back
    (so that a fitted or saved net does not ask for it off CUDA).
    """

    def __init__(self, net):
        self.net = net
        self.eager_steps = 0
        self.pool = None
        self.graph = None
        self.capturable = [_make_capturable(optimizer) for optimizer in net._get_optimizers()]

    def close(self):
        self.graph = self.static_batch = self.static_step = None
        for optimizer, flags in zip(self.net._get_optimizers(), self.capturable, strict=True):
            for group, flag in zip(optimizer.param_groups, flags or (), strict=False):
                group["capturable"] = flag

    def new_epoch(self):
        # lr, class weights... may have changed at the epoch start: capture them afresh
        self.graph = None

    def step(self, batch, **fit_params):
        net = self.net
        shapes = _shapes(batch)
        if self.graph is not None and shapes == self.shapes:
            _fill(self.static_batch, batch)
            self.graph.replay()
            # the static loss is overwritten by the next replay: keep this step's value
            return {"loss": self.static_step["loss"].detach().clone(),
                    "y_pred": self.static_step["y_pred"]}
        if self.eager_steps < WARMUP_STEPS:
            self.eager_steps += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                step = net.train_step(batch, **fit_params)
            torch.cuda.current_stream().wait_stream(side)
            return step
        if self.graph is None and not fit_params:
            try:
                self._capture(batch)
            except Exception as exc:  # noqa: BLE001 - any capture failure means eager steps
                self._give_up(f"capturing the step failed ({type(exc).__name__}: {exc})")
            else:
                return self.step(batch)
        return net.train_step(batch, **fit_params)

    def _capture(self, batch):
        net = self.net
        self.graph = None  # frees the previous graph's memory for the pool
        self.static_batch = _clone(batch)
        self.shapes = _shapes(batch)
        optimizers = net._get_optimizers()
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            step = net.train_step_single(self.static_batch)
            for optimizer in optimizers:
                optimizer.step()
        self.graph, self.static_step = graph, step

    def _give_up(self, reason):
        fallback_warning(reason)
        self.graph = None
        for optimizer in self.net._get_optimizers():
            optimizer.zero_grad(set_to_none=True)
        self.close()
        self.net._step_graphs_ = None


def _make_capturable(optimizer):
    """Switch Adam/AdamW to ``capturable=True`` (their step counts then live on the device).

    Returns the groups' previous settings (None for other optimizers).
    """
    if not isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        return None
    before = [group["capturable"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["capturable"] = True
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            if "step" in state:  # a warm start's loaded state
                state["step"] = state["step"].to(param.device, torch.float32)
    return before
