"""Throwaway warehouses for the tests that run on other engines: a PostgreSQL server and a Spark session.

A test that needs an engine asks for its fixture (see conftest.py); when the engine is not installed on
the machine the test is skipped with the reason, and CI installs everything, so there they always run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    database: str

    def env(self, schema: str) -> dict[str, str]:
        """The environment variables the projects' profiles read for their `postgres` target."""
        return {"METRICSCTL_PG_HOST": self.host, "METRICSCTL_PG_PORT": str(self.port),
                "METRICSCTL_PG_USER": self.user, "METRICSCTL_PG_DATABASE": self.database,
                "METRICSCTL_PG_SCHEMA": schema}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are (Debian keeps them off PATH), or None without PostgreSQL."""
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(str(shutil.which("initdb"))).parent
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    return bindir if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists() else None


def missing_postgres() -> str | None:
    """Why a PostgreSQL server cannot be started here, or None."""
    try:
        import dbt.adapters.postgres  # noqa: F401
    except ImportError:
        return "dbt-postgres is not installed (pip install -e '.[postgres]')"
    if postgres_bindir() is None:
        return "PostgreSQL's initdb/pg_ctl are not on this machine (apt-get install postgresql)"
    return None


def _as_owner(command: list[str]) -> list[str]:
    """Run as the `postgres` user when root: PostgreSQL refuses to run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    """initdb into `folder`, start on 127.0.0.1 with a free port; `stop()` always, even after a failure."""

    def __init__(self, folder: Path) -> None:
        bindir = postgres_bindir()
        assert bindir is not None, missing_postgres()
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.started = False

    def start(self) -> Postgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(_as_owner([str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                  "--no-sync"]), check=True, capture_output=True)
        # jit=off: compiling the wide metric queries costs PostgreSQL more than running them (see BENCHMARKS.md)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c TimeZone=UTC "
                   "-c jit=off")
        subprocess.run(_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                                  str(self.folder / "server.log"), "-w", "start"]), check=True, capture_output=True)
        self.started = True
        return Postgres("127.0.0.1", self.port, "postgres", "postgres")

    def stop(self) -> None:
        if self.started:
            subprocess.run(_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                           capture_output=True)
            self.started = False


def missing_spark() -> str | None:
    """Why a local Spark session cannot run here, or None."""
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "dbt-spark[session] is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime for Spark (apt-get install openjdk-17-jre-headless)"
    return None


def spark_env(folder: Path, schema: str) -> dict[str, str]:
    """The environment variables the projects' profiles read for their `spark` target (a local session)."""
    return {"METRICSCTL_SPARK_WAREHOUSE": str(folder), "METRICSCTL_SPARK_SCHEMA": schema,
            "METRICSCTL_SPARK_MASTER": "local[2]", "SPARK_LOCAL_IP": "127.0.0.1"}


def normalized(value: object) -> object:
    """A value as every engine's client should agree on it: dates as ISO text, numbers as float."""
    import datetime as dt
    import decimal

    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, int)) and not isinstance(value, bool):
        return float(value)
    return value


Keyed = dict[tuple[object, ...], dict[str, object]]  # key values -> the other columns


def keyed(columns: tuple[str, ...], rows: list[tuple[object, ...]], keys: list[str]) -> Keyed:
    """Rows by the values of their key columns; a key seen twice is a failure of the query, not of the match."""
    index = [columns.index(k) for k in keys]
    out: Keyed = {}
    for row in rows:
        key = tuple(normalized(row[i]) for i in index)
        assert key not in out, f"two rows with the key {dict(zip(keys, key))}"
        out[key] = {c: normalized(v) for c, v in zip(columns, row) if c not in keys}
    return out


def differences(expected: Keyed, actual: Keyed, rel: float = 1e-9, abs_: float = 1e-9) -> list[str]:
    """What differs between two keyed results: missing or extra keys, values beyond `rel` (relative) and
    `abs_` (absolute: a difference of two large sums is zero on one engine and 1e-12 on another)."""
    problems = [f"missing key {k}" for k in sorted(set(expected) - set(actual), key=repr)[:5]]
    problems += [f"extra key {k}" for k in sorted(set(actual) - set(expected), key=repr)[:5]]
    for key in sorted(set(expected) & set(actual), key=repr):
        for name, want in expected[key].items():
            got = actual[key].get(name)
            if isinstance(want, float) and isinstance(got, float):
                if abs(got - want) > max(rel * max(abs(want), abs(got)), abs_):
                    problems.append(f"{key} {name}: {got!r} != {want!r}")
            elif got != want:
                problems.append(f"{key} {name}: {got!r} != {want!r}")
        if len(problems) > 20:
            break
    return problems
