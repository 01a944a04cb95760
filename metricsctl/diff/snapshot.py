"""One side of a diff: the project as it is at a ref, copied into a temp dir, parsed, and (optionally) built.

The copy gets a profile of its own: the user's target, rendered, with a DuckDB warehouse file inside the
temp dir, so parsing and building a side never touches the user's warehouse, target/ or work tree.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metricsctl.diff.errors import DiffError, RefSpecError
from metricsctl.diff.git import Repo, Revision, export_revision
from metricsctl.diff.impact import lineage_graph
from metricsctl.diff.semantic import Side, side
from metricsctl.errors import MetricsctlError, SpecError, SpecIssue
from metricsctl.facade import Metricsctl
from metricsctl.forked import SettingError
from metricsctl.guards import inside
from metricsctl.lineage.graph import Attachment, LineageGraph
from metricsctl.materialize import GeneratedModel
from metricsctl.project import DbtProject


@dataclass(frozen=True)
class BuildSummary:
    side: str
    success: bool
    seconds: float
    failed: tuple[str, ...] = ()  # dbt nodes that failed, and metrics left stale
    error: str | None = None  # the build could not run at all

    def to_dict(self) -> dict[str, Any]:
        return {"side": self.side, "success": self.success, "seconds": round(self.seconds, 2),
                "failed": list(self.failed), "error": self.error}


@dataclass
class Snapshot:
    """A side, parsed: its spec, dbt manifest, generated models and lineage graph."""

    name: str  # "base" or "head"
    revision: Revision
    app: Metricsctl
    manifest: dict[str, Any]
    models: list[GeneratedModel]
    graph: LineageGraph
    side: Side
    warehouse: Path | None  # the throw-away DuckDB file; None when the target is not DuckDB
    notes: list[str] = field(default_factory=list)
    committed: list[GeneratedModel] = field(default_factory=list)  # generated models as committed at the ref
    build: BuildSummary | None = None

    @property
    def where(self) -> str:
        return self.revision.describe()

    def run_build(self) -> BuildSummary:
        """`metricsctl build` of this side into its own warehouse."""
        started = time.perf_counter()
        try:
            result = self.app.build()
        except SpecError as exc:
            raise _located(self, exc) from None
        except MetricsctlError as exc:
            self.build = BuildSummary(self.name, False, time.perf_counter() - started, error=str(exc))
            return self.build
        failed = [f"{n.unique_id} ({n.status})" for n in result.failed]
        failed += [f"metric {m} stale: {why}" for m, why in result.stale_metrics.items()]
        self.build = BuildSummary(self.name, result.success, time.perf_counter() - started, tuple(failed))
        self.manifest = _manifest(self.app)  # the build parsed the generated models too
        return self.build

    def relation(self, model: str) -> str | None:
        """The warehouse relation dbt built for a model of this side."""
        for node in (self.manifest.get("nodes") or {}).values():
            if node.get("resource_type") == "model" and node.get("name") == model and node.get("relation_name"):
                return str(node["relation_name"])
        return None


def checkout(repo: Repo, revision: Revision, name: str, workdir: Path, user_project: Path,
             profiles_dir: str | Path | None = None, target: str | None = None) -> Snapshot:
    """The project at `revision`, copied under `workdir`, with a profile of its own, parsed."""
    project = export_revision(repo, revision, workdir / "tree")
    _copy_packages(user_project, project)
    profiles, target_name, warehouse = _profile(project, user_project, workdir, profiles_dir, target)
    app = Metricsctl(project, profiles, target_name)
    snapshot_where = revision.describe()
    try:
        spec = app.validate()  # parses the project, then compiles every metric and saved query
        materializer = app.materializer()
        models = materializer.models()
        committed = [GeneratedModel.from_text(Path(path).stem, path, content)
                     for path, content in materializer.generated_on_disk().items()]
    except SpecError as exc:
        raise RefSpecError(name, snapshot_where, _relocate(exc.issues, project)) from None
    except SettingError:
        raise  # the environment's, not the revision's
    except MetricsctlError as exc:
        raise DiffError(f"the project at {name} {snapshot_where} cannot be read: "
                        f"{_strip(str(exc), project)}") from None
    manifest = _manifest(app)
    notes: list[str] = []
    stale = ", ".join(materializer.check(models).stale) if committed else ""
    if stale:
        notes.append(f"{name}: the committed generated models differ from what its specs generate ({stale}): "
                     "run `metricsctl compile` and commit the result")
    attachments = _alert_attachments(app, notes, name)
    graph = lineage_graph(spec, manifest, attachments, app.dialect)
    return Snapshot(name, revision, app, manifest, models, graph, side(spec, manifest, app.dialect), warehouse,
                    notes, committed)


# --- helpers ---------------------------------------------------------------------------------------
def _manifest(app: Metricsctl) -> dict[str, Any]:

    return app.project.manifest()


def _strip(text: str, project: Path) -> str:
    return text.replace(f"{project}{os.sep}", "").replace(str(project), ".")


def _relocate(issues: list[SpecIssue], project: Path) -> list[SpecIssue]:
    """Issues with paths relative to the project, as the user knows them, not to the temp copy."""
    moved = []
    for issue in issues:
        path = issue.path
        if path and Path(path).is_absolute():
            try:
                path = str(Path(path).relative_to(project))
            except ValueError:
                pass
        moved.append(SpecIssue(_strip(issue.message, project), path, issue.line))
    return moved


def _located(snapshot: Snapshot, exc: SpecError) -> RefSpecError:
    return RefSpecError(snapshot.name, snapshot.where, _relocate(exc.issues, snapshot.app.project_dir))


def _copy_packages(user_project: Path, project: Path) -> None:
    """dbt packages are installed, not committed: lend the copy the user's installed ones."""
    if not any((project / name).is_file() for name in ("packages.yml", "dependencies.yml")):
        return
    folder = str(DbtProject(project).config.get("packages-install-path", "dbt_packages"))
    installed = user_project / folder
    if not (inside(installed, user_project) and inside(project / folder, project)):
        return  # the revision names a folder outside the project: nothing is copied from or to there
    if installed.is_dir() and not (project / folder).exists():
        shutil.copytree(installed, project / folder, symlinks=True)


def _profiles_source(user_project: Path, profiles_dir: str | Path | None) -> Path:
    """Where dbt finds profiles.yml for the user's project. Never the compared revision's own: a profile says
    which adapter and plugins dbt loads, and a branch under review must not choose them."""
    if profiles_dir:
        return Path(profiles_dir).resolve()
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"]).resolve()
    if (user_project / "profiles.yml").is_file():
        return user_project
    return Path.home() / ".dbt"


def _profile(project: Path, user_project: Path, workdir: Path, profiles_dir: str | Path | None,
             target: str | None) -> tuple[Path, str, Path | None]:
    """A profiles dir for the copy: the user's target, with a DuckDB file of its own under `workdir`.

    Returns the profiles dir, the target name and the warehouse file (None when the target is not DuckDB:
    it is then only parsed, never built).
    """
    from metricsctl.profiles import load_target, write_profile_with_path

    source = _profiles_source(user_project, profiles_dir)
    dbt_project = DbtProject(project)
    profile = dbt_project.config.get("profile")
    if not profile:
        raise DiffError(f"{project.name}/dbt_project.yml has no `profile:`; dbt needs one to parse the project")
    dbt_project.activate()  # profiles may place files relative to the project: render them in the copy
    loaded = load_target(source, str(profile), target)
    if loaded.type != "duckdb":
        return source, loaded.name, None
    original = str(loaded.config.get("path") or "")
    stem = Path(original).stem if original and ":" not in original else "warehouse"
    warehouse = workdir / f"{stem}.duckdb"
    folder = write_profile_with_path(source, loaded, str(warehouse), workdir / "profiles")
    return folder, loaded.name, warehouse


def _alert_attachments(app: Metricsctl, notes: list[str], name: str) -> list[Attachment]:
    """Alert rules hung onto the graph under the metric they watch; a rule set that does not validate
    (e.g. it watches a metric this side removed) is still read, rule by rule, and reported."""
    from metricsctl.alerts import load_alert_config
    from metricsctl.alerts.rules import alert_files

    project = app.project
    try:
        return [r.attachment() for r in load_alert_config(project.project_dir, project.paths("model-paths"),
                                                          app.spec).rules]
    except SpecError as exc:
        notes += [f"{name}: alert rules: {issue}" for issue in _relocate(exc.issues, project.project_dir)]
        rules = []
        for path in alert_files(project.project_dir, project.paths("model-paths")):
            try:
                document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError:
                continue
            for item in (document.get("alerts") or []) if isinstance(document, dict) else []:
                if isinstance(item, dict) and item.get("name") and item.get("metric"):
                    where = str(path.relative_to(project.project_dir))
                    rules.append((str(item["name"]), str(item["metric"]), str(item.get("kind") or ""), where))
    return [Attachment(f"alert:{rule}", (f"metric:{metric}",), label=detail, path=where, edge_kind="watched by")
            for rule, metric, detail, where in rules]
