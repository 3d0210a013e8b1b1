"""The gallery scripts and the quick-start notebook run from top to bottom.

Each gallery script runs in a subprocess (a fresh interpreter, headless matplotlib), in its
tiny ``SKLEARN_ELM_QUICK_EXAMPLES=1`` version; the documentation build runs the full ones.
The notebook is executed by nbclient here and by ``pytest --nbmake examples/notebooks`` in CI.
All are marked ``slow``: deselect them with ``-m "not slow"``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OWN_GALLERY_SCRIPTS = [
    "plot_fit_predict.py",
    "plot_grid_search_margins.py",
    "plot_elm_vs_samplers.py",
    "plot_decision_boundary.py",
]


def _quick_env():
    env = dict(os.environ)
    env.update(SKLEARN_ELM_QUICK_EXAMPLES="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    return env


@pytest.mark.slow
@pytest.mark.parametrize("script", OWN_GALLERY_SCRIPTS)
def test_gallery_script_runs(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=tmp_path,  # the scripts must not depend on, or write into, the working directory
        env=_quick_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", OWN_GALLERY_SCRIPTS)
def test_gallery_script_is_in_sphinx_gallery_format(script):
    """A title in the docstring and ``# %%`` cells, as sphinx-gallery expects."""
    source = (EXAMPLES / script).read_text()
    docstring = source.split('"""')[1].strip().splitlines()
    assert docstring[0].startswith("===") and docstring[2].startswith("===")
    assert len(docstring[1]) <= len(docstring[0])  # the over/underline covers the title
    assert source.count("\n# %%\n") >= 2


def test_gallery_has_a_header():
    assert (EXAMPLES / "README.txt").read_text().startswith(".. _gallery:")


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    notebook = nbformat.read(EXAMPLES / "notebooks" / "quickstart.ipynb", as_version=4)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)
