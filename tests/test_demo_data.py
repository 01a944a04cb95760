"""The demo company's raw data: reproducible, and carrying the defects and events it promises.

`metricsctl.demo` writes the seeds in `seeds/`. These tests read its CSVs with pandas only (no dbt, no
warehouse): the generator is deterministic, the committed seeds are what it writes at the default scale,
the planted data defects are there for the staging models to handle, and the three planted events (for
alert rules) stand out in the raw numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from metricsctl import demo
from metricsctl.demo import DemoScale, generate

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"

Reader = Callable[[str], pd.DataFrame]


@pytest.fixture(scope="module")
def default_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds as `generate` writes them at the default scale, in a fresh folder."""
    folder = tmp_path_factory.mktemp("demo_default")
    generate(folder)
    return folder


@pytest.fixture(scope="module")
def raw(default_seeds: Path) -> Reader:
    """Read one raw table: raw('orders') -> DataFrame, empty cells as NaN."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(default_seeds / f"{name}.csv")

    return read


def csv_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


# --- reproducibility ------------------------------------------------------------------------------

def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    """Two runs with the same scale write exactly the same files."""
    scale = DemoScale(days=60)
    generate(tmp_path / "a", scale)
    generate(tmp_path / "b", scale)
    first, second = csv_bytes(tmp_path / "a"), csv_bytes(tmp_path / "b")
    assert first.keys() == second.keys()
    assert first == second


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    """The random seed is honoured: a different seed changes the orders."""
    generate(tmp_path / "a", DemoScale(days=60, seed=7))
    generate(tmp_path / "b", DemoScale(days=60, seed=8))
    assert (tmp_path / "a" / "orders.csv").read_bytes() != (tmp_path / "b" / "orders.csv").read_bytes()


def test_committed_seeds_are_what_generate_writes(default_seeds: Path) -> None:
    """Every seed in seeds/ is reproducible: `python -m metricsctl.demo --out seeds` rewrites it unchanged."""
    committed, generated = csv_bytes(SEEDS), csv_bytes(default_seeds)
    assert committed.keys() == generated.keys()
    changed = [name for name in committed if committed[name] != generated[name]]
    assert not changed, f"seeds differ from generate(): {changed}; rerun python -m metricsctl.demo --out seeds"


def test_default_scale_covers_eighteen_months_in_modest_seeds(raw: Reader, default_seeds: Path) -> None:
    """2024-01-01 .. 2025-06-30, and few enough rows for `dbt seed` to take seconds."""
    orders = raw("orders")
    assert orders.ordered_at.min() == "2024-01-01"
    assert orders.ordered_at.max() == "2025-06-30"
    rows = sum(len(pd.read_csv(p)) for p in default_seeds.glob("*.csv"))
    assert rows < 60_000


def test_the_command_line_writes_the_seeds(tmp_path: Path) -> None:
    """`python -m metricsctl.demo --out DIR --days N --orders-per-day M` is generate() with that scale."""
    demo.main(["--out", str(tmp_path / "cli"), "--days", "30", "--orders-per-day", "5"])
    generate(tmp_path / "api", DemoScale(days=30, orders_per_day=5))
    assert csv_bytes(tmp_path / "cli") == csv_bytes(tmp_path / "api")


# --- planted data defects -------------------------------------------------------------------------

def test_orders_and_production_runs_hold_exact_duplicate_rows(raw: Reader) -> None:
    """Tills and line terminals sometimes send a row twice, identical in every column."""
    assert raw("orders").duplicated().sum() > 0
    assert raw("production_runs").duplicated().sum() > 0


def test_visit_dates_include_mistyped_dates(raw: Reader) -> None:
    """sales_visits.visit_date is hand-typed: a day-month swap ('2024-13-05') and day/month/year dates."""
    dates = raw("sales_visits").visit_date.astype(str)
    iso = dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    swapped = iso & (dates.where(iso, "0000-01-01").str[5:7].astype(int) > 12)
    european = dates.str.fullmatch(r"\d{2}/\d{2}/\d{4}")
    assert swapped.sum() >= 1
    assert european.sum() >= 1
    assert (iso | european).all(), "no other formats are planted"


def test_some_regions_and_discounts_are_missing(raw: Reader) -> None:
    """Missing regions (customers, a new sales rep) and discounts the till did not record."""
    assert raw("customers").region.isna().sum() > 0
    assert raw("sales_reps").region.isna().sum() == 1
    assert raw("order_lines").discount_per_unit.isna().sum() > 0


def test_some_rows_arrive_late(raw: Reader) -> None:
    """loaded_at is days after the event for some orders and production runs."""
    orders = raw("orders")
    order_delay = (pd.to_datetime(orders.loaded_at).dt.normalize() - pd.to_datetime(orders.ordered_at)).dt.days
    runs = raw("production_runs")
    run_delay = (pd.to_datetime(runs.loaded_at).dt.normalize() - pd.to_datetime(runs.run_date)).dt.days
    assert (order_delay > 1).sum() > 0
    assert (run_delay > 1).sum() > 0
    assert (order_delay <= 1).mean() > 0.9, "most orders load on the day"


def test_spend_and_purchases_come_in_several_currencies(raw: Reader) -> None:
    """Staging converts USD and GBP to EUR with fx_rates, which cover every month and currency used."""
    spend, purchases, fx = raw("campaign_spend"), raw("purchase_orders"), raw("fx_rates")
    assert {"EUR", "USD"} <= set(spend.currency)
    assert {"EUR", "USD", "GBP"} <= set(purchases.currency)
    used = set(zip(spend.spend_date.str[:7] + "-01", spend.currency))
    assert used <= set(zip(fx.month_start, fx.currency))


# --- planted events -------------------------------------------------------------------------------

def test_assembly_defect_rate_spikes_for_a_week(raw: Reader) -> None:
    """Line 'Assembly', 2025-03-10 .. 2025-03-16: several times its usual defect rate; other lines normal."""
    runs = raw("production_runs").drop_duplicates().merge(raw("production_lines"), on="production_line_id")
    in_week = runs.run_date.between(*(d.isoformat() for d in demo.DEFECT_SPIKE))

    def rate(frame: pd.DataFrame) -> float:
        return float(frame.units_defective.sum() / frame.units_produced.sum())

    for line, group in runs.groupby("line_name"):
        spike, usual = rate(group[in_week[group.index]]), rate(group[~in_week[group.index]])
        if line == demo.DEFECT_SPIKE_LINE:
            assert spike > 4 * usual, (spike, usual)
        else:
            assert spike < 3 * usual, (line, spike, usual)


def test_riverside_conversion_collapses_for_a_week(raw: Reader) -> None:
    """Store 'Riverside', 2024-10-14 .. 2024-10-20: orders / footfall falls far below its usual weeks."""
    orders = raw("orders").drop_duplicates()
    per_day = orders.groupby(["store_id", "ordered_at"]).size().rename("orders").reset_index()
    traffic = raw("store_traffic").merge(per_day, how="left", left_on=["store_id", "traffic_date"],
                                         right_on=["store_id", "ordered_at"]).fillna({"orders": 0})
    traffic = traffic.merge(raw("stores"), on="store_id")
    traffic["week"] = pd.to_datetime(traffic.traffic_date).dt.to_period("W-SUN")
    weekly = traffic.groupby(["store_name", "week"])[["orders", "footfall"]].sum()
    conversion = (weekly.orders / weekly.footfall).unstack("store_name")
    collapse_week = pd.Period(demo.COLLAPSE[0], freq="W-SUN")
    usual = conversion.drop(collapse_week).median()
    that_week = conversion.loc[collapse_week]
    assert that_week[demo.COLLAPSE_STORE] < usual[demo.COLLAPSE_STORE] / 3
    assert (that_week.drop(demo.COLLAPSE_STORE) > usual.drop(demo.COLLAPSE_STORE) * 0.6).all()
    others = conversion.drop(collapse_week)[demo.COLLAPSE_STORE]
    assert others.min() > usual[demo.COLLAPSE_STORE] * 0.6, "the collapse is the only such week"


def channel_roi_by_month(raw: Reader) -> pd.Series:
    """Attributed gross profit / spend (EUR) per channel and month, straight from the raw tables."""
    orders = raw("orders").drop_duplicates()[["order_id", "ordered_at", "promotion"]]
    lines = raw("order_lines").merge(raw("products")[["product_id", "unit_cost"]], on="product_id")
    lines = lines.merge(orders, on="order_id")
    missing = lines.promotion.notna().astype(float) * 0.2 * lines.unit_price  # the staging rule
    discount = lines.discount_per_unit.fillna(missing.round(2))
    lines["gross_profit"] = lines.quantity * (lines.unit_price - discount - lines.unit_cost)
    per_order = lines.groupby("order_id").agg(gross_profit=("gross_profit", "sum"), ordered_at=("ordered_at", "first"))
    attributed = raw("attributed_orders").merge(per_order, left_on="order_id", right_index=True)
    attributed["month"] = attributed.ordered_at.str[:7]
    spend = raw("campaign_spend").merge(raw("campaigns")[["campaign_id", "channel_id"]], on="campaign_id")
    spend["month_start"] = spend.spend_date.str[:7] + "-01"
    spend = spend.merge(raw("fx_rates"), on=["month_start", "currency"])
    spend["eur"] = spend.spend * spend.eur_per_unit
    spend["month"] = spend.spend_date.str[:7]
    roi = (attributed.groupby(["channel_id", "month"]).gross_profit.sum()
           / spend.groupby(["channel_id", "month"]).eur.sum())
    names = raw("marketing_channels").set_index("channel_id").channel_name
    return roi.rename(index=names.to_dict(), level="channel_id").rename_axis(["channel", "month"])


def test_paid_social_roi_falls_under_target_for_one_month(raw: Reader) -> None:
    """'paid_social' in February 2025 is the only channel and month whose ROI is under its target."""
    roi = channel_roi_by_month(raw)
    targets = raw("targets").query("metric_name == 'channel_roi'")
    target = targets.assign(month=targets.period_start.str[:7]).set_index(["org_unit", "month"]).target_value
    target = target.rename_axis(["channel", "month"])
    under = roi[roi < target.reindex(roi.index)]
    assert list(under.index) == [(demo.ROI_SLUMP_CHANNEL, "2025-02")], under
    assert under.iloc[0] < 0.6 * target[(demo.ROI_SLUMP_CHANNEL, "2025-02")]


# --- the finance team's targets -------------------------------------------------------------------

def test_targets_cover_ten_kpis_that_are_defined_metrics(raw: Reader) -> None:
    """targets.csv: monthly targets for at least 10 KPIs, each the name of a metric in metrics/*.yml."""
    targets = raw("targets")
    assert list(targets.columns) == ["metric_name", "period_grain", "period_start", "org_unit", "target_value",
                                     "weight"]
    assert set(targets.period_grain) == {"month"}
    assert targets.metric_name.nunique() >= 10
    assert not targets.duplicated(["metric_name", "period_start", "org_unit"]).any()
    defined = {m["name"] for f in (ROOT / "metrics").glob("*.yml")
               for m in (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("metrics", [])}
    assert set(targets.metric_name) <= defined
    org_units = set(targets.org_unit)
    assert {"company", demo.COLLAPSE_STORE, demo.ROI_SLUMP_CHANNEL, demo.DEFECT_SPIKE_LINE} <= org_units
