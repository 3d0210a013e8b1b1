"""``ELMClassifierCV`` on the papers' image networks and on a regularised MLP: every candidate
trained by the batched engine, scores as ``GridSearchCV(ELMClassifier(...))`` gets them."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_elm import ELMClassifier, ELMClassifierCV
from sklearn_elm.datasets import make_long_tailed

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _long_tailed_digits():
    X, y = load_digits(return_X_y=True)
    X, y = make_long_tailed((X / 16.0).astype(np.float32), y, imbalance_ratio=10,
                            random_state=0)
    return X, y


def _small_images():
    # three-class 3 x 32 x 32 images, class k brighter in channel k: a task both paths learn
    # fully. On harder ones ResNet-32's batch statistics over 12 images amplify the float32
    # rounding of stacked and single convolutions within a few epochs, and 24 test images
    # turn that into score differences; tests/test_batched.py compares the networks themselves
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [24, 16, 8])
    X = rng.normal(size=(y.size, 3, 32, 32)).astype(np.float32)
    X[np.arange(y.size), y] += 1.0
    return X, y


def _table():
    return make_classification(n_samples=3000, n_features=8, n_informative=5, n_classes=3,
                               weights=[0.7, 0.2, 0.1], random_state=0)


CASES = {
    "cnn": (_long_tailed_digits,
            dict(module="cnn", input_shape=(1, 8, 8), max_epochs=4, batch_size=64),
            {"lam": [0.0, 1.0], "max_m": [0.3, 0.5]}, 0.01),
    "resnet32": (_small_images,  # (N, 3, 32, 32) arrays
                 dict(module="resnet32", max_epochs=12, batch_size=12, lr=1e-3, lam=0.0),
                 {"max_m": [0.3, 0.5]}, 0.01),
    # dropout masks are drawn per network: the scores agree in distribution, not exactly
    "mlp-dropout-early-stopping": (_table,
                                   dict(dropout=0.2, early_stopping=True, n_iter_no_change=3,
                                        max_epochs=20, batch_size=64),
                                   {"lam": [0.0, 0.5, 1.0], "drw_start": [None, 0.5]}, 0.01),
}


@pytest.mark.parametrize("case", list(CASES))
def test_search_batches_every_candidate_and_scores_as_grid_search(case):
    make_data, params, grid, tolerance = CASES[case]
    X, y = make_data()
    params = dict(params, device="cpu", random_state=0)
    cv = StratifiedKFold(2 if case == "resnet32" else 3, shuffle=True, random_state=0)
    search = ELMClassifierCV(**params, param_grid=grid, cv=cv).fit(X, y)
    reference = GridSearchCV(ELMClassifier(**params), grid, cv=cv,
                             scoring="balanced_accuracy").fit(X, y)
    assert search.cv_results_["batched"].all(), search.cv_results_["batched_reason"]
    gap = np.abs(search.cv_results_["mean_test_score"]
                 - reference.cv_results_["mean_test_score"])
    assert gap.mean() <= tolerance, gap
