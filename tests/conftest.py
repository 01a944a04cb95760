"""Shared fixtures: the shop test project, built once per session in a temporary folder.

The shop project (tests/fixtures/shop) is a dbt project of its own: seven semantic models joined by
entities, a time spine with a fiscal-quarter custom granularity, and every metric type. Expected values
in the tests are computed from its seed CSVs with pandas, never by metricsctl.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from metricsctl.compiler.query import MetricQuery
from metricsctl.facade import Metricsctl
from metricsctl.project import DbtProject
from metricsctl.runner import run_dbt

sys.path.insert(0, str(Path(__file__).parent))  # tests/engines.py, the engines the tests start
REPOSITORY = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite the golden SQL files in tests/golden from the compiler's output.")
SHOP = FIXTURES / "shop"


@pytest.hookimpl(wrapper=True)  # around every other implementation: before pytest-xdist's reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """For a run split over processes (`pytest -n 2 --dist loadgroup`, as .ci/run does): a test file runs whole
    in one process (its module fixtures are built once), and the tests marked `spark` run together in one
    process, first: they are the longest part of the suite, and a second Spark session beside the first would
    only share the same two cores with it while the other process waits for work."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for item in items:
            spark = item.get_closest_marker("spark") is not None
            item.add_marker(pytest.mark.xdist_group("spark" if spark else item.nodeid.split("::")[0]))
        items.sort(key=lambda item: item.get_closest_marker("spark") is None)  # stable: the rest keep their order
    return (yield)


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A built copy of the shop project: seeds loaded, time spine built, manifest parsed."""
    root = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    old = os.environ.get("METRICSCTL_SHOP_DB")
    os.environ["METRICSCTL_SHOP_DB"] = str(root / "shop.duckdb")
    run = run_dbt(DbtProject.at(root), ["build"])
    assert run.success, [n for n in run.nodes if n.status != "success"]
    yield root
    if old is None:
        os.environ.pop("METRICSCTL_SHOP_DB", None)
    else:
        os.environ["METRICSCTL_SHOP_DB"] = old


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's own dbt project, copied without its warehouse, then built (once per session).

    Tests read it as it is; a test that changes the warehouse works on a copy of this folder.
    """
    root = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(
        ".git", ".venv", "target", "logs", "*.duckdb", "*.duckdb.wal", "tests", "bench", "docs", "*.egg-info"))
    run = Metricsctl(root).build()
    assert run.success, run.failed
    return root


@pytest.fixture(scope="session")
def shop(shop_dir: Path) -> Metricsctl:
    return Metricsctl(shop_dir)


class Answer:
    """Query results as a pandas frame, for comparisons with independent computations."""

    def __init__(self, app: Metricsctl) -> None:
        self.app = app

    def __call__(self, metrics: str, group_by: str = "", where: tuple[str, ...] | str = (),
                 **kwargs: object) -> pd.DataFrame:
        query = MetricQuery.of(metrics, group_by, where, **kwargs)  # type: ignore[arg-type]
        result = self.app.query(query)
        frame = pd.DataFrame(result.rows, columns=list(result.columns))
        for col in frame.columns:
            if col.startswith("metric_time") and "extract" not in col:
                frame[col] = pd.to_datetime(frame[col])
        return frame


@pytest.fixture(scope="session")
def answer(shop: Metricsctl) -> Answer:
    return Answer(shop)


def seed(name: str) -> pd.DataFrame:
    """A seed of the shop project, read straight from its CSV."""
    frame = pd.read_csv(SHOP / "seeds" / f"{name}.csv")
    for col in frame.columns:
        if col.endswith(("_at", "_date")):
            frame[col] = pd.to_datetime(frame[col])
    return frame


def month(series: pd.Series) -> pd.Series:
    return series.dt.to_period("M").dt.to_timestamp()


def assert_series(actual: pd.DataFrame, key: str | list[str], column: str, expected: pd.Series,
                  rel: float = 1e-9) -> None:
    """`actual[column]` indexed by `key` equals `expected` (same index, same values, NaN == NaN)."""
    got = actual.set_index(key)[column].sort_index()
    want = expected.sort_index()
    assert list(got.index) == list(want.index), f"{column}: index differs\n{got}\n{want}"
    for idx, (g, w) in enumerate(zip(got.tolist(), want.tolist())):
        if pd.isna(w):
            assert pd.isna(g), f"{column}[{got.index[idx]}]: expected NULL, got {g}"
        else:
            assert g == pytest.approx(float(w), rel=rel, abs=1e-6), f"{column}[{got.index[idx]}]: {g} != {w}"


# --- other engines ----------------------------------------------------------------------------------
# One PostgreSQL server and one Spark warehouse folder per test session (a process holds one Spark session,
# whose warehouse folder is fixed when it starts); each project builds into schemas of its own.

@pytest.fixture(scope="session")
def postgres_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL server, started on a free port and stopped at the end, even on failure;
    its connection settings are in the environment the profiles read (METRICSCTL_PG_*)."""
    from engines import PostgresServer, missing_postgres

    skip_or_fail(missing_postgres())
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="metricsctl-pg-")))
    try:
        env = server.start().env("metricsctl")
        with patched_environ(env):
            yield env
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local Spark warehouse folder (and metastore) for the session's `spark` targets (METRICSCTL_SPARK_*)."""
    from engines import missing_spark, spark_env

    skip_or_fail(missing_spark())
    env = spark_env(tmp_path_factory.mktemp("spark"), "metricsctl")
    with patched_environ(env):
        yield env


def skip_or_fail(why: str | None) -> None:
    """Skip a test whose engine is absent here; in CI (METRICSCTL_REQUIRE_ENGINES=1) that is a failure."""
    if why is None:
        return
    if os.environ.get("METRICSCTL_REQUIRE_ENGINES"):
        pytest.fail(f"METRICSCTL_REQUIRE_ENGINES is set, but {why}")
    pytest.skip(why)


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def shop_for_engines(root: Path, schema: str) -> Path:
    """A copy of the shop project whose PostgreSQL and Spark targets build into `schema` (custom schemas
    prefixed by it), with SQL for DuckDB, PostgreSQL and Spark and the demo's seed loader for Spark."""
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    profiles = root / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("schema: shop", f"schema: {schema}"))
    project = root / "dbt_project.yml"
    project.write_text(project.read_text() + "vars:\n  metricsctl_dialects: [duckdb, postgres, spark]\n")
    (root / "macros").mkdir()
    for macros in (REPOSITORY / "macros").glob("spark_*.sql"):  # the demo's Spark seed loader and number series
        shutil.copy(macros, root / "macros")
    return root


def build_shop_on(root: Path, target: str) -> Metricsctl:
    """A copy of the shop project, built on `target` (dev, postgres, spark)."""
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    (root / "macros").mkdir(exist_ok=True)
    for macros in (REPOSITORY / "macros").glob("spark_*.sql"):  # the demo's Spark seed loader and number series
        shutil.copy(macros, root / "macros")
    run = run_dbt(DbtProject.at(root, target=target), ["build"])
    assert run.success, [(n.unique_id, n.message) for n in run.nodes if n.status not in ("success", "pass")]
    return Metricsctl(root, target=target)


@pytest.fixture(scope="session")
def shop_postgres(postgres_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Metricsctl:
    return build_shop_on(tmp_path_factory.mktemp("shop-pg") / "shop", "postgres")


@pytest.fixture(scope="session")
def shop_spark(spark_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Metricsctl:
    return build_shop_on(tmp_path_factory.mktemp("shop-spark") / "shop", "spark")
