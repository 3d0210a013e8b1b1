"""Margin losses and baselines: exactness against independent references, gradients, dtypes,
devices, validation and numerical safety."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_elm.losses import (
    CBLoss,
    ELMLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    _hardest_wrong_class,
    cb_loss,
    class_balanced_weights,
    elm_loss,
    focal_loss,
    label_distribution_margins,
    ldam_loss,
    logit_adjusted_loss,
)

REDUCTIONS = ("mean", "sum", "none")
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# --------------------------------------------------------------------------------------------
# independent references, written from the formula of the issue, one sample at a time
# --------------------------------------------------------------------------------------------
def reference_margins(counts, max_m):
    raw = [float(n) ** -0.25 for n in counts]
    return [max_m * r / max(raw) for r in raw]


def reference_hardest_wrong(row, true_class):
    """argmax over j != y in plain Python; a strict '>' keeps the lowest index on ties."""
    hardest = None
    for j, value in enumerate(row):
        if j != true_class and (hardest is None or value > row[hardest]):
            hardest = j
    return hardest


def reference_reduce(per_sample, sample_weights, reduction):
    weighted = [w * loss for w, loss in zip(sample_weights, per_sample, strict=True)]
    if reduction == "none":
        return np.array(weighted)
    if reduction == "sum":
        return sum(weighted)
    return sum(weighted) / sum(sample_weights)  # torch's weighted mean


def reference_elm(
    logits, target, counts, max_m=0.5, lam=1.0, s=30.0, weight=None, reduction="mean"
):
    """ELM loss in float64 pure Python: cross-entropy of s·z' with z'_y = z_y - Δ_y + λ·Δ_ĵ."""
    margins = reference_margins(counts, max_m)
    per_sample, sample_weights = [], []
    for row, true_class in zip(
        np.asarray(logits, dtype=np.float64).tolist(), np.asarray(target).tolist(), strict=True
    ):
        hardest = reference_hardest_wrong(row, true_class)
        adjusted = list(row)
        adjusted[true_class] = row[true_class] - margins[true_class] + lam * margins[hardest]
        scaled = [s * value for value in adjusted]
        top = max(scaled)
        log_sum_exp = top + math.log(sum(math.exp(v - top) for v in scaled))
        per_sample.append(log_sum_exp - scaled[true_class])
        sample_weights.append(1.0 if weight is None else float(weight[true_class]))
    return reference_reduce(per_sample, sample_weights, reduction)


def reference_elm_torch_loop(
    logits, target, counts, max_m=0.5, lam=1.0, s=30.0, weight=None, reduction="mean"
):
    """ELM loss written sample by sample with scalar torch ops, for autograd gradients."""
    margins = reference_margins(counts, max_m)
    per_sample, sample_weights = [], []
    for i in range(logits.shape[0]):
        true_class = int(target[i])
        row = [logits[i, j] for j in range(logits.shape[1])]
        hardest = reference_hardest_wrong([v.item() for v in row], true_class)
        row[true_class] = row[true_class] - margins[true_class] + lam * margins[hardest]
        scaled = torch.stack(row) * s
        per_sample.append(torch.logsumexp(scaled, dim=0) - scaled[true_class])
        sample_weights.append(1.0 if weight is None else float(weight[true_class]))
    weighted = [w * loss for w, loss in zip(sample_weights, per_sample, strict=True)]
    if reduction == "none":
        return torch.stack(weighted)
    if reduction == "sum":
        return torch.stack(weighted).sum()
    return torch.stack(weighted).sum() / sum(sample_weights)


def random_problem(n_samples, n_classes, seed, dtype=torch.float64, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n_samples, n_classes, generator=generator, dtype=dtype) * scale
    target = torch.randint(n_classes, (n_samples,), generator=generator)
    counts = torch.randint(1, 2000, (n_classes,), generator=generator).tolist()
    weight = (torch.rand(n_classes, generator=generator, dtype=torch.float64) + 0.1).tolist()
    return logits, target, counts, weight


# --------------------------------------------------------------------------------------------
# ELM: values and gradients against the references
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3, 7, 40])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("lam", [1.0, 0.0, 0.6])
def test_elm_values_match_per_sample_reference(n_classes, reduction, weighted, lam):
    logits, target, counts, weight = random_problem(17, n_classes, seed=n_classes)
    weight = weight if weighted else None
    got = elm_loss(
        logits, target, counts, max_m=0.4, lam=lam, s=12.0, weight=weight, reduction=reduction
    )
    expected = reference_elm(
        logits, target, counts, max_m=0.4, lam=lam, s=12.0, weight=weight, reduction=reduction
    )
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 5, 11])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_elm_gradients_match_loop_reference(n_classes, reduction, weighted):
    logits, target, counts, weight = random_problem(9, n_classes, seed=100 + n_classes)
    weight = weight if weighted else None
    upstream = torch.rand(9, dtype=torch.float64) if reduction == "none" else None

    def grad_of(loss_fn):
        z = logits.clone().requires_grad_()
        loss = loss_fn(
            z, target, counts, max_m=0.5, lam=0.8, s=7.0, weight=weight, reduction=reduction
        )
        loss.backward(upstream)
        return z.grad

    np.testing.assert_allclose(
        grad_of(elm_loss), grad_of(reference_elm_torch_loop), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_elm_gradients_match_finite_differences_of_reference(n_classes, weighted):
    logits, target, counts, weight = random_problem(5, n_classes, seed=7 * n_classes)
    weight = weight if weighted else None
    z = logits.clone().requires_grad_()
    elm_loss(z, target, counts, s=5.0, weight=weight).backward()

    step = 1e-6
    numeric = np.zeros(logits.shape)
    base = logits.numpy()
    for index in np.ndindex(*base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (
            reference_elm(plus, target, counts, s=5.0, weight=weight)
            - reference_elm(minus, target, counts, s=5.0, weight=weight)
        ) / (2 * step)
    np.testing.assert_allclose(z.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_elm_equals_softplus_identity():
    # ℓ_i = softplus(logsumexp_{j≠y}(s z_j) - s z_y + s (Δ_y - λ Δ_ĵ)), vectorised
    logits, target, counts, _ = random_problem(32, 6, seed=3)
    margins = label_distribution_margins(counts, 0.5)
    wrong = logits.scatter(1, target[:, None], float("-inf"))
    hardest = wrong.argmax(1)
    gap = (
        torch.logsumexp(30 * wrong, 1)
        - 30 * logits.gather(1, target[:, None])[:, 0]
        + 30 * (margins[target] - margins[hardest])
    )
    got = elm_loss(logits, target, counts, reduction="none")
    # softplus(x) = log(e^0 + e^x); F.softplus would switch to x itself above x = 20
    torch.testing.assert_close(
        got, torch.logaddexp(gap, torch.zeros_like(gap)), rtol=1e-12, atol=1e-12
    )


def test_hand_computed_two_class_example():
    # counts [16, 1]: n^(-1/4) = [0.5, 1.0], rescaled to max 0.5 -> Δ = [0.25, 0.5]; s = 10.
    # sample 0: z = (0.3, 0.1), y = 0, ĵ = 1: z'_0 = 0.3 - 0.25 + 0.5 = 0.55
    #   loss = log(1 + exp(10·(0.1 - 0.55))) = log(1 + e^-4.5) = 0.0110477...
    # sample 1: z = (0.2, 0.4), y = 1, ĵ = 0: z'_1 = 0.4 - 0.5 + 0.25 = 0.15
    #   loss = log(1 + exp(10·(0.2 - 0.15))) = log(1 + e^0.5) = 0.9740769...
    logits = torch.tensor([[0.3, 0.1], [0.2, 0.4]], dtype=torch.float64)
    target = torch.tensor([0, 1])
    got = elm_loss(logits, target, [16, 1], max_m=0.5, lam=1.0, s=10.0, reduction="none")
    expected = torch.tensor(
        [math.log1p(math.exp(-4.5)), math.log1p(math.exp(0.5))], dtype=torch.float64
    )
    torch.testing.assert_close(got, expected, rtol=1e-14, atol=1e-14)
    assert got.tolist() == pytest.approx([0.0110477, 0.9740770], abs=1e-7)
    # LDAM (λ = 0) on sample 0: z'_0 = 0.3 - 0.25 = 0.05, loss = log(1 + e^0.5)
    ldam = ldam_loss(logits[:1], target[:1], [16, 1], s=10.0)
    assert ldam.item() == pytest.approx(math.log1p(math.exp(0.5)), rel=1e-14)


# --------------------------------------------------------------------------------------------
# special cases that must be exact
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lam_zero_is_exactly_ldam(reduction, dtype):
    logits, target, counts, weight = random_problem(64, 9, seed=11, dtype=dtype)
    elm = elm_loss(logits, target, counts, lam=0.0, weight=weight, reduction=reduction)
    ldam = ldam_loss(logits, target, counts, weight=weight, reduction=reduction)
    module = LDAMLoss(counts, weight=weight, reduction=reduction)(logits, target)
    assert torch.equal(elm, ldam)
    assert torch.equal(ldam, module)
    # and ELM with λ ≠ 0 really differs (the margin term is not silently dropped)
    assert not torch.equal(
        elm_loss(logits, target, counts, weight=weight, reduction=reduction), ldam
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lam", [1.0, 0.0])
def test_no_margin_unit_scale_is_exactly_cross_entropy(reduction, dtype, lam):
    logits, target, counts, weight = random_problem(64, 9, seed=12, dtype=dtype)
    got = elm_loss(
        logits, target, counts, max_m=0.0, lam=lam, s=1.0, weight=weight, reduction=reduction
    )
    expected = F.cross_entropy(
        logits, target, weight=torch.tensor(weight, dtype=dtype), reduction=reduction
    )
    # the reductions sum in their own order (weighted_mean): equal up to rounding
    torch.testing.assert_close(got, expected, rtol=1e-6 if dtype == torch.float32 else 1e-14,
                               atol=0)
    unweighted = ELMLoss(counts, max_m=0.0, lam=lam, s=1.0, reduction=reduction)
    torch.testing.assert_close(
        unweighted(logits, target), F.cross_entropy(logits, target, reduction=reduction),
        rtol=1e-6 if dtype == torch.float32 else 1e-14, atol=0,
    )


def test_ties_pick_the_lowest_wrong_index():
    counts = [1, 10, 100, 1000]  # distinct margins, so the chosen class shows in the loss
    logits = torch.tensor(
        [
            [0.0, 2.0, 2.0, 2.0],  # y=0: wrong classes 1, 2, 3 tie -> 1
            [2.0, 0.0, 1.0, 2.0],  # y=1: classes 0 and 3 tie -> 0
            [1.0, 3.0, 3.0, 3.0],  # y=2 ties with 1 and 3 -> 1 (the true class is excluded)
            [5.0, 5.0, 5.0, 5.0],  # all equal, y=0 -> 1
            [5.0, 5.0, 5.0, 5.0],  # all equal, y=1 -> 0
        ],
        dtype=torch.float64,
    )
    target = torch.tensor([0, 1, 2, 0, 1])
    expected_hardest = [1, 0, 1, 1, 0]
    for method in ("auto", "argmax", "key"):
        assert _hardest_wrong_class(logits, target, method).tolist() == expected_hardest
        assert _hardest_wrong_class(logits.float(), target, method).tolist() == expected_hardest
    margins = reference_margins(counts, 0.5)
    got = elm_loss(logits, target, counts, s=3.0, reduction="none")
    for i, hardest in enumerate(expected_hardest):
        adjusted = logits[i].clone()
        y = int(target[i])
        adjusted[y] += -margins[y] + margins[hardest]
        expected = F.cross_entropy(3.0 * adjusted[None], target[i : i + 1])
        assert got[i].item() == pytest.approx(expected.item(), rel=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, 2), (50, 7), (520, 130)])  # the last exceeds the key cutoff
def test_fast_hardest_wrong_class_matches_masked_argmax(dtype, shape):
    generator = torch.Generator().manual_seed(shape[1])
    # small integers make ties frequent; a few -inf entries test the masking
    logits = torch.randint(-3, 4, shape, generator=generator).to(dtype)
    logits[torch.rand(shape, generator=generator) < 0.1] = float("-inf")
    logits[:, 0] = 0.0  # keep at least two finite columns, so every row has a finite wrong logit
    logits[:, 1] = -1.0
    target = torch.randint(shape[1], (shape[0],), generator=generator)
    expected = [
        reference_hardest_wrong(row, y)
        for row, y in zip(logits.tolist(), target.tolist(), strict=True)
    ]
    for method in ("auto", "argmax", "key"):
        assert _hardest_wrong_class(logits, target, method).tolist() == expected


def test_single_sample():
    logits, target, counts, weight = random_problem(1, 5, seed=13)
    for reduction in REDUCTIONS:
        got = elm_loss(logits, target, counts, weight=weight, reduction=reduction)
        expected = reference_elm(logits, target, counts, weight=weight, reduction=reduction)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert elm_loss(logits, target, counts, reduction="none").shape == (1,)


def test_two_thousand_classes():
    logits, target, counts, weight = random_problem(6, 2000, seed=14, scale=0.3)
    got = elm_loss(logits, target, counts, weight=weight)
    expected = reference_elm(logits, target, counts, weight=weight)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    z = logits.float().requires_grad_()
    loss = ELMLoss(counts)(z, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_large_batch_float32_uses_fast_path_and_stays_accurate():
    # (256, 200) logits go through the CPU "key" search; compare with the float64 reference
    logits, target, counts, weight = random_problem(256, 200, seed=15, scale=0.5)
    got = elm_loss(logits.float(), target, counts, weight=weight, reduction="none")
    expected = reference_elm(logits, target, counts, weight=weight, reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=2e-4, atol=2e-4)


# --------------------------------------------------------------------------------------------
# dtypes, module state, devices
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_logits_are_computed_in_float32(half):
    logits, target, counts, weight = random_problem(20, 6, seed=16, dtype=torch.float32)
    low = logits.to(half).requires_grad_()
    loss = ELMLoss(counts, weight=weight)(low, target)
    assert loss.dtype == torch.float32
    expected = ELMLoss(counts, weight=weight)(low.detach().float(), target)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-6)
    loss.backward()
    assert low.grad.dtype == half and torch.isfinite(low.grad.float()).all()
    for fn in (
        lambda z: focal_loss(z, target),
        lambda z: cb_loss(z, target, counts),
        lambda z: logit_adjusted_loss(z, target, counts),
    ):
        assert fn(low.detach()).dtype == torch.float32


def test_autocast_bfloat16_logits_give_float32_loss():
    layer = torch.nn.Linear(4, 3)
    X = torch.randn(8, 4)
    target = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = layer(X)
        loss = ELMLoss([50, 10, 2])(logits, target)
    assert logits.dtype == torch.bfloat16
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(layer.weight.grad).all()


def test_float64_stays_float64():
    logits, target, counts, weight = random_problem(10, 4, seed=17)
    criteria = [
        ELMLoss(counts, weight=weight),
        LDAMLoss(counts),
        FocalLoss(alpha=weight),
        CBLoss(counts),
        LogitAdjustedLoss(counts, weight=weight),
    ]
    for criterion in criteria:
        z = logits.clone().requires_grad_()
        loss = criterion(z, target)
        loss.backward()
        assert loss.dtype == torch.float64, type(criterion).__name__
        assert z.grad.dtype == torch.float64


def test_state_dict_holds_margins_and_round_trips():
    criterion = ELMLoss([100, 10, 1], max_m=0.3)
    state = criterion.state_dict()
    assert set(state) >= {"margins", "class_counts"}
    torch.testing.assert_close(state["margins"], label_distribution_margins([100, 10, 1], 0.3))
    other = ELMLoss([1, 1, 1])
    other.load_state_dict(state)
    assert torch.equal(other.margins, criterion.margins)
    assert {"margins", "class_counts"} <= {name for name, _ in criterion.named_buffers()}


def test_state_dict_round_trips_a_switched_weight():
    # deferred re-weighting switches the weight buffer between None and a tensor at run time
    trained = ELMLoss([100, 10, 1])
    trained.weight = torch.tensor([0.1, 0.9, 2.0])
    fresh = ELMLoss([100, 10, 1])
    fresh.load_state_dict(trained.state_dict())
    assert torch.equal(fresh.weight, trained.weight)
    fresh.load_state_dict(ELMLoss([100, 10, 1]).state_dict())
    assert fresh.weight is None


@pytest.mark.parametrize("as_type", [list, np.array, torch.tensor])
def test_class_counts_accept_list_array_and_tensor(as_type):
    counts = as_type([300, 20, 5])
    expected = label_distribution_margins([300, 20, 5])
    assert torch.equal(ELMLoss(counts).margins, expected)
    assert torch.equal(label_distribution_margins(counts), expected)
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    assert torch.equal(elm_loss(logits, target, counts), ELMLoss([300, 20, 5])(logits, target))


def test_margins_follow_inverse_fourth_root():
    counts = np.array([10000, 625, 16, 1])
    margins = label_distribution_margins(counts, max_m=0.5)
    np.testing.assert_allclose(margins.numpy(), 0.5 * counts**-0.25, rtol=1e-15)
    assert margins.max().item() == 0.5
    assert torch.equal(label_distribution_margins(counts, 0.0), torch.zeros(4, dtype=torch.float64))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_module_and_functional_forms_agree(reduction):
    logits, target, counts, weight = random_problem(12, 5, seed=18)
    pairs = [
        (
            ELMLoss(counts, 0.4, 0.7, 20.0, weight, reduction),
            elm_loss(logits, target, counts, 0.4, 0.7, 20.0, weight, reduction),
        ),
        (
            LDAMLoss(counts, 0.4, 20.0, weight, reduction),
            ldam_loss(logits, target, counts, 0.4, 20.0, weight, reduction),
        ),
        (CBLoss(counts, 0.99, reduction), cb_loss(logits, target, counts, 0.99, reduction)),
        (FocalLoss(1.5, weight, reduction), focal_loss(logits, target, 1.5, weight, reduction)),
        (
            LogitAdjustedLoss(counts, 0.8, weight, reduction),
            logit_adjusted_loss(logits, target, counts, 0.8, weight, reduction),
        ),
    ]
    for module, functional in pairs:
        assert torch.equal(module(logits, target), functional), type(module).__name__


@requires_cuda
@pytest.mark.parametrize(
    "make",
    [
        lambda c: ELMLoss(c, weight=np.linspace(0.5, 2, len(c))),
        lambda c: LDAMLoss(c),
        lambda c: CBLoss(c),
        lambda c: FocalLoss(alpha=np.linspace(0.5, 2, len(c))),
        lambda c: LogitAdjustedLoss(c),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_module_matches_cpu(make, dtype):
    logits, target, counts, _ = random_problem(64, 10, seed=19, dtype=dtype)
    cpu_criterion = make(counts)
    cuda_criterion = make(counts).to("cuda")
    assert all(buffer.device.type == "cuda" for buffer in cuda_criterion.buffers())
    z_cpu = logits.clone().requires_grad_()
    z_cuda = logits.cuda().requires_grad_()
    loss_cpu, loss_cuda = cpu_criterion(z_cpu, target), cuda_criterion(z_cuda, target.cuda())
    loss_cpu.backward()
    loss_cuda.backward()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(loss_cuda.cpu(), loss_cpu, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(z_cuda.grad.cpu(), z_cpu.grad, rtol=tolerance, atol=tolerance)


@requires_cuda
def test_cuda_half_precision_and_ties():
    counts = [1, 10, 100, 1000]
    logits = torch.tensor([[0.0, 2.0, 2.0, 2.0], [2.0, 0.0, 1.0, 2.0]], device="cuda")
    target = torch.tensor([0, 1], device="cuda")
    assert _hardest_wrong_class(logits, target).tolist() == [1, 0]
    loss = ELMLoss(counts).to("cuda")(logits.half(), target)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(
        loss.cpu(), ELMLoss(counts)(logits.cpu(), target.cpu()), rtol=1e-3, atol=1e-3
    )


# --------------------------------------------------------------------------------------------
# gradcheck (float64) for every loss
# --------------------------------------------------------------------------------------------
GRADCHECK_COUNTS = [200, 30, 7, 1]


@pytest.mark.parametrize(
    "name, loss_fn",
    [
        ("elm", lambda z, y: elm_loss(z, y, GRADCHECK_COUNTS, s=4.0, weight=[1, 2, 0.5, 3])),
        ("elm_none", lambda z, y: elm_loss(z, y, GRADCHECK_COUNTS, lam=0.5, reduction="none")),
        ("ldam", lambda z, y: ldam_loss(z, y, GRADCHECK_COUNTS, s=4.0, reduction="sum")),
        ("focal", lambda z, y: focal_loss(z, y, gamma=2.0, alpha=[1, 2, 0.5, 3])),
        ("focal_fractional_gamma", lambda z, y: focal_loss(z, y, gamma=0.5, reduction="none")),
        ("logit_adjusted", lambda z, y: logit_adjusted_loss(z, y, GRADCHECK_COUNTS, tau=1.3)),
        ("class_balanced", lambda z, y: cb_loss(z, y, GRADCHECK_COUNTS, beta=0.99)),
    ],
)
def test_gradcheck_float64(name, loss_fn):
    generator = torch.Generator().manual_seed(20)
    logits = torch.randn(6, 4, dtype=torch.float64, generator=generator).requires_grad_()
    target = torch.tensor([0, 1, 2, 3, 3, 1])
    assert torch.autograd.gradcheck(lambda z: loss_fn(z, target), (logits,))


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------
def reference_focal(logits, target, gamma, alpha=None, reduction="mean"):
    per_sample, sample_weights = [], []
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        top = max(row)
        p = math.exp(row[y] - top) / sum(math.exp(v - top) for v in row)
        per_sample.append(-((1 - p) ** gamma) * math.log(p))
        sample_weights.append(1.0 if alpha is None else alpha[y])
    return reference_reduce(per_sample, sample_weights, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_focal_matches_reference(reduction, gamma, weighted):
    logits, target, _, weight = random_problem(15, 5, seed=21)
    alpha = weight if weighted else None
    got = focal_loss(logits, target, gamma, alpha, reduction)
    expected = reference_focal(logits, target, gamma, alpha, reduction)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_with_gamma_zero_is_cross_entropy(reduction):
    logits, target, _, weight = random_problem(15, 5, seed=22)
    torch.testing.assert_close(
        focal_loss(logits, target, 0.0, reduction=reduction),
        F.cross_entropy(logits, target, reduction=reduction),
    )
    torch.testing.assert_close(
        FocalLoss(0.0, weight, reduction)(logits, target),
        F.cross_entropy(
            logits, target, torch.tensor(weight, dtype=torch.float64), reduction=reduction
        ),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logit_adjustment(reduction):
    logits, target, counts, weight = random_problem(15, 5, seed=23)
    weight_tensor = torch.tensor(weight, dtype=torch.float64)
    torch.testing.assert_close(
        logit_adjusted_loss(logits, target, counts, 0.0, weight, reduction),
        F.cross_entropy(logits, target, weight_tensor, reduction=reduction), rtol=1e-14, atol=0,
    )
    # τ = 1.5: cross-entropy on z_k + τ·log(n_k / Σn), computed here from the counts directly
    log_prior = torch.tensor([math.log(n / sum(counts)) for n in counts], dtype=torch.float64)
    expected = F.cross_entropy(logits + 1.5 * log_prior, target, weight_tensor, reduction=reduction)
    torch.testing.assert_close(
        LogitAdjustedLoss(counts, 1.5, weight, reduction)(logits, target), expected
    )


def test_class_balanced_weights_match_formula():
    counts = [5000, 500, 50, 5, 1]
    for beta in (0.0, 0.9, 0.999, 0.9999):
        raw = [(1 - beta) / (1 - beta**n) for n in counts]
        expected = [len(counts) * w / sum(raw) for w in raw]
        got = class_balanced_weights(counts, beta)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)
        assert got.sum().item() == pytest.approx(len(counts))
    assert torch.equal(class_balanced_weights(counts, 0.0), torch.ones(5, dtype=torch.float64))
    near_one = class_balanced_weights(counts, 1 - 1e-12)  # ≈ inverse frequency, no 0/0
    inverse = [1 / n for n in counts]
    np.testing.assert_allclose(near_one.numpy(), [5 * w / sum(inverse) for w in inverse], rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_balanced_loss_is_weighted_cross_entropy(reduction):
    logits, target, counts, _ = random_problem(15, 5, seed=24)
    weights = class_balanced_weights(counts, 0.999)
    expected = F.cross_entropy(logits, target, weights, reduction=reduction)
    torch.testing.assert_close(cb_loss(logits, target, counts, 0.999, reduction), expected)
    torch.testing.assert_close(CBLoss(counts, 0.999, reduction)(logits, target), expected)


def test_class_balanced_module_without_weight_is_cross_entropy():
    # deferred re-weighting sets every criterion's weight to None before its start epoch
    logits, target, counts, _ = random_problem(15, 5, seed=25)
    criterion = CBLoss(counts)
    criterion.weight = None
    torch.testing.assert_close(criterion(logits, target), F.cross_entropy(logits, target),
                               rtol=1e-14, atol=0)
    assert torch.equal(criterion.class_counts, torch.tensor(counts, dtype=torch.float64))


# --------------------------------------------------------------------------------------------
# numerical safety
# --------------------------------------------------------------------------------------------
EXTREME_LOSSES = {
    "elm": lambda z, y: elm_loss(z, y, [1000, 10, 1]),
    "ldam": lambda z, y: ldam_loss(z, y, [1000, 10, 1]),
    "focal_2": lambda z, y: focal_loss(z, y, gamma=2.0),
    "focal_half": lambda z, y: focal_loss(z, y, gamma=0.5, alpha=[1.0, 2.0, 3.0]),
    "logit_adjusted": lambda z, y: logit_adjusted_loss(z, y, [1000, 10, 1]),
    "class_balanced": lambda z, y: cb_loss(z, y, [1000, 10, 1]),
}


@pytest.mark.parametrize("name", sorted(EXTREME_LOSSES))
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_extreme_logits_give_finite_loss_and_gradients(name, dtype):
    big = 6e4 if dtype == torch.float16 else 1e4
    logits = torch.tensor(
        [[big, -big, 0.0], [-big, big, big], [big, big, -big], [20.0, -20.0, 0.0], [0.0, 0.0, 0.0]],
        dtype=dtype,
    )
    target = torch.tensor([0, 0, 1, 0, 2])  # right, badly wrong, tied, confident, uniform
    z = logits.requires_grad_()
    loss = EXTREME_LOSSES[name](z, target)
    loss.backward()
    assert torch.isfinite(loss), loss
    assert torch.isfinite(z.grad).all(), z.grad


def test_extreme_elm_loss_value_is_the_large_margin_violation():
    # sample wrong by 2e4 at s = 30: loss ≈ 30 · (2e4 + Δ_y - Δ_ĵ), no overflow to inf
    logits = torch.tensor([[-1e4, 1e4]])
    loss = elm_loss(logits, torch.tensor([0]), [1, 16])
    assert loss.item() == pytest.approx(30 * (2e4 + 0.5 - 0.25), rel=1e-6)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "counts, shown", [([10, 0, 3], "0.0"), ([10, -2, 3], "-2.0"), ([10, float("nan")], "nan")]
)
def test_bad_class_counts_are_refused(counts, shown):
    for make in (
        lambda: ELMLoss(counts),
        lambda: LDAMLoss(counts),
        lambda: CBLoss(counts),
        lambda: LogitAdjustedLoss(counts),
        lambda: class_balanced_weights(counts),
        lambda: elm_loss(torch.zeros(1, len(counts)), torch.tensor([0]), counts),
    ):
        with pytest.raises(ValueError, match=f"class_counts.*{shown}"):
            make()


def test_bad_hyper_parameters_name_the_value():
    with pytest.raises(ValueError, match=r"max_m must be >= 0, got -0\.1"):
        ELMLoss([3, 1], max_m=-0.1)
    with pytest.raises(ValueError, match=r"max_m must be >= 0, got -1"):
        elm_loss(torch.zeros(2, 2), torch.tensor([0, 1]), [3, 1], max_m=-1)
    for s in (0, -2.0):
        with pytest.raises(ValueError, match=f"s must be > 0, got {s}"):
            ELMLoss([3, 1], s=s)
        with pytest.raises(ValueError, match=f"s must be > 0, got {s}"):
            ldam_loss(torch.zeros(2, 2), torch.tensor([0, 1]), [3, 1], s=s)
    for beta in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=f"beta must be .*got {beta}"):
            class_balanced_weights([3, 1], beta)
        with pytest.raises(ValueError, match=f"beta must be .*got {beta}"):
            CBLoss([3, 1], beta)
    with pytest.raises(ValueError, match="gamma must be >= 0, got -1"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="reduction must be one of .*'avg'"):
        ELMLoss([3, 1], reduction="avg")


@pytest.mark.parametrize("bad_target, shown", [([0, 3], "3"), ([-1, 0], "-1")])
def test_targets_outside_the_classes_are_refused(bad_target, shown):
    logits, target = torch.zeros(2, 3), torch.tensor(bad_target)
    for criterion in (
        ELMLoss([5, 2, 1]),
        LDAMLoss([5, 2, 1]),
        CBLoss([5, 2, 1]),
        FocalLoss(),
        LogitAdjustedLoss([5, 2, 1]),
    ):
        with pytest.raises(ValueError, match=rf"\[0, 3\); found {shown}"):
            criterion(logits, target)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 1), ()])
def test_logits_must_be_two_dimensional(shape):
    logits = torch.zeros(shape)
    for fn in (
        lambda: elm_loss(logits, torch.tensor([0]), [2, 1, 1]),
        lambda: focal_loss(logits, torch.tensor([0])),
        lambda: LogitAdjustedLoss([2, 1, 1])(logits, torch.tensor([0])),
    ):
        with pytest.raises(ValueError, match=rf"logits must be 2-D.*{tuple(shape)}"):
            fn()


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="3 columns but class_counts has 2 classes"):
        elm_loss(torch.zeros(2, 3), torch.tensor([0, 1]), [5, 1])
    with pytest.raises(ValueError, match="target must be 1-D with 2 entries"):
        elm_loss(torch.zeros(2, 2), torch.tensor([0, 1, 1]), [5, 1])
    with pytest.raises(ValueError, match="integer class indices"):
        elm_loss(torch.zeros(2, 2), torch.tensor([0.0, 1.0]), [5, 1])
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\)"):
        ELMLoss([5, 1], weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\)"):
        elm_loss(torch.zeros(2, 2), torch.tensor([0, 1]), [5, 1], weight=[1.0])


# --------------------------------------------------------------------------------------------
# property test
# --------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    n_samples=st.integers(1, 12),
    n_classes=st.integers(2, 9),
    seed=st.integers(0, 2**31 - 1),
    max_m=st.floats(0.0, 2.0),
    lam=st.floats(0.0, 2.0),
    s=st.floats(0.5, 64.0),
    logit_scale=st.sampled_from([1e-3, 1.0, 100.0]),
    integer_logits=st.booleans(),
)
def test_property_elm_is_nonnegative_finite_and_the_softplus_identity(
    n_samples, n_classes, seed, max_m, lam, s, logit_scale, integer_logits
):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n_samples, n_classes, generator=generator, dtype=torch.float64)
    if integer_logits:  # plenty of ties
        logits = logits.round()
    logits = logits * logit_scale
    target = torch.randint(n_classes, (n_samples,), generator=generator)
    counts = torch.randint(1, 10_000, (n_classes,), generator=generator)

    z = logits.clone().requires_grad_()
    loss = elm_loss(z, target, counts, max_m=max_m, lam=lam, s=s, reduction="none")
    loss.sum().backward()
    assert (loss >= 0).all()
    assert torch.isfinite(loss).all() and torch.isfinite(z.grad).all()

    margins = label_distribution_margins(counts, max_m)
    wrong = logits.scatter(1, target[:, None], float("-inf"))
    hardest = torch.tensor(
        [
            reference_hardest_wrong(row, y)
            for row, y in zip(logits.tolist(), target.tolist(), strict=True)
        ]
    )
    true_logit = logits.gather(1, target[:, None])[:, 0]
    gap = (
        torch.logsumexp(s * wrong, 1)
        - s * true_logit
        + s * (margins[target] - lam * margins[hardest])
    )
    softplus = torch.logaddexp(gap, torch.zeros_like(gap))  # exact, unlike F.softplus above 20
    torch.testing.assert_close(loss.detach(), softplus, rtol=1e-12, atol=1e-12)
    # float32 gives the same loss up to float32 rounding
    loss32 = elm_loss(logits.float(), target, counts, max_m=max_m, lam=lam, s=s, reduction="none")
    torch.testing.assert_close(
        loss32.double(), loss.detach(), rtol=1e-4, atol=1e-4 * (1 + s * logit_scale)
    )


def test_criterion_cores_under_vmap_equal_each_criterion():
    """The engine stacks the criteria's core arguments: vmap over members equals each one."""
    from sklearn_elm.losses import CBLoss, ELMLoss, FocalLoss, LogitAdjustedLoss

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 10, 4, generator=generator)
    target = torch.randint(0, 4, (3, 10), generator=generator)
    counts = [[100, 30, 10, 3], [5, 50, 500, 1], [7, 7, 7, 7]]
    families = [
        [ELMLoss(c, max_m=m, lam=lam, s=s, reduction="none")
         for c, m, lam, s in zip(counts, [0.5, 0.3, 0.1], [1.0, -0.5, 0.0], [30.0, 10.0, 1.0],
                                 strict=True)],
        [LogitAdjustedLoss(c, tau=t, reduction="none")
         for c, t in zip(counts, [1.0, 0.0, 2.0], strict=True)],
        [FocalLoss(g, reduction="none") for g in [0.0, 1.0, 2.5]],
        [CBLoss(c, reduction="none") for c in counts],
    ]
    for criteria in families:
        core = type(criteria[0]).core
        stacked = {name: torch.stack([torch.as_tensor(c.core_arguments()[name],
                                                      dtype=torch.float32) for c in criteria])
                   for name in criteria[0].core_arguments()}
        names = list(stacked)  # vmap maps positional arguments only

        def member_core(z, y, *values, names=names, core=core):
            return core(z, y, **dict(zip(names, values, strict=True)))

        got = torch.vmap(member_core)(logits, target, *stacked.values())
        for g, criterion in enumerate(criteria):
            criterion.weight = None
            torch.testing.assert_close(got[g], criterion(logits[g], target[g]),
                                       msg=type(criterion).__name__)
