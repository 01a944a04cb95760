"""The neobank benchmark project's raw tables, generated in DuckDB SQL into the warehouse's `raw` schema.

    python bench/neobank/generate_raw.py --rows 5m --db /tmp/neobank/warehouse.duckdb [--seed 7]

A subscription bank over two years (2024-01-01 .. 2025-12-31). `--rows` is the number of card payments,
transfers, fees and interest postings (`raw.transactions`); every other table follows it:

| table | rows | what |
|---|---|---|
| transactions | --rows | account, booked day, kind (card 72 %, transfer 18 %, fee 6 %, interest 4 %), |
| | | merchant category (card payments), log-normal amount; 1.6x as many a day at the end |
| accounts | rows / 160 | customer, product (current, savings, joint, business), opening day |
| customers | accounts / 1.25 | segment, region, plan |
| balances | about rows / 2 | each open account's balance every Sunday (current accounts may be overdrawn) |
| sessions | rows / 10 | app sessions of customers, the base events of the upgrade funnel |
| upgrades | rows / 250 | plan upgrades; four in five follow one of the customer's sessions by 0-13 days |

The same `--rows` and `--seed` always give the same tables (DuckDB's `hash()` of the row number and the seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from datagen import parse_count, script_into_file  # noqa: E402

DAYS = 731  # 2024-01-01 .. 2025-12-31, the time spine's days


def params(rows: int, seed: int) -> dict[str, int]:
    accounts = max(8, rows // 160)
    return {"seed": seed, "days": DAYS, "transactions": rows, "accounts": accounts,
            "customers": max(4, accounts * 4 // 5), "sessions": max(10, rows // 10),
            "upgrades": max(4, rows // 250)}


# Each statement is formatted with params(); only integers are substituted.
SCRIPT = """
create schema if not exists raw;
create or replace temp macro u(a, b) as (hash(a, b, {seed}) % 1000003) / 1000003.0;
create or replace temp macro pick(a, b, n) as (hash(a, b, {seed}) % n)::integer;
-- a standard normal draw (Box-Muller) from two uniform ones
create or replace temp macro z(a, b) as
    sqrt(-2 * ln(greatest(u(a, b), 1e-9))) * cos(2 * pi() * u(a, b + 1000));
-- a day of the period, denser towards its end: density 1 + 0.6 x on [0, 1], the inverse of its CDF
create or replace temp macro grow_day(a, b) as
    least({days} - 1, floor({days} * (sqrt(1 + 1.56 * u(a, b)) - 1) / 0.6))::integer;

create or replace table raw.customers as
select i + 1 as customer_id,
       ['student', 'retail', 'premium', 'business'][1 + pick(i, 1, 4)] as segment,
       ['north', 'south', 'east', 'west', 'capital', 'abroad'][1 + pick(i, 2, 6)] as region,
       ['standard', 'plus', 'premium', 'metal'][1 + pick(i, 3, 4)] as plan,
       date '2022-01-01' + pick(i, 4, 1400) as signup_date
from range({customers}) t(i);

create or replace table raw.accounts as
select i + 1 as account_id,
       case when i < {customers} then i + 1 else 1 + pick(i, 1, {customers}) end as customer_id,
       ['current', 'current', 'savings', 'joint', 'business'][1 + pick(i, 2, 5)] as product,
       date '2023-01-01' + pick(i, 3, 900) as opened_date
from range({accounts}) t(i);

create or replace table raw.transactions as
with draws as (
    select i, u(i, 1) as k, 1 + pick(i, 2, {accounts}) as account_id, grow_day(i, 3) as d
    from range({transactions}) t(i)
)
select i + 1 as transaction_id, account_id, date '2024-01-01' + d as booked_date,
       case when k < 0.72 then 'card' when k < 0.90 then 'transfer' when k < 0.96 then 'fee' else 'interest' end
         as kind,
       case when k < 0.72 then ['groceries', 'restaurants', 'travel', 'transport', 'shopping', 'entertainment',
                                'health', 'utilities', 'education', 'cash', 'online', 'other'][1 + pick(i, 4, 12)]
       end as merchant_category,
       round(case when k < 0.72 then exp(3.0 + 1.1 * z(i, 5))
                  when k < 0.90 then exp(5.0 + 1.3 * z(i, 5))
                  when k < 0.96 then [4.99, 9.99, 16.99][1 + pick(i, 6, 3)]
                  else 0.01 + 20 * u(i, 7) end, 2) as amount
from draws;

create or replace table raw.balances as
with sundays as (
    select date '2024-01-07' + 7 * w as snapshot_date, w
    from (select w::integer as w from range(105) t(w))
    where date '2024-01-07' + 7 * w <= date '2025-12-31'
)
select row_number() over (order by a.account_id, s.snapshot_date) as snapshot_id, a.account_id, s.snapshot_date,
       round(case a.product when 'savings' then 8000 when 'business' then 20000 else 1500 end
             * (0.2 + 2 * u(a.account_id, 1)) * (1 + 0.004 * s.w)
             + case a.product when 'current' then 900 else 300 end * z(a.account_id * 1000 + s.w, 2), 2) as balance
from raw.accounts as a
join sundays as s on s.snapshot_date >= a.opened_date;

create or replace table raw.sessions as
select i + 1 as session_id, 1 + pick(i, 1, {customers}) as customer_id,
       date '2024-01-01' + grow_day(i, 2) as session_date
from range({sessions}) t(i);

create or replace table raw.upgrades as
with draws as (select i, 1 + pick(i, 1, {sessions}) as session_id from range({upgrades}) t(i))
select d.i + 1 as upgrade_id,
       case when u(d.i, 2) < 0.8 then s.customer_id else 1 + pick(d.i, 3, {customers}) end as customer_id,
       least(date '2025-12-31', case when u(d.i, 2) < 0.8 then s.session_date + pick(d.i, 4, 14)
                                     else date '2024-01-01' + pick(d.i, 5, {days}) end) as upgraded_date,
       ['plus', 'premium', 'metal'][1 + pick(d.i, 6, 3)] as to_plan
from draws as d
join raw.sessions as s using (session_id);
"""


def generate_file(path: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write the raw tables into the DuckDB file at `path` (schema `raw`); returns the row count per table."""
    return script_into_file(path, SCRIPT.format(**params(rows, seed)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="5m", help="transactions to generate (e.g. 5m, 200k, 20000)")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB file to write the raw schema into")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the row counts here")
    args = parser.parse_args()
    started = time.perf_counter()
    counts = generate_file(args.db, parse_count(args.rows), args.seed)
    seconds = time.perf_counter() - started
    if args.json:
        args.json.write_text(json.dumps(counts, indent=2))
    width = max(len(n) for n in counts)
    for name, count in counts.items():
        print(f"{name:<{width}}  {count:>12,}")
    print(f"{'total':<{width}}  {sum(counts.values()):>12,}  in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
