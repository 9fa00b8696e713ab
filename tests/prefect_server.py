"""Processes for end-to-end tests: a local Prefect server, a worker, the Jira/Slack emulators, the prefect CLI.

Every process runs in its own process group (a new session), with SIGINT at its default action: a process started
from a non-interactive parent may inherit SIGINT as ignored, and then a Prefect worker never stops on it. Stopping
signals the whole group (the worker's flow-run subprocesses go with it), escalates SIGINT → SIGTERM → SIGKILL, and
reports any member left behind. Every wait is bounded and a failure carries the log tails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]

# Settings that must not leak from the developer's shell (or the repo's prefect.toml via a profile) into a test
# server: the test owns where the API is, where Prefect keeps its state, and which profile applies.
_STRIP = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_HOME", "PREFECT_PROFILES_PATH",
          "PREFECT_SERVER_API_PORT", "PREFECT_SERVER_API_HOST", "PREFECT_API_DATABASE_CONNECTION_URL",
          "PREFECT_SERVER_DATABASE_CONNECTION_URL")


class ProcessError(AssertionError):
    """A helper process failed or a bounded wait ran out; the message carries what to look at."""


def free_port() -> int:
    """A port free on the loopback interface right now (the OS may hand it out again later: use it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_env(home: Path, api_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stopped: bool = field(default=False)

    @property
    def pgid(self) -> int:
        return self.popen.pid  # start_new_session: the child leads its own group

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"({self.log}: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def describe(self, lines: int = 60) -> str:
        state = "running" if self.alive() else f"exited with {self.popen.returncode}"
        return f"--- {self.name} ({state}), last lines of {self.log}:\n{self.tail(lines)}"


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path = REPO) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_default_sigint)
    return Proc(name, popen, log)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ... (comm may hold spaces and parentheses)


def _alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, whatever its process group."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop(proc: Proc, *, grace: float = 20.0) -> list[int]:
    """Stop the process group: SIGINT (a clean shutdown), then SIGTERM, then SIGKILL. Returns the processes still
    alive afterwards, plus any descendant that had left the group (should be none): a Prefect worker starts flow
    runs in sessions of their own, so a run still going when its worker stops would otherwise be orphaned. Those
    are killed too, and reported."""
    if proc.stopped:
        return group_members(proc.pgid)
    proc.stopped = True
    outside = [p for p in descendants(proc.popen.pid) if p not in group_members(proc.pgid)]
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if not group_members(proc.pgid) and not proc.alive():
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not proc.alive():
                proc.popen.wait()
            if not proc.alive() and not group_members(proc.pgid):
                break
            time.sleep(0.2)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=1)
    escaped = [p for p in outside if _alive(p)]
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for pid in escaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while any(_alive(p) for p in escaped) and time.monotonic() < deadline:
            time.sleep(0.2)
    return group_members(proc.pgid) + escaped


def wait_for(what: str, check: Callable[[], Any], timeout: float, *, procs: Sequence[Proc] = (),
             interval: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; fail with the processes' log tails after `timeout`, or as
    soon as one of `procs` exits."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not ready yet (connection refused, ...): keep the last one for the report
            last_error = exc
        dead = [p for p in procs if not p.alive()]
        if dead or time.monotonic() >= deadline:
            why = f"{dead[0].name} exited" if dead else f"not within {timeout:.0f}s"
            detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise ProcessError(f"waiting for {what}: {why}{detail}\n" + "\n".join(p.describe() for p in procs))
        time.sleep(interval)


def http_json(url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


# --- Prefect -----------------------------------------------------------------------------------------------------

@dataclass
class PrefectServer:
    proc: Proc
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def healthy(self) -> bool:
        return bool(http_json(f"{self.api_url}/health", timeout=2.0) is True)


def start_server(home: Path, logs: Path, *, extra_env: Mapping[str, str] | None = None) -> PrefectServer:
    """`prefect server start` on 127.0.0.1 and a free port, state (SQLite) under `home`. The scheduler service is
    off: the tests trigger their own runs, and a scheduled run would compete for the deployment's slot. Call
    `wait_healthy` before use (≈ 15 s on a fresh database)."""
    port = free_port()
    env = prefect_env(home, f"http://127.0.0.1:{port}/api", {
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        **(extra_env or {}),
    })
    proc = spawn("prefect server", [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                    "--no-ui"], env, logs / "server.log")
    return PrefectServer(proc, port)


def wait_healthy(server: PrefectServer, timeout: float = 120.0) -> None:
    wait_for("the Prefect server's /health", server.healthy, timeout, procs=[server.proc])


def cli(args: Sequence[str], env: Mapping[str, str], log: Path, *, timeout: float = 120.0) -> str:
    """Run `prefect ARGS` from the repository root; its output goes to `log` too. Fails with the output."""
    try:
        done = subprocess.run([*PREFECT, *args], cwd=REPO, env=dict(env), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        output = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                         for x in (exc.stdout, exc.stderr))
        raise ProcessError(f"prefect {' '.join(args)}: no result within {timeout:.0f}s\n{output[-4000:]}") from None
    output = done.stdout + done.stderr
    with log.open("a") as f:
        f.write(f"$ prefect {' '.join(args)}\n{output}\n")
    if done.returncode != 0:
        raise ProcessError(f"prefect {' '.join(args)} exited with {done.returncode}:\n{output[-4000:]}")
    return output


def start_worker(pool: str, env: Mapping[str, str], logs: Path) -> Proc:
    """A process worker polling every 2 s (the default 10 s would make every test wait for it)."""
    return spawn("prefect worker", [*PREFECT, "worker", "start", "--pool", pool],
                 {**env, "PREFECT_WORKER_QUERY_SECONDS": "2"}, logs / "worker.log")


# --- emulators ---------------------------------------------------------------------------------------------------

def start_emulator(module: str, args: Sequence[str], logs: Path, *, timeout: float = 30.0) -> tuple[Proc, str]:
    """`python -m tests.emulators.<module> --port 0 ARGS`; the emulator prints its URL on its first line. Port 0
    lets the OS pick, so there is no race for a port."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = spawn(f"{module} emulator", [sys.executable, "-m", f"tests.emulators.{module}", "--port", "0", *args],
                 env, logs / f"{module}.log")

    def url() -> str | None:
        first = proc.log.read_text().splitlines()[:1]
        return first[0].strip() if first and first[0].startswith("http://") else None

    return proc, str(wait_for(f"the {module} emulator's URL", url, timeout, procs=[proc], interval=0.1))
