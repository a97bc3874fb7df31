"""The benchmark's report: the machine, the tables of each part and the section of
``docs/benchmarks.md`` between the ``bench:issue3`` markers.

Part of ``python -m bench.analytics`` (see :mod:`bench.analytics`).
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

from bench.analytics.common import DOC, END_MARK, GOAL_FIT_SPEEDUP, START_MARK
from bench.machine import machine_facts


def machine() -> dict[str, Any]:
    facts = machine_facts()
    import django
    import scipy

    return {
        **{k: v for k, v in facts.items() if k != "os"},
        "kernel": platform.release(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "django": django.__version__,
    }


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def _s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def _params(p: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in p.items())


def _verdict(met: bool | None) -> str:
    return "**met**" if met else "**not met**"


def render_fits(res: dict[str, Any]) -> list[str]:
    out = [
        "| data | model | customers (distinct rows) | Cartera | lifetimes | speed-up (wall) | speed-up (CPU) "
        "| lifetimes, compressed rows + `weights=` |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lt, lw = r["lifetimes"], r.get("lifetimes_weighted")
        lt_s = _s(lt["median"]) if lt["finished"] else f"> {_s(lt['lower_bound'])} (stopped)"
        lw_s = "–" if lw is None else (_s(lw["median"]) if lw["finished"] else f"> {_s(lw['lower_bound'])}")
        if lw and lw.get("finished"):
            lw_s += f" ({lw['median'] / r['ours_seconds']:.1f}x)"
        sp = f"{'≥ ' if r['speedup_is_lower_bound'] else ''}{r['speedup']:.1f}x"
        sp_cpu = f"{r['speedup_cpu']:.1f}x" if "speedup_cpu" in r else "–"
        ours_s = _s(r["ours_seconds"]) + (f" (CPU {_s(r['ours_cpu'])})" if "ours_cpu" in r else "")
        if lt["finished"] and "median_cpu" in lt:
            lt_s += f" (CPU {_s(lt['median_cpu'])})"
        out.append(
            f"| {r['data']} | {r['model']} | {r['customers']:,} ({r['distinct_rows']:,}) | {ours_s} "
            f"| {lt_s} | {sp} | {sp_cpu} | {lw_s} |"
        )
    out += ["", "Parameters (Cartera / lifetimes) and log-likelihood of each set under the same formula:", ""]
    out += ["| data | model | Cartera | lifetimes | max rel. diff | LL Cartera | LL lifetimes |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in res["rows"]:
        lt = r["lifetimes"] if r["lifetimes"]["finished"] else (r.get("lifetimes_weighted") or {})
        src = "" if r["lifetimes"]["finished"] else " (from the `weights=` run)"
        if lt.get("finished"):
            out.append(
                f"| {r['data']} | {r['model']} | {_params(r['ours']['params'])} | {_params(lt['params'])}{src} "
                f"| {lt['max_rel_diff']:.1e} | {r['ours']['log_likelihood']:,.2f} | {lt['log_likelihood']:,.2f} |"
            )
        else:
            out.append(
                f"| {r['data']} | {r['model']} | {_params(r['ours']['params'])} | not finished | – | – | – |"
            )
    evals = ", ".join(
        f"{r['data'].split(',')[0].split(' (')[0]} {r['model']} {r['ours']['evaluations']}"
        for r in res["rows"]
    )
    out += [
        "",
        f"Times are the median of {res['rows'][0]['repeat']} fits on CDNOW and one fit on the simulated "
        "population, `fit()` only, inputs already in memory. lifetimes is given one row per customer as "
        "its documentation shows; the last column gives it Cartera's own trick (distinct (x, t_x, T) rows "
        "with their counts, lifetimes' `weights=` argument) to show how much of the gap is compression. "
        "A lifetimes run that is stopped at its time limit (12x Cartera's time, at least 120 s) counts as "
        f"a lower bound (limit minus {res['lifetimes_startup_seconds']:.1f} s of start-up). "
        f"Likelihood evaluations per Cartera fit: {evals}.",
    ]
    return out


def render_rfm(res: dict[str, Any]) -> list[str]:
    o, lt = res["ours"], res["lifetimes"]
    d = res["max_abs_diff"]
    diff = ", ".join(f"{k} {v:.2g}" for k, v in d.items()) if res["same_customers"] else "customers differ!"
    return [
        "| | Cartera `summary_from_transactions` | lifetimes `summary_data_from_transaction_data` | ratio |",
        "|---|---|---|---|",
        f"| wall time of the call | {_s(o['seconds'])} | {_s(lt['seconds'])} | {res['speedup']:.1f}x faster |",
        *(
            [
                f"| CPU time of the call | {_s(o['cpu'])} | {_s(lt['cpu'])} | {lt['cpu'] / o['cpu']:.1f}x less |"
            ]
            if "cpu" in o and "cpu" in lt
            else []
        ),
        f"| peak RSS − RSS before the inputs (compared) | {_mib(o['increment_kib'])} | {_mib(lt['increment_kib'])} "
        f"| {res['memory_ratio']:.2f} |",
        f"| total peak RSS of the process (VmHWM) | {_mib(o['peak_kib'])} | {_mib(lt['peak_kib'])} "
        f"| {res['total_peak_ratio']:.2f} |",
        *(
            [
                f"| ru_maxrss (carries the launching driver's peak, see below) | {_mib(o['ru_maxrss_kib'])} "
                f"| {_mib(lt['ru_maxrss_kib'])} | |"
            ]
            if "ru_maxrss_kib" in o and "ru_maxrss_kib" in lt
            else []
        ),
        f"| RSS before the inputs (interpreter + imports) | {_mib(o['rss_before_inputs_kib'])} "
        f"| {_mib(lt['rss_before_inputs_kib'])} | |",
        f"| peak − RSS with the inputs loaded (the call alone) | {_mib(o['call_increment_kib'])} "
        f"| {_mib(lt['call_increment_kib'])} | {o['call_increment_kib'] / lt['call_increment_kib']:.2f} |",
        "",
        f"{res['transactions']:,} seeded transactions of {o['customers']:,} customers over three years (ending "
        f"{res['observation_end']}), read by both sides from one binary file; time unit days. Each side runs "
        "in its own fresh process. The compared memory is the increment of peak RSS over the RSS just "
        "before the inputs are loaded: it counts the inputs in each library's own form (numpy arrays; a "
        "pandas DataFrame with a datetime64[ns] column) plus the call's working memory, and leaves out the "
        "interpreter and the imported libraries (pandas alone weighs more than numpy), which are not the "
        "summary's cost. Peaks are the kernel's high-water mark of each worker's own process image "
        "(VmHWM): `ru_maxrss` would be the same for a process started from a shell, but here it also "
        "carries the peak of the driver that started the worker (Linux keeps the larger of the two across "
        "exec). The two summaries are identical (max abs. difference: " + diff + ").",
    ]


def render_refresh(res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for vendor, r in res["databases"].items():
        db = r["db"]
        head = (
            f"**{vendor}** ({db['version']}): {db['customers']:,} customers, {db['orders']:,} orders "
            f"(`manage.py demo`, as of {r['as_of']}): "
        )
        if "date" in r:
            head += (
                f"measured {r['date']}, load average {r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}: "
            )
        if not r["finished"]:
            out.append(head + f"**stopped at the time limit of {r['limit']:.0f} s**; phases reached:")
        else:
            out.append(head + f"**{r['wall']:.1f} s** (RefreshRun.seconds {r['run_seconds']:.1f} s), peak RSS "
                       f"{_mib(r['peak_kib'])}.")  # fmt: skip
        out += ["", "| phase | wall seconds | CPU seconds of the Python process |", "|---|---|---|"]
        events = r["events"]
        for a, b in zip(events, events[1:], strict=False):
            cpu = f"{b['cpu'] - a['cpu']:.1f}" if "cpu" in a and "cpu" in b else "–"
            out.append(f"| {a['msg']} | {b['at'] - a['at']:.1f} | {cpu} |")
        if not r["finished"] and events:
            out.append(f"| {events[-1]['msg']} (unfinished) | > {r['elapsed'] - events[-1]['at']:.0f} | |")
        if r["finished"]:
            out += [
                "",
                "Inside the phases (wall seconds and calls, in call order; under 0.01 s left out):",
                "",
            ]
            for c in r["calls"]:
                if c["seconds"] < 0.01:
                    continue
                depth = len(c["path"]) - 1
                out.append(f"{'  ' * depth}- `{c['path'][-1]}`: {c['seconds']:.2f} s ({c['calls']}x)")
            ev = r["evaluations"]
            out.append(
                f"- likelihood evaluations: BG/NBD {ev['bgnbd']}, Gamma-Gamma {ev['gammagamma']}"
                + (
                    f"; building the metric rows in Python alone: {r['rows_python_seconds']:.1f} s"
                    if "rows_python_seconds" in r
                    else ""
                )  # fmt: skip
            )
        out.append("")
    return out


def _measured(part: dict[str, Any]) -> str:
    text = f"Measured {part['date']} (this part took {part['part_seconds']:.0f} s)."
    if "load_before" in part:
        lb, la = part["load_before"][0], part["load_after"][0]
        text += f" Load average (1 min) {lb:.1f} before, {la:.1f} after"
        text += (
            ": other work shared the 2 cores, so wall times are pessimistic." if max(lb, la) > 2.5 else "."
        )
    return text


def render(results: dict[str, Any]) -> str:
    m = results.get("machine") or machine()
    lt_v = results.get("lifetimes_versions", {})
    lines = [
        START_MARK,
        "## Customer-base analytics against lifetimes",
        "",
        "Written by `.venv/bin/python -m bench.analytics` (options: `--help`). Machine: "
        f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Linux {m['kernel']}. Cartera side: Python "
        f"{m['python']}, numpy {m['numpy']}, scipy {m['scipy']}, Django {m['django']}. lifetimes side (its own "
        f"venv, `bench/requirements-lifetimes.txt`): " + ", ".join(f"{k} {v}" for k, v in lt_v.items()) + ".",
        "",
    ]
    verdicts: list[str] = []
    part = results.get("fits")
    lines += ["### 1. BG/NBD and Pareto/NBD fits: at least 10x faster than lifetimes, same parameters", ""]
    if part:
        lines += [_measured(part), "", *render_fits(part), ""]
        slow = [f"{r['data'].split(',')[0].split(' (')[0]} {r['model']} {r['speedup']:.1f}x"
                for r in part["rows"] if r["speedup"] < GOAL_FIT_SPEEDUP]  # fmt: skip
        same = part["params_max_rel_diff"]
        verdicts.append(
            f"1. Fits ≥ 10x faster than lifetimes, same parameters: {_verdict(part['met'])}"
            + (f" (below 10x: {', '.join(slow)})" if slow else "")
            + (f"; parameters agree to {same:.1e} (max relative difference)" if same is not None else "")
            + "."
        )
    else:
        lines += ["Not run yet.", ""]
        verdicts.append("1. Fits: not measured.")
    part = results.get("rfm")
    lines += ["### 2. RFM summary of 10,000,000 transactions: ≥ 5x faster, ≤ 1/4 of the peak memory", ""]
    if part:
        lines += [_measured(part), "", *render_rfm(part), ""]
        verdicts.append(
            f"2. RFM summary ≥ 5x faster with ≤ 1/4 of the memory: {_verdict(part['met'])} "
            f"({part['speedup']:.1f}x faster, {part['memory_ratio']:.2f} of lifetimes' memory, "
            f"{part['transactions']:,} transactions)."
        )
    else:
        lines += ["Not run yet.", ""]
        verdicts.append("2. RFM summary: not measured.")
    part = results.get("refresh")
    lines += ["### 3. Full refresh of 1,000,000 customers / 10,000,000 orders in at most 60 s", ""]
    if part:
        lines += [_measured(part), "", *render_refresh(part)]
        times = []
        for vendor, r in part["databases"].items():
            times.append(
                f"{vendor} {r['wall']:.1f} s" if r["finished"] else f"{vendor} > {r['elapsed']:.0f} s"
            )
        verdicts.append(
            f"3. Refresh of {part['customers_target']:,} customers in ≤ 60 s on SQLite and PostgreSQL: "
            f"{_verdict(part['met'])} ({', '.join(times)}"
            + ("" if len(times) == 2 else "; both databases are needed")
            + ")."
        )
    else:
        lines += ["Not run yet.", ""]
        verdicts.append("3. Refresh: not measured.")
    lines += ["### Verdicts", "", *verdicts, "", END_MARK]
    return "\n".join(lines)


def _keep_unmeasured(section: str, old: str) -> str:
    """Keep, from the document's current section, the subsections and verdicts of parts not measured.

    The results of a part live in ``var/bench/analytics-results.json``; when that file lacks a part
    (a fresh checkout, or a run on another machine) the section would say "Not run yet" and lose
    the figures already published. Subsections are the ``### N.`` blocks, verdicts the ``N.`` lines.
    """

    def blocks(text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in text.split("\n### ")[1:]:
            head = chunk.split(" ", 1)[0]
            if head[:-1].isdigit():
                out[head] = "### " + chunk.split("\n### ", 1)[0].rstrip("\n") + "\n"
        return out

    def verdicts(text: str) -> dict[str, str]:
        tail = text.split("### Verdicts", 1)[-1]
        return {ln.split(" ", 1)[0]: ln for ln in tail.splitlines() if ln[:1].isdigit()}

    old_blocks, new_blocks = blocks(old), blocks(section)
    old_verdicts, new_verdicts = verdicts(old), verdicts(section)
    for head, block in new_blocks.items():
        if "\nNot run yet.\n" in block and head in old_blocks and "\nNot run yet.\n" not in old_blocks[head]:
            section = section.replace(block, old_blocks[head])
            if head in new_verdicts and head in old_verdicts:
                section = section.replace(new_verdicts[head], old_verdicts[head])
    return section


def write_doc(section: str) -> None:
    """Replace only the text between our markers (re-reading the file right before writing)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else ""
    if START_MARK in text and END_MARK in text:
        section = _keep_unmeasured(section, text.split(START_MARK, 1)[1].split(END_MARK, 1)[0])
        before = text.split(START_MARK, 1)[0]
        after = text.split(END_MARK, 1)[1]
        new = before + section + after
    elif text:
        new = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        new = "# Benchmarks\n\n" + section + "\n"
    DOC.write_text(new)


def print_summary(results: dict[str, Any], parts: list[str]) -> None:
    print()
    if "fits" in parts and "fits" in results:
        print(
            f"{'data':<30} {'model':<10} {'Cartera':>10} {'lifetimes':>12} {'speed-up':>9} {'max rel diff':>12}"
        )
        for r in results["fits"]["rows"]:
            lt = r["lifetimes"]
            lt_s = f"{lt['median']:.3f}" if lt["finished"] else f">{lt['lower_bound']:.0f}"
            diff = f"{lt['max_rel_diff']:.1e}" if lt["finished"] else "-"
            print(f"{r['data']:<30} {r['model']:<10} {r['ours_seconds']:>10.3f} {lt_s:>12} "
                  f"{r['speedup']:>8.1f}x {diff:>12}")  # fmt: skip
    if "rfm" in parts and "rfm" in results:
        r = results["rfm"]
        print(f"RFM {r['transactions']:,} tx: Cartera {r['ours']['seconds']:.2f} s / {_mib(r['ours']['increment_kib'])}"
              f", lifetimes {r['lifetimes']['seconds']:.2f} s / {_mib(r['lifetimes']['increment_kib'])}: "
              f"{r['speedup']:.1f}x, memory {r['memory_ratio']:.2f}")  # fmt: skip
    if "refresh" in parts and "refresh" in results:
        for vendor, r in results["refresh"]["databases"].items():
            status = f"{r['wall']:.1f} s" if r["finished"] else f"> {r['elapsed']:.0f} s (stopped)"
            print(f"refresh {vendor}: {status}")
    print()
    for line in render(results).splitlines():
        if line.startswith(("1. ", "2. ", "3. ")):
            print(line.replace("**", ""))
