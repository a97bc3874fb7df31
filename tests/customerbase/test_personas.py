"""Persona clustering: deterministic with a seed, k chosen by silhouette, pure numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest

from customerbase.personas import PersonaClustering, silhouette_score


def blobs(seed: int, k: int = 4, n: int = 600) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(k, 5))
    rows = np.concatenate([c + rng.normal(0, 0.8, size=(n // k, 5)) for c in centres])
    rows[rng.random(rows.shape) < 0.05] = np.nan  # missing values are filled, not fatal
    return rows


def test_same_seed_same_personas():
    x = blobs(1)
    a = PersonaClustering(seed=7).fit(x)
    b = PersonaClustering(seed=7).fit(x)
    assert a.k_ == b.k_
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.centers_, b.centers_)
    assert a.scores_ == b.scores_


def test_k_is_chosen_by_silhouette():
    x = blobs(2, k=4)
    model = PersonaClustering(seed=0).fit(x)
    assert model.k_ == 4
    assert model.silhouette_ == pytest.approx(max(model.scores_.values()), abs=1e-6)
    assert model.silhouette_ > 0.5
    assert set(model.scores_) == {3, 4, 5}


def test_round_trip_predicts_the_same_groups():
    x = blobs(3)
    model = PersonaClustering(seed=0).fit(x)
    again = PersonaClustering.from_dict(model.to_dict())
    np.testing.assert_array_equal(again.predict(x), model.labels_)


def test_silhouette_of_separated_groups_is_high():
    x = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    assert silhouette_score(x, np.array([0, 0, 0, 1, 1, 1])) > 0.9
    assert silhouette_score(x, np.array([0, 1, 0, 1, 0, 1])) < 0


def test_too_few_customers():
    with pytest.raises(ValueError):
        PersonaClustering().fit(np.zeros((5, 2)))


def test_weights_let_a_one_hot_block_count_as_one_feature():
    rng = np.random.default_rng(7)
    n = 900
    behaviour = np.repeat([0.0, 1.0, 2.0], n // 3)
    spend = behaviour * 3.0 + rng.normal(0, 0.4, n)
    rhythm = behaviour * -2.0 + rng.normal(0, 0.4, n)
    regions = np.eye(8)[rng.integers(0, 8, n)]  # where they live says nothing about how they buy
    table = np.column_stack([spend, rhythm, regions])
    weights = [1.0, 1.0] + [8**-0.5] * 8
    model = PersonaClustering(k_range=(3, 3), seed=1, weights=weights).fit(table)
    # Each behaviour group falls (almost) entirely into one cluster.
    for group in range(3):
        labels = model.labels_[behaviour == group]
        assert np.bincount(labels).max() / labels.shape[0] > 0.95
    again = PersonaClustering.from_dict(model.to_dict()).predict(table)
    assert (again == model.labels_).all()
    with pytest.raises(ValueError):
        PersonaClustering(weights=[1.0, 0.0]).fit(table)
