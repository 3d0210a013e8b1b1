"""Tiny dataset files for the benchmark tests: KEEL ``.dat`` and header-less ``.csv``."""

import numpy as np


def write_keel(path, relation, n_negative, n_positive, rng, with_missing=False):
    """A two-feature KEEL file with a nominal attribute, the positives shifted by 2."""
    rows = []
    for label, n in (("negative", n_negative), ("positive", n_positive)):
        shift = 0.0 if label == "negative" else 2.0
        for _ in range(n):
            x1, x2 = rng.normal(shift, 1.0, size=2)
            rows.append(f"{x1:.4f}, {x2:.4f}, {rng.choice(['a', 'b'])}, {label}")
    if with_missing:
        rows[0] = "<null>, " + rows[0].split(", ", 1)[1]
        rows[-1] = rows[-1].replace(", a,", ", ?,").replace(", b,", ", ?,")
    path.write_text(
        f"@relation {relation}\n"
        "@attribute x1 real [-10.0, 10.0]\n"
        "@attribute x2 real [-10.0, 10.0]\n"
        "@attribute colour {a, b}\n"
        "@attribute Class {positive, negative}\n"
        "@inputs x1, x2, colour\n"
        "@outputs Class\n"
        "@data\n" + "\n".join(rows) + "\n"
    )


def write_csv(path, n_per_class, n_classes, rng, n_features=3):
    """A balanced multi-class CSV, class last, classes ``c0 .. c{k-1}`` apart by 3."""
    lines = []
    for k in range(n_classes):
        centre = 3.0 * np.eye(max(n_features, n_classes))[k, :n_features] + k
        for x in rng.normal(centre, 1.0, size=(n_per_class, n_features)):
            lines.append(",".join(f"{v:.4f}" for v in x) + f",c{k}")
    path.write_text("\n".join(lines) + "\n")


def record_cells_run(monkeypatch):
    """Record ``(method, tuned, repeat, fold)`` of every cell the benchmark evaluates.

    Returns the list the records go to; the cells still run.
    """
    from sklearn_elm.benchmark import _runner

    ran = []
    evaluate = _runner._evaluate_cell

    def spy(dataset, method, estimator, repeat, fold, train, test, seed, cell_settings):
        ran.append((method, cell_settings["tuned"], repeat, fold))
        return evaluate(dataset, method, estimator, repeat, fold, train, test, seed,
                        cell_settings)  # fmt: skip

    monkeypatch.setattr(_runner, "_evaluate_cell", spy)
    return ran
