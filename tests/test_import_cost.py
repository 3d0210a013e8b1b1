"""What importing sklearn_elm costs: its public names are imported on first use, and the
estimator, losses, search, datasets and plots do not import the benchmark's or the plots'
dependencies (imbalanced-learn, matplotlib, pandas) until something needs them; the benchmark
imports matplotlib only to draw.

Each check runs in a fresh interpreter, whose ``sys.modules`` no other test has filled.
"""

import importlib
import subprocess
import sys

import pytest

import sklearn_elm

HEAVY = ("imblearn", "matplotlib", "pandas")


def modules_after(code, blocked=()):
    """The top-level packages in ``sys.modules`` after running ``code`` in a new interpreter.

    A package of ``blocked`` cannot be imported there (its ``sys.modules`` entry is None), so
    that ``code`` fails if it needs one.
    """
    script = "\n".join(
        [
            "import sys",
            f"for name in {tuple(blocked)!r}: sys.modules[name] = None",
            code,
            'print(*{name.partition(".")[0] for name, module in sys.modules.items() if module})',
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return set(result.stdout.split())


def test_import_sklearn_elm_imports_no_dependency():
    loaded = modules_after("import sklearn_elm")
    assert not loaded & {"torch", "sklearn", "skorch", "scipy", *HEAVY}, sorted(loaded)


def test_the_losses_need_pytorch_only():
    loaded = modules_after("from sklearn_elm import ELMLoss, LDAMLoss, elm_loss")
    assert "torch" in loaded
    assert not loaded & {"sklearn", "skorch", *HEAVY}, sorted(loaded)


def test_every_public_name_imports_without_imblearn_matplotlib_or_pandas():
    # the estimator, the search, the losses, the datasets, the metrics and the plots. scikit-learn
    # imports pandas whenever it is installed, so pandas in sys.modules proves nothing: it is
    # made unimportable instead, and an `import pandas` at the top of a module fails
    loaded = modules_after("from sklearn_elm import *", blocked=["pandas"])
    assert {"torch", "sklearn", "skorch"} <= loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_benchmark_imports_matplotlib_only_to_draw():
    # `sklearn-elm benchmark --help`, or a run stopped by a bad argument, draws nothing
    assert "matplotlib" not in modules_after("import sklearn_elm.benchmark")


def test_the_re_exported_imbalanced_metrics_import_imbalanced_learn_on_first_use():
    loaded = modules_after(
        "from sklearn_elm.metrics import geometric_mean_score\n"
        "assert geometric_mean_score.__module__.startswith('imblearn')"
    )
    assert "imblearn" in loaded


def test_every_public_name_resolves_to_its_definition():
    for name in sklearn_elm.__all__:
        defining_module = importlib.import_module(f"sklearn_elm.{sklearn_elm._SUBMODULE_OF[name]}")
        assert getattr(sklearn_elm, name) is getattr(defining_module, name)
    assert set(sklearn_elm.__all__) <= set(dir(sklearn_elm))
    assert sklearn_elm.__all__ == sorted(sklearn_elm.__all__)


def test_public_submodules_are_attributes_of_the_package():
    import sklearn_elm.losses

    assert sklearn_elm.losses is sys.modules["sklearn_elm.losses"]
    # without an import of the submodule, as when the package imported them all
    assert "sklearn" in modules_after("import sklearn_elm\nsklearn_elm.metrics.shot_accuracy")


@pytest.mark.parametrize("module", [sklearn_elm, sklearn_elm.metrics])
def test_an_unknown_name_is_an_attribute_error(module):
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = module.no_such_name
