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


def test_readme_links_and_pictures_exist():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert any(t.endswith(".png") for t in local)
    missing = [t for t in local if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, missing


def test_readme_headline_table_matches_the_benchmark_page():
    # the README's headline rows are copied from the default-suite summary of the docs page
    readme = (ROOT / "README.md").read_text()
    results = (ROOT / "docs" / "benchmark_results.md").read_text()
    summary = results.split("## Default suite")[1].split("### Statistical tests")[0]
    for method, rank, bacc in re.findall(
        r"^\| \**([a-z-]+)\** \| \**([\d.]+)\** \| \**([\d.]+)\** \|", readme, flags=re.M
    ):
        assert re.search(rf"^\| {method} \| {rank} \| {bacc} \|", summary, flags=re.M), method


def test_readme_tuned_columns_match_the_benchmark_page():
    # the tuned columns are the page's "Tuned and default, side by side" table, rounded
    readme = (ROOT / "README.md").read_text()
    results = (ROOT / "docs" / "benchmark_results.md").read_text()
    side = results.split("## Default suite")[1].split("side by side")[1]
    rows = re.findall(
        r"^\| \**([a-z-]+)\** \| [^|]+ \| [^|]+ \| \**([^|*]+?)\** \| \**([\d.]+)\** \|$",
        readme, flags=re.M,
    )
    assert len(rows) >= 10
    for method, rank, bacc in rows:
        found = re.search(rf"^\| {method} \| [\d.]+ \| ([\d.]+) \| [\d.]+ \| ([\d.]+) \|",
                          side, flags=re.M)
        assert found, method
        if rank != "(not tuned)":
            assert f"{float(found[1]):.2f}" == rank, method
        assert found[2] == bacc, method
