"""A dbt project on disk: its paths, its profile, and a semantic manifest that is never stale.

metricsctl runs `dbt parse` itself whenever a file dbt reads changed since the last parse, so a user
never queries an outdated spec. dbt runs in-process (much cheaper than a subprocess) and its semantic
validation messages are collected and located in the project's YAML files.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from metricsctl import validated
from metricsctl.compiler.collector import collector_paused
from metricsctl.errors import DbtError, SpecError, SpecIssue
from metricsctl.guards import inside
from metricsctl.locations import (
    YAML_LOADER,
    Location,
    LocationIndex,
    index_yaml_files,
    what_is_wrong,
    yaml_error_issue,
)

FINGERPRINT_FILE = "metricsctl_parse_fingerprint.json"
# environment variables dbt reads that do not change what it parses (metricsctl sets the first itself;
# METRICSCTL_SINCE_LAST_BUILD, a nightly build's bounds, is read by macros/checks.sql only when tests run)
PARSE_NEUTRAL = frozenset({"DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_QUIET", "DBT_LOG_LEVEL", "DBT_NO_PRINT",
                           "METRICSCTL_SINCE_LAST_BUILD"})
DEFAULT_PATHS = {
    "model-paths": ["models"],
    "seed-paths": ["seeds"],
    "macro-paths": ["macros"],
    "snapshot-paths": ["snapshots"],
    "analysis-paths": ["analyses"],
    "test-paths": ["tests"],
}


_CONFIGS: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def read_manifest(target_dir: str | Path) -> dict[str, Any]:
    """dbt's target/manifest.json as a dict; a missing one means the project was never parsed."""
    path = Path(target_dir) / "manifest.json"
    if not path.is_file():
        raise DbtError(f"{path}: no dbt manifest; run `dbt parse` (or `metricsctl compile`) in the project first")
    try:
        with collector_paused():  # a large tree of dicts and lists, no garbage cycles in it
            loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DbtError(f"{path}: not valid JSON ({exc}); run `dbt parse` again") from exc
    if not isinstance(loaded, dict):
        raise DbtError(f"{path}: not a dbt manifest; run `dbt parse` again")
    return loaded


def _written_whole(path: Path) -> bool:
    """Whether dbt finished writing the JSON file at `path`: a dbt stopped while it wrote one (killed,
    out of disk) leaves it cut short, without its closing brace. Reads one byte, not the file; a file cut
    just after a brace (`{{ ref(..) }}` in a model's code) passes, and `DbtProject.reparsed_when_cut`
    catches it when the file is read."""
    try:
        with path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"}"
    except OSError:  # missing, or empty (seeking before the start)
        return False


def _valid_json(path: Path) -> bool:
    try:
        with collector_paused():
            json.loads(path.read_bytes())
    except (OSError, ValueError):  # ValueError: JSONDecodeError and UnicodeDecodeError
        return False
    return True


Read = TypeVar("Read")


def quiet_dbt_environment() -> None:
    """dbt phones home on every call unless told not to; metricsctl never wants that."""
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")


@dataclass(frozen=True)
class DbtProject:
    project_dir: Path
    profiles_dir: Path | None = None
    target: str | None = None

    @classmethod
    def at(cls, project_dir: str | Path = ".", profiles_dir: str | Path | None = None,
           target: str | None = None) -> DbtProject:
        start = Path(project_dir).resolve()
        # as git finds its repository: from a subfolder of the project (models/, metrics/) too
        root = next((folder for folder in (start, *start.parents) if (folder / "dbt_project.yml").is_file()), None)
        if root is None:
            raise DbtError(f"{start}: no dbt_project.yml here or in a folder above; pass --project-dir with a "
                           "dbt project (or start one with `metricsctl init`)")
        return cls(root, Path(profiles_dir).resolve() if profiles_dir else None, target)

    # --- configuration -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """dbt_project.yml, read again only when the file changed."""
        path = self.project_dir / "dbt_project.yml"
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _CONFIGS.get(path)
        if cached is not None and cached[0] == stamp:
            return copy.deepcopy(cached[1])
        try:
            loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        except yaml.YAMLError as exc:
            raise DbtError(str(yaml_error_issue(exc, str(path)))) from exc
        if not isinstance(loaded, dict):
            raise DbtError(f"{path}: expected a mapping of dbt project settings")
        _CONFIGS[path] = (stamp, loaded)
        return copy.deepcopy(loaded)

    def paths(self, key: str) -> list[str]:
        value = self.config.get(key, DEFAULT_PATHS.get(key, []))
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    @property
    def target_dir(self) -> Path:
        return self.project_dir / str(self.config.get("target-path", "target"))

    @property
    def manifest_path(self) -> Path:
        return self.target_dir / "manifest.json"

    @property
    def semantic_manifest_path(self) -> Path:
        return self.target_dir / "semantic_manifest.json"

    @property
    def validated_stamp(self) -> Path:
        """Which semantic manifest passed validation last (metricsctl/validated.py)."""
        return self.target_dir / validated.FILE

    def resolved_profiles_dir(self) -> Path:
        if self.profiles_dir:
            return self.profiles_dir
        if os.environ.get("DBT_PROFILES_DIR"):
            return Path(os.environ["DBT_PROFILES_DIR"]).resolve()
        if (self.project_dir / "profiles.yml").is_file():
            return self.project_dir
        return Path.home() / ".dbt"

    def locations(self) -> LocationIndex:
        return index_yaml_files(self.project_dir, self.paths("model-paths"),
                                cache=self.target_dir / "metricsctl_locations.json")

    # --- dbt invocation ------------------------------------------------------------------------
    def activate(self) -> None:
        """Profiles may place files relative to the project (`env_var('METRICSCTL_PROJECT_DIR')`),
        whatever the working directory: point the variable at this project before dbt reads them."""
        os.environ["METRICSCTL_PROJECT_DIR"] = str(self.project_dir)

    def dbt_args(self, command: list[str]) -> list[str]:
        args = [*command, "--project-dir", str(self.project_dir),
                "--profiles-dir", str(self.resolved_profiles_dir())]
        if self.target:
            args += ["--target", self.target]
        return args

    def fingerprint(self) -> str:
        """Changes whenever anything dbt reads to build the semantic manifest changes."""
        self.activate()
        digest = hashlib.sha256()
        files = [self.project_dir / "dbt_project.yml", self.resolved_profiles_dir() / "profiles.yml"]
        for key in ("model-paths", "seed-paths", "macro-paths", "snapshot-paths"):
            for folder in self.paths(key):
                root = self.project_dir / folder
                if root.is_dir():
                    files.extend(p for p in root.rglob("*") if p.is_file())
        for path in sorted(files):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
        env = sorted((k, v) for k, v in os.environ.items()
                     if k.startswith(("DBT_", "METRICSCTL_")) and k not in PARSE_NEUTRAL)
        digest.update(json.dumps([self.target, env]).encode())
        return digest.hexdigest()

    def parsed_as_is(self, fingerprint: str | None = None) -> bool:
        """Whether target/ holds whole the manifests of a parse of the project as it is now."""
        stamp = self.target_dir / FINGERPRINT_FILE
        return (stamp.is_file() and stamp.read_text() == (fingerprint or self.fingerprint())
                and _written_whole(self.semantic_manifest_path) and _written_whole(self.manifest_path))

    def semantic_manifest(self, force: bool = False) -> Path:
        """The path of an up-to-date target/semantic_manifest.json, running `dbt parse` if needed."""
        stamp = self.target_dir / FINGERPRINT_FILE
        current = self.fingerprint()
        if not force and self.parsed_as_is(current):
            return self.semantic_manifest_path
        self.parse()
        if not self.semantic_manifest_path.is_file():
            raise DbtError(
                f"{self.project_dir}: dbt parsed the project but wrote no semantic manifest; "
                "define semantic_models and metrics in a YAML file under the model paths")
        stamp.write_text(current)
        return self.semantic_manifest_path

    def manifest(self) -> dict[str, Any]:
        """dbt's target/manifest.json of the project as it is now (parsed again when anything changed)."""
        self.semantic_manifest()
        return self.reparsed_when_cut(lambda: read_manifest(self.target_dir), self.manifest_path)

    def reparsed_when_cut(self, read: Callable[[], Read], path: Path) -> Read:
        """`read()` of a file dbt wrote under target/; when it fails because `path` is not whole JSON (a dbt
        killed while writing it, cut where the one-byte check of `parsed_as_is` cannot tell), the project
        is parsed again and read once more. A failure with `path` whole is the reader's to report."""
        try:
            return read()
        except (DbtError, SpecError):
            if not path.is_file() or _valid_json(path):
                raise
        self.semantic_manifest(force=True)
        return read()

    @property
    def generated_folder(self) -> str:
        """Where metricsctl writes its models: `metrics/` in the first of the model paths."""
        return f"{self.paths('model-paths')[0]}/metrics"

    @contextmanager
    def _generated_models_set_aside(self) -> Iterator[list[Path]]:
        """The models metricsctl generated (their first line says so) moved under target/ for the block, then
        put back as they were."""
        from metricsctl.materialize import MARKER

        folder = self.project_dir / self.generated_folder
        aside = self.target_dir / "metricsctl_generated_set_aside"
        moved: list[Path] = []
        for left in sorted(aside.glob("*.sql")) if aside.is_dir() else []:  # a command killed in the block
            if not (folder / left.name).exists():
                os.replace(left, folder / left.name)
        try:
            for path in sorted(folder.glob("*.sql")) if folder.is_dir() else []:
                with path.open(encoding="utf-8", errors="replace") as file:
                    if not file.readline().startswith(MARKER):
                        continue
                aside.mkdir(parents=True, exist_ok=True)
                os.replace(path, aside / path.name)
                moved.append(path)
            yield moved
        finally:
            for path in moved:
                os.replace(aside / path.name, path)

    def parse(self) -> None:
        """Run `dbt parse`; a failure becomes a SpecError listing every problem with file and line."""
        quiet_dbt_environment()
        self.activate()
        from dbt.cli.main import dbtRunner

        def parsed() -> tuple[Any, list[tuple[str, str, str]]]:
            messages: list[tuple[str, str, str]] = []

            def collect(event: Any) -> None:
                name = event.info.name
                if name == "SemanticValidationFailure" or event.info.level == "error":
                    messages.append((str(name), str(event.info.level), str(event.info.msg)))

            with validated.dbt_validations() as passed:
                result = dbtRunner(callbacks=[collect]).invoke(
                    self.dbt_args(["parse", "--quiet", "--log-level", "none"]))
            if result.success:
                # dbt validated the semantic manifest it wrote: metricsctl need not validate the same bytes again
                validated.stamp_if_dbt_validated(passed, self.semantic_manifest_path, self.validated_stamp)
            raise_if_interrupted(result)
            return result, messages

        result, messages = parsed()
        if result.success:
            return
        # metricsctl's own models may be what fails: one deleted (another refers to it), or a time spine renamed
        # that they read. The project without them is what the next compile reads, and it rewrites them all.
        said = " ".join([str(result.exception or ""), *(message for _, _, message in messages)])
        if f"{self.generated_folder}/" in said:
            with self._generated_models_set_aside() as moved:
                if moved and parsed()[0].success:
                    return
        if isinstance(result.exception, OSError):
            raise DbtError(_os_error_message(result.exception, self.project_dir)) from result.exception
        from metricsctl.seeds import ensure_seeds_load
        from metricsctl.validation import check_yaml

        ensure_seeds_load(self.project_dir, self.paths("seed-paths"))  # dbt reads seeds while parsing

        # dbt stops at the first broken reference, which check_yaml reports better, with every other one.
        # When dbt got as far as validating the semantic manifest, its findings and check_yaml's (filters,
        # which it does not check) are different problems: both are reported.
        issues = check_yaml(self.project_dir, self.paths("model-paths"))
        index = self.locations()
        told: dict[str, int] = {}  # a message dbt repeats for each place it is about: the nth, at the nth place
        for name, level, message in messages:
            text = _first_paragraph(message.strip())
            if level != "error" or not text:
                continue  # dbt's traceback event holds no message of its own
            if text.startswith("Encountered an error") or "Semantic Manifest validation failed" in text:
                continue
            if issues and name != "SemanticValidationFailure":
                continue
            where = index.locate_message(text)
            if where is None:  # a value the message quotes, found where it is written
                places = self._places_of_quoted(text)
                where = places[min(told.get(text, 0), len(places) - 1)] if places else None
            told[text] = told.get(text, 0) + 1
            issues.append(SpecIssue(what_is_wrong(text), where.path if where else None, where.line if where else None))
        if not issues:
            issues.append(self._profile_issue(result.exception) or _dbt_failure(result.exception, index))
        raise SpecError(sorted(issues, key=lambda i: (i.path or "", i.line or 0)))

    def _profile_issue(self, exc: BaseException | None) -> SpecIssue | None:
        """A problem dbt found in the profile (`threads: two`), at its line in profiles.yml: the key dbt's
        message names (`at path ['threads']`) in the target's output, else the target's output, else the file."""
        from dbt.exceptions import DbtProfileError

        from metricsctl import yaml_lines

        if not isinstance(exc, DbtProfileError):
            return None
        path = self.resolved_profiles_dir() / "profiles.yml"
        detail = " ".join(_first_paragraph(str(exc)).replace("Runtime Error", "", 1).split())
        shown = str(path.relative_to(self.project_dir)) if inside(path, self.project_dir) else str(path)
        try:
            profiles = yaml_lines.load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return SpecIssue(f"the profile: {detail}", shown)
        profile = profiles.get(str(self.config.get("profile", ""))) if isinstance(profiles, dict) else None
        outputs = profile.get("outputs") if isinstance(profile, dict) else None
        target = self.target or (profile.get("target") if isinstance(profile, dict) else None)
        output = outputs.get(str(target)) if isinstance(outputs, dict) else None
        at = re.search(r"at path \[([^\]]*)\]", detail)
        keys = re.findall(r"'([^']+)'", at.group(1)) if at else []
        if not keys and isinstance(output, dict):  # the key holding a value the message quotes
            quoted = set(re.findall(r"'([^'\n]+)'", detail))
            keys = [next((k for k, v in yaml_lines.fields(output).items()
                          if quoted & {str(x) for x in (v if isinstance(v, list) else [v])}), "")]
        item, line = output, yaml_lines.line(output) or yaml_lines.line(profile)
        for key in keys:  # as deep as the path is written
            if not isinstance(item, dict) or key not in item:
                break
            line, item = yaml_lines.line(item, key), item[key]
        return SpecIssue(f"the profile, target '{target}': {detail}", shown, line)

    def _places_of_quoted(self, message: str) -> list[Location]:
        """Where the longest value quoted in a message ('7 dayz') is written in the project's YAML, in order."""
        from metricsctl.locations import yaml_files

        for value in sorted(set(re.findall(r"'([^'\n]{3,80})'", message)), key=len, reverse=True):
            places = []
            for path in yaml_files(self.project_dir, self.paths("model-paths")):
                try:
                    lines = path.read_text(encoding="utf-8").splitlines()
                except (OSError, UnicodeDecodeError):
                    continue
                rel = str(path.relative_to(self.project_dir))
                places += [Location(rel, n) for n, line in enumerate(lines, 1) if value in line]
            if places:
                return places
        return []


def raise_if_interrupted(result: Any) -> None:
    """dbt's runner catches Ctrl-C and returns it as its result's exception: raise it again, since the user
    stopped the command and no problem of the project's is to be reported."""
    if isinstance(getattr(result, "exception", None), KeyboardInterrupt):
        raise KeyboardInterrupt


def _os_error_message(exc: OSError, project_dir: Path) -> str:
    """A file dbt could not read or write: which, why, and what to do."""
    name = exc.filename or project_dir
    why = exc.strerror or type(exc).__name__
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"{name}: {why}; `dbt parse` writes the project's target/ and logs/ folders: make the project "
                "writable, or query a parsed manifest with --semantic-manifest")
    return f"{name}: {why} (while dbt parsed the project)"


def _dbt_failure(exc: BaseException | None, index: LocationIndex) -> SpecIssue:
    """dbt stopped without a message of its own: say what it raised, at the element it names."""
    from dbt.exceptions import YamlParseDictError

    if isinstance(exc, YamlParseDictError):
        return _yaml_parse_issue(exc, index)
    if isinstance(exc, RecursionError):
        return SpecIssue("dbt parse failed: dbt exceeded Python's recursion limit (a derived or ratio metric "
                         "that reaches itself through its inputs does this)", "dbt_project.yml")
    detail = _first_paragraph(str(exc)) if exc is not None else ""
    if not detail:
        detail = f"{type(exc).__name__} without a message" if exc is not None else "see dbt's log in logs/dbt.log"
    where = index.locate_message(detail)
    return SpecIssue(f"dbt parse failed: {detail}", where.path if where else "dbt_project.yml",
                     where.line if where else None)


def _yaml_parse_issue(exc: Any, index: LocationIndex) -> SpecIssue:
    """dbt's `Invalid metrics config given in FilePath(...) @ metrics: {...}`, located at the element itself."""
    file = getattr(exc.path, "relative_path", None)
    searched = getattr(exc.path, "searched_path", None)
    path = str(Path(searched) / file) if file and searched else None
    data = exc.yaml_data if isinstance(exc.yaml_data, dict) else {}
    name = data.get("name")
    where = index.find(str(exc.key), str(name)) if name is not None else None
    cause = exc.cause
    reason = getattr(cause, "message", None) or getattr(cause, "msg", None) or str(cause)
    what = {"metrics": "metric", "semantic_models": "semantic model", "saved_queries": "saved query"}.get(
        str(exc.key), str(exc.key))
    label = f"{what} '{name}'" if name is not None else f"a {what}"
    return SpecIssue(f"{label}: {' '.join(str(reason).split())}", where.path if where else path,
                     where.line if where else None)


def _first_paragraph(message: str) -> str:
    lines = [line.rstrip() for line in message.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line.strip().startswith("Traceback"):
            break
        kept.append(line)
    return " ".join(part.strip() for part in kept if part.strip())
