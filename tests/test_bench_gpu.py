"""``benchmarks/bench_gpu.py`` runs end to end on the CPU and never labels CPU figures as GPU."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bench_gpu():
    path = ROOT / "benchmarks" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(path.parent))  # the script puts benchmarks/ first to import bench_fit


def test_quick_cpu_run_writes_every_section(bench_gpu, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    bench_gpu.main(["--device", "cpu", "--quick", "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["machine"]["device"] == "cpu" and "gpu" not in results["machine"]
    sections = results["results"]
    assert set(sections) == set(bench_gpu.SECTIONS)
    # no CUDA-graph contenders without CUDA; every time positive
    assert set(sections["steps"]["ms_per_step"]) == {
        "ELMClassifier.fit", "hand-written loop, data on the device"}
    assert all(ms > 0 for ms in sections["steps"]["ms_per_step"].values())
    assert sections["search"]["GridSearchCV_fits"] == 16 * 5 + 1
    assert all(m["gflops"] > 0 for m in sections["batched"]["members"].values())
    assert set(sections["resnet"]["precisions"]) == {"fp32", "bf16"}
    assert sections["resnet-search"]["batched_s"] > 0
    report = capsys.readouterr().out
    assert "on device `cpu` (no GPU)" in report and "| ELMClassifier.fit |" in report


def test_write_docs_refuses_without_cuda(bench_gpu, capsys):
    page = bench_gpu.DOCS_PAGE.read_text()
    with pytest.raises(SystemExit) as info:
        bench_gpu.main(["--device", "cpu", "--quick", "--write-docs"])
    assert info.value.code != 0
    assert "needs a CUDA device" in capsys.readouterr().err
    assert bench_gpu.DOCS_PAGE.read_text() == page


def test_the_docs_page_has_the_gpu_markers_in_its_gpu_section(bench_gpu):
    page = bench_gpu.DOCS_PAGE.read_text()
    gpu = page.index("## GPU")
    following = page.find("\n## ", gpu + 1)
    assert gpu < page.index(bench_gpu.BEGIN) < page.index(bench_gpu.END) < following


def test_write_docs_replaces_only_the_marked_block(bench_gpu, tmp_path, monkeypatch):
    page = tmp_path / "performance.md"
    page.write_text(f"# P\n\n## GPU\n\n{bench_gpu.BEGIN}\nold\n{bench_gpu.END}\n\n## Next\n")
    monkeypatch.setattr(bench_gpu, "DOCS_PAGE", page)
    bench_gpu.write_docs("new table\n")
    assert page.read_text() == (f"# P\n\n## GPU\n\n{bench_gpu.BEGIN}\nnew table\n"
                                f"{bench_gpu.END}\n\n## Next\n")
