"""Through the shipped haproxy.cfg (issue 14 #9): a client's own X-Forwarded-For does not
reach the app, so it cannot choose the IP that the per-IP limits count. Before the fix
HAProxy's `option forwardfor` added a second header line after the client's, and twelve
registrations, each with its own spoofed address, all got 201 under a 5/hour limit."""

from __future__ import annotations

import pytest

from tests.api.test_rate_limits import assert_rate_limited, register_raw

pytestmark = pytest.mark.timeout(90)

REGISTER_LIMIT = 3


async def test_spoofed_forwarded_for_through_haproxy_is_replaced(make_cluster, http):
    cluster = make_cluster(size=1, RATE_LIMIT_REGISTER=f"{REGISTER_LIMIT}/hour")
    answers = [
        await register_raw(http, cluster, {"X-Forwarded-For": f"198.51.100.{n}"})
        for n in range(1, REGISTER_LIMIT + 5)
    ]
    assert [status for status, _, _ in answers] == [201] * REGISTER_LIMIT + [429] * 4
    assert_rate_limited(*answers[-1], 3600)
    # A spoofed chain of several entries and lines is replaced as a whole, too.
    status, body, headers = await register_raw(
        http, cluster, {"X-Forwarded-For": "192.0.2.1, 192.0.2.2", "X-Real-IP": "192.0.2.3"}
    )
    assert_rate_limited(status, body, headers, 3600)
