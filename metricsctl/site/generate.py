"""`metricsctl docs generate`: the metric center as a static site in `target/metrics-site/`.

The site is `index.html`, the project's data as `data.js` (one JSON document assigned to a global, so
the site opens from `file://` without fetching anything), and the assets shipped with the package:
`app.js` (pages built with DOM calls and `textContent`, so every label and description shows as text),
`style.css` and Apache ECharts. Nothing is loaded from the network.
"""

from __future__ import annotations

import datetime
import html
import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricsctl.site import extract
from metricsctl.site.words import words

if TYPE_CHECKING:
    from metricsctl.facade import Metricsctl

SITE_FOLDER = "metrics-site"
ASSETS = ("app.js", "style.css", "echarts.min.js", "ECHARTS_LICENSE")
DATA_GLOBAL = "METRICS_SITE"


@dataclass(frozen=True)
class SiteResult:
    folder: Path
    metrics: int
    bytes: int
    seconds: float


def build_as_of(app: Metricsctl) -> datetime.date:
    """The date the last build judged freshness against (target/metricsctl_run.json), else today."""
    path = app.project.target_dir / "metricsctl_run.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return datetime.date.fromisoformat(str(record["expectations"]["as_of"])[:10])
    except (OSError, ValueError, KeyError, TypeError):
        return datetime.date.today()


def default_as_of(app: Metricsctl, reader: extract.Reader) -> datetime.date:
    """The last build's as-of date (else today), but no later than the day after the data ends."""
    end = extract.data_end(reader)
    as_of = build_as_of(app)
    return min(as_of, end + datetime.timedelta(days=1)) if end is not None else as_of


def stale_metrics(app: Metricsctl) -> dict[str, str]:
    """Metrics the last build kept at their last good values, and why (inputs that failed expectations)."""
    path = app.project.target_dir / "metricsctl_run.json"
    try:
        stale = json.loads(path.read_text(encoding="utf-8")).get("stale_metrics") or {}
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in stale.items()} if isinstance(stale, dict) else {}


def site_data(app: Metricsctl, lang: str = "en", as_of: datetime.date | None = None,
              daily_days: int = extract.DAILY_DAYS) -> dict[str, Any]:
    """Everything the site shows, as one JSON-able document."""
    from metricsctl.expectations import project_suites
    from metricsctl.lineage import build_graph
    from metricsctl.management.targets import load_scorecard_config

    spec = app.spec  # parses the project when it changed
    scorecard = load_scorecard_config(app.project.project_dir, app.project.paths("model-paths"))
    expectations = {(suite.name, e.describe()) for suite in project_suites(app.project) for e in suite.expectations}
    warehouse = app.warehouse()
    try:
        reader = extract.Reader(warehouse.execute, app.dialect)
        extract.check_tables(reader, scorecard is not None)
        window = extract.Window(as_of or default_as_of(app, reader), daily_days)
        values = extract.read_values(reader, window)
        catalog = extract.read_catalog(reader)
        targets = extract.read_company_targets(reader, window) if scorecard is not None else {}
        scorecards = extract.read_scorecards(reader, window) if scorecard is not None else {"scores": [], "kpis": []}
        quality = extract.read_quality(reader, expectations)
        alerts = extract.read_alerts(reader, app.dialect)
        manifest = app.project.manifest()
        breakdowns = extract.breakdowns(app, reader, manifest, window)
        periods = extract.tree_periods(window)
        period_targets = extract.read_period_targets(reader, scorecard.targets, periods) if scorecard else {}
    finally:
        warehouse.close()
    graph = build_graph(spec, manifest, app._lineage_attachments(), app.dialect)
    parents, children = extract.metric_links(app)
    latest = window.latest_month.isoformat()
    metrics = []
    for name in spec.metric_names():
        row = catalog.get(name, {})
        monthly = values.get(name, {}).get("month", [])
        value, previous = extract.latest_of(monthly, latest)
        target = targets.get(name, {}).get(latest, {})
        metrics.append({
            "name": name, "label": row.get("label") or name, "description": row.get("description"),
            "type": row.get("metric_type"), "owner": row.get("owner"), "unit": row.get("unit"),
            "level": row.get("level"), "direction": row.get("direction") or "higher",
            "kpi": bool(row.get("is_kpi")), "formula": row.get("formula"), "inputs": row.get("inputs"),
            "defined_in": row.get("defined_in"), "definition": extract.definition(spec, name),
            "parents": parents.get(name, []), "children": children.get(name, []),
            "latest": {"period": latest, "value": value, "previous": previous,
                       "target": target.get("target"), "attainment": target.get("attainment")},
            "targets": [[p, t["target"]] for p, t in sorted(targets.get(name, {}).items()) if t["target"] is not None],
            "lineage": extract.metric_lineage(graph, name), "sql": extract.metric_sql(app, name),
            "breakdowns": breakdowns.get(name, []),
        })
    roots = extract.tree_roots(app, catalog, parents, children)
    return {
        "meta": {"project": str(app.project.config.get("name") or app.project.project_dir.name), "lang": lang,
                 "as_of": window.as_of.isoformat(), "latest_month": latest, "daily_days": daily_days,
                 "generated_at": datetime.datetime.now().replace(microsecond=0).isoformat(sep=" ")},
        "words": words(lang),
        "metrics": metrics,
        "values": values,
        "trees": extract.trees(app, roots, periods, period_targets),
        "scorecards": scorecards,
        "funnels": extract.funnels(app, values, window),
        "alerts": alerts,
        "quality": quality,
        "stale": stale_metrics(app),
    }


def embed_json(document: Any) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or U+2028/9 can end or bend it."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def index_html(lang: str, title: str) -> str:
    """The page shell: every element inside <main> is built by app.js from data.js."""
    return f"""<!doctype html>
<html lang="{html.escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
</head>
<body>
<header><a id="brand" href="#/overview"></a><nav id="nav"></nav><span id="asof"></span></header>
<main id="main"></main>
<script src="echarts.min.js"></script>
<script src="data.js"></script>
<script src="app.js"></script>
</body>
</html>
"""


def check_site_folder(folder: Path) -> None:
    """Refuse a folder the site would be written into that holds files of someone else's: it must be new, empty
    or a site metricsctl wrote (its `data.js` says so), and none of the site's files in it a link or a folder."""
    from metricsctl.errors import MetricsctlError

    if not folder.exists():
        return
    if not folder.is_dir():
        raise MetricsctlError(f"{folder}: exists and is not a folder; choose a new folder for the site")
    data = folder / "data.js"
    ours = False
    if data.is_file() and not data.is_symlink():
        with data.open("rb") as file:
            ours = file.read(64).startswith(f"window.{DATA_GLOBAL} = ".encode())
    if not ours and any(folder.iterdir()):
        raise MetricsctlError(f"{folder}: holds files metricsctl did not write, which the site would overwrite "
                              "(index.html, ...); choose a new or empty folder with --out")
    for name in (*ASSETS, "data.js", "index.html"):
        path = folder / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise MetricsctlError(f"{path}: exists and is not a plain file; refusing to write the site over it")


def write_site(document: dict[str, Any], folder: Path) -> int:
    """Write the site into `folder` (replacing what an earlier run wrote: `check_site_folder`); the total size
    in bytes."""
    check_site_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    assets = resources.files("metricsctl.site") / "assets"
    for name in ASSETS:
        with resources.as_file(assets / name) as path:
            shutil.copyfile(path, folder / name)
    (folder / "data.js").write_text(f"window.{DATA_GLOBAL} = {embed_json(document)};\n", encoding="utf-8")
    (folder / "index.html").write_text(index_html(document["meta"]["lang"], document["words"]["title"]),
                                       encoding="utf-8")
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def generate(app: Metricsctl, out: Path | None = None, lang: str = "en", as_of: datetime.date | None = None,
             daily_days: int = extract.DAILY_DAYS) -> SiteResult:
    """Build the site's data from the warehouse and the project and write the site."""
    started = time.perf_counter()
    words(lang)  # a bad language fails before any work
    folder = out if out is not None else app.project.target_dir / SITE_FOLDER
    check_site_folder(folder)  # before the warehouse is read
    document = site_data(app, lang, as_of, daily_days)
    size = write_site(document, folder)
    return SiteResult(folder, len(document["metrics"]), size, time.perf_counter() - started)
