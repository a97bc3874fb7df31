"""Array type aliases shared by the modules of :mod:`customerbase` (see Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]
AnyArray = npt.NDArray[Any]
ArrayLike = npt.ArrayLike

__all__ = ["AnyArray", "ArrayLike", "BoolArray", "DateArray", "FloatArray", "IntArray"]
