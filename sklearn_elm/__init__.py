"""sklearn-elm: Enlarged Large Margin loss for imbalanced classification, scikit-learn style."""

from ._training import TrainingDivergedError
from ._version import __version__ as __version__
from .callbacks import DeferredReweighting, WarmupMultiStepLR
from .classifier import ELMClassifier
from .datasets import (
    list_datasets,
    load_cifar_lt,
    load_csv,
    load_dataset,
    load_dir,
    load_keel,
    load_keel_dir,
    long_tailed_counts,
    make_long_tailed,
)
from .losses import (
    CBLoss,
    ELMLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    cb_loss,
    class_balanced_weights,
    elm_loss,
    focal_loss,
    label_distribution_margins,
    ldam_loss,
    logit_adjusted_loss,
)
from .metrics import per_class_accuracy, shot_accuracy
from .model_selection import ELMClassifierCV
from .modules import MLP, CosineLinear, ResNet32, SmallCNN
from .persistence import TrainingCheckpoint, load_model, save_model
from .plotting import (
    MarginsDisplay,
    PerClassAccuracyDisplay,
    TrainingHistoryDisplay,
    plot_margins,
    plot_per_class_accuracy,
    plot_training_history,
)

__all__ = [
    "CBLoss",
    "CosineLinear",
    "DeferredReweighting",
    "ELMClassifier",
    "ELMClassifierCV",
    "ELMLoss",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "MLP",
    "MarginsDisplay",
    "PerClassAccuracyDisplay",
    "ResNet32",
    "SmallCNN",
    "TrainingCheckpoint",
    "TrainingDivergedError",
    "TrainingHistoryDisplay",
    "WarmupMultiStepLR",
    "cb_loss",
    "class_balanced_weights",
    "elm_loss",
    "focal_loss",
    "label_distribution_margins",
    "ldam_loss",
    "list_datasets",
    "load_cifar_lt",
    "load_csv",
    "load_dataset",
    "load_dir",
    "load_keel",
    "load_keel_dir",
    "load_model",
    "logit_adjusted_loss",
    "long_tailed_counts",
    "make_long_tailed",
    "per_class_accuracy",
    "plot_margins",
    "plot_per_class_accuracy",
    "plot_training_history",
    "save_model",
    "shot_accuracy",
]
