"""ELMClassifier on images: input layouts, augmentation and the papers' learning-rate schedule."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_elm import ELMClassifier
from sklearn_elm._training import random_crop_flip
from sklearn_elm.callbacks import WarmupMultiStepLR

# a tiny CNN and few epochs: these tests check plumbing, not accuracy
FAST = dict(module="cnn", module__width=4, max_epochs=2, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16).astype(np.float32), y[:300]


def _check_predictions(clf, X, n_classes):
    proba = clf.predict_proba(X)
    assert clf.predict(X).shape == (len(X),)
    assert proba.shape == (len(X), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(np.unique(clf.predict(X))) <= set(clf.classes_)


# ---------------------------------------------------------------------------------- layouts
def test_flat_digits_through_input_shape(digits):
    X, y = digits
    clf = ELMClassifier(input_shape=(1, 8, 8), **FAST).fit(X, y)
    assert clf._image_shape_ == (1, 8, 8)
    assert clf.n_features_in_ == 64
    assert clf.module_.stage1[0].in_channels == 1
    _check_predictions(clf, X[:17], 10)


def test_nchw_images(digits):
    X, y = digits
    images = X.reshape(-1, 1, 8, 8)
    clf = ELMClassifier(**FAST).fit(images, y)
    assert clf._image_shape_ == (1, 8, 8)
    _check_predictions(clf, images[:17], 10)


def test_multichannel_images():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3, 12, 12).astype(np.float32)
    y = np.repeat(["a", "b"], 20)
    clf = ELMClassifier(**FAST).fit(X, y)
    assert clf.module_.stage1[0].in_channels == 3
    _check_predictions(clf, X, 2)
    assert clf.predict(X).dtype == y.dtype


def test_nhw_images_get_one_channel(digits):
    X, y = digits
    images = X.reshape(-1, 8, 8)
    clf = ELMClassifier(**FAST).fit(images, y)
    assert clf._image_shape_ == (1, 8, 8)
    assert clf.module_.stage1[0].in_channels == 1
    _check_predictions(clf, images[:17], 10)


def test_image_layouts_train_the_same_network(digits):
    """Flat rows + input_shape, (N, H, W) and (N, 1, H, W) are one and the same input."""
    X, y = digits
    layouts = [
        (X, {"input_shape": (1, 8, 8)}),
        (X.reshape(-1, 8, 8), {}),
        (X.reshape(-1, 1, 8, 8), {}),
    ]
    probas = [ELMClassifier(**FAST, **extra).fit(data, y).predict_proba(data[:20])
              for data, extra in layouts]
    np.testing.assert_allclose(probas[1], probas[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probas[2], probas[0], rtol=1e-5, atol=1e-6)


def test_images_pick_the_cnn_by_default(digits):
    X, y = digits
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(X.reshape(-1, 8, 8), y)
    assert type(clf.module_).__name__ == "SmallCNN"


# ---------------------------------------------------------------------------------- errors
def test_wrong_per_sample_shape_at_predict(digits):
    X, y = digits
    images = ELMClassifier(**FAST).fit(X.reshape(-1, 1, 8, 8), y)
    with pytest.raises(ValueError, match=r"per-sample shape \(1, 7, 7\).*fitted on \(1, 8, 8\)"):
        images.predict(np.zeros((2, 1, 7, 7), dtype=np.float32))
    with pytest.raises(ValueError, match=r"per-sample shape \(1, 8, 7\)"):
        images.predict_proba(np.zeros((2, 1, 8, 7), dtype=np.float32))

    flat = ELMClassifier(input_shape=(1, 8, 8), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="64 features"):
        flat.predict(X[:2, :63])


@pytest.mark.parametrize("shape", [(2, 64), (2, 8, 8)], ids=["flat", "no-channel"])
def test_other_layout_at_predict_names_the_per_sample_shapes(digits, shape):
    X, y = digits
    images = ELMClassifier(**{**FAST, "max_epochs": 1}).fit(X.reshape(-1, 1, 8, 8), y)
    with pytest.raises(ValueError, match=r"per-sample shape .* fitted on \(1, 8, 8\)"):
        images.predict(np.zeros(shape, dtype=np.float32))


def test_input_shape_must_match_the_number_of_features(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"input_shape=\(1, 8, 9\) needs 72 values"):
        ELMClassifier(input_shape=(1, 8, 9), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="input_shape is for flat 2-D X"):
        ELMClassifier(input_shape=(1, 8, 8), **FAST).fit(X.reshape(-1, 8, 8), y)


# ---------------------------------------------------------------------------------- augmentation
def _find_crop(padded, out):
    """The (dy, dx, flipped) under which ``out`` is a window of ``padded``, or None."""
    height, width = out.shape[-2:]
    for dy in range(padded.shape[-2] - height + 1):
        for dx in range(padded.shape[-1] - width + 1):
            window = padded[:, dy : dy + height, dx : dx + width]
            if torch.equal(window, out):
                return dy, dx, False
            if torch.equal(window.flip(-1), out):
                return dy, dx, True
    return None


def test_random_crop_flip_is_a_crop_of_the_zero_padded_image():
    torch.manual_seed(0)
    padding = 2
    # distinct positive values: a window can only match at one offset, and padding is visible
    X = torch.randperm(200 * 3 * 6 * 5).float().add(1).reshape(200, 3, 6, 5)
    out = random_crop_flip(X, padding)
    assert out.shape == X.shape and out.dtype == X.dtype and out.is_contiguous()
    padded = torch.nn.functional.pad(X, (padding,) * 4)
    found = [_find_crop(padded[i], out[i]) for i in range(len(X))]
    assert None not in found
    offsets = {(dy, dx) for dy, dx, _ in found}
    # every offset of the (2p+1)^2 can occur, and 200 draws see almost all of them
    assert offsets <= {(dy, dx) for dy in range(5) for dx in range(5)}
    assert len(offsets) >= 20
    flipped = np.mean([f for _, _, f in found])
    assert 0.35 < flipped < 0.65


def test_random_crop_flip_flips_about_half():
    torch.manual_seed(1)
    X = torch.arange(4000 * 4, dtype=torch.float32).reshape(4000, 1, 1, 4)
    out = random_crop_flip(X, padding=0)
    flipped = (out[:, 0, 0, 0] == X[:, 0, 0, 3]).float()
    kept = (out[:, 0, 0, 0] == X[:, 0, 0, 0]).float()
    assert torch.all(flipped + kept == 1)
    assert 0.47 < flipped.mean().item() < 0.53
    # without flip and padding, augmentation is the identity
    assert torch.equal(random_crop_flip(X, padding=0, flip=False), X)


def test_random_crop_flip_without_flip_keeps_the_orientation():
    torch.manual_seed(2)
    X = torch.rand(50, 2, 8, 8) + 1
    out = random_crop_flip(X, padding=1, flip=False)
    padded = torch.nn.functional.pad(X, (1,) * 4)
    assert all(_find_crop(padded[i], out[i])[2] is False for i in range(len(X)))


def test_random_crop_flip_follows_the_torch_seed():
    X = torch.rand(10, 1, 8, 8)
    torch.manual_seed(3)
    first = random_crop_flip(X, 1)
    torch.manual_seed(3)
    assert torch.equal(random_crop_flip(X, 1), first)


@pytest.mark.parametrize("size, padding", [(8, 1), (12, 1), (16, 2), (32, 4)])
def test_augment_padding_is_an_eighth_of_the_height(size, padding):
    rng = np.random.RandomState(0)
    X = rng.rand(20, 1, size, size).astype(np.float32)
    y = np.arange(20) % 2
    clf = ELMClassifier(augment=True, **{**FAST, "max_epochs": 1}).fit(X, y)
    assert clf.net_.augment_padding == padding and clf.net_.augment_flip


def test_augment_trains_on_augmented_batches_and_predicts_on_clean_ones(digits, monkeypatch):
    X, y = digits
    calls = []

    def spy(batch, padding, flip=True):
        calls.append((tuple(batch.shape), padding, flip))
        return random_crop_flip(batch, padding, flip)

    monkeypatch.setattr("sklearn_elm._training.random_crop_flip", spy)
    clf = ELMClassifier(input_shape=(1, 8, 8), augment=True, **FAST).fit(X, y)
    # 300 samples in batches of 64: 5 batches a epoch, 2 epochs
    assert len(calls) == 10
    assert calls[0] == ((64, 1, 8, 8), 1, True)
    calls.clear()
    first = clf.predict_proba(X[:50])
    np.testing.assert_array_equal(clf.predict_proba(X[:50]), first)
    assert calls == []
    _check_predictions(clf, X[:50], 10)


def test_augment_is_ignored_for_tables(digits):
    X, y = digits
    clf = ELMClassifier(augment=True, max_epochs=1, random_state=0).fit(X, y)
    assert clf.net_.augment_padding == 0 and not clf.net_.augment_flip


# ---------------------------------------------------------------------------------- lr schedule
def _lr_per_epoch(clf):
    return np.array(clf.history_[:, "lr"])


def test_paper_lr_schedule():
    """Warm-up over 2.5% of the epochs, then x0.01 at 80% and again at 90%."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 1, 4, 4).astype(np.float32)
    y = np.arange(40) % 2
    clf = ELMClassifier(lr_schedule="paper", lr=0.1, optimizer="sgd",
                        **{**FAST, "max_epochs": 80}).fit(X, y)
    lrs = _lr_per_epoch(clf)
    expected = np.r_[0.05, [0.1] * 63, [1e-3] * 8, [1e-5] * 8]  # warm-up: 2 of 80 epochs
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-5)


def test_paper_lr_schedule_at_200_epochs_is_the_ldam_code():
    """The LDAM-DRW CIFAR code: lr·(e+1)/5 for e < 5, ×0.01 from 160 and ×1e-4 from 180."""
    paper = WarmupMultiStepLR(warmup_epochs=0.025, milestones=(0.8, 0.9), gamma=0.01)
    recipe = WarmupMultiStepLR(warmup_epochs=5, milestones=(160, 180), gamma=0.01)
    factors = [paper.factor(e, 200) for e in range(200)]
    assert factors == [recipe.factor(e, 200) for e in range(200)]
    assert factors[:6] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert factors[159] == 1.0
    assert factors[160] == factors[179] == pytest.approx(1e-2)
    assert factors[180] == factors[199] == pytest.approx(1e-4)


def test_no_schedule_keeps_the_learning_rate(digits):
    X, y = digits
    clf = ELMClassifier(input_shape=(1, 8, 8), lr=0.02, lr_schedule=None, **FAST).fit(X, y)
    assert "lr" not in clf.history_[-1]
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.02


def test_custom_schedule_instance_is_copied():
    rng = np.random.RandomState(0)
    X = rng.rand(30, 1, 4, 4).astype(np.float32)
    y = np.arange(30) % 3
    schedule = WarmupMultiStepLR(warmup_epochs=2, milestones=(3,), gamma=0.1)
    clf = ELMClassifier(lr_schedule=schedule, lr=0.01, **{**FAST, "max_epochs": 5}).fit(X, y)
    np.testing.assert_allclose(_lr_per_epoch(clf), [0.005, 0.01, 0.01, 0.001, 0.001])
    assert not hasattr(schedule, "base_lrs_")  # the estimator's parameter is left untouched
