"""Values as strict JSON: what every `--json` output and run record is written through.

Python's json module writes `Infinity` and `NaN` for non-finite floats, which no JSON parser accepts
(a derived metric divided by zero is infinite on DuckDB): they become `null`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Callable
from typing import Any


def _null(_: float) -> Any:
    return None


def jsonable(value: Any, nonfinite: Callable[[float], Any] = _null) -> Any:
    """Warehouse values (dates, decimals, UUIDs, bytes) as JSON values; non-finite floats via `nonfinite`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else nonfinite(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return nonfinite(float(value))
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, nonfinite) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def dumps(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `value` (never `Infinity` or `NaN`)."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False)
