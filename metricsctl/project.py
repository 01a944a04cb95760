"""A dbt project on disk: its paths, its profile, and a semantic manifest that is never stale.

metricsctl runs `dbt parse` itself whenever a file dbt reads changed since the last parse, so a user
never queries an outdated spec. dbt runs in-process (much cheaper than a subprocess) and its semantic
validation messages are collected and located in the project's YAML files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from metricsctl.errors import DbtError, SpecError, SpecIssue
from metricsctl.locations import LocationIndex, index_yaml_files

FINGERPRINT_FILE = "metricsctl_parse_fingerprint.json"
DEFAULT_PATHS = {
    "model-paths": ["models"],
    "seed-paths": ["seeds"],
    "macro-paths": ["macros"],
    "snapshot-paths": ["snapshots"],
    "analysis-paths": ["analyses"],
    "test-paths": ["tests"],
}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONFIGS: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


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
        root = Path(project_dir).resolve()
        if not (root / "dbt_project.yml").is_file():
            raise DbtError(f"{root}: no dbt_project.yml here; pass --project-dir with a dbt project")
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
            loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        except yaml.YAMLError as exc:
            raise DbtError(f"{path}: not valid YAML: {exc}") from exc
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
    def semantic_manifest_path(self) -> Path:
        return self.target_dir / "semantic_manifest.json"

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
        env = sorted((k, v) for k, v in os.environ.items() if k.startswith(("DBT_", "METRICSCTL_")))
        digest.update(json.dumps([self.target, env]).encode())
        return digest.hexdigest()

    def semantic_manifest(self, force: bool = False) -> Path:
        """The path of an up-to-date target/semantic_manifest.json, running `dbt parse` if needed."""
        stamp = self.target_dir / FINGERPRINT_FILE
        current = self.fingerprint()
        if (not force and self.semantic_manifest_path.is_file() and stamp.is_file()
                and stamp.read_text() == current):
            return self.semantic_manifest_path
        self.parse()
        if not self.semantic_manifest_path.is_file():
            raise DbtError(
                f"{self.project_dir}: dbt parsed the project but wrote no semantic manifest; "
                "define semantic_models and metrics in a YAML file under the model paths")
        stamp.write_text(current)
        return self.semantic_manifest_path

    def parse(self) -> None:
        """Run `dbt parse`; a failure becomes a SpecError listing every problem with file and line."""
        quiet_dbt_environment()
        self.activate()
        from dbt.cli.main import dbtRunner

        messages: list[tuple[str, str]] = []

        def collect(event: Any) -> None:
            name = event.info.name
            if name == "SemanticValidationFailure" or event.info.level == "error":
                messages.append((str(event.info.level), str(event.info.msg)))

        result = dbtRunner(callbacks=[collect]).invoke(
            self.dbt_args(["parse", "--quiet", "--log-level", "none"]))
        if result.success:
            return
        from metricsctl.validation import check_yaml

        found = check_yaml(self.project_dir, self.paths("model-paths"))
        if found:
            raise SpecError(found)
        index = self.locations()
        issues: list[SpecIssue] = []
        for level, message in messages:
            if level != "error" or not message.strip():
                continue
            text = message.strip()
            if text.startswith("Encountered an error") or "Semantic Manifest validation failed" in text:
                continue
            where = index.locate_message(text)
            issues.append(SpecIssue(_first_paragraph(text), where.path if where else None,
                                    where.line if where else None))
        if not issues:
            detail = str(result.exception) if result.exception else "see dbt's log in logs/dbt.log"
            where = index.locate_message(detail)
            issues.append(SpecIssue(f"dbt parse failed: {_first_paragraph(detail)}",
                                    where.path if where else "dbt_project.yml", where.line if where else None))
        raise SpecError(issues)


def _first_paragraph(message: str) -> str:
    lines = [line.rstrip() for line in message.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line.strip().startswith("Traceback"):
            break
        kept.append(line)
    return " ".join(part.strip() for part in kept if part.strip())
