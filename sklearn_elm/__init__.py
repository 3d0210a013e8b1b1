"""sklearn-elm: Enlarged Large Margin loss for imbalanced classification, scikit-learn style.

The public names below are imported on first use (a module ``__getattr__``, PEP 562), as
scikit-learn and SciPy do with their submodules: ``import sklearn_elm`` imports neither
PyTorch nor scikit-learn, and ``from sklearn_elm import ELMLoss`` imports PyTorch only.
"""

import importlib

from ._version import __version__ as __version__

# submodule -> the public names it defines; the one list of what the package exports
_EXPORTS = {
    "_training": ("TrainingDivergedError",),
    "callbacks": ("DeferredReweighting", "WarmupMultiStepLR"),
    "classifier": ("ELMClassifier",),
    "datasets": (
        "list_datasets",
        "load_cifar_lt",
        "load_csv",
        "load_dataset",
        "load_dir",
        "load_keel",
        "load_keel_dir",
        "long_tailed_counts",
        "make_long_tailed",
    ),
    "losses": (
        "CBLoss",
        "ELMLoss",
        "FocalLoss",
        "LDAMLoss",
        "LogitAdjustedLoss",
        "cb_loss",
        "class_balanced_weights",
        "elm_loss",
        "focal_loss",
        "label_distribution_margins",
        "ldam_loss",
        "logit_adjusted_loss",
    ),
    "metrics": ("per_class_accuracy", "shot_accuracy"),
    "model_selection": ("ELMClassifierCV",),
    "modules": ("MLP", "CosineLinear", "ResNet32", "SmallCNN"),
    "persistence": ("TrainingCheckpoint", "load_model", "save_model"),
    "plotting": (
        "MarginsDisplay",
        "PerClassAccuracyDisplay",
        "TrainingHistoryDisplay",
        "plot_margins",
        "plot_per_class_accuracy",
        "plot_training_history",
    ),
}
_SUBMODULE_OF = {name: submodule for submodule, names in _EXPORTS.items() for name in names}
# the public submodules, reachable as attributes (``sklearn_elm.losses``) like eager imports
_PUBLIC_SUBMODULES = (
    "benchmark",
    "callbacks",
    "classifier",
    "datasets",
    "losses",
    "metrics",
    "model_selection",
    "modules",
    "persistence",
    "plotting",
)

__all__ = sorted(_SUBMODULE_OF)


def __getattr__(name):
    if name in _SUBMODULE_OF:
        value = getattr(importlib.import_module(f".{_SUBMODULE_OF[name]}", __name__), name)
    elif name in _PUBLIC_SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted({*globals(), *__all__, *_PUBLIC_SUBMODULES})
