"""Every command the README shows runs, in order, against a fresh copy of the demo, with the exit code
the README promises.

The commands are read from the README's ```bash blocks (a line ending in `\\` continues on the next),
so an example can never rot. Nothing is skipped silently: the installation steps are what gave this
test its environment (they are stripped, and the rest of the line runs), the test suite itself is
CI's job, `metricsctl diff --base origin/main` runs against a local stand-in for the remote (a
git repository of the copy whose `origin/main` is its one commit), and a server (`docs serve`) is
started on a free port, asked for a page until it answers, then stopped. A README command that matches none
of these rules runs as written; a rule that matches no README command fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The environment this test runs in is what these steps make: strip them and run the rest.
INSTALL = re.compile(r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install -e (\.|\"\.\[test\]\") && ")
# Installing an extra into the environment the tests run in (CI installs every extra): not run, since pip would
# point this environment's metricsctl at the temporary copy of the project.
EXTRAS = re.compile(r'^pip install -e "\.\[[a-z,]+\]"$')
# Commands not run here, each with why.
NOT_RUN = {
    "python -m pytest -q": "the test suite itself; CI runs it (.ci/run)",
    "metricsctl build --target spark": "the demo on a local Spark session builds in 6-9 minutes on 2 cores "
                                       "(BENCHMARKS.md, section 8); tests/test_demo_engines.py builds it the same "
                                       "way and compares every table with DuckDB's, and tests/test_engines.py runs "
                                       "every metric type on Spark",
    "metricsctl query --target spark --metrics defect_rate --group-by metric_time__week,production_line__line_name":
        "needs the Spark build above; tests/test_engines.py queries every metric type on Spark",
}
# Servers: started on a free port, asked for this path until they answer 200, then stopped with Ctrl-C.
SERVERS = {"metricsctl docs serve": "/api/metrics"}
# Exit codes the README promises other than 0.
EXIT_CODES = {
    "metricsctl alerts --as-of 2024-10-21 --dry-run": 1,  # a critical alert is open (--fail-on critical)
    "metricsctl alerts --as-of 2025-03-17 --dry-run": 1,
}


def readme_commands(text: str) -> list[str]:
    """The commands of the README's bash blocks, continuation lines joined, comment-only lines dropped."""
    commands: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1].rstrip() + " "
                continue
            line = pending + line.strip()
            pending = ""
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def without_comment(command: str) -> str:
    """The command without a trailing `# comment` (a `#` outside quotes after a space)."""
    quote = ""
    for i, char in enumerate(command):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and i and command[i - 1].isspace():
            return command[:i].rstrip()
    return command


def test_commands_are_read_from_every_bash_block():
    text = "```bash\n# a comment\nmetricsctl a --x 1 \\\n  --y \"{{ 2 }}\"   # why\n\nmetricsctl b\n```\n"
    text += "```yaml\nnot: a command\n```\n"
    assert [without_comment(c) for c in readme_commands(text)] == ['metricsctl a --x 1 --y "{{ 2 }}"', "metricsctl b"]
    assert without_comment("metricsctl query --where \"{{ D('a') }} = '#1'\"  # note") == (
        "metricsctl query --where \"{{ D('a') }} = '#1'\"")


def serve(command: str, path: str, cwd: Path, env: dict[str, str]) -> None:
    """Start a server the README shows on a free port, wait until `path` answers 200, stop it with Ctrl-C."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["bash", "-c", f"exec {command} --port {port}"], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"{command} stopped: {server.stdout.read() if server.stdout else ''}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{command} did not answer {path} within 120 s"
                time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path: Path, postgres_env: dict[str, str]):
    """`postgres_env`: the session's PostgreSQL server, in the environment `--target postgres` reads."""
    demo = tmp_path / "demo"
    shutil.copytree(ROOT, demo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "target", "logs", "*.duckdb", "*.duckdb.wal", "bench", "*.egg-info", ".*_cache"))
    git(demo, "init", "-q", "-b", "main")
    git(demo, "-c", "user.name=Test", "-c", "user.email=test@example.com", "add", "-A")
    git(demo, "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false",
        "commit", "-q", "-m", "demo")
    git(demo, "update-ref", "refs/remotes/origin/main", "HEAD")  # the stand-in for the remote
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    env.pop("METRICSCTL_PROJECT_DIR", None)

    commands = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(commands) >= 20
    ran, not_run, rules_used = [], [], set()
    for original in commands:
        command = without_comment(original)
        if INSTALL.match(command):
            command = INSTALL.sub("", command)
            rules_used.add("install")
        if EXTRAS.match(command):
            rules_used.add("extras")
            continue
        if command in NOT_RUN:
            not_run.append(command)
            continue
        if command in SERVERS:
            serve(command, SERVERS[command], demo, env)
            ran.append(command)
            continue
        done = subprocess.run(["bash", "-c", command], cwd=demo, env=env, capture_output=True, text=True,
                              timeout=900)
        expected = EXIT_CODES.get(command, 0)
        assert done.returncode == expected, (
            f"README command exited {done.returncode}, not {expected}: {command}\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}")
        assert "Traceback" not in done.stderr, command
        ran.append(command)
    assert sorted(not_run) == sorted(NOT_RUN), "a NOT_RUN entry matches no README command"
    assert rules_used == {"install", "extras"}, "the install steps are no longer in the README"
    assert set(EXIT_CODES) | set(SERVERS) <= set(ran), "an EXIT_CODES or SERVERS entry matches no README command"
    assert (demo / "sales.csv").is_file() and (demo / "comment.md").read_text().startswith("## metricsctl diff")
