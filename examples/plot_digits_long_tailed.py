"""
===============================================================
Long-tailed digits: cross-entropy, DRW, LDAM and ELM with a CNN
===============================================================

The long-tail benchmarks of the LDAM and ELM papers (CIFAR-10-LT, CIFAR-100-LT) need a GPU;
this example runs the same comparison on a problem a laptop trains in minutes: the 8×8
digits of scikit-learn, made long-tailed with :func:`~sklearn_elm.datasets.make_long_tailed`
(class 0 keeps all its training images, class 9 a tenth or a hundredth of them), and a small
CNN (``module="cnn"``) on the images.

Four losses train the same network with the same budget:

* **CE**: cross-entropy on the scaled cosine logits;
* **CE-DRW**: the same, with deferred re-weighting (class-balanced weights for the last 20%
  of the epochs, Cao et al., 2019);
* **LDAM-DRW**: label-distribution-aware margins (Cao et al., 2019) and DRW;
* **ELM-DRW**: enlarged large margins (Kato & Hotta, 2023) and DRW.

Each is trained with 5 seeds (each seed draws its own long-tailed subset and initialisation)
and scored on the balanced held-out test split. The shared settings and the loss parameters
were tuned on a validation split carved out of the training split, never on the test split;
see the "Long-tailed data" page of the documentation for the tuning and the results.
"""

# %%
# Data: a balanced test split and long-tailed training sets
# ----------------------------------------------------------
import argparse
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from sklearn_elm import ELMClassifier
from sklearn_elm.datasets import make_long_tailed
from sklearn_elm.metrics import per_class_accuracy, shot_accuracy

# SKLEARN_ELM_EXAMPLE_QUICK=1 (or the test-suite's SKLEARN_ELM_QUICK_EXAMPLES=1) runs a tiny
# version: one seed and a few epochs
QUICK = "1" in (os.environ.get("SKLEARN_ELM_EXAMPLE_QUICK"),
                os.environ.get("SKLEARN_ELM_QUICK_EXAMPLES"))
# ``--save PATH`` also writes the figure to PATH (the docs' copy was made this way)
parser = argparse.ArgumentParser()
parser.add_argument("--save", default=None, help="write the per-class accuracy figure here")
SAVE_TO = parser.parse_known_args()[0].save

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixel intensities 0..16 to [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
RATIOS = (10, 100)
SEEDS = range(1 if QUICK else 5)
for ratio in RATIOS:
    _, y_lt = make_long_tailed(X_train, y_train, imbalance_ratio=ratio, random_state=0)
    print(f"imbalance ratio {ratio:>3}: training images per class {np.bincount(y_lt)}")
print(f"balanced test split: {np.bincount(y_test)}")

# %%
# Four losses, one network, one budget
# ------------------------------------
# Every flat row of 64 pixels becomes a 1×8×8 image (``input_shape``) for the small CNN, with
# 16, 32 and 64 channels in its three stages (``module__width=16``): each fit takes one to two
# seconds, so the 40 fits run in under a minute on two cores.
# Random crops and flips (``augment=True``) are left off: a mirrored digit is another digit.
# The shared settings were chosen on a validation split (mean over the four losses): Adam at
# lr 0.003 with weight decay 5e-4 for 60 epochs with the papers' schedule
# (``lr_schedule="paper"``: warm-up, then the rate divided by 100 at 80% and again at 90% of the
# epochs). The loss parameters that won there: s=30 for all, max_m=0.5 for LDAM (the package
# defaults) and max_m=0.3, lam=0.5 for ELM (the default max_m=0.5, lam=1 came last of four).
SHARED = dict(
    module="cnn",
    input_shape=(1, 8, 8),
    module__width=16,  # 16, 32 and 64 channels (the default width 32 doubles them)
    optimizer="adam",
    lr=0.003,
    weight_decay=5e-4,
    lr_schedule="paper",
    max_epochs=15 if QUICK else 60,
)
METHODS = {
    "CE": dict(loss="ce", drw_start=None),
    "CE-DRW": dict(loss="ce", drw_start=0.8),
    "LDAM-DRW": dict(loss="ldam", drw_start=0.8),
    "ELM-DRW": dict(loss="elm", drw_start=0.8, max_m=0.3, lam=0.5),
}


def shot_thresholds(counts):
    """``many`` and ``few`` of :func:`~sklearn_elm.metrics.shot_accuracy` for these counts.

    The CIFAR thresholds (100 and 20 images) do not fit 1 to 122 images per class; here the
    3 most frequent classes are "many-shot", the 3 rarest "few-shot" and the 4 others "medium".
    """
    ordered = np.sort(counts)[::-1]
    return ordered[3], ordered[6]  # many: n > 4th largest; few: n < 7th largest


# %%
# Training
# --------
# The 40 fits (2 ratios x 5 seeds x 4 losses) are independent: joblib runs them on all cores.
# Its worker processes use one thread each (joblib caps OpenMP threads per worker), so the
# scores do not depend on the number of cores.


def train_and_score(ratio, seed, method):
    X_lt, y_lt = make_long_tailed(X_train, y_train, imbalance_ratio=ratio, random_state=seed)
    counts = np.bincount(y_lt, minlength=10)
    many, few = shot_thresholds(counts)
    clf = ELMClassifier(random_state=seed, **SHARED, **METHODS[method]).fit(X_lt, y_lt)
    y_pred = clf.predict(X_test)
    shots = shot_accuracy(y_test, y_pred, counts, many=many, few=few)
    row = {
        "ratio": ratio, "seed": seed, "method": method,
        "balanced accuracy": balanced_accuracy_score(y_test, y_pred),
        "many-shot": shots["many"], "medium-shot": shots["medium"], "few-shot": shots["few"],
    }
    classes = pd.DataFrame({
        "ratio": ratio, "seed": seed, "method": method, "class": np.arange(10),
        "train count": counts, "accuracy": per_class_accuracy(y_test, y_pred),
    })
    return row, classes


outputs = Parallel(n_jobs=-1)(
    delayed(train_and_score)(ratio, seed, method)
    for ratio in RATIOS for seed in SEEDS for method in METHODS
)
rows, classes = zip(*outputs, strict=True)
results = pd.DataFrame(list(rows))
per_class = pd.concat(classes, ignore_index=True)

# %%
# Balanced accuracy and many/medium/few-shot accuracy on the test split
# ---------------------------------------------------------------------
# Mean ± standard deviation over the seeds, in percent. With the CIFAR thresholds out of
# reach, many-shot here means the 3 most frequent classes and few-shot the 3 rarest.
metrics = ["balanced accuracy", "many-shot", "medium-shot", "few-shot"]
summary = results.groupby(["ratio", "method"], sort=False)[metrics].agg(["mean", "std"]) * 100
table = pd.DataFrame({
    metric: summary[metric]["mean"].map("{:.1f}".format)
    + ("" if len(SEEDS) == 1 else " ± " + summary[metric]["std"].map("{:.1f}".format))
    for metric in metrics
})
with pd.option_context("display.width", 120):
    print(table)

# %%
# Per-class accuracy against training frequency
# ---------------------------------------------
# The rarer a class, the lower its accuracy. The margin losses move accuracy from the head
# classes to the tail ones; DRW, which here runs at 1% of the learning rate (the papers'
# schedule decays the rate when re-weighting starts), changes little.
mean_per_class = per_class.groupby(["ratio", "method", "class"], sort=False).mean().reset_index()
fig, axes = plt.subplots(1, len(RATIOS), figsize=(11, 4.2), sharey=True)
# CE-DRW dashed: with this schedule it often lies right on top of CE (see the table)
styles = dict(zip(METHODS, [("o", "-"), ("s", "--"), ("D", "-"), ("^", "-")], strict=True))
for ax, ratio in zip(axes, RATIOS, strict=True):
    for method in METHODS:
        curve = mean_per_class.query("ratio == @ratio and method == @method")
        curve = curve.sort_values("train count")
        bacc = results.query("ratio == @ratio and method == @method")["balanced accuracy"]
        marker, linestyle = styles[method]
        ax.plot(curve["train count"], 100 * curve["accuracy"], marker=marker,
                linestyle=linestyle, label=f"{method} ({100 * bacc.mean():.1f}%)", alpha=0.85)
    ax.set_xscale("log")
    ax.set_xticks([1, 2, 5, 10, 20, 50, 100], labels=["1", "2", "5", "10", "20", "50", "100"])
    ax.set_xlim(0.8, 160)  # the same range in both panels
    ax.set_title(f"imbalance ratio {ratio}")
    ax.set_xlabel("training images of the class (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="balanced accuracy", fontsize=8, title_fontsize=8, loc="lower right")
axes[0].set_ylabel("test accuracy of the class (%)")
seeds = "1 seed" if len(SEEDS) == 1 else f"mean of {len(SEEDS)} seeds"
fig.suptitle(f"Long-tailed digits, small CNN: per-class test accuracy ({seeds})")
fig.tight_layout()
if SAVE_TO:
    fig.savefig(SAVE_TO, dpi=110)
plt.show()
