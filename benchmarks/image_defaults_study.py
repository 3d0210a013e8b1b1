"""Deferred re-weighting and its learning-rate drop on long-tailed digit images.

``ELMClassifier`` trains with Adam at a constant learning rate, and with ``loss="elm"`` or
``"ldam"`` switches deferred re-weighting (DRW) on at 80% of ``max_epochs``. The papers switch
DRW on exactly when the learning rate drops. This study measures, on two offline digit sets
made long-tailed (8x8 images, ``module="cnn"``), what the drop does: cross-entropy, LDAM and
ELM (``lam`` in -0.5, 0.5, 1) with and without DRW, the rate constant or multiplied by 0.1 or
0.01 when DRW starts, with Adam (the default) and for a few settings SGD.

Two kinds of fit, both appended to ``benchmarks/results/image_defaults_study/fits.csv``:

* ``test``: every setting trained on a long-tailed training part and scored on its balanced
  test part (balanced accuracy, many/medium/few-shot accuracy, the training-loss curve);
* ``cv``: the candidate defaults scored by stratified 3-fold cross-validation **inside** the
  training part (the test part is not used), one row per fold. The recommended factor and
  ``lam`` are the candidates with the best cross-validated balanced accuracy.

The run is resumable: one CSV line per finished fit, written whole and flushed; a rerun skips
the fits already there and drops a torn last line. Training parts run in order of interest:
ratio 100 at 15 epochs (where DRW at a constant rate collapses) first. ``--summary`` only reads
the CSV and prints the tables of ``docs/image_defaults_study.md``.

Usage, from the repository root::

    python benchmarks/image_defaults_study.py              # the whole study (resumable)
    python benchmarks/image_defaults_study.py --parts 15:100 60:100   # only these budgets:ratios
    python benchmarks/image_defaults_study.py --summary    # tables only
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "image_defaults_study"
CSV_NAME = "fits.csv"

#: epochs budgets and imbalance ratios, as (epochs, ratio) parts in the order they run
PARTS = [(15, 100), (60, 100), (15, 10), (60, 10)]
SEEDS = (0, 1, 2)
N_CLASSES = 10
INNER_FOLDS = 3
#: fraction of max_epochs where DRW starts and where a schedule drops the rate (the papers' 0.8)
DRW_START = 0.8
#: a loss curve "jumped" when it rises above this multiple of its value just before DRW starts
JUMP_FACTOR = 3.0


@dataclass(frozen=True)
class Setting:
    """One training configuration: loss, DRW and the rate's factor from 80% of the epochs."""

    loss: str
    lam: float | None = None  # ELM only
    drw: bool = False
    factor: float = 1.0  # learning rate x factor from DRW_START on (1: constant)
    optimizer: str = "adam"

    @property
    def name(self):
        loss = f"elm{self.lam:g}" if self.loss == "elm" else self.loss
        if self.drw:
            schedule = "-drw" + ("" if self.factor == 1 else f"-x{self.factor:g}")
        else:
            schedule = "" if self.factor == 1 else f"-decay{self.factor:g}"
        return loss + schedule + ("-sgd" if self.optimizer == "sgd" else "")


def _settings():
    settings = [Setting("ce"), Setting("ce", factor=0.1),
                Setting("ldam"), Setting("ldam", factor=0.1)]
    settings += [Setting("ldam", drw=True, factor=f) for f in (1.0, 0.1, 0.01)]
    for lam in (-0.5, 0.5, 1.0):
        settings.append(Setting("elm", lam))
        settings += [Setting("elm", lam, drw=True, factor=f) for f in (1.0, 0.1, 0.01)]
    # without DRW, a decay at 80% for the candidate lam values (the no-DRW half of the grid)
    settings += [Setting("elm", lam, factor=0.1) for lam in (0.5, 1.0)]
    # the papers' optimizer, for a subset
    settings += [Setting("ce", optimizer="sgd"),
                 Setting("ldam", drw=True, factor=0.1, optimizer="sgd"),
                 Setting("elm", 0.5, drw=True, factor=0.1, optimizer="sgd"),
                 Setting("elm", 0.5, drw=True, factor=0.01, optimizer="sgd")]
    return {setting.name: setting for setting in settings}


SETTINGS = _settings()
#: the candidate defaults compared by cross-validation inside the training parts: the
#: factor when DRW starts, lam in {0.5, 1}, and the no-DRW settings the default grid holds;
#: then LDAM's factor, which the same default schedule would set
CV_CANDIDATES = [
    name for lam in (0.5, 1.0) for name in (
        f"elm{lam:g}-drw", f"elm{lam:g}-drw-x0.1", f"elm{lam:g}-drw-x0.01",
        f"elm{lam:g}", f"elm{lam:g}-decay0.1",
    )
] + ["ldam-drw", "ldam-drw-x0.1", "ldam-drw-x0.01"]
#: the settings that differ only in the factor when DRW starts (1, 0.1, 0.01), per loss
FACTOR_FAMILIES = {family: [f"{family}-drw", f"{family}-drw-x0.1", f"{family}-drw-x0.01"]
                   for family in ("elm0.5", "elm1", "ldam")}
COLUMNS = ["kind", "dataset", "epochs", "ratio", "seed", "setting", "fold", "n_train",
           "balanced_accuracy", "many", "medium", "few", "loss_before_drw", "max_loss_ratio",
           "final_loss", "seconds", "correct_per_class", "count_per_class", "train_losses"]
KEY = ["kind", "dataset", "epochs", "ratio", "seed", "setting", "fold"]


# ------------------------------------------------------------------------------------ data
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X, y


def _optdigits_rest():
    """The shipped optdigits images that are not scikit-learn's digits (3,823 of 5,620)."""
    from sklearn_elm.datasets import load_dataset

    source = load_dataset("optdigits")
    # scikit-learn's 1,797 digits are the UCI test part of optdigits: without them the two
    # data sets are disjoint
    digits = {tuple(row) for row in _digits()[0].astype(int).tolist()}
    keep = np.array([tuple(row) not in digits for row in source.data.astype(int).tolist()])
    return source.data[keep], source.target[keep].astype(int)


#: name: (loader, balanced test images per class)
DATASETS = {"digits": (_digits, 50), "optdigits-rest": (_optdigits_rest, 80)}


def _split(X, y, test_per_class, ratio, seed):
    """A balanced test part and a long-tailed training part of the rest (seeded)."""
    from sklearn_elm.datasets import make_long_tailed

    rng = np.random.RandomState(seed)
    test = np.concatenate([rng.choice(np.flatnonzero(y == k), test_per_class, replace=False)
                           for k in range(N_CLASSES)])
    rest = np.setdiff1d(np.arange(y.size), test)
    X_train, y_train = make_long_tailed(X[rest], y[rest], imbalance_ratio=ratio,
                                        random_state=seed)
    return X_train, y_train, X[test], y[test]


def shot_thresholds(counts):
    """``many`` and ``few`` for :func:`~sklearn_elm.metrics.shot_accuracy` on ten classes.

    The 3 most frequent training classes are many-shot, the 3 rarest few-shot and the 4 others
    medium-shot: the literature's 100 and 20 images do not fit parts whose largest class has
    124 or 296 images.
    """
    ordered = np.sort(counts)[::-1]
    return ordered[3], ordered[6]  # many: n > 4th largest; few: n < 7th largest


# ------------------------------------------------------------------------------------ fits
def _estimator(setting, epochs, seed):
    from sklearn_elm import ELMClassifier
    from sklearn_elm.callbacks import WarmupMultiStepLR

    schedule = None
    if setting.factor != 1:
        schedule = WarmupMultiStepLR(warmup_epochs=0, milestones=(DRW_START,),
                                     gamma=setting.factor)
    params = dict(
        module="cnn", input_shape=(1, 8, 8), loss=setting.loss, max_epochs=epochs,
        drw_start=DRW_START if setting.drw else None, lr_schedule=schedule,
        optimizer=setting.optimizer, random_state=seed,
        # a fold's training part may lack a class of one or two images
        classes=np.arange(N_CLASSES),
    )
    if setting.optimizer == "sgd":
        params["lr"] = 0.1  # momentum 0.9 is the "sgd" default
    if setting.lam is not None:
        params["lam"] = setting.lam
    return ELMClassifier(**params)


def _loss_curve(losses, epochs):
    """The loss just before the DRW epoch, the largest ratio after it, and the last loss."""
    start = int(round(DRW_START * epochs))
    before = losses[start - 1]
    return before, float(np.max(losses[start:]) / before), losses[-1]


def _fit_and_score(setting, epochs, seed, X_train, y_train, X_eval, y_eval, shots):
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_elm.metrics import shot_accuracy

    start = time.perf_counter()
    with warnings.catch_warnings():
        # a class absent from a fold's training part: the classifier warns, which is expected
        warnings.simplefilter("ignore", UserWarning)
        clf = _estimator(setting, epochs, seed).fit(X_train, y_train)
        seconds = time.perf_counter() - start
        y_pred = clf.predict(X_eval)
        # and a fold's held-out part may lack a class the network predicts: scored as absent
        balanced_accuracy = balanced_accuracy_score(y_eval, y_pred)
    losses = np.asarray(clf.history_[:, "train_loss"], dtype=float)
    before, ratio, final = _loss_curve(losses, epochs)
    counts = np.bincount(y_eval, minlength=N_CLASSES)
    correct = np.bincount(y_eval[y_pred == y_eval], minlength=N_CLASSES)
    row = {
        "n_train": y_train.size,
        "balanced_accuracy": balanced_accuracy,
        "loss_before_drw": before, "max_loss_ratio": ratio, "final_loss": final,
        "seconds": round(seconds, 2),
        "correct_per_class": ";".join(map(str, correct)),
        "count_per_class": ";".join(map(str, counts)),
        "train_losses": ";".join(f"{v:.4g}" for v in losses),
    }
    if shots:
        train_counts = np.bincount(y_train, minlength=N_CLASSES)
        many, few = shot_thresholds(train_counts)
        scores = shot_accuracy(y_eval, y_pred, train_counts, many=many, few=few)
        row.update(many=scores["many"], medium=scores["medium"], few=scores["few"])
    return row


def _jobs(data, epochs, ratio, seed):
    """Every fit of one training part: the test fits, then the cross-validation folds."""
    from sklearn.model_selection import StratifiedKFold

    X, y = data["X"], data["y"]
    X_train, y_train, X_test, y_test = _split(X, y, data["test_per_class"], ratio, seed)
    for name, setting in SETTINGS.items():
        yield ("test", name, -1), (setting, X_train, y_train, X_test, y_test, True)
    folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # ratio 100 leaves tail classes with fewer images than folds: scikit-learn warns, and
        # such a class is scored in the folds that hold it
        warnings.simplefilter("ignore", UserWarning)
        splits = list(folds.split(X_train, y_train))
    for name in CV_CANDIDATES:
        for fold, (fit, held_out) in enumerate(splits):
            yield ("cv", name, fold), (SETTINGS[name], X_train[fit], y_train[fit],
                                       X_train[held_out], y_train[held_out], False)


def _read_done(path):
    """The keys of the rows already in ``path``; a torn last line is cut off first."""
    if not path.exists():
        return set()
    text = path.read_text()
    if text and not text.endswith("\n"):
        # an interrupted write: keep the complete lines only
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
    if not text:
        return set()
    frame = pd.read_csv(io.StringIO(text))
    return {tuple(str(v) for v in key) for key in frame[KEY].itertuples(index=False)}


def _append(path, row):
    new = not path.exists() or path.stat().st_size == 0
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    if new:
        writer.writeheader()
    writer.writerow(row)
    with open(path, "a") as handle:  # one write of whole lines, then flush
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())


def run(parts=PARTS, seeds=SEEDS, out=OUT, log=print):
    out.mkdir(parents=True, exist_ok=True)
    path = out / CSV_NAME
    done = _read_done(path)
    datasets = {}
    for name, (loader, test_per_class) in DATASETS.items():
        X, y = loader()
        datasets[name] = {"X": (X / 16.0).astype(np.float32), "y": y.astype(int),
                          "test_per_class": test_per_class}
    for epochs, ratio in parts:
        for seed, (name, data) in itertools.product(seeds, datasets.items()):
            for (kind, setting, fold), args in _jobs(data, epochs, ratio, seed):
                key = {"kind": kind, "dataset": name, "epochs": epochs, "ratio": ratio,
                       "seed": seed, "setting": setting, "fold": fold}
                if tuple(str(v) for v in key.values()) in done:
                    continue
                row = {**key, **_fit_and_score(args[0], epochs, seed, *args[1:])}
                _append(path, row)
                log(f"{kind} {name} epochs={epochs} ratio={ratio} seed={seed} {setting} "
                    f"fold={fold}: {row['balanced_accuracy']:.3f} in {row['seconds']:.1f} s")
    return path


# ------------------------------------------------------------------------------------ summary
def _pooled_balanced_accuracy(folds):
    """Balanced accuracy of the out-of-fold predictions of all folds together."""
    correct = np.sum([np.array(c.split(";"), dtype=int) for c in folds["correct_per_class"]], 0)
    count = np.sum([np.array(c.split(";"), dtype=int) for c in folds["count_per_class"]], 0)
    return float(np.mean(correct[count > 0] / count[count > 0]))


def _mean_sd(values):
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else (
        f"{values.mean():.3f}")


def _loss_ratios(row):
    """(loss of the first DRW epoch / loss just before it, largest later loss / the former)."""
    losses = np.array(row["train_losses"].split(";"), dtype=float)
    start = int(round(DRW_START * row["epochs"]))
    return losses[start] / losses[start - 1], losses[start + 1:].max() / losses[start]


def _test_table(test):
    rows = []
    for name in SETTINGS:
        part = test[test["setting"] == name]
        if part.empty:
            continue
        at_start, after = np.array([_loss_ratios(row) for _, row in part.iterrows()]).T
        rows.append({
            "setting": name, "seeds": len(part),
            "balanced accuracy": _mean_sd(part["balanced_accuracy"]),
            "many": part["many"].mean(), "medium": part["medium"].mean(),
            "few": part["few"].mean(),
            "loss × at 80%": np.median(at_start),
            "loss × after (max)": after.max(),
            f"rose > {JUMP_FACTOR:g}×": f"{int((after > JUMP_FACTOR).sum())}/{len(part)}",
        })
    return pd.DataFrame(rows).set_index("setting")


def _cv_scores(cv):
    """One pooled out-of-fold balanced accuracy per (training part, candidate) with 3 folds."""
    group = ["dataset", "epochs", "ratio", "seed", "setting"]
    complete = cv.groupby(group).filter(lambda folds: len(folds) == INNER_FOLDS)
    scores = complete.groupby(group).apply(_pooled_balanced_accuracy, include_groups=False)
    matrix = scores.unstack("setting")
    return matrix[[c for c in CV_CANDIDATES if c in matrix.columns]]


def _cv_table(matrix):
    ranks = matrix.rank(axis=1, ascending=False, method="average")
    best = matrix.idxmax(axis=1).value_counts().reindex(matrix.columns, fill_value=0)
    return pd.DataFrame({"mean CV balanced accuracy": matrix.mean(), "mean rank": ranks.mean(),
                         "best in parts": best}).sort_values("mean rank")


def _cv_choices(matrix):
    """The factor, lam and DRW-axis choices from the candidates' cross-validated scores."""
    lines = ["\n### What the CV chooses\n"]
    factors = ["1 (constant)", "0.1", "0.01"]
    table = pd.DataFrame(index=factors)
    for family, names in FACTOR_FAMILIES.items():
        scores = matrix[names].dropna()  # the parts where the family's three fits finished
        ranks = scores.rank(axis=1, ascending=False, method="average")
        table[f"{family}: score ({len(scores)} parts)"] = scores.mean().values
        table[f"{family}: rank"] = ranks.mean().values
    table["mean rank"] = table[[f"{family}: rank" for family in FACTOR_FAMILIES]].mean(axis=1)
    lines.append("Rate factor when DRW starts, per loss: mean CV score, and mean rank among "
                 "the three factors (1 = best in a training part):\n")
    lines.append(table.to_markdown(floatfmt=".3f"))
    factor = table["mean rank"].idxmin()
    matrix = matrix[[c for c in matrix.columns if c.startswith("elm")]].dropna()
    suffix = {"1 (constant)": "-drw", "0.1": "-drw-x0.1", "0.01": "-drw-x0.01"}[factor]
    lines.append(f"\n- chosen factor (lowest mean rank over the three losses): {factor}")
    half, one = matrix[f"elm0.5{suffix}"], matrix[f"elm1{suffix}"]
    lines.append(f"- lam at that factor: lam=0.5 {half.mean():.3f}, lam=1 {one.mean():.3f}; "
                 f"lam=0.5 higher in {int((half > one).sum())} of {len(matrix)} parts, "
                 f"mean difference {(half - one).mean():+.4f}")
    for lam in ("0.5", "1"):
        constant, decay = matrix[f"elm{lam}"], matrix[f"elm{lam}-decay0.1"]
        lines.append(f"- without DRW, lam={lam}: constant {constant.mean():.3f}, decay x0.1 at "
                     f"80% {decay.mean():.3f} (decay higher in {int((decay > constant).sum())} "
                     f"of {len(matrix)} parts)")
    with_drw = [f"elm{lam}{suffix}" for lam in ("0.5", "1")]
    without = [f"elm{lam}{tail}" for lam in ("0.5", "1") for tail in ("", "-decay0.1")]
    both = matrix[with_drw + without].max(axis=1)
    gap = both - matrix[with_drw].max(axis=1)
    lines.append(f"- DRW axis (lam in {{0.5, 1}}, DRW at factor {factor} against no DRW, constant "
                 f"or decayed): a no-DRW candidate is the best in "
                 f"{int((gap > 0).sum())} of {len(matrix)} parts; dropping the no-DRW "
                 f"candidates costs the best of the grid {gap.mean():.4f} on average "
                 f"(largest {gap.max():.4f})")
    gap = both - matrix[without].max(axis=1)
    lines.append(f"- dropping the DRW candidates instead costs {gap.mean():.4f} on average "
                 f"(largest {gap.max():.4f}; a DRW candidate is the best in "
                 f"{int((gap > 0).sum())} of {len(matrix)} parts)")
    return lines


def _paired(test, first, second):
    """Mean of (second - first) test balanced accuracy over the parts both ran, and wins."""
    index = ["dataset", "epochs", "ratio", "seed"]
    a = test[test["setting"] == first].set_index(index)["balanced_accuracy"]
    b = test[test["setting"] == second].set_index(index)["balanced_accuracy"]
    both = a.index.intersection(b.index)
    diff = b[both] - a[both]
    return f"{diff.mean():+.3f} ({int((diff > 0).sum())} of {len(diff)} better)"


def summary(out=OUT):
    frame = pd.read_csv(out / CSV_NAME)
    test = frame[frame["kind"] == "test"]
    cv = frame[frame["kind"] == "cv"]
    lines = ["## Progress\n"]
    progress = frame.groupby(["epochs", "ratio", "kind"]).size().unstack("kind", fill_value=0)
    expected = {"test": len(SETTINGS) * len(DATASETS) * len(SEEDS),
                "cv": len(CV_CANDIDATES) * INNER_FOLDS * len(DATASETS) * len(SEEDS)}
    progress = progress.reindex(columns=list(expected), fill_value=0)
    lines.append(progress.assign(**{f"{k} expected": v for k, v in expected.items()})
                 .to_markdown())
    lines.append(f"\nFit seconds in all: {frame['seconds'].sum():.0f} "
                 f"(test {test['seconds'].sum():.0f}, cv {cv['seconds'].sum():.0f}).\n")

    everything = _cv_scores(cv)
    matrix = everything.dropna()  # the training parts where every candidate finished
    lines.append(f"## Cross-validation inside the training parts ({len(matrix)} parts)\n")
    lines.append(_cv_table(matrix).to_markdown(floatfmt=".3f"))
    for (epochs, ratio), part in matrix.groupby(level=["epochs", "ratio"]):
        lines.append(f"\n### CV, {epochs} epochs, ratio {ratio} ({len(part)} parts)\n")
        lines.append(_cv_table(part).to_markdown(floatfmt=".3f"))
    if len(matrix):
        lines += _cv_choices(everything)

    lines.append("\n## Paired test differences (second minus first, all parts)\n")
    pairs = [("ldam-drw", "ldam-drw-x0.1"), ("ldam-drw", "ldam-drw-x0.01"),
             ("ldam-drw-x0.1", "ldam-drw-x0.01"),
             ("elm1-drw", "elm1-drw-x0.1"), ("elm1-drw-x0.1", "elm1-drw-x0.01"),
             ("elm0.5-drw", "elm0.5-drw-x0.1"), ("elm0.5-drw-x0.1", "elm0.5-drw-x0.01"),
             ("elm1-drw-x0.1", "elm0.5-drw-x0.1"), ("elm1-drw-x0.01", "elm0.5-drw-x0.01"),
             ("ce", "ce-decay0.1"), ("ldam", "ldam-decay0.1"), ("elm0.5", "elm0.5-decay0.1"),
             ("elm1", "elm1-decay0.1"), ("ce", "ldam-drw-x0.1"), ("ce", "elm0.5-drw-x0.1"),
             ("elm0.5", "elm0.5-drw-x0.1"), ("elm1", "elm1-drw-x0.1"),
             ("ldam-drw-x0.1", "elm0.5-drw-x0.1"),
             ("ldam-drw-x0.1-sgd", "ldam-drw-x0.1"), ("elm0.5-drw-x0.1-sgd", "elm0.5-drw-x0.1")]
    for (epochs, ratio), part in test.groupby(["epochs", "ratio"]):
        lines.append(f"\n{epochs} epochs, ratio {ratio}:\n")
        lines += [f"- {a} → {b}: {_paired(part, a, b)}" for a, b in pairs]

    lines.append("\n## Test balanced accuracy, mean over datasets and seeds\n")
    overview = test.pivot_table(index="setting", columns=["epochs", "ratio"],
                                values="balanced_accuracy", aggfunc="mean")
    overview = overview.reindex([s for s in SETTINGS if s in overview.index])
    overview.columns = [f"{e} ep, ratio {r}" for e, r in overview.columns]
    lines.append(overview.to_markdown(floatfmt=".3f"))

    lines.append("\n## Loss curves after 80%, all test fits\n")
    after = test.apply(lambda row: _loss_ratios(row)[1], axis=1)
    rose = (after > JUMP_FACTOR).groupby(test["setting"])
    curves = pd.DataFrame({"fits": rose.size(), f"rose > {JUMP_FACTOR:g}×": rose.sum(),
                           "max ratio": after.groupby(test["setting"]).max().map("{:.1f}".format)})
    lines.append(curves.reindex([s for s in SETTINGS if s in curves.index]).to_markdown())

    lines.append("\n## Test tables per dataset, ratio and budget\n")
    for (dataset, ratio, epochs), part in test.groupby(["dataset", "ratio", "epochs"]):
        counts = part["n_train"].iloc[0]
        lines.append(f"\n### {dataset}, ratio {ratio}, {epochs} epochs "
                     f"({counts} training images with seed {part['seed'].min()})\n")
        lines.append(_test_table(part).to_markdown(floatfmt=".3f"))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="only print the tables")
    parser.add_argument("--parts", nargs="+", default=[f"{e}:{r}" for e, r in PARTS],
                        help="EPOCHS:RATIO parts to run, in this order")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args(argv)
    if not args.summary:
        import torch

        torch.set_num_threads(1)  # one core: the machine is shared
        parts = [tuple(int(v) for v in part.split(":")) for part in args.parts]
        start = time.perf_counter()
        run(parts, args.seeds, log=lambda m: print(m, file=sys.stderr, flush=True))
        print(f"study wall time {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(summary())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
