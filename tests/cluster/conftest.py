"""Fixtures of the cluster tests (issue 5): real processes only.

- a fresh PostgreSQL database per test module (CHAT_TEST_PG_URL's server, made by
  tests/pgdb.py), migrated once, dropped at the end;
- a private redis-server per cluster, on its own free port, without persistence (the tests
  may kill and restart it; the shared Redis is never touched, and no other process on the
  machine can publish into this cluster's Socket.IO channel);
- chat-server instances as `python -m chat_server serve` subprocesses with distinct ports
  and INSTANCE_IDs, sharing the database, Redis, JWT_SECRET and DATA_DIR;
- HAProxy (`haproxy -W -db -f haproxy.cfg`) in front, configured by `haproxy_env()`.

Every process is killed at teardown, also when the test failed; the instances' logs are
printed then (pytest shows them for failing tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import pgdb
from tests.cluster.procs import Cluster, ProcessGroup, RedisServer


@pytest.fixture(scope="module")
def cluster_db() -> Iterator[str]:
    """A database for this module's clusters, migrated, dropped afterwards."""
    name = pgdb.unique_name("chat_cluster")
    url = asyncio.run(pgdb.create_database(name))
    yield url
    asyncio.run(pgdb.drop_database(name))


def _start_cluster(
    group: ProcessGroup, workdir: Path, database_url: str, size: int, extra_env: dict[str, str]
) -> Cluster:
    workdir.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(group, workdir).start()
    return Cluster(group, workdir, database_url, redis, size=size, extra_env=extra_env).start()


def _report(cluster: Cluster | None) -> None:
    if cluster is not None:
        print(cluster.logs())


@pytest.fixture(scope="module")
def module_cluster(cluster_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two instances behind HAProxy, shared by the tests of a module that do not break it."""
    group = ProcessGroup()
    cluster = None
    try:
        cluster = _start_cluster(group, tmp_path_factory.mktemp("cluster"), cluster_db, 2, {})
        yield cluster
    finally:
        group.close()
        _report(cluster)


@pytest.fixture
def make_cluster(cluster_db: str, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Start a cluster of its own for one test (chaos tests break theirs)."""
    group = ProcessGroup()
    started: list[Cluster] = []

    def make(size: int = 2, **extra_env: str) -> Cluster:
        cluster = _start_cluster(
            group, tmp_path / f"cluster{len(started)}", cluster_db, size, extra_env
        )
        started.append(cluster)
        return cluster

    try:
        yield make
    finally:
        group.close()
        for cluster in started:
            _report(cluster)


@pytest.fixture
def procs() -> Iterator[ProcessGroup]:
    """Extra processes a test starts itself; killed at teardown."""
    group = ProcessGroup()
    try:
        yield group
    finally:
        group.close()
