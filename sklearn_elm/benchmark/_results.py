"""The results folder of a benchmark: ``results.csv``, ``per_class.csv``, ``protocol.json``.

Rows are appended as cells finish, so that an interrupted run resumes where it stopped; the
protocol file makes sure that a resumed run is the same experiment.

Each row ends with a ``checksum`` field, the CRC-32 of the rest of its line: a row cut by an
interrupted run (``n_test`` 42 instead of 423) or altered afterwards no longer matches it, and
is dropped, so that its cell runs again. Files written before the checksum existed are read
too: their rows count as complete when they have every field, of the right type, and end with
a line break.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import tempfile
import warnings
import zlib
from importlib.metadata import PackageNotFoundError, version
from io import StringIO
from pathlib import Path

import pandas as pd

__all__ = [
    "CELL_KEYS",
    "CHECKSUM_COLUMN",
    "PER_CLASS_COLUMNS",
    "RESULT_COLUMNS",
    "ProtocolMismatchError",
    "ResultsFolderError",
    "append_rows",
    "check_protocol",
    "load_results_folder",
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
#: the last field of every row: ``crc32:`` and 8 hex digits (never read as a number)
CHECKSUM_COLUMN = "checksum"
_CHECKSUM_PREFIX = "crc32:"
RESULTS_FILE, PER_CLASS_FILE, PROTOCOL_FILE = "results.csv", "per_class.csv", "protocol.json"
_TEXT_COLUMNS = ("best_params", "error", "note")
_INTEGER_COLUMNS = ("repeat", "fold", "seed", "n_train", "n_test", "train_count")
_FLOAT_COLUMNS = (*SCORE_COLUMNS, "fit_time", "predict_time", "accuracy")
_REQUIRED_COLUMNS = ("dataset", "method", "tuned", *_INTEGER_COLUMNS)
_PACKAGES = ("numpy", "scipy", "scikit-learn", "imbalanced-learn", "torch", "skorch", "sklearn-elm")
# protocol entries that are dictionaries of names, merged when a run adds datasets or methods
_MERGED = ("datasets", "methods")
# protocol entries that are lists, extended by each invocation and never compared: a folder
# may be resumed on another machine, but float32 rounding differs between CPUs, so it says which
_ACCUMULATED = ("processors",)
# line numbers named in a message about dropped rows, before "and N more"
_LINES_SHOWN = 10


class ResultsFolderError(ValueError):
    """A results folder that cannot be read or resumed as it is; the message says why."""


class ProtocolMismatchError(ResultsFolderError):
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


def _checksum(body):
    return f"{_CHECKSUM_PREFIX}{zlib.crc32(body.encode('utf-8')):08x}"


def _is_number(text, integer):
    try:
        value = float(text)
    except ValueError:
        return False
    return not integer or (value == value and value == int(value))


def _row_problem(fields, columns):
    """Why the fields of one line are not a complete row of ``columns``; None when they are."""
    if len(fields) != len(columns):
        return f"{len(fields)} fields instead of {len(columns)}"
    row = dict(zip(columns, fields, strict=True))
    empty = [name for name in _REQUIRED_COLUMNS if name in row and row[name] == ""]
    if empty:
        return f"no {empty[0]}"
    if "tuned" in row and row["tuned"] not in ("True", "False"):
        return f"tuned is {row['tuned']!r}, not True or False"
    for name in _INTEGER_COLUMNS:
        if name in row and not _is_number(row[name], integer=True):
            return f"{name} is {row[name]!r}, not an integer"
    for name in _FLOAT_COLUMNS:
        if name in row and row[name] != "" and not _is_number(row[name], integer=False):
            return f"{name} is {row[name]!r}, not a number"
    return None


class _Table:
    """The complete rows of one results file, and what was wrong with the others.

    Attributes
    ----------
    frame : DataFrame
        The rows, typed, one per key (the last one written wins), without the checksum.
    lines : list of str
        The text of the kept rows, each ending with its checksum, for a clean rewrite.
    dropped : list of tuple
        ``(line number, reason)`` of each torn or damaged row.
    clean : bool
        Whether the file is already as a rewrite would leave it.
    """

    def __init__(self, path, columns, keys):
        self.path, self.columns, self.keys = path, columns, keys
        self.lines, self.dropped, self.clean = [], [], True
        self.frame = self._read()

    def _read(self):
        path, columns = self.path, self.columns
        if not path.exists() or path.stat().st_size == 0:
            return self._typed(pd.DataFrame(columns=columns))
        text = path.read_bytes().decode("utf-8", errors="replace")
        lines = text.split("\n")
        # the file ends with a line break, or its last line was cut (or ends just before one)
        last_is_cut = lines[-1] != ""
        if not last_is_cut:
            lines.pop()
        header = lines[0].rstrip("\r")
        new_header = ",".join([*columns, CHECKSUM_COLUMN])
        if header not in (new_header, ",".join(columns)):
            if len(lines) == 1 and new_header.startswith(header):
                self.clean = False  # the header itself was cut: no row was written yet
                self.dropped.append((1, "the header line is cut short"))
                return self._typed(pd.DataFrame(columns=columns))
            raise ResultsFolderError(
                f"{path} is not a results file of sklearn-elm benchmark: its first line should "
                f"be the header {new_header!r}, got {header[:200]!r}. Move the file away (or use "
                "another --out) to start over, or restore it from a backup"
            )
        with_checksum = header == new_header
        self.clean = with_checksum
        bodies = []
        for number, line in enumerate(lines[1:], start=2):
            line = line.rstrip("\r")
            if not line:
                self.clean = False
                continue
            reason = None
            if with_checksum:
                body, _, checksum = line.rpartition(",")
                if checksum != _checksum(body):
                    reason = "cut short or altered after it was written (its checksum differs)"
            else:
                body = line
                if last_is_cut and number == len(lines):
                    # every row used to end with a line break: one without is cut short
                    reason = "cut short (no line break after it)"
            if reason is None:
                try:
                    fields = next(csv.reader([body], strict=True))
                except csv.Error as exc:
                    fields, reason = None, f"not a CSV row ({exc})"
                if fields is not None:
                    reason = _row_problem(fields, columns)
            if reason is not None:
                self.clean = False
                self.dropped.append((number, reason))
                continue
            bodies.append(body)
            self.lines.append(line if with_checksum else f"{body},{_checksum(body)}")
        frame = pd.read_csv(
            StringIO("\n".join([",".join(columns), *bodies]) + "\n"),
            dtype={"class": str, **dict.fromkeys(_TEXT_COLUMNS, str)},
            keep_default_na=False,
            na_values={name: [""] for name in columns if name not in ("class", *_TEXT_COLUMNS)},
        )
        frame = self._typed(frame)
        # a cell run again (after a damaged row, or with per-class rows missing): newest wins
        latest = ~frame.duplicated(subset=self.keys, keep="last").to_numpy()
        if not latest.all():
            self.clean = False
            self.lines = [line for line, keep in zip(self.lines, latest, strict=True) if keep]
            frame = frame[latest]
        return frame.reset_index(drop=True)

    def _typed(self, frame):
        frame = frame.astype({c: "int64" for c in _INTEGER_COLUMNS if c in frame})
        if "tuned" in frame:
            frame["tuned"] = frame["tuned"].astype(str).str.lower().eq("true")
        for column in (c for c in (*_TEXT_COLUMNS, "class") if c in frame):
            frame[column] = frame[column].fillna("").astype(str)
        return frame

    def message(self):
        """One line on the dropped rows, or None when there were none."""
        if not self.dropped:
            return None
        shown = "; ".join(f"line {n}: {reason}" for n, reason in self.dropped[:_LINES_SHOWN])
        more = len(self.dropped) - _LINES_SHOWN
        if more > 0:
            shown += f"; and {more} more"
        return (
            f"{self.path}: {len(self.dropped)} damaged row(s) left out ({shown}); "
            "a resumed run drops them from the file and runs their cells again"
        )

    def rewrite(self):
        """Replace the file by its kept rows, with checksums, atomically."""
        header = ",".join([*self.columns, CHECKSUM_COLUMN])
        _write_atomically(self.path, "\n".join([header, *self.lines]) + "\n")
        self.clean = True


def _write_atomically(path, text):
    """Write a file through a temporary one and ``os.replace``: never half written."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(out_dir, name, columns, keys):
    table = _Table(Path(out_dir) / name, columns, keys)
    message = table.message()
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=3)
    return table.frame


def read_results(out_dir):
    """``results.csv`` of a benchmark folder, cells in the order they finished.

    A row cut short by an interrupted run or altered afterwards (see the module's
    description) is left out with a ``UserWarning`` naming the file and its line; the file is
    never changed. When a cell has several rows (it was run again), the last one is kept.

    Parameters
    ----------
    out_dir : str or path-like
        The folder.

    Returns
    -------
    results : DataFrame
        Columns :data:`RESULT_COLUMNS`; empty when the folder has no results yet.

    Raises
    ------
    ResultsFolderError
        If ``results.csv`` is not a results file (its header is not the expected one).
    """
    return _read(out_dir, RESULTS_FILE, RESULT_COLUMNS, CELL_KEYS)


def read_per_class(out_dir):
    """``per_class.csv`` of a benchmark folder (one row per cell and class).

    Damaged and repeated rows are handled as by :func:`read_results`.

    Parameters
    ----------
    out_dir : str or path-like
        The folder.

    Returns
    -------
    per_class : DataFrame
        Columns :data:`PER_CLASS_COLUMNS`.

    Raises
    ------
    ResultsFolderError
        If ``per_class.csv`` is not a per-class results file.
    """
    return _read(out_dir, PER_CLASS_FILE, PER_CLASS_COLUMNS, [*CELL_KEYS, "class"])


def load_results_folder(out_dir, log):
    """Both results files of a folder about to be resumed, rewritten clean where needed.

    Damaged rows are dropped from the files (``log`` says which, by file and line), a cell's
    older rows are dropped for its newest, and a file of an earlier version gets its checksums,
    so that appended rows follow complete ones.

    Parameters
    ----------
    out_dir : Path
        The results folder.
    log : callable
        Receives one message per file with damaged rows.

    Returns
    -------
    results, per_class : DataFrame
        As :func:`read_results` and :func:`read_per_class` return them.
    """
    frames = []
    for name, columns, keys in (
        (RESULTS_FILE, RESULT_COLUMNS, CELL_KEYS),
        (PER_CLASS_FILE, PER_CLASS_COLUMNS, [*CELL_KEYS, "class"]),
    ):
        table = _Table(Path(out_dir) / name, columns, keys)
        message = table.message()
        if message is not None:
            log(message)
        if not table.clean:
            table.rewrite()
        frames.append(table.frame)
    return tuple(frames)


def _single_line(value):
    return " ".join(value.splitlines()) if isinstance(value, str) else value


def append_rows(path, rows, columns):
    """Append rows to a results file, each ending with its checksum; the header if it is new.

    Parameters
    ----------
    path : Path
        The file.
    rows : list of dict
        Rows to append; line breaks inside text values become spaces (one line per row).
    columns : list of str
        Column order.
    """
    if not rows:
        return
    path = Path(path)
    rows = [{name: _single_line(row.get(name)) for name in columns} for row in rows]
    frame = pd.DataFrame(rows, columns=columns)
    bodies = frame.to_csv(index=False, header=False, lineterminator="\n")
    text = "".join(f"{body},{_checksum(body)}\n" for body in bodies.splitlines())
    if not path.exists() or path.stat().st_size == 0:
        text = ",".join([*columns, CHECKSUM_COLUMN]) + "\n" + text
    else:
        with open(path, "rb") as file:  # a last row without its line break is still whole
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                text = "\n" + text
    with open(path, "a", encoding="utf-8", newline="") as file:
        file.write(text)
        file.flush()


def _has_rows(path):
    """Whether a results file holds anything past its header line."""
    if not path.exists():
        return False
    with open(path, "rb") as file:
        file.readline()
        return bool(file.read(1))


def check_protocol(out_dir, protocol):
    """Write ``protocol.json``, or refuse to mix its results with those of another protocol.

    Every entry must equal the one already in the folder, except ``datasets``, ``methods``
    and ``processors``: a resumed run may add datasets or methods, but one already there must
    have the same hash (a dataset) or the same definition (a method); ``processors`` lists the
    processors of every invocation that wrote to the folder. The file is replaced atomically.

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
    ResultsFolderError
        If the folder holds results but no ``protocol.json`` (nothing says which settings
        made them), or a ``protocol.json`` that is not valid JSON.
    """
    path = Path(out_dir) / PROTOCOL_FILE
    protocol = json.loads(json.dumps(protocol))  # tuples as lists, as they are read back
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResultsFolderError(
                f"{path} is damaged ({exc}), so nothing says which settings made the results "
                f"of {out_dir}. Restore it, or use another --out (or delete the folder) to "
                "start over"
            ) from None
        if not isinstance(previous, dict):
            raise ResultsFolderError(
                f"{path} is not a protocol file (not a JSON object). Restore it, or use "
                "another --out (or delete the folder) to start over"
            )
        _compare_protocols(out_dir, previous, protocol)
        for key in _MERGED:
            protocol[key] = {**previous.get(key, {}), **protocol.get(key, {})}
        for key in _ACCUMULATED:
            before = previous.get(key, [])
            protocol[key] = before + [item for item in protocol.get(key, []) if item not in before]
    else:
        with_rows = [
            name for name in (RESULTS_FILE, PER_CLASS_FILE) if _has_rows(Path(out_dir) / name)
        ]
        if with_rows:
            raise ResultsFolderError(
                f"{path} is missing, but {' and '.join(with_rows)} of {out_dir} hold results: "
                "nothing says which settings made them, so they cannot be resumed (nor "
                "relabelled with this run's settings). Restore protocol.json, or use another "
                "--out (or delete the folder) to start over"
            )
    _write_atomically(path, json.dumps(protocol, indent=2) + "\n")


def _difference(before, now):
    """``(before, now)``, narrowed to the entries that differ where both are dicts."""
    if before == "built-in" and isinstance(now, dict):
        return ("built-in, as an earlier version defined it (its parameters were not "
                "recorded)", "this version's definition")
    if not (isinstance(before, dict) and isinstance(now, dict)):
        return before, now
    keys = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    narrowed = [_difference(before.get(k), now.get(k)) for k in keys]
    return ({k: old for k, (old, _) in zip(keys, narrowed, strict=True)},
            {k: new for k, (_, new) in zip(keys, narrowed, strict=True)})


def _compare_protocols(out_dir, previous, protocol):
    changed = {
        key: (previous.get(key), protocol.get(key))
        for key in sorted(protocol.keys() | previous.keys())
        if key not in _MERGED + _ACCUMULATED and previous.get(key) != protocol.get(key)
    }
    for key in _MERGED:
        before, now = previous.get(key, {}), protocol.get(key, {})
        for name in sorted(before.keys() & now.keys()):
            if before[name] != now[name]:
                changed[f"{key[:-1]} {name}"] = _difference(before[name], now[name])
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
