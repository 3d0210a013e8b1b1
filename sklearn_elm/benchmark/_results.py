"""The results folder of a benchmark: ``results.csv``, ``per_class.csv``, ``protocol.json``.

Rows are appended as cells finish, so that an interrupted run resumes where it stopped; the
protocol file makes sure that a resumed run is the same experiment.
"""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

__all__ = [
    "CELL_KEYS",
    "PER_CLASS_COLUMNS",
    "RESULT_COLUMNS",
    "ProtocolMismatchError",
    "append_rows",
    "check_protocol",
    "package_versions",
    "read_per_class",
    "read_results",
]

SCORE_COLUMNS = (
    "balanced_accuracy",
    "macro_f1",
    "g_mean",
    "roc_auc",
    "many_shot_accuracy",
    "medium_shot_accuracy",
    "few_shot_accuracy",
)
RESULT_COLUMNS = [
    "dataset",
    "method",
    "tuned",
    "repeat",
    "fold",
    "seed",
    *SCORE_COLUMNS,
    "fit_time",
    "predict_time",
    "n_train",
    "n_test",
    "best_params",
    "error",
    "note",
]
PER_CLASS_COLUMNS = [
    "dataset",
    "method",
    "tuned",
    "repeat",
    "fold",
    "class",
    "train_count",
    "accuracy",
]
CELL_KEYS = ["dataset", "method", "tuned", "repeat", "fold"]
_TEXT_COLUMNS = ("best_params", "error", "note")
_PACKAGES = ("numpy", "scipy", "scikit-learn", "imbalanced-learn", "torch", "skorch", "sklearn-elm")
# protocol entries that are dictionaries of names, merged when a run adds datasets or methods
_MERGED = ("datasets", "methods")
# protocol entries that are lists, extended by each invocation and never compared: a folder
# may be resumed on another machine, but float32 rounding differs between CPUs, so it says which
_ACCUMULATED = ("processors",)


class ProtocolMismatchError(ValueError):
    """A results folder holds the results of another protocol."""


def package_versions():
    """Python and the versions of the packages that make the scores.

    Returns
    -------
    versions : dict
        ``{"python": ..., "numpy": ..., ...}``, "not installed" for a missing package.
    """
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _read_csv(path, columns, keys, last_required):
    """Rows of a results file, without the cut or repeated rows an interrupted run leaves."""
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=columns)
    # A run killed mid-line leaves a cut last row: too many fields once the next row is
    # appended (skipped), or too few (missing ``last_required``, dropped); the cell is redone.
    frame = pd.read_csv(
        path, on_bad_lines="skip", dtype={"class": str, **dict.fromkeys(_TEXT_COLUMNS, str)}
    )
    frame = frame.dropna(subset=[last_required])
    # a cut row read as NaN made integer columns float; give them back their type
    integers = [
        c for c in ("repeat", "fold", "seed", "n_train", "n_test", "train_count") if c in frame
    ]
    frame = frame.astype(dict.fromkeys(integers, "int64"))
    if "tuned" in frame:
        frame["tuned"] = frame["tuned"].astype(str).str.lower().eq("true")
    for column in _TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].fillna("")
    frame = frame.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)
    with open(path) as file:
        n_rows = sum(1 for _ in file) - 1
    if n_rows != len(frame):  # leave a clean file for the user and for appending
        frame.to_csv(path, index=False)
    return frame


def read_results(out_dir):
    """``results.csv`` of a benchmark folder, cells in the order they finished.

    Parameters
    ----------
    out_dir : str or path-like
        The folder.

    Returns
    -------
    results : DataFrame
        Columns :data:`RESULT_COLUMNS`; empty when the folder has no results yet.
    """
    return _read_csv(Path(out_dir) / "results.csv", RESULT_COLUMNS, CELL_KEYS, "n_test")


def read_per_class(out_dir):
    """``per_class.csv`` of a benchmark folder (one row per cell and class).

    Parameters
    ----------
    out_dir : str or path-like
        The folder.

    Returns
    -------
    per_class : DataFrame
    """
    return _read_csv(
        Path(out_dir) / "per_class.csv",
        PER_CLASS_COLUMNS,
        [*CELL_KEYS, "class"],
        "train_count",
    )


def append_rows(path, rows, columns):
    """Append rows to a CSV file, writing the header if it is new.

    Parameters
    ----------
    path : Path
        The file.
    rows : list of dict
        Rows to append.
    columns : list of str
        Column order.
    """
    if not rows:
        return
    header = not path.exists() or path.stat().st_size == 0
    if not header:
        with open(path, "rb") as file:  # finish a line cut by an interrupted run
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                with open(path, "a") as fix:
                    fix.write("\n")
    pd.DataFrame(rows, columns=columns).to_csv(path, mode="a", header=header, index=False)


def check_protocol(out_dir, protocol):
    """Write ``protocol.json``, or refuse to mix its results with those of another protocol.

    Every entry must equal the one already in the folder, except ``datasets``, ``methods``
    and ``processors``: a resumed run may add datasets or methods, but one already there must
    have the same hash (a dataset) or the same definition (a method); ``processors`` lists the
    processors of every invocation that wrote to the folder.

    Parameters
    ----------
    out_dir : Path
        The results folder.
    protocol : dict
        JSON-ready description of the run.

    Raises
    ------
    ProtocolMismatchError
        If the folder holds results of another protocol; the message names what differs.
    """
    path = Path(out_dir) / "protocol.json"
    protocol = json.loads(json.dumps(protocol))  # tuples as lists, as they are read back
    if path.exists():
        previous = json.loads(path.read_text())
        changed = {
            key: (previous.get(key), protocol.get(key))
            for key in sorted(protocol.keys() | previous.keys())
            if key not in _MERGED + _ACCUMULATED and previous.get(key) != protocol.get(key)
        }
        for key in _MERGED:
            before, now = previous.get(key, {}), protocol.get(key, {})
            for name in sorted(before.keys() & now.keys()):
                if before[name] != now[name]:
                    changed[f"{key[:-1]} {name}"] = (before[name], now[name])
        if changed:
            lines = [f"  {key}: {old!r} there, {new!r} now" for key, (old, new) in changed.items()]
            if "batched" in changed:
                how = "--no-batched" if protocol.get("batched") else "--batched"
                lines.append(f"  (its networks were trained otherwise: resume it with {how})")
            raise ProtocolMismatchError(
                f"{out_dir} holds results of another protocol; what differs:\n"
                + "\n".join(lines)
                + "\nuse another --out to keep both, or delete the folder to start over"
            )
        for key in _MERGED:
            protocol[key] = {**previous.get(key, {}), **protocol.get(key, {})}
        for key in _ACCUMULATED:
            before = previous.get(key, [])
            protocol[key] = before + [item for item in protocol.get(key, []) if item not in before]
    path.write_text(json.dumps(protocol, indent=2) + "\n")
