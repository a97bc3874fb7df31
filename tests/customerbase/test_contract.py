"""One contract every customerbase estimator keeps (scikit-learn's estimator rules).

The estimators are found by walking the package (every class with a ``fit`` method), so a new model
is checked as soon as it exists: it must then get a way to be fitted in ``FIT`` below.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import customerbase
from customerbase import BGNBD, MBGNBD, GammaGamma, NotFittedError, ParetoNBD
from customerbase._base import Estimator
from customerbase.backtest import Backtest
from customerbase.fit import ProspectFit
from customerbase.personas import PersonaClustering


def _estimator_classes() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(customerbase.__path__, "customerbase."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            estimator = callable(getattr(cls, "fit", None)) and not inspect.isabstract(cls)
            if estimator and cls.__module__.startswith("customerbase."):
                found[cls.__qualname__] = cls
    return [found[name] for name in sorted(found)]


ESTIMATORS = _estimator_classes()


def _blobs() -> np.ndarray:
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 10, size=(3, 4))
    return np.concatenate([c + rng.normal(0, 0.8, size=(40, 4)) for c in centres])


def _categories() -> tuple[list[list[str]], list[bool]]:
    rng = np.random.default_rng(5)
    table = [[str(rng.choice(["a", "b"])), str(rng.choice(["x", "y", ""]))] for _ in range(60)]
    return table, [i % 4 == 0 for i in range(60)]


# How to fit each estimator on the CDNOW sample (or, for personas, on three blobs).
FIT: dict[type, Callable[[Any, Any], Any]] = {
    BGNBD: lambda m, pub: m.fit(pub.x, pub.t_x, pub.T),
    MBGNBD: lambda m, pub: m.fit(pub.x, pub.t_x, pub.T),
    ParetoNBD: lambda m, pub: m.fit(pub.x, pub.t_x, pub.T),
    GammaGamma: lambda m, pub: m.fit(pub.x, pub.zbar),
    PersonaClustering: lambda m, pub: m.fit(_blobs()),
    Backtest: lambda m, pub: m.fit(
        pub.x, pub.t_x, pub.T, pub.x % 2, pub.x % 3 + pub.x % 2, horizon=13, duration=39
    ),
    ProspectFit: lambda m, pub: m.fit(*_categories()),
}


# A fit that cannot succeed, for each estimator.
FAILING_FIT: dict[type, Callable[[Any], Any]] = {
    BGNBD: lambda m: m.fit([2], [5.0], [10.0]),
    MBGNBD: lambda m: m.fit([2], [5.0], [10.0]),
    ParetoNBD: lambda m: m.fit([2], [5.0], [10.0]),
    GammaGamma: lambda m: m.fit([1, 1, 1], [10.0, 10.0, 10.0]),
    PersonaClustering: lambda m: m.set_params(weights=[1.0, 0.0]).fit(_blobs()),
    Backtest: lambda m: m.fit([1, 2], [5.0, 6.0], [10.0, 10.0], [0, 0], [0, 0], horizon=40, duration=39),
    ProspectFit: lambda m: m.fit([["a"], ["b"]], [True, False]),
}


def _call_arguments(bgnbd: BGNBD) -> dict[str, tuple[Any, ...]]:
    """Arguments for every public method that needs a fitted model."""
    return {
        "conditional_probability_alive": ([2], [10.0], [38.0]),
        "conditional_expected_number_of_purchases_up_to_time": (10.0, [2], [10.0], [38.0]),
        "conditional_probability_of_purchase": (10.0, [2], [10.0], [38.0]),
        "expected_number_of_purchases_up_to_time": ([10.0],),
        "log_likelihood": ([2], [10.0], [38.0]),
        "standard_errors": (),
        "conditional_expected_average_profit": ([2], [30.0]),
        "customer_lifetime_value": (bgnbd, [2], [10.0], [38.0], [30.0]),
        "population_mean_spend": (),
        "predict": (_blobs(),),
        "to_dict": (),
        "decision_function": ([["a", "x"]],),
        "predict_proba": ([["a", "x"]],),
        "score": ([["a", "x"]],),
        "explain": ([["a", ""]],),
    }


def _needs_fit(cls: type) -> list[str]:
    """Public methods other than fit and the settings accessors."""
    out = []
    for name, _ in inspect.getmembers(cls, callable):
        if name.startswith("_") or name in {"fit", "get_params", "set_params"}:
            continue
        if isinstance(inspect.getattr_static(cls, name), classmethod | staticmethod):
            continue
        out.append(name)
    return out


def _public_state(model: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(model).items() if not k.startswith("_")}


def test_every_estimator_is_covered():
    assert set(ESTIMATORS) == set(FIT) == set(FAILING_FIT)
    assert {BGNBD, MBGNBD, ParetoNBD, GammaGamma, PersonaClustering} <= set(ESTIMATORS)
    for cls in ESTIMATORS:
        assert issubclass(cls, Estimator)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_init_only_stores_settings(cls):
    model = cls()
    settings = cls._setting_names()
    assert settings, "every estimator has keyword settings"
    signature = inspect.signature(cls.__init__)
    # Keyword-only settings with defaults, stored under their own names and nothing else.
    for name in settings:
        assert signature.parameters[name].default is not inspect.Parameter.empty
    assert set(_public_state(model)) == set(settings)
    assert {k for k in vars(model) if k.startswith("_")} == set()
    assert model.get_params() == {name: signature.parameters[name].default for name in settings}
    assert not [k for k in vars(model) if k.endswith("_")]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_settings_round_trip(cls):
    model = cls()
    params = model.get_params()
    copy = cls(**params)
    assert copy.get_params() == params
    name = next(iter(params))
    assert model.set_params(**{name: params[name]}) is model
    with pytest.raises(ValueError, match="no setting"):
        model.set_params(not_a_setting=1)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_methods_before_fit_raise_not_fitted(cls, bgnbd_cdnow):
    model = cls()
    arguments = _call_arguments(bgnbd_cdnow)
    methods = _needs_fit(cls)
    assert methods and set(methods) <= set(arguments), set(methods) - set(arguments)
    for name in methods:
        with pytest.raises(NotFittedError, match=f"{cls.__name__} is not fitted yet: call fit"):
            getattr(model, name)(*arguments[name])
    assert issubclass(NotFittedError, RuntimeError)
    repr(model)  # the representation of an unfitted model works


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_fit_returns_self_with_fitted_attributes_ending_in_underscore(cls, cdnow_published, bgnbd_cdnow):
    model = cls()
    settings = model.get_params()
    before = set(_public_state(model))
    assert FIT[cls](model, cdnow_published) is model
    added = set(_public_state(model)) - before
    assert added, "fit sets fitted attributes"
    assert all(name.endswith("_") for name in added), sorted(added)
    # fit does not change the settings.
    assert model.get_params().keys() == settings.keys()
    for name, value in settings.items():
        assert model.get_params()[name] is value
    # Every method that needs a fitted model now runs.
    arguments = _call_arguments(bgnbd_cdnow)
    for name in _needs_fit(cls):
        getattr(model, name)(*arguments[name])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_a_failed_fit_leaves_the_model_unfitted(cls):
    model = cls()
    with pytest.raises(ValueError):
        FAILING_FIT[cls](model)
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        model._check_is_fitted()
