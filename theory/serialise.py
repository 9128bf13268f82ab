"""One serialiser: any result of this package as JSON-ready Python values.

Frozen dataclasses become dicts (field order kept), tuples lists, numpy scalars and 0-d arrays
Python numbers, numpy arrays lists, paths strings, and non-finite floats None (JSON has no NaN or
infinity: `json.dumps(..., allow_nan=False)` must accept the result).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """value as nested dicts, lists, str, int, float (finite), bool and None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value
