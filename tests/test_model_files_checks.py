"""Model files are checked before anything is built from them: weight shapes before the network
is allocated, paths and callback settings never taken from a file, truncation named as such."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from torch.utils._python_dispatch import TorchDispatchMode

from sklearn_elm import ELMClassifier
from sklearn_elm.persistence import load_model, save_model


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.arange(40) % 2
    return ELMClassifier(hidden_layer_sizes=(2,), max_epochs=1, random_state=0).fit(X, y), X


def rewrite_metadata(path, change):
    """Apply ``change`` to the metadata of the model file at ``path``, keep its tensors."""
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        tensors = archive.read("tensors.safetensors")
    change(metadata)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("tensors.safetensors", tensors)


class LargestTensor(TorchDispatchMode):
    """Records the size in bytes of the largest tensor an operation makes off the meta device."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for tensor in result if isinstance(result, (tuple, list)) else [result]:
            if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
                self.largest = max(self.largest, tensor.numel() * tensor.element_size())
        return result


def test_weight_shapes_are_checked_before_the_network_is_built(small_model, tmp_path):
    clf, _ = small_model
    path = tmp_path / "model.zip"
    save_model(clf, path)
    # a few hundred bytes of JSON declaring a 7000 x 7500 hidden layer (200 MB of float32)
    rewrite_metadata(
        path, lambda m: m["params"].update(hidden_layer_sizes={"__tuple__": [7000, 7500]})
    )
    assert path.stat().st_size < 4000
    tracker = LargestTensor()
    with tracker, pytest.raises(ValueError, match=r"tensor 'features\.0\.\w+' has shape"):
        load_model(path)
    assert tracker.largest < 2**20


def test_a_missing_or_extra_stored_tensor_is_named(small_model, tmp_path):
    clf, _ = small_model
    path = tmp_path / "model.zip"
    save_model(clf, path)
    rewrite_metadata(path, lambda m: m["state"]["module"].update(extra={"__tensor__": "t0"}))
    with pytest.raises(ValueError, match="tensor 'extra' is stored but is not part"):
        load_model(path)
    save_model(clf, path)
    rewrite_metadata(path, lambda m: m["state"]["module"].pop("features.0.bias"))
    with pytest.raises(ValueError, match="tensor 'features.0.bias' is missing"):
        load_model(path)


@pytest.mark.parametrize(
    "name, value",
    [
        ("checkpoint_dir", "elsewhere"),
        ("callbacks__print_log__sink", "print"),
        ("callbacks", ["x"]),
    ],
)
def test_paths_and_callback_settings_from_a_file_are_dropped(small_model, tmp_path, name, value):
    clf, X = small_model
    path = tmp_path / "model.zip"
    save_model(clf, path)
    rewrite_metadata(path, lambda m: m["params"].update({name: value}))
    with pytest.warns(UserWarning, match=f"sets {name}=.*were left out"):
        loaded = load_model(path)
    params = loaded.get_params()
    assert params["checkpoint_dir"] is None and params["callbacks"] is None
    assert not any(key.startswith("callbacks__") for key in params)
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_model_trained_with_checkpoints_loads_without_its_directory(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 2)), np.arange(30) % 2
    clf = ELMClassifier(max_epochs=1, checkpoint_dir=tmp_path / "run", random_state=0).fit(X, y)
    save_model(clf, tmp_path / "model.zip")
    with pytest.warns(UserWarning, match="checkpoint_dir="):
        loaded = load_model(tmp_path / "model.zip")
    assert loaded.checkpoint_dir is None


def test_truncated_and_empty_files_are_named_as_such(small_model, tmp_path):
    clf, _ = small_model
    path = tmp_path / "model.zip"
    save_model(clf, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 4):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="the file ends early.*truncated or still being"):
            load_model(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="it is empty.*truncated or still being written"):
        load_model(path)
    path.write_bytes(b"plain text, not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        load_model(path)


def test_feature_names_come_back_and_are_enforced(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    y = np.arange(30) % 2
    clf = ELMClassifier(max_epochs=1, random_state=0).fit(frame, y)
    save_model(clf, tmp_path / "model.zip")
    loaded = load_model(tmp_path / "model.zip")
    assert loaded.feature_names_in_.tolist() == ["a", "b", "c"]
    assert_array_equal(loaded.predict(frame), clf.predict(frame))
    with pytest.raises(ValueError, match="must be in the same order"):
        loaded.predict(frame[["c", "a", "b"]])


@pytest.mark.parametrize(
    "tamper, shown",
    [
        (lambda m: m["fitted"]["margins_"].update(shape=[1], __ndarray__=[0.5]), "margins_"),
        (
            lambda m: m["fitted"].update(
                feature_names_in_={"__ndarray__": ["a"], "dtype": "|O", "shape": [1]}
            ),
            "feature_names_in_",
        ),
    ],
    ids=["margins", "feature-names"],
)
def test_fitted_attributes_must_agree(small_model, tmp_path, tamper, shown):
    clf, _ = small_model
    path = tmp_path / "model.zip"
    save_model(clf, path)
    rewrite_metadata(path, tamper)
    with pytest.raises(ValueError, match=shown):
        load_model(path)
