"""The package metadata: one version, the license, declared dependencies, a complete sdist."""

import ast
import functools
import re
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import sklearn_elm

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sklearn_elm"
# what the sdist must carry for its own test-suite to run (see MANIFEST.in)
SDIST_DIRS = ["tests", "docs", "examples", "benchmarks", ".ci"]
# build outputs and caches, as in .gitignore: neither copied nor expected in the sdist
IGNORED = [
    ".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", "*.py[cod]",
    ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints", "_build",
    "auto_examples", "gen_modules", "benchmark_results", "results", "*.pt", "*.safetensors",
]


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalize(name):
    """PEP 503 name, so that ``scikit_learn`` and ``Scikit-Learn`` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements):
    return {_normalize(re.match(r"[A-Za-z0-9._-]+", r.strip()).group()) for r in requirements}


# ------------------------------------------------------------------ version
def _literal_assignment(path, name):
    """The string literal assigned to ``name`` at the top level of ``path``, else None."""
    for node in ast.parse(path.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def test_the_version_is_defined_once(pyproject):
    project = pyproject["project"]
    assert "version" not in project, "the version lives in the package, not in pyproject.toml"
    assert "version" in project["dynamic"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, _, name = attr.rpartition(".")
    source = ROOT / (module.replace(".", "/") + ".py")
    # a literal assignment lets setuptools read it without importing the package (and torch)
    assert _literal_assignment(source, name) == sklearn_elm.__version__
    others = [
        path.relative_to(ROOT)
        for path in PACKAGE.rglob("*.py")
        if path != source and _literal_assignment(path, "__version__") is not None
    ]
    assert not others, f"a second version in {others}"


def test_the_version_is_a_pep_440_version():
    # the public version scheme of PEP 440, without epochs and local versions
    pattern = r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?"
    assert re.fullmatch(pattern, sklearn_elm.__version__)


# ------------------------------------------------------------------ license
def test_the_license_file_matches_the_metadata(pyproject):
    project = pyproject["project"]
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "sklearn-elm developers" in text
    assert "Neither the name of the copyright holder" in text  # the third clause
    # PEP 639: the SPDX expression supersedes "License ::" classifiers; setuptools rejects both
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]


def test_classifiers_cover_what_users_filter_on(pyproject):
    classifiers = pyproject["project"]["classifiers"]
    for prefix in ("Development Status ::", "Intended Audience ::", "Operating System ::",
                   "Programming Language :: Python :: 3.", "Topic ::"):
        assert any(c.startswith(prefix) for c in classifiers), prefix
    minimum = re.fullmatch(r">=3\.(\d+)", pyproject["project"]["requires-python"]).group(1)
    assert f"Programming Language :: Python :: 3.{minimum}" in classifiers


# ------------------------------------------------------------------ dependencies
def _third_party_imports(path):
    """``(module-level, in-function)`` sets of the top-level names of absolute imports."""
    module_level, in_function = set(), set()

    def visit(node, inside_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0:
                names = [child.module]
            else:
                names = []
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top != "sklearn_elm":
                    (in_function if inside_function else module_level).add(top)
            is_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inside_function or is_function)

    visit(ast.parse(path.read_text()), False)
    return module_level, in_function


@functools.cache
def _installed_distributions():
    return packages_distributions()  # scans every installed distribution: once is enough


def _distributions(import_name):
    """Distributions providing ``import_name`` (``sklearn`` is ``scikit-learn``)."""
    installed = _installed_distributions().get(import_name)
    return {_normalize(name) for name in installed} if installed else {_normalize(import_name)}


def test_every_import_is_a_declared_dependency(pyproject):
    project = pyproject["project"]
    required = _requirement_names(project["dependencies"])
    optional = set().union(
        *(_requirement_names(extra) for extra in project["optional-dependencies"].values())
    )
    undeclared = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module_level, in_function = _third_party_imports(path)
        # an import at module level runs on `import sklearn_elm...`: it must be a dependency;
        # one inside a function may be optional, declared in an extra
        for name in sorted(module_level):
            if not _distributions(name) & required:
                undeclared.append(f"{path.relative_to(ROOT)}: {name} (not in dependencies)")
        for name in sorted(in_function - module_level):
            if not _distributions(name) & (required | optional):
                undeclared.append(f"{path.relative_to(ROOT)}: {name} (not in any extra)")
    assert not undeclared, "\n".join(undeclared)


def test_the_import_scan_sees_both_kinds_of_import(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "import os\nimport numpy as np\nfrom sklearn.base import clone\nfrom . import losses\n"
        "class A:\n    import scipy\n"
        "def load():\n    import torchvision.datasets\n    from joblib import Parallel\n"
    )
    assert _third_party_imports(source) == (
        {"numpy", "sklearn", "scipy"},
        {"torchvision", "joblib"},
    )
    assert _distributions("sklearn") == {"scikit-learn"}


# ------------------------------------------------------------------ sdist
def _sdist_expected(tree):
    """Files of ``tree`` the sdist must carry, relative to it."""
    expected = {"LICENSE", "README.md", "pyproject.toml", "MANIFEST.in"}
    for top in SDIST_DIRS + ["sklearn_elm"]:
        for path in (tree / top).rglob("*"):
            if path.is_file():
                expected.add(path.relative_to(tree).as_posix())
    return expected


def test_the_sdist_carries_its_tests_and_metadata(tmp_path, pyproject):
    pytest.importorskip("setuptools", minversion="77", reason="PEP 639 license metadata")
    # build from a copy: building writes an egg-info next to the sources
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*IGNORED))
    build = (
        "import sys; from setuptools import build_meta; "
        "print(build_meta.build_sdist(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path / "dist")],
        cwd=tree, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    archive = tmp_path / "dist" / result.stdout.strip().splitlines()[-1]
    prefix = f"sklearn_elm-{sklearn_elm.__version__}/"
    with tarfile.open(archive) as sdist:
        members = {m.name.removeprefix(prefix) for m in sdist.getmembers() if m.isfile()}
        pkg_info = sdist.extractfile(prefix + "PKG-INFO").read().decode()

    missing = sorted(_sdist_expected(tree) - members)
    assert not missing, missing
    assert not [m for m in members if "__pycache__" in m or "/_build/" in m]

    assert f"\nVersion: {sklearn_elm.__version__}\n" in pkg_info
    assert "\nLicense-Expression: BSD-3-Clause\n" in pkg_info
    assert "\nLicense-File: LICENSE\n" in pkg_info
    declared = _requirement_names(
        line.removeprefix("Requires-Dist: ").split(";")[0]
        for line in pkg_info.splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    )
    assert declared == _requirement_names(pyproject["project"]["dependencies"])
