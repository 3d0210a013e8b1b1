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
  loses at most one epoch (``ELMClassifier(checkpoint_dir=...)`` adds it). It lives in
  :mod:`sklearn_elm.callbacks` beside the other callbacks and is re-exported here, with
  :func:`checkpoint_epochs`.

Plain ``pickle``/``joblib`` of an estimator also works (scikit-learn's convention), but, as
scikit-learn's documentation warns, loading such a file can execute arbitrary code: load
pickles only from sources you trust, and use these files to exchange models.
"""

from __future__ import annotations

from ._model_file import read_model, write_model
from .callbacks import TrainingCheckpoint, checkpoint_epochs
from .classifier import ELMClassifier

__all__ = ["TrainingCheckpoint", "checkpoint_epochs", "load_model", "save_model"]


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
    if not isinstance(estimator, ELMClassifier):
        raise TypeError(f"save_model saves an ELMClassifier, got {type(estimator).__name__}")
    write_model(estimator, path)


def load_model(path, *, device=None):
    """Load an estimator saved by :func:`save_model`, never unpickling anything.

    The constructor parameters are validated, the shapes of the stored weights are compared
    with the network they describe (laid out on the ``meta`` device, without memory), the
    network is rebuilt from them without training, and the stored weights and fitted
    attributes are set: the loaded estimator predicts exactly as the saved one did.

    A file does not decide what a later ``fit`` writes or runs: its ``checkpoint_dir``,
    ``callbacks`` and routed ``callbacks__*`` parameters are left out, with a
    ``UserWarning`` naming them; set them again with ``set_params`` if you want them.

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
        or any other content), is truncated (or still being written), is corrupt, holds
        weights that do not fit the network its parameters describe, or was written by a newer
        format version. Nothing in a refused file is executed.

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
    return read_model(path, ELMClassifier, device=device)
