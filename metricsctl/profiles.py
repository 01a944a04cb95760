"""The dbt profile and target a project runs against, read the way dbt reads them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
import jinja2.sandbox
import yaml

from metricsctl.errors import DbtError
from metricsctl.guards import SECRET_KEYS, register_secret
from metricsctl.locations import yaml_error_issue


@dataclass(frozen=True)
class Target:
    profile: str
    name: str
    config: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.config.get("type", ""))


def _env_var(name: str, default: str | None = None) -> str:
    """The variable's value (or the default); a variable named as a secret (`MOTHERDUCK_TOKEN`, dbt's
    `DBT_ENV_SECRET_...`) gives a secret wherever in the profile it is used (a token in a DuckDB `path`)."""
    if name in os.environ:
        value = os.environ[name]
    elif default is None:
        raise DbtError(f"env_var('{name}') is not set and has no default in profiles.yml")
    else:
        value = default
    if SECRET_KEYS.search(name) or name.startswith("DBT_ENV_SECRET"):
        register_secret(value)
    return value


def _render(value: Any, env: jinja2.Environment, key: str = "") -> Any:
    """The profile value rendered; a secret's value (a password, a token) is remembered to be masked."""
    if isinstance(value, str) and "{{" in value:
        value = env.from_string(value).render()
    elif isinstance(value, dict):
        return {k: _render(v, env, str(k)) for k, v in value.items()}
    elif isinstance(value, list):
        return [_render(v, env, key) for v in value]
    if SECRET_KEYS.search(key) and isinstance(value, str):
        register_secret(value)
    elif key == "path" and isinstance(value, str) and "?" in value:  # md:db?motherduck_token=...
        for _, setting in parse_qsl(value.partition("?")[2]):
            register_secret(setting)
    return value


def load_target(profiles_dir: Path, profile: str, target: str | None) -> Target:
    """The rendered output of `profile` for `target` (or the profile's default target)."""
    path = profiles_dir / "profiles.yml"
    if not path.is_file():
        raise DbtError(f"{path}: no profiles.yml; pass --profiles-dir or create one (see dbt's docs)")
    try:
        profiles = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DbtError(str(yaml_error_issue(exc, str(path)))) from exc
    if profile not in profiles:
        raise DbtError(f"{path}: no profile '{profile}' (named by dbt_project.yml's `profile:`)")
    # profiles.yml is the user's own file, but it still renders sandboxed, with env_var() only.
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.globals = {"env_var": _env_var}
    entry = profiles[profile] or {}
    name = target or _render(entry.get("target"), env)
    outputs = entry.get("outputs") or {}
    if not name or name not in outputs:
        raise DbtError(f"{path}: profile '{profile}' has no target '{name}'; "
                       f"targets: {', '.join(sorted(outputs)) or 'none'}")
    return Target(profile, str(name), _render(outputs[name], env))


def write_profile_with_path(profiles_dir: Path, target: Target, path: str, folder: Path) -> Path:
    """`folder`/profiles.yml: the project's profile with only `target`'s `path` changed (and `target` as its
    default). No value is rendered: env_var() calls stay as written, so no secret is written to disk."""
    source = profiles_dir / "profiles.yml"
    try:
        profiles = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DbtError(f"{source}: cannot read the profile: {exc}") from None
    entry = dict(profiles[target.profile])
    outputs = dict(entry.get("outputs") or {})
    outputs[target.name] = {**outputs[target.name], "path": path}
    entry["outputs"] = outputs
    entry["target"] = target.name
    folder.mkdir(parents=True, exist_ok=True)
    written = folder / "profiles.yml"
    written.write_text(yaml.safe_dump({target.profile: entry}, sort_keys=False), encoding="utf-8")
    written.chmod(0o600)
    return folder
