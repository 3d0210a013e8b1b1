"""Safe model files and resumable training, without pickle.

Two file kinds, both a zip archive of exactly two *stored* (uncompressed) members:

``metadata.json``
    Plain JSON: the estimator's constructor parameters, its fitted attributes, the training
    history, package versions, and the structure of the saved state with references to tensors.
``tensors.safetensors``
    Every tensor (module weights, criterion buffers, optimizer moments, random-number generator
    states) in the `safetensors <https://huggingface.co/docs/safetensors>`_ format: a JSON header
    and raw bytes.

Reading one therefore runs only a JSON parser and safetensors' parser: nothing is unpickled and
no code from the file is executed. A file that is anything else (a ``pickle``, ``joblib`` or
``torch.save`` file, a zip with other members, a corrupt archive) is refused with a
``ValueError`` before any of its content is interpreted.

* :func:`save_model` / :func:`load_model` (also ``ELMClassifier.save`` / ``ELMClassifier.load``)
  store a fitted :class:`~sklearn_elm.ELMClassifier` for prediction or further training.
* :class:`TrainingCheckpoint` is a skorch callback that writes such an archive after every
  epoch and restores it when training starts again, so that an interrupted ``fit`` resumes and
  loses at most one epoch (``ELMClassifier(checkpoint_dir=...)`` adds it).

Plain ``pickle``/``joblib`` of an estimator also works (scikit-learn's convention), but, as
scikit-learn's documentation warns, loading such a file can execute arbitrary code: load
pickles only from sources you trust, and use these files to exchange models.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import tempfile
import warnings
import zipfile

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

__all__ = ["TrainingCheckpoint", "checkpoint_epochs", "load_model", "save_model"]

MODEL_FORMAT = "sklearn-elm-model"
CHECKPOINT_FORMAT = "sklearn-elm-checkpoint"
FORMAT_VERSION = 1
_METADATA = "metadata.json"
_TENSORS = "tensors.safetensors"
_CHECKPOINT_FILE = "checkpoint.zip"
# dtypes a stored numpy array may have: booleans, numbers, unicode strings and objects (whose
# elements are JSON scalars); never "V" (void) or datetime kinds
_ARRAY_KINDS = frozenset("biufUO")
_SAFE_FILES_HINT = (
    "pickle, joblib and torch.save files are refused because loading them can execute "
    "arbitrary code; save models with sklearn_elm.persistence.save_model (ELMClassifier.save)"
)


def _safetensors():
    """The ``safetensors.torch`` module, imported when a file is written or read."""
    try:
        import safetensors.torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sklearn_elm.persistence needs the 'safetensors' package to store tensors without "
            "pickle: pip install safetensors (or pip install 'sklearn-elm[dev]')"
        ) from exc
    return safetensors.torch


# --------------------------------------------------------------------------------------------
# a JSON encoding of nested data whose tensors go to a separate table
# --------------------------------------------------------------------------------------------
class _Encoder:
    """Turn nested data into JSON-safe values, moving every tensor into ``self.tensors``.

    Tagged objects (a single key starting with ``__``) keep what JSON alone would lose:
    ``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}`` for dicts whose keys are not
    all plain strings (optimizer states use integer keys), ``{"__tensor__": name}`` and
    ``{"__ndarray__": values, "dtype": ..., "shape": ...}``.
    """

    def __init__(self):
        self.tensors = {}

    def encode(self, value, where="value"):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, np.generic):
            return self.encode(value.item(), where)
        if isinstance(value, torch.Tensor):
            name = f"t{len(self.tensors)}"
            # safetensors refuses tensors that share memory: store private contiguous copies
            self.tensors[name] = value.detach().to("cpu").contiguous().clone()
            return {"__tensor__": name}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(f"{where}: arrays of dtype {value.dtype} cannot be stored")
            items = value.ravel().tolist()
            if value.dtype.kind == "O":
                items = [self._scalar(item, where) for item in items]
            return {"__ndarray__": items, "dtype": value.dtype.str, "shape": list(value.shape)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, where) for v in value]}
        if isinstance(value, list):
            return [self.encode(v, where) for v in value]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
            return {
                "__dict__": [
                    [self._scalar(k, where), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        raise TypeError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which cannot "
            "be stored as JSON"
        )

    def _scalar(self, value, where):
        encoded = self.encode(value, where)
        if isinstance(encoded, (dict, list)):
            raise TypeError(f"{where}: {value!r} is not a JSON scalar")
        return encoded


def _decode(value, tensors):
    """Inverse of :class:`_Encoder`; builds only containers, numpy arrays and tensors."""
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        name = value["__tensor__"]
        if name not in tensors:
            raise ValueError(f"the file refers to a tensor {name!r} it does not contain")
        return tensors[name]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {key: _decode(v, tensors) for key, v in value["__dict__"]}
    if "__ndarray__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"arrays of dtype {dtype} are not allowed in the file")
        items = value["__ndarray__"]
        if dtype.kind == "O":
            array = np.empty(len(items), dtype=object)
            array[:] = items
        else:
            array = np.array(items, dtype=dtype)
        return array.reshape(value["shape"])
    return {key: _decode(v, tensors) for key, v in value.items()}


# --------------------------------------------------------------------------------------------
# the archive: metadata.json + tensors.safetensors, written atomically
# --------------------------------------------------------------------------------------------
def _versions():
    import sklearn
    import skorch

    from . import __version__

    return {
        "sklearn_elm": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
    }


def _write_archive(path, metadata, tensors):
    """Write the archive to a temporary file beside ``path``, then rename it over ``path``.

    ``os.replace`` is atomic: a reader (or a process killed mid-write) sees the old complete
    file or the new complete file, never a half-written one.
    """
    tensor_bytes = _safetensors().save(tensors)
    metadata_bytes = json.dumps(metadata).encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".sklearn-elm-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # stored, not deflated: readers can refuse compressed members (no zip bombs)
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr(_METADATA, metadata_bytes)
                archive.writestr(_TENSORS, tensor_bytes)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not land before the data on disk
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _read_archive(path, expected_format):
    """Return ``(metadata, tensors)`` of an archive, refusing anything else before parsing it."""
    kind = "model" if expected_format == MODEL_FORMAT else "checkpoint"
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no sklearn-elm {kind} file at {path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a sklearn-elm {kind} file (not a zip archive). {_SAFE_FILES_HINT}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if set(members) != {_METADATA, _TENSORS}:
                raise ValueError(
                    f"{path!r} is not a sklearn-elm {kind} file: it holds "
                    f"{sorted(members)[:5]} instead of {[_METADATA, _TENSORS]}. "
                    f"{_SAFE_FILES_HINT}"
                )
            if any(info.compress_type != zipfile.ZIP_STORED for info in members.values()):
                raise ValueError(f"{path!r}: compressed members are not allowed in a {kind} file")
            metadata_bytes = archive.read(_METADATA)
            tensor_bytes = archive.read(_TENSORS)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path!r} is a corrupt zip archive: {exc}") from exc
    try:
        metadata = json.loads(metadata_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path!r}: {_METADATA} is not valid JSON ({exc}). {_SAFE_FILES_HINT}"
        ) from exc
    if not isinstance(metadata, dict) or metadata.get("format") != expected_format:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise ValueError(f"{path!r} is not a sklearn-elm {kind} file (format {found!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has format version {version!r}; this sklearn-elm reads versions up to "
            f"{FORMAT_VERSION}: upgrade sklearn-elm"
        )
    try:
        tensors = _safetensors().load(tensor_bytes)
    except Exception as exc:  # SafetensorError derives from Exception only
        raise ValueError(
            f"{path!r}: {_TENSORS} is not a valid safetensors file ({exc}). {_SAFE_FILES_HINT}"
        ) from exc
    return metadata, tensors


# --------------------------------------------------------------------------------------------
# estimator parameters as JSON
# --------------------------------------------------------------------------------------------
def _encode_params(estimator):
    from .callbacks import WarmupMultiStepLR
    from .classifier import _MODULES, _OPTIMIZERS

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

    encoder = _Encoder()
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "module":
            value = alias(value, _MODULES, "module")
        elif name == "optimizer":
            value = alias(value, _OPTIMIZERS, "optimizer")
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


def _decode_params(encoded, estimator_class):
    from .callbacks import WarmupMultiStepLR
    from .classifier import _ROUTED_PREFIXES

    if not isinstance(encoded, dict):
        raise ValueError("the model file's parameters are not a JSON object")
    allowed = set(estimator_class._get_param_names())
    params = {}
    for name, value in encoded.items():
        # anything else would become an attribute (``net_``...) through ``**kwargs``
        if name not in allowed and not name.startswith(_ROUTED_PREFIXES):
            raise ValueError(f"the model file has an unknown parameter {name!r}")
        value = _decode(value, {})
        if name == "lr_schedule" and isinstance(value, dict):
            value = WarmupMultiStepLR(**value["WarmupMultiStepLR"])
        params[name] = value
    return params


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


def save_model(estimator, path):
    """Save a fitted :class:`~sklearn_elm.ELMClassifier` to one file, without pickle.

    The file is a zip archive of ``metadata.json`` (constructor parameters, fitted attributes
    such as ``classes_`` with their dtype, ``class_counts_``, ``margins_``, ``n_features_in_``,
    ``feature_names_in_``, input shapes, ``n_iter_``, the training history, and package
    versions) and ``tensors.safetensors`` (the module weights and the criterion's buffers).
    The optimizer state is not stored: ``warm_start`` training after :func:`load_model`
    starts with fresh optimizer moments. The file is written atomically (temporary file, then
    rename).

    Parameters
    ----------
    estimator : ELMClassifier
        A fitted estimator whose parameters are JSON-serialisable: the built-in modules and
        optimizers (given as strings or as the classes they name), no callbacks, an int or
        ``None`` as ``random_state``.
    path : str or path-like
        File to write (any extension; ``.zip`` or ``.elm`` are good choices).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If a parameter cannot be stored as JSON (a custom module class or instance, a custom
        optimizer, callbacks, a ``RandomState`` instance); the message says which.

    See Also
    --------
    load_model : Load the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_elm import ELMClassifier
    >>> from sklearn_elm.persistence import load_model, save_model
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = ELMClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.zip")
    ...     save_model(clf, path)
    ...     loaded = load_model(path)
    >>> np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    True
    """
    from sklearn.utils.validation import check_is_fitted

    from .classifier import ELMClassifier

    if not isinstance(estimator, ELMClassifier):
        raise TypeError(f"save_model saves an ELMClassifier, got {type(estimator).__name__}")
    check_is_fitted(estimator)
    net = estimator.net_
    encoder = _Encoder()
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
        history = json.loads(json.dumps(net.history_.to_list()))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Cannot save: the training history holds values that are not JSON-serialisable ({exc})"
        ) from exc
    metadata = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "versions": _versions(),
        "params": _encode_params(estimator),
        "fitted": fitted,
        "history": history,
        "state": state,
    }
    _write_archive(os.fspath(path), metadata, encoder.tensors)


def load_model(path, *, device=None):
    """Load an estimator saved by :func:`save_model`, never unpickling anything.

    The constructor parameters are validated, the network is rebuilt from them without
    training, and the stored weights and fitted attributes are set: the loaded estimator
    predicts exactly as the saved one did.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model` (or ``ELMClassifier.save``).
    device : str, default=None
        Torch device to load the network onto, e.g. ``"cpu"`` for a model trained on a GPU;
        it replaces the ``device`` parameter. ``None`` keeps the saved parameter (``"auto"``
        picks CUDA when available).

    Returns
    -------
    estimator : ELMClassifier
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not a sklearn-elm model file (a pickle, joblib or ``torch.save`` file,
        or any other content), is corrupt, or was written by a newer format version. Nothing
        in a refused file is executed.

    See Also
    --------
    save_model : Write such a file.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> from sklearn_elm.persistence import load_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.pkl")
    ...     with open(path, "wb") as f:
    ...         pickle.dump({"not": "a model"}, f)
    ...     load_model(path)
    Traceback (most recent call last):
    ...
    ValueError: '...model.pkl' is not a sklearn-elm model file (not a zip archive). ...
    """
    from .classifier import ELMClassifier

    metadata, tensors = _read_archive(path, MODEL_FORMAT)
    if metadata.get("estimator") != ELMClassifier.__name__:
        raise ValueError(
            f"{os.fspath(path)!r} holds a {metadata.get('estimator')!r}, not an ELMClassifier"
        )
    saved_version = metadata.get("versions", {}).get("sklearn_elm")
    current_version = _versions()["sklearn_elm"]
    if saved_version != current_version:
        warnings.warn(
            f"{os.fspath(path)!r} was saved with sklearn-elm {saved_version}, this is "
            f"{current_version}: check its predictions",
            UserWarning,
            stacklevel=2,
        )
    try:
        params = _decode_params(metadata["params"], ELMClassifier)
        if device is not None:
            params["device"] = device
        estimator = ELMClassifier(**params)
        estimator._validate_params()
        estimator._validate_extra_params()
        fitted = {name: _decode(value, {}) for name, value in metadata["fitted"].items()}
        state = _decode(metadata["state"], tensors)
        history = metadata["history"]
        _restore_fitted(estimator, fitted, state, history)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{os.fspath(path)!r} is a damaged model file: {exc!r}") from exc
    return estimator


def _restore_fitted(estimator, fitted, state, history):
    """Rebuild the fitted network of ``estimator`` as ``fit`` would, without training."""
    from .callbacks import DeferredReweighting
    from .classifier import _resolve_device
    from .losses import label_distribution_margins

    unknown = set(fitted) - set(_FITTED)
    if unknown:
        raise ValueError(f"the model file has unknown fitted attributes {sorted(unknown)}")
    missing = {"classes_", "class_counts_", "n_features_in_", "input_shape_", "input_ndim_"} - set(
        fitted
    )
    if missing:
        raise ValueError(f"the model file lacks the fitted attributes {sorted(missing)}")
    # set what ``fit`` sets before it builds the network: ``_make_net`` reads these
    for name, value in fitted.items():
        if name != "device_":
            setattr(estimator, name, value)
    estimator._image_shape_ = fitted.get("_image_shape_")
    estimator.device_ = _resolve_device(estimator.device)
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
    device = torch.device(estimator.device_)
    cuda_devices = [device] if device.type == "cuda" else []
    # the random initial weights are overwritten: keep the caller's global RNG untouched
    with torch.random.fork_rng(devices=cuda_devices):
        net = estimator._make_net(counts, classes.size, train_split=None, seed=0)
        net.initialize()
    try:
        net.module_.load_state_dict(state["module"])
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
        estimator.margins_ = label_distribution_margins(
            np.maximum(counts, 1), estimator.max_m
        ).numpy()
    estimator.n_iter_ = int(fitted.get("n_iter_", len(history)))


# --------------------------------------------------------------------------------------------
# resumable training
# --------------------------------------------------------------------------------------------
def _data_fingerprint(X, y=None):
    """A hash of the training tensors (``TensorData`` or arrays), or None for other data."""
    parts = [getattr(X, "X", X), getattr(X, "y", y), getattr(X, "sample_weight", None)]
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
    metadata, _ = _read_archive(path, CHECKPOINT_FORMAT)
    return int(metadata["epochs"])


class TrainingCheckpoint(Callback):
    """Save the training state after every epoch; restore it when training starts again.

    At every epoch end the callback atomically replaces ``dirname/checkpoint.zip`` (same format
    as :func:`save_model`: JSON and safetensors, no pickle) with the state of the net: module
    weights, optimizer state, criterion buffers (including the deferred re-weighting weight),
    the skorch history, the global torch random-number generator state (CPU and CUDA) and the
    batch-shuffling generator of :class:`~sklearn_elm.ELMClassifier`'s net. At
    ``on_train_begin``, if such a file exists, it is restored into the net and
    ``restored_epochs_`` is the number of epochs it holds (0 otherwise); the caller then trains
    only the remaining epochs. ``ELMClassifier(checkpoint_dir=...)`` does all of this, and a
    resumed fit continues exactly as the uninterrupted one would have on CPU.

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
        metadata, tensors = _read_archive(self.path, CHECKPOINT_FORMAT)
        stored = metadata.get("data_fingerprint")
        if stored and self.data_fingerprint_ and stored != self.data_fingerprint_:
            raise ValueError(
                f"The checkpoint in {os.fspath(self.dirname)!r} was written while training on "
                "other data; delete it or choose another checkpoint directory to start afresh"
            )
        try:
            self._restore(net, _decode(metadata["state"], tensors), metadata["history"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(
                f"The checkpoint in {os.fspath(self.dirname)!r} does not fit this network "
                f"({exc}); delete it or choose another checkpoint directory"
            ) from exc
        self.restored_epochs_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        os.makedirs(os.fspath(self.dirname), exist_ok=True)
        encoder = _Encoder()
        state = {
            "modules": {name: getattr(net, name + "_").state_dict() for name in net._modules},
            "criteria": {name: getattr(net, name + "_").state_dict() for name in net._criteria},
            "optimizers": {name: getattr(net, name + "_").state_dict() for name in net._optimizers},
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
        }
        try:
            history = json.loads(json.dumps(net.history.to_list()))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"TrainingCheckpoint: the history holds a value that is not "
                f"JSON-serialisable ({exc}); record numbers or strings"
            ) from exc
        metadata = {
            "format": CHECKPOINT_FORMAT,
            "format_version": FORMAT_VERSION,
            "versions": _versions(),
            "epochs": len(history),
            "data_fingerprint": getattr(self, "data_fingerprint_", None),
            "history": history,
            "state": encoder.encode(state, where="state"),
        }
        _write_archive(self.path, metadata, encoder.tensors)

    @staticmethod
    def _restore(net, state, history):
        for group in ("modules", "criteria", "optimizers"):
            for name, state_dict in state[group].items():
                component = getattr(net, name + "_")
                if group == "criteria":
                    # a plain torch criterion may lack the DRW ``weight`` buffer the checkpoint
                    # has; DRW sets it again at every epoch start anyway
                    component.load_state_dict(state_dict, strict=False)
                    component.to(net.device)
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
