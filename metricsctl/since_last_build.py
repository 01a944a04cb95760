"""The rows a nightly build wrote: what its dbt tests and expectation suites check on an incremental relation.

An incremental model's run appends or replaces the rows loaded since its last run (the demo's staging of its
large facts: `loaded_at >= max(loaded_at)` of the table). Before a nightly `metricsctl build` runs dbt, the
newest value of each such relation's load column is read: its *bound*. Checks that ask for it see only the
rows at or after the bound, which are the rows the build brings:

- a dbt test whose `config: where:` names `rows_since_last_build(loaded_at)` checks those rows;
  `keys_since_last_build(order_line_id, loaded_at)` checks every row sharing an `order_line_id` with one of
  them (for `unique`: a new row that repeats an old row's key is caught, whatever the merge deleted);
- an expectation suite with `rows_since_last_build: loaded_at` validates its row-by-row expectations on
  those rows, its uniqueness expectations on the rows sharing a key with them, and its table-level and
  aggregate expectations (row count, freshness, mean, ...) on the whole table (expectations/batches.py).

A model stored by date whose source carries no load time (`config(meta={'metricsctl': {'lookback_column':
'traffic_date', 'lookback_days': 10}})`, the demo's staging of store traffic, campaign spend and inventory
balances) rebuilds its days from the latest one it holds minus its lookback (macros/portable.sql): the bound
of that column is that day, so its checks see every day the build rewrote, late rows included.

A model whose runs choose the rows they rewrite by comparing the table with its sources (the demo's
`fct_headcount_daily`: the new days, and a corrected employee's days from the first that changed) has no
bound before the build: its config's `meta: {metricsctl: {rewritten_column: date_day}}` says so, and its run
says from which day it rewrote rows (`announce_rewritten`, macros/checks.sql, a line of dbt's log that
`metricsctl build` hears while dbt runs, before the model's tests start): that day is its bound.

A relation that is not incremental on this target (a view, a table rebuilt in full, Spark's staging), an
empty or missing one (a first build), `--full-refresh`, and `dbt test` or `metricsctl check` run by hand
check the whole table. The bounds reach dbt's tests through one environment variable that the project's
`get_where_subquery` macro reads (macros/checks.sql): the test SQL gets a literal, never a subquery.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from metricsctl import settings
from metricsctl.errors import IssuesError, SpecIssue, WarehouseError

if TYPE_CHECKING:
    from metricsctl.expectations.spec import Suite
    from metricsctl.profiles import Target
    from metricsctl.warehouse import Warehouse

ENV = "METRICSCTL_SINCE_LAST_BUILD"
#: how a model's run says the first value of a column it rewrote (macros/checks.sql: announce_rewritten)
ANNOUNCED = "metricsctl_rewritten "
#: `rows_since_last_build(column)` and `keys_since_last_build(key, column)` in a dbt test's `where`
TOKEN = re.compile(r"\b(rows|keys)_since_last_build\s*\(([^()]*)\)")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Value = dt.datetime | dt.date | int


class SinceLastBuildError(IssuesError):
    """A `rows_since_last_build` / `keys_since_last_build` setting that cannot work, with file and line."""

    subject = "the checks of a nightly build"


@dataclass(frozen=True)
class Bound:
    """The newest value of a relation's load column before this build: rows at or after it are the build's."""

    column: str
    value: Value

    @property
    def kind(self) -> str:
        if isinstance(self.value, dt.datetime):
            return "timestamp"
        return "date" if isinstance(self.value, dt.date) else "integer"

    def text(self) -> str:
        if isinstance(self.value, dt.datetime):
            value = self.value
            if value.tzinfo is not None:  # a time zone's time: as UTC, the literal every engine reads alike
                value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return value.isoformat(sep=" ")
        return self.value.isoformat() if isinstance(self.value, dt.date) else str(self.value)

    def literal(self) -> exp.Expression:
        """The bound as a typed SQL literal."""
        if self.kind == "integer":
            return exp.Literal.number(self.text())
        return exp.cast(exp.Literal.string(self.text()), self.kind)

    def condition(self, table: exp.Expression | None = None) -> exp.Expression:
        """`column >= bound` (the rows loaded since the last build)."""
        column = exp.column(self.column, quoted=True)
        if table is not None:
            column.set("table", table)
        return exp.GTE(this=column, expression=self.literal())


@dataclass(frozen=True)
class Request:
    """A check asks for the rows of `unique_id` since the last build, by its load `column`."""

    unique_id: str
    column: str


def where_requests(manifest: Mapping[str, Any], project_dir: Path) -> list[Request]:
    """What the project's dbt tests ask for in their `where`; a malformed token raises with file and line."""
    requests: list[Request] = []
    issues: list[SpecIssue] = []
    for node in (manifest.get("nodes") or {}).values():
        if node.get("resource_type") != "test":
            continue
        where = (node.get("config") or {}).get("where")
        if not isinstance(where, str) or "_since_last_build" not in where:
            continue
        parent = node.get("attached_node") or next(iter((node.get("depends_on") or {}).get("nodes") or []), None)
        for match in TOKEN.finditer(where):
            args = [a.strip() for a in match.group(2).split(",")]
            want = 1 if match.group(1) == "rows" else 2
            if len(args) != want or not all(IDENTIFIER.match(a) for a in args):
                example = "rows_since_last_build(loaded_at)" if want == 1 else \
                    "keys_since_last_build(order_line_id, loaded_at)"
                issues.append(_issue(project_dir, node, match.group(0),
                                     f"`{match.group(0)}` in test {node.get('name')}'s `where` takes "
                                     f"{'a column' if want == 1 else 'a key column and a load column'} "
                                     f"by name, e.g. {example}"))
            elif parent:
                requests.append(Request(str(parent), args[-1]))
    if issues:
        raise SinceLastBuildError(issues)
    return requests


def _issue(project_dir: Path, node: Mapping[str, Any], text: str, message: str) -> SpecIssue:
    """An issue at the line of the test's YAML file that holds `text` (dbt records no line for a test)."""
    relative = str(node.get("original_file_path") or "")
    line = None
    path = project_dir / relative
    if relative and path.is_file():
        for number, content in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if text in content:
                line = number
                break
    return SpecIssue(message, relative or None, line)


def incremental(manifest: Mapping[str, Any], unique_id: str) -> bool:
    """Whether dbt builds the node incrementally on the target the manifest was parsed for."""
    node = (manifest.get("nodes") or {}).get(unique_id) or {}
    return (node.get("config") or {}).get("materialized") == "incremental"


def read_bounds(requests: Iterable[Request], manifest: Mapping[str, Any],
                warehouse: Warehouse) -> dict[str, dict[str, Bound]]:
    """unique_id -> load column -> its bound, for each incremental relation asked for that holds rows.

    `warehouse` is as it is before the build; a relation it cannot read (not built yet) has no bound, so its
    checks see the whole table."""
    from metricsctl.expectations.relations import RelationResolver

    wanted: dict[str, list[str]] = {}
    for request in requests:
        if incremental(manifest, request.unique_id) and not rewritten_column(manifest, request.unique_id):
            columns = wanted.setdefault(request.unique_id, [])
            if request.column not in columns:
                columns.append(request.column)
    resolver = RelationResolver(manifest)
    bounds: dict[str, dict[str, Bound]] = {}
    for unique_id, columns in sorted(wanted.items()):
        relation = resolver.resolve(unique_id)
        query = exp.select(*(exp.Max(this=exp.column(c, quoted=True)) for c in columns)).from_(relation.table())
        try:
            row = warehouse.execute(query.sql(warehouse.dialect)).rows[0]
        except WarehouseError:
            continue  # a first build: the relation is not there yet
        back = lookback(manifest, unique_id)
        found: dict[str, Bound] = {}
        for column, value in zip(columns, row):
            if back is not None and column != back[0]:
                raise SinceLastBuildError([SpecIssue(
                    f"a check of {unique_id} asks for the rows since the last build by '{column}', but its runs "
                    f"rebuild the days of '{back[0]}' from the latest minus {back[1]}: name '{back[0]}'")])
            if value is not None:
                found[column] = Bound(column, _back(_value(value, unique_id, column), back[1]) if back
                                      else _value(value, unique_id, column))
        if found:
            bounds[unique_id] = found
    return bounds


def rewritten_column(manifest: Mapping[str, Any], unique_id: str) -> str | None:
    """The column by which a model's runs say which rows they rewrote (its bound comes from the run, not
    from the table before the build), or None."""
    node = (manifest.get("nodes") or {}).get(unique_id) or {}
    column = settings.of_node(node).get("rewritten_column")
    if column is None:
        return None
    if not (isinstance(column, str) and IDENTIFIER.match(column)):
        raise SinceLastBuildError([SpecIssue(
            f"{unique_id}: meta.metricsctl.rewritten_column names the date column by which its runs say which "
            f"rows they rewrote, e.g. {{rewritten_column: date_day}}; found {column!r}",
            node.get("original_file_path") or None)])
    return column


def lookback(manifest: Mapping[str, Any], unique_id: str) -> tuple[str, int] | None:
    """(date column, days) of a model whose runs rebuild the days from the latest it holds minus `days`.

    Its config's `meta: {metricsctl: {lookback_column: traffic_date, lookback_days: 10}}`, which the model's
    own runs read too (macros/portable.sql); a malformed one raises."""
    node = (manifest.get("nodes") or {}).get(unique_id) or {}
    found = settings.of_node(node)
    if "lookback_column" not in found and "lookback_days" not in found:
        return None
    column, days = found.get("lookback_column"), found.get("lookback_days")
    if not (isinstance(column, str) and IDENTIFIER.match(column)) or isinstance(days, bool) \
            or not isinstance(days, int) or days < 0:
        raise SinceLastBuildError([SpecIssue(
            f"{unique_id}: meta.metricsctl needs `lookback_column` (the date column its runs rebuild by) and "
            f"`lookback_days` (a whole number of days), e.g. {{lookback_column: traffic_date, lookback_days: 10}}; "
            f"found {dict(found)}", node.get("original_file_path") or None)])
    return column, days


def _back(value: Value, days: int) -> Value:
    """The first day a run that rebuilds `days` days back from `value`, the latest it holds, rewrites."""
    if isinstance(value, dt.datetime):  # the model casts its bound to a date: the rows from that midnight
        return (value - dt.timedelta(days=days)).date()
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=days)
    raise SinceLastBuildError([SpecIssue(f"a lookback of {days} days is for a date or timestamp column, not a "
                                         f"number ({value})")])


def _value(value: Any, unique_id: str, column: str) -> Value:
    if isinstance(value, (dt.datetime, dt.date)) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise SinceLastBuildError([SpecIssue(
        f"the load column '{column}' of {unique_id} holds {type(value).__name__} values: a build's rows are "
        "told by a timestamp, date or whole-number column (e.g. loaded_at); name such a column")])


def encode(bounds: Mapping[str, Mapping[str, Bound]]) -> str:
    """The bounds as macros/checks.sql reads them: {unique_id: {column: [kind, value]}}."""
    return json.dumps({uid: {c: [b.kind, b.text()] for c, b in columns.items()} for uid, columns in bounds.items()},
                      sort_keys=True)


_LISTENING: list[dict[str, dict[str, Bound]]] = []  # the bounds of the build whose dbt runs are heard


@contextlib.contextmanager
def dbt_tests_see(bounds: dict[str, dict[str, Bound]]) -> Iterator[None]:
    """While the block runs, dbt's tests (run in this process) check the rows since these bounds, and the
    bounds a model's run announces (`hear`) are added to them."""
    before = os.environ.get(ENV)
    os.environ[ENV] = encode(bounds)
    _LISTENING.append(bounds)
    try:
        yield
    finally:
        _LISTENING.pop()
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def hear(message: str) -> None:
    """A line of dbt's log: when it is a model's `announce_rewritten`, its bound is added to the build's
    bounds (and to what dbt's tests read) before the model's tests run. Outside a build it is ignored."""
    if not message.startswith(ANNOUNCED) or not _LISTENING:
        return
    try:
        said = json.loads(message[len(ANNOUNCED):])
        unique_id, column = str(said["unique_id"]), str(said["column"])
        value = dt.date.fromisoformat(str(said["value"]))
    except (ValueError, KeyError, TypeError):
        raise SinceLastBuildError([SpecIssue(f"a model said which rows it rewrote in a form metricsctl does not "
                                             f"read: {message!r}")]) from None
    bounds = _LISTENING[-1]
    bounds.setdefault(unique_id, {})[column] = Bound(column, value)
    _tell_dbt(encode(bounds))


def _tell_dbt(encoded: str) -> None:
    """Hand new bounds to the dbt run under way. dbt's `env_var()` reads the environment as it was when the
    run started (its invocation context, shared by its threads), so that copy is updated too; where it cannot
    be, the tests check the whole table, as `dbt test` run by hand does."""
    os.environ[ENV] = encoded
    try:
        from dbt_common.context import get_invocation_context

        env = get_invocation_context().env
    except (ImportError, LookupError):
        return
    if isinstance(env, MutableMapping):
        env[ENV] = encoded


def bounds_before_build(manifest: Mapping[str, Any], project_dir: Path, suites: Iterable[Suite],
                        target: Target) -> dict[str, dict[str, Bound]]:
    """The bounds the project's tests and suites ask for, read from `target` before dbt writes to it."""
    requests = [*where_requests(manifest, project_dir),
                *(Request(s.relation.unique_id, s.rows_since) for s in suites if s.rows_since and s.relation.unique_id)]
    if not any(incremental(manifest, r.unique_id) for r in requests):
        return {}  # nothing incremental here (Spark rebuilds its tables): no need to open the warehouse
    from metricsctl.runner import release_duckdb
    from metricsctl.warehouse import connect

    release_duckdb()
    try:
        warehouse = connect(target, project_dir, read_only=True)
    except WarehouseError:
        return {}  # a first build: no warehouse yet, every check sees the whole table
    try:
        return read_bounds(requests, manifest, warehouse)
    finally:
        warehouse.close()


def suite_bounds(suites: Iterable[Suite], bounds: Mapping[str, Mapping[str, Bound]]) -> dict[str, Bound]:
    """Suite name -> the bound of its relation's load column, for the suites that have one."""
    found: dict[str, Bound] = {}
    for suite in suites:
        bound = bounds.get(suite.relation.unique_id or "", {}).get(suite.rows_since or "")
        if bound is not None:
            found[suite.name] = bound
    return found
