"""
=========================================
Fit and predict on an imbalanced table
=========================================

:class:`~sklearn_elm.ELMClassifier` is a scikit-learn classifier: put it in a
:class:`~sklearn.pipeline.Pipeline`, call ``fit`` and ``predict``. This example trains it on
a table with four classes whose sizes go from 70% of the rows down to 3%, compares it with the
same network trained with plain cross-entropy, and looks at what it learned with the plots of
:mod:`sklearn_elm.plotting`.
"""

# %%
# An imbalanced table
# -------------------
# A synthetic data set in a :class:`pandas.DataFrame`, with the rarest class 23 times
# smaller than the most frequent one.
import os

import matplotlib.pyplot as plt
import pandas as pd
from imblearn.metrics import classification_report_imbalanced
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_elm import ELMClassifier
from sklearn_elm.plotting import (
    MarginsDisplay,
    PerClassAccuracyDisplay,
    TrainingHistoryDisplay,
)

# the test-suite sets SKLEARN_ELM_QUICK_EXAMPLES=1 to run a tiny version of this example
QUICK = os.environ.get("SKLEARN_ELM_QUICK_EXAMPLES") == "1"

X, y = make_classification(
    n_samples=600 if QUICK else 3000,
    n_features=10,
    n_informative=6,
    n_classes=4,
    n_clusters_per_class=1,
    weights=[0.70, 0.20, 0.07, 0.03],
    class_sep=1.0,
    random_state=0,
)
X = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(X.shape[1])])
y = pd.Series(y).map({0: "common", 1: "frequent", 2: "rare", 3: "very rare"})
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
y_train.value_counts()

# %%
# Fit and predict
# ---------------
# ELM needs nothing but the labels: it counts the classes of ``y_train`` at ``fit`` and
# gives the rare classes larger margins. The same network trained with cross-entropy
# (``loss="ce"``) is the baseline.
max_epochs = 5 if QUICK else 40
elm = make_pipeline(StandardScaler(), ELMClassifier(max_epochs=max_epochs, random_state=0))
cross_entropy = make_pipeline(
    StandardScaler(), ELMClassifier(loss="ce", max_epochs=max_epochs, random_state=0)
)
elm.fit(X_train, y_train)
cross_entropy.fit(X_train, y_train)

for name, model in [("cross-entropy", cross_entropy), ("ELM", elm)]:
    score = balanced_accuracy_score(y_test, model.predict(X_test))
    print(f"{name:>13}: balanced accuracy {score:.3f}")

# %%
# ``predict_proba`` gives calibrated-looking probabilities from the scaled cosine logits;
# their columns follow ``classes_``.
pd.DataFrame(elm.predict_proba(X_test.head()), columns=elm.classes_).round(3)

# %%
# imbalanced-learn's report gives precision, recall (the per-class accuracy), specificity
# and the geometric mean of each class.
print(classification_report_imbalanced(y_test, elm.predict(X_test), digits=3))

# %%
# Per-class accuracy
# ------------------
# Each point is a class, placed by its number of training samples. Cross-entropy sacrifices
# the rarest class. ELM with the paper's settings (``max_m=0.5``, ``lam=1``, DRW from 80% of
# the epochs) lifts the rare classes, and on this small table it over-corrects: the most
# frequent class pays. ``lam`` and ``max_m`` are hyper-parameters to tune, see
# :ref:`sphx_glr_auto_examples_plot_grid_search_margins.py`.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (name, model) in zip(axes, [("cross-entropy", cross_entropy), ("ELM", elm)], strict=True):
    PerClassAccuracyDisplay.from_estimator(model, X_test, y_test, ax=ax)
    ax.set_title(f"Per-class accuracy, {name}")
fig.tight_layout()

# %%
# What ELM learned
# ----------------
# The margins :math:`\Delta_k \propto n_k^{-1/4}` grow towards the rare classes; the red
# segments show the gap :math:`\Delta_y - \lambda\Delta_{\hat{j}}` a sample must win by,
# which depends on its hardest wrong class :math:`\hat{j}`. The training history shows the
# loss jump where deferred re-weighting (DRW) switches to class-balanced weights, at 80% of
# the epochs.
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
MarginsDisplay.from_estimator(elm, ax=axes[0])
TrainingHistoryDisplay.from_estimator(elm, ax=axes[1])
fig.tight_layout()
plt.show()
