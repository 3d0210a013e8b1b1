"""``run_benchmark(tune=True)``: tuned sampler cells trained by the batched trainer.

Each tuned sampler cell is a ``GridSearchCV`` over its sampler's neighbours; batched, its
candidates' networks on the inner folds train in one call and the refits in another. The
results must be those of the ``GridSearchCV`` fitted cell by cell (``batched=False``).
"""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import ParameterGrid

from sklearn_elm import _batched
from sklearn_elm.benchmark import BenchmarkDataset, _runner, make_method, run_benchmark

NETWORK = {"hidden_layer_sizes": (8,), "lr": 0.01, "batch_size": 16, "max_epochs": 2}
KEYS = ["dataset", "method", "tuned", "repeat", "fold"]
SCORES = ["balanced_accuracy", "macro_f1", "g_mean", "many_shot_accuracy", "few_shot_accuracy"]


def _datasets():
    rng = np.random.RandomState(0)
    # 24 minority samples: 12 per training part, 8 per inner training fold, enough for
    # every neighbour count of the grids
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(1.5, 1, (24, 3))])
    X[0, 1] = np.nan  # the imputation is fitted per inner training fold
    y = np.array(["neg"] * 60 + ["pos"] * 24)
    Xm = np.vstack([rng.normal(k, 1, (30, 3)) for k in range(3)])
    ym = np.repeat(["a", "b", "c"], 30)
    return [
        BenchmarkDataset.from_arrays("binary", X, y),
        BenchmarkDataset.from_arrays("tiny-lt", Xm, ym, lt_ratio=5.0),
    ]


def _run(out, batched, methods=("smote", "adasyn")):
    results = run_benchmark(
        _datasets(),
        list(methods),
        out,
        n_splits=2,
        n_repeats=1,
        network_params=NETWORK,
        tune=True,
        progress=False,
        log=lambda message: None,
        batched=batched,
    )
    return results.sort_values(KEYS).reset_index(drop=True)


def _assert_same_cells(single, batched):
    pd.testing.assert_frame_equal(single[KEYS], batched[KEYS])
    assert batched["best_params"].tolist() == single["best_params"].tolist()
    # the batched member is the single fit with the same seed, up to float32 rounding
    np.testing.assert_allclose(
        batched[SCORES].to_numpy(float), single[SCORES].to_numpy(float), atol=1e-6
    )
    # ROC AUC ranks probabilities: near-equal ones of a 3-class network after 2 epochs may
    # swap under float32 rounding, so it agrees to a few pairs of test samples only
    np.testing.assert_allclose(batched["roc_auc"], single["roc_auc"], atol=1e-2)
    # the same failures: an error, or GridSearchCV's warning about a failed inner fit
    assert [e[:60] for e in batched["error"]] == [e[:60] for e in single["error"]]
    failed = ("FitFailedWarning", "fits failed")
    for word in failed:
        assert batched["note"].str.contains(word).tolist() == single["note"].str.contains(
            word
        ).tolist()


class _FitCalls:
    """Records each ``fit_members`` call: the number of training rows of each member."""

    def __init__(self, monkeypatch):
        self.calls = []
        fit_members = _batched.fit_members

        def spy(X, y, members, *args, **kwargs):
            self.calls.append([len(rows) for _, rows in members])
            return fit_members(X, y, members, *args, **kwargs)

        monkeypatch.setattr(_batched, "fit_members", spy)


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory):
    single = _run(tmp_path_factory.mktemp("single"), False)
    batched = _run(tmp_path_factory.mktemp("batched"), True)
    return single, batched


def test_tuned_sampler_cells_equal_the_grid_search(both_runs):
    single, batched = both_runs
    assert len(batched) == 2 * 2 * 2 * 2  # datasets x methods x (tuned, untuned) x splits
    tuned = batched["tuned"]
    assert batched.loc[tuned, "note"].str.startswith("batched").all()
    assert (batched.loc[tuned, "best_params"] != "").all()
    for _, cell in batched[tuned].iterrows():
        search, _ = _search_and_default(cell)
        assert json.loads(cell["best_params"]) in list(ParameterGrid(search.param_grid))
    _assert_same_cells(single, batched)


def _search_and_default(cell):
    """A tuned cell's grid search, and whether its choice is its split's untuned network."""
    data = next(d for d in _datasets() if d.name == cell["dataset"])
    splits = _runner.make_splits(data, 2, 1, 0)
    train = next(t for r, f, t, _ in splits if (r, f) == (cell["repeat"], cell["fold"]))
    counts = np.bincount(data.y[train], minlength=data.class_names.size)
    search = make_method(cell["method"], counts, tune=True)
    chosen = search.estimator.set_params(**json.loads(cell["best_params"]))
    untuned = make_method(cell["method"], counts)
    same = repr(chosen.named_steps["sample"]) == repr(untuned.named_steps["sample"])
    return search, same


def test_inner_networks_then_refits_in_two_batched_calls(tmp_path, monkeypatch):
    fits = _FitCalls(monkeypatch)
    results = _run(tmp_path, True, methods=["smote"])
    assert len(fits.calls) == 4  # per dataset: the inner networks, then untuned and refits
    for k, dataset in enumerate(("binary", "tiny-lt")):
        inner, final = fits.calls[2 * k], fits.calls[2 * k + 1]
        cells = results[results["dataset"] == dataset]
        n_inner, n_shared = 0, 0
        for _, cell in cells[cells["tuned"]].iterrows():
            search, same = _search_and_default(cell)
            n_inner += len(ParameterGrid(search.param_grid)) * search.cv.get_n_splits()
            n_shared += same
        assert len(inner) == n_inner
        # a refit equal to its split's untuned network is trained once, for both cells
        assert len(final) == len(cells) - n_shared


class _Picky:
    """A sampler that refuses k_neighbors=3 (any k when ``always``) on some training parts."""

    always = False

    def _fit_resample(self, X, y):
        if _Picky.always or (self.k_neighbors == 3 and X[0, 0] > 0):
            raise ValueError("this training part is refused")
        return super()._fit_resample(X, y)


_PICKY_CLASSES = {}


def _picky(sampler):
    """``sampler`` made picky: the same class and parameters, behind :class:`_Picky`."""
    cls = type(sampler)
    if cls not in _PICKY_CLASSES:
        _PICKY_CLASSES[cls] = type(f"Picky{cls.__name__}", (_Picky, cls), {})
    return _PICKY_CLASSES[cls](**sampler.get_params())


@pytest.fixture
def picky_smote(monkeypatch):
    """Tuned smote cells search with a picky sampler (:class:`_Picky`), in both paths."""
    make = _runner.make_method

    def build(method, counts, **kwargs):
        model = make(method, counts, **kwargs)
        if kwargs.get("tune") and hasattr(model, "param_grid"):
            steps = model.estimator.steps
            steps[2] = ("sample", _picky(steps[2][1]))
        return model

    monkeypatch.setattr(_runner, "make_method", build)
    monkeypatch.setattr(_Picky, "always", False)


def test_a_failed_inner_fit_scores_nan_as_in_the_grid_search(picky_smote, tmp_path):
    single = _run(tmp_path / "single", False, methods=["smote"])
    batched = _run(tmp_path / "batched", True, methods=["smote"])
    tuned = batched["tuned"]
    # some inner fits failed, and a candidate with a NaN mean was not chosen
    assert batched.loc[tuned, "note"].str.contains("FitFailedWarning").any()
    assert (batched["error"] == "").all()
    _assert_same_cells(single, batched)


def test_every_inner_fit_failed_is_a_failed_cell(picky_smote, tmp_path, monkeypatch):
    monkeypatch.setattr(_Picky, "always", True)
    single = _run(tmp_path / "single", False, methods=["smote"])
    batched = _run(tmp_path / "batched", True, methods=["smote"])
    tuned = batched["tuned"]
    assert batched.loc[tuned, "error"].str.startswith("ValueError: All the").all()
    assert batched.loc[tuned, "balanced_accuracy"].isna().all()
    assert (batched.loc[~tuned, "error"] == "").all()
    _assert_same_cells(single, batched)


def test_a_batched_tuned_run_resumes_only_the_missing_cells(both_runs, tmp_path, monkeypatch):
    _, expected = both_runs
    _run(tmp_path, True)
    results = pd.read_csv(tmp_path / "results.csv")
    # the tuned smote cell of each dataset's second split is missing
    missing = (results["method"] == "smote") & results["tuned"] & (
        (results["fold"] == 1) | (results["repeat"] == 1)
    )
    results[~missing].to_csv(tmp_path / "results.csv", index=False)
    fits = _FitCalls(monkeypatch)
    resumed = _run(tmp_path, True)
    # per dataset: the missing cell's inner networks, then its refit alone
    assert len(fits.calls) == 4
    assert [len(call) for call in fits.calls[1::2]] == [1, 1]
    _assert_same_cells(expected, resumed)
