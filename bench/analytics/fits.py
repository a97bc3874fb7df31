"""Goal 1: BG/NBD and Pareto/NBD fits, customerbase against lifetimes, on CDNOW and simulated data.

Part of ``python -m bench.analytics`` (see :mod:`bench.analytics`).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.analytics.common import GOAL_FIT_SPEEDUP, LIFETIMES_SCRIPT, SEED, WORK, run_json, say
from bench.analytics.inputs import cached_npz, cdnow_calibration, simulated_calibration


def _count_evaluations(cls: type, counter: list[int]) -> Callable[[], None]:
    """Add each fit's likelihood evaluations (``n_evaluations_``) to ``counter``; return the undo.

    The models evaluate the likelihood and its gradient in one closure built per fit (not through
    ``_loglik``), and report how many times the optimiser called it.
    """
    original = cls.__dict__["fit"]

    @functools.wraps(original)
    def fit(self: Any, *a: Any, **k: Any) -> Any:
        out = original(self, *a, **k)
        counter[0] += int(getattr(self, "n_evaluations_", 0))
        return out

    cls.fit = fit  # type: ignore[attr-defined]
    return lambda: setattr(cls, "fit", original)


def ours_fit(model: str, data: Any, repeat: int) -> dict[str, Any]:
    import warnings

    from customerbase import BGNBD, ParetoNBD

    cls = {"bgnbd": BGNBD, "paretonbd": ParetoNBD}[model]
    seconds: list[float] = []
    cpu: list[float] = []
    caught: list[str] = []
    for _ in range(repeat):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            start, cpu0 = time.perf_counter(), time.process_time()
            fitted = cls().fit(data["x"], data["t_x"], data["T"])
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu0)
        caught = [str(x.message) for x in w]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "params": dict(fitted.params_),
        "log_likelihood": float(fitted.log_likelihood_),
        "rows": int(fitted.n_rows_),
        "evaluations": int(fitted.n_evaluations_),
        "warnings": caught,
    }


def log_likelihood(model: str, params: dict[str, float], data: Any) -> float:
    """Total log-likelihood of ``params`` with Cartera's formula (so both parameter sets are judged alike)."""
    from customerbase import BGNBD, ParetoNBD

    cls = {"bgnbd": BGNBD, "paretonbd": ParetoNBD}[model]
    theta = np.array([params[k] for k in cls.param_names])
    ll = cls._loglik(theta, data["cx"], data["ct"], data["cT"])
    return float(np.dot(data["cw"], ll))


def part_fits(args: argparse.Namespace, size: dict[str, Any], lt_py: Path) -> dict[str, Any]:
    cdnow = cached_npz(WORK / "cdnow-calibration.npz", cdnow_calibration)
    n = int(args.customers or size["customers"])
    sim = cached_npz(WORK / f"simulated-{n}-seed{SEED}.npz", lambda: simulated_calibration(n, SEED))
    # Interpreter start-up and imports of the lifetimes worker, subtracted from a timed-out run.
    _, startup = run_json([str(lt_py), str(LIFETIMES_SCRIPT), "versions"])
    datasets = [("CDNOW calibration (weeks)", cdnow, args.repeat), (f"simulated, {n:,} customers", sim, 1)]
    rows: list[dict[str, Any]] = []
    for label, path, repeat in datasets:
        data = dict(np.load(path))
        for model in ("bgnbd", "paretonbd"):
            say(f"fits: {label}, {model}: Cartera ({repeat}x)")
            ours = ours_fit(model, data, repeat)
            ours_t = statistics.median(ours["seconds"])
            row: dict[str, Any] = {
                "data": label,
                "model": model,
                "customers": int(data["x"].shape[0]),
                "distinct_rows": int(data["cx"].shape[0]),
                "repeat": repeat,
                "ours": ours,
                "ours_seconds": ours_t,
                "ours_cpu": statistics.median(ours["cpu"]),
            }
            # lifetimes gets at least 12x our time (so an unfinished run still decides the goal),
            # at least 120 s, at most --lifetimes-timeout.
            limit = min(args.lifetimes_timeout, max(120.0, 12.0 * ours_t * repeat + startup))
            for variant, extra in (("lifetimes", []), ("lifetimes_weighted", ["--weighted"])):
                if variant == "lifetimes_weighted" and args.no_weighted:
                    continue
                say(f"fits: {label}, {model}: {variant} ({repeat}x, limit {limit:.0f} s)")
                cmd = [str(lt_py), str(LIFETIMES_SCRIPT), "fit", "--data", str(path), "--model", model]
                res, wall = run_json([*cmd, *extra, "--repeat", str(repeat)], timeout=limit)
                if res is None:
                    row[variant] = {
                        "finished": False,
                        "limit": limit,
                        "lower_bound": (wall - startup) / repeat,
                    }
                    say(f"   {variant} stopped after {wall:.0f} s")
                    continue
                res["finished"] = True
                res["median"] = statistics.median(res["seconds"])
                if res.get("cpu"):
                    res["median_cpu"] = statistics.median(res["cpu"])
                res["log_likelihood"] = log_likelihood(model, res["params"], data)
                res["max_rel_diff"] = max(
                    abs(ours["params"][k] - v) / abs(v) for k, v in res["params"].items()
                )
                row[variant] = res
            lt = row["lifetimes"]
            lt_t = lt["median"] if lt["finished"] else lt["lower_bound"]
            row["speedup"] = lt_t / ours_t
            row["speedup_is_lower_bound"] = not lt["finished"]
            if lt.get("median_cpu"):
                row["speedup_cpu"] = lt["median_cpu"] / row["ours_cpu"]
            say(
                f"   Cartera {ours_t:.3f} s, lifetimes {'>=' if not lt['finished'] else ''}{lt_t:.3f} s:"
                f" {row['speedup']:.1f}x"
            )
            rows.append(row)
    ok_speed = all(r["speedup"] >= GOAL_FIT_SPEEDUP for r in rows)
    same = [r["lifetimes"].get("max_rel_diff") for r in rows if r["lifetimes"]["finished"]]
    return {
        "rows": rows,
        "lifetimes_startup_seconds": startup,
        "met": ok_speed,
        "params_max_rel_diff": max(same) if same else None,
        "params_unchecked": [f"{r['data']} {r['model']}" for r in rows if not r["lifetimes"]["finished"]],
    }
