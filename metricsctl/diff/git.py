"""Git, read-only: find the repository, resolve refs, and copy a project as it is at a ref into a temp dir.

Every call runs `git` in a subprocess and only reads: `git archive` streams a commit's files (no
worktree is registered, no branch moves, the index is untouched), and the working tree is copied
file by file from `git ls-files`, so ignored files (target/, warehouses) never travel.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from metricsctl.diff.errors import DiffError, NotAGitRepository, UnknownRefError

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class Repo:
    """A git work tree, and where the dbt project sits inside it."""

    root: Path
    project: PurePosixPath  # the project folder relative to the root ("." when it is the root)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return git(self.root, *args, check=check)


@dataclass(frozen=True)
class Revision:
    """One side of a diff: a commit (or the working tree on top of HEAD) and how the user named it."""

    label: str  # what the user typed: `origin/main`, `HEAD~1`, or "working tree"
    sha: str  # the commit; for the working tree, HEAD's commit
    subject: str = ""
    dirty: bool = False  # the working tree differs from HEAD inside the project
    merge_base_of: str | None = None  # set when this base is the merge base of `label` and the head

    @property
    def short(self) -> str:
        return self.sha[:8]

    @property
    def is_working_tree(self) -> bool:
        return self.label == WORKING_TREE

    def describe(self) -> str:
        """`origin/main` (1a2b3c4d), `working tree` (on 1a2b3c4d, uncommitted changes)."""
        if self.is_working_tree:
            return f"working tree (on {self.short}{', with uncommitted changes' if self.dirty else ''})"
        if self.merge_base_of:
            return f"merge base of `{self.merge_base_of}` ({self.short})"
        return f"`{self.label}` ({self.short})"

    def to_dict(self) -> dict[str, object]:
        return {"ref": self.label, "sha": self.sha, "subject": self.subject, "dirty": self.dirty,
                "merge_base_of": self.merge_base_of}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`git <args>` in `cwd`, never prompting; a failure raises DiffError with git's own message."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DiffError("git is not installed (or not on PATH); `metricsctl diff` needs it") from None
    if check and done.returncode != 0:
        raise DiffError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


def open_repo(project_dir: str | Path) -> Repo:
    """The repository holding `project_dir`; NotAGitRepository when there is none."""
    path = Path(project_dir).resolve()
    if not path.is_dir():
        raise DiffError(f"{path}: no such folder; pass --project-dir with a dbt project")
    done = git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise NotAGitRepository(f"{path} is not inside a git repository ({done.stderr.strip()}); "
                                "`metricsctl diff` compares two commits of a project under git")
    root = Path(done.stdout.strip()).resolve()
    return Repo(root, PurePosixPath(path.relative_to(root).as_posix() or "."))


def resolve(repo: Repo, ref: str) -> Revision:
    """The commit `ref` names; UnknownRefError (with close names) when it names none."""
    if not ref or ref.startswith("-"):
        raise UnknownRefError(f"'{ref}' is not a git ref")
    done = repo.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        names = repo.run("for-each-ref", "--format=%(refname:short)", check=False).stdout.split()
        close = difflib.get_close_matches(ref, names, n=3, cutoff=0.5)
        hint = ("; did you mean " + ", ".join(f"'{c}'" for c in close) + "?") if close else (
            "; `git fetch` it first if it is a remote branch (in CI: fetch-depth: 0)")
        raise UnknownRefError(f"unknown git ref '{ref}' in {repo.root}{hint}")
    sha = done.stdout.strip()
    subject = repo.run("log", "-1", "--format=%s", sha, check=False).stdout.strip()
    return Revision(ref, sha, subject)


def working_tree(repo: Repo) -> Revision:
    """The working tree as the head: HEAD's commit plus whatever is not committed in the project."""
    head = resolve(repo, "HEAD")
    status = repo.run("status", "--porcelain", "--untracked-files=normal", "--", str(repo.project)).stdout
    return Revision(WORKING_TREE, head.sha, head.subject, dirty=bool(status.strip()))


def merge_base(repo: Repo, base: Revision, head: Revision) -> Revision | None:
    """Where `head` forked from `base` (what a pull request is compared with); None without common history."""
    done = repo.run("merge-base", base.sha, head.sha, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        return None
    sha = done.stdout.strip()
    if sha == base.sha:
        return base
    subject = repo.run("log", "-1", "--format=%s", sha, check=False).stdout.strip()
    return Revision(base.label, sha, subject, merge_base_of=base.label)


def export_revision(repo: Repo, revision: Revision, dest: Path) -> Path:
    """The project's files as they are in `revision`, copied under `dest`; returns the project folder."""
    dest.mkdir(parents=True, exist_ok=True)
    project = dest / repo.project
    if revision.is_working_tree:
        _copy_working_tree(repo, dest)
    else:
        marker = "dbt_project.yml" if str(repo.project) == "." else f"{repo.project}/dbt_project.yml"
        if repo.run("cat-file", "-e", f"{revision.sha}:{marker}", check=False).returncode != 0:
            raise DiffError(f"there is no dbt project at '{repo.project}' in {revision.describe()}: "
                            f"{marker} does not exist there")
        _extract(repo, revision.sha, dest)
    if not (project / "dbt_project.yml").is_file():
        raise DiffError(f"there is no dbt_project.yml at '{repo.project}' in {revision.describe()}")
    return project


def _extract(repo: Repo, sha: str, dest: Path) -> None:
    """`git archive <sha> -- <project>` unpacked into `dest`, then checked against the commit's own list of
    files: the revision's `.gitattributes` (export-ignore, export-subst) must not leave out or rewrite what
    the diff reads."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    command = ["git", "archive", "--format=tar", sha, "--", str(repo.project)]
    with subprocess.Popen(command, cwd=repo.root, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(dest, filter="data")
                else:  # pragma: no cover - Python < 3.10.12
                    archive.extractall(dest)  # noqa: S202 - git's own archive of a commit
        except getattr(tarfile, "FilterError", tarfile.TarError) as exc:
            proc.kill()
            raise DiffError(f"{exc} in commit {sha[:8]}: a file of the project that leads outside it is not "
                            "compared; remove the link, or compare another revision") from None
        errors = proc.stderr.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise DiffError(f"git archive {sha[:8]} failed: {errors}")
    _check_extracted(repo, sha, dest)


def _check_extracted(repo: Repo, sha: str, dest: Path) -> None:
    listed = repo.run("ls-tree", "-r", "-l", "-z", sha, "--", str(repo.project)).stdout
    for entry in filter(None, listed.split("\0")):
        meta, _, name = entry.partition("\t")
        mode, kind, _, size = meta.split()
        path = dest / name
        if kind != "blob":
            continue  # a submodule: not part of the project's files
        if mode == "120000":
            same = path.is_symlink()
        else:
            same = path.is_file() and not path.is_symlink() and path.stat().st_size == int(size)
        if not same:
            raise DiffError(f"'{name}' of commit {sha[:8]} is left out or rewritten by the revision's "
                            ".gitattributes (export-ignore or export-subst); metricsctl diff compares every "
                            "file as committed: remove those attributes from the project's files")


def _copy_working_tree(repo: Repo, dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the project, as they are on disk."""
    listed = repo.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                      str(repo.project)).stdout
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = repo.root / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted but not yet committed
        target = dest / name
        if source.is_symlink():
            _check_link(name, os.readlink(source))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def _check_link(name: str, link: str) -> None:
    """A link of the working tree is copied only when it leads to a file of the copy, as a commit's are: the
    parse and build of the copy write into `target/` and `logs/`, which must not be the user's (or any other)
    folders."""
    where = os.path.normpath(os.path.join(os.path.dirname(name), link))
    if os.path.isabs(link) or where == ".." or where.startswith("../"):
        raise DiffError(f"'{name}' in the working tree is a link to {link}, outside the project: metricsctl diff "
                        f"compares the project's own files; remove the link, or add '{name}' to .gitignore")
