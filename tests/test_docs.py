"""The documentation builds offline with warnings as errors, gallery examples executed."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def conf_value(name):
    """The literal that ``docs/conf.py`` assigns to ``name``, read without running the file."""
    for node in ast.parse((ROOT / "docs" / "conf.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"docs/conf.py assigns no {name}")


def test_mathjax_is_served_from_the_built_site():
    # a URL (https://..., //cdn...) leaves every formula as raw LaTeX on a machine offline
    mathjax_path = conf_value("mathjax_path")
    assert "//" not in mathjax_path and not mathjax_path.startswith("/"), mathjax_path
    assert "sphinx-mathjax-offline" in conf_value("extensions")
    # the extension copies its MathJax tree to _static/: the configured file must be in it
    offline = pytest.importorskip("sphinx-mathjax-offline")
    assert (Path(offline.__file__).parent / "static" / mathjax_path).is_file()


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # -W: any warning fails; -E: fresh environment; the gallery output still lands in docs/
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-E", "-q", "-b", "html", "docs",
         str(tmp_path / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "html" / "index.html").exists()
    assert (tmp_path / "html" / "auto_examples" / "index.html").exists()
    # the pages with formulas load the copy of MathJax in the site, which is there
    mathjax = f"_static/{conf_value('mathjax_path')}"
    assert f'src="{mathjax}"' in (tmp_path / "html" / "user_guide.html").read_text()
    assert (tmp_path / "html" / mathjax).is_file()
