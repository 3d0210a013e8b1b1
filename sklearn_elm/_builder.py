"""The one place where the network of :class:`~sklearn_elm.ELMClassifier` is built.

``fit``, ``warm_start``, :func:`~sklearn_elm.persistence.load_model` and checkpoint resume all
build their skorch net with :func:`build_net`, from the estimator's *current* parameters. This
module owns the registries (losses, modules, optimizers, routed parameter prefixes), the device
rule, the seed rule and the rules on class counts; it reads estimator parameters but imports
nothing from :mod:`sklearn_elm.classifier` or :mod:`sklearn_elm.persistence`.
"""

from __future__ import annotations

import copy
import difflib
import inspect

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from torch import nn

from . import losses as _losses
from ._training import ELMNet, fusable
from .callbacks import DeferredReweighting, TrainingCheckpoint, WarmupMultiStepLR, _resolve_epoch
from .modules import MLP, ResNet32, SmallCNN

__all__ = [
    "LOSSES",
    "MODULES",
    "OPTIMIZERS",
    "ROUTED_PREFIXES",
    "SELF_SCALING_LOSSES",
    "build_net",
    "build_optimizer",
    "class_margins",
    "closest_name",
    "continue_from",
    "count_absent_as_one",
    "effective_drw_start",
    "fit_seed",
    "initial_module",
    "initialized_net",
    "lr_schedule",
    "module_input_shape",
    "resolve_device",
    "set_fitted_state",
]

LOSSES = ("elm", "ldam", "ce", "focal", "cb", "la")
MODULES = {"mlp": MLP, "cnn": SmallCNN, "resnet32": ResNet32}
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
#: prefixes of skorch-style parameters passed through to the inner net (``module__dropout``)
ROUTED_PREFIXES = ("module__", "optimizer__", "callbacks__", "criterion__")
#: losses whose criterion applies the scale ``s`` itself (the margins live inside the scale)
SELF_SCALING_LOSSES = ("elm", "ldam")
# keyword arguments skorch itself understands after a prefix, whatever the class takes
_SKORCH_ROUTED = {"optimizer__": {"param_groups"}}


# --------------------------------------------------------------------------------------------
# rules shared by fit, load and the trainers built on top of them
# --------------------------------------------------------------------------------------------
def count_absent_as_one(class_counts):
    """Class counts in which a class absent from ``y`` counts as one sample.

    A class with no training sample still needs a finite margin and a finite class-balanced
    weight; it gets those of a class with one sample.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples of each class, zeros allowed.

    Returns
    -------
    counts : ndarray of shape (n_classes,)
        ``class_counts`` with every count below 1 raised to 1.

    Examples
    --------
    >>> from sklearn_elm._builder import count_absent_as_one
    >>> count_absent_as_one([40, 0, 3])
    array([40,  1,  3])
    """
    return np.maximum(np.asarray(class_counts), 1)


def class_margins(class_counts, max_m):
    """Per-class margins ``Δ_k`` of the ELM and LDAM losses, as a float64 array.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples of each class; absent classes count as one sample.
    max_m : float
        The largest margin, given to the rarest class.

    Returns
    -------
    margins : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn_elm._builder import class_margins
    >>> class_margins([10000, 0], max_m=0.5)
    array([0.05, 0.5 ])
    """
    return _losses.label_distribution_margins(count_absent_as_one(class_counts), max_m).numpy()


def fit_seed(random_state):
    """The integer seed ``fit`` derives from ``random_state``.

    It seeds torch before the network is built (weights), the batch order and the
    early-stopping split.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        The estimator's ``random_state``.

    Returns
    -------
    seed : int

    Examples
    --------
    >>> from sklearn_elm._builder import fit_seed
    >>> fit_seed(0) == fit_seed(0)
    True
    """
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def resolve_device(device):
    """The torch device string for the ``device`` parameter ("auto": CUDA when available).

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    device : str

    Examples
    --------
    >>> from sklearn_elm._builder import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def module_input_shape(input_shape, sample_shape):
    """Per-sample shape the module receives, or None for plain tables.

    Parameters
    ----------
    input_shape : tuple of int or None
        The estimator's ``input_shape`` parameter.
    sample_shape : tuple of int
        Shape of one sample of ``X``: ``(n_features,)``, ``(H, W)`` or ``(C, H, W)``.

    Returns
    -------
    shape : tuple of int or None

    Examples
    --------
    >>> from sklearn_elm._builder import module_input_shape
    >>> module_input_shape(None, (8, 8)), module_input_shape(None, (5,))
    ((1, 8, 8), None)
    """
    if input_shape is not None:
        return tuple(int(d) for d in input_shape)
    if len(sample_shape) == 2:  # (H, W): one channel
        return (1, *(int(d) for d in sample_shape))
    if len(sample_shape) == 3:
        return tuple(int(d) for d in sample_shape)
    return None


def effective_drw_start(estimator):
    """The deferred re-weighting start that ``drw_start`` means for the estimator's loss.

    Parameters
    ----------
    estimator : ELMClassifier
        Its ``loss`` and ``drw_start`` are read.

    Returns
    -------
    start : int, float or None
        An epoch or a fraction of ``max_epochs``; None when there is no DRW ("cb" is always
        class-balanced, "auto" means 0.8 for "elm" and "ldam" and None otherwise).
    """
    if estimator.loss == "cb":
        return None
    if isinstance(estimator.drw_start, str):  # "auto"
        return 0.8 if estimator.loss in SELF_SCALING_LOSSES else None
    return estimator.drw_start


def _routed(estimator, prefix):
    """The estimator's ``prefix*`` parameters without the prefix."""
    return {
        key[len(prefix):]: value for key, value in vars(estimator).items()
        if key.startswith(prefix) and not key.endswith("_")
    }


def _accepted_names(cls):
    """Keyword names ``cls`` accepts, or None when it takes ``**kwargs`` (anything goes)."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return {
        name for name, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }


def _accepts(cls, name):
    """Whether ``cls`` takes the keyword ``name`` (False when its signature is unknown)."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def closest_name(name, candidates):
    """The candidate closest to ``name`` (to name it in an error message).

    Parameters
    ----------
    name : str
        An unknown name.
    candidates : iterable of str
        The valid names.

    Returns
    -------
    closest : str or None
        None only when there are no candidates.
    """
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.0)
    return matches[0] if matches else None


def _check_routed(estimator, prefix, cls):
    """Refuse ``prefix*`` parameters that ``cls`` does not take, naming the closest one."""
    accepted = _accepted_names(cls)
    if accepted is None:
        return
    accepted |= _SKORCH_ROUTED.get(prefix, set())
    unknown = sorted(set(_routed(estimator, prefix)) - accepted)
    if unknown:
        suggestion = closest_name(unknown[0], accepted)
        hint = f"; did you mean {prefix + suggestion!r}?" if suggestion else ""
        raise TypeError(
            f"{type(estimator).__name__} got unexpected parameters "
            f"{[prefix + name for name in unknown]}: {cls.__name__} takes "
            f"{sorted(accepted)}{hint}"
        )


# --------------------------------------------------------------------------------------------
# the parts of the net
# --------------------------------------------------------------------------------------------
def _criterion(estimator, class_counts):
    """Criterion class and keyword arguments: the estimator's, then its ``criterion__*``."""
    counts = count_absent_as_one(class_counts)
    loss = estimator.loss
    if loss in SELF_SCALING_LOSSES:
        cls = _losses.ELMLoss
        kwargs = {"class_counts": counts, "max_m": estimator.max_m,
                  "lam": estimator.lam if loss == "elm" else 0.0, "s": estimator.s}
    elif loss in ("ce", "la"):
        cls = _losses.LogitAdjustedLoss
        kwargs = {"class_counts": counts, "tau": 0.0 if loss == "ce" else estimator.tau}
    elif loss == "focal":
        cls = _losses.FocalLoss
        kwargs = {"gamma": estimator.gamma}
    else:
        cls = _losses.CBLoss
        kwargs = {"class_counts": counts, "beta": estimator.beta}
    _check_routed(estimator, "criterion__", cls)
    # per-sample losses: ELMNet weights and averages them
    return cls, {**kwargs, **_routed(estimator, "criterion__"), "reduction": "none"}


def _module(estimator, sample_shape, n_classes):
    """Module (class or instance) and the keyword arguments the estimator derives for it."""
    image_shape = module_input_shape(estimator.input_shape, sample_shape)
    module = estimator.module
    if module is None:
        module = "mlp" if image_shape is None else "cnn"
    if isinstance(module, str):
        module = MODULES[module]
    module_class = type(module) if isinstance(module, nn.Module) else module
    _check_routed(estimator, "module__", module_class)
    if isinstance(module, nn.Module):
        return module, {}
    kwargs = {"n_classes": n_classes}
    if image_shape is None:
        if _accepts(module, "n_features"):
            kwargs["n_features"] = int(sample_shape[0])
    elif _accepts(module, "in_channels"):
        kwargs["in_channels"] = int(image_shape[0])
    if module is MLP:
        kwargs.update(hidden_layer_sizes=tuple(int(h) for h in estimator.hidden_layer_sizes),
                      dropout=float(estimator.dropout))
    if module in (MLP, SmallCNN, ResNet32):
        kwargs["head"] = estimator.head
    return module, kwargs


def _optimizer(estimator):
    optimizer = estimator.optimizer
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer]
    _check_routed(estimator, "optimizer__", optimizer)
    kwargs = {"weight_decay": estimator.weight_decay}
    if optimizer is torch.optim.SGD:
        kwargs["momentum"] = 0.9
    return optimizer, kwargs


def build_optimizer(estimator, parameters, modules=()):
    """The estimator's optimizer over ``parameters``, as its net builds it.

    The class and keyword arguments of the net's optimizer (SGD with momentum 0.9, the
    estimator's ``lr`` and ``weight_decay``), with ``fused=True`` where
    :meth:`ELMNet.initialize_optimizer <sklearn_elm._training.ELMNet.initialize_optimizer>`
    uses it. The batched engine builds one over the stacked weights of a group of members.
    Routed ``optimizer__*`` parameters are not applied (the engine fits such members alone).

    Parameters
    ----------
    estimator : ELMClassifier
        Its ``optimizer``, ``lr`` and ``weight_decay`` are read.
    parameters : list of torch.Tensor
        The tensors to optimise.
    modules : sequence of torch.nn.Module, default=()
        The modules holding them (sparse embeddings rule out the fused kernel).

    Returns
    -------
    optimizer : torch.optim.Optimizer
    """
    optimizer, kwargs = _optimizer(estimator)
    if fusable(optimizer, kwargs, parameters, modules):
        kwargs["fused"] = True
    return optimizer(parameters, lr=estimator.lr, **kwargs)


#: the papers' schedule: warm-up over 2.5% of the epochs, decays by 0.01 at 80% and 90%
_PAPER_SCHEDULE = {"warmup_epochs": 0.025, "milestones": (0.8, 0.9), "gamma": 0.01}


#: ``lr_schedule="auto"`` on images: the factor the learning rate is multiplied by when
#: deferred re-weighting starts (chosen by the image defaults study of the documentation)
DRW_LR_DROP = 0.01


def lr_schedule(estimator, image_shape=None):
    """The learning-rate schedule the estimator's ``lr_schedule`` means: None or a callback.

    The one place where ``"auto"`` and ``"paper"`` become a
    :class:`~sklearn_elm.callbacks.WarmupMultiStepLR`; a schedule instance is copied (each net
    gets its own). ``"auto"`` on images multiplies the learning rate by :data:`DRW_LR_DROP` at
    the epoch deferred re-weighting starts, as the papers do; on tables, without DRW, or when
    the class weights apply from the first epoch (nothing switches), the rate stays constant.
    Both choices come from cross-validation on training parts: on images, DRW at a constant
    rate throws short trainings out of their minimum; on tables, the drop weakens DRW (LDAM
    loses most) and gains nothing.

    Parameters
    ----------
    estimator : ELMClassifier
        Its ``lr_schedule`` (and, for ``"auto"``, ``loss``, ``drw_start`` and ``max_epochs``)
        are read.
    image_shape : tuple of int or None, default=None
        The per-sample shape of images the module receives (see :func:`module_input_shape`);
        None for tables.

    Returns
    -------
    schedule : WarmupMultiStepLR or None

    Examples
    --------
    >>> from sklearn_elm import ELMClassifier
    >>> from sklearn_elm._builder import lr_schedule
    >>> schedule = lr_schedule(ELMClassifier(max_epochs=10), (1, 8, 8))  # DRW from epoch 8
    >>> [schedule.factor(epoch, 10) for epoch in range(10)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.01, 0.01]
    >>> lr_schedule(ELMClassifier(max_epochs=10)) is None  # a table: constant
    True
    """
    schedule = estimator.lr_schedule
    if schedule is None:
        return None
    if isinstance(schedule, str) and schedule == "auto":
        start = effective_drw_start(estimator)
        if image_shape is None or start is None or _resolve_epoch(
                start, estimator.max_epochs, "drw_start") == 0:
            return None
        return WarmupMultiStepLR(warmup_epochs=0, milestones=(start,), gamma=DRW_LR_DROP)
    if isinstance(schedule, str):  # "paper"
        return WarmupMultiStepLR(**_PAPER_SCHEDULE)
    return copy.deepcopy(schedule)


def _callbacks(estimator, class_counts, image_shape):
    callbacks = []
    drw_start = effective_drw_start(estimator)
    if drw_start is not None:
        callbacks.append(("deferred_reweighting", DeferredReweighting(
            start=drw_start, beta=estimator.beta,
            class_counts=count_absent_as_one(class_counts))))
    schedule = lr_schedule(estimator, image_shape)
    if schedule is not None:
        callbacks.append(("lr_schedule", schedule))
    if estimator.early_stopping:
        callbacks.append(("early_stopping", EarlyStopping(
            monitor="valid_loss", patience=estimator.n_iter_no_change, load_best=True)))
    callbacks.extend(copy.deepcopy(cb) for cb in estimator.callbacks or [])
    if estimator.checkpoint_dir is not None:
        # last: it restores the learning rate the schedules set at on_train_begin
        callbacks.append(("checkpoint", TrainingCheckpoint(estimator.checkpoint_dir)))
    return callbacks


def build_net(estimator, *, input_shape, class_counts, seed, device, train_split=None):
    """The skorch net, not yet initialised, for the estimator's current parameters.

    Parameters
    ----------
    estimator : ELMClassifier
        Its parameters (and routed ``module__*``, ``optimizer__*``, ``callbacks__*`` and
        ``criterion__*`` parameters) describe the net; they are read, never changed.
    input_shape : tuple of int
        Shape of one sample of ``X``, e.g. ``(n_features,)`` for tables.
    class_counts : array-like of shape (n_classes,)
        Training samples of each class (zeros allowed).
    seed : int
        Seed of the batch order (see :func:`fit_seed`).
    device : str
        Torch device (see :func:`resolve_device`).
    train_split : callable or None, default=None
        skorch's ``train_split`` (the early-stopping validation set).

    Returns
    -------
    net : ELMNet

    Raises
    ------
    TypeError
        If a routed parameter is not taken by the class it is routed to; the message names
        the closest valid one.
    """
    class_counts = np.asarray(class_counts)
    module, module_kwargs = _module(estimator, tuple(input_shape), class_counts.size)
    optimizer, optimizer_kwargs = _optimizer(estimator)
    criterion, criterion_kwargs = _criterion(estimator, class_counts)
    image_shape = module_input_shape(estimator.input_shape, tuple(input_shape))
    augment = bool(estimator.augment) and image_shape is not None
    routed = {
        **{f"module__{k}": v for k, v in module_kwargs.items()},
        **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
        **{k: v for k, v in vars(estimator).items()
           if k.startswith(("module__", "optimizer__", "callbacks__")) and not k.endswith("_")},
        **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
    }
    if not estimator.verbose and not any(
            k == "callbacks__print_log" or k.startswith("callbacks__print_log__") for k in routed):
        # skorch's PrintLog formats its table every epoch even when it prints nothing; a
        # routed print_log setting (e.g. a sink, which it calls at any verbosity) keeps it
        routed["callbacks__print_log"] = None
    return ELMNet(
        module=module,
        criterion=criterion,
        optimizer=optimizer,
        lr=estimator.lr,
        max_epochs=estimator.max_epochs,
        batch_size=estimator.batch_size,
        train_split=train_split,
        callbacks=_callbacks(estimator, class_counts, image_shape),
        device=device,
        compile=estimator.compile,
        verbose=estimator.verbose,
        # the scale the criterion trains with is the scale predict applies
        s=criterion_kwargs.get("s", estimator.s),
        augment_padding=max(1, image_shape[1] // 8) if augment else 0,
        augment_flip=augment,
        precision=estimator.precision,
        shuffle_seed=seed,
        **routed,
    )


def initialized_net(estimator, *, input_shape, class_counts, seed, device, train_split=None):
    """Seed torch with ``seed``, then build and initialise the net (its weights are drawn).

    This order (seed, then build) is the one ``fit`` uses: the same ``seed`` gives the same
    initial weights. The caller decides whether to keep the global torch RNG state (``fit``
    and :func:`initial_module` run this inside ``torch.random.fork_rng``).

    Parameters
    ----------
    estimator : ELMClassifier
        Its parameters describe the net.
    input_shape : tuple of int
        Shape of one sample of ``X``.
    class_counts : array-like of shape (n_classes,)
        Training samples of each class (zeros allowed).
    seed : int
        Seeds torch before the weights are drawn, and the batch order.
    device : str
        Torch device.
    train_split : callable or None, default=None
        skorch's ``train_split``.

    Returns
    -------
    net : ELMNet
        The initialised net.
    """
    torch.manual_seed(seed)
    net = build_net(estimator, input_shape=input_shape, class_counts=class_counts, seed=seed,
                    device=device, train_split=train_split)
    return net.initialize()


def set_fitted_state(estimator, net, classes, class_counts, device):
    """Set the fitted attributes a trained ``net`` gives the estimator.

    What ``fit`` sets after training (the data attributes, ``n_features_in_`` and the input
    shapes, are set by its data checks before): ``net_``, ``module_``, ``history_``,
    ``n_iter_``, ``classes_``, ``class_counts_``, ``margins_`` and ``device_``.

    Parameters
    ----------
    estimator : ELMClassifier
        The estimator to mark fitted.
    net : ELMNet
        The trained net.
    classes : ndarray of shape (n_classes,)
        The class labels.
    class_counts : ndarray of shape (n_classes,)
        Training samples of each class.
    device : str
        The torch device used.

    Returns
    -------
    estimator : ELMClassifier
    """
    estimator.net_ = net
    estimator.classes_ = classes
    estimator.class_counts_ = class_counts
    estimator.margins_ = class_margins(class_counts, estimator.max_m)
    estimator.module_ = net.module_
    estimator.history_ = net.history_
    estimator.n_iter_ = len(net.history_)
    estimator.device_ = device
    return estimator


def _rng_devices(device):
    return [torch.device(device)] if str(device).startswith("cuda") else []


def initial_module(estimator, input_shape, n_classes, seed):
    """The freshly initialised module ``fit`` would train for these parameters.

    Built by the same code as in ``ELMClassifier.fit`` (torch seeded with ``seed``, then the
    net built), so it holds exactly the initial weights of a ``fit`` whose
    ``fit_seed(random_state)`` is ``seed``. The global torch RNG state is left unchanged.

    Parameters
    ----------
    estimator : ELMClassifier
        Its parameters describe the module.
    input_shape : tuple of int
        Shape of one sample: ``(n_features,)`` for tables, ``(C, H, W)`` or ``(H, W)`` for
        images.
    n_classes : int
        Number of classes.
    seed : int
        The seed, as given by :func:`fit_seed`.

    Returns
    -------
    module : torch.nn.Module
        On the estimator's device.

    Examples
    --------
    >>> from sklearn_elm import ELMClassifier
    >>> from sklearn_elm._builder import fit_seed, initial_module
    >>> clf = ELMClassifier(hidden_layer_sizes=(8,), device="cpu")
    >>> module = initial_module(clf, (5,), n_classes=3, seed=fit_seed(0))
    >>> module(torch.zeros(2, 5)).shape
    torch.Size([2, 3])
    """
    device = resolve_device(estimator.device)
    with torch.random.fork_rng(devices=_rng_devices(device)):
        net = initialized_net(estimator, input_shape=input_shape,
                              class_counts=np.ones(int(n_classes), dtype=np.int64), seed=seed,
                              device=device)
    return net.module_


def _plain(module):
    # torch.compile wraps the module: compare and copy the weights of the module it wraps
    return getattr(module, "_orig_mod", module)


def continue_from(net, fitted_net):
    """Start ``net`` (freshly initialised) from the training state of ``fitted_net``.

    Copies the module weights, the optimizer state where the optimizer class and the
    parameter shapes agree (the learning rate and other hyper-parameters stay those of
    ``net``, i.e. the current parameters), the history, the batch-order generator and the
    gradient scaler. ``fitted_net`` is not modified.

    Parameters
    ----------
    net : ELMNet
        A net just built by :func:`initialized_net` from the current parameters.
    fitted_net : ELMNet
        The fitted net to continue from.

    Returns
    -------
    net : ELMNet
        ``net``, holding the fitted training state.

    Raises
    ------
    ValueError
        If the weights of ``fitted_net`` do not fit ``net`` (another architecture); nothing
        has been copied then.
    """
    old_state = _plain(fitted_net.module_).state_dict()
    new_state = _plain(net.module_).state_dict()
    mismatched = sorted(
        key for key in old_state.keys() | new_state.keys()
        if key not in old_state or key not in new_state
        or old_state[key].shape != new_state[key].shape
    )
    if mismatched:
        raise ValueError(
            "warm_start cannot continue training: the fitted network's weights do not fit "
            f"the network the current parameters describe (they differ in {mismatched[:3]}); "
            "restore the architecture parameters or set warm_start=False"
        )
    _plain(net.module_).load_state_dict(old_state)
    old_optimizer, new_optimizer = fitted_net.optimizer_, net.optimizer_
    old_groups = old_optimizer.state_dict()["param_groups"]
    new_groups = new_optimizer.state_dict()["param_groups"]
    if type(old_optimizer) is type(new_optimizer) and [len(g["params"]) for g in old_groups] \
            == [len(g["params"]) for g in new_groups]:
        # the moments carry over; lr, weight decay... are the current parameters'
        new_optimizer.load_state_dict({
            "state": copy.deepcopy(old_optimizer.state_dict()["state"]),
            "param_groups": new_groups,
        })
    net.history_ = copy.deepcopy(fitted_net.history_)
    if hasattr(fitted_net, "shuffle_generator_"):
        generator = torch.Generator()
        generator.set_state(fitted_net.shuffle_generator_.get_state())
        net.shuffle_generator_ = generator
    old_scaler = getattr(fitted_net, "grad_scaler_", None)
    if old_scaler is not None and getattr(net, "grad_scaler_", None) is not None:
        net.grad_scaler_.load_state_dict(old_scaler.state_dict())
    return net
