"""ELMClassifier: scikit-learn compliance, integration with pipelines, behaviour."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklearn_elm import ELMClassifier, ELMLoss
from sklearn_elm.classifier import EXPECTED_FAILED_CHECKS, LOSSES


@pytest.fixture(scope="module")
def imbalanced_table():
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=5, n_classes=3, weights=[0.75, 0.2, 0.05],
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def small(**params):
    return ELMClassifier(max_epochs=params.pop("max_epochs", 10), random_state=0, **params)


# --------------------------------------------------------------------------- compliance
@parametrize_with_checks(
    [ELMClassifier(loss="elm", max_epochs=20, random_state=0),
     ELMClassifier(loss="ldam", max_epochs=20, random_state=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_expected_failures_are_few_and_explained():
    assert len(EXPECTED_FAILED_CHECKS) <= 3
    assert all(len(reason) > 40 for reason in EXPECTED_FAILED_CHECKS.values())


# --------------------------------------------------------------------------- integration
def test_pipeline_with_scaler(imbalanced_table):
    X, y = imbalanced_table
    pipe = make_pipeline(StandardScaler(), small()).fit(X, y)
    assert balanced_accuracy_score(y, pipe.predict(X)) > 0.6


def test_grid_search_over_margins_in_parallel(imbalanced_table):
    X, y = imbalanced_table
    search = GridSearchCV(
        small(max_epochs=5),
        {"max_m": [0.2, 0.5], "lam": [0.0, 1.0], "s": [10.0, 30.0]},
        scoring="balanced_accuracy", cv=2, n_jobs=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.max_m in (0.2, 0.5)


def test_imblearn_pipeline_with_smote(imbalanced_table):
    X, y = imbalanced_table
    pipe = make_imb_pipeline(SMOTE(random_state=0), small(loss="ce")).fit(X, y)
    # SMOTE balanced the classes the network was trained on
    counts = pipe[-1].class_counts_
    assert counts.min() == counts.max() == np.bincount(y).max()


def test_cross_val_score(imbalanced_table):
    X, y = imbalanced_table
    scores = cross_val_score(small(max_epochs=5), X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_clone_keeps_routed_parameters():
    clf = ELMClassifier(max_m=0.3, module__dropout=0.25, optimizer__betas=(0.8, 0.9))
    cloned = clone(clf)
    assert cloned.get_params()["module__dropout"] == 0.25
    assert cloned.get_params()["optimizer__betas"] == (0.8, 0.9)
    assert cloned.max_m == 0.3
    assert not hasattr(cloned, "net_")


def test_routed_parameters_reach_skorch(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=1, optimizer="sgd", optimizer__momentum=0.5, module__dropout=0.3)
    clf.fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["momentum"] == 0.5
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in clf.module_.modules())
    clf.set_params(module__dropout=0.1).fit(X, y)
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.1 for m in clf.module_.modules())


def test_unknown_extra_parameter_is_refused(imbalanced_table):
    X, y = imbalanced_table
    with pytest.raises(TypeError, match="unexpected parameters.*'hidden_units'"):
        ELMClassifier(hidden_units=3).fit(X, y)


def test_pickle_round_trip(imbalanced_table):
    X, y = imbalanced_table
    clf = small().fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_string_labels_come_back(imbalanced_table):
    X, y = imbalanced_table
    labels = np.array(["rare", "common", "middle"], dtype=object)[y]
    clf = small().fit(X, labels)
    assert set(clf.predict(X)) <= {"rare", "common", "middle"}
    assert list(clf.classes_) == ["common", "middle", "rare"]
    assert clf.class_counts_.tolist() == [np.sum(labels == c) for c in clf.classes_]


@pytest.mark.parametrize("labels", [np.array([3, 10]), np.array([False, True])])
def test_non_contiguous_and_bool_labels(imbalanced_table, labels):
    X, y = imbalanced_table
    y2 = labels[(y > 0).astype(int)]
    clf = small(max_epochs=3).fit(X, y2)
    assert clf.predict(X).dtype == y2.dtype
    assert set(clf.predict(X)) <= set(labels)


def test_pandas_input_keeps_feature_names(imbalanced_table):
    X, y = imbalanced_table
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = small(max_epochs=2).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


def test_int_and_list_input(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=2).fit(np.round(X * 10).astype(int).tolist(), list(y))
    assert clf.predict(np.round(X * 10).astype(np.int64)).shape == (len(y),)


def test_html_repr_renders():
    html = ELMClassifier(max_m=0.3)._repr_html_()
    assert "ELMClassifier" in html and "max_m" in html


# --------------------------------------------------------------------------- behaviour
def test_fitted_attributes(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=3).fit(X, y)
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y))
    # margins follow n^-1/4 with the largest, max_m, on the rarest class
    expected = np.bincount(y) ** -0.25
    np.testing.assert_allclose(clf.margins_, 0.5 * expected / expected.max())
    assert clf.n_iter_ == 3 == len(clf.history_)
    assert isinstance(clf.net_.criterion_, ELMLoss)
    np.testing.assert_allclose(clf.net_.criterion_.class_counts.numpy(), np.bincount(y))


def test_class_counts_follow_every_fit(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=1).fit(X, y)
    keep = np.r_[np.flatnonzero(y == 0)[:50], np.flatnonzero(y != 0)]
    clf.fit(X[keep], y[keep])
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y[keep]))
    np.testing.assert_allclose(clf.net_.criterion_.class_counts.numpy(), np.bincount(y[keep]))


def test_classes_parameter_fixes_order_and_allows_absent_class(imbalanced_table):
    X, y = imbalanced_table
    with pytest.warns(UserWarning, match="no training samples"):
        clf = small(max_epochs=2, classes=[0, 1, 2, 3]).fit(X, y)
    assert clf.class_counts_.tolist() == [*np.bincount(y), 0]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 4) and np.isfinite(proba).all()


def test_probabilities_are_softmax_of_scaled_logits(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=3, s=5.0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    with torch.no_grad():
        z = clf.module_(torch.as_tensor(X, dtype=torch.float32)).double()
    np.testing.assert_allclose(proba, torch.softmax(5.0 * z, 1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(clf.decision_function(X), 5.0 * z.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X), rtol=1e-6, atol=1e-9)


def test_binary_decision_function_is_one_dimensional(imbalanced_table):
    X, y = imbalanced_table
    yb = (y > 0).astype(int)
    clf = small(max_epochs=3).fit(X, yb)
    decision = clf.decision_function(X)
    assert decision.shape == (len(yb),)
    np.testing.assert_array_equal((decision > 0).astype(int), clf.predict(X))


def test_random_state_makes_training_reproducible(imbalanced_table):
    X, y = imbalanced_table
    first = small(max_epochs=3, dropout=0.2).fit(X, y).predict_proba(X)
    second = small(max_epochs=3, dropout=0.2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = ELMClassifier(max_epochs=3, dropout=0.2, random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_fit_does_not_touch_global_torch_rng(imbalanced_table):
    X, y = imbalanced_table
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small(max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_learns(imbalanced_table, loss):
    X, y = imbalanced_table
    clf = small(loss=loss, max_epochs=15).fit(X, y)
    assert balanced_accuracy_score(y, clf.predict(X)) > 0.6


def test_lam_zero_elm_equals_ldam(imbalanced_table):
    X, y = imbalanced_table
    ldam = small(loss="ldam", max_epochs=3).fit(X, y).predict_proba(X)
    elm0 = small(loss="elm", lam=0.0, max_epochs=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(ldam, elm0)


class RecordWeight(Callback):
    def on_epoch_begin(self, net, **kwargs):
        weight = net.criterion_.weight
        self.weights = getattr(self, "weights", [])
        self.weights.append(None if weight is None else weight.clone())


@pytest.mark.parametrize(("drw_start", "first_weighted"), [(0.5, 5), (3, 3), ("auto", 8)])
def test_drw_switches_on_at_the_requested_epoch(imbalanced_table, drw_start, first_weighted):
    X, y = imbalanced_table
    recorder = RecordWeight()
    clf = small(max_epochs=10, drw_start=drw_start, callbacks=[recorder]).fit(X, y)
    # the estimator trains on a copy of the callbacks it was given
    (fitted_recorder,) = [cb for _, cb in clf.net_.callbacks_ if isinstance(cb, RecordWeight)]
    assert not hasattr(recorder, "weights")
    weights = fitted_recorder.weights
    assert all(w is None for w in weights[:first_weighted])
    assert all(w is not None for w in weights[first_weighted:])
    # rarest class gets the largest class-balanced weight
    assert int(torch.argmax(weights[-1])) == int(np.argmin(np.bincount(y)))


def test_drw_is_off_for_plain_losses_and_can_be_disabled(imbalanced_table):
    X, y = imbalanced_table
    for clf in (small(loss="ce", max_epochs=2), small(drw_start=None, max_epochs=2)):
        clf.fit(X, y)
        assert "deferred_reweighting" not in dict(clf.net_.callbacks_)


def test_sample_weight_enters_the_loss(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=1).fit(X, y)
    net = clf.net_
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    weight = torch.tensor([1.0, 2.0, 0.0, 0.5, 1.0, 3.0])
    per_sample = ELMLoss(clf.class_counts_, lam=clf.lam, reduction="none")(logits, target)
    expected = (per_sample * weight).sum() / weight.sum()
    net.criterion_.weight = None
    torch.testing.assert_close(net.weighted_loss(logits, target, weight), expected)
    # integer sample weights act like repeated samples in the loss
    repeated = torch.repeat_interleave(torch.arange(6), torch.tensor([1, 2, 0, 0, 1, 3]))
    torch.testing.assert_close(
        net.weighted_loss(logits, target, torch.tensor([1.0, 2, 0, 0, 1, 3])),
        net.weighted_loss(logits[repeated], target[repeated]),
    )


def test_zero_sample_weight_equals_dropping_samples_in_full_batch(imbalanced_table):
    X, y = imbalanced_table
    weight = np.ones(len(y))
    weight[::3] = 0
    kept = weight > 0
    params = dict(max_epochs=3, batch_size=1000, optimizer="sgd")
    weighted = small(**params).fit(X, y, sample_weight=weight).predict_proba(X)
    # same classes and counts needed for identical margins: drop only on the loss side
    dropped = small(**params, classes=[0, 1, 2])
    dropped.fit(X, y, sample_weight=kept.astype(float))
    np.testing.assert_allclose(weighted, dropped.predict_proba(X))


def test_early_stopping_holds_out_validation(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=200, early_stopping=True, n_iter_no_change=3).fit(X, y)
    assert "valid_loss" in clf.history_[-1]
    assert clf.n_iter_ < 200


def test_no_validation_split_by_default(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=2).fit(X, y)
    assert "valid_loss" not in clf.history_[-1]
    # every sample is seen once per epoch
    assert sum(clf.history_[-1, "batches", :, "train_batch_size"]) == len(y)


def test_warm_start_continues_training(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=2, warm_start=True).fit(X, y)
    fitted = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    probe = []

    class RecordStartWeights(Callback):
        def on_train_begin(self, net, **kwargs):
            probe.append({k: v.clone() for k, v in net.module_.state_dict().items()})

    clf.set_params(callbacks=[RecordStartWeights()]).fit(X, y)
    # the second fit starts from the fitted weights, not from fresh ones
    assert all(torch.equal(probe[0][k], fitted[k]) for k in fitted)
    assert clf.n_iter_ == 4


def test_linear_head_and_custom_module(imbalanced_table):
    X, y = imbalanced_table
    clf = small(head="linear", s=1.0, loss="ce", max_epochs=3).fit(X, y)
    assert isinstance(clf.module_.head, torch.nn.Linear)

    class Tiny(torch.nn.Module):
        def __init__(self, n_features, n_classes, width=4):
            super().__init__()
            self.layer = torch.nn.Linear(n_features, n_classes)
            self.width = width

        def forward(self, x):
            return torch.tanh(self.layer(x))

    clf = small(module=Tiny, module__width=7, max_epochs=2).fit(X, y)
    assert isinstance(clf.module_, Tiny) and clf.module_.width == 7


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        ELMClassifier().predict(np.zeros((2, 3)))


def test_failed_fit_leaves_estimator_unfitted(imbalanced_table):
    X, y = imbalanced_table

    class Boom(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise RuntimeError("boom")

    clf = small(max_epochs=1).fit(X, y)
    clf.set_params(max_epochs=5, callbacks=[Boom()])
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"loss": "hinge"}, "'loss' parameter"),
        ({"max_m": -0.1}, "'max_m' parameter"),
        ({"s": 0.0}, "'s' parameter"),
        ({"beta": 1.0}, "'beta' parameter"),
        ({"drw_start": 1.5}, "'drw_start' parameter"),
        ({"lr": -1.0}, "'lr' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
    ],
)
def test_invalid_hyper_parameters(imbalanced_table, params, message):
    X, y = imbalanced_table
    with pytest.raises(ValueError, match=message):
        ELMClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (np.array([[np.nan, 1.0], [0.0, 1.0]]), [0, 1], ValueError, "NaN"),
        (np.array([[np.inf, 1.0], [0.0, 1.0]]), [0, 1], ValueError, "infinity"),
        (np.ones((4, 2)), [1, 1, 1, 1], ValueError, "at least 2 classes"),
        (np.ones((4, 2)), [0.1, 0.5, 0.7, 0.2], ValueError, "Unknown label type"),
        (np.empty((0, 2)), [], ValueError, "0 sample"),
        (np.ones((4, 2)), [0, 1, 0], ValueError, "inconsistent numbers of samples"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), [0, 1], ValueError, "could not"),
    ],
)
def test_bad_input_is_refused_before_training(X, y, error, message):
    with pytest.raises(error, match=message):
        ELMClassifier(max_epochs=1).fit(X, y)


def test_wrong_number_of_features_at_predict(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but ELMClassifier is expecting 8"):
        clf.predict(X[:, :3])


def test_predict_proba_is_batched(imbalanced_table, monkeypatch):
    X, y = imbalanced_table
    clf = small(max_epochs=1).fit(X, y)
    monkeypatch.setattr("sklearn_elm.classifier._PREDICT_BATCH_ROWS", 64)
    calls = []
    clf.module_.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    proba = clf.predict_proba(X)
    assert max(calls) == 64 and sum(calls) == len(X)
    assert proba.shape == (len(X), 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_matches_labels_on_cpu(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=3, device="cuda").fit(X, y)
    assert clf.device_ == "cuda"
    assert next(clf.module_.parameters()).is_cuda
    assert clf.predict_proba(X).shape == (len(y), 3)


def test_auto_device_picks_cpu_without_cuda(imbalanced_table):
    X, y = imbalanced_table
    clf = small(max_epochs=1).fit(X, y)
    assert clf.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
