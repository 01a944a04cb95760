"""`may_group_first` tells, without copying a scan, the scans that `grouped_first` cannot split."""

from __future__ import annotations

import pytest
from sqlglot import exp, parse_one

from metricsctl.compiler.preaggregate import grouped_first, may_group_first

DAY = [exp.column("day", "src")]

SCANS = {
    # splits: a sum and a count of the model's own columns, a dimension joined
    "SELECT j.name AS name, SUM(src.amount) AS revenue, COUNT(src.id) AS orders FROM facts AS src "
    "LEFT JOIN stores AS j ON src.store_id = j.id GROUP BY j.name": True,
    # nothing joined
    "SELECT src.day AS day, SUM(src.amount) AS revenue FROM facts AS src GROUP BY src.day": False,
    # a distinct count and a median do not combine from partial aggregates
    "SELECT j.name AS name, COUNT(DISTINCT src.customer) AS buyers FROM facts AS src "
    "LEFT JOIN stores AS j ON src.store_id = j.id GROUP BY j.name": False,
    "SELECT j.name AS name, MEDIAN(src.amount) AS typical FROM facts AS src "
    "LEFT JOIN stores AS j ON src.store_id = j.id GROUP BY j.name": False,
    # an aggregate of a joined column
    "SELECT j.name AS name, SUM(j.size) AS size FROM facts AS src "
    "LEFT JOIN stores AS j ON src.store_id = j.id GROUP BY j.name": False,
    # no aggregate, an unnamed projection, another alias than the source's
    "SELECT j.name AS name FROM facts AS src LEFT JOIN stores AS j ON src.store_id = j.id GROUP BY j.name": False,
    "SELECT j.name, SUM(src.amount) AS revenue FROM facts AS src "
    "LEFT JOIN stores AS j ON src.store_id = j.id GROUP BY j.name": False,
    "SELECT j.name AS name, SUM(f.amount) AS revenue FROM facts AS f "
    "LEFT JOIN stores AS j ON f.store_id = j.id GROUP BY j.name": False,
}


@pytest.mark.parametrize("sql", SCANS)
def test_may_group_first_is_false_only_where_grouped_first_gives_none(sql: str) -> None:
    scan = parse_one(sql, read="duckdb")
    assert isinstance(scan, exp.Select)
    before = scan.sql()
    assert may_group_first(scan) is SCANS[sql]
    assert scan.sql() == before  # read, not changed
    split = grouped_first(scan.copy(), DAY, set())
    assert (split is not None) is SCANS[sql]
