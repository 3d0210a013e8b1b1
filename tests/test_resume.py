"""Resumable training: a killed or interrupted fit resumes from its last epoch checkpoint."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sklearn_elm import ELMClassifier
from sklearn_elm.persistence import TrainingCheckpoint, checkpoint_epochs

HAS_CHECKPOINT_DIR = "checkpoint_dir" in ELMClassifier().get_params()
needs_checkpoint_dir = pytest.mark.skipif(
    not HAS_CHECKPOINT_DIR, reason="ELMClassifier has no checkpoint_dir parameter yet"
)


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(
        n_samples=200,
        n_features=8,
        n_informative=5,
        n_classes=3,
        weights=[0.7, 0.2, 0.1],
        random_state=0,
    )
    return X, y


class InterruptDuringEpoch(Callback):
    """Raise KeyboardInterrupt in the middle of epoch ``epoch`` (1-based), like Ctrl-C."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


class CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_ += 1


def epochs_run(clf):
    return dict(clf.net_.callbacks_)["count"].epochs_


# --------------------------------------------------------------------------- killed process
CHILD = textwrap.dedent(
    """
    import sys, time
    from sklearn.datasets import make_classification
    from skorch.callbacks import Callback
    from sklearn_elm import ELMClassifier

    class SlowEpochs(Callback):
        def on_epoch_end(self, net, **kwargs):
            time.sleep(0.25)

    X, y = make_classification(n_samples=200, n_features=8, n_informative=5, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)
    ELMClassifier(max_epochs=int(sys.argv[2]), batch_size=32, dropout=0.2,
                  checkpoint_dir=sys.argv[1], callbacks=[("slow", SlowEpochs())],
                  random_state=0).fit(X, y)
    """
)


@needs_checkpoint_dir
def test_killed_training_resumes_from_its_last_checkpoint(table, tmp_path):
    X, y = table
    max_epochs = 12
    checkpoint_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(checkpoint_dir), str(max_epochs)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while checkpoint_epochs(checkpoint_dir) < 2:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the training process wrote no checkpoint"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    saved = checkpoint_epochs(checkpoint_dir)  # read after the kill: no write can follow
    assert 2 <= saved < max_epochs

    resumed = ELMClassifier(
        max_epochs=max_epochs,
        batch_size=32,
        dropout=0.2,
        checkpoint_dir=checkpoint_dir,
        callbacks=[("count", CountEpochs())],
        random_state=0,
    ).fit(X, y)
    assert len(resumed.history_) == resumed.n_iter_ == max_epochs
    assert epochs_run(resumed) == max_epochs - saved
    assert resumed.history_[:, "epoch"] == list(range(1, max_epochs + 1))
    # the resumed run continues the killed one: its losses are those of an uninterrupted run
    reference = ELMClassifier(
        max_epochs=max_epochs, batch_size=32, dropout=0.2, random_state=0
    ).fit(X, y)
    assert_allclose(
        resumed.history_[:, "train_loss"], reference.history_[:, "train_loss"], rtol=1e-5
    )


# --------------------------------------------------------------------------- KeyboardInterrupt
def digits_images():
    X, y = load_digits(return_X_y=True)
    return X[:240].reshape(-1, 1, 8, 8) / 16.0, y[:240]


@needs_checkpoint_dir
@pytest.mark.parametrize(
    "data, params",
    [
        ("table", {"dropout": 0.2, "lr_schedule": "paper", "drw_start": 3, "batch_size": 32}),
        ("images", {"augment": True, "batch_size": 64, "loss": "ldam"}),
        ("table", {"optimizer": "sgd", "loss": "cb", "batch_size": 50}),
    ],
    ids=["mlp-dropout-schedule-drw", "cnn-augment", "sgd-momentum"],
)
def test_keyboard_interrupt_leaves_unfitted_and_resume_is_exact(table, tmp_path, data, params):
    X, y = table if data == "table" else digits_images()
    max_epochs = 5
    reference = ELMClassifier(max_epochs=max_epochs, random_state=0, **params).fit(X, y)

    clf = ELMClassifier(
        max_epochs=max_epochs,
        checkpoint_dir=tmp_path,
        random_state=0,
        callbacks=[("interrupt", InterruptDuringEpoch(3))],
        **params,
    )
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert checkpoint_epochs(tmp_path) == 2  # epoch 3 was cut short: it alone is lost

    clf.set_params(callbacks=[("count", CountEpochs())])
    clf.fit(X, y)
    assert dict(clf.net_.callbacks_)["checkpoint"].restored_epochs_ == 2
    assert epochs_run(clf) == max_epochs - 2
    assert clf.n_iter_ == len(clf.history_) == max_epochs
    # weights, optimizer moments, DRW, learning-rate schedule, dropout/augmentation RNG and
    # batch order all continue where they were: the result is bit-identical
    assert clf.history_[:, "train_loss"] == reference.history_[:, "train_loss"]
    assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    assert checkpoint_epochs(tmp_path) == max_epochs


# --------------------------------------------------------------------------- the callback
def test_callback_alone_resumes_under_its_contract_name(table, tmp_path):
    # what ELMClassifier(checkpoint_dir=...) does, spelled out with the callback itself
    X, y = table
    params = {"max_epochs": 4, "random_state": 0}
    first = ELMClassifier(
        callbacks=[
            ("checkpoint", TrainingCheckpoint(tmp_path)),
            ("interrupt", InterruptDuringEpoch(3)),
        ],
        **params,
    )
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y)
    second = ELMClassifier(
        callbacks=[("checkpoint", TrainingCheckpoint(tmp_path)), ("count", CountEpochs())], **params
    ).fit(X, y)
    assert dict(second.net_.callbacks_)["checkpoint"].restored_epochs_ == 2
    assert epochs_run(second) == 2 and second.n_iter_ == 4


def test_checkpoint_after_every_epoch_and_no_temporary_files(table, tmp_path):
    X, y = table
    seen = []

    class Watch(Callback):
        def on_epoch_begin(self, net, **kwargs):
            seen.append(checkpoint_epochs(tmp_path))

    ELMClassifier(
        max_epochs=4,
        callbacks=[("watch", Watch()), ("checkpoint", TrainingCheckpoint(tmp_path))],
        random_state=0,
    ).fit(X, y)
    assert seen == [0, 1, 2, 3]
    assert checkpoint_epochs(tmp_path) == 4
    assert os.listdir(tmp_path) == ["checkpoint.zip"]


def test_nothing_restored_without_a_checkpoint(table, tmp_path):
    X, y = table
    clf = ELMClassifier(
        max_epochs=2,
        random_state=0,
        callbacks=[("checkpoint", TrainingCheckpoint(tmp_path / "new"))],
    ).fit(X, y)
    assert dict(clf.net_.callbacks_)["checkpoint"].restored_epochs_ == 0
    assert clf.n_iter_ == 2
    assert checkpoint_epochs(tmp_path / "new") == 2  # the directory is created


@needs_checkpoint_dir
def test_finished_run_trains_nothing_more_and_extends(table, tmp_path):
    X, y = table
    first = ELMClassifier(max_epochs=3, checkpoint_dir=tmp_path, random_state=0).fit(X, y)
    again = ELMClassifier(
        max_epochs=3, checkpoint_dir=tmp_path, random_state=0, callbacks=[("count", CountEpochs())]
    ).fit(X, y)
    assert epochs_run(again) == 0
    assert_array_equal(again.predict_proba(X), first.predict_proba(X))
    longer = ELMClassifier(
        max_epochs=5, checkpoint_dir=tmp_path, random_state=0, callbacks=[("count", CountEpochs())]
    ).fit(X, y)
    assert epochs_run(longer) == 2 and longer.n_iter_ == 5


@needs_checkpoint_dir
def test_checkpoint_of_other_data_is_refused(table, tmp_path):
    X, y = table
    ELMClassifier(max_epochs=2, checkpoint_dir=tmp_path, random_state=0).fit(X, y)
    clf = ELMClassifier(max_epochs=2, checkpoint_dir=tmp_path, random_state=0)
    with pytest.raises(ValueError, match="other data"):
        clf.fit(X[:150], y[:150])
    with pytest.raises(ValueError, match="other data"):
        clf.fit(X, y, sample_weight=np.linspace(0.5, 1.5, len(y)))
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


@needs_checkpoint_dir
def test_checkpoint_of_another_network_is_refused(table, tmp_path):
    X, y = table
    ELMClassifier(max_epochs=2, checkpoint_dir=tmp_path, random_state=0).fit(X, y)
    clf = ELMClassifier(max_epochs=2, hidden_layer_sizes=(7,), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="does not fit this network"):
        clf.fit(X, y)


@needs_checkpoint_dir
def test_resume_with_early_stopping(table, tmp_path):
    X, y = table
    params = {"max_epochs": 4, "early_stopping": True, "n_iter_no_change": 50, "random_state": 0}
    clf = ELMClassifier(
        checkpoint_dir=tmp_path, callbacks=[("interrupt", InterruptDuringEpoch(3))], **params
    )
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    clf.set_params(callbacks=None).fit(X, y)
    assert clf.n_iter_ == 4 and "valid_loss" in clf.history_[-1]
