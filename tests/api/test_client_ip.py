"""Which client IP the rate limits count (issue 14 #9): X-Forwarded-For is read across
every header line, from the right, skipping the trusted proxies; the first address that is
not a trusted proxy is the client. A client cannot pick its own IP by writing a header line
of its own before the one the proxy adds."""

from __future__ import annotations

import random

import pytest
from multidict import CIMultiDict

from chat_server.config import Config, ConfigError
from tests.api.test_rate_limits import assert_rate_limited, random_ip, register_raw

# What the proxy (here: the test client at 127.0.0.1, a trusted proxy) says the client is.
REAL_CLIENT = "203.0.113.77"


def xff_lines(*lines: str) -> CIMultiDict[str]:
    """One X-Forwarded-For header line per argument, in order (as HAProxy's
    `option forwardfor` sends them after a client's own line)."""
    return CIMultiDict(("X-Forwarded-For", line) for line in lines)


async def test_a_client_written_first_header_line_does_not_choose_the_ip(start_server, http):
    server = await start_server(rate_limit_register="2/hour")
    spoofed = [f"198.51.100.{n}" for n in range(1, 6)]
    statuses = [(await register_raw(http, server, xff_lines(ip, REAL_CLIENT)))[0] for ip in spoofed]
    assert statuses == [201, 201, 429, 429, 429]
    # Counted against the address the proxy appended: without the spoofed line it is limited.
    status, body, headers = await register_raw(http, server, xff_lines(REAL_CLIENT))
    assert_rate_limited(status, body, headers, 3600)


async def test_entries_of_every_line_are_walked_from_the_right(start_server, http):
    """Trusted proxies at the right end are skipped, on any line; the next address is the
    client's, whatever sits left of it."""
    server = await start_server(
        rate_limit_register="1/hour", trusted_proxies=frozenset({"127.0.0.1", "10.9.0.0/16"})
    )
    client = f"172.16.{random.randint(0, 255)}.{random.randint(1, 254)}"
    first = xff_lines(f"1.2.3.4, {client}", "10.9.1.1")
    assert (await register_raw(http, server, first))[0] == 201
    for lines in (
        (f"{client}, 10.9.0.5",),
        ("5.6.7.8", f"{client}, 10.9.200.1", "10.9.0.2"),
        (f"garbage, {client}",),
    ):
        assert (await register_raw(http, server, xff_lines(*lines)))[0] == 429, lines


async def test_only_trusted_hops_mean_the_left_most_one_is_the_client(start_server, http):
    """HAProxy on the same host as its client (the cluster tests): every hop is trusted."""
    server = await start_server(rate_limit_register="1/hour")
    assert (await register_raw(http, server, xff_lines("127.0.0.1")))[0] == 201
    # The same client as the proxy itself (no header at all).
    assert (await register_raw(http, server))[0] == 429


@pytest.mark.parametrize("bad", ["not-an-ip", "1.2.3.4.5", "", "unknown"])
async def test_an_invalid_hop_stops_the_walk_at_the_last_trusted_one(start_server, http, bad):
    """An entry that is no address was not written by a proxy we trust: nothing left of it
    is believed, and the caller is the trusted hop next to it (here the peer)."""
    server = await start_server(rate_limit_register="1/hour")
    assert (await register_raw(http, server, xff_lines(f"{random_ip()}, {bad}")))[0] == 201
    assert (await register_raw(http, server))[0] == 429


def test_trusted_proxies_take_addresses_and_networks_and_refuse_the_rest():
    cfg = Config.from_env({"TRUSTED_PROXIES": "127.0.0.1, 10.9.0.0/16,::1"})
    assert cfg.trusted_proxies == frozenset({"127.0.0.1", "10.9.0.0/16", "::1"})
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Config.from_env({"TRUSTED_PROXIES": "127.0.0.1,haproxy.internal"})
