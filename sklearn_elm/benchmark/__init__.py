"""``sklearn-elm benchmark``: ELM against re-weighting, resampling and ensembles, fairly.

Every method is scored on the same splits of the same datasets, with the same preprocessing
(median imputation, then standardisation, fitted on the training part only), by balanced
accuracy, macro F1, G-mean and ROC AUC (and many/medium/few-shot accuracy on long-tailed
datasets):

* the same network (:class:`~sklearn_elm.ELMClassifier`, same module, optimiser and epochs)
  trained with different criteria: ``elm`` and ``ldam`` (with deferred re-weighting), ``ce``,
  ``focal``, ``cb`` (class-balanced weights) and ``la`` (logit adjustment);
* the same network trained with plain cross-entropy after an imbalanced-learn sampler, inside an
  imbalanced-learn :class:`~imblearn.pipeline.Pipeline` so that only training parts are
  resampled: ``smote``, ``borderline-smote``, ``adasyn``, ``random-over``, ``random-under`` and
  ``smote-tomek``;
* classic baselines: ``logreg-balanced``, ``hgb-balanced``, ``balanced-rf``,
  ``balanced-bagging``, ``rusboost`` and ``easy-ensemble``;
* any scikit-learn or imbalanced-learn classifier of the user's (:func:`run_benchmark`).

Datasets with their own imbalance are scored by repeated stratified k-fold; long-tailed ones by
the long-tail protocol (:func:`make_splits`). :data:`METHOD_TABLE` declares every method and
its ``--tune`` grid. Run ``sklearn-elm benchmark --help`` for the options. The run writes
``results.csv`` (appended as cells finish, so that re-running with the same ``--out``
resumes), ``per_class.csv``, ``protocol.json``, ``stats.json``, ``report.md`` and PNG figures.

The subpackage has one module per concern: ``_suites`` (datasets), ``_methods`` (the table of
methods), ``_runner`` (splits and cells), ``_results`` (the results folder), ``_report``
(report and figures) and ``_cli`` (the command line).
"""

from ._cli import DEFAULT_SUITE_METHODS, QUICK, main
from ._methods import (
    BASELINE_METHODS,
    CRITERION_METHODS,
    INNER_FOLDS,
    METHOD_TABLE,
    METHODS,
    NETWORK_PARAMS,
    SAMPLER_METHODS,
    MethodSpec,
    inner_budget,
    make_custom_method,
    make_method,
)
from ._report import markdown_table, write_report
from ._results import ProtocolMismatchError, ResultsFolderError, read_per_class, read_results
from ._runner import METRICS, make_splits, run_benchmark
from ._suites import (
    DEFAULT_SUITE,
    LT_RATIOS,
    SUITES,
    BenchmarkDataset,
    load_data_dir,
    load_default_suite,
    load_suite,
)

__all__ = [
    "BASELINE_METHODS",
    "CRITERION_METHODS",
    "DEFAULT_SUITE",
    "DEFAULT_SUITE_METHODS",
    "INNER_FOLDS",
    "LT_RATIOS",
    "METHODS",
    "METHOD_TABLE",
    "METRICS",
    "NETWORK_PARAMS",
    "QUICK",
    "SAMPLER_METHODS",
    "SUITES",
    "BenchmarkDataset",
    "MethodSpec",
    "ProtocolMismatchError",
    "ResultsFolderError",
    "inner_budget",
    "load_data_dir",
    "load_default_suite",
    "load_suite",
    "main",
    "make_custom_method",
    "make_method",
    "make_splits",
    "markdown_table",
    "read_per_class",
    "read_results",
    "run_benchmark",
    "write_report",
]
