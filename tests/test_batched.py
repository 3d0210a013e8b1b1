"""The batched trainer: every member is the network a single ``ELMClassifier.fit`` trains."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from sklearn_elm import ELMClassifier, TrainingDivergedError
from sklearn_elm._batched import _step, fallback_reason, fit_members, member_bytes
from sklearn_elm.losses import _margin_loss, elm_loss, label_distribution_margins

# float32 training: stacked matrix products sum in another order than single ones
ATOL = 1e-5


# many tiny fits: one thread avoids per-op synchronisation on busy cores
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(n_samples=260, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)
    weights = np.random.RandomState(1).uniform(0.2, 2.0, size=y.size)
    return X, y, weights


def _rows(n, size, seed):
    return np.sort(np.random.RandomState(seed).choice(n, size, replace=False))


def _base(**params):
    return {**ELMClassifier().get_params(), "max_epochs": 3, "batch_size": 32,
            "hidden_layer_sizes": (16,), "device": "cpu", **params}


CONFIGS = [
    dict(loss="elm", drw_start=1, random_state=0),
    dict(loss="elm", lam=-0.5, max_m=0.3, drw_start=None, random_state=1),
    dict(loss="ldam", random_state=2),
    dict(loss="ce", drw_start=2, random_state=3),
    dict(loss="la", tau=0.7, lr_schedule="paper", random_state=4),
    dict(loss="cb", beta=0.99, random_state=5),
    dict(loss="elm", optimizer="adamw", weight_decay=0.05, random_state=6),
    dict(loss="elm", optimizer="sgd", weight_decay=1e-3, lr=0.05, random_state=7),
    dict(loss="elm", head="linear", hidden_layer_sizes=(8, 5), s=10.0, random_state=8),
    dict(loss="elm", hidden_layer_sizes=(), random_state=9),
    dict(loss="elm", optimizer=torch.optim.Adam, lr=0.003, random_state=10),
    dict(loss="focal", gamma=2.0, drw_start=1, random_state=11),
    dict(loss="focal", gamma=0.5, s=10.0, random_state=12),
]


def _assert_same_fit(member, single, X):
    assert member.batched and member.error is None
    fitted = member.estimator
    np.testing.assert_allclose(fitted.predict_proba(X), single.predict_proba(X), atol=ATOL)
    np.testing.assert_array_equal(fitted.classes_, single.classes_)
    np.testing.assert_array_equal(fitted.class_counts_, single.class_counts_)
    np.testing.assert_allclose(fitted.margins_, single.margins_)
    assert fitted.n_iter_ == single.n_iter_
    # a fitted member is an ordinary fitted ELMClassifier, with the attributes fit sets
    assert sorted(k for k in vars(fitted) if k.endswith("_")) == sorted(
        k for k in vars(single) if k.endswith("_"))
    np.testing.assert_allclose(fitted.history_[:, "train_loss"],
                               single.history_[:, "train_loss"], rtol=1e-4)
    weight, single_weight = fitted.net_.criterion_.weight, single.net_.criterion_.weight
    assert (weight is None) == (single_weight is None)
    if weight is not None:
        np.testing.assert_allclose(weight.numpy(), single_weight.numpy(), rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_members_equal_single_fits(table, weighted):
    X, y, w = table
    sample_weight = w if weighted else None
    # folds of different sizes: different numbers of batches and last-batch sizes
    sizes = [200, 170, 131, 233, 96, 210, 180, 150, 120, 160, 190, 175, 140]
    members = [(_base(**config), _rows(len(y), size, i))
               for i, (config, size) in enumerate(zip(CONFIGS, sizes, strict=True))]
    if weighted:  # one member per loss and optimizer
        members = [members[i] for i in (0, 3, 4, 5, 7, 11)]
    results = fit_members(X, y, members, sample_weight)
    for (params, rows), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(
            X[rows], y[rows], sample_weight=None if sample_weight is None else w[rows])
        _assert_same_fit(member, single, X)


def test_group_size_does_not_change_members(table):
    X, y, _ = table
    members = [(_base(lam=lam, random_state=0), _rows(len(y), 150 + 10 * i, i))
               for i, lam in enumerate([0.0, 1.0, -0.5])]
    together = fit_members(X, y, members)
    in_pairs = fit_members(X, y, members, max_batched_members=2)
    tiny_budget = fit_members(X, y, members, memory_budget=1)  # one member per group
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = fit_members(X, y, members, n_jobs=2)  # groups trained in two threads
    assert not [w for w in caught if "layout" in str(w.message)]
    assert torch.get_num_threads() == 1  # restored (the fixture set one)
    for a, *others in zip(together, in_pairs, tiny_budget, threads, strict=True):
        for b in others:
            np.testing.assert_allclose(a.estimator.predict_proba(X),
                                       b.estimator.predict_proba(X), atol=ATOL)


def test_member_missing_a_class_is_trained_on_its_own_classes(table):
    X, y, _ = table
    rows = np.flatnonzero(y != 2)[:150]
    params = _base(random_state=0)
    [member] = fit_members(X, y, [(params, rows)])
    single = ELMClassifier(**params).fit(X[rows], y[rows])
    _assert_same_fit(member, single, X)
    assert member.estimator.classes_.tolist() == [0, 1]


def test_sample_weight_leaving_one_class_fails_as_in_a_single_fit(table):
    X, y, _ = table
    rows = _rows(len(y), 150, 0)
    weights = (y == 0).astype(float)
    [member] = fit_members(X, y, [(_base(random_state=0), rows)], sample_weight=weights)
    assert not member.batched and member.estimator is None
    with pytest.raises(ValueError) as single:
        ELMClassifier(**_base(random_state=0)).fit(X[rows], y[rows], sample_weight=weights[rows])
    assert str(member.error) == str(single.value)


def test_unbatchable_members_fall_back_to_single_fits(table):
    X, y, _ = table
    rows = _rows(len(y), 200, 0)
    params = _base(dropout=0.2, random_state=0)
    [member] = fit_members(X, y, [(params, rows)])
    assert not member.batched and member.reason == "dropout > 0"
    single = ELMClassifier(**params).fit(X[rows], y[rows])
    np.testing.assert_array_equal(member.estimator.predict_proba(X), single.predict_proba(X))


@pytest.mark.parametrize("params, reason", [
    (dict(module="cnn"), "module='cnn'"),
    (dict(early_stopping=True), "early_stopping=True"),
    (dict(precision="bf16"), "precision='bf16'"),
    (dict(optimizer=torch.optim.RMSprop), "optimizer="),
    (dict(optimizer__betas=(0.8, 0.9)), "routed parameters"),
    (dict(compile=True), "compile=True"),
])
def test_fallback_reasons(params, reason):
    assert reason in fallback_reason(_base(**params))


def test_fallback_reason_none_for_the_default_mlp():
    assert fallback_reason(_base()) is None
    assert fallback_reason(_base(lr_schedule="paper", optimizer="sgd")) is None
    assert fallback_reason(_base(), X_ndim=4) == "image input"


def test_failed_fallback_fit_is_recorded(table):
    X, y, _ = table
    rows = np.flatnonzero(y == 0)[:50]  # one class only
    [member] = fit_members(X, y, [(_base(dropout=0.1), rows)])
    assert member.estimator is None and isinstance(member.error, ValueError)


def test_diverging_member_is_reported_and_does_not_touch_the_others(table):
    X, y, _ = table
    zeros, ones = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    bad_rows = np.sort(np.r_[zeros[:40], ones[:24]])
    good_rows = np.sort(np.r_[zeros[40:120], ones[24:50]])
    # the bad member has two rows with weight in 8 batches: a batch with neither has the loss
    # 0/0, which a single fit refuses
    weights = np.zeros(len(y))
    weights[bad_rows[[0, -1]]] = 1.0
    weights[good_rows] = 1.0
    bad, good = _base(batch_size=8, random_state=3), _base(batch_size=8, random_state=0)
    with pytest.raises(TrainingDivergedError):
        ELMClassifier(**bad).fit(X[bad_rows], y[bad_rows], sample_weight=weights[bad_rows])
    bad_result, good_result = fit_members(X, y, [(bad, bad_rows), (good, good_rows)],
                                          sample_weight=weights)
    assert bad_result.estimator is None
    assert isinstance(bad_result.error, TrainingDivergedError)
    single = ELMClassifier(**good).fit(X[good_rows], y[good_rows],
                                       sample_weight=weights[good_rows])
    _assert_same_fit(good_result, single, X)


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd"])
def test_batched_step_matches_torch_optimizers(kind):
    # 3 members with their own lr and weight decay; members sit out some steps
    torch.manual_seed(0)
    start = torch.randn(3, 20)
    grads = [torch.randn(3, 20) for _ in range(4)]
    lrs, decays = np.array([0.1, 0.01, 0.003]), np.array([0.0, 0.1, 0.01])
    active_at = [None, np.array([True, False, True]), None, np.array([False, True, True])]
    flat = start.clone()
    state = {"exp_avg": torch.zeros_like(flat), "exp_avg_sq": torch.zeros_like(flat)}
    steps = torch.zeros(3, dtype=torch.float64)
    for grad, active in zip(grads, active_at, strict=True):
        steps += torch.ones(3, dtype=torch.float64) if active is None else torch.from_numpy(
            active.astype(float))
        _step(kind, flat, grad.clone(), state, active, lrs, decays, steps)
    for g in range(3):
        p = start[g].clone().requires_grad_()
        if kind == "sgd":
            opt = torch.optim.SGD([p], lr=lrs[g], weight_decay=decays[g], momentum=0.9)
        else:
            cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
            opt = cls([p], lr=lrs[g], weight_decay=decays[g])
        for grad, active in zip(grads, active_at, strict=True):
            if active is None or active[g]:
                p.grad = grad[g].clone()
                opt.step()
        torch.testing.assert_close(flat[g], p.detach(), rtol=1e-5, atol=1e-7)


def test_per_row_margin_loss_equals_per_member_losses():
    torch.manual_seed(0)
    logits, target = torch.randn(12, 4), torch.arange(12) % 4
    counts = [[100, 30, 10, 3], [5, 50, 500, 1]]
    lam, s, max_m = [1.0, -0.5], [30.0, 10.0], [0.5, 0.3]
    margins = torch.stack([label_distribution_margins(c, m) for c, m in zip(counts, max_m,
                                                                              strict=True)])
    member = torch.arange(12) // 6
    per_row = _margin_loss(logits, target, margins[member], torch.tensor(lam)[member],
                           torch.tensor(s)[member], None, "none")
    for g in range(2):
        rows = member == g
        expected = elm_loss(logits[rows], target[rows], counts[g], max_m=max_m[g], lam=lam[g],
                            s=s[g], reduction="none")
        torch.testing.assert_close(per_row[rows], expected)


def test_member_bytes_grows_with_members_inputs():
    small = member_bytes(20, (100,), 10, 128)
    assert member_bytes(20, (100,), 10, 256) > small
    assert member_bytes(20, (200,), 10, 128) > small
    # weights: 20·100+100 + 100·10 (cosine head); rows: 128·(20 + 300 + 60)
    assert small == 4 * (128 * 380 + 4 * 3100)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_members_equal_single_fits_on_cuda(table):
    X, y, w = table
    members = [(_base(**config, device="cuda"), _rows(len(y), 150 + 20 * i, i))
               for i, config in enumerate(CONFIGS[:4])]
    results = fit_members(X, y, members, w)
    for (params, rows), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(X[rows], y[rows], sample_weight=w[rows])
        np.testing.assert_allclose(member.estimator.predict_proba(X), single.predict_proba(X),
                                   atol=1e-4)
