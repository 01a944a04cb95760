"""Generated models kept under target/, each with the digest of exactly what it was compiled from.

`metricsctl compile` after an edit of one metric need not compile the 200 exports that do not read it.
Each export and `metric_values` is stored with a digest (sha256) of everything its compile reads:
- the code that compiles it: every source file of metricsctl, sqlglot's release and build (pure Python or
  compiled), and the cache's format;
- the project around it: the dialect it is written in and the one the spec's SQL is read in, the generated
  folder, the `ref()` call (from dbt's manifest) of each relation the spec names;
- the spec it reads: every semantic model and the project configuration (time spines), which any query may
  join or step along; for an export its saved query (with its location, written in the model's header, and
  the `meta.metricsctl` options and schema of its dbt node) and every metric it reaches, its own and their
  inputs, transitively (any name a metric or a saved query mentions counts as reached, and any text with
  the word `Metric`, as a filter calling `Metric(...)` has, reaches every metric); for `metric_values`
  every metric.
A metric's `label` and `description` are left out: the compiler of queries never reads them (only
`metric_catalog` does, which is compiled every time, with the scorecards). A model is served from the
cache only when its digest is the one stored with it; anything else, or a damaged file, compiles it again.
The file is JSON (data, never code), written through a temporary file and `os.replace`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import metricsctl

MODELS_CACHE_FILE = "metricsctl_models.json"
FORMAT = "1"  # raise when the stored entries' shape changes
DISPLAY_ONLY = ("label", "description")  # fields of a metric that only metric_catalog reads
_METRIC_CALL = re.compile(r"\bMetric\b")  # the word alone, however the call is spaced


def _digest(*parts: str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def code_digest() -> str:
    """What writes the SQL: metricsctl's source files, sqlglot's release and build, the cache format."""
    import sqlglot
    from sqlglot import expressions

    package = Path(metricsctl.__file__).parent
    hasher = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        hasher.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    built = Path(str(getattr(expressions, "__file__", ""))).suffix  # .py, or a compiled extension
    return _digest(FORMAT, metricsctl.__version__, hasher.hexdigest(), str(getattr(sqlglot, "__version__", "")), built,
                   sys.version.split()[0])


def _strings(value: Any, found: list[str]) -> list[str]:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _strings(item, found)
    return found


class ModelDigests:
    """The digest of each cacheable model of one spec, for one dialect and project."""

    def __init__(self, spec: Any, common: dict[str, Any], refs: dict[str, str]) -> None:
        """`common`: what every model of the project reads besides the spec (dialects, folder); `refs`: the
        `ref()` call of each warehouse relation dbt knows."""
        from metricsctl.spec_cache import _plain

        manifest = spec.manifest
        self._metrics: dict[str, dict[str, Any]] = {}
        for metric in manifest.metrics:
            plain = _plain(metric)
            for field in DISPLAY_ONLY:
                plain.pop(field, None)
            self._metrics[metric.name] = plain
        self._metric_json = {name: _json(plain) for name, plain in self._metrics.items()}
        self._reached: dict[str, list[str]] = {}  # metric -> the names it mentions that are metrics
        self._calls_metric: set[str] = set()  # metrics with a filter that calls Metric(...)
        for name, plain in self._metrics.items():
            self._reached[name], calls = self._mentions(plain)
            if calls:
                self._calls_metric.add(name)
        self._plain = _plain
        self._spec = spec
        models = [_plain(m) for m in manifest.semantic_models]
        configuration = _plain(manifest.project_configuration)
        # the relations a query reads are the semantic models' and the time spines': only their ref() calls
        # reach the SQL (the generated models themselves become dbt nodes after the first compile)
        named = set(_strings([models, configuration], []))
        used_refs = {relation: call for relation, call in refs.items() if relation in named}
        self.base = _digest(code_digest(), _json(common), _json(used_refs), _json(models), _json(configuration))

    def _mentions(self, plain: Any) -> tuple[list[str], bool]:
        """The metrics `plain` names, and whether a text in it has the word `Metric` (a filter's
        `Metric(...)` call, which may name any)."""
        texts = _strings(plain, [])
        return [t for t in texts if t in self._metrics], any(_METRIC_CALL.search(t) for t in texts)

    def _closure(self, names: list[str], calls_metric: bool) -> list[str]:
        if calls_metric:
            return sorted(self._metrics)
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self._calls_metric:
                return sorted(self._metrics)
            todo += self._reached[name]
        return sorted(seen)

    def export(self, saved: Any, export_name: str, extra: dict[str, Any]) -> str:
        """An export's digest; `extra`: what else it reads about the saved query (location, dbt's options)."""
        plain = self._plain(saved)
        names, calls_metric = self._mentions(plain)
        reached = self._closure(names, calls_metric)
        return _digest(self.base, "export", export_name, _json(plain), _json(extra),
                       *[self._metric_json[n] for n in reached])

    def metric_values(self) -> str:
        return _digest(self.base, "metric_values", *[self._metric_json[n] for n in sorted(self._metric_json)])

    def scorecards(self, config: Any) -> str:
        """metric_attainment's and scorecards' digest: the scorecard's configuration (a dataclass, with the file
        and line it was read from) and every metric but its display fields."""
        return _digest(self.base, "scorecards", _json(dataclasses.asdict(config)),
                       *[self._metric_json[n] for n in sorted(self._metric_json)])

    def metric_catalog(self, with_attainment: bool) -> str:
        """metric_catalog's digest: every metric whole (labels and descriptions too) and where each is defined."""
        shown: dict[str, list[Any]] = {}
        for metric in self._spec.manifest.metrics:
            found = self._spec.locations.find("metrics", metric.name)
            shown[metric.name] = [[getattr(metric, f, None) for f in DISPLAY_ONLY],
                                  [found.path, found.line] if found else None]
        return _digest(self.base, "metric_catalog", _json(with_attainment), _json(shown),
                       *[self._metric_json[n] for n in sorted(self._metric_json)])


class ModelStore:
    """The models of one compile read from and written to `path`: entries by `dialect/name`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stored: dict[str, list[str]] = {}
        self._kept: dict[str, list[str]] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("models"), dict):
                self._stored = {k: v for k, v in data["models"].items()
                                if isinstance(v, list) and len(v) == 5 and all(isinstance(s, str) for s in v)}

    def get(self, key: str, digest: str) -> tuple[str, str, str, str] | None:
        """(path, header, config, body) stored for `key` with this digest; None otherwise."""
        entry = self._stored.get(key)
        if entry is None or entry[0] != digest:
            return None
        self._kept[key] = entry
        return entry[1], entry[2], entry[3], entry[4]

    def put(self, key: str, digest: str, model: tuple[str, str, str, str]) -> None:
        self._kept[key] = [digest, *model]

    def write(self) -> None:
        """Keep the models of this compile (and only those); a folder that cannot be written costs time only."""
        if self._kept == self._stored:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump({"format": FORMAT, "models": self._kept}, f)
                os.chmod(temporary, 0o644)
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
