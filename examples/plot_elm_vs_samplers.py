"""
=====================================================
ELM against resampling and class weights
=====================================================

The usual answers to class imbalance change the *data* (imbalanced-learn's samplers: random
over-sampling, SMOTE) or the *weights* of the loss. ELM changes the *margins* of the loss
instead. This example trains the same network five ways, each in an imbalanced-learn
:class:`~imblearn.pipeline.Pipeline` (which applies a sampler to the training folds only),
and compares them by cross-validation.

Note that a sampler placed before :class:`~sklearn_elm.ELMClassifier` balances the class
counts the classifier sees, so ELM's margins would all be equal: combine ELM with a sampler
only on purpose.
"""

# %%
# Five pipelines
# --------------
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from imblearn.metrics import geometric_mean_score
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.datasets import make_classification
from sklearn.metrics import make_scorer
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.preprocessing import StandardScaler

from sklearn_elm import ELMClassifier

# the test-suite sets SKLEARN_ELM_QUICK_EXAMPLES=1 to run a tiny version of this example
QUICK = os.environ.get("SKLEARN_ELM_QUICK_EXAMPLES") == "1"

X, y = make_classification(
    n_samples=600 if QUICK else 1500,
    n_features=10,
    n_informative=6,
    n_classes=4,
    n_clusters_per_class=1,
    weights=[0.70, 0.20, 0.07, 0.03],
    class_sep=1.0,
    random_state=1,
)
print("class counts:", np.bincount(y))


def network(**params):
    """The same MLP for every contender; only the loss differs."""
    return ELMClassifier(max_epochs=4 if QUICK else 30, random_state=0, **params)


contenders = {
    "cross-entropy": make_pipeline(StandardScaler(), network(loss="ce")),
    "random over-sampling\n+ cross-entropy": make_pipeline(
        StandardScaler(), RandomOverSampler(random_state=0), network(loss="ce")
    ),
    "SMOTE\n+ cross-entropy": make_pipeline(
        StandardScaler(), SMOTE(random_state=0), network(loss="ce")
    ),
    "class weights\n(class-balanced CE)": make_pipeline(StandardScaler(), network(loss="cb")),
    # the paper's margins at a constant learning rate (lr_schedule=None), as the user guide
    # quotes them; ELMClassifier's defaults are now lam=0.5 and a rate drop when DRW starts
    "ELM (paper defaults,\nmax_m=0.5, λ=1)": make_pipeline(
        StandardScaler(), network(lam=1.0, lr_schedule=None)
    ),
    "ELM (max_m=0.3, λ=0.25)": make_pipeline(StandardScaler(), network(max_m=0.3, lam=0.25)),
}

# %%
# Cross-validation
# ----------------
# Balanced accuracy (the mean per-class recall) and the geometric mean of the per-class
# recalls, which collapses when any class is ignored.
scoring = {
    "balanced accuracy": "balanced_accuracy",
    "geometric mean": make_scorer(geometric_mean_score),
}
cv = StratifiedKFold(n_splits=3 if QUICK else 5, shuffle=True, random_state=0)
rows = []
for name, pipeline in contenders.items():
    scores = cross_validate(pipeline, X, y, scoring=scoring, cv=cv)
    for metric in scoring:
        rows.append(
            {
                "model": name,
                "metric": metric,
                "mean": scores[f"test_{metric}"].mean(),
                "std": scores[f"test_{metric}"].std(),
            }
        )
    rows.append(
        {
            "model": name,
            "metric": "fit time (s)",
            "mean": scores["fit_time"].mean(),
            "std": scores["fit_time"].std(),
        }
    )
results = pd.DataFrame(rows)
table = results.pivot(index="model", columns="metric", values="mean").loc[list(contenders)]
table.index = [name.replace("\n", " ") for name in table.index]
table.round(3)

# %%
# Results
# -------
# Bars are the mean over the folds, whiskers one standard deviation. The third panel is the
# wall time per fit (noisy on a shared machine); the samplers make the network train on a
# balanced copy of the data, several times as many rows as the original.
fig, axes = plt.subplots(1, 3, figsize=(13, 4.8), sharey=True)
positions = np.arange(len(contenders))
colors = ["tab:gray", "tab:orange", "tab:brown", "tab:purple", "tab:blue", "tab:cyan"]
for ax, metric in zip(axes, [*scoring, "fit time (s)"], strict=True):
    subset = results[results["metric"] == metric].set_index("model").loc[list(contenders)]
    ax.barh(positions, subset["mean"], xerr=subset["std"], color=colors, capsize=3)
    ax.set_title(metric)
    if metric != "fit time (s)":
        low = (subset["mean"] - subset["std"]).min()
        ax.set_xlim(max(0.0, low - 0.05), 1.0)
axes[0].set_yticks(positions, list(contenders))
axes[0].invert_yaxis()
axes[-1].set_xlabel("seconds per fit")
fig.suptitle(f"{cv.get_n_splits()}-fold cross-validation, 4 classes from 70% to 3% of rows")
fig.tight_layout()
plt.show()
