"""The ``sklearn-elm`` command line; ``benchmark`` is its subcommand."""

from __future__ import annotations

import argparse
import math
import shlex
import socket
import sys
import time
from pathlib import Path

from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from ..classifier import ELMClassifier
from ._methods import METHODS, NETWORK_PARAMS
from ._results import ResultsFolderError, read_per_class
from ._runner import METRICS, RUN_PARAMETER_CONSTRAINTS, print_stderr, run_benchmark
from ._suites import SUITES, BenchmarkDataset, load_data_dir, load_suite

__all__ = ["DEFAULT_SUITE_METHODS", "QUICK", "main"]

#: methods of ``--suite default`` (the README's main job): ELM, LDAM (ELM with lam = 0), plain
#: and logit-adjusted cross-entropy, SMOTE and random oversampling, and the linear baseline and
#: three ensembles that are fast enough for the main job's ten minutes (hgb-balanced and
#: easy-ensemble grow trees per class and round: 5 to 6 s per fit on a 10-class training set
#: of 1000 samples, against under a second for a network)
DEFAULT_SUITE_METHODS = (
    "elm",
    "ldam",
    "ce",
    "la",
    "smote",
    "random-over",
    "logreg-balanced",
    "balanced-rf",
    "balanced-bagging",
    "rusboost",
)
#: splits of each suite: (folds, repeats). The main job's statistics are over its 26 datasets,
#: so it spends its ten minutes on datasets rather than folds: 3 folds, 1 repeat.
_SPLITS = {"default": (3, 1), "other": (5, 2)}
#: ``--quick``: a smoke run of the whole pipeline, not a measurement
QUICK = {"folds": 2, "repeats": 1, "max_epochs": 15}
_IMBLEARN_TIMEOUT_S = 30


def _comma_list(text):
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"no name in {text!r}: give comma-separated names")
    return items


def _ratios(text):
    try:
        ratios = [float(item) for item in _comma_list(text)]
    except ValueError:
        message = f"not a comma-separated list of ratios: {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not all(math.isfinite(ratio) and ratio >= 1 for ratio in ratios):
        raise argparse.ArgumentTypeError(f"ratios must be finite numbers >= 1, got {text!r}")
    return ratios


def _checked_int(name, constraints, caller_name):
    """An argparse type: an integer that satisfies the constraints of parameter ``name``.

    The constraints are those of the function or estimator that receives the value, so the
    command refuses what they would, with their message.
    """

    def check(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        try:
            validate_parameter_constraints(
                {name: constraints}, {name: value}, caller_name=caller_name
            )
        except InvalidParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    return check


def _run_count(name):
    return _checked_int(name, RUN_PARAMETER_CONSTRAINTS[name], "run_benchmark")


def _network_count(name):
    return _checked_int(name, ELMClassifier._parameter_constraints[name], "ELMClassifier")


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-elm",
        description="Tools of sklearn-elm, the Enlarged Large Margin loss for scikit-learn.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "benchmark",
        help="compare ELM with re-weighting, resampling and ensembles on imbalanced datasets",
        description=(
            "Score ELM and its competitors on the same splits and write results.csv, "
            "per_class.csv, protocol.json, stats.json, report.md and PNG plots to --out. "
            "Re-running with the same --out resumes: cells already in results.csv are skipped, "
            "rows cut short by an interrupted run are run again. Exit status 1 when no cell "
            "could run, when every cell failed, or when a file of --data-dir was skipped "
            "(see --allow-skipped-files)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bench.add_argument("--out", default="benchmark_results", help="output folder")
    bench.add_argument(
        "--suite",
        choices=[*SUITES, "imblearn", "none"],
        default=None,
        help="shipped datasets: 'default' (20 KEEL + 6 long-tailed sets, the main job), "
        "'keel' (all 80 KEEL binary sets), 'lt' (every multi-class source made long-tailed "
        "at ratios 10 and 100), 'all' (keel + lt); 'imblearn': imbalanced-learn's "
        "fetch_datasets collection (downloaded once, skipped when offline). Default: "
        "'default', or 'none' when --data-dir is given",
    )
    bench.add_argument(
        "--data-dir",
        action="append",
        default=[],
        help="also run every KEEL .dat and header-less .csv (class last) of this folder; "
        "malformed files are named and skipped (repeatable)",
    )
    bench.add_argument("--keel-dir", action="append", default=[], help="same as --data-dir")
    bench.add_argument(
        "--long-tail",
        type=_ratios,
        default=None,
        help="comma-separated imbalance ratios, e.g. 10,100: every multi-class set of "
        "--data-dir becomes long-tailed training sets at these ratios (long-tail protocol)",
    )
    bench.add_argument(
        "--datasets", type=_comma_list, default=None, help="comma-separated dataset names to keep"
    )
    bench.add_argument(
        "--methods",
        type=_comma_list,
        default=None,
        help="comma-separated methods, or 'all', among: " + ",".join(METHODS) + " [default "
        "suite: " + ",".join(DEFAULT_SUITE_METHODS) + "; other suites: all]",
    )
    bench.add_argument(
        "--metric",
        choices=list(METRICS),
        default="balanced_accuracy",
        help="metric of the ranks and statistical tests (and inner scorer of --tune)",
    )
    bench.add_argument(
        "--tune",
        action="store_true",
        help="also tune every method with a declared grid by inner 3-fold CV on the training "
        "part; the report ranks tuned and default methods side by side",
    )
    bench.add_argument(
        "--batched",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train the network cells of each dataset together with the batched trainer: the "
        "untuned criterion and sampler cells, and the inner-CV and refit networks of the tuned "
        "sampler cells; --no-batched fits them one cell per worker (the same networks, up to "
        "float32 rounding) [default: batched]",
    )
    bench.add_argument(
        "--folds",
        type=_run_count("n_splits"),
        default=None,
        help="folds per repeat, at least 2 [default suite: 3, others: 5; quick: 2]",
    )
    bench.add_argument(
        "--repeats",
        type=_run_count("n_repeats"),
        default=None,
        help="repeats [default suite: 1, others: 2; quick: 1]",
    )
    bench.add_argument(
        "--seed", type=_run_count("seed"), default=0, help="seed of splits and models"
    )
    bench.add_argument(
        "--max-epochs",
        type=_network_count("max_epochs"),
        default=None,
        help=f"epochs of the networks [{NETWORK_PARAMS['max_epochs']}; "
        f"quick: {QUICK['max_epochs']}]",
    )
    bench.add_argument("--device", default="cpu", help="torch device of the networks")
    bench.add_argument(
        "--n-jobs",
        type=_run_count("n_jobs"),
        default=-1,
        help="parallel cells (joblib); -1: every core",
    )
    bench.add_argument(
        "--dask-scheduler",
        default=None,
        help="address of a dask.distributed scheduler to run the cells on",
    )
    bench.add_argument(
        "--quick", action="store_true", help="smoke run: 2 folds x 1 repeat, 15 epochs"
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.add_argument(
        "--allow-skipped-files",
        action="store_true",
        help="exit with status 0 even if files of --data-dir could not be read (they are "
        "named, skipped and listed in the report either way)",
    )
    return parser


def _load_imblearn_suite(names, log):
    from imblearn.datasets import fetch_datasets

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_IMBLEARN_TIMEOUT_S)  # fail, rather than hang, behind a firewall
    try:
        collection = fetch_datasets(filter_data=tuple(names) if names else None)
    except ValueError as exc:  # a name of --datasets is not in the collection
        raise SystemExit(str(exc)) from exc
    except OSError as exc:  # URLError, timeouts, DNS failures
        log(
            "imbalanced-learn's fetch_datasets collection is not cached and could not be "
            f"downloaded ({type(exc).__name__}: {exc}); skipping --suite imblearn"
        )
        return []
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return [
        BenchmarkDataset.from_arrays(
            name, bunch.data, bunch.target, source="imblearn.datasets.fetch_datasets"
        )
        for name, bunch in collection.items()
    ]


def _load_datasets(args, suite):
    datasets, skipped = [], []
    if suite in SUITES:
        datasets += load_suite(suite)
    elif suite == "imblearn":
        datasets += _load_imblearn_suite(args.datasets, print_stderr)
    for directory in [*args.data_dir, *args.keel_dir]:
        try:
            found, problems = load_data_dir(directory, long_tail=args.long_tail)
        except (NotADirectoryError, ValueError) as exc:  # ValueError: two files, one name
            raise SystemExit(f"--data-dir {directory}: {exc}") from exc
        if not found and not problems:
            raise SystemExit(
                f"--data-dir {directory}: no KEEL .dat or header-less .csv file in this folder "
                "(.dat.gz and .csv.gz too); give the folder that holds the datasets"
            )
        datasets += found
        skipped += problems
    for message in skipped:
        print_stderr(message)
    names = [d.name for d in datasets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SystemExit(f"dataset name(s) given twice: {', '.join(repeated)}")
    if args.datasets:
        missing = sorted(set(args.datasets) - set(names))
        if missing and suite != "imblearn":
            raise SystemExit(f"unknown dataset(s) {', '.join(missing)}")
        datasets = [d for d in datasets if d.name in args.datasets]
    return datasets, skipped


def main(argv=None):
    """Entry point of the ``sklearn-elm`` command; ``benchmark`` is its subcommand.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None. With no arguments, or
        options only, the subcommand defaults to ``benchmark``.

    Returns
    -------
    status : int
        0 on success; 1 when no cell could run, when every cell failed, or when a file of
        ``--data-dir`` was skipped (unless ``--allow-skipped-files``). Invalid options, an
        empty ``--data-dir`` and a results folder that cannot be resumed end the command
        with a message instead (``SystemExit``).

    Examples
    --------
    >>> from sklearn_elm.benchmark import main
    >>> main(["benchmark", "--methods", "nope"])
    Traceback (most recent call last):
    ...
    SystemExit: unknown method(s) nope; choose among elm, ldam, ce, ...
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "benchmark")
    command_line = shlex.join(["sklearn-elm", *argv])
    args = _build_parser().parse_args(argv)
    suite = args.suite or ("none" if args.data_dir or args.keel_dir else "default")
    if args.methods in (None, ["all"]):
        methods = list(
            DEFAULT_SUITE_METHODS if suite == "default" and not args.methods else METHODS
        )
    else:
        methods = args.methods
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(
            f"unknown method(s) {', '.join(unknown)}; choose among {', '.join(METHODS)}"
        )
    started = time.perf_counter()
    folds, repeats = _SPLITS["default" if suite == "default" else "other"]
    if args.quick:
        folds, repeats = QUICK["folds"], QUICK["repeats"]
    n_splits = folds if args.folds is None else args.folds
    n_repeats = repeats if args.repeats is None else args.repeats
    network_params = dict(NETWORK_PARAMS)
    if args.quick:
        network_params["max_epochs"] = QUICK["max_epochs"]
    if args.max_epochs is not None:
        network_params["max_epochs"] = args.max_epochs

    datasets, skipped = _load_datasets(args, suite)
    if not datasets:
        raise SystemExit("no dataset to run (see the messages above); nothing written")
    try:
        results = run_benchmark(
            datasets,
            methods,
            args.out,
            n_splits=n_splits,
            n_repeats=n_repeats,
            seed=args.seed,
            network_params=network_params,
            device=args.device,
            tune=args.tune,
            metric=args.metric,
            n_jobs=args.n_jobs,
            dask_scheduler=args.dask_scheduler,
            progress=not args.no_progress,
            batched=args.batched,
        )
    except ResultsFolderError as exc:
        raise SystemExit(str(exc)) from exc

    if results.empty:  # run_benchmark has logged why, dataset by dataset
        print_stderr("no cell could run; no report written")
        return 1

    from ._report import write_report

    report = write_report(
        results,
        read_per_class(args.out),
        datasets,
        methods,
        Path(args.out),
        command_line=command_line,
        protocol={
            "folds": n_splits,
            "repeats": n_repeats,
            "seed": args.seed,
            "network_params": network_params,
            "device": args.device,
            "n_jobs": args.n_jobs,
            "quick": args.quick,
            "tune": args.tune,
            "metric": args.metric,
            "batched": args.batched,
        },
        skipped=skipped,
        wall_time=time.perf_counter() - started,
    )
    print_stderr(f"wrote {report}")
    return _exit_status(results, skipped, args.allow_skipped_files)


def _exit_status(results, skipped, allow_skipped_files):
    """1 when no cell of the run has scores, or when input files were skipped unasked."""
    status = 0
    if (results["error"] != "").all():
        print_stderr(
            f"every cell of the run failed ({len(results)} cells; first error: "
            f"{results['error'].iloc[0]}); see the error column of results.csv"
        )
        status = 1
    if skipped and not allow_skipped_files:
        print_stderr(
            f"{len(skipped)} file(s) of --data-dir could not be read and were skipped (named "
            "above and in the report); fix them, or pass --allow-skipped-files to accept a "
            "run without them"
        )
        status = 1
    return status
