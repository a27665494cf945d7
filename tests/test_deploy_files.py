"""The Dockerfile and docker-compose.yml, checked as far as a machine without a Docker
engine allows (issue 5): the compose file's services, environment, volumes, ports and
health checks must agree with what the app reads (`Config.from_env`), with the
Dockerfile, and with haproxy.cfg, which HAProxy itself validates with the compose file's
environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from chat_server.config import Config

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
HAPROXY_CFG_IN_IMAGE = "/usr/local/etc/haproxy/haproxy.cfg"
SUBST = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def substitute(value: str, env: Mapping[str, str] | None = None) -> str:
    """Compose's `${VAR:-default}` interpolation, with an empty environment by default
    (what `docker compose up` does on a machine without a .env file)."""
    env = env or {}

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if env.get(name):
            return env[name]
        assert default is not None, f"${{{name}}} has no default: compose would fail"
        return default

    return SUBST.sub(repl, value)


class RecordingEnv(dict[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def names_config_reads() -> set[str]:
    env = RecordingEnv()
    Config.from_env(env)
    return env.read


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and "services" in data
    return data


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def final_stage(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (ins, _) in enumerate(dockerfile) if ins == "FROM")
    return dockerfile[last_from:]


def image_env(dockerfile: list[tuple[str, str]]) -> dict[str, str]:
    """The ENV defaults of the final stage (`ENV A=1 B=2` form)."""
    env: dict[str, str] = {}
    for ins, args in final_stage(dockerfile):
        if ins == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value.strip("\"'")
    return env


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository's Dockerfile."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def app_env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: substitute(str(v)) for k, v in env.items()}


def runtime_env(svc: dict[str, Any], dockerfile: list[tuple[str, str]]) -> dict[str, str]:
    """What the process sees: the image's ENV, overridden by the service's environment."""
    return {**image_env(dockerfile), **app_env(svc)}


def volume_mounts(svc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for vol in svc.get("volumes") or []:
        if isinstance(vol, str):
            source, target = vol.split(":")[:2]
        else:
            source, target = vol["source"], vol["target"]
        yield source, target


def test_services(compose):
    services = compose["services"]
    assert {"haproxy", "postgres", "redis"} <= set(services)
    apps = app_services(compose)
    assert len(apps) >= 2, "at least two app instances"
    assert {"app1", "app2"} <= set(apps)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["haproxy"]["image"].startswith("haproxy:2.6")
    for name, svc in apps.items():
        build = svc["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (REPO / context / "Dockerfile").is_file(), name


def test_app_environment_is_what_the_config_reads(compose, dockerfile):
    known = names_config_reads()
    instance_ids = set()
    services = compose["services"]
    for name, svc in app_services(compose).items():
        env = app_env(svc)
        unknown = set(env) - known
        assert not unknown, f"{name}: Config.from_env does not read {sorted(unknown)}"
        for required in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "INSTANCE_ID", "UPLOAD_DIR"):
            assert env.get(required), f"{name}: {required} missing"
        assert env["CHAT_ENV"] == "production"
        instance_ids.add(env["INSTANCE_ID"])
        # The URLs name the compose services.
        db = urlsplit(env["DATABASE_URL"])
        assert db.scheme.startswith("postgresql") and db.hostname == "postgres"
        pg_env = services["postgres"]["environment"]
        assert db.username == pg_env["POSTGRES_USER"]
        assert db.password == substitute(pg_env["POSTGRES_PASSWORD"])
        assert db.path.lstrip("/") == pg_env["POSTGRES_DB"]
        assert urlsplit(env["REDIS_URL"]).hostname == "redis"
        # The app believes X-Forwarded-For from HAProxy, whose address is fixed.
        networks = services["haproxy"]["networks"]
        haproxy_ips = {n["ipv4_address"] for n in networks.values() if n}
        assert set(env["TRUSTED_PROXIES"].split(",")) == haproxy_ips

        # The app accepts the environment as the container sees it.
        config = Config.from_env(runtime_env(svc, dockerfile))
        assert config.production
        assert len(config.jwt_secret) >= 32
        assert config.host == "0.0.0.0"
        assert config.instance_id == env["INSTANCE_ID"]
    assert len(instance_ids) == len(app_services(compose)), "INSTANCE_IDs must differ"
    # One secret for the whole cluster, or tokens from one instance fail on another.
    assert len({app_env(s)["JWT_SECRET"] for s in app_services(compose).values()}) == 1


def test_jwt_secret_comes_from_the_deployment(compose):
    for name, svc in app_services(compose).items():
        raw = str(svc["environment"]["JWT_SECRET"])
        assert SUBST.fullmatch(raw) and SUBST.fullmatch(raw).group(1) == "JWT_SECRET", name
        # The placeholder says what it is, and a real secret replaces it.
        assert "placeholder" in substitute(raw).lower()
        assert substitute(raw, {"JWT_SECRET": "s" * 48}) == "s" * 48


def test_uploads_on_one_shared_named_volume(compose, dockerfile):
    named = set(compose.get("volumes") or {})
    sources = set()
    for name, svc in app_services(compose).items():
        upload_dir = runtime_env(svc, dockerfile)["UPLOAD_DIR"]
        mounted = [src for src, target in volume_mounts(svc) if target == upload_dir]
        assert mounted, f"{name}: nothing mounted at UPLOAD_DIR {upload_dir}"
        assert mounted[0] in named, f"{name}: {mounted[0]} is not a named volume"
        sources.add(mounted[0])
    assert len(sources) == 1, f"app services use different upload volumes: {sources}"


def test_haproxy_service_uses_the_repository_config(compose, dockerfile):
    haproxy = compose["services"]["haproxy"]
    mounts = dict((target, src) for src, target in volume_mounts(haproxy))
    assert mounts[HAPROXY_CFG_IN_IMAGE].removeprefix("./") == "haproxy.cfg"
    env = {k: substitute(str(v)) for k, v in haproxy["environment"].items()}
    backends = sorted(v for k, v in env.items() if re.fullmatch(r"CHAT_BACKEND_\d", k))
    expected = sorted(
        f"{name}:{Config.from_env(runtime_env(svc, dockerfile)).port}"
        for name, svc in app_services(compose).items()
    )
    assert backends == expected
    # Numbered from 1 without holes (haproxy.cfg has slots 1..8).
    assert sorted(k for k in env if k.startswith("CHAT_BACKEND_")) == [
        f"CHAT_BACKEND_{i}" for i in range(1, len(expected) + 1)
    ]
    listen_port = env["CHAT_LISTEN"].rsplit(":", 1)[1]
    published = [str(p).split(":")[-1] for p in haproxy["ports"]]
    assert listen_port in published
    for app in app_services(compose):
        assert app in haproxy["depends_on"]


def test_healthchecks_and_startup_order(compose, dockerfile):
    services = compose["services"]
    has_image_healthcheck = any(ins == "HEALTHCHECK" for ins, _ in final_stage(dockerfile))
    for name, svc in services.items():
        if name in app_services(compose):
            assert "healthcheck" in svc or has_image_healthcheck, name
        else:
            assert "healthcheck" in svc, f"{name} has no healthcheck"
    for name, svc in app_services(compose).items():
        deps = svc["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        # Draining needs time between SIGTERM and SIGKILL.
        grace = str(svc.get("stop_grace_period", "10s"))
        assert int(grace.rstrip("s")) >= 20, name
        health = " ".join(svc.get("healthcheck", {}).get("test", []))
        assert not health or re.search(r"/health/(live|ready)", health), name


def test_dockerfile(dockerfile):
    final = final_stage(dockerfile)
    assert re.fullmatch(r"python:3\.11-slim(\S*)?", final[0][1].split()[0]), final[0]
    users = [args for ins, args in final if ins == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), "must not run as root"
    healthchecks = [args for ins, args in final if ins == "HEALTHCHECK"]
    assert healthchecks and re.search(r"/health/(live|ready)", healthchecks[-1])
    port = image_env(dockerfile)["PORT"]
    exposed = {p for ins, args in final if ins == "EXPOSE" for p in args.split()}
    assert port in exposed or f"{port}/tcp" in exposed
    runs = " ".join(args for ins, args in final if ins == "RUN")
    # The image installs the wheel (issue 14): no editable checkout, no sources in it.
    assert re.search(r"pip install [^&]*\.whl", runs), "the wheel is pip installed"
    # ... with the versions CI tested (requirements/lock.txt as constraints).
    assert re.search(r"pip install -c \S*lock\.txt [^&]*\.whl", runs), runs
    assert not re.search(r"pip install[^&]* -e\b", runs), "not an editable install"
    assert all(args.startswith("--from=") for ins, args in final if ins == "COPY"), final
    cmd = [args for ins, args in final if ins == "CMD"][-1]
    assert "chat-server" in cmd
    # USER comes before CMD and after the install.
    order = [ins for ins, _ in final]
    assert order.index("USER") > max(i for i, (ins, _) in enumerate(final) if ins == "RUN")


def test_dockerfile_builds_the_wheel_without_node(dockerfile):
    """A build stage makes the wheel from the package sources; Node.js is not involved
    (the web UI's Socket.IO client is vendored in the package)."""
    stages = [args.split()[0] for ins, args in dockerfile if ins == "FROM"]
    assert not any(image.startswith("node") for image in stages), stages
    runs = " ".join(args for ins, args in dockerfile if ins == "RUN")
    assert "pip wheel" in runs and "npm" not in runs
    copied = {
        source.rstrip("/")
        for ins, args in dockerfile
        if ins == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    }
    # haproxy.cfg: chat_server/haproxy.cfg links to it, the wheel carries its content.
    assert copied == {
        "pyproject.toml",
        "setup.cfg",
        "README.md",
        "haproxy.cfg",
        "chat_server",
        "schemas",
        "sql",
        "requirements/lock.txt",
    }


def test_dockerfile_copies_only_files_that_reach_the_build_context(dockerfile):
    ignored = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for must_be_excluded in (".git", ".venv", "node_modules", "data", ".env"):
        assert must_be_excluded in ignored, must_be_excluded
    for ins, args in dockerfile:
        if ins != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_haproxy_accepts_its_config_with_the_compose_environment(compose):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "haproxy is not installed (scripts/setup.sh --test)"
    env = {
        **os.environ,
        **{k: substitute(str(v)) for k, v in compose["services"]["haproxy"]["environment"].items()},
    }
    result = subprocess.run(
        [haproxy, "-c", "-f", str(REPO / "haproxy.cfg")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
