"""The file encoding of models and checkpoints: JSON metadata and safetensors in a zip.

An archive is a zip of exactly two *stored* (uncompressed) members, ``metadata.json`` (plain
JSON whose tensors are references) and ``tensors.safetensors`` (every tensor, in the
`safetensors <https://huggingface.co/docs/safetensors>`_ format). Reading one runs only a JSON
parser and safetensors' parser: nothing is unpickled and no code from the file is executed.

This module knows nothing about estimators or networks (it imports nothing from the rest of the
package): :mod:`sklearn_elm.persistence` and :class:`sklearn_elm.callbacks.TrainingCheckpoint`
decide what goes into an archive.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import zipfile

import numpy as np
import torch

MODEL_FORMAT = "sklearn-elm-model"
CHECKPOINT_FORMAT = "sklearn-elm-checkpoint"
FORMAT_VERSION = 1
_METADATA = "metadata.json"
_TENSORS = "tensors.safetensors"
# the signature a zip file starts with (its first local file header)
_ZIP_START = b"PK\x03\x04"
# dtypes a stored numpy array may have: booleans, numbers, unicode strings and objects (whose
# elements are JSON scalars); never "V" (void) or datetime kinds
_ARRAY_KINDS = frozenset("biufUO")
SAFE_FILES_HINT = (
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


def package_versions(sklearn_elm_version):
    """Versions of sklearn-elm and of the libraries whose behaviour a file depends on."""
    import sklearn
    import skorch

    return {
        "sklearn_elm": sklearn_elm_version,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
    }


# --------------------------------------------------------------------------------------------
# a JSON encoding of nested data whose tensors go to a separate table
# --------------------------------------------------------------------------------------------
class Encoder:
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


def decode(value, tensors):
    """Inverse of :class:`Encoder`; builds only containers, numpy arrays and tensors."""
    if isinstance(value, list):
        return [decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        name = value["__tensor__"]
        if name not in tensors:
            raise ValueError(f"the file refers to a tensor {name!r} it does not contain")
        return tensors[name]
    if "__tuple__" in value:
        return tuple(decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {key: decode(v, tensors) for key, v in value["__dict__"]}
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
    return {key: decode(v, tensors) for key, v in value.items()}


def json_history(history, what):
    """``history`` (a skorch History or list) as plain JSON data, or a TypeError naming ``what``."""
    rows = history.to_list() if hasattr(history, "to_list") else history
    try:
        return json.loads(json.dumps(rows))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what}: the history holds a value that is not JSON-serialisable ({exc}); record "
            "numbers or strings"
        ) from exc


# --------------------------------------------------------------------------------------------
# the archive: metadata.json + tensors.safetensors, written atomically
# --------------------------------------------------------------------------------------------
def write_archive(path, metadata, tensors):
    """Write the archive to a temporary file beside ``path``, then rename it over ``path``.

    ``os.replace`` is atomic: a reader (or a process killed mid-write) sees the old complete
    file or the new complete file, never a half-written one.
    """
    path = os.fspath(path)
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


def read_archive(path, expected_format):
    """Return ``(metadata, tensors)`` of an archive, refusing anything else before parsing it."""
    kind = "model" if expected_format == MODEL_FORMAT else "checkpoint"
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no sklearn-elm {kind} file at {path!r}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            start = handle.read(len(_ZIP_START))
        if not start or (start == _ZIP_START):
            # a zip's table of contents is at its end: a zip start without it is a cut file
            raise ValueError(
                f"{path!r} is an incomplete sklearn-elm {kind} file: the file ends early "
                f"({'it is empty' if not start else 'no zip directory at its end'}): it is "
                "truncated or still being written. Wait for the writer to finish, or copy or "
                "save it again"
            )
        raise ValueError(
            f"{path!r} is not a sklearn-elm {kind} file (not a zip archive). {SAFE_FILES_HINT}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if set(members) != {_METADATA, _TENSORS}:
                raise ValueError(
                    f"{path!r} is not a sklearn-elm {kind} file: it holds "
                    f"{sorted(members)[:5]} instead of {[_METADATA, _TENSORS]}. "
                    f"{SAFE_FILES_HINT}"
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
            f"{path!r}: {_METADATA} is not valid JSON ({exc}). {SAFE_FILES_HINT}"
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
            f"{path!r}: {_TENSORS} is not a valid safetensors file ({exc}). {SAFE_FILES_HINT}"
        ) from exc
    return metadata, tensors
