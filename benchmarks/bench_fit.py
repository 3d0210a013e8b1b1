"""Training and prediction speed of ``ELMClassifier`` against plain PyTorch and skorch.

Sections (all by default; pick some with ``--sections``):

``fit``
    The reference job: 60,000 rows x 50 features, 10 long-tailed classes, an MLP 256-256 with
    the cosine head, Adam (lr 0.01), ELM loss, batch 512, 3 epochs, shuffled every epoch. Four
    contenders run interleaved (their order rotates every repeat) and the script prints the
    median of the per-repeat ratios:

    * ``ELMClassifier.fit``, including input validation and label encoding;
    * a hand-written PyTorch loop doing the same steps (``torch.optim.Adam`` defaults);
    * the same loop with ``Adam(fused=True)``, which ``ELMClassifier`` uses (for transparency:
      it shows how much of the gap to the loop is the optimizer kernel);
    * skorch's default ``NeuralNetClassifier`` with the same module and criterion and
      ``train_split=None`` (skorch's defaults otherwise, so it does not shuffle).

    Goals: loop time / ELMClassifier time >= 0.9, skorch time / ELMClassifier time >= 1.6.

``predict``
    ``predict_proba`` on 1,000,000 rows against a raw batched ``torch.no_grad()`` loop (goal:
    at most 1.2x its time), and the peak resident-memory growth of ``predict_proba`` on 250k
    and 1M rows, each measured in a fresh subprocess (Linux's peak resident set size
    ``VmHWM``, reset just before the call, minus the resident memory then), and that growth
    net of the output array.

``scale-n`` / ``scale-k``
    How fit time per epoch grows with the number of rows (10k to 1M; fewer epochs for the big
    ones) and with the number of classes (10 to 1000).

``extras``
    ``compile=True`` and ``precision="bf16"`` against the default fp32 fit on the reference job.

OpenMP's wait policy is left as the environment sets it: unset, torch's OpenMP threads spin
briefly between operations before sleeping, which is what users get. On a machine busy with
other jobs those spinning threads fight them for the cores and timings swing widely; run with
``OMP_WAIT_POLICY=PASSIVE`` in the environment there (it must be set before torch is imported,
hence not a command-line option). The header prints a matrix-product probe of both policies.

Usage::

    python benchmarks/bench_fit.py                     # full run, 2 CPU threads (minutes)
    python benchmarks/bench_fit.py --quick             # small sizes, for a smoke test
    python benchmarks/bench_fit.py --write-docs        # also write docs/performance.md
    python benchmarks/bench_fit.py --device cuda       # on a GPU
    python benchmarks/bench_fit.py --sections fit predict --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import skorch
import torch
from skorch import NeuralNetClassifier

from sklearn_elm import ELMClassifier
from sklearn_elm.losses import ELMLoss
from sklearn_elm.modules import MLP

ROOT = Path(__file__).resolve().parents[1]
DOCS_PAGE = ROOT / "docs" / "performance.md"

N_FEATURES = 50
HIDDEN = (256, 256)
LR = 0.01
BATCH_SIZE = 512
PREDICT_BATCH_ROWS = 8192  # as in ELMClassifier's predict path
FIT_GOAL_LOOP, FIT_GOAL_SKORCH, PREDICT_GOAL = 0.9, 1.6, 1.2


# ------------------------------------------------------------------------------------ data
def make_data(n_samples, n_classes, seed=0):
    """Long-tailed Gaussian classes: class k has prior proportional to 0.01 ** (k / (K - 1))."""
    # the class centres depend on n_classes only: a test set drawn with another seed matches
    centers = np.random.default_rng(n_classes).standard_normal((n_classes, N_FEATURES),
                                                               dtype=np.float32)
    rng = np.random.default_rng(seed)
    priors = 0.01 ** (np.arange(n_classes) / max(n_classes - 1, 1))
    y = rng.choice(n_classes, size=n_samples, p=priors / priors.sum())
    X = rng.standard_normal((n_samples, N_FEATURES), dtype=np.float32)
    X += centers[y]
    return X, y


def class_counts(y, n_classes):
    # at least 1 per class, as ELMClassifier does for classes absent from y
    return np.maximum(np.bincount(y, minlength=n_classes), 1)


# ------------------------------------------------------------------------------------ contenders
def fit_elm(X, y, n_classes, epochs, device, **params):
    """``ELMClassifier.fit`` on the reference job; returns the fitted estimator."""
    clf = ELMClassifier(hidden_layer_sizes=HIDDEN, batch_size=BATCH_SIZE, max_epochs=epochs,
                        lr=LR, drw_start=None, random_state=0, device=device, **params)
    return clf.fit(X, y)


def fit_loop(X, y, n_classes, epochs, device, fused=False):
    """The hand-written PyTorch loop: same module, criterion, optimizer, batches and shuffling."""
    torch.manual_seed(0)
    module = MLP(n_features=X.shape[1], n_classes=n_classes, hidden_layer_sizes=HIDDEN).to(device)
    criterion = ELMLoss(class_counts(y, n_classes)).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=fused or None)
    X_all, y_all = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    generator = torch.Generator().manual_seed(0)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(y_all), generator=generator)
        for start in range(0, len(y_all), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            X_batch, y_batch = X_all[rows].to(device), y_all[rows].to(device)
            optimizer.zero_grad()
            loss = criterion(module(X_batch), y_batch)
            loss.backward()
            optimizer.step()
    return loss.item()  # also waits for the device


def fit_skorch(X, y, n_classes, epochs, device):
    """skorch's default ``NeuralNetClassifier`` with the same module and criterion."""
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP, module__n_features=X.shape[1], module__n_classes=n_classes,
        module__hidden_layer_sizes=HIDDEN, criterion=ELMLoss,
        criterion__class_counts=class_counts(y, n_classes), optimizer=torch.optim.Adam, lr=LR,
        batch_size=BATCH_SIZE, max_epochs=epochs, train_split=None, verbose=0, device=device,
    )
    return net.fit(X, y.astype(np.int64))


def time_interleaved(contenders, repeats, warmup=1):
    """Seconds of each contender per repeat, run interleaved with a rotating order.

    Rotating the order means no contender always runs first (on a cold cache) or right after
    the same neighbour, and drifts of the machine's load hit all of them alike.
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    times = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    return times


def per_repeat_ratios(numerators, denominators):
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def median_ratio(numerators, denominators):
    return statistics.median(per_repeat_ratios(numerators, denominators))


# ------------------------------------------------------------------------------------ sections
def section_fit(args):
    n, epochs, n_classes = (10_000, 1, 10) if args.quick else (60_000, 3, 10)
    X, y = make_data(n, n_classes)
    device = args.device

    def run(fn, **kw):
        return lambda: fn(X, y, n_classes, epochs, device, **kw)

    contenders = {
        "ELMClassifier": run(fit_elm),
        "loop": run(fit_loop),
        "loop (fused Adam)": run(fit_loop, fused=True),
        "skorch": run(fit_skorch),
    }
    times = time_interleaved(contenders, args.repeats)
    rows = [(name, statistics.median(t), min(t)) for name, t in times.items()]
    pairs = {
        "loop / ELMClassifier (throughput ratio)": ("loop", "ELMClassifier", FIT_GOAL_LOOP),
        "loop (fused Adam) / ELMClassifier": ("loop (fused Adam)", "ELMClassifier", None),
        "skorch / ELMClassifier (speed-up)": ("skorch", "ELMClassifier", FIT_GOAL_SKORCH),
        "skorch / loop": ("skorch", "loop", None),
    }
    ratios = {}
    for label, (numerator, denominator, goal) in pairs.items():
        per_repeat = per_repeat_ratios(times[numerator], times[denominator])
        ratios[label] = (statistics.median(per_repeat), min(per_repeat), max(per_repeat), goal)
    job = (f"{n:,} rows x {N_FEATURES} features, {n_classes} classes, MLP {HIDDEN}, "
           f"batch {BATCH_SIZE}, {epochs} epoch(s), {args.repeats} repeats")
    return {"job": job, "times": rows, "ratios": ratios,
            "raw": {name: [round(t, 4) for t in ts] for name, ts in times.items()}}


def predict_raw(module, X, scale, device):
    """Raw batched ``torch.no_grad()`` loop: float32 probabilities into a preallocated array."""
    out = np.empty((X.shape[0], module.head.out_features), dtype=np.float32)
    X_all = torch.from_numpy(X)
    module.eval()
    with torch.no_grad():
        for start in range(0, X.shape[0], PREDICT_BATCH_ROWS):
            logits = module(X_all[start : start + PREDICT_BATCH_ROWS].to(device))
            out[start : start + PREDICT_BATCH_ROWS] = torch.softmax(scale * logits, 1).cpu()
    return out


# run in a fresh interpreter per size, so that one measurement's memory cannot hide another's;
# the peak is Linux's VmHWM, reset just before the call through /proc/self/clear_refs
MEMORY_PROBE = textwrap.dedent(
    """
    import json, re, sys
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, {bench_dir!r})
    import bench_fit

    def status_kib(field):
        text = Path("/proc/self/status").read_text()
        return int(re.search(field + r":\\s+(\\d+) kB", text).group(1))

    n_rows, device = int(sys.argv[1]), sys.argv[2]
    X_small, y_small = bench_fit.make_data(2_000, 10)
    clf = bench_fit.fit_elm(X_small, y_small, 10, 1, device)
    clf.predict_proba(X_small)  # lazy allocations (thread pools, kernels) happen here
    X = np.random.default_rng(1).standard_normal((n_rows, bench_fit.N_FEATURES),
                                                 dtype=np.float32)
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    before = status_kib("VmRSS")
    proba = clf.predict_proba(X)
    peak = status_kib("VmHWM")
    print(json.dumps({{"rows": n_rows, "growth": (peak - before) * 1024,
                      "output": proba.nbytes}}))
    """
)


def memory_growth(n_rows, device):
    script = MEMORY_PROBE.format(bench_dir=str(Path(__file__).resolve().parent))
    result = subprocess.run([sys.executable, "-c", script, str(n_rows), device],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return {"rows": n_rows, "error": (result.stdout + result.stderr).strip()[-300:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def section_predict(args):
    n_rows = 100_000 if args.quick else 1_000_000
    X_fit, y_fit = make_data(10_000, 10)
    clf = fit_elm(X_fit, y_fit, 10, 1, args.device)
    X = np.random.default_rng(2).standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    contenders = {
        "ELMClassifier.predict_proba": lambda: clf.predict_proba(X),
        "raw torch.no_grad() loop": lambda: predict_raw(clf.module_, X, clf.s, clf.device_),
    }
    gap = np.abs(contenders["ELMClassifier.predict_proba"]()
                 - contenders["raw torch.no_grad() loop"]()).max()
    times = time_interleaved(contenders, args.repeats)
    ratio = median_ratio(times["ELMClassifier.predict_proba"],
                         times["raw torch.no_grad() loop"])
    sizes = (25_000, 100_000) if args.quick else (250_000, 1_000_000)
    memory = [memory_growth(size, args.device) for size in sizes]
    return {
        "rows": n_rows,
        "times": [(name, statistics.median(t), min(t)) for name, t in times.items()],
        "ratio": ratio,
        "max_abs_diff": float(gap),
        "memory": memory,
    }


def section_scale_n(args):
    plan = ([(10_000, 2), (30_000, 1)] if args.quick else
            [(10_000, 3), (30_000, 3), (100_000, 3), (300_000, 1), (1_000_000, 1)])
    rows = []
    for n, epochs in plan:
        X, y = make_data(n, 10)
        times = time_interleaved({"fit": lambda X=X, y=y, e=epochs: fit_elm(
            X, y, 10, e, args.device)}, args.scale_repeats, warmup=0)["fit"]
        seconds = statistics.median(times)
        rows.append((n, epochs, seconds, seconds / epochs, seconds / epochs / n * 1e6))
    return rows


def section_scale_k(args):
    n = 10_000 if args.quick else 60_000
    plan = (10, 100) if args.quick else (10, 100, 1000)
    epochs = 1
    rows = []
    for n_classes in plan:
        X, y = make_data(n, n_classes)
        times = time_interleaved({"fit": lambda X=X, y=y, k=n_classes: fit_elm(
            X, y, k, epochs, args.device)}, args.scale_repeats, warmup=0)["fit"]
        seconds = statistics.median(times)
        rows.append((n_classes, n, epochs, seconds / epochs))
    return rows


def section_extras(args):
    """compile=True and precision="bf16" on the reference job, against the fp32 fit."""
    n, epochs = (10_000, 1) if args.quick else (60_000, 3)
    X, y = make_data(n, 10)
    X_test, y_test = make_data(20_000, 10, seed=1)
    results = []
    for label, params in (("fp32 (default)", {}), ("precision='bf16'", {"precision": "bf16"}),
                          ("compile=True", {"compile": True})):
        start = time.perf_counter()
        clf = fit_elm(X, y, 10, epochs, args.device, **params)
        seconds = time.perf_counter() - start
        proba = clf.predict_proba(X_test)
        results.append((label, seconds, bool(np.isfinite(proba).all()),
                        float((clf.classes_[proba.argmax(1)] == y_test).mean())))
    return results


# ------------------------------------------------------------------------------------ machine
WAIT_PROBE = textwrap.dedent(
    """
    import time, torch
    torch.set_num_threads({threads})
    a, b = torch.randn(512, 256), torch.randn(256, 256)
    for _ in range(20):
        a @ b
    start = time.perf_counter()
    for _ in range(200):
        a @ b
    print((time.perf_counter() - start) / 200 * 1e3)
    """
)


def wait_policy_probe(threads):
    """Milliseconds per 512x256 @ 256x256 product under each OpenMP wait policy."""
    out = {}
    for policy in ("ACTIVE", "PASSIVE"):
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        result = subprocess.run([sys.executable, "-c", WAIT_PROBE.format(threads=threads)],
                                env=env, capture_output=True, text=True, check=False)
        out[policy] = float(result.stdout.strip()) if result.returncode == 0 else float("nan")
    return out


def machine_info(args):
    cpu, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            if cpu != "unknown" and flags:
                break
    except OSError:
        pass
    # what decides whether bf16 autocast can be fast on this CPU
    vector_units = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    gpu = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
           else "none (torch.cuda.is_available() is False)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cpu_flags": vector_units,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
        "gpu": gpu,
        "gpu_available": torch.cuda.is_available(),
        "device": args.device,
        "load_average": None if load is None else [round(x, 2) for x in load],
    }


# ------------------------------------------------------------------------------------ report
def _verdict(value, goal, at_least=True):
    if goal is None:
        return ""
    ok = value >= goal if at_least else value <= goal
    sign = ">=" if at_least else "<="
    return f"goal {sign} {goal}: {'met' if ok else 'NOT met'}"


def render(results, machine, command):
    """The report as Markdown (printed, and written to docs/performance.md on request)."""
    lines = [
        "# Performance",
        "",
        "Generated by `benchmarks/bench_fit.py` (do not edit by hand: rerun the script with",
        "`--write-docs`). Times are wall-clock seconds, medians over repeats; ratios are the",
        "median of per-repeat ratios of contenders run interleaved in one process.",
        "",
        f"Command: `{command}`",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['logical_cpus']} logical CPUs (flags: "
        f"{', '.join(machine['cpu_flags']) or 'none of avx2/avx512f/avx512_bf16/amx_bf16'}); "
        f"torch threads: {machine['torch_threads']}; "
        "`OMP_WAIT_POLICY` "
        + (f"`{machine['omp_wait_policy']}`" if machine["omp_wait_policy"]
           else "unset (OpenMP's default: spin briefly, then sleep)"),
        f"- GPU: {machine['gpu']}; device used: `{machine['device']}`",
        f"- Python {machine['python']}, torch {machine['torch']}, skorch {machine['skorch']}, "
        f"numpy {machine['numpy']}",
        f"- Load average at the start (1, 5, 15 min): {machine['load_average']} — the machine "
        "is shared with other jobs, so absolute times are noisy; compare the ratios.",
    ]
    probe = results.get("wait_probe")
    if probe:
        lines += [
            f"- OpenMP wait policy probe (512x256 @ 256x256 float32 product, "
            f"{machine['torch_threads']} threads): {probe['ACTIVE']:.2f} ms with "
            f"`OMP_WAIT_POLICY=ACTIVE`, {probe['PASSIVE']:.2f} ms with `PASSIVE`. On a busy "
            "machine spinning OpenMP threads fight the other jobs for the cores: run the "
            "script with `OMP_WAIT_POLICY=PASSIVE` there; see [scaling](scaling.md) for the "
            "thread settings.",
        ]
    lines += ["", "## GPU"]
    if not machine["gpu_available"]:
        lines += ["",
                  "No CUDA GPU was available for this run (`torch.cuda.is_available()` is "
                  "False), so this page has no GPU figures. On a machine with one, "
                  "`python benchmarks/bench_fit.py --device cuda --write-docs` records them "
                  "here with the GPU model (under Machine), and "
                  "`python benchmarks/bench_losses.py` prints its CUDA table after the CPU "
                  "one. The CUDA code paths have tests that skip without a GPU "
                  "(in `tests/test_fast_path.py`, `tests/test_losses.py`, "
                  "`tests/test_classifier.py` and `tests/test_bad_input.py`)."]
    lines += ["", _gpu_section()]
    if "fit" in results:
        fit = results["fit"]
        lines += ["", "## Fit: ELMClassifier against a hand-written loop and skorch", "",
                  f"Job: {fit['job']}.", "",
                  "| contender | median s | min s |", "|---|---:|---:|"]
        lines += [f"| {name} | {med:.3f} | {low:.3f} |" for name, med, low in fit["times"]]
        lines += ["", "| ratio | median of the per-repeat ratios | lowest – highest repeat "
                  "| goal |", "|---|---:|---:|---|"]
        lines += [f"| {name} | {value:.3f} | {low:.3f} – {high:.3f} | {_verdict(value, goal)} |"
                  for name, (value, low, high, goal) in fit["ratios"].items()]
        lines += ["", "ELMClassifier builds its optimizer with `fused=True` (one kernel per "
                  "step for all parameters); the \"loop (fused Adam)\" row is the hand-written "
                  "loop with the same optimizer kernel. skorch runs with its defaults "
                  "(no shuffling) and `train_split=None`."]
    if "predict" in results:
        pred = results["predict"]
        lines += ["", f"## predict_proba on {pred['rows']:,} rows", "",
                  "| contender | median s | min s |", "|---|---:|---:|"]
        lines += [f"| {name} | {med:.3f} | {low:.3f} |" for name, med, low in pred["times"]]
        lines += ["", f"ELMClassifier / raw loop: **{pred['ratio']:.3f}** "
                  f"({_verdict(pred['ratio'], PREDICT_GOAL, at_least=False)}); largest "
                  f"difference of the probabilities: {pred['max_abs_diff']:.1e}.", "",
                  "Peak resident-memory growth during `predict_proba` (fresh process per "
                  "size; the output is a float64 array):", "",
                  "| rows | peak growth MiB | output MiB | growth beyond the output MiB |",
                  "|---:|---:|---:|---:|"]
        for entry in pred["memory"]:
            if "error" in entry:
                lines.append(f"| {entry['rows']:,} | error: {entry['error']} | | |")
                continue
            mib = 2**20
            lines.append(f"| {entry['rows']:,} | {entry['growth'] / mib:.1f} | "
                         f"{entry['output'] / mib:.1f} | "
                         f"{(entry['growth'] - entry['output']) / mib:.1f} |")
    if "scale-n" in results:
        lines += ["", "## Fit time against the number of rows", "",
                  f"{N_FEATURES} features, 10 classes, MLP {HIDDEN}, batch {BATCH_SIZE}.", "",
                  "| rows | epochs | fit s | s / epoch | µs / row / epoch |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {n:,} | {e} | {s:.2f} | {se:.2f} | {us:.1f} |"
                  for n, e, s, se, us in results["scale-n"]]
    if "scale-k" in results:
        lines += ["", "## Fit time against the number of classes", "",
                  f"{N_FEATURES} features, MLP {HIDDEN}, batch {BATCH_SIZE}, long-tailed "
                  "classes.", "", "| classes | rows | epochs | s / epoch |",
                  "|---:|---:|---:|---:|"]
        lines += [f"| {k:,} | {n:,} | {e} | {se:.2f} |" for k, n, e, se in results["scale-k"]]
    if "extras" in results:
        lines += ["", "## Mixed precision and torch.compile (one run each)", "",
                  "| variant | fit s (incl. compilation) | finite probabilities | "
                  "test accuracy |", "|---|---:|---|---:|"]
        lines += [f"| {label} | {s:.2f} | {finite} | {acc:.3f} |"
                  for label, s, finite, acc in results["extras"]]
    return "\n".join(lines) + "\n"


SECTIONS = {"fit": section_fit, "predict": section_predict, "scale-n": section_scale_n,
            "scale-k": section_scale_k, "extras": section_extras}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved repeats of the fit and predict comparisons "
                             "(default 5, 2 with --quick)")
    parser.add_argument("--scale-repeats", type=int, default=None,
                        help="repeats per size in the scaling tables (default 2, 1 with --quick)")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=None,
                        help="sections to run (default: all but extras)")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"write the report to {DOCS_PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False")
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.scale_repeats = args.scale_repeats or (1 if args.quick else 2)
    args.sections = args.sections or ["fit", "predict", "scale-n", "scale-k"]
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = machine_info(args)
    print(json.dumps(machine))
    results = {"wait_probe": wait_policy_probe(args.threads)}
    print("OpenMP wait policy probe (ms per product):", results["wait_probe"], flush=True)
    for name in args.sections:
        start = time.perf_counter()
        results[name] = SECTIONS[name](args)
        print(f"[{name}] done in {time.perf_counter() - start:.0f} s", flush=True)
        if name == "fit":
            print("raw fit times:", json.dumps(results[name]["raw"]), flush=True)
    command = "python benchmarks/bench_fit.py " + " ".join(sys.argv[1:] if argv is None
                                                           else argv)
    report = render(results, machine, command.strip())
    print(report)
    if args.write_docs:
        DOCS_PAGE.write_text(report + NOTES + _search_section())
        print(f"wrote {DOCS_PAGE}")


def _carried_block(begin, end):
    """The block between ``begin`` and ``end`` of the page, markers included, or ''."""
    page = DOCS_PAGE.read_text() if DOCS_PAGE.exists() else ""
    if begin not in page or end not in page:
        return ""
    return page[page.index(begin) : page.index(end) + len(end)]


def _gpu_section():
    """What ``bench_gpu.py --write-docs`` wrote in the GPU section, carried over unchanged."""
    return _carried_block("<!-- bench_gpu: begin -->", "<!-- bench_gpu: end -->")


def _search_section():
    """The section that ``bench_search.py`` keeps in the same page, carried over unchanged."""
    block = _carried_block("<!-- bench_search: begin -->", "<!-- bench_search: end -->")
    return "\n" + block + "\n" if block else ""


NOTES = """
## What makes the fit fast

- **Whole-tensor batches.** `ELMClassifier` hands skorch a `TensorData` of whole tensors, and
  `ELMNet`'s `BatchIterator` builds each batch with one `index_select` per tensor (or a view
  when not shuffling), instead of skorch's default `Dataset.__getitem__` per sample followed
  by `default_collate`. That per-sample path is what the "skorch" row pays.
- **One host-to-device transfer per tensor per batch.** On CUDA each batch is gathered directly
  into pinned (page-locked) memory and copied with `non_blocking=True`.
- **Fused optimizer kernels.** Adam, AdamW and SGD are built with `fused=True` (unless the user
  passes `optimizer__fused`, `optimizer__foreach` or `optimizer__differentiable`): the same
  update, one kernel for all parameters instead of a Python loop of small ops per parameter.
- **No wait for the device inside an epoch.** The batch losses stay on the device; at the end
  of the epoch one transfer fills skorch's per-batch history and the divergence check (a
  NaN or infinite loss is reported with its epoch and first batch). On CUDA the data are
  copied to the device once per fit when they fit in half its free memory, and the training
  steps are captured in CUDA graphs (`cuda_graphs="auto"`). Per batch, skorch's loop adds
  only its callbacks' `on_batch_begin`/`on_batch_end` and two history entries.
  `ELMNet` skips skorch's per-batch `module.train()` walk when every module is already in
  training mode (and no module overrides `train`).
- **A cheaper cosine head** (in every contender, since they share the module):
  `CosineLinear` divides the (N, K) product `x @ w_normalised.T` by the row norms of `x`
  instead of normalising the (N, D) input first: the same values, with several D-wide
  element-wise operations fewer in the backward pass.

## Options

- `precision="bf16"` / `"fp16"` runs the module under `torch.autocast`; the loss is always
  computed in float32 (fp16 on CUDA also uses a gradient scaler). On a CPU, whether bf16 is
  faster than fp32 depends on native bfloat16 instructions (the `avx512_bf16` / `amx_bf16`
  flags listed under Machine) and on the layer sizes: time it on your hardware (the table
  above is one run of each).
- `compile=True` compiles the module with `torch.compile` (it works on CPU: inductor needs a C++
  compiler). Each `fit` builds a new module and compiles it again, which takes seconds (when
  torch's on-disk compile cache already holds the kernels, as in repeated runs) to tens of
  seconds, so it only pays off for long fits of large modules, and mostly on GPUs.
- `device="auto"` picks CUDA when `torch.cuda.is_available()`.

## Prediction memory

`predict_proba` runs the module over batches of 8,192 rows into a preallocated float64 array.
The table above shows what it costs in memory beyond that output; see
[scaling](scaling.md) for multi-process and multi-machine set-ups.
"""


if __name__ == "__main__":
    main()
