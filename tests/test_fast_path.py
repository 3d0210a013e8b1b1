"""The fast training path of ``ELMNet``: whole-tensor batches, skorch callbacks, weights, devices.

``BatchIterator`` replaces skorch's sample-by-sample ``DataLoader``; these tests check that it
still gives skorch and its callbacks what they expect (every sample once per epoch, a new order
every epoch, ``batch_size`` honoured, ``(X, y)`` batches), that sample weights scale the loss
as documented, and that the optional paths (fused optimizers, bf16, CUDA) run. CUDA tests skip
cleanly without a GPU.
"""

import os

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, EpochScoring, LRScheduler
from torch import nn

from sklearn_elm import ELMClassifier
from sklearn_elm._training import INPUT_KEY, WEIGHT_KEY, BatchIterator, ELMNet, TensorData
from sklearn_elm.losses import ELMLoss

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def table():
    """Three well-separated, imbalanced classes; the first feature is a unique row id."""
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(3), [90, 40, 20])
    X = rng.randn(len(y), 5) + 3 * y[:, None]
    X[:, 0] = np.arange(len(y)) / len(y)  # row ids: lets callbacks tell which rows a batch holds
    return X.astype(np.float32), y


def id_data(n, weights=False):
    X = torch.arange(n, dtype=torch.float32)[:, None]
    y = torch.arange(n)
    w = torch.arange(n, dtype=torch.float32) * 10 if weights else None
    return TensorData(X, y, w)


def epoch_orders(iterator, epochs):
    """The row ids of every epoch, in batch order, and the batch sizes."""
    orders, sizes = [], []
    for _ in range(epochs):
        batches = list(iterator)
        sizes.append([len(y) for _, y in batches])
        orders.append(torch.cat([y for _, y in batches]))
    return orders, sizes


# ------------------------------------------------------------------------------ BatchIterator
@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (5, 8), (7, -1)])
def test_every_sample_exactly_once_per_epoch_in_batches_of_batch_size(n, batch_size):
    generator = torch.Generator().manual_seed(0)
    iterator = BatchIterator(id_data(n), batch_size, "cpu", shuffle=True, generator=generator)
    orders, sizes = epoch_orders(iterator, epochs=3)
    size = n if batch_size == -1 else batch_size
    expected_sizes = [size] * (n // size) + ([n % size] if n % size else [])
    assert len(iterator) == len(expected_sizes)
    for order, epoch_sizes in zip(orders, sizes, strict=True):
        assert torch.equal(order.sort().values, torch.arange(n))  # each row once
        assert epoch_sizes == expected_sizes


def test_shuffles_differently_every_epoch_and_reproducibly():
    def orders(seed):
        generator = torch.Generator().manual_seed(seed)
        iterator = BatchIterator(id_data(50), 16, "cpu", shuffle=True, generator=generator)
        return epoch_orders(iterator, epochs=3)[0]

    first = orders(0)
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    assert not torch.equal(first[0], torch.arange(50))
    assert all(torch.equal(a, b) for a, b in zip(first, orders(0), strict=True))


def test_without_shuffle_batches_are_in_order():
    orders, _ = epoch_orders(BatchIterator(id_data(10), 4, "cpu"), epochs=2)
    assert all(torch.equal(order, torch.arange(10)) for order in orders)


def test_batches_are_skorch_pairs_and_weights_ride_along_with_their_rows():
    unweighted = next(iter(BatchIterator(id_data(6), 4, "cpu")))
    assert isinstance(unweighted, tuple) and len(unweighted) == 2
    generator = torch.Generator().manual_seed(0)
    for X, y in BatchIterator(id_data(9, weights=True), 4, "cpu", shuffle=True,
                              generator=generator):
        assert set(X) == {INPUT_KEY, WEIGHT_KEY}
        assert torch.equal(X[INPUT_KEY][:, 0].long(), y)
        assert torch.equal(X[WEIGHT_KEY], y.float() * 10)


# ------------------------------------------------------------------------------ skorch callbacks
class BatchLog(Callback):
    """Records every training batch: its row ids (first feature), correct predictions, lr."""

    def __init__(self, n_rows):
        self.n_rows = n_rows

    def initialize(self):
        self.epochs, self.correct, self.lrs = [], [], []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append([])
        self.correct.append(0)

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        if training:
            X, y = batch
            self.epochs[-1].append((X[:, 0] * self.n_rows).round().long().tolist())
            self.correct[-1] += int((y_pred.argmax(1) == y).sum())
            self.lrs.append(net.optimizer_.param_groups[0]["lr"])


def train_accuracy(net, X, y):
    # with skorch's caching, predict_proba returns the logits the training batches produced
    return float((net.predict_proba(X).argmax(1) == y).mean())


def test_skorch_callbacks_see_every_batch(table):
    X, y = table
    batch_size, epochs = 32, 4
    clf = ELMClassifier(
        hidden_layer_sizes=(16,), batch_size=batch_size, max_epochs=epochs, random_state=0,
        lr_schedule=None,  # the skorch scheduler below sets the rate
        callbacks=[
            ("log", BatchLog(len(y))),
            ("train_acc", EpochScoring(train_accuracy, on_train=True, name="train_acc",
                                       lower_is_better=False)),
            ("step_lr", LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5,
                                    step_every="batch")),
        ],
    ).fit(X, y)
    callbacks = dict(clf.net_.callbacks_)
    log = callbacks["log"]
    n_batches = -(-len(y) // batch_size)
    assert len(log.epochs) == epochs
    for rows in log.epochs:
        assert [len(batch) for batch in rows][:-1] == [batch_size] * (n_batches - 1)
        assert sorted(sum(rows, [])) == list(range(len(y)))  # every row once per epoch
    assert log.epochs[0] != log.epochs[1]  # a new order every epoch
    # the batch-level scheduler stepped once per training batch: lr halves every 2 batches
    assert log.lrs == pytest.approx([clf.lr * 0.5 ** (i // 2) for i in range(epochs * n_batches)])
    scores = clf.history_[:, "train_acc"]
    # EpochScoring scored exactly the predictions of the epoch's batches, against their labels
    assert scores == pytest.approx([correct / len(y) for correct in log.correct])
    assert clf.history_[:, "train_batch_count"] == [n_batches] * epochs


def test_skorch_net_methods_accept_plain_arrays(table):
    """``net_.forward`` on a numpy array goes through skorch's own Dataset and DataLoader."""
    X, y = table
    clf = ELMClassifier(hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(X, y)
    logits = clf.net_.forward(X).numpy()
    np.testing.assert_allclose(clf.s * logits, clf.decision_function(X), rtol=1e-5, atol=1e-5)


class CountsTrainCalls(nn.Module):
    """A linear layer whose ``train`` override counts its calls (a frozen-BN style hook)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(5, 3)
        self.train_calls = 0

    def train(self, mode=True):
        self.train_calls += 1
        return super().train(mode)

    def forward(self, x):
        return self.linear(x)


def test_train_mode_is_set_for_every_step_as_skorch_does(table):
    """The no-op shortcut of ``_set_training`` never leaves a module in the wrong mode."""
    X, y = table

    class Modes(Callback):
        def initialize(self):
            self.seen = []
            return self

        def on_batch_begin(self, net, training=False, **kwargs):
            # flip a submodule behind skorch's back: the step must switch it back
            net.module_.head.eval() if training else net.module_.head.train()

        def on_batch_end(self, net, training=False, **kwargs):
            self.seen.append((training, {m.training for m in net.module_.modules()}))

    clf = ELMClassifier(hidden_layer_sizes=(8,), max_epochs=2, batch_size=50,
                        early_stopping=True, validation_fraction=0.2, random_state=0,
                        callbacks=[("modes", Modes())]).fit(X, y)
    seen = dict(clf.net_.callbacks_)["modes"].seen
    assert {training for training, _ in seen} == {True, False}
    assert all(modes == {training} for training, modes in seen)


def test_a_module_overriding_train_is_called_every_step():
    X, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    net = ELMNet(CountsTrainCalls(), criterion=ELMLoss([20, 10, 10]),
                 optimizer=torch.optim.SGD, lr=0.1, max_epochs=2, batch_size=10,
                 train_split=None, device="cpu").initialize()
    calls_before = net.module_.train_calls
    net.partial_fit(TensorData(X, y), None)
    assert net.module_.train_calls - calls_before >= 2 * 4  # at least once per batch


# ------------------------------------------------------------------------------ sample weights
def make_net(class_weight=None, **params):
    criterion = ELMLoss([30, 10, 5], reduction="none", weight=class_weight)
    net = ELMNet(nn.Linear(4, 3), criterion=criterion, optimizer=torch.optim.SGD, lr=0.1,
                 max_epochs=1, batch_size=8, train_split=None, device="cpu", **params)
    return net.initialize()


@pytest.mark.parametrize("class_weight", [None, torch.tensor([0.5, 1.0, 3.0])])
def test_sample_weights_scale_the_loss(class_weight):
    net = make_net(class_weight)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=generator)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    weights = torch.tensor([1.0, 2.0, 0.0, 3.0, 1.0, 1.0])
    c = torch.ones(3) if class_weight is None else class_weight
    per_sample = net.criterion_(logits, y)  # already multiplied by the class weight c[y]
    expected = (weights * per_sample).sum() / (weights * c[y]).sum()
    weighted = net.get_loss(logits, y, X={INPUT_KEY: None, WEIGHT_KEY: weights})
    torch.testing.assert_close(weighted, expected)
    # an integer weight k counts as k copies of the row; weight 0 as no row at all
    repeats = weights.long()
    copies = net.get_loss(logits.repeat_interleave(repeats, 0), y.repeat_interleave(repeats))
    torch.testing.assert_close(weighted, copies)
    # weights are relative: scaling them all changes nothing
    scaled = net.get_loss(logits, y, X={INPUT_KEY: None, WEIGHT_KEY: 7 * weights})
    torch.testing.assert_close(weighted, scaled)


def test_uniform_sample_weights_train_exactly_like_none(table):
    X, y = table
    params = dict(hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, random_state=0)
    plain = ELMClassifier(**params).fit(X, y)
    weighted = ELMClassifier(**params).fit(X, y, sample_weight=np.full(len(y), 2.5))
    np.testing.assert_allclose(weighted.history_[:, "train_loss"],
                               plain.history_[:, "train_loss"], rtol=1e-5)
    np.testing.assert_allclose(weighted.predict_proba(X), plain.predict_proba(X), atol=1e-5)


def test_sample_weights_reach_the_validation_loss(table):
    X, y = table
    weights = np.where(y == 0, 0.0, 1.0)
    clf = ELMClassifier(hidden_layer_sizes=(8,), max_epochs=3, early_stopping=True,
                        random_state=0).fit(X, y, sample_weight=weights)
    assert np.isfinite(clf.history_[:, "valid_loss"]).all()


# ------------------------------------------------------------------------------ optimizers
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_builtin_optimizers_use_the_fused_kernel(table, optimizer):
    X, y = table
    clf = ELMClassifier(optimizer=optimizer, hidden_layer_sizes=(8,), max_epochs=1,
                        random_state=0).fit(X, y)
    assert clf.net_.optimizer_.defaults["fused"] is True


def test_an_explicit_optimizer_implementation_is_respected(table):
    X, y = table
    clf = ELMClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0,
                        optimizer__foreach=False).fit(X, y)
    assert not clf.net_.optimizer_.defaults["fused"]
    other = ELMClassifier(optimizer=torch.optim.RMSprop, hidden_layer_sizes=(8,), max_epochs=1,
                          random_state=0).fit(X, y)
    assert "fused" not in other.net_.optimizer_.defaults


def test_fused_and_unfused_adam_train_alike(table):
    X, y = table
    params = dict(hidden_layer_sizes=(16,), max_epochs=5, batch_size=32, random_state=0)
    fused = ELMClassifier(**params).fit(X, y)
    looped = ELMClassifier(optimizer__foreach=False, **params).fit(X, y)
    np.testing.assert_allclose(fused.history_[:, "train_loss"],
                               looped.history_[:, "train_loss"], rtol=1e-3)


# ------------------------------------------------------------------------------ precision
def test_bf16_fit_on_cpu_is_finite_and_reasonable(table):
    X, y = table
    params = dict(hidden_layer_sizes=(16,), max_epochs=20, batch_size=32, random_state=0,
                  device="cpu")
    bf16 = ELMClassifier(precision="bf16", **params).fit(X, y)
    fp32 = ELMClassifier(**params).fit(X, y)
    losses = np.asarray(bf16.history_[:, "train_loss"])
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    proba = bf16.predict_proba(X)
    assert proba.dtype == np.float64 and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert bf16.score(X, y) >= fp32.score(X, y) - 0.05
    assert bf16.score(X, y) > 0.9


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SKLEARN_ELM_SLOW_TESTS"),
                    reason="torch.compile takes tens of seconds; set SKLEARN_ELM_SLOW_TESTS=1")
def test_compile_fit_on_cpu_matches_eager(table):
    X, y = table
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, device="cpu")
    compiled = ELMClassifier(compile=True, **params).fit(X, y)
    eager = ELMClassifier(**params).fit(X, y)
    np.testing.assert_allclose(compiled.predict_proba(X), eager.predict_proba(X), atol=1e-4)


# ------------------------------------------------------------------------------ devices
def test_auto_device_is_cpu_without_cuda(table):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: see test_auto_device_picks_cuda")
    X, y = table
    clf = ELMClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X, y)
    assert clf.device_ == "cpu"


@needs_cuda
def test_auto_device_picks_cuda(table):
    X, y = table
    clf = ELMClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X, y)
    assert clf.device_ == "cuda"
    assert next(clf.module_.parameters()).is_cuda


@needs_cuda
def test_pinned_batches_reach_the_gpu_intact():
    data = id_data(37, weights=True)
    generator = torch.Generator().manual_seed(0)
    for shuffle in (False, True):
        iterator = BatchIterator(data, 8, "cuda", shuffle=shuffle, generator=generator)
        seen = []
        for X, y in iterator:
            assert X[INPUT_KEY].is_cuda and y.is_cuda and X[WEIGHT_KEY].is_cuda
            assert torch.equal(X[INPUT_KEY][:, 0].long(), y)
            assert torch.equal(X[WEIGHT_KEY], y.float() * 10)
            seen.append(y.cpu())
        assert torch.equal(torch.cat(seen).sort().values, torch.arange(37))


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_fit_and_predict_proba_match_cpu_inference(table, precision):
    X, y = table
    clf = ELMClassifier(hidden_layer_sizes=(16,), max_epochs=10, batch_size=32, random_state=0,
                        device="cuda", precision=precision).fit(X, y, sample_weight=np.ones(len(y)))
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    proba = clf.predict_proba(X)
    module = clf.module_.to("cpu").float()
    with torch.no_grad():
        expected = torch.softmax(clf.s * module(torch.from_numpy(X)).double(), dim=1).numpy()
    tolerance = 1e-4 if precision == "fp32" else 5e-2  # low-precision inference on the GPU
    np.testing.assert_allclose(proba, expected, atol=tolerance)
