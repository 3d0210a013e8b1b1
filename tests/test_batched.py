"""The batched engine: every member is the network a single ``ELMClassifier.fit`` trains."""

import ctypes
import inspect
import os
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_elm import ELMClassifier, TrainingDivergedError, WarmupMultiStepLR, _batched
from sklearn_elm._batched import (
    PARAMETERS,
    ROUTED_PARAMETERS,
    batch_reason,
    fit_members,
    member_bytes,
    module_bytes,
)
from sklearn_elm._builder import ROUTED_PREFIXES
from sklearn_elm.modules import ResNet32

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


@pytest.fixture(scope="module")
def digits():
    """64 8×8 one-channel images of 3 classes, as flat rows."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [30, 20, 14])
    X = rng.normal(size=(y.size, 64)) + y[:, None] * np.linspace(0, 1, 64)
    return X.astype(np.float32), y


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


def _assert_same_fit(member, single, X, atol=ATOL):
    assert member.batched and member.error is None, (member.reason, member.error)
    fitted = member.estimator
    np.testing.assert_allclose(fitted.predict_proba(X), single.predict_proba(X), atol=atol)
    np.testing.assert_array_equal(fitted.classes_, single.classes_)
    np.testing.assert_array_equal(fitted.class_counts_, single.class_counts_)
    np.testing.assert_allclose(fitted.margins_, single.margins_)
    assert fitted.n_iter_ == single.n_iter_
    # a fitted member is an ordinary fitted ELMClassifier, with the attributes fit sets
    assert sorted(k for k in vars(fitted) if k.endswith("_")) == sorted(
        k for k in vars(single) if k.endswith("_"))
    for name in ("n_features_in_", "input_shape_", "input_ndim_", "_image_shape_", "device_"):
        assert getattr(fitted, name) == getattr(single, name), name
    # the same history rows: skorch's own callbacks wrote them
    assert [sorted(row) for row in fitted.history_] == [sorted(row) for row in single.history_]
    np.testing.assert_allclose(fitted.history_[:, "train_loss"],
                               single.history_[:, "train_loss"], rtol=1e-4)
    assert fitted.history_[:, "train_batch_count"] == single.history_[:, "train_batch_count"]
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


def test_one_group_of_different_losses_margins_and_fold_sizes(table, monkeypatch):
    """lam, max_m, drw_start and elm/ldam differ inside one group; folds of unequal size."""
    X, y, w = table
    group_sizes = []
    train_group = _batched._train_group
    monkeypatch.setattr(_batched, "_train_group", lambda members, inputs: (
        group_sizes.append(len(members)) or train_group(members, inputs)))
    configs = [dict(lam=1.0, drw_start=1), dict(lam=0.0, max_m=0.3, drw_start=None),
               dict(loss="ldam", drw_start=2), dict(lam=-0.5, max_m=0.7)]
    # 200, 193 and 197 rows: 7 batches of 32 each, the last one of 8, 1 and 5 rows
    # a constant rate: with the default schedule, other DRW starts mean other learning-rate
    # trajectories, which train in groups of their own
    members = [(_base(**config, random_state=i, lr_schedule=None), _rows(len(y), size, i))
               for i, (config, size) in enumerate(zip(configs, [200, 193, 197, 200],
                                                      strict=True))]
    results = fit_members(X, y, members, w, n_jobs=1)
    assert group_sizes == [4]
    for (params, rows), member in zip(members, results, strict=True):
        _assert_same_fit(member, ELMClassifier(**params).fit(X[rows], y[rows],
                                                             sample_weight=w[rows]), X)


def test_members_differing_only_in_max_epochs_never_share_a_group(table, monkeypatch):
    X, y, _ = table
    groups = []
    train_group = _batched._train_group
    monkeypatch.setattr(_batched, "_train_group", lambda members, inputs: (
        groups.append([m.estimator.max_epochs for m in members])
        or train_group(members, inputs)))
    rows = _rows(len(y), 200, 0)
    members = [(_base(max_epochs=e, random_state=0), rows) for e in (2, 3, 2, 3)]
    results = fit_members(X, y, members, n_jobs=1)
    assert sorted(groups) == [[2, 2], [3, 3]]
    assert [r.estimator.n_iter_ for r in results] == [2, 3, 2, 3]


def test_group_size_does_not_change_members(table):
    X, y, _ = table
    members = [(_base(lam=lam, random_state=0), _rows(len(y), 150 + 10 * i, i))
               for i, lam in enumerate([0.0, 1.0, -0.5])]
    together = fit_members(X, y, members)
    in_pairs = fit_members(X, y, members, max_batched_members=2)
    tiny_budget = fit_members(X, y, members, memory_budget=1)  # one member per group
    threads = fit_members(X, y, members, n_jobs=2)  # groups trained in two threads
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


def test_member_missing_a_declared_class_counts_it_as_absent(table):
    X, y, _ = table
    rows = np.flatnonzero(y != 2)[:150]
    params = _base(classes=[0, 1, 2], random_state=0)
    with pytest.warns(UserWarning, match="no training samples") as caught:
        [member] = fit_members(X, y, [(params, rows)])
    with pytest.warns(UserWarning, match="no training samples") as single_caught:
        single = ELMClassifier(**params).fit(X[rows], y[rows])
    assert str(caught[0].message) == str(single_caught[0].message)
    _assert_same_fit(member, single, X)
    assert member.estimator.classes_.tolist() == [0, 1, 2]
    assert member.estimator.class_counts_[2] == 0
    # an absent class has the margin of a class with one sample, in the loss too
    torch.testing.assert_close(member.estimator.net_.criterion_.margins,
                               single.net_.criterion_.margins)


def test_sample_weight_leaving_one_class_fails_as_in_a_single_fit(table):
    X, y, _ = table
    rows = _rows(len(y), 150, 0)
    weights = (y == 0).astype(float)
    [member] = fit_members(X, y, [(_base(random_state=0), rows)], sample_weight=weights)
    assert not member.batched and member.estimator is None
    with pytest.raises(ValueError) as single:
        ELMClassifier(**_base(random_state=0)).fit(X[rows], y[rows], sample_weight=weights[rows])
    assert str(member.error) == str(single.value)


@pytest.mark.parametrize("params", [
    dict(max_epochs=-3), dict(lr=0.0), dict(hidden_layer_sizes=(0,)), dict(drw_start=True),
    dict(batch_size=1.5), dict(unknown_name=1),
])
def test_engine_refuses_what_fit_refuses_with_the_same_message(table, params):
    X, y, _ = table
    rows = _rows(len(y), 100, 0)
    [member] = fit_members(X, y, [(_base(**params), rows)])
    assert member.estimator is None and not member.batched
    with pytest.raises(Exception) as single:
        ELMClassifier(**_base(**params)).fit(X[rows], y[rows])
    assert type(member.error) is type(single.value)
    assert str(member.error) == str(single.value)
    if "max_epochs" in params:
        assert isinstance(member.error, InvalidParameterError)


def test_every_parameter_is_declared_by_the_engine():
    names = ELMClassifier._get_param_names()
    missing = [name for name in names if name not in PARAMETERS]
    assert not missing, f"declare {missing} in sklearn_elm._batched.PARAMETERS"
    assert not set(PARAMETERS) - set(names), "PARAMETERS names parameters that do not exist"
    assert set(ROUTED_PARAMETERS) == set(ROUTED_PREFIXES)
    # and every declaration is a description or a rule of one argument
    for name, rule in PARAMETERS.items():
        assert isinstance(rule, str) or len(inspect.signature(rule).parameters) == 1, name


def test_an_undeclared_parameter_is_fitted_alone(monkeypatch):
    monkeypatch.delitem(PARAMETERS, "lam")
    assert "lam is not declared" in batch_reason(ELMClassifier())


@pytest.mark.parametrize("params, reason", [
    (dict(module=ResNet32(n_classes=3)), "module=ResNet32"),
    (dict(precision="fp16"), "precision='fp16'"),
    (dict(optimizer=torch.optim.RMSprop), "optimizer="),
    (dict(optimizer__betas=(0.8, 0.9)), "routed parameters"),
    (dict(module__width=8), "routed parameters"),
    (dict(compile=True), "compile=True"),
    (dict(checkpoint_dir="somewhere"), "checkpoint_dir="),
    (dict(callbacks=[WarmupMultiStepLR()]), "callbacks="),
    (dict(lr_schedule=type("MySchedule", (WarmupMultiStepLR,), {})()), "lr_schedule="),
])
def test_batch_reasons(params, reason):
    assert reason in batch_reason(ELMClassifier(**_base(**params)))


@pytest.mark.parametrize("params", [
    dict(), dict(lr_schedule="paper", optimizer="sgd"), dict(dropout=0.2),
    dict(early_stopping=True), dict(precision="bf16"), dict(module="cnn", augment=True),
    dict(lr_schedule=WarmupMultiStepLR(2, (3,), 0.5)), dict(module=ResNet32),
    dict(warm_start=True), dict(classes=[0, 1, 2]),
])
def test_batch_reason_is_none_for_what_the_engine_trains(params):
    assert batch_reason(ELMClassifier(**_base(**params))) is None


def test_unbatchable_members_fall_back_to_single_fits(table):
    X, y, _ = table
    rows = _rows(len(y), 200, 0)
    params = _base(optimizer=torch.optim.RMSprop, random_state=0)
    [member] = fit_members(X, y, [(params, rows)])
    assert not member.batched and "RMSprop" in member.reason
    single = ELMClassifier(**params).fit(X[rows], y[rows])
    np.testing.assert_array_equal(member.estimator.predict_proba(X), single.predict_proba(X))


def test_failed_fallback_fit_is_recorded(table):
    X, y, _ = table
    rows = np.flatnonzero(y == 0)[:50]  # one class only
    [member] = fit_members(X, y, [(_base(compile=True), rows)])
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
    with pytest.raises(TrainingDivergedError) as single_error:
        ELMClassifier(**bad).fit(X[bad_rows], y[bad_rows], sample_weight=weights[bad_rows])
    bad_result, good_result = fit_members(X, y, [(bad, bad_rows), (good, good_rows)],
                                          sample_weight=weights)
    assert bad_result.estimator is None
    assert isinstance(bad_result.error, TrainingDivergedError)
    # the same message: the same epoch and batch
    assert str(bad_result.error) == str(single_error.value)
    single = ELMClassifier(**good).fit(X[good_rows], y[good_rows],
                                       sample_weight=weights[good_rows])
    _assert_same_fit(good_result, single, X)


def test_early_stopping_members_stop_where_single_fits_stop(table):
    X, y, w = table
    members = [(_base(early_stopping=True, n_iter_no_change=n, max_epochs=12, lr=lr,
                      random_state=i), _rows(len(y), 200, i))
               for i, (n, lr) in enumerate([(1, 0.01), (2, 0.05), (3, 0.05)])]
    results = fit_members(X, y, members, w)
    stopped = []
    for (params, rows), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(X[rows], y[rows], sample_weight=w[rows])
        _assert_same_fit(member, single, X)
        np.testing.assert_allclose(member.estimator.history_[:, "valid_loss"],
                                   single.history_[:, "valid_loss"], rtol=1e-4)
        stopped.append(single.n_iter_ < 12)
    assert any(stopped)  # the test covers a stopped member and its restored best weights


@pytest.mark.parametrize("flat", [True, False])
def test_small_cnn_members_equal_single_fits(digits, flat):
    X, y = digits
    shape = dict(input_shape=(1, 8, 8)) if flat else {}
    X_in = X if flat else X.reshape(-1, 8, 8)
    members = [(_base(module="cnn", batch_size=16, max_epochs=2, **shape, random_state=i,
                      **config), _rows(len(y), 50, i))
               for i, config in enumerate([dict(lam=1.0), dict(loss="ldam", max_m=0.3),
                                           dict(lam=0.5, drw_start=1)])]
    results = fit_members(X_in, y, members)
    for (params, rows), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(X_in[rows], y[rows])
        _assert_same_fit(member, single, X_in, atol=1e-4)


def test_resnet32_members_equal_single_fits_with_their_batchnorm_statistics():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 6)
    X = (rng.normal(size=(12, 3, 32, 32)) + y[:, None, None, None]).astype(np.float32)
    members = [(_base(module="resnet32", batch_size=6, max_epochs=1, random_state=i, lam=lam),
                np.arange(12)) for i, lam in enumerate([1.0, 0.0])]
    results = fit_members(X, y, members)
    for (params, rows), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(X[rows], y[rows])
        _assert_same_fit(member, single, X, atol=1e-4)
        batched_stats = dict(member.estimator.module_.named_buffers())
        for name, value in single.module_.named_buffers():
            # float32 rounding of stacked and single products, through 31 layers and the
            # statistics of 6-sample batches
            torch.testing.assert_close(batched_stats[name], value, rtol=1e-4, atol=2e-4)


def test_bf16_members_follow_single_fits(table):
    X, y, _ = table
    rows = _rows(len(y), 200, 0)
    params = _base(precision="bf16", random_state=0)
    [member] = fit_members(X, y, [(params, rows)])
    single = ELMClassifier(**params).fit(X[rows], y[rows])
    assert member.batched
    # bfloat16 products round differently when stacked: close, not equal to float32 rounding
    np.testing.assert_allclose(member.estimator.predict_proba(X), single.predict_proba(X),
                               atol=0.05)
    assert member.estimator.n_iter_ == single.n_iter_


def test_dropout_and_augment_members_train_like_single_fits_in_distribution(digits):
    """Dropout masks and crops are drawn per member, not as a single fit draws them: compare
    the final training losses and accuracies of several seeds, not the weights."""
    X, y = digits
    for params in (_base(dropout=0.3, hidden_layer_sizes=(32,), max_epochs=8),
                   _base(module="cnn", input_shape=(1, 8, 8), augment=True, max_epochs=3)):
        members = [({**params, "random_state": seed}, np.arange(len(y))) for seed in range(6)]
        results = fit_members(X, y, members)
        assert all(r.batched and r.error is None for r in results)
        singles = [ELMClassifier(**p).fit(X, y) for p, _ in members]
        batched_loss = np.mean([r.estimator.history_[-1, "train_loss"] for r in results])
        single_loss = np.mean([s.history_[-1, "train_loss"] for s in singles])
        # the final losses of single fits spread by about ±50% over seeds
        assert abs(batched_loss - single_loss) < 0.4 * single_loss
        # randomness was used: members of different seeds differ from their single fits
        assert not np.allclose(results[0].estimator.predict_proba(X),
                               singles[0].predict_proba(X), atol=1e-5)
        batched_accuracy = np.mean([r.estimator.score(X, y) for r in results])
        single_accuracy = np.mean([s.score(X, y) for s in singles])
        assert abs(batched_accuracy - single_accuracy) < 0.15


def test_member_bytes_of_the_mlp():
    small = member_bytes(20, (100,), 10, 128)
    assert member_bytes(20, (100,), 10, 256) > small
    assert member_bytes(20, (200,), 10, 128) > small
    # weights: 20·100+100 + 100·10 (cosine head); rows: 128·(20 + 300 + 60)
    assert small == 4 * (128 * 380 + 4 * 3100)


def test_resnet_groups_are_split_by_the_memory_budget(monkeypatch):
    per_member = module_bytes(ResNet32(n_classes=10), (3, 32, 32), 128)
    assert per_member > 100 * member_bytes(20, (100,), 10, 128)
    # a 12 × 5 search on a GPU with 2 GiB for the groups: several groups
    assert 60 * per_member > 2 * 2**30 > per_member


@pytest.mark.cuda
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


def test_no_warning_about_stacked_gradients(table):
    X, y, _ = table
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_members(X, y, [(_base(random_state=0), _rows(len(y), 100, 0))])


def _glibc():
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None),
                                                            "gnu_get_libc_version")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc() or any(name in os.environ
                                        for name in _batched._ALLOCATOR_ENVIRONMENT),
                    reason="glibc's allocator, not configured through the environment")
def test_batched_steps_reuse_freed_memory():
    """A group's 1.5 MB activations reuse freed heap memory instead of fresh pages."""
    resource = pytest.importorskip("resource")
    X, y = make_classification(n_samples=1000, n_features=20, n_informative=5, n_classes=3,
                               random_state=0)
    params = {**ELMClassifier().get_params(), "max_epochs": 2, "device": "cpu"}
    members = [({**params, "random_state": i}, np.arange(1000)) for i in range(30)]
    fit_members(X, y, members)  # the heap grows to the group's peak once
    faults = []
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        fit_members(X, y, members)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    # 16 steps a fit: glibc's defaults fault in 7,000 to 20,000 pages, the tuned heap mostly
    # under 100 (a few hundred while it settles)
    assert min(faults) < 2000


def _record_slots(monkeypatch):
    """The number of slots of each epoch's training batches, epoch after epoch."""
    counts = []
    batches = _batched._Batches

    class Recording(batches):
        def __init__(self, rows, labels, weights, batch_size, device, orders=None):
            if orders is not None:  # the training batches (validation ones have no order)
                counts.append(len(rows))
            super().__init__(rows, labels, weights, batch_size, device, orders)

    monkeypatch.setattr(_batched, "_Batches", Recording)
    return counts


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_members_that_start_alike_train_together_until_their_class_weights_part(
        table, monkeypatch, optimizer):
    # a grid over drw_start: the same network until deferred re-weighting starts
    X, y, w = table
    rows = _rows(len(y), 200, 0)
    configs = [dict(lam=0.5, drw_start=None), dict(lam=0.5, drw_start=2),
               dict(lam=0.5, drw_start=4), dict(lam=1.0, drw_start=None)]
    members = [(_base(max_epochs=6, optimizer=optimizer, lr=0.05, random_state=0, **config),
                rows) for config in configs]
    counts = _record_slots(monkeypatch)
    results = fit_members(X, y, members, w, n_jobs=1)
    # one slot for the first three until epoch 2, where the second parts, and 4, the third
    assert counts == [2, 2, 3, 3, 4, 4]
    for (params, rows_), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(X[rows_], y[rows_], sample_weight=w[rows_])
        _assert_same_fit(member, single, X)
        # each member's batch order went on as its own fit's did
        assert torch.equal(member.estimator.net_.shuffle_generator_.get_state(),
                           single.net_.shuffle_generator_.get_state())


def test_members_of_other_rows_or_seeds_do_not_train_together(table, monkeypatch):
    X, y, _ = table
    members = [(_base(random_state=0), _rows(len(y), 200, 0)),
               (_base(random_state=0), _rows(len(y), 200, 1)),
               (_base(random_state=1), _rows(len(y), 200, 0)),
               (_base(random_state=0, lam=1.0), _rows(len(y), 200, 0)),
               (_base(random_state=0), _rows(len(y), 200, 0))]  # the first one's twin
    counts = _record_slots(monkeypatch)
    fit_members(X, y, members, n_jobs=1)
    assert counts == [4, 4, 4]


def test_members_sharing_a_slot_stop_early_on_their_own_and_stopped_ones_cost_nothing(
        table, monkeypatch):
    X, y, w = table
    rows = _rows(len(y), 200, 3)
    members = [(_base(early_stopping=True, n_iter_no_change=n, max_epochs=12, lr=0.05,
                      random_state=0, lam=lam), rows)
               for n, lam in [(1, 0.5), (4, 0.5), (1, 1.0)]]
    counts = _record_slots(monkeypatch)
    results = fit_members(X, y, members, w, n_jobs=1)
    n_iter = []
    for (params, rows_), member in zip(members, results, strict=True):
        single = ELMClassifier(**params).fit(X[rows_], y[rows_], sample_weight=w[rows_])
        _assert_same_fit(member, single, X)
        n_iter.append(single.n_iter_)
    assert n_iter[0] < n_iter[1]  # the slot's first member stopped, the second went on
    # two slots while every member trains; a slot leaves once all its members stopped
    assert counts[0] == 2 and counts[-1] == 1 and len(counts) == max(n_iter)
    assert counts == [1 + (epoch < min(n_iter[1], n_iter[2])) for epoch in range(len(counts))]


def test_chunks_keep_members_that_start_alike_together():
    class Spec:
        random = False

        def __init__(self, key):
            self.start_key = ("start", key)

    keys = [0, 0, 1, 1, 2, 2, 3, 3, 4, 5]
    specs = [(i, Spec(key)) for i, key in enumerate(keys)]
    chunks = _batched._chunks(specs, 5)
    assert sorted(len(chunk) for chunk in chunks) == [5, 5]
    for chunk in chunks:
        assert [i for i, _ in chunk] == sorted(i for i, _ in chunk)
        chunk_keys = [keys[i] for i, _ in chunk]
        for key in set(chunk_keys) - {4, 5}:
            assert chunk_keys.count(key) == 2  # a pair is never split
