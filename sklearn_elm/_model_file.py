"""What a model file holds, and how an estimator is written to and rebuilt from one.

The file encoding itself (a zip of JSON and safetensors) is :mod:`sklearn_elm._archive`; this
module maps an estimator onto it (constructor parameters, fitted attributes, weights) and
rebuilds the network through :func:`sklearn_elm._builder.initialized_net`, as ``fit`` does. The
estimator class is passed in, so this module does not import :mod:`sklearn_elm.classifier`.
The public entry points are :mod:`sklearn_elm.persistence` and ``ELMClassifier.save`` /
``ELMClassifier.load``.
"""

from __future__ import annotations

import numbers
import os
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._archive import (
    FORMAT_VERSION,
    MODEL_FORMAT,
    Encoder,
    decode,
    json_history,
    package_versions,
    read_archive,
    write_archive,
)
from ._builder import (
    MODULES,
    OPTIMIZERS,
    ROUTED_PREFIXES,
    build_net,
    class_margins,
    initialized_net,
    resolve_device,
)
from ._version import __version__
from .callbacks import DeferredReweighting, WarmupMultiStepLR


# --------------------------------------------------------------------------------------------
# estimator parameters as JSON
# --------------------------------------------------------------------------------------------
def _encode_params(estimator):
    def alias(value, table, name):
        if isinstance(value, str) or value is None:
            return value
        for key, cls in table.items():
            if value is cls:
                return key
        raise ValueError(
            f"Cannot save {type(estimator).__name__} with {name}={value!r}: only the built-in "
            f"{name}s {sorted(table)} can be stored safely (a custom class would have to be "
            f"imported, i.e. code run, at load time). Pickle the estimator instead (trusted "
            f"files only)"
        )

    encoder = Encoder()
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "module":
            value = alias(value, MODULES, "module")
        elif name == "optimizer":
            value = alias(value, OPTIMIZERS, "optimizer")
        elif name == "callbacks" and value:
            raise ValueError(
                f"Cannot save {type(estimator).__name__} with callbacks={value!r}: callbacks "
                "are arbitrary objects that cannot be stored without pickle. Remove them "
                "first, e.g. estimator.set_params(callbacks=None), then save"
            )
        elif name == "lr_schedule" and isinstance(value, WarmupMultiStepLR):
            value = {
                "WarmupMultiStepLR": {
                    "warmup_epochs": value.warmup_epochs,
                    "milestones": value.milestones,
                    "gamma": value.gamma,
                }
            }
        elif name == "device" and isinstance(value, torch.device):
            value = str(value)
        elif name == "checkpoint_dir" and value is not None:
            value = os.fspath(value)
        elif name == "random_state" and not (value is None or isinstance(value, numbers.Integral)):
            raise ValueError(
                f"Cannot save {type(estimator).__name__} with random_state={value!r}: a "
                "RandomState instance is not JSON-serialisable; set an int or None"
            )
        try:
            params[name] = encoder.encode(value, where=f"parameter {name}")
        except TypeError as exc:
            raise ValueError(
                f"Cannot save {type(estimator).__name__}: {exc}. Only parameters made of "
                "numbers, strings, booleans, None, lists, tuples, dicts and arrays can be "
                "stored safely; set a built-in value or pickle the estimator (trusted files "
                "only)"
            ) from exc
    if encoder.tensors:
        raise ValueError(
            f"Cannot save {type(estimator).__name__}: tensor-valued parameters "
            f"({sorted(params)}) are not supported; pass lists instead"
        )
    return params


#: parameters a file may not set: where a later ``fit`` writes (``checkpoint_dir``) and what
#: its callbacks do (``callbacks``, routed ``callbacks__*``) are the loading user's decision
_UNTRUSTED_PARAMS = ("checkpoint_dir", "callbacks")
_UNTRUSTED_PREFIX = "callbacks__"


def _decode_params(encoded, estimator_class):
    """``(params, dropped)``: the constructor parameters of a file, and the names of the
    untrusted ones it set, which are left out (the estimator's defaults apply)."""
    if not isinstance(encoded, dict):
        raise ValueError("the model file's parameters are not a JSON object")
    allowed = set(estimator_class._get_param_names())
    params, dropped = {}, []
    for name, value in encoded.items():
        # anything else would become an attribute (``net_``...) through ``**kwargs``
        if name not in allowed and not name.startswith(ROUTED_PREFIXES):
            raise ValueError(f"the model file has an unknown parameter {name!r}")
        if name in _UNTRUSTED_PARAMS or name.startswith(_UNTRUSTED_PREFIX):
            if value not in (None, []):
                dropped.append(f"{name}={decode(value, {})!r}")
            continue
        value = decode(value, {})
        if name == "lr_schedule" and isinstance(value, dict):
            value = WarmupMultiStepLR(**value["WarmupMultiStepLR"])
        params[name] = value
    return params, dropped


# --------------------------------------------------------------------------------------------
# save / load
# --------------------------------------------------------------------------------------------
_FITTED = (
    "classes_",
    "class_counts_",
    "margins_",
    "n_features_in_",
    "feature_names_in_",
    "input_shape_",
    "input_ndim_",
    "_image_shape_",
    "n_iter_",
    "device_",
)


def write_model(estimator, path):
    """Write the fitted ``estimator`` to ``path``; see :func:`.persistence.save_model`."""
    check_is_fitted(estimator)
    net = estimator.net_
    encoder = Encoder()
    fitted = {
        name: encoder.encode(getattr(estimator, name), where=name)
        for name in _FITTED
        if hasattr(estimator, name)
    }
    state = encoder.encode(
        {"module": net.module_.state_dict(), "criterion": net.criterion_.state_dict()},
        where="state",
    )
    try:
        history = json_history(net.history_, "Cannot save")
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    metadata = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "versions": package_versions(__version__),
        "params": _encode_params(estimator),
        "fitted": fitted,
        "history": history,
        "state": state,
    }
    write_archive(path, metadata, encoder.tensors)


def read_model(path, estimator_class, device=None):
    """Rebuild the estimator saved in ``path`` (see :func:`sklearn_elm.persistence.load_model`).

    ``estimator_class`` is the class the file must hold; ``device`` replaces the saved
    ``device`` parameter unless it is None.
    """

    metadata, tensors = read_archive(path, MODEL_FORMAT)
    if metadata.get("estimator") != estimator_class.__name__:
        raise ValueError(
            f"{os.fspath(path)!r} holds a {metadata.get('estimator')!r}, not an "
            f"{estimator_class.__name__}"
        )
    saved_version = metadata.get("versions", {}).get("sklearn_elm")
    current_version = __version__
    if saved_version != current_version:
        warnings.warn(
            f"{os.fspath(path)!r} was saved with sklearn-elm {saved_version}, this is "
            f"{current_version}: check its predictions",
            UserWarning,
            stacklevel=3,
        )
    try:
        params, dropped = _decode_params(metadata["params"], estimator_class)
        if dropped:
            warnings.warn(
                f"{os.fspath(path)!r} sets {', '.join(dropped)}; a model file may not decide "
                "where a later fit writes or what its callbacks do, so these were left out. "
                "Set them again with set_params if you want them",
                UserWarning,
                stacklevel=3,
            )
        if device is not None:
            params["device"] = device
        estimator = estimator_class(**params)
        estimator._validate_params()
        estimator._validate_extra_params()
        fitted = {name: decode(value, {}) for name, value in metadata["fitted"].items()}
        state = decode(metadata["state"], tensors)
        history = metadata["history"]
        _restore_fitted(estimator, fitted, state, history)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{os.fspath(path)!r} is a damaged model file: {exc!r}") from exc
    return estimator


def _restore_fitted(estimator, fitted, state, history):
    """Rebuild the fitted network of ``estimator`` as ``fit`` would, without training."""
    unknown = set(fitted) - set(_FITTED)
    if unknown:
        raise ValueError(f"the model file has unknown fitted attributes {sorted(unknown)}")
    missing = {"classes_", "class_counts_", "n_features_in_", "input_shape_", "input_ndim_"} - set(
        fitted
    )
    if missing:
        raise ValueError(f"the model file lacks the fitted attributes {sorted(missing)}")
    # set the fitted attributes ``fit`` sets (predict reads them)
    for name, value in fitted.items():
        if name != "device_":
            setattr(estimator, name, value)
    estimator._image_shape_ = fitted.get("_image_shape_")
    estimator.device_ = resolve_device(estimator.device)
    classes = np.asarray(estimator.classes_)
    counts = np.asarray(estimator.class_counts_)
    if classes.ndim != 1 or counts.shape != classes.shape:
        raise ValueError("the model file's classes_ and class_counts_ do not match")
    input_shape = tuple(estimator.input_shape_)
    if (
        not input_shape
        or estimator.n_features_in_ != input_shape[0]
        or estimator.input_ndim_ != len(input_shape) + 1
    ):
        raise ValueError(
            "the model file's n_features_in_, input_shape_ and input_ndim_ are inconsistent"
        )
    margins = fitted.get("margins_")
    if margins is not None and np.shape(margins) != classes.shape:
        raise ValueError("the model file's margins_ and classes_ do not match")
    names = fitted.get("feature_names_in_")
    if names is not None and np.shape(names) != (estimator.n_features_in_,):
        raise ValueError("the model file's feature_names_in_ and n_features_in_ do not match")
    # before any real tensor is built: a small file must not make the loader allocate a large
    # network only to find that its weights do not fit
    _check_stored_weights(estimator, input_shape, counts, state)
    device = torch.device(estimator.device_)
    cuda_devices = [device] if device.type == "cuda" else []
    # the random initial weights are overwritten: keep the caller's global RNG untouched
    with torch.random.fork_rng(devices=cuda_devices):
        net = initialized_net(estimator, input_shape=input_shape, class_counts=counts, seed=0,
                              device=estimator.device_)
    try:
        net.module_.load_state_dict(state["module"])
        # the criterion's buffers (margins, a switched-on DRW weight) are per class: small
        net.criterion_.load_state_dict(state["criterion"])
    except (RuntimeError, KeyError) as exc:
        raise ValueError(
            f"the stored weights do not fit the network the stored parameters describe: {exc}"
        ) from exc
    net.criterion_.to(device)  # a restored DRW weight arrives on the CPU
    net.history_ = History(history)
    for _, callback in net.callbacks_:
        if isinstance(callback, DeferredReweighting):
            callback.on_train_begin(net)  # sets start_epoch_, read by the history plot
    estimator.net_ = net
    estimator.module_ = net.module_
    estimator.history_ = net.history_
    if "margins_" not in fitted:
        estimator.margins_ = class_margins(counts, estimator.max_m)
    estimator.n_iter_ = int(fitted.get("n_iter_", len(history)))


def _compare_module_weights(stored, expected):
    """Raise, naming the first mismatching tensor, unless ``stored`` (name -> tensor) has
    exactly the names, shapes and dtypes of ``expected`` (name -> (shape, dtype))."""
    if not isinstance(stored, dict):
        raise ValueError("the model file's module weights are not a table of tensors")
    for name in sorted(stored.keys() | expected.keys()):
        tensor = stored.get(name)
        if name not in expected:
            problem = "is stored but is not part of the network the stored parameters describe"
        elif not isinstance(tensor, torch.Tensor):
            problem = "is missing" if name not in stored else "is not a tensor"
        elif (tuple(tensor.shape), tensor.dtype) != expected[name]:
            shape, dtype = expected[name]
            problem = (
                f"has shape {tuple(tensor.shape)} and dtype {tensor.dtype}, but the network "
                f"the stored parameters describe needs shape {shape} and dtype {dtype}"
            )
        else:
            continue
        raise ValueError(
            f"the stored weights do not fit the network the stored parameters describe: "
            f"tensor {name!r} {problem}"
        )


def _check_stored_weights(estimator, input_shape, class_counts, state):
    """Compare the stored module weights with the module the parameters describe, built on
    the ``meta`` device (shapes only, no memory), before the real network is built."""
    if not isinstance(state, dict) or not {"module", "criterion"} <= state.keys():
        raise ValueError("the model file's state lacks the module or criterion weights")
    net = build_net(estimator, input_shape=input_shape, class_counts=class_counts, seed=0,
                    device="meta")
    with torch.device("meta"):
        # what skorch's initialize_module builds, without setting it on the net
        module = net.initialized_instance(net.module, net.get_params_for("module"))
    expected = {
        name: (tuple(tensor.shape), tensor.dtype) for name, tensor in module.state_dict().items()
    }
    _compare_module_weights(state["module"], expected)
