"""The fit of a customer file before it is imported: how much each of its rows looks like the
customers who bring the revenue, with the same model the nightly refresh scores prospects with
(:func:`cartera.pipeline.services.fit_model`), so a purchased list can be judged before it is bought
into the portfolio for good.

Answers the ``import_rows_fit`` hook, fired by the dry run of a customer file (the imports app sits
below this one). One pass, in arrays: the distinct values of each column are cleaned once
(:func:`cartera.pipeline.services.fit_table`), the scores come from
:meth:`customerbase.fit.ProspectFit.score` on the whole table, and only the top rows are explained. A file of 100,000 rows takes about 0.6 s of CPU (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.utils import timezone

from cartera.pipeline.selectors import fit_reasons
from cartera.pipeline.services import fit_model, fit_table

#: The bands of the distribution: 0-20, 20-40, 40-60, 60-80, 80-100 (a score of 20 is in 20-40).
BAND_WIDTH = 20
BANDS = 5
#: How many of the best-fitting rows the report names, with their reasons.
TOP_ROWS = 10


def import_rows_fit(
    *, columns: Mapping[str, Sequence[Any]], numbers: Sequence[int], top: int = TOP_ROWS
) -> dict[str, Any] | None:
    """The fit distribution of a file's rows: how many fall in each 20-point band of the score, the
    average, and the ``top`` best rows (their row numbers, scores and reasons, no names: the report is
    kept after the file is deleted). ``None`` for no rows; ``{"scored": False}`` when the portfolio
    has too few paying customers to learn from."""
    count = len(numbers)
    if not count:
        return None
    today = timezone.localdate()
    model = fit_model(today)
    if model is None:
        return {"rows": count, "scored": False}
    table = fit_table(
        {
            "sector": columns["sector"],
            "region": columns["region"],
            "size": [None] * count,  # a file names no company size
            "source": columns["source"],
            "birth_date": columns["birth_date"],
        },
        today,
    )
    scores = model.score(table)
    rounded = np.rint(scores).astype(int)
    per_band = np.bincount(np.minimum(rounded // BAND_WIDTH, BANDS - 1), minlength=BANDS)
    best = np.argsort(-scores, kind="stable")[:top]
    explained = model.explain(table[best], top=3)
    return {
        "rows": count,
        "scored": True,
        "average": round(float(scores.mean())),
        "bands": [
            {
                "low": band * BAND_WIDTH,
                "high": (band + 1) * BAND_WIDTH,
                "count": int(per_band[band]),
                "percent": round(100 * int(per_band[band]) / count),
            }
            for band in range(BANDS)
        ],
        "top": [
            {
                "row": int(numbers[int(index)]),
                "score": int(rounded[int(index)]),
                "why": fit_reasons([[c.feature, c.value, c.weight] for c in why]),
            }
            for index, why in zip(best, explained, strict=True)
        ],
    }
