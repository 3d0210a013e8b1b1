"""The benchmark results page copies its tables from the reports of the runs it names."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "benchmark_results.md").read_text()


def _current_protocol_sections():
    # a section run under the current protocol says so in its heading and names its folder
    # in the command that re-runs it
    for section in re.split(r"^### ", PAGE, flags=re.M)[1:]:
        heading = section.splitlines()[0]
        if "current protocol" not in heading:
            continue
        folder = re.search(r"--out (benchmarks/results/[\w.-]+)", section)
        yield heading, section, folder and folder[1]


SECTIONS = list(_current_protocol_sections())


def test_page_has_current_protocol_tuned_runs():
    assert SECTIONS


@pytest.mark.parametrize(
    "heading,section,folder", SECTIONS, ids=[heading.split(" (")[0] for heading, *_ in SECTIONS]
)
def test_current_protocol_tables_are_the_reports(heading, section, folder):
    assert folder, heading
    report = (ROOT / folder / "report.md").read_text()
    # the report's tables are copied verbatim: the rank tables (six columns), the Wilcoxon
    # tables (seven), the summary (eight) and the shot accuracies (five); the four-column
    # tables of benchmarks/long_runs_summary.py are not in the report
    rows = [
        line for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
        and line.count(" | ") in (4, 5, 6, 7) and "→" not in line
    ]
    assert len(rows) > 18, heading
    missing = [row for row in rows if row not in report]
    assert not missing, missing
