"""Answer the same queries with metricsctl and with MetricFlow's `mf query`, and compare the rows.

MetricFlow is a benchmark-only peer: install it in a separate virtual environment
(`pip install "dbt-metricflow[dbt-duckdb]==0.15.0" "dbt-core==1.11.16" "dbt-duckdb==1.11.1"`)
and pass its `mf` executable:

    python bench/compare_metricflow.py --mf /path/to/venv/bin/mf [--cases bench/metricflow_cases.txt]

The shop test project is copied to a temporary folder and built there once; each query then runs in
both tools against their own copy of the warehouse file (DuckDB allows one writer per file).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metricsctl.compiler.query import MetricQuery  # noqa: E402
from metricsctl.facade import Metricsctl  # noqa: E402
from metricsctl.project import DbtProject  # noqa: E402
from metricsctl.runner import run_dbt  # noqa: E402


def normalise(value: Any) -> Any:
    """Dates to ISO days, numbers rounded to 6 places, booleans and empties spelled alike."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime) and value.time() != datetime.time(0):
        return value.isoformat(sep=" ")[:19]  # a sub-daily period, to the second
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()[:10]
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] in " T" and text[11:19] != "00:00:00":
        return f"{text[:10]} {text[11:19]}"
    try:
        return round(float(text), 6)
    except ValueError:
        pass
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return text[:10]
    return text.lower() if text in ("True", "False") else text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mf", required=True, help="MetricFlow's `mf` executable")
    parser.add_argument("--cases", default=str(ROOT / "bench" / "metricflow_cases.txt"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mf-compare-"))
    ours_dir, mf_dir = work / "ours" / "shop", work / "mf" / "shop"
    shutil.copytree(ROOT / "tests" / "fixtures" / "shop", ours_dir,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    os.environ["METRICSCTL_SHOP_DB"] = str(ours_dir / "shop.duckdb")
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
    assert run_dbt(DbtProject.at(ours_dir), ["build"]).success
    shutil.copytree(ours_dir, mf_dir)
    app = Metricsctl(ours_dir)
    env = {**os.environ, "METRICSCTL_SHOP_DB": str(mf_dir / "shop.duckdb"), "DBT_PROFILES_DIR": str(mf_dir)}
    agree = differ = 0
    for line in Path(args.cases).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        metrics, group_by, *rest = [p.strip() for p in line.split("|")] + [""]
        where = rest[0] if rest and rest[0] else None
        out = work / "mf.csv"
        out.unlink(missing_ok=True)
        command = [args.mf, "query", "--csv", str(out)] + (["--metrics", metrics] if metrics else [])
        command += ["--group-by", group_by] if group_by else []
        command += ["--where", where] if where else []
        subprocess.run(command, cwd=mf_dir, env=env, capture_output=True, text=True)
        if not out.exists():
            print(f"MF FAILED  {line}")
            continue
        with open(out) as f:
            header, *mf_rows = list(csv.reader(f))
        result = app.query(MetricQuery.of(metrics, group_by, (where,) if where else (), shorter_paths=True))
        index = [result.columns.index(h) for h in header]
        theirs = sorted((tuple(normalise(v) for v in row) for row in mf_rows), key=str)
        ours = sorted((tuple(normalise(row[i]) for i in index) for row in result.rows), key=str)
        same = theirs == ours
        agree += same
        differ += not same
        print(f"{'agree' if same else 'DIFFER'}  {len(ours):4d} rows  {line}")
    print(f"{agree} agree, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
