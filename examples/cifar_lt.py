"""
===============================================
CIFAR-10-LT and CIFAR-100-LT with ResNet-32
===============================================

The training recipe of the LDAM-DRW (Cao et al., 2019) and ELM (Kato & Hotta, 2023) papers on
the long-tailed CIFAR benchmarks, with :class:`~sklearn_elm.ELMClassifier`:

* ResNet-32 with a cosine classifier head (a linear one for plain cross-entropy, as in the
  LDAM code), on images normalised with the CIFAR channel means and standard deviations;
* SGD with momentum 0.9, weight decay 2e-4, batches of 128, 200 epochs;
* learning rate 0.1, warmed up linearly over the first 5 epochs, multiplied by 0.01 from
  epoch 160 and by 0.0001 from epoch 180 (the LDAM code's ``adjust_learning_rate``);
* deferred re-weighting (class-balanced weights, beta = 0.9999) from epoch 160;
* random crop (4 pixels of zero padding) and horizontal flip of every training batch.

It reports the top-1 accuracy on the balanced test set and the many-shot (more than 100
training images), medium-shot (20 to 100) and few-shot (fewer than 20) accuracies.

This script needs the CIFAR files (``--download`` fetches them with torchvision) and, for the
full 200 epochs, a GPU: it is not run when the documentation is built. Run it with::

    python examples/cifar_lt.py --data-root ~/data --dataset cifar10 --imbalance-ratio 100 \\
        --loss elm
    python examples/cifar_lt.py --smoke   # 2 epochs on tiny fake CIFAR files, in seconds

``--smoke`` writes a few random images in the official CIFAR format to a temporary folder and
runs the whole pipeline on them for 2 epochs; the test-suite runs it.
"""

# %%
# The recipe
# ----------
from __future__ import annotations

import argparse
import json
import math
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score

from sklearn_elm import ELMClassifier
from sklearn_elm.callbacks import WarmupMultiStepLR
from sklearn_elm.datasets import load_cifar_lt
from sklearn_elm.metrics import shot_accuracy

# per-channel means and standard deviations of the LDAM-DRW code's transforms.Normalize, used
# there for CIFAR-10 and CIFAR-100 alike
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)

PAPER_EPOCHS = 200


def normalize(images):
    """uint8 images (N, 3, 32, 32) to float32, standardised per channel."""
    mean = np.asarray(CIFAR_MEAN, dtype=np.float32)[None, :, None, None]
    std = np.asarray(CIFAR_STD, dtype=np.float32)[None, :, None, None]
    return (images.astype(np.float32) / 255.0 - mean) / std


def recipe_schedule(epochs):
    """Warm-up epochs, learning-rate milestones and DRW start, scaled from the 200-epoch recipe.

    200 epochs give exactly the papers' 5, (160, 180) and 160; fewer epochs keep the same
    proportions (at least one warm-up epoch).
    """
    warmup = max(1, round(epochs * 5 / PAPER_EPOCHS))
    milestones = (epochs * 160 // PAPER_EPOCHS, epochs * 180 // PAPER_EPOCHS)
    return warmup, milestones, milestones[0]


def make_classifier(loss="elm", epochs=PAPER_EPOCHS, drw=True, max_m=0.5, s=30.0, lam=1.0,
                    device="auto", seed=0, verbose=1):
    """The papers' ResNet-32 training recipe as an :class:`~sklearn_elm.ELMClassifier`."""
    warmup, milestones, drw_start = recipe_schedule(epochs)
    if loss == "ce":
        # the LDAM code trains its cross-entropy baselines with a plain linear head, unscaled
        loss_params = dict(head="linear", s=1.0)
    else:
        loss_params = dict(head="cosine", s=s, max_m=max_m, lam=lam)
    return ELMClassifier(
        loss=loss,
        module="resnet32",
        optimizer="sgd",  # momentum 0.9
        lr=0.1,
        weight_decay=2e-4,
        batch_size=128,
        max_epochs=epochs,
        lr_schedule=WarmupMultiStepLR(warmup_epochs=warmup, milestones=milestones,
                                      gamma=0.01),
        drw_start=drw_start if drw else None,
        beta=0.9999,
        augment=True,  # random crop with 4 pixels of padding and horizontal flip
        device=device,
        random_state=seed,
        verbose=verbose,
        **loss_params,
    )


# %%
# Fake CIFAR files for the smoke test
# -----------------------------------
def write_fake_cifar(root, name="cifar10", n_train_per_class=20, n_test_per_class=10, seed=0):
    """Write tiny random images in the official python-pickle layout of CIFAR-10/100.

    Each class has its own mean colour, so that even two epochs learn something.
    """
    rng = np.random.RandomState(seed)
    n_classes = 10 if name == "cifar10" else 100
    labels_key = b"labels" if name == "cifar10" else b"fine_labels"
    folder = Path(root) / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True, exist_ok=True)
    colours = rng.randint(0, 256, size=(n_classes, 3))

    def batch(n_per_class):
        labels = np.repeat(np.arange(n_classes), n_per_class)
        rng.shuffle(labels)
        noise = rng.randint(-40, 41, size=(labels.size, 3, 32 * 32))
        data = np.clip(colours[labels][:, :, None] + noise, 0, 255).astype(np.uint8)
        return {b"data": data.reshape(labels.size, 3072), labels_key: labels.tolist()}

    def dump(obj, file_name):
        with open(folder / file_name, "wb") as file:
            pickle.dump(obj, file, protocol=2)

    names = [f"class_{k}".encode() for k in range(n_classes)]
    if name == "cifar10":
        train = batch(n_train_per_class)
        for i in range(5):  # the training images spread over the five official batch files
            dump({key: value[i::5] for key, value in train.items()}, f"data_batch_{i + 1}")
        dump(batch(n_test_per_class), "test_batch")
        dump({b"label_names": names}, "batches.meta")
    else:
        dump(batch(n_train_per_class), "train")
        dump(batch(n_test_per_class), "test")
        dump({b"fine_label_names": names}, "meta")
    return root


# %%
# Training and evaluation
# -----------------------
def evaluate(clf, X_test, y_test, train_class_counts):
    """Top-1 and many/medium/few-shot accuracy (thresholds 100 and 20 training images)."""
    y_pred = clf.predict(X_test)
    shots = shot_accuracy(y_test, y_pred, train_class_counts, many=100, few=20)
    return {
        "top1": float(accuracy_score(y_test, y_pred)),
        **{group: float(shots[group]) for group in ("many", "medium", "few")},
    }


def run(args, data_root):
    train = load_cifar_lt(data_root, args.dataset, imbalance_ratio=args.imbalance_ratio,
                          train=True, download=args.download, random_state=args.data_seed)
    test = load_cifar_lt(data_root, args.dataset, train=False)
    counts = train.class_counts
    print(f"{args.dataset}-LT, imbalance ratio {args.imbalance_ratio:g}: {len(train.target)} "
          f"training images, classes of {counts.max()} down to {counts.min()}; "
          f"{len(test.target)} test images")
    print("many/medium/few-shot classes:",
          int((counts > 100).sum()), int(((counts >= 20) & (counts <= 100)).sum()),
          int((counts < 20).sum()))

    clf = make_classifier(args.loss, args.epochs, drw=not args.no_drw, max_m=args.max_m,
                          s=args.s, lam=args.lam, device=args.device, seed=args.seed,
                          verbose=args.verbose)
    start = time.perf_counter()
    clf.fit(normalize(train.data), train.target)
    seconds = time.perf_counter() - start
    scores = evaluate(clf, normalize(test.data), test.target, counts)

    method = args.loss.upper() + ("" if args.no_drw else "-DRW")
    print(f"\n{method}, ResNet-32, {args.epochs} epochs on {clf.device_} in {seconds:.0f} s")
    print(f"top-1 accuracy   {100 * scores['top1']:6.2f} %")
    for group in ("many", "medium", "few"):
        value = scores[group]
        shown = "   n/a" if math.isnan(value) else f"{100 * value:6.2f} %"
        print(f"{group + '-shot':<16} {shown}")
    # one machine-readable line (NaN, for a group without classes, becomes null)
    summary = {"dataset": args.dataset, "imbalance_ratio": args.imbalance_ratio,
               "loss": args.loss, "drw": not args.no_drw, "epochs": args.epochs,
               "device": clf.device_, "n_train": int(len(train.target)),
               "lr_per_epoch": [float(lr) for lr in clf.history_[:, "lr"]],
               **{key: None if math.isnan(value) else round(value, 6)
                  for key, value in scores.items()}}
    print("result:", json.dumps(summary))
    return summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", help="folder holding cifar-10-batches-py/ or "
                        "cifar-100-python/ (or where --download puts them)")
    parser.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10")
    parser.add_argument("--imbalance-ratio", type=float, default=100.0,
                        help="largest over smallest training class (default: 100)")
    parser.add_argument("--loss", choices=("elm", "ldam", "ce"), default="elm")
    parser.add_argument("--no-drw", action="store_true",
                        help="no deferred re-weighting (plain CE, LDAM or ELM)")
    parser.add_argument("--max-m", type=float, default=0.5, help="largest margin (elm, ldam)")
    parser.add_argument("--s", type=float, default=30.0, help="logit scale (elm, ldam)")
    parser.add_argument("--lam", type=float, default=1.0, help="ELM's lambda")
    parser.add_argument("--epochs", type=int, default=PAPER_EPOCHS,
                        help="the schedule keeps the 200-epoch proportions (default: 200)")
    parser.add_argument("--device", default="auto", help="torch device (default: GPU if any)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="seed of the long-tailed subsampling (default: 0)")
    parser.add_argument("--download", action="store_true", help="fetch CIFAR (torchvision)")
    parser.add_argument("--verbose", type=int, default=1, help="1: one line per epoch")
    parser.add_argument("--smoke", action="store_true",
                        help="2 epochs on tiny fake CIFAR files written to a temporary folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.verbose, args.download = 2, 0, False
    elif args.data_root is None:
        parser.error("--data-root is required (or --smoke)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if not args.smoke:
        return run(args, args.data_root)
    with tempfile.TemporaryDirectory(prefix="fake_cifar_") as root:
        write_fake_cifar(root, args.dataset, n_train_per_class=20,
                         n_test_per_class=10 if args.dataset == "cifar10" else 2)
        return run(args, root)


if __name__ == "__main__":
    main()
