"""The metric center (`metricsctl docs generate` / `docs serve`), opened in headless Chromium.

The demo is built once per session (tests/conftest.py); this module works on a copy of it in which
the alert rules ran at the three planted events (so there is alert history) and one metric's label
and description hold markup, as a careless YAML author might write. Values shown by the site are
checked against SQL over `metric_values`, and the Explore page against `metricsctl query --json`.
Screenshots of the overview, a metric page and the tree are written to target/site-screenshots/.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import duckdb
import pytest
from click.testing import CliRunner

from metricsctl.cli import main
from metricsctl.expectations.results import ExpectationResult, ExpectationRun, SuiteResult, store_results
from metricsctl.facade import Metricsctl
from metricsctl.site.extract import Reader, read_quality, value_lost
from metricsctl.site.server import SiteServer, resolve_file
from metricsctl.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "target" / "site-screenshots"
AS_OF = "2025-07-01"  # the demo's data ends on 2025-06-30: June 2025 is the latest complete month
LATEST = "2025-06-01"
MARKUP_METRIC = "ad_clicks"
MARKUP_LABEL = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 3">Clicks'
MARKUP_DESCRIPTION = '<img src=x onerror="window.__pwned = 2"> <!-- <b>bold</b>'
CHINESE_METRIC, CHINESE_LABEL = "orders", "订单数（笔）"
PAGES = ("overview", "catalog", f"metric/{MARKUP_METRIC}", "metric/revenue", "metric/oee", "tree", "scorecards",
         "funnels", "alerts", "quality", "explore")


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def sql(project: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def project(demo_built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built demo, with alert history and a metric whose label and description hold markup."""
    root = tmp_path_factory.mktemp("site") / "demo"
    shutil.copytree(demo_built, root)
    app = Metricsctl(root)
    for day in ("2024-10-21", "2024-10-28", "2025-03-03", "2025-03-17", "2025-03-24"):
        app.alerts(as_of=datetime.datetime.fromisoformat(day))
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("update metric_catalog set label = ?, description = ? where metric_name = ?",
                [MARKUP_LABEL, MARKUP_DESCRIPTION, MARKUP_METRIC])
    con.execute("update metric_catalog set label = ? where metric_name = ?", [CHINESE_LABEL, CHINESE_METRIC])
    con.close()
    return root


@pytest.fixture(scope="module")
def site(project: Path) -> Path:
    result = run("docs", "generate", "--project-dir", str(project), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return project / "target" / "metrics-site"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        message = "needs Debian's chromium and chromium-driver (.ci/run installs them)"
        if os.environ.get("METRICSCTL_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="metricsctl-chromium-")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or ""
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, url: str) -> None:
    driver.get("about:blank")  # a fresh page each time, even when only the #fragment changes
    driver.get(url)
    # a page is drawn when app.js marked the body with it
    page = url.split("#/")[-1].split("/")[0] if "#/" in url else "overview"
    for _ in range(100):
        if driver.execute_script("return document.body.getAttribute('data-page')") == page:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url}: the page was not drawn")


def errors(driver: Any) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def empty_charts(driver: Any) -> list[str]:
    """The charts of the page that drew nothing (no SVG shape)."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('.chart')).filter(function (c) {
          return c.querySelectorAll('svg path, svg rect, svg circle').length === 0;
        }).map(function (c) { return c.outerHTML.slice(0, 80); });""")


# --- the static site, from file:// ---------------------------------------------------------------
def test_every_page_opens_from_file_without_errors_and_draws_its_charts(site: Path, browser: Any):
    drawn = {}
    for page in PAGES:
        open_page(browser, f"{site.as_uri()}/index.html#/{page}")
        assert errors(browser) == [], page
        assert empty_charts(browser) == [], page
        drawn[page] = browser.execute_script("return document.querySelectorAll('.chart').length")
        loaded = browser.execute_script(
            "return Array.from(document.querySelectorAll('[src], [href]')).map(e => e.src || e.href)")
        outside = [url for url in loaded if not url.startswith((site.as_uri(), "data:"))]
        assert outside == [], outside  # scripts, styles and links all within the site
        if page == "tree":
            browser.find_element("id", "tree-expand").click()
        if page in ("overview", "metric/revenue", "tree"):
            browser.save_screenshot(str(SCREENSHOTS / f"{page.replace('/', '-')}.png"))
    assert drawn["overview"] == sum(1 for row in sql(site.parents[1], "select is_kpi from metric_catalog") if row[0])
    assert drawn["metric/revenue"] >= 3  # trend, a breakdown per store, lineage
    for page in ("scorecards", "funnels", "alerts", "quality"):
        assert drawn[page] >= 1, page


def test_the_site_needs_no_network_and_is_small(site: Path):
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert "fetch(" not in (site / "data.js").read_text(encoding="utf-8")
    assert sum(f.stat().st_size for f in site.iterdir()) < 5_000_000


def test_a_metric_page_shows_the_latest_value_the_warehouse_holds(site: Path, browser: Any):
    project = site.parents[1]
    for metric in ("revenue", "oee", "average_order_value", "defect_rate"):
        expected = sql(project, f"select value from metric_values where metric_name = '{metric}' "
                                f"and grain = 'month' and period_start = date '{LATEST}'")[0][0]
        open_page(browser, f"{site.as_uri()}/index.html#/metric/{metric}")
        shown = browser.find_element("id", "latest-value")
        assert shown.get_attribute("data-period") == LATEST
        assert float(shown.get_attribute("data-value")) == pytest.approx(expected, rel=1e-12), metric
        assert shown.text not in ("", "–")


def test_the_trend_shows_every_month_and_the_daily_window(site: Path, browser: Any):
    project = site.parents[1]
    open_page(browser, f"{site.as_uri()}/index.html#/metric/revenue")
    points = "return echarts.getInstanceByDom(document.querySelector('.chart')).getOption().series[0].data"
    months = sql(project, f"select value from metric_values where metric_name = 'revenue' and grain = 'month' "
                          f"and period_start <= date '{LATEST}' order by period_start")
    assert browser.execute_script(points) == pytest.approx([v for (v,) in months])
    browser.find_element("css selector", "button[data-grain=day]").click()
    days = sql(project, "select value from metric_values where metric_name = 'revenue' and grain = 'day' and "
                        f"period_start >= date '{AS_OF}' - 92 and period_start < date '{AS_OF}' order by period_start")
    shown = browser.execute_script(points)
    assert shown == pytest.approx([v for (v,) in days]) and 80 < len(shown) <= 92
    assert "92" in browser.find_element("id", "trend-note").text


def test_the_catalog_search_narrows_to_the_matching_metrics(site: Path, browser: Any):
    project = site.parents[1]
    open_page(browser, f"{site.as_uri()}/index.html#/catalog")
    rows = browser.find_elements("css selector", "#catalog tbody tr")
    assert len(rows) == sql(project, "select count(*) from metric_catalog")[0][0]
    browser.find_element("id", "search").send_keys("Conversion")
    expected = {name for (name,) in sql(project, """
        select metric_name from metric_catalog
        where lower(concat_ws(' ', metric_name, label, description, owner)) like '%conversion%'""")}
    shown = {r.get_attribute("data-metric") for r in browser.find_elements("css selector", "#catalog tbody tr")}
    assert shown == expected and 2 < len(shown) < len(rows)


def test_the_catalog_filters_by_owner(site: Path, browser: Any):
    from selenium.webdriver.support.ui import Select

    open_page(browser, f"{site.as_uri()}/index.html#/catalog")
    Select(browser.find_element("css selector", "select[data-filter=owner]")).select_by_value("head_of_quality")
    shown = {r.get_attribute("data-metric") for r in browser.find_elements("css selector", "#catalog tbody tr")}
    owned = {name for (name,) in sql(site.parents[1], "select metric_name from metric_catalog "
                                                      "where owner = 'head_of_quality'")}
    assert shown == owned and shown


def test_markup_in_labels_and_descriptions_shows_as_text(site: Path, browser: Any):
    for page in (f"metric/{MARKUP_METRIC}", "catalog"):
        open_page(browser, f"{site.as_uri()}/index.html#/{page}")
        assert browser.execute_script("return window.__pwned") is None
        assert browser.execute_script("return document.querySelectorAll('main script, main img').length") == 0
        assert errors(browser) == []
    open_page(browser, f"{site.as_uri()}/index.html#/metric/{MARKUP_METRIC}")
    assert browser.find_element("css selector", "main h1").text == MARKUP_LABEL
    assert browser.find_element("css selector", "main p.description").text == MARKUP_DESCRIPTION.strip()
    # the trend chart's tooltip names the series by its label: hovering shows it as text too
    from selenium.webdriver.common.action_chains import ActionChains

    trend = browser.find_elements("css selector", ".chart")[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", trend)
    tooltip = ""
    for step in range(40):
        ActionChains(browser).move_to_element_with_offset(trend, step % 5 * 10, 0).perform()
        tooltip = browser.execute_script(
            "var divs = arguments[0].querySelectorAll(':scope > div'); return divs[divs.length - 1].textContent;",
            trend)
        if MARKUP_LABEL in tooltip:
            break
        time.sleep(0.1)
    assert MARKUP_LABEL in tooltip  # the tooltip is up, and shows the label as text
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0


def test_the_tree_expands_and_collapses(site: Path, browser: Any):
    from selenium.webdriver.support.ui import Select

    open_page(browser, f"{site.as_uri()}/index.html#/tree")
    Select(browser.find_element("id", "tree-root")).select_by_value("oee")
    root = browser.find_element("css selector", "#tree > .tree-node")
    assert root.get_attribute("data-metric") == "oee"
    children = root.find_elements("css selector", ":scope > .tree-children > .tree-node")
    assert {c.get_attribute("data-metric") for c in children} >= {"availability", "performance", "quality"}
    assert all(c.is_displayed() for c in children)
    branch = next(c for c in children if c.find_elements("css selector", ":scope > .tree-children"))
    grandchildren = branch.find_elements("css selector", ":scope > .tree-children > .tree-node")
    assert grandchildren and not any(g.is_displayed() for g in grandchildren)
    branch.find_element("css selector", ":scope > .tree-row .toggle").click()
    assert all(g.is_displayed() for g in grandchildren)
    assert branch.get_attribute("aria-expanded") == "true"
    branch.find_element("css selector", ":scope > .tree-row .toggle").click()
    assert not any(g.is_displayed() for g in grandchildren)


def test_the_tree_shows_what_metricsctl_tree_computes(site: Path):
    data = json.loads((site / "data.js").read_text(encoding="utf-8").split(" = ", 1)[1].rstrip(";\n"))
    assert site_meta(site)["latest_month"] == LATEST
    result = run("tree", "oee", "--period", "2025-03", "--json", "--project-dir", str(site.parents[1]))
    assert data["trees"]["by_period"]["2025-03"]["oee"] == json.loads(result.stdout)


def site_meta(folder: Path) -> dict[str, Any]:
    data = json.loads((folder / "data.js").read_text(encoding="utf-8").split(" = ", 1)[1].rstrip(";\n"))
    return dict(data["meta"])


def test_without_as_of_the_site_ends_where_the_data_ends(project: Path, tmp_path: Path):
    # the demo was built without --as-of (judged against today); its source systems end on 2025-06-30
    result = run("docs", "generate", "--project-dir", str(project), "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    meta = site_meta(tmp_path / "site")
    assert (meta["as_of"], meta["latest_month"]) == ("2025-07-01", LATEST)


def test_the_site_is_written_only_where_it_overwrites_nothing_of_someone_else(project: Path, tmp_path: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("my own page")
    result = run("docs", "generate", "--project-dir", str(project), "--out", str(mine))
    assert result.exit_code != 0 and "holds files metricsctl did not write" in result.output
    assert [p.name for p in mine.iterdir()] == ["index.html"] and (mine / "index.html").read_text() == "my own page"
    # a site metricsctl wrote is written again, but not through a link planted among its files
    site = tmp_path / "site"
    assert run("docs", "generate", "--project-dir", str(project), "--out", str(site)).exit_code == 0
    assert run("docs", "generate", "--project-dir", str(project), "--out", str(site)).exit_code == 0
    (site / "app.js").unlink()
    (site / "app.js").symlink_to(mine / "index.html")
    result = run("docs", "generate", "--project-dir", str(project), "--out", str(site))
    assert result.exit_code != 0 and "is not a plain file" in result.output
    assert (mine / "index.html").read_text() == "my own page"


def test_funnels_step_from_a_whole_to_the_part_that_converted(site: Path):
    data = json.loads((site / "data.js").read_text(encoding="utf-8").split(" = ", 1)[1].rstrip(";\n"))
    funnels = {tuple(f["steps"]): f for f in data["funnels"]}
    assert {("sales_visits", "sales_visit_conversions"), ("leads", "converted_leads")} <= set(funnels)
    visits = funnels[("sales_visits", "sales_visit_conversions")]
    june = next(r for r in visits["rows"] if r[0] == LATEST)
    expected = dict(sql(site.parents[1], "select metric_name, value from metric_values where grain = 'month' and "
                                         f"period_start = date '{LATEST}' and metric_name like 'sales_visit%'"))
    assert june[1:] == [expected["sales_visits"], expected["sales_visit_conversions"]]
    # by visit type, the counts add up to the month's (counts are additive)
    by_type = next(d for d in visits["dimensions"] if d["dimension"] == "visit__visit_type")
    members = [r for r in by_type["rows"] if r[0] == LATEST]
    assert len(members) >= 2
    assert [sum(r[i] for r in members) for i in (2, 3)] == june[1:]


def test_a_funnel_with_a_conversion_value_shows_the_money_each_step_loses(site: Path, browser: Any):
    # the demo says one converted sales visit is worth an average order (`conversion_value`)
    data = json.loads((site / "data.js").read_text(encoding="utf-8").split(" = ", 1)[1].rstrip(";\n"))
    visits = next(f for f in data["funnels"] if f["steps"] == ["sales_visits", "sales_visit_conversions"])
    assert visits["value"]["metric"] == "average_order_value"
    june = dict(sql(site.parents[1], "select metric_name, value from metric_values where grain = 'month' and "
                                     f"period_start = date '{LATEST}'"))
    # two steps: the visits that did not convert, each worth one average order
    expected = (june["sales_visits"] - june["sales_visit_conversions"]) * june["average_order_value"]
    assert next(r for r in visits["value"]["rows"] if r[0] == LATEST) == pytest.approx(
        [LATEST, june["average_order_value"], expected])
    # a funnel whose steps name no conversion_value shows people only
    assert "value" not in next(f for f in data["funnels"] if f["steps"] == ["leads", "converted_leads"])

    open_page(browser, f"{site.as_uri()}/index.html#/funnels")
    section = browser.find_elements("css selector", "section.funnel")[
        [f["steps"] for f in data["funnels"]].index(["sales_visits", "sales_visit_conversions"])]
    assert "Average order value" in section.find_element("css selector", ".worth").text
    lost = section.find_elements("css selector", "table.grid tbody td.value-lost")
    assert [c.text for c in lost][0] == "–" and lost[1].text.endswith("EUR")
    assert float(lost[1].text.split()[0].replace(",", "")) == pytest.approx(expected, rel=1e-3, abs=1)
    assert not errors(browser)


def test_value_lost_at_each_step_by_a_worked_example():
    # 100 visits, 40 quotes, 10 orders worth 50 each: 500 in all. Whoever got a quote was worth 500 / 40
    # = 12.5, so the 60 visits without a quote lost 750; the 30 quotes without an order lost 30 * 50.
    assert value_lost([100, 40, 10], 50.0) == [750.0, 1500.0]
    # nothing converted: a quote led to no order, so losing a visit lost nothing; each lost quote, an order
    assert value_lost([100, 40, 0], 50.0) == [0.0, 2000.0]
    assert value_lost([100, 0, 0], 50.0) == [None, 0.0]  # nobody got a quote: what one was worth is unknown
    assert value_lost([100, None], 50.0) == [None] and value_lost([100, 40], None) == [None]


def test_the_quality_page_shows_each_expectations_latest_result_of_those_the_project_has_now():
    """A nightly build whose suite's relation did not change runs only its freshness check: the page then
    shows that check from the nightly and the suite's other checks from the build before; a check removed
    from the project since it ran is not shown."""
    def result(expectation: str, success: bool, **kwargs: Any) -> ExpectationResult:
        return ExpectationResult("stg_orders", "stg_orders", expectation, kwargs, "error", success)

    unique = result("expect_column_values_to_be_unique", False, column="order_id")
    fresh = result("expect_column_max_to_be_between", True, column="ordered_at", max_age_days=2)
    removed = result("expect_column_values_to_not_be_null", True, column="store_id")
    stale = result("expect_column_max_to_be_between", False, column="ordered_at", max_age_days=2)

    def run(day: int, *results: ExpectationResult) -> ExpectationRun:
        suite = SuiteResult("stg_orders", "stg_orders", "w.main.stg_orders", None, "error", results)
        return ExpectationRun(f"run-{day}", datetime.datetime(2025, 7, day), datetime.date(2025, 7, day), (suite,))

    warehouse = DuckDBWarehouse(":memory:")
    store_results(warehouse, run(1, unique, fresh, removed))
    store_results(warehouse, run(2, stale))  # the nightly: the orders did not change, only freshness ran
    current = {("stg_orders", r.describe()) for r in (unique, fresh)}
    shown = read_quality(Reader(warehouse.execute, "duckdb"), current)
    assert [(row["expectation"], row["success"], str(row["run_at"])[:10]) for row in shown] == [
        (stale.describe(), False, "2025-07-02"), (unique.describe(), False, "2025-07-01")]


def test_scorecards_rank_the_org_units_by_their_score(site: Path, browser: Any):
    open_page(browser, f"{site.as_uri()}/index.html#/scorecards")
    for kind in ("store", "channel", "production_line"):
        shown = [r.get_attribute("data-unit") for r in browser.find_elements("css selector", f"tr[data-kind={kind}]")]
        ranked = [u for (u,) in sql(site.parents[1], f"select org_unit from scorecards where org_unit_kind = '{kind}' "
                                                     f"and period_start = date '{LATEST}' order by score desc")]
        assert shown == ranked and len(shown) >= 3, kind


def test_alerts_and_data_quality_show_what_the_warehouse_recorded(site: Path, browser: Any):
    project = site.parents[1]
    history = dict(sql(project, "select alert_id, resolved_at is null from metricsctl_alert_history"))
    assert sorted(history.values()) == [False, False, True]  # the planted events: two resolved, one still open
    open_page(browser, f"{site.as_uri()}/index.html#/alerts")
    rows = browser.find_elements("css selector", "tr.alert")
    assert {r.get_attribute("data-alert"): "open" in r.get_attribute("class").split() for r in rows} == history
    open_page(browser, f"{site.as_uri()}/index.html#/overview")
    shown_open = {r.get_attribute("data-alert") for r in browser.find_elements("css selector", "tr.alert")}
    assert shown_open == {a for a, is_open in history.items() if is_open}
    open_page(browser, f"{site.as_uri()}/index.html#/quality")
    last_run = sql(project, "select count(*), count(*) filter (where not success) from expectation_results "
                            "where run_at = (select max(run_at) from expectation_results)")[0]
    checks = browser.find_elements("css selector", "tr.check")
    assert len(checks) == last_run[0] > 100
    assert len(browser.find_elements("css selector", "tr.check td.status.fail")) == last_run[1]


def test_a_tree_the_warehouse_cannot_answer_is_left_out_and_the_others_kept(project: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    from metricsctl.errors import WarehouseError
    from metricsctl.site import extract

    app = Metricsctl(project)
    real = app.query

    def failing(query: Any) -> Any:
        if "quality" in query.metrics:
            raise WarehouseError("the warehouse refused the query: quality is broken")
        return real(query)

    monkeypatch.setattr(app, "query", failing)
    periods = extract.tree_periods(extract.Window(datetime.date.fromisoformat(AS_OF)), months=2)
    result = extract.trees(app, ["oee", "average_order_value"], periods, {})
    assert result["roots"] == ["average_order_value"]
    assert result["by_period"][periods[0].label]["average_order_value"]["value"] is not None


def test_the_site_speaks_chinese(project: Path, browser: Any, tmp_path: Path):
    result = run("docs", "generate", "--project-dir", str(project), "--as-of", AS_OF, "--lang", "zh",
                 "--out", str(tmp_path / "zh"))
    assert result.exit_code == 0, result.output
    open_page(browser, f"{(tmp_path / 'zh').as_uri()}/index.html#/overview")
    nav = [a.text for a in browser.find_elements("css selector", "#nav a")]
    assert nav[:3] == ["概览", "指标目录", "指标树"]
    assert errors(browser) == [] and empty_charts(browser) == []
    assert browser.find_element("css selector", "html").get_attribute("lang") == "zh"
    open_page(browser, f"{(tmp_path / 'zh').as_uri()}/index.html#/metric/{CHINESE_METRIC}")
    assert browser.find_element("css selector", "main h1").text == CHINESE_LABEL  # labels stay as written
    browser.save_screenshot(str(SCREENSHOTS / "overview-zh.png"))


def test_explore_says_it_needs_the_server_when_opened_from_file(site: Path, browser: Any):
    open_page(browser, f"{site.as_uri()}/index.html#/explore")
    assert "metricsctl docs serve" in browser.find_element("id", "explore-note").text


def test_the_docs_commands_have_help_with_an_example():
    docs = main.commands["docs"]
    assert isinstance(docs, click.Group)
    for name, command in docs.commands.items():
        assert command.help and "Example" in command.help, f"`metricsctl docs {name}` needs help with an example"
        assert run("docs", name, "--help").exit_code == 0


def test_every_word_the_pages_use_exists_in_every_language():
    from metricsctl.site.words import WORDS

    app_js = (ROOT / "metricsctl" / "site" / "assets" / "app.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bW\.([a-z_]+)", app_js)) | {"day", "week", "month", "metrics", "group_by", "where"}
    for lang, words in WORDS.items():
        assert used <= set(words), (lang, used - set(words))
        assert set(words) == set(WORDS["en"]), lang


# --- bad input -------------------------------------------------------------------------------------
def test_generate_before_a_build_names_the_missing_tables_and_exits_2(shop_dir: Path):
    # the shop test project is loaded by dbt, but metricsctl never built its metric tables
    result = run("docs", "generate", "--project-dir", str(shop_dir), "--out", str(shop_dir / "site"))
    assert result.exit_code == 2
    assert result.output.strip() == ("error: the warehouse has no metric_values, metric_catalog: the project is not "
                                     "built yet; run `metricsctl build` first, then `metricsctl docs generate`")
    assert not (shop_dir / "site").exists()


def test_serve_before_generate_says_so_and_exits_2(shop_dir: Path):
    result = run("docs", "serve", "--project-dir", str(shop_dir), "--port", "0")
    assert result.exit_code == 2
    assert "no metric center here; run `metricsctl docs generate` first" in result.output


# --- docs serve ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[SiteServer]:
    served = SiteServer(Metricsctl(site.parents[1]), port=0, quiet=True)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def get(server: SiteServer, path: str, method: str = "GET", host_header: str | None = None) -> tuple[int, str]:
    host, port = server.server_address[:2]
    con = http.client.HTTPConnection(str(host), int(port), timeout=30)
    try:
        # the path goes out as written: no client-side normalisation
        con.request(method, path, headers={"Host": host_header} if host_header is not None else {})
        response = con.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        con.close()


def same_answer(api: str, cli: str) -> bool:
    """The same rows, columns and order; a sum of doubles may differ in its last bit between two runs of one
    query, because DuckDB adds a group's rows in the order its threads meet them."""
    left, right = json.loads(api), json.loads(cli)
    assert [list(row) for row in left] == [list(row) for row in right]  # columns and their order
    return all(a == pytest.approx(b, rel=1e-12) if isinstance(b, float) else a == b
               for row_a, row_b in zip(left, right, strict=True) for a, b in zip(row_a.values(), row_b.values()))


def test_api_query_answers_as_metricsctl_query_json(server: SiteServer, site: Path):
    cli = run("query", "--project-dir", str(site.parents[1]), "--metrics", "revenue,orders", "--group-by",
              "metric_time__month,store__region", "--order-by", "-revenue", "--limit", "7", "--start-time",
              "2025-01-01", "--where", "{{ Dimension('customer__segment') }} = 'business'", "--json")
    assert cli.exit_code == 0, cli.output
    status, body = get(server, "/api/query?metrics=revenue,orders&group_by=metric_time__month,store__region"
                               "&order_by=-revenue&limit=7&start_time=2025-01-01&where=%7B%7B%20Dimension("
                               "%27customer__segment%27)%20%7D%7D%20%3D%20%27business%27")
    assert status == 200
    assert same_answer(body, cli.stdout)
    assert len(json.loads(body)) == 7


def test_api_query_runs_a_saved_query_as_metricsctl_query_does(server: SiteServer, site: Path):
    cli = run("query", "--project-dir", str(site.parents[1]), "--saved-query", "sales_by_month_and_store",
              "--order-by", "-revenue", "--limit", "3", "--json")
    assert cli.exit_code == 0, cli.output
    status, body = get(server, "/api/query?saved_query=sales_by_month_and_store&order_by=-revenue&limit=3")
    assert status == 200
    assert same_answer(body, cli.stdout)


def test_a_client_that_stays_silent_is_dropped(server: SiteServer, monkeypatch: pytest.MonkeyPatch):
    """A connection opened and fed half a request, then nothing, holds one of the server's threads: it is closed
    after the handler's timeout (30 s; a second here)."""
    from metricsctl.site.server import Handler

    assert Handler.timeout == 30
    monkeypatch.setattr(Handler, "timeout", 1)
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=20) as client:
        client.sendall(b"GET /api/metrics HTTP/1.1\r\n")  # no end of headers
        started = time.monotonic()
        assert client.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 10
    assert get(server, "/api/metrics")[0] == 200  # and it serves the next client


@pytest.mark.parametrize(("query", "message"), [
    ("metrics=revenu", "revenu"),
    ("metrics=revenue&where=1%3D1%3B%20drop%20table%20metric_values", "exactly one SQL boolean expression"),
    ("metrics=revenue&where=%7B%7B%20Dimension('customer__segment')%20%7D%7D%20in%20(select%20password%20from%20x)",
     "`(SELECT password FROM x)` is not allowed"),
    ("metrics=revenue&limit=-1", "limit"),
    ("metrics=revenue&limit=%C2%B2", "limit must be a whole number"),  # '²', a digit to Python's isdigit
    ("metrics=revenue&limit=1" + "0" * 5000, "below 10^18"),  # int() refuses more than 4,300 digits
    ("metrics=revenue&drop=1", "unknown parameter drop"),
    ("", "no metrics"),
])
def test_api_query_refuses_bad_input_with_400_and_runs_nothing(server: SiteServer, query: str, message: str,
                                                                monkeypatch: pytest.MonkeyPatch):
    opened = []
    real = server.app.warehouse
    monkeypatch.setattr(server.app, "warehouse", lambda: opened.append(1) or real())
    status, body = get(server, f"/api/query?{query}")
    assert status == 400
    assert message in json.loads(body)["error"]
    assert opened == []  # refused before the warehouse was opened


def test_api_metrics_lists_the_catalog(server: SiteServer, site: Path):
    status, body = get(server, "/api/metrics")
    assert status == 200
    names = [row["metric_name"] for row in json.loads(body)]
    assert names == [n for (n,) in sql(site.parents[1], "select metric_name from metric_catalog order by 1")]


@pytest.mark.parametrize("path", ["/../warehouse.duckdb", "/%2e%2e/%2e%2e/warehouse.duckdb", "/..%2fprofiles.yml",
                                  "//etc/passwd", "/%2fetc%2fpasswd", "/nothing-here.js", "/api/write"])
def test_the_server_serves_nothing_outside_the_site(server: SiteServer, path: str):
    status, body = get(server, path)
    assert status == 404
    assert "error" in json.loads(body)


def test_a_folders_index_that_links_outside_the_site_is_not_served(tmp_path: Path):
    """A folder's address serves its index.html, which is checked like any file: a link there to a file outside
    the site is not followed (a link named directly never was)."""
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "other").mkdir()
    (tmp_path / "secret.txt").write_text("s3cret")
    (site / "index.html").write_text("home")
    (site / "other" / "index.html").write_text("other")
    (site / "sub" / "index.html").symlink_to(tmp_path / "secret.txt")
    root = Path(os.path.realpath(site))
    assert resolve_file(root, "/sub/") is None and resolve_file(root, "/sub") is None
    assert resolve_file(root, "/sub/index.html") is None
    assert resolve_file(root, "/other/") == root / "other" / "index.html"
    assert resolve_file(root, "/") == root / "index.html"


def test_the_server_has_no_write_endpoint(server: SiteServer):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, body = get(server, "/api/query?metrics=revenue", method)
        assert status == 405 and "read-only" in json.loads(body)["error"]


@pytest.mark.parametrize("host_header", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example",
                                         "localhost.evil.example:80", "10.0.0.5:8080", "[::1"])
def test_the_server_on_localhost_answers_no_request_addressed_to_another_name(server: SiteServer, host_header: str):
    """A page of another site whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name as Host: it
    reads neither the API nor the site, and writes nothing."""
    for path, method in (("/api/query?metrics=revenue", "GET"), ("/api/metrics", "GET"), ("/", "GET"),
                         ("/", "HEAD"), ("/api/query?metrics=revenue", "POST")):
        status, body = get(server, path, method, host_header)
        assert status == 403, (path, method)
        if method != "HEAD":
            assert "localhost only" in json.loads(body)["error"]


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "app.localhost"])
def test_the_server_answers_requests_to_this_machine_by_any_of_its_loopback_names(server: SiteServer, name: str):
    port = server.server_address[1]
    for host_header in (name, f"{name}:{port}"):
        status, body = get(server, "/api/metrics", host_header=host_header)
        assert status == 200 and json.loads(body), host_header


def test_a_server_listening_on_another_address_answers_any_name():
    from metricsctl.site.server import host_allowed

    assert host_allowed("metrics.internal:8080", "0.0.0.0")
    assert host_allowed("10.0.0.5", "10.0.0.5")
    assert not host_allowed("metrics.internal:8080", "127.0.0.1")
    assert not host_allowed("metrics.internal", "::1")
    assert host_allowed(None, "127.0.0.1")  # no Host header: HTTP/1.0, never a browser


def test_an_error_the_api_answers_masks_the_secrets_metricsctl_read(server: SiteServer,
                                                                    monkeypatch: pytest.MonkeyPatch):
    from metricsctl import guards

    secret = "s3cr3t_warehouse_token_42"
    monkeypatch.setattr(guards, "_SECRETS", {secret})
    status, body = get(server, f"/api/query?metrics={secret}")
    assert status == 400
    assert secret not in body and "***" in json.loads(body)["error"]


def test_every_page_opens_through_docs_serve_without_errors_and_draws_its_charts(server: SiteServer, browser: Any):
    for page in PAGES:
        open_page(browser, f"{server.url}#/{page}")
        assert errors(browser) == [], page
        assert empty_charts(browser) == [], page


def test_explore_returns_the_rows_of_metricsctl_query(server: SiteServer, site: Path, browser: Any):
    open_page(browser, f"{server.url}#/explore")
    for name, value in (("metrics", "revenue,average_order_value"), ("group_by", "metric_time__quarter"),
                        ("order_by", "metric_time__quarter")):
        box = browser.find_element("id", f"q-{name}")
        box.clear()
        box.send_keys(value)
    browser.find_element("id", "q-run").click()
    for _ in range(200):
        if browser.find_element("id", "explore-result").get_attribute("data-done"):
            break
        time.sleep(0.05)
    header = [th.text for th in browser.find_elements("css selector", "#explore-table thead th")]
    rows = [[td.text for td in tr.find_elements("css selector", "td")]
            for tr in browser.find_elements("css selector", "#explore-table tbody tr")]
    cli = json.loads(run("query", "--project-dir", str(site.parents[1]), "--metrics", "revenue,average_order_value",
                         "--group-by", "metric_time__quarter", "--order-by", "metric_time__quarter", "--json").stdout)
    assert header == list(cli[0])
    assert len(rows) == len(cli) > 4
    for shown, record in zip(rows, cli):
        for text, value in zip(shown, record.values(), strict=True):
            if isinstance(value, float):
                assert float(text) == value  # the shortest text that reads back as the same number
            else:
                assert text == ("–" if value is None else str(value))
    assert errors(browser) == []
    browser.find_element("id", "q-metrics").clear()
    browser.find_element("id", "q-metrics").send_keys("revenu")
    browser.find_element("id", "q-run").click()
    for _ in range(200):
        if browser.find_element("id", "explore-result").get_attribute("data-done"):
            break
        time.sleep(0.05)
    assert "revenu" in browser.find_element("id", "explore-error").text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_docs_serve_from_the_command_line(site: Path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "metricsctl.cli", "docs", "serve", "--port", str(port),
                                "--project-dir", str(site.parents[1])], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                con.request("GET", "/")
                response = con.getresponse()
                break
            except OSError:
                assert process.poll() is None and time.time() < deadline, "the server did not start"
                time.sleep(0.2)
        assert response.status == 200 and b"data.js" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=10)
