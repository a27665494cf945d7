"""The Socket.IO events as an AsyncAPI 3.0 document: `GET /api/asyncapi.json`.

This module owns the machine-readable event contract. It turns the one table of events
(`schemas/socket_events.py`) into an AsyncAPI 3.0 document, with every payload and ack as
JSON Schema converted from the very marshmallow schemas the namespace validates with and
`schemas/responses.py` (apispec, in its OpenAPI 3.1 mode, whose schemas are JSON Schema:
`null` is a type rather than OpenAPI 3.0's `nullable`). It must not declare events or
payload shapes of its own (add them to the table), render HTML (`events_page.py` does,
from this document), or know the REST routes (`openapi.py`). The document is built once
per process; tests/compat/test_asyncapi.py validates it with the official
`@asyncapi/parser`, and the test clients (tests/event_contract.py) check every event and
ack the server sends them against it.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from chat_server.api.json_schema import add_schema_rules, schema_name_resolver, text_rules
from chat_server.api.openapi import API_TITLE, API_VERSION
from schemas import event_payloads as ev
from schemas.common import CamelSchema
from schemas.socket_events import EVENTS, NAMESPACE, SocketEvent

routes = web.RouteTableDef()

ASYNCAPI_VERSION = "3.0.0"
# apispec writes OpenAPI 3.1 schemas, which are JSON Schema (AsyncAPI's default format).
JSON_SCHEMA_OPENAPI_VERSION = "3.1.0"
# The one channel: the namespace every event travels on.
CHANNEL = "chat"
# The suffix of an ack's message name (`send_message.ack`): no event name contains a dot.
ACK_SUFFIX = ".ack"

# The document's prose, one paragraph each (the HTML page shows them as they are).
PERSPECTIVE = (
    "This document describes the server. A `receive` operation is an event a client "
    "emits (its `reply` is the ack the server answers with); a `send` operation is an "
    "event the server emits to clients."
)
TRANSPORT = (
    f"Socket.IO v5 (Engine.IO v4), websocket or long-polling, namespace `{NAMESPACE}`. "
    "Every payload is one JSON object, the event's first and only argument."
)
AUTHENTICATION = (
    "Handshake `auth: {token}` with an access token (or the browser's httpOnly "
    "cookie); a bad token is refused with connect_error `Invalid token` and "
    "`data.code`. Without a token, send `authenticate` within 10 s."
)
ACKS = (
    "Every client event takes an ack callback, answered with `{ok: true, ...}` or "
    "`{ok: false, error: {code, message, fields?}}`. Unknown events are answered "
    "`unknown_event`."
)
LIMITS = (
    "One Engine.IO packet is at most 64 KB by default (MAX_SOCKET_PAYLOAD_BYTES): a "
    "larger one closes that connection."
)
PARAGRAPHS = (PERSPECTIVE, TRANSPORT, AUTHENTICATION, ACKS, LIMITS)


def ack_message_name(event: str) -> str:
    return event + ACK_SUFFIX


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _ok_schema(event: SocketEvent) -> type[Schema]:
    """A successful ack: the event's ack fields next to `ok: true`, as one closed object."""
    base = event.ack or CamelSchema
    return type(
        f"{_camel(event.name)}OkSchema",
        (base,),
        {
            "__doc__": f"`{event.name}` ack on success.",
            "ok": fields.Boolean(required=True, validate=validate.Equal(True)),
        },
    )


def _json_schema_spec() -> tuple[APISpec, MarshmallowPlugin]:
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name_resolver)
    spec = APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version=JSON_SCHEMA_OPENAPI_VERSION,
        plugins=[plugin],
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(text_rules)
    return spec, plugin


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` (still used by the hand-written cross-field rules of
    `schemas/`, `JSON_SCHEMA_RULES`) as JSON Schema: `null` becomes one of the types."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = kinds if "null" in kinds else [*kinds, "null"]
    return out


def _message_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{name}"}


@functools.cache
def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of namespace `/chat`, built once."""
    spec, plugin = _json_schema_spec()
    converter = plugin.converter
    assert converter is not None
    ack_error = converter.resolve_nested_schema(ev.AckErrorSchema)
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for event in EVENTS:
        messages[event.name] = {
            "name": event.name,
            "title": event.name,
            "summary": event.description,
            "payload": converter.resolve_nested_schema(event.payload),
        }
        operation: dict[str, Any] = {
            "action": "receive" if event.direction == "client" else "send",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "title": event.name,
            "summary": event.description,
            "messages": [_message_ref(event.name)],
        }
        if event.direction == "client":
            ack = ack_message_name(event.name)
            messages[ack] = {
                "name": ack,
                "title": f"{event.name} ack",
                "summary": f"The ack of `{event.name}`: `ok: true` with the result, or the error.",
                "payload": {
                    "oneOf": [converter.resolve_nested_schema(_ok_schema(event)), ack_error]
                },
            }
            operation["reply"] = {
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "messages": [_message_ref(ack)],
            }
        operations[event.name] = operation
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{API_TITLE}: Socket.IO events",
            "version": API_VERSION,
            "description": "\n\n".join(PARAGRAPHS),
        },
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": NAMESPACE,
                "title": f"Socket.IO namespace {NAMESPACE}",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": operations,
        "components": {"schemas": _schemas(spec), "messages": messages},
    }


def _schemas(spec: APISpec) -> dict[str, Any]:
    """The named schemas, with the cross-field rules of `schemas/`, as JSON Schema."""
    components = spec.to_dict().get("components", {})
    add_schema_rules(components)
    schemas: dict[str, Any] = _json_schema(components.get("schemas", {}))
    return schemas


@routes.get("/api/asyncapi.json")
async def asyncapi_json(request: web.Request) -> web.Response:
    return web.json_response(asyncapi_document(), headers={"Cache-Control": "no-cache"})
