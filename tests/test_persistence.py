"""Safe model files: exact round trips, and refusal of anything that would need unpickling."""

import json
import os
import pickle
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback
from torch import nn

from sklearn_elm import MLP, ELMClassifier, WarmupMultiStepLR
from sklearn_elm._archive import Encoder, decode
from sklearn_elm.persistence import TrainingCheckpoint, load_model, save_model


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(
        n_samples=160,
        n_features=6,
        n_informative=4,
        n_classes=3,
        weights=[0.7, 0.2, 0.1],
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="module")
def fitted(table):
    X, y = table
    # drw_start=1 switches the DRW weight on, so the criterion state holds a weight tensor
    return ELMClassifier(max_epochs=3, drw_start=1, dropout=0.1, random_state=0).fit(X, y)


class MarkerPayload:
    """Unpickling this runs ``os.mkdir(marker)``: the proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def assert_round_trip(clf, X, tmp_path):
    path = tmp_path / "model.zip"
    save_model(clf, path)
    loaded = load_model(path)
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert_array_equal(loaded.decision_function(X), clf.decision_function(X))
    return loaded


# --------------------------------------------------------------------------- round trips
def test_tabular_round_trip_is_exact(fitted, table, tmp_path):
    X, _ = table
    loaded = assert_round_trip(fitted, X, tmp_path)
    for name in ("classes_", "class_counts_", "margins_"):
        assert_array_equal(getattr(loaded, name), getattr(fitted, name))
        assert getattr(loaded, name).dtype == getattr(fitted, name).dtype
    assert loaded.n_features_in_ == fitted.n_features_in_ == 6
    assert loaded.input_shape_ == fitted.input_shape_ == (6,)
    assert loaded.n_iter_ == fitted.n_iter_ == 3
    assert loaded.get_params() == fitted.get_params()
    assert loaded.history_[:, "train_loss"] == pytest.approx(fitted.history_[:, "train_loss"])
    # the DRW start epoch is known again (the training-history plot marks it)
    assert dict(loaded.net_.callbacks_)["deferred_reweighting"].start_epoch_ == 1
    # the criterion (margins and the switched-on DRW weight) comes back too
    for key, value in fitted.net_.criterion_.state_dict().items():
        assert torch.equal(loaded.net_.criterion_.state_dict()[key], value)


def test_image_round_trip_is_exact(tmp_path):
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    clf = ELMClassifier(
        module="cnn", input_shape=(1, 8, 8), max_epochs=2, batch_size=64, random_state=0
    ).fit(X, y)
    loaded = assert_round_trip(clf, X, tmp_path)
    assert loaded._image_shape_ == (1, 8, 8)
    assert loaded.input_shape == (1, 8, 8)  # a tuple again, not a JSON list
    assert type(loaded.module_) is type(clf.module_)


def test_nd_image_input_round_trip(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.rand(60, 6, 6)
    y = np.r_[np.zeros(40, int), np.ones(20, int)]
    clf = ELMClassifier(max_epochs=1, batch_size=32, random_state=0).fit(X, y)
    loaded = assert_round_trip(clf, X, tmp_path)
    assert loaded.input_ndim_ == 3 and loaded._image_shape_ == (1, 6, 6)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "emu"]),
        np.array([3, 7, 11]),
        np.array([1.0, 2.0, 4.0]),
        np.array(["a", "bb", "ccc"], dtype=object),
        np.array([-1, 0, 1], dtype=np.int32),
    ],
    ids=["str", "int", "float", "object-str", "int32"],
)
def test_class_labels_keep_values_and_dtype(table, tmp_path, labels):
    X, y = table
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(X, labels[y])
    loaded = assert_round_trip(clf, X, tmp_path)
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert_array_equal(loaded.classes_, clf.classes_)
    assert [type(c) for c in loaded.classes_] == [type(c) for c in clf.classes_]


def test_bool_labels(table, tmp_path):
    X, y = table
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(X, y == 0)
    loaded = assert_round_trip(clf, X, tmp_path)
    assert loaded.classes_.dtype == bool


def test_feature_names_survive(table, tmp_path):
    X, y = table
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(frame, y)
    loaded = assert_round_trip(clf, frame, tmp_path)
    assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"f0": "other"}))


def test_parameters_round_trip(table, tmp_path):
    X, y = table
    clf = ELMClassifier(
        loss="ldam",
        module=MLP,
        optimizer=torch.optim.SGD,
        hidden_layer_sizes=(8, 4),
        lr_schedule=WarmupMultiStepLR(warmup_epochs=1, milestones=(1,), gamma=0.5),
        classes=[0, 1, 2, 3],
        checkpoint_dir=None,
        device=torch.device("cpu"),
        max_epochs=2,
        random_state=0,
        module__dropout=0.0,
        optimizer__nesterov=True,
    )
    with pytest.warns(UserWarning, match="no training samples"):
        clf.fit(X, y)
    loaded = assert_round_trip(clf, X, tmp_path)
    params = loaded.get_params()
    # the built-in classes are stored as the aliases that name them
    assert params["module"] == "mlp" and params["optimizer"] == "sgd"
    assert params["hidden_layer_sizes"] == (8, 4)
    assert params["classes"] == [0, 1, 2, 3] and params["device"] == "cpu"
    assert params["module__dropout"] == 0.0 and params["optimizer__nesterov"] is True
    schedule = params["lr_schedule"]
    assert isinstance(schedule, WarmupMultiStepLR)
    assert (schedule.warmup_epochs, schedule.milestones, schedule.gamma) == (1, (1,), 0.5)


def test_estimator_methods_delegate(fitted, table, tmp_path):
    if not hasattr(ELMClassifier, "save") or not hasattr(ELMClassifier, "load"):
        pytest.skip("ELMClassifier.save/load not added yet")
    X, _ = table
    path = tmp_path / "model.elm"
    assert fitted.save(path) is fitted
    assert_array_equal(ELMClassifier.load(path).predict_proba(X), fitted.predict_proba(X))


def test_loaded_model_can_keep_training(fitted, table, tmp_path):
    X, y = table
    save_model(fitted, tmp_path / "model.zip")
    loaded = load_model(tmp_path / "model.zip")
    loaded.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert loaded.n_iter_ == 5  # 3 saved epochs + 2 more on the restored weights


def test_load_onto_another_device_and_leave_global_rng_alone(fitted, table, tmp_path):
    X, _ = table
    save_model(fitted, tmp_path / "model.zip")
    before = torch.get_rng_state()
    loaded = load_model(tmp_path / "model.zip", device="cpu")
    assert torch.equal(torch.get_rng_state(), before)
    assert loaded.device == "cpu" and loaded.device_ == "cpu"
    assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_save_is_atomic_and_overwrites(fitted, table, tmp_path):
    X, y = table
    path = tmp_path / "model.zip"
    save_model(fitted, path)
    other = ELMClassifier(max_epochs=1, random_state=1).fit(X, y)
    save_model(other, path)
    assert os.listdir(tmp_path) == ["model.zip"]  # no temporary file left behind
    assert_array_equal(load_model(path).predict_proba(X), other.predict_proba(X))
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "tensors.safetensors"]
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["format"] == "sklearn-elm-model"
    assert {"sklearn_elm", "torch", "scikit-learn"} <= set(metadata["versions"])


# --------------------------------------------------------------------------- refused saves
def test_unfitted_estimator_is_not_saved(tmp_path):
    with pytest.raises(NotFittedError):
        save_model(ELMClassifier(), tmp_path / "model.zip")
    assert not os.listdir(tmp_path)


class TinyModule(nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.linear(X)


class NoOp(Callback):
    pass


@pytest.mark.parametrize(
    "params, shown",
    [
        ({"module": TinyModule}, "module="),
        ({"module": TinyModule(6, 3)}, "module="),
        ({"optimizer": torch.optim.RMSprop}, "optimizer="),
        ({"callbacks": [NoOp()]}, "callbacks="),
        ({"random_state": np.random.RandomState(0)}, "random_state="),
        ({"module__activation": nn.ReLU}, "module__activation"),
    ],
    ids=[
        "module-class",
        "module-instance",
        "optimizer",
        "callbacks",
        "RandomState",
        "routed-object",
    ],
)
def test_non_json_parameters_are_refused(table, tmp_path, params, shown):
    X, y = table
    # set_params keeps the fitted state: only the parameters are at fault
    clf = ELMClassifier(max_epochs=1).fit(X, y).set_params(**params)
    with pytest.raises(ValueError, match=shown) as info:
        save_model(clf, tmp_path / "model.zip")
    assert "Cannot save" in str(info.value)
    assert not os.listdir(tmp_path)


def test_save_model_wants_an_elm_classifier(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="ELMClassifier"):
        save_model(LogisticRegression(), tmp_path / "model.zip")


# --------------------------------------------------------------------------- refused loads
def write_pickle_payload(path, marker, how):
    payload = MarkerPayload(marker)
    if how == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(payload, handle)
    elif how == "joblib":
        joblib.dump(payload, path)
    else:
        torch.save(payload, path)


def test_the_payload_is_live(tmp_path):
    # control: unpickling the payload does create the marker, so the tests below can see it
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(MarkerPayload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("how", ["pickle", "joblib", "torch.save"])
def test_pickle_files_are_refused_without_running_them(tmp_path, how):
    marker = tmp_path / "marker"
    path = tmp_path / "model.bin"
    write_pickle_payload(path, marker, how)
    with pytest.raises(ValueError, match="not a sklearn-elm model file") as info:
        load_model(path)
    assert "arbitrary code" in str(info.value)
    assert not marker.exists()


def replace_member(path, member, data):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
@pytest.mark.parametrize(
    "member, shown",
    [("tensors.safetensors", "not a valid safetensors"), ("metadata.json", "not valid JSON")],
)
def test_payload_inside_a_model_file_is_refused(fitted, tmp_path, how, member, shown):
    marker = tmp_path / "marker"
    payload_path = tmp_path / "payload.bin"
    write_pickle_payload(payload_path, marker, how)
    path = tmp_path / "model.zip"
    save_model(fitted, path)
    replace_member(path, member, payload_path.read_bytes())
    with pytest.raises(ValueError, match=shown):
        load_model(path)
    assert not marker.exists()


def test_payload_in_place_of_a_checkpoint_is_refused(table, tmp_path):
    X, y = table
    marker = tmp_path / "marker"
    checkpoint_dir = tmp_path / "ckpt"
    checkpoint_dir.mkdir()
    write_pickle_payload(checkpoint_dir / "checkpoint.zip", marker, "torch.save")
    clf = ELMClassifier(
        max_epochs=2, callbacks=[("checkpoint", TrainingCheckpoint(checkpoint_dir))]
    )
    with pytest.raises(ValueError, match="not a sklearn-elm checkpoint file"):
        clf.fit(X, y)
    assert not marker.exists()
    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.parametrize(
    "tamper, shown",
    [
        (lambda m: m.update(format="something-else"), "format 'something-else'"),
        (lambda m: m.update(format_version=99), "upgrade sklearn-elm"),
        (lambda m: m["params"].update(net_="x"), "unknown parameter 'net_'"),
        (lambda m: m["params"].update(loss="not-a-loss"), "'loss' parameter"),
        (lambda m: m["params"].update(module="os.system"), "'module' parameter"),
        (lambda m: m["fitted"].update(evil_="x"), "unknown fitted attributes"),
        (lambda m: m["fitted"].pop("classes_"), "lacks the fitted attributes"),
        (lambda m: m["fitted"].update(n_features_in_=7), "inconsistent"),
        (
            lambda m: m["fitted"].update(n_features_in_=7, input_shape_={"__tuple__": [7]}),
            "do not fit the network",
        ),
        (lambda m: m["fitted"]["classes_"].update(dtype="V8"), "dtype"),
        (lambda m: m.pop("state"), "damaged model file"),
    ],
    ids=[
        "format",
        "version",
        "attribute-injection",
        "bad-loss",
        "module-string",
        "fitted-extra",
        "fitted-missing",
        "inconsistent",
        "shape-mismatch",
        "void-dtype",
        "missing-state",
    ],
)
def test_tampered_metadata_is_refused(fitted, tmp_path, tamper, shown):
    path = tmp_path / "model.zip"
    save_model(fitted, path)
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    tamper(metadata)
    replace_member(path, "metadata.json", json.dumps(metadata).encode())
    with pytest.raises(ValueError, match=shown):
        load_model(path)


def test_extra_or_compressed_members_are_refused(fitted, tmp_path):
    path = tmp_path / "model.zip"
    save_model(fitted, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("data.pkl", b"x")
    with pytest.raises(ValueError, match="instead of"):
        load_model(path)
    save_model(fitted, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match="compressed members"):
        load_model(path)


def test_missing_and_truncated_files(fitted, tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.zip")
    path = tmp_path / "model.zip"
    save_model(fitted, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        load_model(path)


# --------------------------------------------------------------------------- the encoding
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False),
    st.text(max_size=5),
)
nested = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.integers(-5, 5), st.text(max_size=4)), children, max_size=3),
    ),
    max_leaves=10,
)


@settings(max_examples=25, deadline=None)
@given(nested)
def test_encoding_round_trips_nested_data(value):
    encoder = Encoder()
    text = json.dumps(encoder.encode(value))
    assert decode(json.loads(text), encoder.tensors) == value


def test_encoding_carries_tensors_and_arrays():
    encoder = Encoder()
    value = {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2, 3)}},
        "array": np.array([[1, 2], [3, 4]], dtype=np.int16),
        "objects": np.array(["a", 1], dtype=object),
    }
    decoded = decode(json.loads(json.dumps(encoder.encode(value))), encoder.tensors)
    assert torch.equal(decoded["state"][0]["exp_avg"], torch.ones(2, 3))
    assert decoded["array"].dtype == np.int16 and decoded["array"].shape == (2, 2)
    assert decoded["objects"].tolist() == ["a", 1]
    with pytest.raises(TypeError, match="cannot be stored"):
        Encoder().encode({"fn": print})


def test_docs_warn_that_pickles_are_for_trusted_files_only():
    page = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "persistence.md")
    with open(page, encoding="utf-8") as handle:
        text = handle.read()
    assert "trust" in text and "save_model" in text and "checkpoint_dir" in text


def test_other_package_version_warns(fitted, table, tmp_path):
    X, _ = table
    path = tmp_path / "model.zip"
    save_model(fitted, path)
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    metadata["versions"]["sklearn_elm"] = "0.0.1"
    replace_member(path, "metadata.json", json.dumps(metadata).encode())
    with pytest.warns(UserWarning, match="saved with sklearn-elm 0.0.1"):
        loaded = load_model(path)
    assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
