"""The prospect fit score on a seeded simulation whose answer is known: two attributes (sector
Industria, region Madrid) raise the chance of being a top customer, two others (source, company size)
do nothing. The model must rank the planted values first, leave the others near zero, explain a
Madrid industrial prospect by exactly those two, and rank held-out customers almost as well as the
true probabilities do."""

from __future__ import annotations

import numpy as np
import pytest

from customerbase.errors import NotEnoughDataError, NotFittedError
from customerbase.fit import ProspectFit, closest_group, top_share_labels

SECTORS = ["Industria", "Comercio", "Servicios", "Hostelería"]
REGIONS = ["Madrid", "Sevilla", "Valencia", "Bilbao", "Zaragoza"]
SOURCES = ["web", "referral", "event"]
SIZES = ["1-9", "10-49", "50-249"]
NAMES = ["sector", "region", "source", "size"]


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    table = np.column_stack(
        [rng.choice(SECTORS, n), rng.choice(REGIONS, n), rng.choice(SOURCES, n), rng.choice(SIZES, n)]
    )
    logit = -2.2 + 2.0 * (table[:, 0] == "Industria") + 1.5 * (table[:, 1] == "Madrid")
    truth = 1 / (1 + np.exp(-logit))
    return table, rng.random(n) < truth, truth


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The Mann-Whitney probability that a top customer outranks one of the rest."""
    ranks = np.argsort(np.argsort(scores)) + 1.0
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_the_planted_attributes_are_found_and_the_others_left_near_zero():
    table, labels, _truth = simulate(6000, seed=7)
    model = ProspectFit().fit(table, labels, NAMES)
    sector, region, source, size = model.log_ratios_
    assert max(sector, key=sector.get) == "Industria" and sector["Industria"] > 1.0
    assert max(region, key=region.get) == "Madrid" and region["Madrid"] > 0.8
    assert all(abs(w) < 0.2 for w in [*source.values(), *size.values()])


def test_held_out_customers_are_ranked_almost_as_well_as_by_the_true_probabilities():
    table, labels, _ = simulate(6000, seed=11)
    test_table, test_labels, truth = simulate(3000, seed=12)
    model = ProspectFit().fit(table, labels, NAMES)
    fitted = auc(model.decision_function(test_table), test_labels)
    best = auc(truth, test_labels)
    assert fitted > 0.7 and best - fitted < 0.02
    proba = model.predict_proba(test_table)
    assert abs(proba.mean() - test_labels.mean()) < 0.03  # calibrated on average with the prior


def test_why_names_the_attributes_that_make_a_prospect_look_like_the_top():
    table, labels, _ = simulate(6000, seed=3)
    model = ProspectFit().fit(table, labels, NAMES)
    rows = [["Industria", "Madrid", "web", "10-49"], ["Hostelería", "Bilbao", "web", "1-9"], ["", "", "", ""]]
    strong, weak, unknown = model.explain(rows, top=2)
    assert [(c.feature, c.value) for c in strong] == [("sector", "Industria"), ("region", "Madrid")]
    assert all(c.weight > 0 for c in strong)
    assert all(c.feature not in ("sector", "region") for c in weak)
    assert unknown == []
    scores = model.score(rows)
    assert scores[0] > 85 and scores[1] < 40 and scores[2] == pytest.approx(50)


def test_unseen_values_add_nothing_and_errors_are_clear():
    table, labels, _ = simulate(500, seed=5)
    model = ProspectFit().fit(table, labels, NAMES)
    assert model.decision_function([["Minería", "Lugo", "tv", "250+"]])[0] == 0
    with pytest.raises(NotFittedError):
        ProspectFit().score([["a"]])
    with pytest.raises(NotEnoughDataError):
        ProspectFit().fit([["a"], ["b"]], [True, False])
    with pytest.raises(ValueError):
        model.score([["Industria", "Madrid"]])


def test_the_top_share_is_the_customers_making_the_most_revenue():
    labels = top_share_labels([10, 500, 30, 0, 200, 40, 60, 70, 80, 90], share=0.2)
    assert labels.tolist() == [False, True, False, False, True, False, False, False, False, False]
    assert top_share_labels([5.0]).tolist() == [True]


def _ratios_value_by_value(
    table: np.ndarray, labels: np.ndarray, alpha: float = 1.0
) -> list[dict[str, float]]:
    """The model's definition, one whole-column comparison per value (how ``fit`` counted before it
    counted every value in one pass): the plain twin of ``fit``."""
    weights = []
    for j in range(table.shape[1]):
        column = table[:, j]
        known = column != ""
        values = np.unique(column[known])
        total_top = (known & labels).sum() + alpha * len(values)
        total_rest = (known & ~labels).sum() + alpha * len(values)
        weights.append(
            {
                str(value): float(
                    np.log((np.count_nonzero(column[known & labels] == value) + alpha) / total_top)
                    - np.log((np.count_nonzero(column[known & ~labels] == value) + alpha) / total_rest)
                )
                for value in values
            }
        )
    return weights


def test_counting_in_one_pass_gives_the_ratios_of_the_definition_and_the_row_by_row_reasons():
    table, labels, _truth = simulate(3000, seed=11)
    table[::7, 2] = ""  # unknown values count for nothing
    table[::13, 0] = ""
    model = ProspectFit().fit(table, labels, NAMES)
    assert model.log_ratios_ == _ratios_value_by_value(table, labels)
    parts = model._contributions(table)
    for i, why in enumerate(model.explain(table, top=2)):
        order = np.argsort(-parts[i], kind="stable")[:2]
        assert [(c.feature, c.value, c.weight) for c in why] == [
            (NAMES[j], str(table[i, j]), float(parts[i, j])) for j in order if parts[i, j] > 0
        ]


def test_each_prospect_is_matched_to_the_group_it_looks_most_like():
    # Three groups of buyers: industrial firms in Madrid, shops in Sevilla, and the rest (bars in
    # Bilbao); a model per persona learns "this group against everyone else".
    rng = np.random.default_rng(7)
    kinds = rng.integers(0, 3, size=3000)
    sector = np.array(["industria", "comercio", "hostelería"])[kinds]
    region = np.array(["madrid", "sevilla", "bilbao"])[kinds]
    noise = rng.random(3000) < 0.2  # a fifth of each group somewhere else
    region = np.where(noise, rng.choice(["madrid", "sevilla", "bilbao"], size=3000), region)
    table = np.column_stack([sector, region])
    models = [ProspectFit().fit(table, kinds == k, ["sector", "region"]) for k in (0, 1)]
    prospects = np.array(
        [
            ["industria", "madrid"],
            ["comercio", "sevilla"],
            ["hostelería", "bilbao"],
            ["", ""],
            ["industria", "sevilla"],
        ]
    )
    assert closest_group(models, prospects).tolist()[:4] == [0, 1, -1, -1]  # a bar in Bilbao: neither
    # Mixed evidence goes to the group whose model weighs it most, as the largest evidence says.
    mixed = [float(m.decision_function(prospects[4:])[0]) for m in models]
    assert closest_group(models, prospects[4:]).tolist() == [int(np.argmax(mixed)) if max(mixed) > 0 else -1]
    assert closest_group([], prospects).tolist() == [-1] * 5
