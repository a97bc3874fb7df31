"""Suggesting personas: k-means clustering of customers on demographics and buying behaviour.

The number of groups is chosen among ``k_range`` (3 to 5 by default, as the persona literature
advises a handful) by the mean silhouette width (Rousseeuw 1987, *J. Comput. Appl. Math.* 20) on a
random sample. Clustering is Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007) as
implemented by :func:`scipy.cluster.vq.kmeans2`; with the same ``seed`` the result is identical.

Features are numbers per customer (missing values allowed as NaN: they are filled with the column
mean); they are standardised before clustering. Turning customers into features and clusters into
words is the caller's job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.cluster.vq import kmeans2, vq
from scipy.spatial.distance import cdist

from customerbase._base import Estimator

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def silhouette_score(x: FloatArray, labels: IntArray) -> float:
    """Mean silhouette width of a labelled sample (Rousseeuw 1987); -1..1, higher is better."""
    n = x.shape[0]
    groups = np.unique(labels)
    if groups.shape[0] < 2 or n < 3:
        return -1.0
    dist = cdist(x, x)
    # Mean distance from each point to every group (its own group without itself).
    means = np.empty((n, groups.shape[0]))
    for j, g in enumerate(groups):
        members = labels == g
        size = int(members.sum())
        total = dist[:, members].sum(axis=1)
        own = labels == g
        means[:, j] = np.where(own, total / max(size - 1, 1), total / max(size, 1))
    own_index = np.searchsorted(groups, labels)
    a = means[np.arange(n), own_index]
    means[np.arange(n), own_index] = np.inf
    b = means.min(axis=1)
    sizes = np.bincount(own_index, minlength=groups.shape[0])
    s = np.where(sizes[own_index] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


class PersonaClustering(Estimator):
    """k-means on standardised features with k chosen by silhouette.

    Parameters: ``k_range`` (inclusive bounds), ``seed``, ``sample_size`` (rows used to score each
    k), ``fit_size`` (rows used to fit the centres; every row is then assigned to its nearest
    centre), ``iterations`` of Lloyd's algorithm, ``weights`` (optional, one positive number per
    feature multiplying its standardised values).
    """

    def __init__(
        self,
        *,
        k_range: tuple[int, int] = (3, 5),
        seed: int = 0,
        sample_size: int = 2_000,
        fit_size: int = 100_000,
        iterations: int = 30,
        weights: Any = None,
    ) -> None:
        self.k_range = k_range
        self.seed = seed
        self.sample_size = sample_size
        self.fit_size = fit_size
        self.iterations = iterations
        self.weights = weights

    def _prepare(self, features: Any) -> FloatArray:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError("features must be a 2-D table (customers x features)")
        return x

    def _standardise(self, x: FloatArray) -> FloatArray:
        filled = np.where(np.isnan(x), self.fill_, x)
        out: FloatArray = (filled - self.mean_) / self.scale_
        return out

    def fit(self, features: Any) -> PersonaClustering:
        """Cluster ``features`` (n customers x d features); sets ``labels_``, ``centers_``, ``k_``,
        ``silhouette_`` and ``scores_`` (silhouette per k tried)."""
        x = self._prepare(features)
        low, high = self.k_range
        if not 2 <= low <= high:
            raise ValueError("k_range must satisfy 2 <= low <= high")
        n = x.shape[0]
        if n < high * 2:
            raise ValueError(f"need at least {high * 2} customers to suggest {high} groups")
        weights = None if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if weights is not None and (weights.shape != (x.shape[1],) or not (weights > 0).all()):
            raise ValueError("weights must hold one positive number per feature")
        with np.errstate(invalid="ignore"):
            col_mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
        self.fill_: FloatArray = np.where(np.isfinite(col_mean), col_mean, 0.0)
        filled = np.where(np.isnan(x), self.fill_, x)
        self.mean_: FloatArray = filled.mean(axis=0)
        std = filled.std(axis=0)
        scale = np.where(std > 0, std, 1.0)
        if weights is not None:
            # A weight w makes a column count w times its standardised size in the distances (a
            # block of one-hot columns can then weigh as much as one feature, not one per column).
            scale = scale / weights
        self.scale_: FloatArray = scale
        z = self._standardise(x)
        rng = np.random.default_rng(self.seed)
        fit_rows = z if n <= self.fit_size else z[np.sort(rng.choice(n, self.fit_size, replace=False))]
        sample_idx = np.sort(
            rng.choice(fit_rows.shape[0], min(self.sample_size, fit_rows.shape[0]), replace=False)
        )
        best: tuple[float, int, FloatArray] | None = None
        self.scores_: dict[int, float] = {}
        for k in range(low, high + 1):
            centers, labels = kmeans2(
                fit_rows, k, iter=self.iterations, minit="++", rng=np.random.default_rng(self.seed + k)
            )
            score = silhouette_score(fit_rows[sample_idx], labels[sample_idx].astype(np.int64))
            self.scores_[k] = round(score, 6)
            if best is None or score > best[0] + 1e-9:
                best = (score, k, np.asarray(centers, dtype=np.float64))
        assert best is not None
        self.silhouette_: float = best[0]
        self.k_: int = best[1]
        self.centers_: FloatArray = best[2]
        self.labels_: IntArray = self.predict(x)
        return self

    def predict(self, features: Any) -> IntArray:
        """The nearest fitted centre of each row."""
        self._check_is_fitted()
        z = self._standardise(self._prepare(features))
        labels, _dist = vq(z, self.centers_, check_finite=False)
        out: IntArray = labels.astype(np.int64)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain lists (to store it and assign customers later)."""
        self._check_is_fitted()
        return {
            "k": self.k_,
            "centers": self.centers_.tolist(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "fill": self.fill_.tolist(),
            "scores": {str(k): v for k, v in self.scores_.items()},
            "silhouette": self.silhouette_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonaClustering:
        """A fitted model back from :meth:`to_dict` (only ``predict`` is meaningful)."""
        model = cls()
        model.k_ = int(data["k"])
        model.centers_ = np.asarray(data["centers"], dtype=np.float64)
        model.mean_ = np.asarray(data["mean"], dtype=np.float64)
        model.scale_ = np.asarray(data["scale"], dtype=np.float64)
        model.fill_ = np.asarray(data["fill"], dtype=np.float64)
        model.scores_ = {int(k): float(v) for k, v in data.get("scores", {}).items()}
        model.silhouette_ = float(data.get("silhouette", 0.0))
        return model
