"""One typed, frozen configuration object, read from the environment once.

The variable names are a public contract (docs/contract.md §3): operators and scripts set them.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from limits import parse as parse_rate_limit

# Defaults from the seed's security section; all are overridable per deployment.
DEFAULT_RATE_LIMIT_REGISTER = "5/hour"
DEFAULT_RATE_LIMIT_LOGIN = "10/hour"
DEFAULT_RATE_LIMIT_MESSAGES = "60/minute"
DEFAULT_RATE_LIMIT_UPLOADS = "10/hour"
# Abuse limits beyond the seed's (issue 8). Failed logins per account (keyed by the
# identifier as typed, lowercased, whether or not such an account exists, so the limit
# reveals nothing): slows password guessing spread over many IPs. Rooms and invites per
# user per hour; typing events per user per minute (the web UI sends at most one every
# 2 s); live Socket.IO connections per user (tabs and devices), cluster-wide.
DEFAULT_RATE_LIMIT_LOGIN_ACCOUNT = "20/hour"
DEFAULT_RATE_LIMIT_ROOMS = "30/hour"
DEFAULT_RATE_LIMIT_INVITES = "100/hour"
DEFAULT_RATE_LIMIT_TYPING = "120/minute"
DEFAULT_MAX_CONNECTIONS_PER_USER = 20
# Floods (issue 14): every join or leave is announced to the whole room, so membership
# changes (join_room/leave_room and their REST twins, attempts included) are limited per
# user; a person joins and leaves a few rooms a minute. `sync` reads up to 500 rooms of
# history per call: limited per user, generously, because every tab of a user syncs after
# each reconnect (20 tabs x 2 chunks x a couple of reconnects in a deploy stays under it).
DEFAULT_RATE_LIMIT_MEMBERSHIP = "30/minute"
DEFAULT_RATE_LIMIT_SYNC = "120/minute"
# Changes of one's own account that check the current password (a new password or email,
# or any PUT /api/users/me carrying currentPassword), per user and per client IP: a stolen
# access token must not guess the password, or probe which emails are registered, beyond
# what the login limit allows. People change these a few times a year.
DEFAULT_RATE_LIMIT_PROFILE = "10/hour"

# The seed's token lifetimes: short access tokens limit the damage of a leaked token,
# refresh tokens keep a browser signed in for a week.
DEFAULT_ACCESS_TOKEN_TTL_S = 15 * 60
DEFAULT_REFRESH_TOKEN_TTL_S = 7 * 24 * 3600

# A spent refresh token presented again this soon after its rotation is a concurrent
# refresh (two tabs, a retried request), not a theft: it gets a new pair of its own.
DEFAULT_REFRESH_REUSE_GRACE_S = 10

# bcrypt cost 12 takes ~250 ms here; 10 is the seed's floor. 12 is OWASP's current advice.
DEFAULT_BCRYPT_ROUNDS = 12

# Engine.IO heartbeat: a dead TCP peer is noticed within interval + timeout (45 s).
DEFAULT_PING_INTERVAL_S = 25.0
DEFAULT_PING_TIMEOUT_S = 20.0

# Largest Engine.IO packet we accept: a 5000-char message is ~20 KB as UTF-8 JSON at worst,
# so 64 KB leaves room for any legitimate payload and bounds what a hostile client can make
# the server buffer.
DEFAULT_MAX_SOCKET_PAYLOAD_BYTES = 64 * 1024

# The seed's upload limit.
DEFAULT_UPLOAD_MAX_BYTES = 5 * 1024 * 1024

DEV_SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret  # nosec B105


class ConfigError(ValueError):
    """The environment does not describe a runnable server."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the server needs to know about its deployment."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str | None = None
    data_dir: Path = Path("./data")
    upload_dir: Path = Path("./data/uploads")
    redis_url: str | None = None
    jwt_secret: str = ""
    env: str = "development"
    instance_id: str = ""
    rate_limit_register: str = DEFAULT_RATE_LIMIT_REGISTER
    rate_limit_login: str = DEFAULT_RATE_LIMIT_LOGIN
    rate_limit_messages: str = DEFAULT_RATE_LIMIT_MESSAGES
    rate_limit_uploads: str = DEFAULT_RATE_LIMIT_UPLOADS
    rate_limit_login_account: str = DEFAULT_RATE_LIMIT_LOGIN_ACCOUNT
    rate_limit_rooms: str = DEFAULT_RATE_LIMIT_ROOMS
    rate_limit_invites: str = DEFAULT_RATE_LIMIT_INVITES
    rate_limit_typing: str = DEFAULT_RATE_LIMIT_TYPING
    rate_limit_membership: str = DEFAULT_RATE_LIMIT_MEMBERSHIP
    rate_limit_sync: str = DEFAULT_RATE_LIMIT_SYNC
    rate_limit_profile: str = DEFAULT_RATE_LIMIT_PROFILE
    # 0 turns the limit off.
    max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1"})
    cors_origins: tuple[str, ...] = ()
    log_level: str = "info"
    log_format: str = "console"
    access_token_ttl_s: int = DEFAULT_ACCESS_TOKEN_TTL_S
    refresh_token_ttl_s: int = DEFAULT_REFRESH_TOKEN_TTL_S
    refresh_reuse_grace_s: int = DEFAULT_REFRESH_REUSE_GRACE_S
    bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS
    ping_interval_s: float = DEFAULT_PING_INTERVAL_S
    ping_timeout_s: float = DEFAULT_PING_TIMEOUT_S
    max_socket_payload_bytes: int = DEFAULT_MAX_SOCKET_PAYLOAD_BYTES
    admin_username: str | None = None
    admin_password: str | None = None
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES
    clamd_address: str | None = None
    db_pool_min: int = 2
    db_pool_max: int = 10
    run_migrations: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from environment variables (docs/contract.md §3)."""
        e = os.environ if env is None else env
        chat_env = e.get("CHAT_ENV", "development").strip().lower()
        if chat_env not in ("development", "production", "test"):
            raise ConfigError(f"CHAT_ENV must be development, production or test, not {chat_env!r}")
        host = e.get("HOST", "127.0.0.1")
        port = _int(e, "PORT", 8080)
        data_dir = Path(e.get("DATA_DIR", "./data"))
        upload_dir = Path(e.get("UPLOAD_DIR", str(data_dir / "uploads")))
        production = chat_env == "production"
        secret = e.get("JWT_SECRET", "")
        if production and len(secret) < 32:
            raise ConfigError(
                "JWT_SECRET (at least 32 characters) is required when CHAT_ENV=production"
            )
        cfg = cls(
            host=host,
            port=port,
            database_url=e.get("DATABASE_URL") or None,
            data_dir=data_dir,
            upload_dir=upload_dir,
            redis_url=e.get("REDIS_URL") or None,
            jwt_secret=secret,
            env=chat_env,
            instance_id=e.get("INSTANCE_ID") or f"{socket.gethostname()}:{port}",
            rate_limit_register=_rate(e, "RATE_LIMIT_REGISTER", DEFAULT_RATE_LIMIT_REGISTER),
            rate_limit_login=_rate(e, "RATE_LIMIT_LOGIN", DEFAULT_RATE_LIMIT_LOGIN),
            rate_limit_messages=_rate(e, "RATE_LIMIT_MESSAGES", DEFAULT_RATE_LIMIT_MESSAGES),
            rate_limit_uploads=_rate(e, "RATE_LIMIT_UPLOADS", DEFAULT_RATE_LIMIT_UPLOADS),
            rate_limit_login_account=_rate(
                e, "RATE_LIMIT_LOGIN_ACCOUNT", DEFAULT_RATE_LIMIT_LOGIN_ACCOUNT
            ),
            rate_limit_rooms=_rate(e, "RATE_LIMIT_ROOMS", DEFAULT_RATE_LIMIT_ROOMS),
            rate_limit_invites=_rate(e, "RATE_LIMIT_INVITES", DEFAULT_RATE_LIMIT_INVITES),
            rate_limit_typing=_rate(e, "RATE_LIMIT_TYPING", DEFAULT_RATE_LIMIT_TYPING),
            rate_limit_membership=_rate(e, "RATE_LIMIT_MEMBERSHIP", DEFAULT_RATE_LIMIT_MEMBERSHIP),
            rate_limit_sync=_rate(e, "RATE_LIMIT_SYNC", DEFAULT_RATE_LIMIT_SYNC),
            rate_limit_profile=_rate(e, "RATE_LIMIT_PROFILE", DEFAULT_RATE_LIMIT_PROFILE),
            max_connections_per_user=_int(
                e, "MAX_CONNECTIONS_PER_USER", DEFAULT_MAX_CONNECTIONS_PER_USER
            ),
            trusted_proxies=frozenset(_csv(e.get("TRUSTED_PROXIES", "127.0.0.1"))),
            cors_origins=tuple(_csv(e.get("CORS_ORIGINS", ""))),
            log_level=e.get("LOG_LEVEL", "info").lower(),
            log_format=e.get("LOG_FORMAT", "json" if production else "console").lower(),
            access_token_ttl_s=_int(e, "ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL_S),
            refresh_token_ttl_s=_int(e, "REFRESH_TOKEN_TTL", DEFAULT_REFRESH_TOKEN_TTL_S),
            refresh_reuse_grace_s=_int(e, "REFRESH_REUSE_GRACE", DEFAULT_REFRESH_REUSE_GRACE_S),
            bcrypt_rounds=_int(e, "BCRYPT_ROUNDS", DEFAULT_BCRYPT_ROUNDS),
            ping_interval_s=float(e.get("PING_INTERVAL", DEFAULT_PING_INTERVAL_S)),
            ping_timeout_s=float(e.get("PING_TIMEOUT", DEFAULT_PING_TIMEOUT_S)),
            admin_username=e.get("ADMIN_USERNAME") or None,
            admin_password=e.get("ADMIN_PASSWORD") or None,
            upload_max_bytes=_int(e, "UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES),
            clamd_address=e.get("CLAMD_ADDRESS") or None,
            db_pool_min=_int(e, "DB_POOL_MIN", 2),
            db_pool_max=_int(e, "DB_POOL_MAX", 10),
        )
        if not 10 <= cfg.bcrypt_rounds <= 16:
            raise ConfigError("BCRYPT_ROUNDS must be between 10 and 16")
        for proxy in cfg.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR network"
                ) from exc
        if cfg.log_format not in ("json", "console"):
            raise ConfigError("LOG_FORMAT must be json or console")
        return cfg

    def with_dev_secret(self) -> Config:
        """In development, keep a generated JWT secret in DATA_DIR so tokens survive restarts."""
        if self.jwt_secret:
            return self
        if self.production:
            raise ConfigError("JWT_SECRET is required when CHAT_ENV=production")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / DEV_SECRET_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return replace(self, jwt_secret=path.read_text().strip())


def _int(e: Mapping[str, str], name: str, default: int) -> int:
    raw = e.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from exc


def _rate(e: Mapping[str, str], name: str, default: str) -> str:
    value = e.get(name) or default
    try:
        parse_rate_limit(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {value!r} is not a rate like '10/hour'") from exc
    return value


def _csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]
