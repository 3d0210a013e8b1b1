"""The README's two set-up commands and .ci/run must not drift apart."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    commands = _readme_commands()
    test_command = next(c for c in commands if "pytest" in c)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_main_job_runs_the_benchmark():
    commands = _readme_commands()
    main_job = next(c for c in commands if "benchmark" in c)
    assert "sklearn-elm benchmark" in main_job
    assert main_job.startswith("python3 -m venv .venv")
