"""Training epochs that never wait for the device, and the choice of CUDA-graph-captured steps.

On the CPU there is no device to wait for, but the same code runs: the tests count the calls
that read a tensor's value on the host (``item``, ``tolist``, ``bool(t)``...), which on CUDA
are the ones that make the host wait, and check that an epoch makes exactly one.
"""

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from sklearn_elm import ELMClassifier
from sklearn_elm._cuda_graphs import GraphedSteps, capture_reason, plan_graphs
from sklearn_elm._training import ELMNet, TensorData, device_resident

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(hidden_layer_sizes=(8,), batch_size=32, max_epochs=3, device="cpu", random_state=0)
HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "numpy")


@pytest.fixture(scope="module")
def table():
    return make_classification(n_samples=200, n_features=6, n_informative=4, weights=[0.8],
                               random_state=0)


class CountHostReads(Callback):
    """Counts host reads of tensors between this callback's epoch begin and epoch end."""

    def __init__(self):
        self.counts = []

    def on_train_begin(self, net, **kwargs):
        self.counts, self._patches = [], []

    def on_epoch_begin(self, net, **kwargs):
        counts = dict.fromkeys(HOST_READS, 0)
        self.counts.append(counts)
        for name in HOST_READS:
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _name=name, _original=original, **kw):
                counts[_name] += 1
                return _original(tensor, *args, **kw)

            self._patches.append((name, original))
            setattr(torch.Tensor, name, counted)

    def on_epoch_end(self, net, **kwargs):
        for name, original in self._patches:
            setattr(torch.Tensor, name, original)
        self._patches = []


class EveryBatch(Callback):
    """A callback that runs on every batch, reading the batch loss from the history."""

    def on_batch_end(self, net, training=False, **kwargs):
        self.last_loss = net.history[-1, "batches", -1, "train_loss" if training else
                                     "valid_loss"]


def _callback(clf, cls):
    # the net holds copies of the estimator's callbacks
    return next(cb for _, cb in clf.net_.callbacks_ if isinstance(cb, cls))


@pytest.mark.parametrize("params", [{}, {"early_stopping": True},
                                    {"loss": "ce", "drw_start": 1}],
                         ids=["plain", "early-stopping", "ce-drw"])
def test_an_epoch_reads_the_device_once(table, params):
    X, y = table
    weights = np.linspace(0.5, 2.0, len(y))
    clf = ELMClassifier(**TINY, **params, callbacks=[CountHostReads()])
    clf.fit(X, y, sample_weight=weights)
    counter = _callback(clf, CountHostReads)
    assert len(counter.counts) == TINY["max_epochs"]
    reads_per_epoch = 2 if params.get("early_stopping") else 1  # training and validation
    for counts in counter.counts:
        assert counts == {**dict.fromkeys(HOST_READS, 0), "tolist": reads_per_epoch}, counts


def test_an_augmented_image_epoch_reads_the_device_once():
    # random crops and flips are drawn on the batch's device: no read of the host either
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(64, 1, 8, 8)).astype(np.float32), np.tile([0, 1], 32)
    clf = ELMClassifier(module="cnn", augment=True, batch_size=16, max_epochs=2, device="cpu",
                        random_state=0, callbacks=[CountHostReads()]).fit(X, y)
    for counts in _callback(clf, CountHostReads).counts:
        assert counts == {**dict.fromkeys(HOST_READS, 0), "tolist": 1}, counts


def test_recorded_losses_match_the_batch_by_batch_path(table):
    X, y = table
    deferred = ELMClassifier(**TINY).fit(X, y)
    live = ELMClassifier(**TINY, callbacks=[EveryBatch()]).fit(X, y)
    live_callback = _callback(live, EveryBatch)
    for clf in (deferred, live):
        for epoch in clf.history_:
            losses = [row["train_loss"] for row in epoch["batches"]]
            sizes = [row["train_batch_size"] for row in epoch["batches"]]
            assert sum(sizes) == len(y) and len(losses) == epoch["train_batch_count"]
            assert epoch["train_loss"] == pytest.approx(np.average(losses, weights=sizes))
    # the same steps: the same per-batch losses and the same network
    assert deferred.history_[:, "batches", :, "train_loss"] \
        == live.history_[:, "batches", :, "train_loss"]
    assert live_callback.last_loss == live.history_[-1, "batches", -1, "train_loss"]
    np.testing.assert_array_equal(deferred.predict_proba(X), live.predict_proba(X))


class NaNAfterSteps(torch.nn.Module):
    def __init__(self, n_features, n_classes, steps=3):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)
        self.steps, self.calls = steps, 0

    def forward(self, X):
        self.calls += self.training
        out = self.linear(X)
        return out if self.calls <= self.steps else out * float("nan")


@pytest.mark.parametrize("callbacks", [None, [EveryBatch()]], ids=["per-epoch", "per-batch"])
def test_divergence_names_the_epoch_and_first_bad_batch_on_both_paths(table, callbacks):
    X, y = table
    # 200 rows in batches of 50: steps 1-6 finite, so epoch 2's second batch is the first NaN
    clf = ELMClassifier(module=NaNAfterSteps, module__steps=5, batch_size=50, max_epochs=3,
                        device="cpu", random_state=0, callbacks=callbacks)
    with pytest.raises(FloatingPointError, match="epoch 2, batch 2"):
        clf.fit(X, y)


def test_cpu_data_stay_where_they_are(table):
    X, y = table
    data = TensorData(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
    assert device_resident(data, "cpu") is data


def test_data_beyond_the_memory_budget_are_not_moved(table, monkeypatch):
    X, y = table
    data = TensorData(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # the data take 200 * (6 * 4 + 8) bytes: more than half of 10 kB of free memory
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10_000, 10**9))
    assert device_resident(data, "cuda") is data


# ------------------------------------------------------------------------------ cuda_graphs
@pytest.mark.parametrize("value", ["always", 1, None])
def test_cuda_graphs_is_validated(table, value):
    X, y = table
    with pytest.raises(InvalidParameterError, match="cuda_graphs"):
        ELMClassifier(**TINY, cuda_graphs=value).fit(X, y)


@pytest.mark.parametrize("value", ["auto", False])
def test_no_warning_on_the_cpu_unless_asked_for(table, value):
    X, y = table
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ELMClassifier(**TINY, cuda_graphs=value).fit(X, y)


def test_asking_for_graphs_on_the_cpu_warns_once_and_trains(table):
    X, y = table
    with pytest.warns(UserWarning, match="cuda_graphs.*CUDA device.*'cpu'") as record:
        clf = ELMClassifier(**TINY, cuda_graphs=True).fit(X, y)
    assert len([w for w in record if "cuda_graphs" in str(w.message)]) == 1
    reference = ELMClassifier(**TINY, cuda_graphs=False).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))


def _net(table, **params):
    X, y = table
    clf = ELMClassifier(**{**TINY, "max_epochs": 1, **params}).fit(X, y)
    return clf.net_


class ReplacedStep(ELMNet):
    def train_step(self, batch, **fit_params):
        return super().train_step(batch, **fit_params)


@pytest.mark.parametrize("params, reason", [
    ({}, None),
    ({"optimizer": torch.optim.RMSprop}, "optimizer RMSprop is not known to be capturable"),
    ({"callbacks": [EveryBatch()]}, r"callbacks \['EveryBatch'\] run Python on every batch"),
])
def test_capture_reasons(table, monkeypatch, params, reason):
    net = _net(table, **params)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    found = capture_reason(net, torch.device("cuda"), ELMNet)
    if reason is None:
        assert found is None
    else:
        assert found is not None and re.search(reason, found), found


def test_capture_reasons_of_fp16_compile_and_replaced_steps(table, monkeypatch):
    net = _net(table)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # set on the fitted net: fp16 on the CPU has no gradient scaler and may overflow
    monkeypatch.setattr(net, "precision", "fp16")
    assert "gradient scaler" in capture_reason(net, torch.device("cuda"), ELMNet)
    monkeypatch.setattr(net, "precision", "fp32")
    monkeypatch.setattr(net, "compile", True)
    assert "compile=True" in capture_reason(net, torch.device("cuda"), ELMNet)
    monkeypatch.setattr(net, "compile", False)
    monkeypatch.setattr(net, "__class__", ReplacedStep)
    assert "ReplacedStep replaces the training step (train_step)" \
        in capture_reason(net, torch.device("cuda"), ELMNet)


def test_auto_warns_on_cuda_when_it_cannot_capture(table, monkeypatch):
    net = _net(table)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(net, "precision", "fp16")
    with pytest.warns(UserWarning, match="gradient scaler.*cuda_graphs=False"):
        assert plan_graphs(net, "auto", "cuda", ELMNet) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plan_graphs(net, False, "cuda", ELMNet) is None
        assert plan_graphs(net, "auto", "cpu", ELMNet) is None


def test_a_capturable_plan_switches_adam_to_capturable(table, monkeypatch):
    net = _net(table)  # Adam, after one epoch: its state holds step counts
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    plan = plan_graphs(net, "auto", "cuda", ELMNet)
    assert isinstance(plan, GraphedSteps)
    assert all(group["capturable"] for group in net.optimizer_.param_groups)
    assert all(state["step"].dtype == torch.float32 for state in net.optimizer_.state.values())
    plan.close()  # the end of the fit: the optimizer's own setting comes back
    assert not any(group["capturable"] for group in net.optimizer_.param_groups)
