"""The `metricsctl` command: a thin layer over `metricsctl.facade.Metricsctl`.

Exit codes, as dbt's: 0 ok, 1 a check or test failed, 2 an error (bad input, bad spec, warehouse).

Each command imports what it needs when it runs, so `metricsctl --help` and a query answer quickly: this
module itself imports only click and metricsctl's errors (bench/query_latency.py measures it).
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from metricsctl.errors import MetricsctlError, QueryError

F = TypeVar("F", bound=Callable[..., Any])


def project_options(func: F) -> F:
    """dbt's flags, defined once."""
    func = click.option("--target", "-t", default=None, help="dbt target (default: the profile's).")(func)
    func = click.option("--profiles-dir", type=click.Path(file_okay=False), default=None,
                        help="Folder holding profiles.yml (default: as dbt finds it).")(func)
    func = click.option("--project-dir", type=click.Path(file_okay=False), default=".",
                        show_default=True, help="The dbt project.")(func)
    return func


def _enable_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["debug"] = True


INTERRUPTED = 130  # a command stopped by Ctrl-C (SIGINT), as a shell reports it: 128 + the signal's number


def reports_errors(func: F) -> F:
    """Every error becomes one line and exit code 2; `--debug` (before or after the command) shows the traceback.

    metricsctl's own errors say what is wrong and how to fix it. Anything else is a defect of metricsctl
    and is reported as an internal error, still as one line.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `metricsctl query | head`: the reader has what it wanted; exit as `head`'s peers do
            from metricsctl.progress import stdout_gone

            stdout_gone()
            sys.exit(141)
        except MetricsctlError as exc:
            _fail(ctx, f"error: {exc}", exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C: as a shell reports it, never the exit code of a finding
            click.echo("error: interrupted", err=True)
            sys.exit(INTERRUPTED)
        except RecursionError:
            _fail(ctx, "error: the input is nested too deeply to process (Python's recursion limit was reached); "
                  "simplify the most deeply nested filter or expression", 2)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
            _fail(ctx, f"internal error: {type(exc).__name__}: {_one_line(str(exc))}; rerun with --debug to see "
                  "the traceback", 2)

    wrapper = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_enable_debug,
                           help="Show tracebacks of errors.")(wrapper)
    return wrapper  # type: ignore[return-value]


def _terminated_cleanly() -> None:
    """SIGTERM ends the command as an exit does (SystemExit, code 143 as a shell reports it), so that what it set
    up is taken down on the way out; by default the process would end where it stands."""
    import signal
    import threading

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():  # only the main thread sets signal handlers
        signal.signal(signal.SIGTERM, stop)


def _by_ctrl_c(exc: BaseException) -> bool:
    """Whether Ctrl-C raised `exc`, or the error it became (Python wraps one raised while a class is created,
    in an import, as a RuntimeError)."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        if isinstance(found, KeyboardInterrupt):
            return True
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return False


def _fail(ctx: click.Context, message: str, code: int) -> None:
    import traceback

    from metricsctl.guards import mask

    if ctx.obj and ctx.obj.get("debug"):
        traceback.print_exc()
    click.echo(mask(message), err=True)  # an error may quote a secret (a URL with its token)
    sys.exit(code)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="metricsctl")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Metrics as code: the dbt Semantic Layer compiled into lean SQL for your warehouse."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = ctx.obj.get("debug") or debug
    ctx.obj["started"] = time.perf_counter()  # a build reports its wall time from here


@main.command()
@click.option("--metrics", default="", help="Metrics to compute, comma-separated.")
@click.option("--group-by", default="", help="Group-by items, e.g. metric_time__month,customer__region.")
@click.option("--where", multiple=True, help="A filter in MetricFlow's Jinja form (repeatable).")
@click.option("--order-by", "--order", "order_by", default="",
              help="Columns to sort by, comma-separated; a leading '-' sorts descending.")
@click.option("--limit", type=click.IntRange(min=0, max=10**18 - 1), default=None, help="At most this many rows.")
@click.option("--start-time", default=None, help="Earliest metric_time (ISO date), inclusive.")
@click.option("--end-time", default=None, help="Latest metric_time (ISO date), inclusive.")
@click.option("--saved-query", default=None, help="Run a saved query of the project.")
@click.option("--explain", is_flag=True, help="Print the SQL and run nothing.")
@click.option("--dialect", default=None, help="With --explain: render for this dialect.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Write CSV here (with --json, print the JSON too).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
@click.option("--semantic-manifest", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Query this semantic_manifest.json instead of parsing the project.")
@project_options
@reports_errors
def query(metrics: str, group_by: str, where: tuple[str, ...], order_by: str, limit: int | None,
          start_time: str | None, end_time: str | None, saved_query: str | None, explain: bool,
          dialect: str | None, csv_path: str | None, as_json: bool, semantic_manifest: str | None,
          project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Compute metrics, shaped like `mf query`.

    Example:

        metricsctl query --metrics revenue,orders --group-by metric_time__month --order-by metric_time__month
    """
    from metricsctl.facade import Metricsctl

    app = Metricsctl(project_dir, profiles_dir, target, semantic_manifest)
    if csv_path:  # checked before anything runs: an output never overwrites an input
        from metricsctl.output import check_output_path

        check_output_path(Path(csv_path), ".csv", app.protected_paths(), app.input_folders())
    request = app.request(metrics, group_by, where, order_by, limit, start_time, end_time,
                          saved_query).with_default_order()
    if explain:
        if csv_path or as_json:
            raise QueryError("--explain prints the SQL and runs nothing; drop --csv and --json, or --explain")
        compiled = app.compile_query(request, dialect)
        click.echo(compiled.sql())
        return
    if dialect:
        raise QueryError("--dialect renders SQL only; use it with --explain")
    from metricsctl import output  # the table printer, only for an answer

    result = app.query(request)
    if csv_path:  # and the JSON on stdout too when both are asked for
        output.write_csv(result, Path(csv_path))
        click.echo(f"wrote {len(result.rows)} rows to {csv_path}", err=True)
    if as_json:
        output.write_json(result, sys.stdout)
    elif not csv_path:
        output.print_table(result)


@main.command()
@click.argument("node")
@click.option("--up", "direction", flag_value="up", help="Only what NODE reads.")
@click.option("--down", "direction", flag_value="down", help="Only what reads NODE.")
@click.option("--both", "direction", flag_value="both", default=True, help="Both ways (the default).")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="At most this many steps each way.")
@click.option("--columns", is_flag=True, help="Column level: down to the source columns NODE reads.")
@click.option("--format", "fmt", type=click.Choice(["tree", "json", "mermaid", "dot"]), default="tree",
              show_default=True, help="Output format.")
@project_options
@reports_errors
def lineage(node: str, direction: str, depth: int | None, columns: bool, fmt: str, project_dir: str,
            profiles_dir: str | None, target: str | None) -> None:
    """Show the lineage of NODE: seeds and models, semantic models, measures, metrics, exports, dashboards.

    NODE is a metric name, or kind:name (seed:orders, model:stg_orders, measure:order_lines.revenue,
    saved_query:x, export:x, exposure:x).

    Example:

        metricsctl lineage revenue_mom_growth_pct --up --format mermaid
    """
    from metricsctl.facade import Metricsctl
    from metricsctl.guards import mask
    from metricsctl.lineage import render

    result = Metricsctl(project_dir, profiles_dir, target).lineage(node, direction, depth, columns)
    click.echo(mask(render(result, fmt)))  # a column's expression may hold a value a profile holds as secret


SEVERITIES = ("info", "warning", "critical")


@main.command()
@click.option("--as-of", "as_of", type=click.DateTime(), default=None,
              help="Judge the periods that ended by this date (default: now) against the alert state as it "
                   "stood then.")
@click.option("--dry-run", is_flag=True, help="Evaluate only: notify nobody and change no state.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="critical", show_default=True,
              help="Exit 1 when an alert at or above this severity is open.")
@click.option("--rule", "rules", multiple=True, help="Evaluate only this rule (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the run result as JSON.")
@project_options
@reports_errors
def alerts(as_of: Any, dry_run: bool, fail_on: str, rules: tuple[str, ...], as_json: bool, project_dir: str,
           profiles_dir: str | None, target: str | None) -> None:
    """Evaluate the alert rules: thresholds, changes, anomalies, target misses and freshness.

    Each series' alert opens once, is re-sent only after its cooldown, and is announced again when it
    resolves; state and history are kept in the warehouse. Exit code 0 when no alert at or above
    --fail-on is open, 1 otherwise, 2 on an error.

    Example:

        metricsctl alerts --as-of 2025-03-17 --dry-run
    """
    from metricsctl import output
    from metricsctl.alerts import exit_code
    from metricsctl.facade import Metricsctl
    from metricsctl.jsonable import dumps

    run = Metricsctl(project_dir, profiles_dir, target).alerts(as_of, dry_run, rules)
    if as_json:
        click.echo(dumps(run.summary()))
    else:
        output.print_alert_run(run)
    sys.exit(exit_code(run, fail_on))


@main.command()
@click.argument("metric")
@click.option("--period", default=None,
              help="2025-03, 2025-Q1, 2025, 2025-W10 or 2025-03-05 (default: the latest complete month with a value).")
@click.option("--vs", "previous", default=None, help="The period to compare with (default: the one before).")
@click.option("--org-unit", default=None,
              help="One org unit's tree and targets, as KIND=NAME (kinds from metricsctl_scorecard's org_units).")
@click.option("--depth", type=click.IntRange(min=0), default=None, help="At most this many levels.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@project_options
@reports_errors
def tree(metric: str, period: str | None, previous: str | None, org_unit: str | None, depth: int | None,
         as_json: bool, project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Show METRIC's tree down to its leaves: value, previous value, target, attainment and owner.

    A derived metric's formula and a ratio's parts are its edges; `parents` in config.meta adds others.

    Example:

        metricsctl tree oee --period 2025-03 --org-unit production_line=Assembly
    """
    from metricsctl.facade import Metricsctl
    from metricsctl.jsonable import dumps
    from metricsctl.management.tree import render_tree

    valued = Metricsctl(project_dir, profiles_dir, target).tree(metric, period, previous, depth, org_unit)
    click.echo(dumps(valued.to_dict()) if as_json else render_tree(valued))


@main.command()
@click.argument("metric")
@click.option("--period", required=True, help="The period to explain, e.g. 2025-03.")
@click.option("--vs", default=None, help="The period to compare with (default: the one before).")
@click.option("--by", default="", help="Dimensions to break the change down by, comma-separated.")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Show the largest N slices per dimension.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@project_options
@reports_errors
def explain(metric: str, period: str, vs: str | None, by: str, top: int | None, as_json: bool, project_dir: str,
            profiles_dir: str | None, target: str | None) -> None:
    """Explain why METRIC moved between two periods: along its tree and along dimensions.

    Contributions of the inputs (Shapley attribution over the formula) sum exactly to the change; for a
    ratio broken down by a dimension, each slice's change splits into mix and rate.

    Example:

        metricsctl explain average_order_value --period 2025-03 --by store__store_name
    """
    from metricsctl.compiler.query import split_list
    from metricsctl.facade import Metricsctl
    from metricsctl.jsonable import dumps
    from metricsctl.management.explain import render_explanation

    result = Metricsctl(project_dir, profiles_dir, target).explain(metric, period, vs, split_list(by), top)
    click.echo(dumps(result.to_dict()) if as_json else render_explanation(result))


@main.command()
@project_options
@reports_errors
def lint(project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Check every KPI against the project's checklist: owner, description, unit, target, time grain.

    The checklist is configured under `metricsctl_lint:` in any YAML file of the model paths. Each gap is
    reported with its file and line; the exit code is 1 when there is any.

    Example:

        metricsctl lint
    """
    from metricsctl.facade import Metricsctl

    issues = Metricsctl(project_dir, profiles_dir, target).lint()
    for issue in issues:
        click.echo(str(issue))
    if issues:
        click.echo(f"{len(issues)} gap{'s' if len(issues) != 1 else ''} in the metrics' management", err=True)
        sys.exit(1)
    click.echo("every KPI passes the checklist")


@main.command()
@click.option("--base", required=True, help="The git ref the change is measured against (e.g. origin/main).")
@click.option("--head", default=None, help="The git ref with the change (default: the working tree).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True,
              help="Markdown fit for a pull-request comment, or JSON.")
@click.option("--no-values", is_flag=True, help="Skip the value diff (it builds both sides on the demo data).")
@click.option("--max-rows", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many differing rows per metric or export.")
@click.option("--grain", type=click.Choice(["day", "week", "month", "quarter", "year"]), default="month",
              show_default=True, help="The grain metrics are compared at.")
@click.option("--no-merge-base", is_flag=True, help="Compare with BASE itself, not where HEAD forked from it.")
@click.option("--allow-breaking", is_flag=True, help="Exit 0 even when the change breaks consumers.")
@project_options
@reports_errors
def diff(base: str, head: str | None, fmt: str, no_values: bool, max_rows: int, grain: str, no_merge_base: bool,
         allow_breaking: bool, project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Show what a pull request changes: definitions, what they reach, the generated SQL, the numbers.

    Both sides are built in throw-away warehouses (yours is never touched). Breaking changes (a metric or
    export column removed or renamed, a metric whose meaning changed) exit 1 unless --allow-breaking.

    Example:

        metricsctl diff --base origin/main --format markdown > pr-comment.md
    """
    from metricsctl.diff import exit_code, render
    from metricsctl.facade import Metricsctl

    _terminated_cleanly()  # a scheduler's or CI's SIGTERM still removes the throw-away copies and warehouses
    result = Metricsctl(project_dir, profiles_dir, target).diff(
        base, head, values=not no_values, max_rows=max_rows, grain=grain, merge_base=not no_merge_base,
        on_step=lambda step: click.echo(step, err=True))
    from metricsctl.guards import mask, printable

    # a side's build error may quote a secret; a compared revision's text may hold terminal escapes
    click.echo(printable(mask(render(result, fmt))))
    sys.exit(exit_code(result, allow_breaking))


@main.command()
@click.argument("folder", type=click.Path(file_okay=False), default=".")
@click.option("--name", default=None, help="The dbt project name (default: from the folder's name).")
@reports_errors
def init(folder: str, name: str | None) -> None:
    """Start a metrics project in FOLDER (default: here) that `metricsctl build` builds right away.

    It gets a DuckDB profile, a sample orders seed, a time spine, a semantic model with metrics and a saved
    query, an expectation suite and alert rules, each file commented. In a folder that holds a dbt project
    already, only metricsctl's files are added (a time spine when there is none, example expectations and
    alerts). No existing file is overwritten.

    Example:

        metricsctl init shop-metrics && cd shop-metrics && metricsctl build
    """
    from metricsctl.facade import Metricsctl

    result = Metricsctl(folder).init(name)
    for path in result.created:
        click.echo(f"created: {path}")
    for path in result.kept:
        click.echo(f"kept as it was: {path}")
    where = "" if Path(folder).resolve() == Path.cwd() else f"cd {shlex.quote(folder)} && "
    if result.existing_project and not result.created:
        click.echo(f"nothing to add: the dbt project has metricsctl's files already; `{where}metricsctl build` "
                   "builds it")
    elif result.existing_project:
        click.echo("added metricsctl to the dbt project: define semantic models and metrics under the model "
                   f"paths, then `{where}metricsctl build`")
    else:
        click.echo(f"next: `{where}metricsctl build`, then `metricsctl query --metrics revenue,orders "
                   "--group-by metric_time__month`")


@main.command(name="compile")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a generated model is out of date.")
@project_options
@reports_errors
def compile_(check: bool, project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Generate a dbt model for every saved-query export, plus metric_values and metric_catalog.

    The models are written to models/metrics/ (one header line names the spec each came from) and are
    meant to be committed, so reviewers read the SQL in the pull request. With --check, nothing is
    written and the exit code is 1 when a spec changed without its models: run it in CI.

    Example:

        metricsctl compile --check
    """
    from metricsctl.facade import Metricsctl

    result = Metricsctl(project_dir, profiles_dir, target).compile(check=check)
    for label, paths in (("out of date", result.stale), ("missing", result.missing), ("no longer produced",
                                                                                      result.extra)):
        for path in paths:
            verb = label if check else {"out of date": "updated", "missing": "created",
                                        "no longer produced": "removed"}[label]
            click.echo(f"{verb}: {path}")
    if check and not result.ok:
        click.echo("generated models are out of date: run `metricsctl compile` and commit the result", err=True)
        sys.exit(1)
    if result.ok:
        click.echo("generated models are up to date")


@main.command()
@click.option("--select", "-s", multiple=True, help="dbt node selection (repeatable), as in dbt.")
@click.option("--exclude", multiple=True, help="dbt nodes to leave out (repeatable), as in dbt.")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild incremental models from scratch, and build and check what did not change.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date freshness checks and alerts judge against (default: today).")
@click.option("--alerts", "with_alerts", is_flag=True, help="Evaluate the alert rules after the build.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="critical", show_default=True,
              help="With --alerts: exit 1 when an alert at or above this severity is open.")
@project_options
@reports_errors
def build(select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool, as_of: Any, with_alerts: bool,
          fail_on: str, project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Validate and compile the metrics, build sources and staging, check them, then build the metrics.

    Expectation suites run after sources and staging are built: a failed `error` suite keeps every metric
    model downstream of it at its last good table and reports the metrics as stale. A model or seed whose
    code and inputs are those of the last build is left as it is, with its checks. The run result is
    written to target/metricsctl_run.json. Exit code 1 when a model, test or expectation failed (or,
    with --alerts, an alert at or above --fail-on is open), 2 on an error.

    Example:

        metricsctl build --alerts --fail-on warning
    """
    try:
        sys.exit(_build(select, exclude, full_refresh, as_of, with_alerts, fail_on, project_dir, profiles_dir, target))
    except BaseException as exc:
        if not _by_ctrl_c(exc):
            raise
        click.echo("error: interrupted; what the build had not published is discarded, and the warehouse keeps "
                   "its last published tables", err=True)
        sys.exit(INTERRUPTED)


def _build(select: tuple[str, ...], exclude: tuple[str, ...], full_refresh: bool, as_of: Any, with_alerts: bool,
           fail_on: str, project_dir: str, profiles_dir: str | None, target: str | None) -> int:
    """`metricsctl build`, reported; returns the exit code."""
    from metricsctl import output
    from metricsctl.alerts import exit_code
    from metricsctl.facade import Metricsctl

    app = Metricsctl(project_dir, profiles_dir, target)
    day = as_of.date() if as_of else None
    progress = output.build_progress(started=click.get_current_context().obj.get("started"))
    result = app.build(select, exclude, full_refresh, progress, day, with_alerts)
    output.print_build(result)
    if select and not result.nodes and not result.unchanged:  # dbt says only "Nothing to do", in its log
        output.warn(f"--select {' '.join(select)} matches no model, seed, snapshot or test of the project: "
                    "nothing was built (dbt's node selection syntax: a name, path:..., tag:..., +name)")
    code = 0 if result.success else 1
    if result.alerts is not None:
        output.print_alert_run(result.alerts)
        code = max(code, exit_code(result.alerts, fail_on))
    return code


@main.command()
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date freshness checks judge against (default: today).")
@project_options
@reports_errors
def check(as_of: Any, project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Run the expectation suites alone, against the warehouse as it is.

    Results are stored in the warehouse table expectation_results. Exit code 1 when an expectation of
    severity error failed.

    Example:

        metricsctl check --as-of 2025-07-01
    """
    from metricsctl import output
    from metricsctl.facade import Metricsctl

    progress = output.build_progress(started=click.get_current_context().obj.get("started"))
    run = Metricsctl(project_dir, profiles_dir, target).check(as_of.date() if as_of else None, progress)
    output.print_expectations(run)
    if not run.ok:
        sys.exit(1)


@main.group()
def docs() -> None:
    """The metric center: a static site of the metrics, and a server for it with a read-only query API.

    Example:

        metricsctl docs generate && metricsctl docs serve
    """


@docs.command(name="generate")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Language of the site's own words (labels and descriptions stay as written).")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Show the periods complete before this date (default: the last build's, else today).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Write the site here (default: target/metrics-site/ in the project).")
@project_options
@reports_errors
def docs_generate(lang: str, as_of: Any, out: str | None, project_dir: str, profiles_dir: str | None,
                  target: str | None) -> None:
    """Write the metric center into target/metrics-site/: open its index.html, no server or network needed.

    It shows the KPIs, the catalog, a page per metric (trend against target, breakdowns, alerts, data
    quality, lineage, SQL), the metric tree, scorecards, funnels, alerts and data quality, from the built
    warehouse. Exit code 2 when the warehouse is not built.

    Example:

        metricsctl docs generate --lang zh
    """
    from metricsctl.facade import Metricsctl

    result = Metricsctl(project_dir, profiles_dir, target).docs_generate(out, lang, as_of.date() if as_of else None)
    click.echo(f"wrote the metric center ({result.metrics} metrics, {result.bytes / 1e6:.1f} MB) to "
               f"{result.folder / 'index.html'} in {result.seconds:.1f} s")


@docs.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. On a loopback address only requests to localhost are answered.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on.")
@project_options
@reports_errors
def docs_serve(host: str, port: int, project_dir: str, profiles_dir: str | None, target: str | None) -> None:
    """Serve the generated metric center and its read-only API (/api/query, /api/metrics); Ctrl-C stops it.

    /api/query takes the options of `metricsctl query` (metrics, group_by, where, start_time, end_time,
    order_by, limit) and answers as `metricsctl query --json` does.

    Example:

        metricsctl docs serve --port 8080
    """
    from metricsctl.facade import Metricsctl

    server = Metricsctl(project_dir, profiles_dir, target).docs_server(host, port)
    click.echo(f"serving {server.folder} at {server.url} (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def run() -> None:
    """The `metricsctl` command: `main`, then an exit that leaves freeing memory to the operating system.

    An interpreter that exits normally frees every object one by one: after a build, dbt's manifest and Great
    Expectations' modules take over a second. Once the command is done, the exit handlers have run and every
    stream is flushed, nothing is left for that work to do. When another thread is still running the exit
    is the normal one, which waits for it.
    """
    try:
        main()
        code: int = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else _exit_message(done.code)
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    import atexit
    import logging
    import os

    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe, a closed stream: nothing left to write to
            pass
    os._exit(code)


def _exit_message(message: object) -> int:
    """`sys.exit("message")`: print it to stderr, exit 1."""
    print(message, file=sys.stderr)
    return 1


if __name__ == "__main__":
    run()
