"""Local processes of a chat-server cluster, the one launcher behind `chat-server cluster`
(chat_server/cluster.py), the cluster tests (tests/cluster/procs.py) and the benchmark
(bench/cluster.py). It owns: starting app instances (`python -m chat_server serve`, or any
command answering the same health endpoints) with their HOST, PORT and INSTANCE_ID;
waiting until they are ready; starting HAProxy with the packaged `haproxy.cfg` (the one
HAProxy config of the project, package data so that an installed wheel has it) and the
CHAT_* variables that file reads; reading HAProxy's server states; applying migrations
once; and stopping (SIGTERM, then SIGKILL) or killing whatever it started, through a
`ProcessGroup`. It must not: decide an instance's settings (database, Redis, secrets,
limits: callers pass the environment), start PostgreSQL or Redis, print or log for the
user (it raises `LaunchError`; callers report), read anything from a source checkout, or
import tests/ or bench/.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import ipaddress
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Package data (setup.cfg [options.package_data]), a plain file in an installed package or
# a checkout alike: HAProxy needs a path, not a stream.
HAPROXY_CFG = Path(str(importlib.resources.files("chat_server").joinpath("haproxy.cfg")))
# haproxy.cfg has server slots for CHAT_BACKEND_1..8.
MAX_INSTANCES = 8
# The backend of haproxy.cfg whose checks are readiness (the other one is its fail-open twin).
HAPROXY_BACKEND = "chat_servers"
# How long a process gets to become ready: several instances starting at once on a loaded
# 2-core machine take a while.
START_TIMEOUT_S = 60.0
# How long processes get between SIGTERM and SIGKILL: instances drain their sockets first.
STOP_TIMEOUT_S = 20.0
# Between two polls of a port, a health URL or HAProxy's stats.
POLL_INTERVAL_S = 0.1
# Run in a child before its program (subprocess.Popen's `preexec_fn`): the bench raises
# its descriptor limit there.
Preexec = Callable[[], None] | None


class LaunchError(RuntimeError):
    """A process could not be started, exited at start, or did not become ready in time."""


def serve_command() -> list[str]:
    """One app instance, with this interpreter (and so this installation of the package)."""
    return [sys.executable, "-m", "chat_server", "serve"]


def run_migrations(
    env: dict[str, str], *, quiet: bool = False, timeout: float | None = None
) -> None:
    """`chat-server migrate` against env's DATABASE_URL, once before instances start so that
    they do not queue on the migration lock; output captured when `quiet`."""
    subprocess.run(
        [sys.executable, "-m", "chat_server", "migrate"],
        env=env,
        check=True,
        capture_output=quiet,
        timeout=timeout,
    )


def find_haproxy() -> str:
    """HAProxy from PATH, or Debian's place for it (sbin is not on every user's PATH)."""
    exe = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if exe is None:
        raise LaunchError("haproxy is not installed (apt-get install haproxy)")
    return exe


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path | None, lines: int = 40) -> str:
    """The last lines of a log file ("" when there is none)."""
    if path is None:
        return ""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll `check` until it holds; fail early if `proc` exits, with its log's tail."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise LaunchError(f"{what}: exited with {proc.returncode}\n{tail(log_path)}")
        if check():
            return
        if time.monotonic() > deadline:
            raise LaunchError(f"{what}: not after {timeout}s\n{tail(log_path)}")
        time.sleep(POLL_INTERVAL_S)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
        return True
    return False


def wait_port(port: int, timeout: float = START_TIMEOUT_S, host: str = "127.0.0.1") -> None:
    wait_until(lambda: port_open(port, host), f"something listening on {host}:{port}", timeout)


def http_ok(url: str) -> bool:
    """GET `url` answers 200 (any error, 503 included, is a no)."""
    try:
        # Callers build http:// URLs of local processes, never a user's.
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310  # nosec B310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _connect_host(host: str) -> str:
    """Where to reach a listener bound to `host` from this machine: loopback for a
    wildcard address (0.0.0.0, ::) or none."""
    try:
        unspecified = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        unspecified = False
    return "127.0.0.1" if unspecified else host


def spawn(
    args: list[str],
    env: dict[str, str],
    log_path: Path | None = None,
    *,
    cpus: str | None = None,
    preexec_fn: Preexec = None,
) -> subprocess.Popen[bytes]:
    """Start `args`; output appended to `log_path` (None: shared with ours); pinned to
    `cpus` with taskset when given (and installed)."""
    if cpus and shutil.which("taskset"):
        args = ["taskset", "-c", cpus, *args]
    if log_path is None:
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)  # noqa: S603
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(  # noqa: S603 - our own commands
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )


@dataclass
class ProcessGroup:
    """Every process started for one cluster; `stop()` or `close()` ends those still running."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path | None = None,
        *,
        cpus: str | None = None,
        preexec_fn: Preexec = None,
    ) -> subprocess.Popen[bytes]:
        proc = spawn(args, env, log_path, cpus=cpus, preexec_fn=preexec_fn)
        self.procs.append(proc)
        return proc

    def exited(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is not None]

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """The graceful end: SIGTERM to all, SIGKILL to those still running after `timeout`."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def close(self) -> None:
        """The abrupt end (test teardown): SIGKILL to everything still running."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


class Launched:
    """A process of `group`: its output goes to `log_path` (None: ours), it is pinned to
    `cpus` and `preexec_fn` runs in it before its program (see `spawn`)."""

    def __init__(
        self,
        group: ProcessGroup,
        log_path: Path | None,
        cpus: str | None,
        preexec_fn: Preexec,
    ):
        self.group = group
        self.log_path = log_path
        self.cpus = cpus
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.proc = self.group.spawn(
            args, env, self.log_path, cpus=self.cpus, preexec_fn=self.preexec_fn
        )
        return self.proc

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)


class Instance(Launched):
    """One app process on 127.0.0.1:`port` named `name` (its INSTANCE_ID); `env` is
    everything else it reads. `command` defaults to `serve_command()`."""

    def __init__(
        self,
        group: ProcessGroup,
        name: str,
        port: int,
        env: dict[str, str],
        log_path: Path | None = None,
        *,
        command: list[str] | None = None,
        cpus: str | None = None,
        preexec_fn: Preexec = None,
    ):
        super().__init__(group, log_path, cpus, preexec_fn)
        self.name = name
        self.port = port
        self.env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "INSTANCE_ID": name}
        self.command = command or serve_command()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """What HAProxy's CHAT_BACKEND_n names it by."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Instance:
        """Start (or start again, on the same port) without waiting."""
        self._spawn(self.command, self.env)
        return self

    def signal(self, signum: int) -> None:
        if self.proc is None:
            raise LaunchError(f"{self.name} was never started")
        self.proc.send_signal(signum)

    def terminate(self) -> None:
        """SIGTERM: the graceful path (drain, then exit)."""
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash; nothing is cleaned up."""
        self.signal(signal.SIGKILL)

    def wait_ready_blocking(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until /health/ready answers 200; LaunchError if the process exits first."""
        url = f"{self.url}/health/ready"
        wait_until(lambda: http_ok(url), f"{self.name} ready", timeout, self.proc, self.log_path)


def start_all(instances: Iterable[Instance], timeout: float = START_TIMEOUT_S) -> None:
    """Start every instance, then wait for each: they boot side by side."""
    started = [inst.start() for inst in instances]
    for inst in started:
        inst.wait_ready_blocking(timeout)


def haproxy_env(
    listen: str,
    backends: list[str],
    *,
    check_inter: str = "1s",
    maxconn: int = 50000,
    stats: str | None = None,
) -> dict[str, str]:
    """The environment haproxy.cfg reads (its header documents each variable)."""
    if not 1 <= len(backends) <= MAX_INSTANCES:
        raise LaunchError(f"haproxy.cfg takes 1..{MAX_INSTANCES} backends, not {len(backends)}")
    env = {"CHAT_LISTEN": listen, "CHAT_CHECK_INTER": check_inter, "CHAT_MAXCONN": str(maxconn)}
    for i, backend in enumerate(backends, start=1):
        env[f"CHAT_BACKEND_{i}"] = backend
    if stats:
        env["CHAT_STATS"] = stats
    return env


def haproxy_maxconn(wanted: int = 50000) -> int:
    """As many connections as this process's file-descriptor limit lets HAProxy hold (two
    descriptors per proxied connection), raising the soft limit to the hard one first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = wanted * 2 + 1000 if hard == resource.RLIM_INFINITY else hard
    return max(1000, min(wanted, (limit - 1000) // 2))


def server_states(stats_csv: str, backend: str = HAPROXY_BACKEND) -> dict[str, str]:
    """`server name -> status` (UP, DOWN, ...) of `backend`, from HAProxy's stats CSV."""
    header, *rows = stats_csv.splitlines()
    cols = header.lstrip("# ").split(",")
    states = {}
    for row in rows:
        rec = dict(zip(cols, row.split(","), strict=False))
        if rec.get("pxname") == backend and rec.get("svname") not in ("FRONTEND", "BACKEND"):
            states[rec["svname"]] = rec["status"]
    return states


class HAProxy(Launched):
    """HAProxy in the foreground with `cfg` (the packaged haproxy.cfg), listening on
    host:port, in front of `backends` (address:port, app1 first). `master_worker` (-W) lets
    HAProxy reload; without it the pid is the process that proxies (for CPU/RSS figures)."""

    def __init__(
        self,
        group: ProcessGroup,
        backends: Iterable[str],
        *,
        port: int,
        host: str = "127.0.0.1",
        stats_port: int | None = None,
        maxconn: int = 4096,
        check_inter: str = "1s",
        cfg: Path = HAPROXY_CFG,
        log_path: Path | None = None,
        master_worker: bool = True,
        cpus: str | None = None,
        preexec_fn: Preexec = None,
    ):
        super().__init__(group, log_path, cpus, preexec_fn)
        self.backends = list(backends)
        self.host = host
        self.port = port
        self.stats_port = stats_port
        self.maxconn = maxconn
        self.check_inter = check_inter
        self.cfg = cfg
        self.master_worker = master_worker

    @property
    def url(self) -> str:
        return f"http://{_connect_host(self.host)}:{self.port}"

    @property
    def stats_url(self) -> str:
        if self.stats_port is None:
            raise LaunchError("HAProxy was started without a stats port")
        return f"http://127.0.0.1:{self.stats_port}/;csv"

    def start(self) -> HAProxy:
        """Start and wait until it accepts connections (its backends may still be DOWN)."""
        stats = f"127.0.0.1:{self.stats_port}" if self.stats_port else None
        env = {
            **os.environ,
            **haproxy_env(
                f"{self.host}:{self.port}",
                self.backends,
                check_inter=self.check_inter,
                maxconn=self.maxconn,
                stats=stats,
            ),
        }
        flags = ["-W", "-db"] if self.master_worker else ["-db"]
        proc = self._spawn([find_haproxy(), *flags, "-f", str(self.cfg)], env)
        connect = _connect_host(self.host)
        what = f"HAProxy on {connect}:{self.port}"
        wait_until(
            lambda: port_open(self.port, connect), what, START_TIMEOUT_S, proc, self.log_path
        )
        return self

    def states(self) -> dict[str, str]:
        """`server name -> status` of the ready-checked backend, now (needs `stats_port`)."""
        # An http:// URL of our own HAProxy's stats page.
        with urllib.request.urlopen(self.stats_url, timeout=5) as resp:  # noqa: S310  # nosec B310
            return server_states(resp.read().decode())

    def wait_up(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until its checks report every backend UP (the first ones pass after `rise`)."""

        def all_up() -> bool:
            with contextlib.suppress(OSError):
                found = self.states()
                return len(found) == len(self.backends) and all(
                    s.split(" ")[0] == "UP" for s in found.values()
                )
            return False

        wait_until(all_up, "HAProxy: every backend UP", timeout, self.proc, self.log_path)
