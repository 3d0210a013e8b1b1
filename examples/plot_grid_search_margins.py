"""
==============================================
Tune the margins with a grid search
==============================================

ELM has two margin hyper-parameters: ``max_m``, the margin of the rarest class (the others
shrink as :math:`n_k^{-1/4}`), and ``lam`` (:math:`\\lambda`), the weight of the hardest
wrong class's margin (``lam=0`` is LDAM). Because :class:`~sklearn_elm.ELMClassifier` is a
scikit-learn estimator, :class:`~sklearn.model_selection.GridSearchCV` tunes them like any
other parameter. Score with ``"balanced_accuracy"``: plain accuracy rewards ignoring the rare
classes.
"""

# %%
# Data and search
# ---------------
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_elm import ELMClassifier

# the test-suite sets SKLEARN_ELM_QUICK_EXAMPLES=1 to run a tiny version of this example
QUICK = os.environ.get("SKLEARN_ELM_QUICK_EXAMPLES") == "1"

X, y = make_classification(
    n_samples=800 if QUICK else 2000,
    n_features=10,
    n_informative=6,
    n_classes=4,
    n_clusters_per_class=1,
    weights=[0.70, 0.20, 0.07, 0.03],
    class_sep=1.0,
    random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipeline = Pipeline(
    [
        ("scale", StandardScaler()),
        # a constant learning rate through DRW, as when the user guide's numbers were measured
        ("elm", ELMClassifier(max_epochs=4 if QUICK else 30, lr_schedule=None, random_state=0)),
    ]
)
param_grid = {
    "elm__max_m": [0.1, 0.3, 0.5, 0.8],
    "elm__lam": [0.0, 0.25, 0.5, 1.0],
}
if QUICK:
    param_grid = {"elm__max_m": [0.1, 0.5], "elm__lam": [0.0, 1.0]}
search = GridSearchCV(
    pipeline,
    param_grid,
    scoring="balanced_accuracy",
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best cross-validated balanced accuracy: {search.best_score_:.3f}")

# %%
# Heat map of the cross-validated scores
# --------------------------------------
# Rows are ``max_m``, columns ``lam``; the best cell is outlined.
results = pd.DataFrame(search.cv_results_)
scores = results.pivot_table(
    index="param_elm__max_m", columns="param_elm__lam", values="mean_test_score"
)

fig, ax = plt.subplots(figsize=(6, 4.5))
image = ax.imshow(scores.to_numpy(), cmap="viridis", origin="lower")
for (row, col), value in np.ndenumerate(scores.to_numpy()):
    # dark text on the bright cells, light text on the dark ones
    bright = value > scores.to_numpy().mean()
    ax.text(
        col, row, f"{value:.3f}", ha="center", va="center", color="black" if bright else "white"
    )
best_row = list(scores.index).index(search.best_params_["elm__max_m"])
best_col = list(scores.columns).index(search.best_params_["elm__lam"])
ax.add_patch(
    plt.Rectangle(
        (best_col - 0.5, best_row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5
    )
)
ax.set_xticks(range(scores.shape[1]), [f"{v:g}" for v in scores.columns])
ax.set_yticks(range(scores.shape[0]), [f"{v:g}" for v in scores.index])
ax.set_xlabel(r"lam ($\lambda$; 0 = LDAM)")
ax.set_ylabel(r"max_m (margin of the rarest class)")
ax.set_title("Cross-validated balanced accuracy of ELM")
fig.colorbar(image, ax=ax, label="balanced accuracy (3-fold CV)")
fig.tight_layout()

# %%
# The refitted best model on the held-out test set
# ------------------------------------------------
# ``GridSearchCV`` refits the best pipeline on all of ``X_train``. Compare it with the
# paper's defaults (``max_m=0.5``, ``lam=1``) on the test set.
default = clone(pipeline).set_params(elm__max_m=0.5, elm__lam=1.0).fit(X_train, y_train)
for name, model in [("paper defaults", default), ("grid-search best", search)]:
    score = balanced_accuracy_score(y_test, model.predict(X_test))
    print(f"{name:>16}: test balanced accuracy {score:.3f}")
plt.show()
