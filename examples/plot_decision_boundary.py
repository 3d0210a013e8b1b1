"""
=====================================================
How the margins move the decision boundary
=====================================================

On a 2-D toy problem with one frequent and two rare classes, this example trains the same
network with cross-entropy, with LDAM (per-class margins :math:`\\Delta_k \\propto
n_k^{-1/4}`, ``lam=0``) and with ELM (``lam=1``), and draws the decision regions.

A margin :math:`\\Delta_y` asks every training sample of class ``y`` to beat the other classes
by at least :math:`\\Delta_y`; rare classes get the larger margins. ELM replaces the gap
:math:`\\Delta_y` by :math:`\\Delta_y - \\lambda\\Delta_{\\hat{j}}`, where :math:`\\hat{j}` is
the sample's hardest wrong class: samples of the frequent class, whose rivals are rare, get a
*negative* gap and stop defending their ground, so the boundary moves into the frequent class.
Deferred re-weighting (DRW) is switched off for the pictures, so that only the margins act;
the last cell adds it back.
"""

# %%
# A long-tailed 2-D problem
# -------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from sklearn_elm import ELMClassifier
from sklearn_elm.plotting import MarginsDisplay

# the test-suite sets SKLEARN_ELM_QUICK_EXAMPLES=1 to run a tiny version of this example
QUICK = os.environ.get("SKLEARN_ELM_QUICK_EXAMPLES") == "1"

class_counts = [600, 60, 15]
X, y = make_blobs(
    n_samples=class_counts,
    centers=[[0.0, 0.0], [1.8, 0.3], [0.4, 1.6]],
    cluster_std=[1.0, 0.8, 0.7],
    random_state=0,
)
# a large *balanced* test sample from the same distribution: its accuracy is the balanced one
X_test, y_test = make_blobs(
    n_samples=[2000, 2000, 2000],
    centers=[[0.0, 0.0], [1.8, 0.3], [0.4, 1.6]],
    cluster_std=[1.0, 0.8, 0.7],
    random_state=1,
)
class_names = ["frequent (600)", "rare (60)", "very rare (15)"]
colors = ["tab:blue", "tab:orange", "tab:green"]

# %%
# Three losses, one network
# -------------------------
settings = {
    "cross-entropy": {"loss": "ce"},
    "LDAM (margins, λ=0)": {"loss": "ldam"},
    "ELM (margins, λ=1)": {"loss": "elm", "lam": 1.0},
}


def network(**params):
    """The same small MLP for every loss, at a constant learning rate (``lr_schedule=None``:
    the rate is not dropped when DRW starts, as when the user guide's numbers were measured)."""
    return ELMClassifier(
        hidden_layer_sizes=(32, 32), max_epochs=10 if QUICK else 60, lr_schedule=None,
        random_state=0, **params
    )


models = {name: network(**params, drw_start=None).fit(X, y) for name, params in settings.items()}

# %%
# Decision regions
# ----------------
# Shaded regions are the predictions of each model; the dashed lines repeat the
# cross-entropy boundary in every panel. The legend gives the share of the plotted square
# that each class wins, the title the accuracy on the balanced test sample. On this problem
# the LDAM margins alone hardly move the boundary: the very rare class still wins nothing.
# ELM's adjustment hands the rare classes a large part of the plane.
grid_x, grid_y = np.meshgrid(np.linspace(-3.5, 5.0, 250), np.linspace(-3.5, 4.5, 250))
grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
regions = {name: model.predict(grid).reshape(grid_x.shape) for name, model in models.items()}

fig, axes = plt.subplots(2, 2, figsize=(11, 9.5))
for ax, (name, region) in zip(axes.flat, regions.items(), strict=False):
    ax.contourf(grid_x, grid_y, region, levels=[-0.5, 0.5, 1.5, 2.5], colors=colors, alpha=0.25)
    ax.contour(
        grid_x,
        grid_y,
        regions["cross-entropy"],
        levels=[0.5, 1.5],
        colors="black",
        linestyles="--",
        linewidths=1,
    )
    for k in range(3):
        share = np.mean(region == k)
        ax.scatter(
            *X[y == k].T,
            s=8 if k == 0 else 18,
            color=colors[k],
            edgecolor="white",
            linewidth=0.3,
            label=f"{class_names[k]}: {share:.0%} of the plane",
        )
    accuracy = np.mean(models[name].predict(X_test) == y_test)
    ax.set_title(f"{name}\nbalanced test accuracy {accuracy:.3f}")
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.legend(loc="lower right", fontsize="small")
MarginsDisplay.from_estimator(models["ELM (margins, λ=1)"], ax=axes[1, 1])
axes[1, 1].set_xticks(range(3), [f"{name}" for name in class_names])
fig.tight_layout()

# %%
# With deferred re-weighting
# --------------------------
# The papers train with DRW: class-balanced loss weights for the last 20% of the epochs
# (``drw_start=0.8``, the default for "elm" and "ldam"). On this problem DRW is what lifts
# cross-entropy and LDAM; ELM gets most of its effect from the margins already.
for name, params in settings.items():
    with_drw = network(**params, drw_start=0.8).fit(X, y)
    without, with_ = (np.mean(m.predict(X_test) == y_test) for m in (models[name], with_drw))
    print(f"{name:>20}: balanced test accuracy {without:.3f} without DRW, {with_:.3f} with")
plt.show()
