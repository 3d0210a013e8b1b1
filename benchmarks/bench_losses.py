"""Speed of the ELM loss relative to plain scaled cross-entropy.

For each logits shape ``(N, K)`` this times one forward + backward pass of
:class:`sklearn_elm.losses.ELMLoss` and of ``F.cross_entropy(s * z, y)`` on the same float32
logits, and prints the median of the per-repeat ratios ``ELM / CE``. The two are measured
interleaved (ELM, CE, ELM, CE, ...) so that drifts in machine load hit both alike; the target
is a ratio of at most 1.5 at ``(512, 1000)`` on CPU.

On a machine shared with other jobs, two torch threads competing for busy cores make the
wall-clock times (and so the ratios) swing widely between runs; ``--threads 1`` is steadier.

Usage::

    python benchmarks/bench_losses.py            # full run, 2 CPU threads
    python benchmarks/bench_losses.py --quick    # fewer repeats, for a smoke test
    python benchmarks/bench_losses.py --threads 1 --repeats 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from sklearn_elm.losses import ELMLoss

SHAPES = ((512, 10), (512, 1000), (4096, 100))
SCALE = 30.0


def _make_inputs(n_samples, n_classes, device, seed=0):
    generator = torch.Generator().manual_seed(seed)
    # cosine-like logits in [-1, 1], as produced by a normalised classifier head
    logits = torch.rand(n_samples, n_classes, generator=generator) * 2 - 1
    target = torch.randint(n_classes, (n_samples,), generator=generator)
    # long-tailed counts: class k has about 1000 * 0.01^(k / K) samples
    exponents = torch.arange(n_classes, dtype=torch.float64) / max(n_classes - 1, 1)
    counts = (1000 * 0.01**exponents).ceil()
    return logits.to(device).requires_grad_(), target.to(device), counts


def _synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_once(step, logits, device, inner):
    """Seconds per forward+backward, averaged over ``inner`` back-to-back calls."""
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(inner):
        logits.grad = None
        step().backward()
    _synchronize(device)
    return (time.perf_counter() - start) / inner


def bench_shape(n_samples, n_classes, device, repeats, inner, warmup):
    """Median ELM time, median CE time and median per-repeat ratio for one shape."""
    logits, target, counts = _make_inputs(n_samples, n_classes, device)
    criterion = ELMLoss(counts, s=SCALE).to(device)

    def elm_step():
        return criterion(logits, target)

    def ce_step():
        return F.cross_entropy(SCALE * logits, target)

    for _ in range(warmup):
        _time_once(elm_step, logits, device, inner)
        _time_once(ce_step, logits, device, inner)
    elm_times, ce_times, ratios = [], [], []
    for repeat in range(repeats):
        # alternate which one goes first, so neither always runs on a warmer cache
        if repeat % 2:
            ce = _time_once(ce_step, logits, device, inner)
            elm = _time_once(elm_step, logits, device, inner)
        else:
            elm = _time_once(elm_step, logits, device, inner)
            ce = _time_once(ce_step, logits, device, inner)
        elm_times.append(elm)
        ce_times.append(ce)
        ratios.append(elm / ce)
    return statistics.median(elm_times), statistics.median(ce_times), statistics.median(ratios)


def run(device, repeats, inner, warmup, shapes=SHAPES):
    """Print one table row per shape and return ``{shape: ratio}``."""
    print(
        f"device={device}  torch={torch.__version__}  threads={torch.get_num_threads()}  "
        f"repeats={repeats}  inner={inner}"
    )
    print(f"{'N':>6} {'K':>6} {'ELM ms':>10} {'CE ms':>10} {'ELM/CE':>8}")
    ratios = {}
    for n_samples, n_classes in shapes:
        elm, ce, ratio = bench_shape(n_samples, n_classes, device, repeats, inner, warmup)
        ratios[(n_samples, n_classes)] = ratio
        print(f"{n_samples:>6} {n_classes:>6} {elm * 1e3:>10.3f} {ce * 1e3:>10.3f} {ratio:>8.3f}")
    return ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per shape (default 31, or 7 with --quick)",
    )
    parser.add_argument(
        "--inner",
        type=int,
        default=None,
        help="forward+backward calls per repeat (default 10, or 3 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="few repeats, for a smoke test")
    parser.add_argument("--no-cuda", action="store_true", help="skip the CUDA table")
    args = parser.parse_args(argv)
    repeats = args.repeats or (7 if args.quick else 31)
    inner = args.inner or (3 if args.quick else 10)
    warmup = 1 if args.quick else 3
    torch.set_num_threads(args.threads)

    cpu_ratios = run(torch.device("cpu"), repeats, inner, warmup)
    if args.no_cuda:
        print("cuda: skipped (--no-cuda)")
    elif torch.cuda.is_available():
        print()
        run(torch.device("cuda"), repeats, inner, warmup)
    else:
        print("cuda: skipped (no CUDA device available)")

    ratio = cpu_ratios[(512, 1000)]
    verdict = "OK" if ratio <= 1.5 else "TOO SLOW"
    print(f"\nCPU (512, 1000) ELM/CE = {ratio:.3f} (target <= 1.5): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
