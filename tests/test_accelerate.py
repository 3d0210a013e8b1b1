"""``ELMNet`` under skorch's Hugging Face Accelerate integration (``skorch.hf.AccelerateMixin``).

This is how a model too large for one GPU is trained (FSDP or DeepSpeed through ``accelerate
launch``, see docs/scaling.md); here the same code runs in one CPU process with
``Accelerator(cpu=True)``. Skipped when accelerate is not installed
(``pip install "sklearn-elm[accelerate]"``).
"""

import numpy as np
import pytest
import torch
from torch import nn

accelerate = pytest.importorskip("accelerate")

from skorch.hf import AccelerateMixin  # noqa: E402

from sklearn_elm import TrainingDivergedError  # noqa: E402
from sklearn_elm._training import ELMNet, TensorData  # noqa: E402
from sklearn_elm.losses import ELMLoss  # noqa: E402
from sklearn_elm.modules import MLP  # noqa: E402


class AcceleratedNet(AccelerateMixin, ELMNet):
    """ELMNet whose module, optimizer and steps are handled by an ``accelerate.Accelerator``."""


class NaNModule(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.linear(X) * float("nan")


@pytest.fixture(scope="module")
def accelerator():
    accelerator = accelerate.Accelerator(cpu=True)
    yield accelerator
    # the accelerator's state is a process-wide singleton: leave none behind for other tests
    accelerate.state.AcceleratorState._reset_state(True)


@pytest.fixture(scope="module")
def table():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(3), [90, 40, 20])
    X = (rng.randn(len(y), 5) + 3 * y[:, None]).astype(np.float32)
    return X, y


def make_net(accelerator, y, module=MLP, **params):
    torch.manual_seed(0)
    return AcceleratedNet(
        module, module__n_features=5, module__n_classes=3,
        criterion=ELMLoss(np.bincount(y), reduction="none"), optimizer=torch.optim.Adam,
        lr=0.01, max_epochs=8, batch_size=32, train_split=None, accelerator=accelerator,
        callbacks__print_log__sink=print, verbose=0, **params,
    )


def tensors(X, y, sample_weight=None):
    weight = None if sample_weight is None else torch.as_tensor(sample_weight,
                                                                dtype=torch.float32)
    return TensorData(torch.from_numpy(X), torch.from_numpy(y), weight)


def test_fit_on_cpu_through_accelerate(accelerator, table):
    X, y = table
    net = make_net(accelerator, y).fit(tensors(X, y), None)
    losses = np.asarray(net.history[:, "train_loss"])
    assert len(losses) == 8 and np.isfinite(losses).all() and losses[-1] < losses[0] / 2
    # unwrapped after training: a plain module again, usable (and picklable) without accelerate
    assert type(net.module_) is MLP
    proba = net.predict_proba(tensors(X, y))
    assert proba.shape == (len(y), 3)
    # one CPU process: the same steps as ELMNet's own, so the same losses and predictions
    torch.manual_seed(0)
    plain = ELMNet(
        MLP, module__n_features=5, module__n_classes=3,
        criterion=ELMLoss(np.bincount(y), reduction="none"), optimizer=torch.optim.Adam,
        lr=0.01, max_epochs=8, batch_size=32, train_split=None, device="cpu",
    ).fit(tensors(X, y), None)
    np.testing.assert_allclose(losses, plain.history[:, "train_loss"], rtol=1e-5)
    np.testing.assert_allclose(proba, plain.predict_proba(tensors(X, y)), atol=1e-5)


def test_sample_weights_reach_the_loss_under_accelerate(accelerator, table):
    X, y = table
    plain = make_net(accelerator, y).fit(tensors(X, y), None)
    uniform = make_net(accelerator, y).fit(tensors(X, y, np.full(len(y), 3.0)), None)
    np.testing.assert_allclose(uniform.history[:, "train_loss"], plain.history[:, "train_loss"],
                               rtol=1e-5)
    # weight only the rare class: the loss, now over that class alone, differs
    rare = make_net(accelerator, y).fit(tensors(X, y, (y == 2).astype(float)), None)
    assert not np.allclose(rare.history[:, "train_loss"], plain.history[:, "train_loss"])


def test_divergence_guard_under_accelerate(accelerator, table):
    X, y = table
    with pytest.raises(TrainingDivergedError, match="epoch 1, batch 1"):
        make_net(accelerator, y, module=NaNModule).fit(tensors(X, y), None)
