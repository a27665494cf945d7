"""Prometheus metrics (docs/contract.md §10). One registry per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACTIVE_CONNECTIONS = Gauge("chat_active_connections", "Socket.IO connections open on this instance")
CONNECTS = Counter("chat_connects_total", "Socket.IO connections accepted")
DISCONNECTS = Counter("chat_disconnects_total", "Socket.IO connections closed")
CONNECT_REFUSED = Counter("chat_connect_refused_total", "Socket.IO handshakes refused", ["code"])
MESSAGES_RECEIVED = Counter("chat_messages_received_total", "Messages stored", ["kind"])
EVENTS_HANDLED = Counter("chat_socket_events_total", "Client events handled", ["event", "outcome"])
ACK_LATENCY = Histogram(
    "chat_ack_latency_seconds",
    "Time from receiving a client event to its ack",
    ["event"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
FANOUT_LATENCY = Histogram(
    "chat_fanout_latency_seconds",
    "Time to hand one event to every local recipient socket (and to Redis)",
    ["event"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
DELIVERED = Counter(
    "chat_events_delivered_total", "Events written to local sockets, per recipient", ["event"]
)
HTTP_LATENCY = Histogram(
    "chat_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5),
)
RATE_LIMITED = Counter("chat_rate_limited_total", "Requests refused by a rate limit", ["limit"])
ERRORS = Counter("chat_errors_total", "Unhandled errors", ["where"])
REDIS_LISTENER_UP = Gauge("chat_redis_listener_up", "1 while the Redis pub/sub listener is alive")
