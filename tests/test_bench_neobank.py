"""The neobank benchmark project (bench/neobank) builds, and every export gives its floor's rows.

bench/neobank_bench.py times metricsctl's exports against hand-written floor SQL (bench/neobank/floor/)
and MetricFlow's; this test keeps the project and its floor from drifting apart as the compiler changes:
a small warehouse (20,000 transactions) is generated, `metricsctl build` builds the project, and each
export's table must hold the floor query's rows (matched on the group-by columns, values within 1e-9
relative), which were written from the metrics' definitions, not from metricsctl's output.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from metricsctl.facade import Metricsctl
from metricsctl.warehouse import release_duckdb_if_loaded

BENCH = Path(__file__).resolve().parents[1] / "bench"
NEOBANK = BENCH / "neobank"
EXPORTS = ["balances_by_month_and_product", "card_amounts_by_month_and_category", "daily_spend_by_segment",
           "spend_to_date_by_month_and_region", "upgrade_funnel_by_month"]


def load(path: Path) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # bench/neobank/generate_raw.py reads bench/datagen.py's parse_count
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def neobank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bench/neobank copied to a temporary folder, its raw tables generated at 20,000 transactions, built."""
    root = tmp_path_factory.mktemp("neobank") / "neobank"
    shutil.copytree(NEOBANK, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "__pycache__"))
    shutil.rmtree(root / "models" / "metrics", ignore_errors=True)
    counts = load(NEOBANK / "generate_raw.py").generate_file(root / "warehouse.duckdb", 20_000)
    assert counts["transactions"] == 20_000 and counts["balances"] > 10_000
    run = Metricsctl(root).build(exclude=("metric_values", "metric_catalog"))
    assert run.success, run.failed
    release_duckdb_if_loaded()
    return root


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    generate = load(NEOBANK / "generate_raw.py").generate_file
    sums = []
    for name in ("a", "b"):
        generate(tmp_path / f"{name}.duckdb", 2_000, seed=3)
        with duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True) as con:
            sums.append(con.execute("select sum(amount), sum(hash(transaction_id, account_id, booked_date, kind)) "
                                    "from raw.transactions").fetchone())
    assert sums[0] == sums[1]


def test_every_export_has_a_floor() -> None:
    assert sorted(p.stem for p in (NEOBANK / "floor").glob("*.sql")) == EXPORTS


@pytest.mark.parametrize("export", EXPORTS)
def test_export_equals_its_floor(neobank: Path, export: str) -> None:
    compare = load(BENCH / "steps.py").compare
    floor = (NEOBANK / "floor" / f"{export}.sql").read_text()
    with duckdb.connect(str(neobank / "warehouse.duckdb")) as con:
        con.execute(f"create temp table floor as {floor}")
        result = compare(con, export, "floor")
        assert result["left_rows"] > 20, result
        assert result["same"], result
        # the comparison sees a difference: one value of the floor's off by one
        metric = next(c for c, *_ in con.execute(f"select * from {export} limit 0").description
                      if not c.startswith("metric_time") and "__" not in c)
        first = f'(select min(rowid) from floor where "{metric}" is not null)'
        con.execute(f'update floor set "{metric}" = "{metric}" + 1 where rowid = {first}')
        assert not compare(con, export, "floor")["same"]
