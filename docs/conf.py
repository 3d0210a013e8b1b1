"""Sphinx configuration of the sklearn-elm documentation.

Build (offline, warnings are errors)::

    python -m sphinx -W -b html docs docs/_build/html

The gallery scripts ``examples/plot_*.py`` are executed during the build; set
``SKLEARN_ELM_SKIP_GALLERY=1`` to render them without running them (fast docs iterations).
"""

import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery runs headless

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import sklearn_elm  # noqa: E402

# -- project -----------------------------------------------------------------------------------
project = "sklearn-elm"
author = "sklearn-elm developers"
copyright = "sklearn-elm developers, BSD-3-Clause"
release = sklearn_elm.__version__
version = re.sub(r"\.dev\d*$", "", release)

# -- extensions --------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # copies MathJax into the built site: formulas render offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb"]
# the autosummary templates live under _static/ so that the docs tree has one asset folder;
# Sphinx never reads templates_path as pages
templates_path = ["_static/templates"]
html_static_path = []

# Pages written by other parts of the project; index.rst lists them in its toctree, and
# _drop_missing_pages removes the entry of any that does not exist (yet), so that a -W build
# does not fail on it.
OPTIONAL_PAGES = ("benchmark_results", "long_tailed", "performance", "scaling", "persistence")

# -- autodoc / autosummary / numpydoc ----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections are the reference
numpydoc_show_class_members = False  # members are listed by the autosummary class template
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MyST (Markdown pages) ---------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# -- no network at build time or when reading --------------------------------------------------
# intersphinx is not loaded: references to numpy/scikit-learn/torch stay plain text.
# MathJax is served from the built site, not from a CDN: sphinx-mathjax-offline copies the
# MathJax 3 it ships to _static/mathjax/ at the end of the build (a relative mathjax_path is
# under _static/), so that formulas render without a network.
mathjax_path = "mathjax/tex-chtml.js"

# -- sphinx-gallery ----------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # run every plot_*.py (each takes under a minute on a CPU); the CIFAR-LT recipe
    # (cifar_lt.py) needs the data set and a GPU, so it is rendered without running
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": "False" if os.environ.get("SKLEARN_ELM_SKIP_GALLERY") == "1" else "True",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_elm",),
    "reference_url": {"sklearn_elm": None},
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "write_computation_times": False,  # no sg_execution_times.rst in the source tree
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
}

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-elm {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"install": [], "quickstart": [], "changelog": []}
html_show_sourcelink = True


# -- keep the API page in step with the code ---------------------------------------------------
# every name in a public module's __all__ must appear in api.rst (re-exports of other packages
# excepted); a missing one is a warning, hence an error under -W
_API_MODULES = (
    "sklearn_elm",
    "sklearn_elm.losses",
    "sklearn_elm.callbacks",
    "sklearn_elm.modules",
    "sklearn_elm.datasets",
    "sklearn_elm.metrics",
    "sklearn_elm.plotting",
    "sklearn_elm.persistence",
)


def _check_api_page(app):
    import importlib

    from sphinx.util import logging

    logger = logging.getLogger("sklearn_elm.docs")
    listed = set(re.findall(r"^   (\w+)$", (DOCS / "api.rst").read_text(), flags=re.M))
    for module_name in _API_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            defined_in = getattr(getattr(module, name), "__module__", "") or ""
            if defined_in.startswith("sklearn_elm") and name not in listed:
                logger.warning(f"api.rst does not list {module_name}.{name}")


def _drop_missing_pages(app, docname, source):
    if docname != "index":
        return
    for page in OPTIONAL_PAGES:
        if not any((DOCS / f"{page}{suffix}").exists() for suffix in source_suffix):
            source[0] = re.sub(rf"^   {page}\n", "", source[0], flags=re.M)


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn's generated set_*_request methods document scikit-learn's own glossary
    if re.fullmatch(r"set_\w+_request|get_metadata_routing", name):
        return True
    return None


def _escape_shape_names(app, what, name, obj, options, lines):
    # "of shape (n_features_in_,)": reST reads a trailing underscore as a link target; escape it
    lines[:] = [
        re.sub(r"(?<=[(, ])(\w+)_(?=[,)])", r"\1\\_", line) if "of shape (" in line else line
        for line in lines
    ]


def setup(app):
    app.connect("builder-inited", _check_api_page)
    app.connect("source-read", _drop_missing_pages)
    app.connect("autodoc-skip-member", _skip_metadata_routing)
    app.connect("autodoc-process-docstring", _escape_shape_names)
