"""examples/cifar_lt.py: the papers' CIFAR-LT recipe, and its --smoke run on fake CIFAR files."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_elm.callbacks import WarmupMultiStepLR
from sklearn_elm.datasets import load_cifar_lt, long_tailed_counts

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "cifar_lt.py"


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("cifar_lt", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines functions only: main() is behind __main__
    return module


def test_smoke_run(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for line in ("top-1 accuracy", "many-shot", "medium-shot", "few-shot"):
        assert line in out
    summary = json.loads(out.split("result:", 1)[1].strip().splitlines()[0])
    assert summary["dataset"] == "cifar10" and summary["loss"] == "elm" and summary["drw"]
    assert summary["epochs"] == 2 and summary["device"] == "cpu"
    # 20 fake images per class made long-tailed at ratio 100
    assert summary["n_train"] == sum(long_tailed_counts(20, 10, 100)) == 49
    # one warm-up epoch at the full rate, then both decays (x0.01 twice) in the second
    assert summary["lr_per_epoch"] == pytest.approx([0.1, 1e-5])
    assert 0.0 <= summary["top1"] <= 1.0
    assert summary["many"] is None  # no class has more than 100 training images here
    assert 0.0 <= summary["medium"] <= 1.0 and 0.0 <= summary["few"] <= 1.0
    assert list(tmp_path.iterdir()) == []  # the fake data went to a temporary folder


def test_the_200_epoch_schedule_is_the_papers(recipe):
    assert recipe.recipe_schedule(200) == (5, (160, 180), 160)
    clf = recipe.make_classifier("elm", epochs=200)
    schedule = clf.lr_schedule
    assert isinstance(schedule, WarmupMultiStepLR) and schedule.gamma == 0.01
    lrs = [clf.lr * schedule.factor(epoch, 200) for epoch in range(200)]
    # LDAM-DRW's adjust_learning_rate, with its 1-based epoch
    expected = [0.1 * (e + 1) / 5 if e + 1 <= 5 else 0.1 * 1e-4 if e + 1 > 180
                else 0.1 * 0.01 if e + 1 > 160 else 0.1 for e in range(200)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_make_classifier_is_the_papers_recipe(recipe):
    params = recipe.make_classifier("ldam", epochs=200, seed=3).get_params()
    expected = dict(loss="ldam", module="resnet32", optimizer="sgd", lr=0.1,
                    weight_decay=2e-4, batch_size=128, max_epochs=200, drw_start=160,
                    beta=0.9999, augment=True, device="auto", head="cosine", s=30.0,
                    max_m=0.5, random_state=3)
    assert {key: params[key] for key in expected} == expected
    assert recipe.make_classifier("elm", drw=False).drw_start is None


def test_cross_entropy_uses_an_unscaled_linear_head(recipe):
    clf = recipe.make_classifier("ce")
    assert (clf.head, clf.s, clf.drw_start) == ("linear", 1.0, 160)


@pytest.mark.parametrize("epochs, expected", [(2, (1, (1, 1), 1)), (10, (1, (8, 9), 8)),
                                              (100, (2, (80, 90), 80))])
def test_shorter_runs_keep_the_proportions(recipe, epochs, expected):
    assert recipe.recipe_schedule(epochs) == expected


def test_normalize_uses_the_cifar_statistics(recipe):
    images = np.empty((2, 3, 32, 32), dtype=np.uint8)
    images[:, :] = (np.asarray(recipe.CIFAR_MEAN) * 255).round().astype(np.uint8)[:, None, None]
    out = recipe.normalize(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    assert np.abs(out).max() < 0.01  # the mean colour maps to ~0
    white = recipe.normalize(np.full((1, 3, 32, 32), 255, dtype=np.uint8))
    np.testing.assert_allclose(white[0, :, 0, 0],
                               (1 - np.array(recipe.CIFAR_MEAN)) / np.array(recipe.CIFAR_STD),
                               rtol=1e-6)


@pytest.mark.parametrize("name, n_classes", [("cifar10", 10), ("cifar100", 100)])
def test_fake_cifar_files_load_with_load_cifar_lt(recipe, tmp_path, name, n_classes):
    recipe.write_fake_cifar(tmp_path, name, n_train_per_class=6, n_test_per_class=2)
    train = load_cifar_lt(tmp_path, name, imbalance_ratio=3)
    test = load_cifar_lt(tmp_path, name, train=False)
    assert train.data.dtype == np.uint8 and train.data.shape[1:] == (3, 32, 32)
    assert train.class_counts.tolist() == long_tailed_counts(6, n_classes, 3)
    assert test.class_counts.tolist() == [2] * n_classes
    assert len(test.target_names) == n_classes


def test_data_root_is_required_without_smoke(recipe, capsys):
    with pytest.raises(SystemExit):
        recipe.parse_args([])
    assert "--data-root is required" in capsys.readouterr().err
    args = recipe.parse_args(["--smoke", "--dataset", "cifar100", "--loss", "ce"])
    assert (args.epochs, args.verbose, args.dataset, args.loss) == (2, 0, "cifar100", "ce")
