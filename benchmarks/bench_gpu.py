"""GPU speed of ELMClassifier, the batched search and ResNet-32, in one process.

Sections (all by default; pick some with ``--sections``), each printed as a table:

``steps``
    ms per training step on the reference job of ``bench_fit.py`` (60,000 rows x 50 features,
    10 long-tailed classes, MLP (256, 256), ELM loss, Adam, batch 512): ``ELMClassifier.fit``
    (fit time over its steps, so validation and set-up count), on CUDA also with
    ``cuda_graphs=False``; a hand-written loop with the data on the device; on CUDA the same
    loop with each step captured in a CUDA graph. The hand-written loops call ELMLoss's tensor
    core, without the per-batch target check of ``ELMLoss.forward``.
``default-fit``
    ``ELMClassifier()`` with its defaults (60 epochs, batch 128, one hidden layer of 100) on
    10,000 rows x 50 features, on the chosen device and on the CPU.
``search``
    ``ELMClassifierCV()`` (16 candidates x 5 folds, batched) against ``GridSearchCV`` over the
    same grid. GridSearchCV's time is extrapolated: a few (candidate, fold) fits are timed,
    their mean times the 80 fits plus the refit.
``batched``
    The batched engine (``sklearn_elm._batched.fit_members``) training 1, 16, 64 and 256 copies
    of an MLP (256, 256) together: ms per step and GFLOP/s (the linear layers' forward and
    backward, 6 x rows x weights per member and step), against the GFLOP/s of one large
    ``torch.mm``.
``resnet``
    ResNet-32 training images/s in fp32 and bf16 (the second epoch's duration, so the first
    epoch's set-up does not count) on random 32x32 images, and the estimated time of the
    200-epoch CIFAR-10-LT recipe (12,406 training images, imbalance ratio 100).
``resnet-search``
    Eight ResNet-32 candidates trained together by the batched engine against eight single
    fits one after the other.

``--quick`` shrinks every job (for a smoke test on the CPU: ``--device cpu --quick``).
``--out FILE`` writes the results as JSON; ``--write-docs`` writes the tables between the
``bench_gpu`` markers of ``docs/performance.md`` and refuses to run without CUDA, so that no
figure measured elsewhere lands in the GPU section.

Usage::

    python benchmarks/bench_gpu.py                          # on a CUDA machine (< 5 minutes)
    python benchmarks/bench_gpu.py --device cpu --quick     # smoke test
    python benchmarks/bench_gpu.py --write-docs --out gpu.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import ParameterGrid, StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import (  # noqa: E402 - the reference job is bench_fit's
    BATCH_SIZE,
    HIDDEN,
    LR,
    N_FEATURES,
    class_counts,
    make_data,
    time_interleaved,
)

from sklearn_elm import ELMClassifier, ELMClassifierCV  # noqa: E402
from sklearn_elm._batched import fit_members  # noqa: E402
from sklearn_elm.losses import ELMLoss  # noqa: E402
from sklearn_elm.model_selection import DEFAULT_PARAM_GRID  # noqa: E402
from sklearn_elm.modules import MLP  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS_PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench_gpu: begin -->", "<!-- bench_gpu: end -->"
CIFAR10_LT_IMAGES = 12_406  # CIFAR-10-LT training set at imbalance ratio 100
RECIPE_EPOCHS = 200


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


# ------------------------------------------------------------------------------ steps
def _mlp_job(X, y, n_classes, device, hidden):
    torch.manual_seed(0)
    module = MLP(n_features=X.shape[1], n_classes=n_classes, hidden_layer_sizes=hidden)
    module = module.to(device)
    criterion = ELMLoss(class_counts(y, n_classes)).to(device)
    arguments = {name: value.to(device, torch.float32) if isinstance(value, torch.Tensor)
                 else value for name, value in criterion.core_arguments().items()}

    def loss_fn(logits, target):
        return criterion.core(logits, target, **arguments).mean()

    X_d = torch.from_numpy(X).to(device)
    y_d = torch.from_numpy(y.astype(np.int64)).to(device)
    return module, loss_fn, X_d, y_d


def loop_resident(X, y, n_classes, epochs, device, hidden=HIDDEN, batch_size=BATCH_SIZE):
    """Hand-written loop, data on the device, permutation and gathers there; returns steps."""
    module, loss_fn, X_d, y_d = _mlp_job(X, y, n_classes, device, hidden)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True)
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(y_d), device=device)
        for start in range(0, len(y_d), batch_size):
            rows = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(module(X_d[rows]), y_d[rows]).backward()
            optimizer.step()
            steps += 1
    return steps


def loop_graphed(X, y, n_classes, epochs, device, hidden=HIDDEN, batch_size=BATCH_SIZE):
    """The device-resident loop with each full step replayed from a CUDA graph."""
    module, loss_fn, X_d, y_d = _mlp_job(X, y, n_classes, device, hidden)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True, capturable=True)
    static_X = X_d[:batch_size].clone()
    static_y = y_d[:batch_size].clone()

    def step(X_batch, y_batch):
        loss_fn(module(X_batch), y_batch).backward()
        optimizer.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up steps, as torch.cuda.graphs asks (they train too)
            optimizer.zero_grad(set_to_none=True)
            step(static_X, static_y)
    torch.cuda.current_stream().wait_stream(side)
    optimizer.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step(static_X, static_y)
    steps = 3
    for _ in range(epochs):
        order = torch.randperm(len(y_d), device=device)
        for start in range(0, len(y_d), batch_size):
            rows = order[start : start + batch_size]
            if rows.numel() == batch_size:
                torch.index_select(X_d, 0, rows, out=static_X)
                torch.index_select(y_d, 0, rows, out=static_y)
                graph.replay()
            else:  # the last, smaller batch: eagerly, into the graph's gradients
                for param in module.parameters():
                    param.grad.zero_()
                step(X_d[rows], y_d[rows])
            steps += 1
    return steps


def section_steps(args):
    n, epochs = (1_000, 1) if args.quick else (60_000, 3)
    n_classes, device, cuda = 10, args.device, args.device.startswith("cuda")
    hidden = (32, 32) if args.quick else HIDDEN
    X, y = make_data(n, n_classes)
    steps_per_fit = epochs * math.ceil(n / BATCH_SIZE)

    def elm(**params):
        return lambda: ELMClassifier(hidden_layer_sizes=hidden, batch_size=BATCH_SIZE,
                                     max_epochs=epochs, lr=LR, drw_start=None, random_state=0,
                                     device=device, **params).fit(X, y)

    contenders = {"ELMClassifier.fit": elm()}
    if cuda:
        contenders["ELMClassifier.fit, cuda_graphs=False"] = elm(cuda_graphs=False)
    contenders["hand-written loop, data on the device"] = \
        lambda: (loop_resident(X, y, n_classes, epochs, device, hidden), sync(device))
    if cuda:
        contenders["hand-written loop, CUDA graph per step"] = \
            lambda: (loop_graphed(X, y, n_classes, epochs, device, hidden), sync(device))
    times = time_interleaved(contenders, args.repeats)
    rows = [(name, 1e3 * statistics.median(t) / steps_per_fit) for name, t in times.items()]
    return {"job": f"{n:,} rows x {N_FEATURES} features, {n_classes} classes, MLP {hidden}, "
                   f"batch {BATCH_SIZE}, {epochs} epoch(s) = {steps_per_fit} steps, "
                   f"{args.repeats} repeat(s)",
            "ms_per_step": dict(rows)}


# ------------------------------------------------------------------------------ default fit
def section_default_fit(args):
    n, n_features, epochs = (1_000, 20, 3) if args.quick else (10_000, N_FEATURES, 60)
    X, y = make_data(n, 10)
    X = X[:, :n_features]
    devices = [args.device] if args.device == "cpu" else [args.device, "cpu"]
    seconds = {}
    for device in devices:
        seconds[device], _ = timed(
            lambda d=device: ELMClassifier(max_epochs=epochs, random_state=0, device=d).fit(X, y),
            device)
    return {"job": f"ELMClassifier() defaults, {n:,} rows x {n_features} features, 10 classes, "
                   f"{epochs} epochs", "seconds": seconds}


# ------------------------------------------------------------------------------ search
def section_search(args):
    n, n_features, epochs, sampled = (800, 8, 1, 2) if args.quick else (5_000, 20, 20, 4)
    X, y = make_data(n, 3)  # the rarest class keeps a few rows in every fold
    X = X[:, :n_features]
    base = dict(max_epochs=epochs, random_state=0, device=args.device)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    batched, _ = timed(lambda: ELMClassifierCV(**base, cv=cv).fit(X, y), args.device)
    # GridSearchCV(ELMClassifier(**base), DEFAULT_PARAM_GRID, cv=cv) fits one ELMClassifier
    # per (candidate, fold) and scores it on the fold's held-out part: time a few such fits
    candidates = list(ParameterGrid(DEFAULT_PARAM_GRID))
    train, test = next(cv.split(X, y))
    per_fit = []
    for params in candidates[:sampled]:
        seconds, _ = timed(lambda p=params: ELMClassifier(**base, **p).fit(
            X[train], y[train]).score(X[test], y[test]), args.device)
        per_fit.append(seconds)
    fits = len(candidates) * cv.get_n_splits() + 1
    estimate = statistics.mean(per_fit) * fits
    return {"job": f"{n:,} rows x {n_features} features, 3 classes, {epochs} epochs, "
                   f"{len(candidates)} candidates x 5 folds",
            "ELMClassifierCV_s": batched, "GridSearchCV_s_estimated": estimate,
            "GridSearchCV_fits": fits, "GridSearchCV_fits_timed": len(per_fit)}


# ------------------------------------------------------------------------------ batched
def mm_gflops(device, size):
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    torch.mm(a, b)
    repeats = 3 if device == "cpu" else 20
    seconds, _ = timed(lambda: [torch.mm(a, b) for _ in range(repeats)], device)
    return 2 * size**3 * repeats / seconds / 1e9


def section_batched(args):
    quick = args.quick
    n, epochs = (512, 1) if quick else (20_000, 1)
    hidden = (32, 32) if quick else HIDDEN
    counts = (1, 4) if quick else (1, 16, 64, 256)
    X, y = make_data(n, 10)
    rows = np.arange(n)
    weights = sum(a * b for a, b in zip((N_FEATURES, *hidden), (*hidden, 10), strict=True))
    steps = epochs * math.ceil(n / BATCH_SIZE)
    results = {}
    for k in counts:
        members = [(dict(hidden_layer_sizes=hidden, batch_size=BATCH_SIZE, max_epochs=epochs,
                         lr=LR, drw_start=None, random_state=seed, device=args.device), rows)
                   for seed in range(k)]
        seconds, fitted = timed(lambda m=members: fit_members(
            X, y, m, max_batched_members=len(m), memory_budget=2**36), args.device)
        alone = sum(not result.batched for result in fitted)
        flops = 6 * BATCH_SIZE * weights * k * steps
        results[k] = {"ms_per_step": 1e3 * seconds / steps, "gflops": flops / seconds / 1e9,
                      "fitted_alone": alone}
    size = 1024 if quick else 4096
    return {"job": f"{n:,} rows, MLP {hidden}, batch {BATCH_SIZE}, {epochs} epoch(s) = "
                   f"{steps} steps", "members": results,
            "mm_gflops": mm_gflops(args.device, size), "mm_size": size}


# ------------------------------------------------------------------------------ ResNet-32
def _images(n, side, seed=0):
    rng = np.random.default_rng(seed)
    priors = 0.01 ** (np.arange(10) / 9)
    y = rng.choice(10, size=n, p=priors / priors.sum())
    X = rng.standard_normal((n, 3, side, side), dtype=np.float32)
    return X, y


def _resnet(args, **params):
    return ELMClassifier(module="resnet32", augment=True, optimizer="sgd", lr=0.1,
                         weight_decay=2e-4, batch_size=128, random_state=0, device=args.device,
                         **params)


def section_resnet(args):
    n, side = (32, 8) if args.quick else (CIFAR10_LT_IMAGES, 32)
    X, y = _images(n, side)
    results = {}
    for precision in ("fp32", "bf16"):
        clf = _resnet(args, max_epochs=2, precision=precision).fit(X, y)
        images_per_s = n / clf.history_[-1, "dur"]
        results[precision] = {
            "images_per_s": images_per_s,
            "recipe_minutes": RECIPE_EPOCHS * CIFAR10_LT_IMAGES / images_per_s / 60,
        }
    return {"job": f"{n:,} random {side}x{side} images, batch 128, SGD, augmentation",
            "precisions": results}


def section_resnet_search(args):
    n, side, epochs = (16, 8, 1) if args.quick else (4_000, 32, 2)
    X, y = _images(n, side)
    lams = [-0.5, 0.0, 0.5, 1.0]
    grid = [dict(lam=lam, max_m=max_m) for lam in lams for max_m in (0.3, 0.5)]
    rows = np.arange(n)
    base = _resnet(args, max_epochs=epochs).get_params()
    members = [({**base, **candidate}, rows) for candidate in grid]
    batched, fitted = timed(lambda: fit_members(X, y, members, memory_budget=2**36),
                            args.device)
    single, _ = timed(lambda: [ELMClassifier(**params).fit(X, y) for params, _ in members],
                      args.device)
    return {"job": f"8 candidates (lam x max_m), {n:,} random {side}x{side} images, "
                   f"{epochs} epoch(s)",
            "batched_s": batched, "single_fits_s": single,
            "fitted_alone": sum(not result.batched for result in fitted)}


SECTIONS = {"steps": section_steps, "default-fit": section_default_fit,
            "search": section_search, "batched": section_batched,
            "resnet": section_resnet, "resnet-search": section_resnet_search}


# ------------------------------------------------------------------------------ report
def machine(device):
    info = {"device": device, "torch": torch.__version__, "python": platform.python_version(),
            "cpu_threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def render(results, info, command):
    where = info.get("gpu", f"device `{info['device']}` (no GPU)")
    lines = [f"Measured by `{command}` on {where}, torch {info['torch']}.", ""]
    if "steps" in results:
        r = results["steps"]
        lines += [f"**Training step** ({r['job']}):", "", "| contender | ms/step |",
                  "|---|---:|"]
        lines += [f"| {name} | {ms:.3f} |" for name, ms in r["ms_per_step"].items()]
        lines.append("")
    if "default-fit" in results:
        r = results["default-fit"]
        lines += [f"**Default fit** ({r['job']}):", "", "| device | s |", "|---|---:|"]
        lines += [f"| {device} | {s:.2f} |" for device, s in r["seconds"].items()]
        lines.append("")
    if "search" in results:
        r = results["search"]
        lines += [f"**Search** ({r['job']}): ELMClassifierCV {r['ELMClassifierCV_s']:.1f} s; "
                  f"GridSearchCV about {r['GridSearchCV_s_estimated']:.1f} s (estimated: "
                  f"{r['GridSearchCV_fits_timed']} of its {r['GridSearchCV_fits']} fits "
                  "timed, their mean extrapolated).", ""]
    if "batched" in results:
        r = results["batched"]
        lines += [f"**Batched engine** ({r['job']}; one {r['mm_size']}x{r['mm_size']} "
                  f"torch.mm: {r['mm_gflops']:.0f} GFLOP/s):", "",
                  "| members | ms/step | GFLOP/s | share of torch.mm |", "|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v['ms_per_step']:.2f} | {v['gflops']:.1f} | "
                  f"{v['gflops'] / r['mm_gflops']:.1%} |" for k, v in r["members"].items()]
        lines.append("")
    if "resnet" in results:
        r = results["resnet"]
        lines += [f"**ResNet-32** ({r['job']}):", "",
                  f"| precision | images/s | {RECIPE_EPOCHS}-epoch CIFAR-10-LT recipe at this "
                  "rate, est. min |",
                  "|---|---:|---:|"]
        lines += [f"| {p} | {v['images_per_s']:.0f} | {v['recipe_minutes']:.1f} |"
                  for p, v in r["precisions"].items()]
        lines.append("")
    if "resnet-search" in results:
        r = results["resnet-search"]
        lines += [f"**ResNet-32 search** ({r['job']}): batched {r['batched_s']:.1f} s, eight "
                  f"single fits {r['single_fits_s']:.1f} s.", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_docs(block):
    page = DOCS_PAGE.read_text()
    if BEGIN not in page or END not in page:
        raise SystemExit(f"{DOCS_PAGE} has no {BEGIN} ... {END} markers")
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOCS_PAGE.write_text(f"{head}{BEGIN}\n{block}{END}{tail}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (default)")
    parser.add_argument("--quick", action="store_true", help="small jobs, for a smoke test")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved repeats of the step timings (3; 1 with --quick)")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"write the tables into {DOCS_PAGE.relative_to(ROOT)} (CUDA only)")
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.write_docs and not args.device.startswith("cuda"):
        parser.error("--write-docs records GPU figures: it needs a CUDA device")
    return args


def main(argv=None):
    args = parse_args(argv)
    info = machine(args.device)
    print(json.dumps(info), flush=True)
    results = {}
    for name in args.sections:
        start = time.perf_counter()
        results[name] = SECTIONS[name](args)
        print(f"[{name}] done in {time.perf_counter() - start:.0f} s", flush=True)
    command = "python benchmarks/bench_gpu.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    report = render(results, info, command.strip())
    print(report)
    if args.out:
        args.out.write_text(json.dumps({"machine": info, "results": results}, indent=1,
                                       default=str))
    if args.write_docs:
        write_docs(report)
        print(f"wrote {DOCS_PAGE}")
    return results


if __name__ == "__main__":
    main()
