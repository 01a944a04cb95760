"""Write, audit, publish on PostgreSQL and Spark: readers only ever see audited rows, during and after a build.

A copy of the shop project, with expectation suites on its visits and orders seeds, is built on each
engine into a schema of its own (`audited`, and `audited_exports` for the export that names a schema).
Then a poisoned visits seed (a duplicate id, an unknown customer) and one new order are built while a
reader queries every export: the reader gets the published rows all along, never an error; a second
build started meanwhile is refused with one line and exit 2; afterwards every export built from visits
(tables and views) returns exactly its previous rows, and the exports that do not read visits show the
new order. A good build then publishes new rows everywhere.

Expected values are the previous rows plus the rows added, counted by hand; never metricsctl's output.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engines import normalized

from metricsctl.facade import Metricsctl
from tests.conftest import SHOP, shop_for_engines
from tests.test_build_gating import SUITES

AS_OF = "2024-07-02"
SCHEMA = "audited"
VIEW = f"{SCHEMA}.conversion_by_source"  # a view over visits and orders
KEPT = [VIEW, f"{SCHEMA}.visits"]  # what a poisoned visits seed must leave as it was
NEW_ORDER = [99999, 3, 1, "2024-06-30", "store", "false", 100.0]
SALES_JUNE = f"select orders from {SCHEMA}.sales_by_month where metric_time__month = '2024-06-01'"
# an incremental export in a schema of its own
STORE_DAY = (f"select orders from {SCHEMA}_exports.daily_channel_sales "
             "where metric_time__day = '2024-06-30' and order__channel = 'store'")
ONLINE_VISITS = f"select visits from {VIEW} where visit__source = 'online'"


def shop_on(root: Path, target: str, schema: str = SCHEMA) -> Metricsctl:
    """The shop project with expectation suites, its tables in `schema` (`audited`) of `target`."""
    shop_for_engines(root, schema)
    (root / "models" / "expectations.yml").write_text(SUITES)
    return Metricsctl(root, target=target)


def query(app: Metricsctl, sql: str) -> list[tuple[Any, ...]]:
    warehouse = app.warehouse()
    try:
        return warehouse.execute(sql).rows
    finally:
        warehouse.close()


def rows(app: Metricsctl, relation: str) -> list[tuple[Any, ...]]:
    """Every row of a relation, as every engine's client agrees on them, in one order."""
    return sorted((tuple(normalized(v) for v in row) for row in query(app, f"select * from {relation}")), key=repr)


def one(app: Metricsctl, sql: str) -> float:
    """The first value of the first row (0 when there is no row)."""
    found = query(app, sql)
    return float(found[0][0]) if found else 0.0


def append(root: Path, seed: str, *new: list[object]) -> None:
    with (root / "seeds" / f"{seed}.csv").open("a", newline="") as f:
        csv.writer(f).writerows(new)


def poison_visits(root: Path) -> None:
    visits = list(csv.reader((root / "seeds" / "visits.csv").open()))
    append(root, "visits", [visits[1][0], visits[1][1], "2024-06-30", "store"],  # a duplicate visit id
           [str(len(visits) + 1000), "999", "2024-06-30", "online"])  # a customer that does not exist


class Reader:
    """Queries every export in a loop on a thread of its own, keeping each answer and each error."""

    def __init__(self, app: Metricsctl, relations: list[str]) -> None:
        self.app, self.relations = app, relations
        self.answers: dict[str, list[list[tuple[Any, ...]]]] = {r: [] for r in relations}
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def read(self, relation: str) -> None:
        try:
            self.answers[relation].append(rows(self.app, relation))
        except Exception as exc:  # any error a reader meets is a failure of the test
            self.errors.append(f"{relation}: {exc}")

    def _run(self) -> None:
        while not self.stop.is_set():
            for relation in self.relations:
                self.read(relation)
            time.sleep(0.05)

    def __enter__(self) -> Reader:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def second_build(root: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(root), "--target",
                           target], capture_output=True, text=True, timeout=300)


def wait_for(condition: Callable[[], bool], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def assert_refused(second: subprocess.CompletedProcess[str]) -> None:
    assert second.returncode == 2, second.stdout + second.stderr
    assert "another build" in second.stderr and "Traceback" not in second.stderr, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr


# --- PostgreSQL ------------------------------------------------------------------------------------------
def schemas(app: Metricsctl) -> set[str]:
    return {str(r[0]) for r in query(app, "select nspname from pg_namespace")}


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_readers_see_only_audited_rows_during_and_after_a_failed_build(
        postgres_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "shop"
    app = shop_on(root, "postgres")
    assert app.build(as_of=dt.date(2024, 7, 2)).success
    exports = [*KEPT, f"{SCHEMA}.metric_values", f"{SCHEMA}.sales_by_month",
               f"{SCHEMA}_exports.daily_channel_sales"]
    before = {r: rows(app, r) for r in exports}
    june, store_day = one(app, SALES_JUNE), one(app, STORE_DAY)
    poison_visits(root)
    append(root, "orders", NEW_ORDER)

    with Reader(app, exports) as reader:
        build = subprocess.Popen([sys.executable, "-m", "metricsctl.cli", "build", "--project-dir", str(root),
                                  "--target", "postgres", "--as-of", AS_OF], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        wait_for(lambda: f"{SCHEMA}__candidate" in schemas(app) or build.poll() is not None)
        second = second_build(root, "postgres")
        out, err = build.communicate(timeout=300)
    assert build.returncode == 1, out + err
    assert_refused(second)
    assert not reader.errors, reader.errors[:3]
    for relation in exports:  # during the build: the published rows, then (after the commit) the new ones
        seen, after = reader.answers[relation], rows(app, relation)
        assert seen and seen[0] == before[relation], relation
        assert all(answer in (before[relation], after) for answer in seen), relation

    for relation in [*KEPT, f"{SCHEMA}.metric_values"]:
        assert rows(app, relation) == before[relation], f"{relation} changed after a failed audit"
    assert "KEPT AS PUBLISHED" in out and VIEW in out and f"{SCHEMA}.metric_values" in out
    assert one(app, SALES_JUNE) == june + 1 and one(app, STORE_DAY) == store_day + 1  # not built from visits
    assert not {f"{SCHEMA}__candidate", f"{SCHEMA}_exports__candidate"} & schemas(app)

    # a good build publishes everything, and the previous tables the kept view read are dropped
    shutil.copy(SHOP / "seeds" / "visits.csv", root / "seeds" / "visits.csv")
    online = one(app, ONLINE_VISITS)
    append(root, "visits", ["99998", "3", "2024-06-30", "online"])
    result = app.build(as_of=dt.date(2024, 7, 2))
    assert result.success, result.to_dict()
    assert one(app, ONLINE_VISITS) == online + 1 and one(app, STORE_DAY) == store_day + 1
    assert rows(app, f"{SCHEMA}.metric_values") != before[f"{SCHEMA}.metric_values"]
    assert f"{SCHEMA}__retired" not in schemas(app)
    # metricsctl's own tables stay where they are across builds: every run's audit results are there
    assert one(app, f"select count(distinct run_id) from {SCHEMA}.expectation_results") == 3


def stopped_before_commit(app: Metricsctl, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build of `app` on PostgreSQL whose process dies once every relation has moved, before the commit."""
    from metricsctl.publish_postgres import PostgresCatalog

    def die(*args: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(PostgresCatalog, "_project_relations", die)
        with pytest.raises(KeyboardInterrupt):
            app.build(as_of=dt.date(2024, 7, 2))


RECORD = """{{ config(materialized='incremental', incremental_strategy='append') }}
select cast(null as date) as first_day
where 1 = 0
"""


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_a_build_stopped_before_its_commit_leaves_every_published_relation_as_it_was(
        postgres_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg2

    root = tmp_path / "shop"
    app = shop_on(root, "postgres", schema="stopped")
    # the visits with a record of rewritten days, which metric_values empties once it holds what it says
    (root / "models" / "visits_rewrites.sql").write_text(RECORD)
    models = root / "metrics" / "semantic_models.yml"
    models.write_text(models.read_text().replace(
        "    model: ref('visits')\n",
        "    model: ref('visits')\n    config: {meta: {metricsctl: {rewritten_record: visits_rewrites}}}\n"))
    assert app.build(as_of=dt.date(2024, 7, 2)).success
    exports = ["stopped.sales_by_month", "stopped.orders", "stopped.conversion_by_source",
               "stopped_exports.daily_channel_sales"]
    before = {r: rows(app, r) for r in exports}
    june = one(app, SALES_JUNE.replace(f"{SCHEMA}.", "stopped."))
    with psycopg2.connect(host=postgres_env["METRICSCTL_PG_HOST"], port=postgres_env["METRICSCTL_PG_PORT"],
                          user=postgres_env["METRICSCTL_PG_USER"],
                          dbname=postgres_env["METRICSCTL_PG_DATABASE"]) as connection:
        connection.cursor().execute("insert into stopped.visits_rewrites values ('2024-03-01')")  # a rewrite
    append(root, "orders", NEW_ORDER)  # the visits are as they were: their record is left out of the build

    stopped_before_commit(app, monkeypatch)
    assert {r: rows(app, r) for r in exports} == before
    # not emptied: a build that is not published leaves the record for the next, or that one skips its days
    assert one(app, "select count(*) from stopped.visits_rewrites") == 1
    # the state of the published tables is recorded while the build still holds its lock
    from metricsctl import publish_schemas

    locks: list[float] = []
    record = publish_schemas.record
    monkeypatch.setattr(publish_schemas, "record", lambda *args: locks.append(one(
        app, "select count(*) from pg_locks where locktype = 'advisory' and granted")) or record(*args))
    assert app.build(as_of=dt.date(2024, 7, 2)).success  # it drops the candidates the stopped build left
    assert locks == [1.0]
    assert one(app, SALES_JUNE.replace(f"{SCHEMA}.", "stopped.")) == june + 1
    assert one(app, "select count(*) from stopped.visits_rewrites") == 0  # published: its days recomputed
    assert not {"stopped__candidate", "stopped_exports__candidate", "stopped__retired"} & schemas(app)


# --- Spark ------------------------------------------------------------------------------------------------
OWN_TABLES = ("expectation_results", "metricsctl_")  # metricsctl's own tables: written by the build itself


def published_relations(app: Metricsctl) -> list[str]:
    """Every table and view of the project's databases that a build publishes."""
    found = []
    for database in (SCHEMA, f"{SCHEMA}_exports"):
        found += [f"{database}.{r[1]}" for r in query(app, f"show tables in {database}")
                  if not r[2] and not str(r[1]).startswith(OWN_TABLES)]
    return sorted(found)


def versions(warehouse: str, table: str) -> set[str]:
    """The folders holding the files of a published table's versions (the previous one is kept for readers)."""
    database, name = table.split(".")
    return {p.parent.name for p in Path(warehouse, f"{database}.db", "__metricsctl_versions").glob(f"*/{name}")}


def location(app: Metricsctl, table: str) -> str:
    return next(str(r[1]) for r in query(app, f"describe table extended {table}") if r[0] == "Location")


@pytest.mark.spark
@pytest.mark.slow
def test_spark_readers_see_only_audited_rows_during_and_after_a_failed_build(
        spark_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metricsctl.publish_spark import SparkCatalog

    root = tmp_path / "shop"
    app = shop_on(root, "spark")
    skip = ("metric_values+",)  # the standard tables: covered on PostgreSQL, slow on Spark
    assert app.build(as_of=dt.date(2024, 7, 2), exclude=skip).success
    exports = published_relations(app)
    assert {*KEPT, f"{SCHEMA}.sales_by_month", f"{SCHEMA}_exports.daily_channel_sales", f"{SCHEMA}.orders"} <= {
        *exports}
    before = {r: rows(app, r) for r in exports}
    first = {t: versions(spark_env["METRICSCTL_SPARK_WAREHOUSE"], t) for t in (f"{SCHEMA}.orders", KEPT[1])}
    june, store_day = one(app, SALES_JUNE), one(app, STORE_DAY)
    poison_visits(root)
    append(root, "orders", NEW_ORDER)

    # Besides the reader's loop, every statement of the publish that changes a published relation is
    # followed at once by a read of that relation: a window between two statements cannot slip through.
    reader = Reader(app, exports)
    publishing = threading.Event()
    run, publish = SparkCatalog._run, SparkCatalog.publish
    read_while_publishing: list[str] = []

    def checked(self: SparkCatalog, sql: str) -> list[tuple[Any, ...]]:
        answer = run(self, sql)
        if publishing.is_set() and sql.startswith(("ALTER", "DROP")):
            for relation in exports:
                if "`{}`.`{}`".format(*relation.split(".")) in sql:
                    reader.read(relation)
                    read_while_publishing.append(relation)
        return answer

    def announced(self: SparkCatalog, stage: Any) -> None:
        publishing.set()
        publish(self, stage)

    monkeypatch.setattr(SparkCatalog, "_run", checked)
    monkeypatch.setattr(SparkCatalog, "publish", announced)
    session = app.warehouse()
    refused: list[subprocess.CompletedProcess[str]] = []

    def start_second_build() -> None:
        wait_for(lambda: (f"{SCHEMA}__candidate",) in session.execute("show databases").rows)
        refused.append(second_build(root, "spark"))

    other = threading.Thread(target=start_second_build)
    with reader:
        other.start()
        result = app.build(as_of=dt.date(2024, 7, 2), exclude=skip)
    other.join()
    monkeypatch.undo()
    assert not result.success and result.expectations is not None and not result.expectations.ok
    assert_refused(refused[0])
    assert not reader.errors, reader.errors[:3]
    assert f"{SCHEMA}.orders" in read_while_publishing  # the reads above did happen during the publish
    for relation in exports:  # the published rows, then (once the relation switched) the new ones
        seen, after = reader.answers[relation], rows(app, relation)
        assert seen and seen[0] == before[relation], relation
        assert all(answer in (before[relation], after) for answer in seen), relation

    for relation in KEPT:
        assert rows(app, relation) == before[relation], f"{relation} changed after a failed audit"
    assert set(result.restored) == set(KEPT)
    assert one(app, SALES_JUNE) == june + 1 and one(app, STORE_DAY) == store_day + 1
    databases = {r[0] for r in session.execute("show databases").rows}
    assert not {f"{SCHEMA}__candidate", f"{SCHEMA}_exports__candidate"} & databases
    # a published table reads its build's own folder; the previous one stays for readers still on it, and the
    # unaudited files of the kept visits are gone
    warehouse = spark_env["METRICSCTL_SPARK_WAREHOUSE"]
    orders = versions(warehouse, f"{SCHEMA}.orders")
    assert len(orders) == 2 and first[f"{SCHEMA}.orders"] < orders
    assert "/".join((*orders - first[f"{SCHEMA}.orders"], "orders")) in location(app, f"{SCHEMA}.orders")
    assert versions(warehouse, KEPT[1]) == first[KEPT[1]]

    shutil.copy(SHOP / "seeds" / "visits.csv", root / "seeds" / "visits.csv")
    online = one(app, ONLINE_VISITS)
    append(root, "visits", ["99998", "3", "2024-06-30", "online"])
    assert app.build(as_of=dt.date(2024, 7, 2), select=("visits+",), exclude=skip).success  # what visits feeds
    assert one(app, ONLINE_VISITS) == online + 1
    tables = {r[1] for r in session.execute(f"show tables in {SCHEMA}").rows}
    assert "conversion_by_source__metricsctl_kept" not in tables  # the view reads the new tables again
    assert len(versions(warehouse, KEPT[1])) == 2 and first[KEPT[1]] < versions(warehouse, KEPT[1])


@pytest.mark.spark
def test_spark_switches_a_table_with_the_same_columns_by_one_location_change_and_renames_a_changed_one(
        spark_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Three builds of a plain and a partitioned table, written straight into the candidate database."""
    from types import SimpleNamespace

    from metricsctl.profiles import Target
    from metricsctl.publish_schemas import SchemaStage
    from metricsctl.publish_spark import SparkCatalog

    warehouse = spark_env["METRICSCTL_SPARK_WAREHOUSE"]
    target = Target("shop", "spark", {"method": "session", "schema": "swapped", "server_side_parameters": {
        "spark.master": "local[2]", "spark.ui.enabled": "false", "spark.sql.warehouse.dir": warehouse,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}"}})
    statements: list[str] = []
    run = SparkCatalog._run
    monkeypatch.setattr(SparkCatalog, "_run", lambda self, sql: statements.append(sql) or run(self, sql))

    def build(plain: str, partitioned: str, managed: bool = False, publish: bool = True) -> None:
        """Publish `swapped.plain` and `swapped.daily` (partitioned by day) with the rows of these queries;
        `managed`: plain is written where Spark puts it, not into the folder metricsctl chose; without
        `publish`, only what a build does before dbt runs."""
        catalog = SparkCatalog(target)
        nodes = {"model.p.plain": ("swapped", "plain"), "model.p.daily": ("swapped", "daily")}
        stage = SchemaStage(None, target, catalog=catalog, nodes=nodes, candidates={"swapped": "swapped__candidate"},
                            built=set(nodes))
        stage.manifest = SimpleNamespace(nodes={uid: SimpleNamespace(config={}) for uid in nodes})
        catalog.drop_schema("swapped__candidate")
        catalog.prepare(stage)
        if not publish:
            return
        catalog._run("CREATE DATABASE swapped__candidate")  # what dbt writes, into the folders it is told
        folder = catalog.folders[("swapped__candidate", "plain")]
        location = "" if managed else f"LOCATION '{folder}'"
        catalog._run(f"CREATE TABLE swapped__candidate.plain {location} AS {plain}")
        folder = catalog.folders[("swapped__candidate", "daily")]
        catalog._run(f"CREATE TABLE swapped__candidate.daily PARTITIONED BY (day) LOCATION '{folder}' AS {partitioned}")
        statements.clear()
        catalog.publish(stage)

    def read(sql: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(normalized(v) for v in r) for r in SparkCatalog(target).warehouse.execute(sql).rows)

    def folders(name: str) -> set[str]:
        return {p.parent.name for p in Path(warehouse, "swapped.db", "__metricsctl_versions").glob(f"*/{name}")}

    build("SELECT 1 AS id, 'a' AS label", "SELECT 1 AS orders, DATE'2024-06-01' AS day")
    first = folders("plain")
    assert read("SELECT * FROM swapped.plain") == [(1.0, "a")]

    build("SELECT 2 AS id, 'b' AS label",
          "SELECT 2 AS orders, DATE'2024-06-02' AS day UNION ALL SELECT 3, DATE'2024-06-03'")
    assert any("SET LOCATION" in s for s in statements) and not any("RENAME" in s for s in statements), statements
    assert read("SELECT * FROM swapped.plain") == [(2.0, "b")]
    # every partition switched with the table: none of the previous build's is left
    assert read("SELECT * FROM swapped.daily") == [(2.0, "2024-06-02"), (3.0, "2024-06-03")]
    second = folders("plain")
    assert len(second) == 2 and first < second  # the previous files stay for readers still on them

    build("SELECT 4 AS id, 'd' AS label, 1.5 AS weight", "SELECT 4 AS orders, DATE'2024-06-04' AS day", managed=True)
    assert any("RENAME TO `swapped`" in s for s in statements)  # new columns: the published table is replaced
    assert read("SELECT * FROM swapped.plain") == [(4.0, "d", 1.5)]
    assert read("SELECT * FROM swapped.daily") == [(4.0, "2024-06-04")]
    third = folders("plain")
    # only the previous build's are kept, and the managed table's rows were copied into a folder of this build
    assert len(third) == 2 and not first & third and second & third
    assert [r[:2] for r in read("SHOW TABLES IN swapped") if not r[2]] == [("swapped", "daily"), ("swapped", "plain")]

    # a build killed between the two renames of a swap left no table `plain`: the next build puts it back first
    def killed(self: SparkCatalog, sql: str) -> list[tuple[Any, ...]]:
        if "`plain__metricsctl_new` RENAME TO" in sql:
            raise KeyboardInterrupt
        return run(self, sql)

    monkeypatch.setattr(SparkCatalog, "_run", killed)
    with pytest.raises(KeyboardInterrupt):
        build("SELECT 5 AS id", "SELECT 5 AS orders, DATE'2024-06-05' AS day")  # other columns: a swap
    monkeypatch.setattr(SparkCatalog, "_run", run)
    assert [r[1] for r in read("SHOW TABLES IN swapped") if not r[2]] == [
        "daily", "plain__metricsctl_new", "plain__metricsctl_old"]
    build("", "", publish=False)
    assert read("SELECT * FROM swapped.plain") == [(4.0, "d", 1.5)]  # its published rows, before dbt runs
    assert [r[1] for r in read("SHOW TABLES IN swapped") if not r[2]] == ["daily", "plain"]
    build("SELECT 6 AS id", "SELECT 6 AS orders, DATE'2024-06-06' AS day")
    assert [r[:2] for r in read("SHOW TABLES IN swapped") if not r[2]] == [("swapped", "daily"), ("swapped", "plain")]
    assert read("SELECT * FROM swapped.plain") == [(6.0,)]
