"""What `meta: {metricsctl: {...}}` may say, and where: the keys metricsctl reads from a semantic model, a saved
query and a dbt model, read and checked in one place.

A key metricsctl does not know is a typo until shown otherwise (`lookbak_days: 10` would leave a saved query's
nightly bound at the default, and `always_bulid: true` would let a model that reads the clock be kept as it
is), so it is reported with its file and line, never ignored; so is a value of the wrong kind (`incremental:
"false"` reads as true). A name's own rules (a lookback column must be an identifier, a record must name a
model of the project) are checked by the key's reader, whose message says what it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metricsctl.errors import LocatedSpecError
from metricsctl.spec import suggest


class SettingsError(LocatedSpecError):
    """Settings metricsctl does not read, each already located at its file and line."""


DAYS = "a whole number of days (0 or more)"
FLAG = "true or false"
NAME = "a name"

SEMANTIC_MODEL_KEYS: Mapping[str, str] = {
    "lookback_days": DAYS,  # a load changes its rows only this far back (materialize.py, `_bounded_metrics`)
    "rewritten_record": NAME,  # the model recording the days its table was rewritten from
    "group_rows_first": FLAG,  # rows grouped before dimensions are joined (compiler/render.py)
}
SAVED_QUERY_KEYS: Mapping[str, str] = {
    "incremental": FLAG,  # its exports rebuild only their recent periods
    "lookback_days": DAYS,
}
MODEL_KEYS: Mapping[str, str] = {
    "lookback_column": NAME,  # a table stored by date rebuilds its days from the latest minus lookback_days
    "lookback_days": DAYS,
    "rewritten_column": NAME,  # the column by which its runs say which rows they rewrote
    "always_build": FLAG,  # built at every run: it reads what the build's state does not see
}


def read(meta: Any) -> Mapping[str, Any]:
    """The `metricsctl` settings of a `meta` mapping: empty when there are none, or when they are not a mapping
    (which `problems` reports)."""
    settings = meta.get("metricsctl") if isinstance(meta, Mapping) else None
    return settings if isinstance(settings, Mapping) else {}


def of_object(config: Any) -> Mapping[str, Any]:
    """The `metricsctl` settings of a parsed element's config (a semantic model's `config.meta`)."""
    return read(getattr(config, "meta", None) if config is not None else None)


def of_node(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `metricsctl` settings of a node of dbt's manifest.json (its `config.meta`)."""
    config = node.get("config")
    return read(config.get("meta") if isinstance(config, Mapping) else None)


def problems(meta: Any, keys: Mapping[str, str]) -> list[str]:
    """What is wrong with the `metricsctl` settings of `meta`, one message each: unknown keys (with the known
    ones they are close to) and values of the wrong kind."""
    return [message for _, message in keyed_problems(meta, keys)]


def keyed_problems(meta: Any, keys: Mapping[str, str]) -> list[tuple[str, str]]:
    """`problems`, each with the key it is about (`metricsctl` itself when the settings are no mapping)."""
    settings = meta.get("metricsctl") if isinstance(meta, Mapping) else None
    known = ", ".join(keys)
    if settings is None:
        return []
    if not isinstance(settings, Mapping):
        return [("metricsctl", f"meta.metricsctl must be a mapping of settings ({known}), not {settings!r}")]
    found: list[tuple[str, str]] = []
    for key, value in settings.items():
        if key not in keys:
            found.append((str(key), f"meta.metricsctl: unknown key '{key}'; the keys here are {known}"
                                    f"{suggest(str(key), list(keys))}"))
        elif not _fits(value, keys[key]):
            found.append((str(key), f"meta.metricsctl.{key} must be {keys[key]}, not {value!r}"))
    return found


def line_in(path: Path, key: str) -> int | None:
    """The first line of a file where `key` is written as a word (a dbt model's settings may be in its SQL's
    `config()`, its properties YAML or dbt_project.yml, which the manifest does not locate), if any."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])")
    return next((n for n, line in enumerate(lines, 1) if word.search(line)), None)


def _fits(value: Any, kind: str) -> bool:
    if kind == FLAG:
        return isinstance(value, bool)
    if kind == DAYS:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return True  # a name: its reader checks what it names
