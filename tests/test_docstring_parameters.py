"""Every public class and function documents its parameters and attributes (numpydoc).

The public API is discovered at run time: ``sklearn_elm.__all__`` and the ``__all__`` (or the
public names) of every public module of the package, so that a module added later is checked
without editing this file. For each object the numpydoc ``Parameters`` section must list the
parameters of the signature, in order, each with a type and a description; for classes, the
constructor is checked against the class docstring and every public method against its own.
Estimators must document the attributes ``fit`` sets, and displays those ``plot`` sets.
"""

import dataclasses
import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest

import sklearn_elm

docscrape = pytest.importorskip("numpydoc.docscrape", reason="numpydoc checks the docstrings")

#: ``{object path: what is missing}`` for docstrings known to be incomplete: their test is
#: marked as an expected failure (not strict) until the docstring is fixed. Empty: none is.
KNOWN_GAPS: dict = {}


def _public_module_names():
    names = ["sklearn_elm"]
    for info in pkgutil.walk_packages(sklearn_elm.__path__, prefix="sklearn_elm."):
        parts = info.name.split(".")[1:]
        if not any(part.startswith("_") or part in ("tests", "conftest") for part in parts):
            names.append(info.name)
    return names


def _public_objects():
    """``{public path: object}`` for the classes and functions sklearn-elm defines."""
    found, seen = {}, set()
    # submodules first, so that an object gets the path of its own public module
    for module_name in sorted(_public_module_names(), key=lambda name: name == "sklearn_elm"):
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                name
                for name, obj in vars(module).items()
                if not name.startswith("_") and getattr(obj, "__module__", None) == module_name
            ]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants are documented in the module docstring
            # re-exports of other libraries (imbalanced-learn's metrics) are documented there
            if not getattr(obj, "__module__", "").startswith("sklearn_elm"):
                continue
            if id(obj) not in seen:
                seen.add(id(obj))
                found[f"{module_name}.{name}"] = obj
    return found


PUBLIC_OBJECTS = _public_objects()


def _params(paths):
    return [
        pytest.param(
            path,
            PUBLIC_OBJECTS[path],
            id=path,
            marks=[pytest.mark.xfail(strict=False, reason=KNOWN_GAPS[path])]
            if path in KNOWN_GAPS
            else [],
        )
        for path in paths
    ]


def _parse(docstring, where):
    """The numpydoc sections of ``docstring``; numpydoc's warnings (bad sections) are errors."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = docscrape.NumpyDocString(docstring or "")
    return doc, [f"{where}: {warning.message}" for warning in caught]


def _signature_names(func, drop_first):
    names = []
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            names.append(f"*{parameter.name}")
        elif parameter.kind is parameter.VAR_KEYWORD:
            names.append(f"**{parameter.name}")
        else:
            names.append(parameter.name)
    return names[1:] if drop_first else names


def parameter_errors(
    func, docstring, where, drop_first=False, sections=("Parameters", "Other Parameters")
):
    """What is wrong between the signature of ``func`` and the Parameters of ``docstring``."""
    expected = _signature_names(func, drop_first)
    if not expected:
        return []
    if not docstring:
        return [f"{where}: no docstring for parameters {expected}"]
    doc, errors = _parse(docstring, where)
    documented = []
    for entry in [entry for section in sections for entry in doc[section]]:
        names = [name.strip() for name in entry.name.split(",")]  # "low, high : float"
        documented.extend(names)
        for name in names:
            if not entry.type and not name.startswith("*"):
                errors.append(f"{where}: parameter {name!r} has no type")
            if not "".join(entry.desc).strip():
                errors.append(f"{where}: parameter {name!r} has no description")
    missing = [name for name in expected if name not in documented]
    extra = [name for name in documented if name not in expected]
    if missing:
        errors.append(f"{where}: parameters not documented: {missing}")
    if extra:
        errors.append(f"{where}: documented parameters not in the signature: {extra}")
    if not missing and not extra and documented != expected:
        errors.append(f"{where}: parameters documented in the order {documented}, not {expected}")
    return errors


def _is_own(klass, cls):
    """Whether ``klass``, a class in the MRO of ``cls``, is not from another library."""
    return klass is cls or klass.__module__.startswith("sklearn_elm")


def _overrides_third_party(cls, name):
    """Whether ``name`` overrides a method of a base class from another library.

    Such methods (skorch's callback hooks, ``torch.nn.Module.forward``, scikit-learn's
    ``get_params``) follow the signature documented by that library.
    """
    return any(
        name in vars(base) and not _is_own(base, cls) for base in cls.__mro__[1:]
    )


def _public_methods(cls):
    """``{name: (function, drop_first)}`` for the public methods sklearn-elm defines on ``cls``."""
    methods = {}
    for klass in cls.__mro__:
        if not _is_own(klass, cls):
            continue
        for name, attribute in vars(klass).items():
            if name.startswith("_") or name in methods:
                continue
            if isinstance(attribute, staticmethod):
                methods[name] = (attribute.__func__, False)
            elif isinstance(attribute, classmethod):
                methods[name] = (attribute.__func__, True)
            elif inspect.isfunction(attribute):
                methods[name] = (attribute, True)
    return methods


def docstring_errors(path, obj):
    """Every parameter problem of a public function, or of a class and its public methods."""
    if inspect.isfunction(obj):
        return parameter_errors(obj, inspect.getdoc(obj), path)
    errors = []
    if not inspect.getdoc(obj):
        errors.append(f"{path}: no docstring")
    # the constructor, unless inherited from another library (``Exception.__init__``)
    defines_init = next(klass for klass in obj.__mro__ if "__init__" in vars(klass))
    if _is_own(defines_init, obj):
        # a dataclass's fields are both its parameters and its attributes: either section will do
        sections = ["Parameters", "Other Parameters"]
        if dataclasses.is_dataclass(obj):
            sections.append("Attributes")
        errors += parameter_errors(
            obj.__init__, inspect.getdoc(obj), path, drop_first=True, sections=sections
        )
    else:
        errors += _parse(inspect.getdoc(obj), path)[1]
    for name, (func, drop_first) in _public_methods(obj).items():
        docstring = func.__doc__ and inspect.cleandoc(func.__doc__)
        doc, _ = _parse(docstring, path)
        if _overrides_third_party(obj, name) and not doc["Parameters"]:
            continue
        errors += parameter_errors(func, docstring, f"{path}.{name}", drop_first=drop_first)
    return errors


def attribute_errors(path, cls):
    """Entries of the Attributes section without a type or a description."""
    doc, errors = _parse(inspect.getdoc(cls), path)
    for entry in doc["Attributes"]:
        if not entry.type:
            errors.append(f"{path}: attribute {entry.name!r} has no type")
        if not "".join(entry.desc).strip():
            errors.append(f"{path}: attribute {entry.name!r} has no description")
    return errors


def fitted_attribute_errors(path, instance):
    """Attributes set by fitting (or plotting) that the class docstring does not list.

    An attribute documented as present "only" in some case may be absent; any other
    documented attribute must exist.
    """
    doc, errors = _parse(inspect.getdoc(type(instance)), path)
    documented = {entry.name: " ".join(entry.desc) for entry in doc["Attributes"]}
    fitted = {
        name for name in vars(instance) if name.endswith("_") and not name.startswith("_")
    }
    undocumented = sorted(fitted - set(documented))
    if undocumented:
        errors.append(f"{path}: fitted attributes not in the Attributes section: {undocumented}")
    absent = sorted(
        name
        for name, description in documented.items()
        if name.endswith("_") and name not in fitted and "only " not in description.lower()
        and not hasattr(instance, name)
    )
    if absent:
        errors.append(f"{path}: documented attributes not set: {absent}")
    return errors


def _assert_no_errors(errors):
    assert not errors, "\n".join(errors)


# ------------------------------------------------------------------ the public API
def test_the_public_api_is_found():
    modules = set(_public_module_names())
    for name in ("losses", "classifier", "callbacks", "modules", "datasets", "metrics",
                 "plotting", "persistence", "benchmark"):
        assert f"sklearn_elm.{name}" in modules
    found = set(PUBLIC_OBJECTS.values())
    for name in sklearn_elm.__all__:
        obj = getattr(sklearn_elm, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj in found, name


@pytest.mark.parametrize(("path", "obj"), _params(PUBLIC_OBJECTS))
def test_parameters_are_documented_in_signature_order(path, obj):
    _assert_no_errors(docstring_errors(path, obj))


CLASSES = [path for path, obj in PUBLIC_OBJECTS.items() if inspect.isclass(obj)]


@pytest.mark.parametrize(("path", "obj"), _params(CLASSES))
def test_attributes_have_types_and_descriptions(path, obj):
    _assert_no_errors(attribute_errors(path, obj))


# ------------------------------------------------------------------ fitted attributes
def _is_estimator(obj):
    from sklearn.base import BaseEstimator

    return inspect.isclass(obj) and issubclass(obj, BaseEstimator)


ESTIMATORS = [path for path, obj in PUBLIC_OBJECTS.items() if _is_estimator(obj)]


@pytest.mark.parametrize(("path", "obj"), _params(ESTIMATORS))
def test_estimators_document_their_fitted_attributes(path, obj):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=60, n_features=4, weights=[0.8], random_state=0)
    estimator = obj()
    if "max_epochs" in estimator.get_params():
        estimator.set_params(max_epochs=1)  # the attributes, not the fit, are under test
    estimator.fit(X.astype(np.float32), y)
    _assert_no_errors(fitted_attribute_errors(path, estimator))


def _drawn_displays():
    """A drawn instance of each display, built from tiny data."""
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_elm import plotting

    return {
        "PerClassAccuracyDisplay": lambda: plotting.PerClassAccuracyDisplay(
            [1.0, 0.5], [90, 10]
        ).plot(),
        "MarginsDisplay": lambda: plotting.MarginsDisplay([0.2, 0.5], [90, 10], lam=1.0).plot(),
        "TrainingHistoryDisplay": lambda: plotting.TrainingHistoryDisplay(
            [1, 2], [0.9, 0.5], valid_loss=[1.0, 0.7], drw_start_epoch=2
        ).plot(),
    }


DISPLAYS = [path for path in PUBLIC_OBJECTS if path.endswith("Display")]


@pytest.mark.parametrize(("path", "obj"), _params(DISPLAYS))
def test_displays_document_what_plot_sets(path, obj):
    import matplotlib.pyplot as plt

    factories = _drawn_displays()
    assert obj.__name__ in factories, f"add a drawn {obj.__name__} to _drawn_displays()"
    try:
        _assert_no_errors(fitted_attribute_errors(path, factories[obj.__name__]()))
    finally:
        plt.close("all")


# ------------------------------------------------------------------ the checks can fail
def _broken(alpha, beta, *args, gamma=1.0, **kwargs):
    """A function whose docstring is wrong in every way the checks look for.

    Parameters
    ----------
    beta : int
        Listed before alpha.
    alpha : float
    delta : str
        Not in the signature.
    *args
        Extra positional arguments.
    """


def _swapped(alpha, beta):
    """All parameters documented, in the wrong order.

    Parameters
    ----------
    beta : int
        Second.
    alpha : int
        First.
    """


class _Broken:
    """A class whose docstring misses a constructor parameter.

    Parameters
    ----------
    alpha : float
        Documented.

    Attributes
    ----------
    fitted_ : ndarray
    """

    def __init__(self, alpha, beta):
        self.alpha, self.beta = alpha, beta

    def fit(self, X):
        """Set ``other_``, which is not documented.

        Parameters
        ----------
        X : array-like
            Data.
        """
        self.other_ = X
        return self


@dataclasses.dataclass
class _Record:
    """A dataclass documenting one of its two fields.

    Attributes
    ----------
    name : str
        Documented.
    """

    name: str
    size: int = 0


def test_the_checks_catch_broken_docstrings():
    errors = docstring_errors("broken", _broken)
    assert "broken: parameter 'alpha' has no description" in errors
    assert "broken: parameters not documented: ['gamma', '**kwargs']" in errors
    assert "broken: documented parameters not in the signature: ['delta']" in errors

    assert docstring_errors("swapped", _swapped) == [
        "swapped: parameters documented in the order ['beta', 'alpha'], not ['alpha', 'beta']"
    ]

    assert docstring_errors("Broken", _Broken) == [
        "Broken: parameters not documented: ['beta']"
    ]
    assert docstring_errors("Record", _Record) == ["Record: parameters not documented: ['size']"]
    assert attribute_errors("Broken", _Broken) == [
        "Broken: attribute 'fitted_' has no description"
    ]
    assert fitted_attribute_errors("Broken", _Broken(1, 2).fit([0])) == [
        "Broken: fitted attributes not in the Attributes section: ['other_']",
        "Broken: documented attributes not set: ['fitted_']",
    ]
