"""Goal 2: the RFM summary of a transaction log, customerbase against lifetimes, each side in its
own fresh process (wall time and peak memory).

Part of ``python -m bench.analytics`` (see :mod:`bench.analytics`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.analytics.common import (
    GOAL_RFM_MEMORY,
    GOAL_RFM_SPEEDUP,
    LIFETIMES_SCRIPT,
    SEED,
    WORK,
    BenchError,
    peak_kib,
    rss_kib,
    ru_maxrss_kib,
    run_json,
    say,
)
from bench.analytics.inputs import cached_npz, transactions, tx_observation_end


def worker_rfm(args: argparse.Namespace) -> dict[str, Any]:
    """Cartera's side of the RFM measurement, in a fresh process (``--worker rfm``)."""
    from customerbase import summary_from_transactions

    rss_before = rss_kib()
    peak_before = peak_kib()
    data = np.load(args.data)
    ids = data["customer_ids"]
    days = data["days"].view("datetime64[D]")
    amounts = data["amounts"]
    del data
    rss_after = rss_kib()
    start, cpu0 = time.perf_counter(), time.process_time()
    s = summary_from_transactions(ids, days, amounts, observation_end=args.observation_end, freq_days=1.0)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak = peak_kib()
    ru_peak = ru_maxrss_kib()
    np.savez(
        args.out,
        customer_ids=s.customer_ids.astype(np.int64),
        frequency=s.frequency.astype(np.float64),
        recency=s.recency,
        T=s.T,
        monetary=s.monetary,
    )
    return {
        "seconds": seconds,
        "cpu": cpu,
        "transactions": int(ids.shape[0]),
        "customers": len(s),
        "rss_before_inputs_kib": rss_before,
        "peak_before_inputs_kib": peak_before,
        "rss_after_inputs_kib": rss_after,
        "peak_kib": peak,
        "ru_maxrss_kib": ru_peak,
    }


def part_rfm(args: argparse.Namespace, size: dict[str, Any], lt_py: Path) -> dict[str, Any]:
    n = int(args.transactions or size["transactions"])
    path = cached_npz(WORK / f"transactions-{n}-seed{SEED}.npz", lambda: transactions(n, SEED))
    end = tx_observation_end()
    out_ours, out_lt = WORK / "rfm-out-cartera.npz", WORK / "rfm-out-lifetimes.npz"
    say(f"rfm: Cartera on {n:,} transactions (fresh process)")
    ours, _ = run_json(
        [sys.executable, "-m", "bench.analytics", "--worker", "rfm", "--data", str(path),
         "--observation-end", end, "--out", str(out_ours)]
    )  # fmt: skip
    assert ours is not None
    say(f"   {ours['seconds']:.2f} s, peak {ours['peak_kib'] / 1024:.0f} MiB")
    say(f"rfm: lifetimes on {n:,} transactions (fresh process)")
    lt, wall = run_json(
        [str(lt_py), str(LIFETIMES_SCRIPT), "rfm", "--data", str(path), "--observation-end", end,
         "--out", str(out_lt)],
        timeout=args.lifetimes_timeout,
    )  # fmt: skip
    if lt is None:
        raise BenchError(f"lifetimes' summary did not finish in {wall:.0f} s")
    say(f"   {lt['seconds']:.2f} s, peak {lt['peak_kib'] / 1024:.0f} MiB")
    a, b = np.load(out_ours), np.load(out_lt)
    same_ids = bool(np.array_equal(a["customer_ids"], b["customer_ids"]))
    diff: dict[str, float | None] = {}
    for col in ("frequency", "recency", "T", "monetary"):
        diff[col] = float(np.max(np.abs(a[col] - b[col]))) if same_ids else None
    for side in (ours, lt):
        side["increment_kib"] = side["peak_kib"] - side["rss_before_inputs_kib"]
        side["call_increment_kib"] = side["peak_kib"] - side["rss_after_inputs_kib"]
    speedup = lt["seconds"] / ours["seconds"]
    memory_ratio = ours["increment_kib"] / lt["increment_kib"]
    return {
        "transactions": n,
        "observation_end": end,
        "ours": ours,
        "lifetimes": lt,
        "same_customers": same_ids,
        "max_abs_diff": diff,
        "speedup": speedup,
        "memory_ratio": memory_ratio,
        "total_peak_ratio": ours["peak_kib"] / lt["peak_kib"],
        "met": speedup >= GOAL_RFM_SPEEDUP and memory_ratio <= GOAL_RFM_MEMORY,
    }
