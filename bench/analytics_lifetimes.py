"""The `lifetimes` side of the analytics benchmark (issue 3).

Run by ``python -m bench.analytics`` (``bench/analytics/``) with the interpreter of the separate benchmark venv
(``var/bench-lifetimes/``, see ``bench/requirements-lifetimes.txt``); it never imports Cartera or
``customerbase``. Each call prints one JSON object on its last line of standard output.

    analytics_lifetimes.py versions
    analytics_lifetimes.py fit --data FILE.npz --model bgnbd|paretonbd [--weighted] [--repeat N]
    analytics_lifetimes.py rfm --data FILE.npz --observation-end YYYY-MM-DD --out FILE.npz

``fit`` reads ``x, t_x, T`` (one row per customer) or, with ``--weighted``, the compressed rows
``cx, ct, cT`` and their counts ``cw`` (lifetimes' own ``weights=`` argument), and times
``Fitter().fit(...)`` only. ``rfm`` measures ``summary_data_from_transaction_data`` on a pandas
DataFrame: wall time of the call only, and peak RSS against the RSS measured just before the inputs
are loaded.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings


def _rss_kib() -> int:
    """Current resident set size (VmRSS) in KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_kib() -> int:
    """Peak resident set size of this process image (VmHWM, KiB).

    ru_maxrss would also carry the peak of the process that exec'd this one (see bench/analytics/common.py).
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return _ru_maxrss_kib()


def _ru_maxrss_kib() -> int:
    """getrusage(RUSAGE_SELF).ru_maxrss (KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _versions() -> dict[str, str]:
    import autograd
    import dill
    import lifetimes
    import numpy
    import pandas
    import scipy

    out = {
        "python": sys.version.split()[0],
        "lifetimes": lifetimes.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scipy": scipy.__version__,
        "dill": dill.__version__,
    }
    try:
        from importlib.metadata import version

        out["autograd"] = version("autograd")
    except Exception:  # pragma: no cover - metadata missing
        out["autograd"] = getattr(autograd, "__version__", "?")
    return out


def cmd_fit(args: argparse.Namespace) -> dict[str, object]:
    import numpy as np
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    data = np.load(args.data)
    fitter = {"bgnbd": BetaGeoFitter, "paretonbd": ParetoNBDFitter}[args.model]
    if args.weighted:
        cols = (data["cx"], data["ct"], data["cT"])
        kwargs = {"weights": data["cw"]}
    else:
        cols = (data["x"], data["t_x"], data["T"])
        kwargs = {}
    seconds: list[float] = []
    cpu: list[float] = []
    params: dict[str, float] = {}
    for _ in range(args.repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start, cpu0 = time.perf_counter(), time.process_time()
            model = fitter().fit(*cols, **kwargs)
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu0)
        params = {k: float(v) for k, v in model.params_.items()}
    return {"seconds": seconds, "cpu": cpu, "params": params, "rows": int(cols[0].shape[0])}


def cmd_rfm(args: argparse.Namespace) -> dict[str, object]:
    import numpy as np
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    rss_before_inputs = _rss_kib()
    peak_before_inputs = _peak_kib()
    data = np.load(args.data)
    # lifetimes' documented input: a DataFrame with a customer column, a datetime column and a value.
    frame = pd.DataFrame(
        {
            "customer_id": data["customer_ids"],
            "date": data["days"].astype("datetime64[D]").astype("datetime64[ns]"),
            "amount": data["amounts"],
        }
    )
    del data
    rss_after_inputs = _rss_kib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start, cpu0 = time.perf_counter(), time.process_time()
        summary = summary_data_from_transaction_data(
            frame,
            "customer_id",
            "date",
            monetary_value_col="amount",
            observation_period_end=args.observation_end,
            freq="D",
        )
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    peak = _peak_kib()
    ru_peak = _ru_maxrss_kib()
    summary = summary.sort_index()
    np.savez(
        args.out,
        customer_ids=summary.index.to_numpy(dtype=np.int64),
        frequency=summary["frequency"].to_numpy(dtype=np.float64),
        recency=summary["recency"].to_numpy(dtype=np.float64),
        T=summary["T"].to_numpy(dtype=np.float64),
        monetary=summary["monetary_value"].to_numpy(dtype=np.float64),
    )
    return {
        "seconds": seconds,
        "cpu": cpu,
        "transactions": int(frame.shape[0]),
        "customers": int(summary.shape[0]),
        "rss_before_inputs_kib": rss_before_inputs,
        "peak_before_inputs_kib": peak_before_inputs,
        "rss_after_inputs_kib": rss_after_inputs,
        "peak_kib": peak,
        "ru_maxrss_kib": ru_peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("versions")
    fit = sub.add_parser("fit")
    fit.add_argument("--data", required=True)
    fit.add_argument("--model", choices=("bgnbd", "paretonbd"), required=True)
    fit.add_argument("--weighted", action="store_true")
    fit.add_argument("--repeat", type=int, default=1)
    rfm = sub.add_parser("rfm")
    rfm.add_argument("--data", required=True)
    rfm.add_argument("--observation-end", required=True)
    rfm.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "versions":
        result: dict[str, object] = _versions()
    elif args.cmd == "fit":
        result = cmd_fit(args)
    else:
        result = cmd_rfm(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
