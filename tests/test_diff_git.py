"""`metricsctl diff` and git: which two trees it compares, and the errors a user can cause.

A monorepo holds the shop project in `analytics/shop`. `main` moves on after `feature` forked from it,
and the work tree (on `feature`) has an uncommitted edit: the diff of the work tree against `main` must
show the feature's commit and the uncommitted edit, and not what `main` did since the fork, as a pull
request does. No values are built here (test_diff.py does that).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from metricsctl.diff import DiffError, NotAGitRepository, RefSpecError, UnknownRefError, diff, exit_code
from metricsctl.diff.semantic import canonical_filter, canonical_sql, diff_dbt_nodes
from metricsctl.errors import MetricsctlError, SpecError
from tests.conftest import SHOP

GITIGNORE = "target/\nlogs/\n*.duckdb\n"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new))


def init(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    return root


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """README only, then the project in analytics/shop; `feature` relabels a metric, `main` adds one."""
    root = init(tmp_path_factory.mktemp("monorepo") / "repo")
    (root / "README.md").write_text("company repo\n")
    (root / ".gitignore").write_text(GITIGNORE)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "readme")
    git(root, "tag", "before-project")
    project = root / "analytics" / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop project")
    git(root, "checkout", "-q", "-b", "feature")
    edit(project / "metrics" / "metrics.yml", "label: Units sold", "label: Units")
    git(root, "commit", "-q", "-am", "relabel quantity")
    git(root, "checkout", "-q", "main")
    metrics = project / "metrics" / "metrics.yml"
    added = "  - {name: main_only, label: Main only, type: simple, type_params: {measure: orders}}\n"
    metrics.write_text(metrics.read_text() + added)
    git(root, "commit", "-q", "-am", "main moves on")
    git(root, "checkout", "-q", "feature")
    edit(project / "metrics" / "metrics.yml", "label: Orders,", "label: Orders placed,")  # not committed
    return root


def test_the_work_tree_is_compared_with_where_it_forked_from_main(monorepo: Path):
    project = monorepo / "analytics" / "shop"
    status = git(monorepo, "status", "--porcelain")
    result = diff(project, "main", values=False)
    assert {c.name: [f.field for f in c.fields] for c in result.semantic.changes} == {
        "quantity": ["label"],  # committed on feature
        "orders": ["label"],  # not committed yet
    }  # and not main_only, which main added after the fork
    assert result.base.merge_base_of == "main"
    assert result.base.sha == git(monorepo, "merge-base", "main", "feature")
    assert result.head.is_working_tree and result.head.dirty
    assert not result.is_breaking and exit_code(result) == 0
    assert result.downstream == ()  # labels move no value
    assert result.values is None and result.values_skipped == "not asked for (--no-values)"
    assert {m.name for m in result.sql} == {"metric_catalog"}  # labels are in the catalog only
    # nothing was written into the user's project or repository
    assert git(monorepo, "status", "--porcelain") == status
    assert not (project / "target").exists() and not (project / "logs").exists()
    assert not list(project.glob("*.duckdb"))


def test_without_the_merge_base_main_s_later_work_shows_as_removed(monorepo: Path):
    result = diff(monorepo / "analytics" / "shop", "main", "feature", values=False, merge_base=False)
    assert {(c.name, c.status) for c in result.semantic.metrics} == {("quantity", "changed"),
                                                                     ("main_only", "removed")}
    assert result.is_breaking  # from main's point of view, feature drops main_only


def test_a_folder_outside_git_is_refused(tmp_path: Path):
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    with pytest.raises(NotAGitRepository, match="is not inside a git repository"):
        diff(project, "main")


def test_an_unknown_ref_is_refused_with_a_suggestion(monorepo: Path):
    with pytest.raises(UnknownRefError, match=r"unknown git ref 'mian'.*did you mean 'main'\?"):
        diff(monorepo / "analytics" / "shop", "mian")
    with pytest.raises(UnknownRefError, match="unknown git ref 'nope'"):
        diff(monorepo / "analytics" / "shop", "main", head="nope")


def test_a_ref_without_the_project_is_refused(monorepo: Path):
    with pytest.raises(DiffError, match="there is no dbt project at 'analytics/shop'"):
        diff(monorepo / "analytics" / "shop", "before-project", "main", merge_base=False)


def test_a_ref_whose_spec_is_broken_reports_its_issues_with_file_and_line(tmp_path: Path):
    root = init(tmp_path / "repo")
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"), dirs_exist_ok=True)
    (root / ".gitignore").write_text(GITIGNORE)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop")
    edit(root / "metrics" / "metrics.yml", "type_params: {measure: quantity}", "type_params: {measure: quantty}")
    git(root, "commit", "-q", "-am", "typo")
    with pytest.raises(RefSpecError) as raised:
        diff(root, "HEAD~1", "HEAD", values=False)
    error = raised.value
    assert isinstance(error, SpecError) and isinstance(error, MetricsctlError) and error.exit_code == 2
    assert error.side == "head"
    text = str(error)
    assert text.startswith("the project at head `HEAD` (")
    assert "quantty" in text and "metrics/metrics.yml:4" in text
    assert str(tmp_path) not in text  # paths as the user knows them, not the temp copy's
    assert text.endswith("fix them on that ref, or compare against another --head")


# --- canonical forms -----------------------------------------------------------------------------
def test_reformatting_a_filter_or_an_expression_is_no_change():
    a = canonical_filter("{{ Dimension('customer__region', entity_path=['order']) }} = 'north'", "duckdb")
    b = canonical_filter("{{Dimension('order__customer__region')}}='north'", "duckdb")
    assert a == b
    assert a != canonical_filter("{{ Dimension('order__customer__region') }} = 'south'", "duckdb")
    assert canonical_sql("quantity*unit_price", "duckdb") == canonical_sql("quantity  *  unit_price", "duckdb")
    assert canonical_sql("amount", "duckdb") != canonical_sql("amount / 1.2", "duckdb")


def test_changed_models_and_seeds_are_found_from_their_checksums():
    def node(kind: str, name: str, checksum: str, **config: object) -> dict[str, object]:
        return {"resource_type": kind, "name": name, "checksum": {"name": "sha256", "checksum": checksum},
                "config": config, "original_file_path": f"{kind}s/{name}", "raw_code": "select 1"}

    base = {"nodes": {"a": node("model", "stg_orders", "1", materialized="view"), "b": node("seed", "orders", "2"),
                      "c": node("model", "old", "3")}}
    head = {"nodes": {"a": node("model", "stg_orders", "1", materialized="table"), "b": node("seed", "orders", "9"),
                      "d": node("model", "new", "4")}}
    found = {(c.node_id, c.status, tuple(f.field for f in c.fields)) for c in diff_dbt_nodes(base, head)}
    assert found == {("model:stg_orders", "changed", ("config",)), ("seed:orders", "changed", ("data",)),
                     ("model:old", "removed", ()), ("model:new", "added", ())}


def test_a_committed_generated_model_edited_on_its_own_is_shown(tmp_path: Path):
    """dbt builds the committed SQL: an edit of a generated file with no spec change still moves tables."""
    from metricsctl.diff import render_markdown
    from metricsctl.facade import Metricsctl

    root = init(tmp_path / "repo")
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"), dirs_exist_ok=True)
    (root / ".gitignore").write_text(GITIGNORE)
    Metricsctl(root).compile()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop, generated models committed")
    model = root / "models" / "metrics" / "sales_by_month.sql"
    model.write_text(model.read_text().replace("SELECT", "SELECT DISTINCT", 1))
    git(root, "commit", "-q", "-am", "hand edit of a generated model")
    result = diff(root, "HEAD~1", "HEAD", values=False)
    assert result.semantic.empty
    assert [(m.path, m.status, m.committed) for m in result.sql] == [
        ("models/metrics/sales_by_month.sql", "changed", True)]
    assert [line for line in result.sql[0].diff.splitlines() if line.startswith("+") and "DISTINCT" in line]
    assert any("head: the committed generated models differ from what its specs generate "
               "(models/metrics/sales_by_month.sql)" in note for note in result.notes)
    text = render_markdown(result)
    assert "No metric, semantic model, saved query, model or seed changed" not in text
    assert "`models/metrics/sales_by_month.sql` changed in the committed file only" in text


def test_a_compared_revision_never_chooses_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A profile says which adapter and plugins dbt loads: a branch under review, whose copy holds its own
    profiles.yml, must not choose them. The user's (working tree, else ~/.dbt) is used."""
    from metricsctl.diff.snapshot import _profiles_source

    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    user, revision = tmp_path / "user", tmp_path / "revision"
    user.mkdir()
    revision.mkdir()
    (revision / "profiles.yml").write_text("shop: {target: dev, outputs: {dev: {type: duckdb, plugins: []}}}\n")
    assert _profiles_source(user, None) == Path.home() / ".dbt"
    (user / "profiles.yml").write_text("shop: {}\n")
    assert _profiles_source(user, None) == user


def test_a_revisions_packages_folder_outside_its_project_is_neither_read_nor_written(tmp_path: Path):
    """`packages-install-path: ../pk` in the revision would copy the folder beside the user's project (read
    outside it) to the folder beside the revision's copy (written outside it)."""
    from metricsctl.diff.snapshot import _copy_packages

    user, revision = tmp_path / "user", tmp_path / "work" / "revision"
    for folder in (user, revision):
        folder.mkdir(parents=True)
        (folder / "packages.yml").write_text("packages: []\n")
    (tmp_path / "pk").mkdir()
    (tmp_path / "pk" / "key.txt").write_text("k\n")
    (revision / "dbt_project.yml").write_text("name: shop\nprofile: shop\npackages-install-path: ../pk\n")
    _copy_packages(user, revision)
    assert not (tmp_path / "work" / "pk").exists()
    assert sorted(p.name for p in revision.iterdir()) == ["dbt_project.yml", "packages.yml"]


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """The shop project at the root of a repository of its own, committed once."""
    root = init(tmp_path / "repo")
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"), dirs_exist_ok=True)
    (root / ".gitignore").write_text(GITIGNORE)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop")
    return root


def test_a_link_of_the_working_tree_that_leads_outside_the_project_is_refused(committed: Path, tmp_path: Path):
    """A `target` that is a link (`target/` in .gitignore matches folders only) would have the diff's parse
    write the compared side's manifest and spec into the folder it points to."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (committed / "target").symlink_to(outside)
    with pytest.raises(DiffError, match=r"'target' in the working tree is a link to .*elsewhere, outside the "
                                        r"project.*add 'target' to .gitignore"):
        diff(committed, "HEAD")
    assert list(outside.iterdir()) == []


def test_a_committed_link_outside_the_project_is_one_line(committed: Path):
    (committed / "models" / "etc").symlink_to("/etc")
    git(committed, "add", "-A")
    git(committed, "commit", "-q", "-m", "a link out")
    with pytest.raises(DiffError, match=r"models/etc.*is a link to an absolute path.*remove the link"):
        diff(committed, "HEAD~1", "HEAD", merge_base=False)


def test_files_the_revisions_gitattributes_leave_out_of_the_archive_are_refused(committed: Path):
    """`export-ignore` would hide a metric from the review of the revision that adds it."""
    metrics = committed / "metrics" / "metrics.yml"
    (committed / "metrics" / "hidden.yml").write_text(
        "metrics:\n  - {name: hidden_metric, label: Hidden, type: simple, type_params: {measure: orders}}\n")
    (committed / ".gitattributes").write_text("metrics/hidden.yml export-ignore\n")
    git(committed, "add", "-A")
    git(committed, "commit", "-q", "-m", "hide a metric")
    assert metrics.exists()
    with pytest.raises(DiffError, match=r"'metrics/hidden.yml' of commit \w+ is left out or rewritten by the "
                                        r"revision's .gitattributes"):
        diff(committed, "HEAD~1", "HEAD", merge_base=False)


def test_terminal_escapes_in_the_compared_text_are_shown_not_sent(committed: Path):
    """A description that would clear the reviewer's screen or hide a link in the diff's output."""
    from click.testing import CliRunner

    from metricsctl.cli import main

    edit(committed / "metrics" / "metrics.yml", "label: Orders,", "label: \"Orders\\e[2J\\e]8;;http://evil\\e\\\\x\",")
    result = CliRunner().invoke(main, ["diff", "--base", "HEAD", "--no-values", "--project-dir", str(committed),
                                       "--format", "markdown"])
    assert "\x1b" not in result.output
    assert "Orders\\x1b[2J\\x1b]8;;http://evil\\x1b\\x" in result.output


def test_html_in_a_note_cannot_close_the_notes_or_add_an_image(committed: Path):
    """A note quotes the compared revision's text (here an alert rule's refused name); the pull-request comment
    shows it as text."""
    (committed / "metrics" / "alerts.yml").write_text(
        'alerts:\n  - name: "x</details> <img src=https://evil.example/p.png>"\n    metric: revenue\n'
        "    threshold: {below: 1}\n")
    result = diff(committed, "HEAD")
    from metricsctl.diff import render

    text = render(result, "markdown")
    assert any("&lt;img src=https://evil.example/p.png&gt;" in line for line in text.splitlines())
    assert "<img" not in text and text.count("</details>") == text.count("<details>")


def test_a_diff_stopped_with_sigterm_removes_its_throw_away_copies(committed: Path, tmp_path: Path):
    """A CI job cancelled, or a scheduler's timeout, sends SIGTERM: the copies of both sides (and their profile)
    go with the process."""
    import os
    import signal
    import sys
    import time

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    edit(committed / "metrics" / "metrics.yml", "label: Orders,", "label: Orders placed,")
    process = subprocess.Popen([sys.executable, "-c", "from metricsctl.cli import main; main()", "diff", "--base",
                                "HEAD", "--no-values", "--project-dir", str(committed)],
                               env={**os.environ, "TMPDIR": str(temporary)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(temporary.glob("metricsctl-diff-*/*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list(temporary.glob("metricsctl-diff-*")), "the diff made no copy"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143
    finally:
        process.kill()
        process.wait()
    assert list(temporary.glob("metricsctl-diff-*")) == []
