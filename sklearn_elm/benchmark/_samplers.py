"""The benchmark's interpolating over-samplers, adapted to classes with very few samples.

SMOTE, Borderline-SMOTE and ADASYN interpolate between a sample and its ``k`` nearest
neighbours of the same class, so imbalanced-learn refuses a class with ``k`` samples or fewer.
The training parts of the benchmark (and the inner folds of ``--tune``) often hold such
classes, so these subclasses adapt as is usual instead of failing:

- ``k`` is reduced to ``min(k, n - 1)``, ``n`` the smallest count among the classes they
  interpolate (those with at least 2 samples);
- a class with a single sample is oversampled by duplication (random oversampling of that
  class): interpolating between a sample and itself gives that sample, so this is the limit
  of SMOTE there, and the class is balanced like every other one rather than left at one
  sample among hundreds;
- ADASYN, where its weights are undefined (no neighbour of another class) or round to no new
  sample, generates that class's samples as SMOTE does (ADASYN with equal weights).

Every adaptation is announced by one ``UserWarning`` per resampling, which the benchmark
records in the cell's note. Where nothing needs adapting, the result is imbalanced-learn's.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE

__all__ = ["SmallClassADASYN", "SmallClassBorderlineSMOTE", "SmallClassSMOTE"]


class _SmallClassMixin:
    """``_fit_resample`` that adapts the neighbour counts and duplicates single samples."""

    #: the imbalanced-learn sampler adapted, and its parameter of same-class neighbours
    _plain = SMOTE
    _neighbour_param = "k_neighbors"

    def _fit_resample(self, X, y):
        wanted = {c: n for c, n in self.sampling_strategy_.items() if n > 0}
        counts = {c: int(np.count_nonzero(y == c)) for c in wanted}
        singles = [c for c in wanted if counts[c] < 2]
        # desired totals of the classes that can be interpolated (imbalanced-learn's dict form)
        targets = {c: counts[c] + n for c, n in wanted.items() if counts[c] >= 2}
        params = self.get_params(deep=False)
        changes = []
        k = params[self._neighbour_param]
        if targets and isinstance(k, numbers.Integral):
            smallest = min(counts[c] for c in targets)
            if k > smallest - 1:
                params[self._neighbour_param] = smallest - 1
                changes.append(
                    f"{self._neighbour_param} reduced from {k} to {smallest - 1} (the smallest "
                    f"class it interpolates has {smallest} training samples)"
                )
        changes += self._adapt_other_params(params, y)
        if singles:
            changes.append(
                f"class(es) {', '.join(map(str, singles))} with a single training sample "
                "oversampled by duplication"
            )
        params["sampling_strategy"] = targets
        X_res, y_res, fallbacks = self._interpolate(X, y, params) if targets else (X, y, [])
        changes += fallbacks
        if changes:
            warnings.warn(
                f"{self._plain.__name__} adapted to this training part: " + "; ".join(changes),
                UserWarning,
                stacklevel=2,
            )
        if not singles:
            return X_res, y_res
        X_parts, y_parts = [X_res], [y_res]
        for c in singles:
            X_parts.append(np.repeat(X[y == c], wanted[c], axis=0))
            y_parts.append(np.full(wanted[c], c, dtype=y.dtype))
        return np.vstack(X_parts), np.concatenate(y_parts)

    def _adapt_other_params(self, params, y):
        """Adapt parameters other than the neighbour count in ``params``; the changes, in words."""
        return []

    def _interpolate(self, X, y, params):
        """The plain sampler with ``params`` on ``X, y``; the fallbacks it needed, in words."""
        X_res, y_res = self._plain(**params).fit_resample(X, y)
        return X_res, y_res, []


class SmallClassSMOTE(_SmallClassMixin, SMOTE):
    """:class:`~imblearn.over_sampling.SMOTE` adapted to classes with few samples.

    See the module's docstring for the adaptations; the parameters are SMOTE's.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.benchmark._samplers import SmallClassSMOTE
    >>> X, y = np.arange(24.0).reshape(12, 2), np.array([0] * 9 + [1] * 2 + [2])
    >>> _, y_res = SmallClassSMOTE(random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [9, 9, 9]
    """


class SmallClassBorderlineSMOTE(_SmallClassMixin, BorderlineSMOTE):
    """:class:`~imblearn.over_sampling.BorderlineSMOTE` adapted to classes with few samples.

    See the module's docstring; besides, ``m_neighbors`` (neighbours among all the samples,
    which tell the borderline ones) is reduced to the number of samples minus one.
    """

    _plain = BorderlineSMOTE

    def _adapt_other_params(self, params, y):
        m = params["m_neighbors"]
        if isinstance(m, numbers.Integral) and m > y.size - 1:
            params["m_neighbors"] = y.size - 1
            return [f"m_neighbors reduced from {m} to {y.size - 1} ({y.size} training samples)"]
        return []


class SmallClassADASYN(_SmallClassMixin, ADASYN):
    """:class:`~imblearn.over_sampling.ADASYN` adapted to classes with few samples.

    See the module's docstring: where ADASYN cannot weight a class (none of its samples has a
    neighbour of another class) or its weights round to no new sample, that class is
    oversampled by SMOTE with the same neighbours, which is ADASYN with equal weights.
    """

    _plain = ADASYN
    _neighbour_param = "n_neighbors"
    #: imbalanced-learn's errors for a class ADASYN cannot weight
    _UNWEIGHTED = ("Not any neigbours belong", "No samples will be generated")

    def _interpolate(self, X, y, params):
        try:
            return super()._interpolate(X, y, params)
        except (RuntimeError, ValueError) as exc:
            if not str(exc).startswith(self._UNWEIGHTED):
                raise
        # one class at a time, so that only the classes ADASYN cannot weight fall back
        X_parts, y_parts, fallen = [X], [y], []
        for c, target in params["sampling_strategy"].items():
            one = {**params, "sampling_strategy": {c: target}}
            try:
                X_res, y_res = ADASYN(**one).fit_resample(X, y)
            except (RuntimeError, ValueError) as exc:
                if not str(exc).startswith(self._UNWEIGHTED):
                    raise
                X_res, y_res = SMOTE(
                    sampling_strategy={c: target},
                    k_neighbors=params["n_neighbors"],
                    random_state=params["random_state"],
                ).fit_resample(X, y)
                fallen.append(str(c))
            X_parts.append(X_res[y.size :])
            y_parts.append(y_res[y.size :])
        notes = (
            [
                f"class(es) {', '.join(fallen)} oversampled as by SMOTE (ADASYN's weights are "
                "undefined there: no neighbour of another class, or too few samples to generate)"
            ]
            if fallen
            else []
        )
        return np.vstack(X_parts), np.concatenate(y_parts), notes
