"""Optimiser benchmark: customerbase's hand-written BFGS against scipy's L-BFGS-B.

Run from the repository root with the project's venv::

    .venv/bin/python -m bench.optimiser            # CDNOW and 1,000,000 simulated customers
    .venv/bin/python -m bench.optimiser --quick    # CDNOW and 20,000 customers, a few seconds

Every model (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma) builds its fitting problem once
(``_prepare`` + ``_objective``: the same log-parameters, starting point, box and gradient that
``fit`` uses); then each optimiser solves it ``--repeat`` times and the median wall time is kept,
with iterations, likelihood evaluations, the optimum reached and how far the two optima are apart.
BLAS is limited to one thread with threadpoolctl (``--blas-threads 2`` shows what an unlimited
OpenBLAS costs the former hand-written path and L-BFGS-B, whose fits then still limit themselves). Models without an analytic gradient
(MBG/NBD) get the same central-difference gradient in both optimisers.

The 1,000,000-customer summary is simulated with numpy (``customerbase.simulate``, the published
CDNOW BG/NBD parameters, whole days in weeks, as ``bench.analytics`` does) with a Gamma-Gamma spend
per repeat buyer (the published CDNOW ``p, q, gamma``, rounded to cents). Nothing touches Django.
The results go to ``var/bench/optimiser-results.json`` and to ``docs/benchmarks.md`` between the
``bench:optimiser`` markers, with the machine, the date and the load average of every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,unused-ignore]

from bench.doc import replace_section
from customerbase._types import FloatArray

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"
RESULTS = WORK / "optimiser-results.json"
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- bench:optimiser:start -->"
END_MARK = "<!-- bench:optimiser:end -->"
SEED = 2026
# Published CDNOW Gamma-Gamma estimates (Fader, Hardie & Lee 2005, JMR), to simulate spend.
CDNOW_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
METHODS = ("bfgs", "lbfgsb")
MODELS = ("bgnbd", "mbgnbd", "paretonbd", "gammagamma")
# Agreement asked of the two optima, relative: the log-likelihood, and each parameter (the likelihood
# is flat near its optimum: on 20,000 simulated customers the Pareto/NBD parameters differ by 3e-6
# with log-likelihoods equal to 1e-14).
AGREE_LL = 1e-9
AGREE_PARAMS = 1e-5


def load_average() -> float:
    """The 1-minute load average (``/proc/loadavg``)."""
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def cdnow_data() -> dict[str, Any]:
    """CDNOW calibration summary (weeks) from the raw transactions, with each customer's mean spend."""
    from bench.analytics import cdnow_summary

    s = cdnow_summary()
    return {"x": s.frequency.astype(np.float64), "t_x": s.recency, "T": s.T, "zbar": s.monetary}


def simulated_data(n: int, seed: int) -> dict[str, Any]:
    """``n`` CDNOW-like customers (``bench.analytics.simulated_calibration``) with Gamma-Gamma spend."""
    from bench.analytics import simulated_calibration

    sim = simulated_calibration(n, seed)
    x = sim["x"]
    rng = np.random.default_rng(seed + 1)
    nu = rng.gamma(CDNOW_GG["q"], 1.0 / CDNOW_GG["gamma"], x.shape[0])
    shape = np.maximum(CDNOW_GG["p"] * x, 1e-9)
    # The mean of x transactions of Gamma(p, nu) is Gamma(p x, rate nu x).
    zbar = rng.gamma(shape, 1.0 / (nu * np.maximum(x, 1.0)))
    zbar = np.where(x > 0, np.maximum(np.round(zbar, 2), 0.01), 0.0)
    return {"x": x, "t_x": sim["t_x"], "T": sim["T"], "zbar": zbar}


def problem(model: str, data: dict[str, Any]) -> tuple[Any, int]:
    """The model's :class:`customerbase._base.Objective` on ``data`` and the number of distinct rows."""
    from customerbase import BGNBD, MBGNBD, GammaGamma, ParetoNBD
    from customerbase._base import TransactionModel

    if model == "gammagamma":
        gg = GammaGamma()
        x, m, w = gg._prepare(data["x"], data["zbar"])
        return gg._objective(x, m, w), int(x.shape[0])
    classes: dict[str, Callable[[], TransactionModel]] = {
        "bgnbd": BGNBD,
        "mbgnbd": MBGNBD,
        "paretonbd": ParetoNBD,
    }
    tm = classes[model]()
    compressed = tm._prepare(data["x"], data["t_x"], data["T"])
    return tm._objective(compressed), len(compressed)


def with_central_differences(objective: Any) -> Any:
    """The same problem with a central-difference gradient (step 1e-6 on the log-parameters)."""
    import dataclasses

    fun: Callable[[Any], float] = objective.fun

    def value_and_grad(theta: Any) -> tuple[float, Any]:
        f0 = float(fun(theta))
        g = np.empty_like(theta)
        for i in range(theta.shape[0]):
            e = np.zeros_like(theta)
            e[i] = 1e-6
            g[i] = (float(fun(theta + e)) - float(fun(theta - e))) / 2e-6
        return f0, g

    return dataclasses.replace(objective, fun=value_and_grad, jac=True, value_only=fun)


def _bfgs_box(
    fun: Callable[[FloatArray], tuple[float, FloatArray]],
    theta0: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    *,
    max_iter: int,
    gtol: float,
    value_only: Callable[[FloatArray], float] | None = None,
) -> tuple[FloatArray, float, FloatArray, bool, int]:
    """BFGS with a backtracking (Armijo) line search, kept inside a box by projection.

    For the handful of log-parameters of these models with exact gradients it converges in a few
    dozen evaluations. It is written with element-wise numpy only: scipy's L-BFGS-B calls BLAS on
    tiny arrays, and a multithreaded OpenBLAS then spins its threads, which on a small shared
    machine costs more than the whole fit of CDNOW. (customerbase now runs L-BFGS-B with BLAS on
    one thread instead; this copy is the benchmark's reference.) Returns ``(theta, value, gradient, converged,
    iterations)``; the caller falls back to L-BFGS-B when it did not converge. ``value_only``, if
    given, evaluates the value alone: the line search uses it after a rejected step, when the
    gradient is expensive (Pareto/NBD pairs with ``z`` near 1 take it by finite differences).
    """
    k = theta0.shape[0]
    x = np.clip(theta0, lo, hi)
    f, g = fun(x)
    h_inv = np.eye(k)
    first = True
    stalled = 0
    for it in range(max_iter):
        free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        if float(np.max(np.abs(g[free]), initial=0.0)) < gtol:
            return x, f, g, True, it
        d = -(h_inv * g).sum(axis=1)
        d[~free] = 0.0
        slope = float((d * g).sum())
        if not slope < 0.0:
            h_inv = np.eye(k)
            d = np.where(free, -g, 0.0)
            slope = float((d * g).sum())
        # Before the curvature is known (identity matrix), move the log-parameters by at most 1 (a
        # factor e): a raw gradient step would try absurd parameters first.
        step = min(1.0, 1.0 / float(np.max(np.abs(d)))) if first else 1.0
        accepted = False
        gn = None
        for trial_no in range(40):
            xn = np.clip(x + step * d, lo, hi)
            if trial_no == 0 or value_only is None:
                fn, gn = fun(xn)
            else:
                fn, gn = value_only(xn), None
            if fn <= f + 1e-4 * float((g * (xn - x)).sum()):
                accepted = True
                break
            # Quadratic interpolation of the step, kept within [0.1, 0.5] of the previous one.
            denom = 2.0 * (fn - f - slope * step)
            trial = -slope * step * step / denom if denom > 0 else 0.5 * step
            step = min(max(trial, 0.1 * step), 0.5 * step)
        if not accepted:
            # No decrease possible in floating point: converged if the gradient is negligible.
            return x, f, g, bool(float(np.max(np.abs(g[free]), initial=0.0)) < 1e-6), it
        if gn is None:
            fn, gn = fun(xn)
        s = xn - x
        y = gn - g
        sy = float((s * y).sum())
        if sy > 1e-12 * math.sqrt(float((s * s).sum()) * float((y * y).sum())):
            if first:
                # Scale the initial inverse Hessian (Nocedal & Wright, eq. 6.20).
                h_inv = np.eye(k) * (sy / float((y * y).sum()))
                first = False
            rho = 1.0 / sy
            hy = (h_inv * y).sum(axis=1)
            yhy = float((y * hy).sum())
            h_inv = (
                h_inv - rho * (np.outer(hy, s) + np.outer(s, hy)) + (rho * rho * yhy + rho) * np.outer(s, s)
            )
        # At the optimum the gradient cannot go below its rounding noise (sums over many rows):
        # stop after two steps in a row that lower the value by less than 1e-14 relative (the
        # ftol test the L-BFGS-B fits used, made twice as strict by asking for two).
        stalled = stalled + 1 if f - fn <= 1e-14 * max(abs(f), 1.0) else 0
        x, f, g = xn, fn, gn
        if not np.isfinite(f) or f >= 1e100:
            break
        if stalled >= 2:
            free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
            return x, f, g, bool(float(np.max(np.abs(g[free]), initial=0.0)) < 1e-6), it + 1
    free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
    return x, f, g, bool(float(np.max(np.abs(g[free]), initial=0.0)) < gtol), max_iter


def handwritten_minimize(objective: Any, info: dict[str, Any]) -> tuple[Any, float, bool]:
    """customerbase's former ``minimize_nll`` with ``jac=True``: the BFGS above, L-BFGS-B if it fails."""
    from scipy import optimize  # type: ignore[import-untyped,unused-ignore]

    k = objective.theta0.shape[0]
    counter = [0]

    def safe_grad(theta: FloatArray) -> tuple[float, FloatArray]:
        counter[0] += 1
        with np.errstate(all="ignore"):
            val, grad = objective.fun(np.asarray(theta, dtype=np.float64))
        val = float(val)
        grad = np.asarray(grad, dtype=np.float64)
        if not math.isfinite(val) or not np.isfinite(grad).all():
            return 1e100, np.zeros(k)
        return val, grad

    cheap: Callable[[FloatArray], float] | None = None
    if objective.value_only is not None:
        only = objective.value_only

        def cheap(theta: FloatArray) -> float:
            counter[0] += 1
            with np.errstate(all="ignore"):
                val = float(only(np.asarray(theta, dtype=np.float64)))
            return val if math.isfinite(val) else 1e100

    lo = np.array([b[0] for b in objective.bounds], dtype=np.float64)
    hi = np.array([b[1] for b in objective.bounds], dtype=np.float64)
    theta, value, _, ok, nit = _bfgs_box(
        safe_grad, objective.theta0, lo, hi, max_iter=2000, gtol=1e-9, value_only=cheap
    )
    if not ok:
        res = optimize.minimize(
            safe_grad,
            theta,
            method="L-BFGS-B",
            jac=True,
            bounds=objective.bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )
        theta, value, nit = np.asarray(res.x), float(res.fun), nit + int(res.nit)
    info["nfev"] = counter[0] + 1  # the former code evaluated the optimum once more
    info["nit"] = nit
    return theta, value, True


def solve(objective: Any, method: str, repeat: int) -> dict[str, Any]:
    """Median wall time of ``repeat`` solves, and the optimum of the last one."""
    seconds: list[float] = []
    cpu: list[float] = []
    loads: list[float] = []
    info: dict[str, Any] = {}
    for _ in range(repeat):
        loads.append(load_average())
        info = {}
        start, cpu0 = time.perf_counter(), time.process_time()
        if method == "bfgs":
            theta, value, converged = handwritten_minimize(objective, info)
        else:
            theta, value, converged = objective.minimize(info=info)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    return {
        "seconds": seconds,
        "median": statistics.median(seconds),
        "cpu_median": statistics.median(cpu),
        "load": [min(loads), max(loads)],
        "nit": int(info.get("nit", 0)),
        "nfev": int(info.get("nfev", 0)),
        "value": float(value),
        "params": [float(v) for v in np.exp(theta)],
        "converged": bool(converged),
    }


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def measure(datasets: list[tuple[str, dict[str, Any], int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, data, repeat in datasets:
        for model in MODELS:
            objective, n_rows = problem(model, data)
            gradient = "analytic"
            if not objective.jac:
                objective = with_central_differences(objective)
                gradient = "central differences"
            res = {m: solve(objective, m, repeat) for m in METHODS}
            a, b = res["bfgs"], res["lbfgsb"]
            row = {
                "data": label,
                "model": model,
                "rows": n_rows,
                "repeat": repeat,
                "gradient": gradient,
                **res,
                "rel_value": rel(a["value"], b["value"]),
                "rel_params": max(rel(p, q) for p, q in zip(a["params"], b["params"], strict=True)),
                "speedup": b["median"] / a["median"],
            }
            rows.append(row)
            print(
                f"{label:<28} {model:<10} rows {n_rows:>7}  BFGS {a['median'] * 1000:8.1f} ms "
                f"({a['nit']:>3} it, {a['nfev']:>3} ev)  L-BFGS-B {b['median'] * 1000:8.1f} ms "
                f"({b['nit']:>3} it, {b['nfev']:>3} ev)  ratio {row['speedup']:5.2f}  "
                f"rel LL {row['rel_value']:.1e} params {row['rel_params']:.1e}  load {a['load'][1]:.2f}",
                flush=True,
            )
    return rows


def blas_setup(threads: int) -> str:
    """Limit BLAS to ``threads`` threads for the whole run (the fits also limit it to one themselves)."""
    threadpool_limits(limits=threads, user_api="blas")
    return f"{threads} (threadpoolctl)"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        START_MARK,
        "## Optimiser: hand-written BFGS vs scipy L-BFGS-B",
        "",
        "`python -m bench.optimiser` (`bench/optimiser.py`). Each model's own fitting problem (the",
        "`_objective` that `fit` minimises: log-parameters, starting point, box, gradient) solved by",
        "the hand-written BFGS that customerbase used until this benchmark (`_bfgs_box`, kept in the",
        "benchmark as the reference, with its L-BFGS-B fallback) and by `minimize_nll` as it is now:",
        '`scipy.optimize.minimize(method="L-BFGS-B")`, `ftol` 1e-13, `gtol` 1e-9, BLAS limited to one',
        f"thread. The whole run limits BLAS to {results['blas_threads']} thread(s). Time = median wall",
        'time of the optimisation alone (the data preparation is the same for both); "it" =',
        'iterations, "ev" = evaluations of the likelihood and its gradient (MBG/NBD has no analytic',
        "gradient: both optimisers get the same central differences, 8 more values per evaluation);",
        '"rel. LL" / "rel. params" = the largest relative difference between the two optima.',
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, Python {m['python']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}. Run on {results['date']} (UTC); "
        f"load average (1 min) {results['load_before']:.2f} before, {results['load_after']:.2f} after "
        "(the machine is shared; the per-row range is the load seen at the start of each timed solve).",
        "",
        "| data | model | distinct rows | runs | BFGS | it / ev | L-BFGS-B | it / ev "
        "| L-BFGS-B / BFGS | rel. LL | rel. params | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD", "gammagamma": "Gamma-Gamma"}
    for r in results["rows"]:
        a, b = r["bfgs"], r["lbfgsb"]
        loads = a["load"] + b["load"]
        lines.append(
            f"| {r['data']} | {names[r['model']]} | {r['rows']:,} | {r['repeat']} "
            f"| {a['median'] * 1000:,.1f} ms | {a['nit']} / {a['nfev']} "
            f"| {b['median'] * 1000:,.1f} ms | {b['nit']} / {b['nfev']} | {r['speedup']:.2f}x "
            f"| {r['rel_value']:.0e} | {r['rel_params']:.0e} | {min(loads):.2f}–{max(loads):.2f} |"
        )
    lines += ["", END_MARK]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    """This benchmark's section of docs/benchmarks.md (bench/doc.py)."""
    replace_section(START_MARK, END_MARK, section)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.optimiser",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="20,000 simulated customers, 3 runs each")
    p.add_argument("--customers", type=int, help="simulated customers (default 1,000,000)")
    p.add_argument("--repeat", type=int, help="solves per optimiser on CDNOW (default 9; 3 when simulated)")
    p.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    p.add_argument("--doc-only", action="store_true", help="rewrite the document from the stored results")
    args = p.parse_args(argv)
    if args.doc_only:
        write_doc(render(json.loads(RESULTS.read_text())))
        return 0
    blas = blas_setup(args.blas_threads)

    from bench.machine import machine_facts

    n = args.customers or (20_000 if args.quick else 1_000_000)
    repeat = args.repeat or (3 if args.quick else 9)
    load_before = load_average()
    datasets = [
        ("CDNOW calibration (weeks)", cdnow_data(), repeat),
        (f"simulated, {n:,} customers", simulated_data(n, SEED), max(3, repeat // 3)),
    ]
    import scipy  # type: ignore[import-untyped,unused-ignore]

    rows = measure(datasets)
    results = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": {**machine_facts(), "numpy": np.__version__, "scipy": scipy.__version__},
        "blas_threads": blas,
        "load_before": load_before,
        "load_after": load_average(),
        "rows": rows,
    }
    bad = [r for r in rows if r["rel_value"] > AGREE_LL or r["rel_params"] > AGREE_PARAMS]
    for r in bad:
        print(f"optima differ: {r['data']} {r['model']}: {r['rel_value']:.1e} / {r['rel_params']:.1e}")
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    if not args.no_doc and not args.quick:
        write_doc(render(results))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
