"""What a build can leave as it is: the relations whose definition and inputs are those of the last build.

Each build records, in the warehouse table `metricsctl_build_state`, a *state key* for each model, seed, dbt
test and expectation suite it built or ran without a failure (marked when it warned). A node's key is a digest
of:

- the node itself: dbt's checksum of its file, its config and the relation it writes;
- what every node shares: the dbt version, the target, the project's `vars`, the `DBT_` and `METRICSCTL_`
  environment variables, and the code of every macro;
- the keys of its parents, down to the seeds and sources, whose key also holds their rows: the count and the
  sum of a hash of every row (one query for all of them before the build).

A suite's key digests its expectations and the keys of the relations they read.

The next `metricsctl build` computes the keys again. A model or seed whose key is the one recorded, and which
passed then, is left out of both dbt runs with its dbt tests: rebuilt from the same inputs by the same code it
would hold the same rows, and its checks would say what they said. A node stays in the build when:

- a test of it is new, changed, warned last time or reads a node that changed (a `relationships` test from new
  orders to unchanged customers runs, so the customers are built too: dbt leaves out the tests of a node it
  leaves out; the customers' own tests, which passed on the same rows, are left out by name);
- it or a macro it calls reads the clock (`run_started_at`, `current_date`, `now()`, ...), or is a snapshot,
  or says `meta: {metricsctl: {always_build: true}}`; so does everything built from it;
- its relation is missing from the warehouse (then everything is built), or the last build did not record it
  (a first build, a failure, a restore);
- the build is a `--full-refresh`.

A suite runs whole unless its key is the one recorded; of such a suite only the freshness checks run
(`max_age_days`: they move with the run's `as_of` date), and those that warned last time (each recorded apart:
`suite:<name>#<digest of the expectation>`), nothing when there are none. An expectation that passed on the same
rows passes again; one that warned is run again, so that the build reports it.

A seed dbt loads is recorded once loaded, so a seed whose file and table are unchanged is not loaded again.
The state is written with the warehouse it describes: into the candidate DuckDB file before it is published,
and on PostgreSQL and Spark once the candidate schemas are published (a build killed in between leaves no
state, and the next build builds everything).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from metricsctl import settings
from metricsctl.errors import WarehouseError

if TYPE_CHECKING:
    from metricsctl.expectations import ExpectationSpec, Suite
    from metricsctl.profiles import Target
    from metricsctl.warehouse import Warehouse

STATE_TABLE = "metricsctl_build_state"
BUILDABLE = ("model", "seed")
#: what makes a model's rows depend on when it runs, in its code or a macro it calls
CLOCK = re.compile(r"\b(?:run_started_at|invocation_id|current_date|current_timestamp|localtimestamp|sysdate|"
                   r"modules\.datetime|modules\.time)\b|\b(?:now|getdate)\s*\(", re.IGNORECASE)
#: environment variables that say how dbt talks, not what it builds
NEUTRAL_ENV = frozenset({"DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_QUIET", "DBT_LOG_LEVEL", "DBT_NO_PRINT",
                         "METRICSCTL_SINCE_LAST_BUILD", "METRICSCTL_PROJECT_DIR", "DBT_PROFILES_DIR"})
#: where comments start, which may name the clock without reading it, and where each kind ends
_COMMENT_OPENS = re.compile(r"\{#|/\*|--")
_COMMENT_CLOSES = {"{#": "#}", "/*": "*/", "--": "\n"}
ROW = "metricsctl_row"
State = dict[str, tuple[str, bool]]  # unique_id -> (state key, whether its checks all passed)
INSERT_CHUNK = 500
COLUMNS = {"unique_id": "text", "state_key": "text", "passed": "boolean"}


@dataclass(frozen=True)
class Unchanged:
    """The nodes a build leaves as they are, and what it needs to record the state after it."""

    keys: dict[str, str] = field(default_factory=dict)  # unique_id -> state key now
    recorded: dict[str, str] = field(default_factory=dict)  # unique_id -> state key the last build recorded
    passed: frozenset[str] = frozenset()  # recorded nodes whose checks all passed (no warning)
    skipped: frozenset[str] = frozenset()  # models and seeds left out of the build
    selectors: tuple[str, ...] = ()  # `dbt build --exclude` arguments for them, and for the tests left out

    def building(self, selectors: Mapping[str, str]) -> Unchanged:
        """The same, but for the nodes of `selectors` (unique_id -> its `fqn:` selector), which the build builds."""
        left_out = set(selectors.values())
        return dataclasses.replace(self, skipped=self.skipped - set(selectors),
                                   selectors=tuple(s for s in self.selectors if s not in left_out))

    def same(self, uid: str | None) -> bool:
        """Whether the node holds the rows of its inputs and code now (its key is the one recorded)."""
        return uid is not None and uid in self.keys and self.recorded.get(uid) == self.keys[uid]

    def passing(self, uid: str | None) -> bool:
        """Whether the node or suite is as the last build recorded it, and passed its checks then."""
        return self.same(uid) and uid in self.passed

    def suites(self, suites: Sequence[Suite]) -> list[Suite]:
        """The suites the build runs, each with the expectations it runs: the whole suite, but for one run last
        time on the same rows, as it reads them now. Of that one only the freshness checks run (`max_age_days`,
        which moves with the run's as_of date) and the expectations that warned then, nothing when there are
        none. (A suite that warned before its expectations were recorded apart runs whole.)"""
        kept: list[Suite] = []
        for suite in suites:
            uid = suite_id(suite.name)
            # the expectations that warned (recorded only when the suite warned, never as passed)
            again = {r for r in self.recorded if r.partition("#")[0] == uid and "#" in r}
            if self.passing(uid):
                again = set()
            elif not (self.same(uid) and again):
                kept.append(suite)
                continue
            run = tuple(e for e in suite.expectations if moves_with_the_day(e)
                        or expectation_id(suite.name, e.name, e.kwargs) in again)
            if run:
                kept.append(dataclasses.replace(suite, expectations=run))
        return kept

    def state_after(self, built: Iterable[str], warned: Iterable[str], bad: Iterable[str]) -> State:
        """The state to record after the build: the key now of each node, test or suite it built, ran or
        skipped, but for those with a failure (`bad`: their rows are not those of their key), marked when it
        warned; every other one keeps what the last build recorded. `warned` may name expectations of a suite
        (`expectation_id`): each is recorded, under the suite's key, as warned; the expectations a suite that
        ran recorded before are dropped (those it ran again and that warned again are in `warned`)."""
        warnings = set(warned)
        ran = {uid for uid in built if uid in self.keys}
        state = {uid: (key, uid in self.passed) for uid, key in self.recorded.items()
                 if uid.partition("#")[0] not in ran or "#" not in uid}
        for uid in [*built, *self.skipped]:
            if uid in self.keys:
                state[uid] = (self.keys[uid], uid not in warnings)
        for uid in warnings:
            suite, mark, _ = uid.partition("#")
            if mark and suite in ran:
                state[uid] = (self.keys[suite], False)
        for uid in bad:
            for recorded in [r for r in state if r == uid or r.partition("#")[0] == uid]:
                state.pop(recorded, None)
        return state


def find_unchanged(manifest: Mapping[str, Any], warehouse: Warehouse, dialect: str, target: Target,
                   project_config: Mapping[str, Any], suites: Sequence[Suite], skip: bool) -> Unchanged:
    """The state keys of the manifest's nodes and of the suites, the state recorded by the last build, and
    (when `skip`) the models and seeds to leave out of this one."""
    nodes: dict[str, Mapping[str, Any]] = {**(manifest.get("sources") or {}), **(manifest.get("nodes") or {})}
    inputs = [uid for uid, node in nodes.items() if node.get("resource_type") in ("seed", "source")]
    rows = fingerprints(warehouse, dialect, {uid: nodes[uid] for uid in inputs})
    keys = state_keys(manifest, rows, shared_key(manifest, target, project_config))
    keys.update(suite_keys(suites, keys))
    state = read_state(warehouse, target.config.get("schema"), dialect)
    recorded = {uid: key for uid, (key, _) in state.items()}
    passed = frozenset(uid for uid, (_, ok) in state.items() if ok)
    found = Unchanged(keys, recorded, passed)
    if not skip or not recorded:
        return found
    candidates = {uid for uid in passed if uid in nodes and found.same(uid)
                  and nodes[uid].get("resource_type") in BUILDABLE
                  and (nodes[uid].get("config") or {}).get("materialized") != "ephemeral"}
    for uid, test in nodes.items():  # dbt leaves out every test of a node it leaves out: keep the node when a
        if test.get("resource_type") == "test" and not found.passing(uid):  # test of it must run (new, changed,
            candidates.difference_update((test.get("depends_on") or {}).get("nodes") or [])  # failed or warned)
    if candidates and not _exists_all(warehouse, dialect, [nodes[uid] for uid in sorted(candidates)]):
        return found  # a relation the state speaks of is gone: build everything
    # a test that passed on the same rows, of a node built only for another test's sake, is left out too
    checked = {uid for uid, test in nodes.items() if test.get("resource_type") == "test" and found.passing(uid)
               and not set((test.get("depends_on") or {}).get("nodes") or []) <= candidates}
    selectors = tuple(sorted("fqn:" + ".".join(nodes[uid]["fqn"]) for uid in candidates | checked))
    return Unchanged(keys, recorded, passed, frozenset(candidates), selectors)


# --- keys ----------------------------------------------------------------------------------------------
def shared_key(manifest: Mapping[str, Any], target: Target, project_config: Mapping[str, Any]) -> str:
    """What every node's rows depend on besides its own code and inputs."""
    digest = hashlib.sha256()
    macros = manifest.get("macros") or {}
    for uid in sorted(macros):
        digest.update(uid.encode() + b"\0" + str(macros[uid].get("macro_sql") or "").encode() + b"\0")
    env = sorted((k, v) for k, v in os.environ.items()
                 if k.startswith(("DBT_", "METRICSCTL_")) and k not in NEUTRAL_ENV)
    metadata = manifest.get("metadata") or {}
    digest.update(_dumps([metadata.get("dbt_version"), target.type, target.name,
                          {k: v for k, v in target.config.items() if k in ("schema", "database", "catalog")},
                          project_config.get("vars"), env]).encode())
    return digest.hexdigest()


def state_keys(manifest: Mapping[str, Any], fingerprints: Mapping[str, str | None], shared: str) -> dict[str, str]:
    """unique_id -> state key of every model, seed, source and dbt test whose key can be known: not one that
    reads the clock or is built every time, nor anything built from it."""
    nodes: dict[str, Mapping[str, Any]] = {**(manifest.get("sources") or {}), **(manifest.get("nodes") or {})}
    macros = manifest.get("macros") or {}
    keys: dict[str, str | None] = {}

    def key(uid: str) -> str | None:
        if uid in keys:
            return keys[uid]
        keys[uid] = None  # a cycle (none in a valid project) yields no key
        node = nodes[uid]
        kind = node.get("resource_type")
        if kind == "source" or (kind == "seed" and uid in fingerprints):
            found = fingerprints.get(uid)
            if found is None:
                return None
            own = [found, node.get("checksum"), node.get("config")] if kind == "seed" else [found]
            keys[uid] = _digest([shared, uid, own])
            return keys[uid]
        if kind not in ("model", "seed", "test") or _always_built(node, macros):
            return None
        parents = [p for p in (node.get("depends_on") or {}).get("nodes") or [] if p in nodes]
        parent_keys = [key(p) for p in sorted(parents)]
        if any(k is None for k in parent_keys):
            return None
        keys[uid] = _digest([shared, uid, node.get("checksum"), node.get("config"), node.get("database"),
                             node.get("schema"), node.get("alias"), node.get("raw_code") if kind == "test" else None,
                             node.get("test_metadata"), parent_keys])
        return keys[uid]

    for uid in nodes:
        key(uid)
    return {uid: k for uid, k in keys.items() if k is not None}


def moves_with_the_day(expectation: ExpectationSpec) -> bool:
    """Whether the expectation's outcome depends on the run's as_of date, not only on the rows: freshness."""
    from metricsctl.expectations.catalog import FRESHNESS, FRESHNESS_ARG

    return expectation.name == FRESHNESS and FRESHNESS_ARG in expectation.kwargs


def suite_id(name: str) -> str:
    """How the state names a suite."""
    return f"suite:{name}"


def expectation_id(suite: str, name: str, kwargs: Mapping[str, Any]) -> str:
    """How the state names an expectation of a suite: by what it checks (its name and arguments as written)."""
    return f"{suite_id(suite)}#{_digest([name, dict(kwargs)])[:16]}"


def suite_keys(suites: Sequence[Suite], keys: Mapping[str, str]) -> dict[str, str]:
    """suite id -> state key: its expectations as written, and the keys of the relations they read (none when
    one of those has none: a source that is not a dbt node, say)."""
    found: dict[str, str] = {}
    for suite in suites:
        relations = [suite.relation.unique_id, *(e.to.unique_id for e in suite.expectations if e.to is not None)]
        if any(uid is None or uid not in keys for uid in relations):
            continue
        found[suite_id(suite.name)] = _digest([suite.name, suite.severity, suite.rows_since,
                                               [keys[str(uid)] for uid in relations],
                                               [(e.name, e.kwargs, e.severity) for e in suite.expectations]])
    return found


def _always_built(node: Mapping[str, Any], macros: Mapping[str, Any]) -> bool:
    if settings.of_node(node).get("always_build"):
        return True
    if _reads_clock(node.get("raw_code")):
        return True
    seen: set[str] = set()
    pending = list((node.get("depends_on") or {}).get("macros") or [])
    while pending:
        uid = pending.pop()
        if uid in seen or uid not in macros:
            continue
        seen.add(uid)
        macro = macros[uid]
        if _reads_clock(macro.get("macro_sql")):
            return True
        pending.extend((macro.get("depends_on") or {}).get("macros") or [])
    return False


def _reads_clock(code: Any) -> bool:
    return CLOCK.search(without_comments(str(code or ""))) is not None


def without_comments(code: str) -> str:
    """`code` with each Jinja (`{# #}`), block (`/* */`) and line (`--`) comment replaced by a space, in one pass:
    an opening without its end stays text, and once one kind has no end left, its later openings are not
    searched for one again (a regular expression would, from each: time growing with the square of the text)."""
    parts: list[str] = []
    kept = searched = 0
    unclosed: set[str] = set()
    while (opening := _COMMENT_OPENS.search(code, searched)) is not None:
        kind, start = opening.group(0), opening.start()
        end = -1 if kind in unclosed else code.find(_COMMENT_CLOSES[kind], start + 2)
        if end < 0 and kind != "--":
            unclosed.add(kind)
            searched = start + 1
            continue
        end = len(code) if end < 0 else end + (0 if kind == "--" else 2)
        parts += [code[kept:start], " "]
        kept = searched = end
    parts.append(code[kept:])
    return "".join(parts)


def _digest(value: Any) -> str:
    return hashlib.sha256(_dumps(value).encode()).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- the warehouse -------------------------------------------------------------------------------------
def _relation(node: Mapping[str, Any]) -> exp.Table:
    name = node.get("identifier") or node.get("alias") or node.get("name")
    return exp.table_(exp.to_identifier(str(name), quoted=True),
                      db=exp.to_identifier(str(node["schema"]), quoted=True) if node.get("schema") else None,
                      catalog=exp.to_identifier(str(node["database"]), quoted=True) if node.get("database") else None)


def _row_hash(dialect: str) -> exp.Expression:
    """A 64-bit hash of a whole row of the relation aliased `metricsctl_row`, as a number to sum."""
    row = exp.column(ROW)
    if dialect == "postgres":
        return exp.Anonymous(this="HASHTEXTEXTENDED", expressions=[exp.cast(row, "text"), exp.Literal.number(0)])
    if dialect == "spark":
        return exp.cast(exp.Anonymous(this="XXHASH64", expressions=[exp.Star()]), "decimal(38, 0)")
    return exp.Anonymous(this="HASH", expressions=[row])


def _fingerprint_query(dialect: str, uid: str, node: Mapping[str, Any]) -> exp.Select:
    total = exp.Sum(this=_row_hash(dialect))
    return exp.select(exp.Literal.string(uid), exp.cast(exp.Count(this=exp.Star()), "text"),
                      exp.cast(exp.func("COALESCE", total, exp.Literal.number(0)), "text")).from_(
        exp.alias_(_relation(node), ROW, table=True))


def fingerprints(warehouse: Warehouse, dialect: str, nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """unique_id -> the count and a hash-sum of every row of each seed or source (None: it cannot be read)."""
    if not nodes:
        return {}
    queries = [_fingerprint_query(dialect, uid, node) for uid, node in sorted(nodes.items())]
    try:
        return _fingerprint_rows(warehouse.execute(exp.union(*queries, distinct=False).sql(dialect)).rows)
    except Exception:  # noqa: BLE001 - one relation missing fails the union: read each one on its own
        found: dict[str, str | None] = {}
        for query in queries:
            uid = query.expressions[0].name
            try:
                found.update(_fingerprint_rows(warehouse.execute(query.sql(dialect)).rows))
            except Exception:  # noqa: BLE001 - missing or unreadable: taken as changed
                found[uid] = None
        return found


def _fingerprint_rows(rows: Sequence[Sequence[Any]]) -> dict[str, str | None]:
    return {str(uid): f"{count}:{total}" for uid, count, total in rows}


def _exists_all(warehouse: Warehouse, dialect: str, nodes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every node's relation is in the warehouse (one query)."""
    if not nodes:
        return True
    queries = [exp.select(exp.Literal.number(1)).from_(_relation(node)).where(exp.false()) for node in nodes]
    try:
        warehouse.execute(exp.union(*queries, distinct=False).sql(dialect))
    except Exception:  # noqa: BLE001 - a missing relation fails the query
        return False
    return True


def _state_table(schema: str | None) -> exp.Table:
    return exp.table_(exp.to_identifier(STATE_TABLE, quoted=True),
                      db=exp.to_identifier(schema, quoted=True) if schema else None)


def read_state(warehouse: Warehouse, schema: str | None, dialect: str) -> State:
    """The state the last build recorded (empty: no state yet)."""
    query = exp.select(*COLUMNS).from_(_state_table(schema))
    try:
        rows = warehouse.execute(query.sql(dialect)).rows
    except Exception:  # noqa: BLE001 - no table yet (or one of another shape: built again, then recorded anew)
        return {}
    return {str(uid): (str(key), bool(passed)) for uid, key, passed in rows}


def write_state(warehouse: Warehouse, schema: str | None, dialect: str, state: State) -> None:
    """Replace the recorded state with `state`."""
    table = _state_table(schema)
    try:
        warehouse.execute(exp.Drop(tables=[table], kind="TABLE", exists=True).sql(dialect))
        warehouse.execute(exp.Create(this=exp.Schema(this=table, expressions=[
            exp.ColumnDef(this=exp.to_identifier(name), kind=exp.DataType.build(kind))
            for name, kind in COLUMNS.items()]), kind="TABLE").sql(dialect))
        items = sorted(state.items())
        for start in range(0, len(items), INSERT_CHUNK):
            values = exp.Values(expressions=[
                exp.Tuple(expressions=[exp.Literal.string(uid), exp.Literal.string(key), exp.Boolean(this=passed)])
                for uid, (key, passed) in items[start:start + INSERT_CHUNK]])
            warehouse.execute(exp.Insert(this=exp.Schema(this=table, expressions=[
                exp.to_identifier(name) for name in COLUMNS]), expression=values).sql(dialect))
    except Exception as exc:  # noqa: BLE001 - any client's error: say what failed
        raise WarehouseError(f"could not record the build's state in {STATE_TABLE}: {exc}") from None


def record(target: Target, project_dir: Path, state: State | None) -> None:
    """Write `state` into the target's warehouse (nothing when None)."""
    if state is None:
        return
    from metricsctl.warehouse import connect, release_duckdb_if_loaded

    release_duckdb_if_loaded()
    warehouse = connect(target, project_dir, read_only=False)
    try:
        write_state(warehouse, target.config.get("schema"), _dialect(target), state)
    finally:
        warehouse.close()


def look(target: Target, project_dir: Path, manifest: Mapping[str, Any], project_config: Mapping[str, Any],
         suites: Sequence[Suite], skip: bool) -> Unchanged:
    """`find_unchanged` on the target's warehouse."""
    from metricsctl.warehouse import connect, release_duckdb_if_loaded

    release_duckdb_if_loaded()
    try:
        warehouse = connect(target, project_dir, read_only=True)
    except WarehouseError:
        return Unchanged()
    try:
        return find_unchanged(manifest, warehouse, _dialect(target), target, project_config, suites, skip)
    finally:
        warehouse.close()


def _dialect(target: Target) -> str:
    return "duckdb" if target.type == "duckdb" else target.type


__all__ = ["STATE_TABLE", "Unchanged", "find_unchanged", "look", "record", "state_keys"]
