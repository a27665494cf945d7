"""The REST API's contract, generated from `schemas/`: `GET /api/openapi.json` (OpenAPI 3).
(The Socket.IO events are documented by `chat_server/api/asyncapi.py` and `events_page.py`
from the one table of events, `schemas/socket_events.py`.)

Every REST route is described once in `OPERATIONS` (api/operations.py: method, path,
parameters, body, success and error responses); the bodies and parameters are the very
marshmallow schemas the views validate with, and the responses are `schemas/responses.py`.
The documents are built once per process and served as they are.
tests/security/test_openapi.py checks that every route the app registers is here, and
tests/security/test_schemathesis.py holds the live server to the document.
"""

import copy
import functools
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from chat_server.api.change_operations import MESSAGE_CHANGE_OPERATIONS
from chat_server.api.json_schema import (
    add_schema_rules,
    component_name,
    register_component,
    schema_name_resolver,
    text_rules,
)
from chat_server.api.operations import CORE_OPERATIONS, Op
from chat_server.services.files import ALLOWED_TYPES
from schemas import responses as r

routes = web.RouteTableDef()

# Every REST route, documented once.
OPERATIONS: tuple[Op, ...] = CORE_OPERATIONS + MESSAGE_CHANGE_OPERATIONS

API_TITLE = "Chat server"
API_VERSION = "1.0.0"
OPENAPI_VERSION = "3.0.3"

# What each error status means here (docs/contract.md §5); every one carries the error schema.
ERROR_MEANING = {
    400: "validation_error: the body, query or path is invalid (see `fields`)",
    401: "unauthenticated / invalid_token / token_expired",
    403: "forbidden: well formed but not allowed (see the operation; also a "
    "cookie-authenticated request from a foreign Origin)",
    404: "not_found: no such resource, or one the caller may not see",
    409: "conflict: already taken / already used, or the state of a resource does not "
    "allow it (see the operation)",
    413: "too_large: the body is over the limit",
    415: "unsupported_media_type: the file is not an allowed type or does not match its "
    "name, or a body that must be JSON is not `application/json`",
    429: "rate_limited: retry after `Retry-After` seconds",
    503: "unavailable: a dependency is down or the instance is draining; retry",
}
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"cookieAuth": []}]
# A stored file's name: random hex, optional thumbnail suffix, an allowed extension.


def _new_spec() -> APISpec:
    spec = _bare_spec()
    plugin = spec.plugins[0]
    assert isinstance(plugin, MarshmallowPlugin) and plugin.converter is not None
    plugin.converter.add_attribute_function(text_rules)
    return spec


def _bare_spec() -> APISpec:
    return APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name_resolver)],
        info={
            "description": (
                "REST API of the chat server. Every error is "
                '`{"error": {"code", "message", "fields"?}}`. Private resources the caller '
                "may not see answer 404. The Socket.IO events (namespace `/chat`) are "
                "documented at `/api/events` (HTML) and `/api/asyncapi.json` (AsyncAPI 3.0)."
            )
        },
    )


def _operation_id(op: Op) -> str:
    explicit = _OPERATION_IDS.get((op.method, op.path))
    if explicit:
        return explicit
    words = [w for w in op.path.replace("{", "").replace("}", "").split("/") if w]
    return op.method + "".join(
        w.replace("-", " ").replace(".", " ").title().replace(" ", "") for w in words
    )


_OPERATION_IDS = {
    ("get", "/api/rooms/{id}"): "getRoom",
    ("get", "/api/rooms/{id}/messages"): "getRoomMessages",
    ("post", "/api/rooms/{id}/messages"): "postRoomMessage",
    ("get", "/api/rooms/{id}/members"): "getRoomMembers",
    ("get", "/api/rooms/{id}/reads"): "getRoomReads",
    ("post", "/api/rooms/{id}/join"): "joinRoom",
    ("post", "/api/rooms/{id}/invites"): "inviteToRoom",
    ("delete", "/api/rooms/{id}/leave"): "leaveRoom",
    ("get", "/api/direct-messages/{userId}"): "getDirectMessages",
    ("get", "/api/users/{userId}"): "getUser",
    ("post", "/api/direct-messages/{userId}"): "postDirectMessage",
    ("post", "/api/users/{userId}/block"): "blockUser",
    ("delete", "/api/users/{userId}/block"): "unblockUser",
}

_MEDIA = {
    "file": {
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/gif": {"schema": {"type": "string", "format": "binary"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/plain": {"schema": {"type": "string"}},
    },
    "text/plain": {"text/plain": {"schema": {"type": "string"}}},
    "text/html": {"text/html": {"schema": {"type": "string"}}},
    "text/javascript": {"text/javascript": {"schema": {"type": "string"}}},
    "object": {"application/json": {"schema": {"type": "object"}}},
}


def _response(status: int, body: Any, op: Op) -> dict[str, Any]:
    if body is None:
        return {"description": "No content"}
    if isinstance(body, str):
        return {"description": "OK", "content": copy.deepcopy(_MEDIA[body])}
    out: dict[str, Any] = {
        "description": body.__doc__.strip().splitlines()[0] if body.__doc__ else "OK",
        "content": {"application/json": {"schema": body}},
    }
    if op.links and status in (200, 201) and min(op.ok) == status:
        out["links"] = copy.deepcopy(op.links)
    return out


def _error_response(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": ERROR_MEANING[status],
        "content": {"application/json": {"schema": r.ErrorSchema}},
    }
    if status == 404:
        out["content"]["text/plain"] = {"schema": {"type": "string"}}
    if status in (429, 503):
        out["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return out


def _operation(op: Op) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, body in op.ok.items():
        responses[str(status)] = _response(status, body, op)
    for status in op.errors:
        responses[str(status)] = _error_response(status)
    out: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
        "security": copy.deepcopy(SECURITY) if op.auth else [],
    }
    if op.description:
        out["description"] = op.description
    params: list[dict[str, Any]] = []
    if op.path_schema is not None:
        params.append({"in": "path", "schema": op.path_schema})
    if op.query is not None and getattr(op.query, "JSON_SCHEMA_RULES", None):
        # A query with rules across its parameters is one form-exploded object: on the
        # wire the same `?before=1&limit=5`, and the schema can relate them.
        params.append(
            {
                "in": "query",
                "name": "page",
                "style": "form",
                "explode": True,
                "schema": {"$ref": f"#/components/schemas/{component_name(op.query)}"},
            }
        )
    elif op.query is not None:
        params.append({"in": "query", "schema": op.query})
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    elif op.multipart:
        out["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The file, with its name (whose extension "
                                "must match the content)",
                            }
                        },
                        "required": ["file"],
                        "additionalProperties": False,
                    },
                    "encoding": {"file": {"contentType": ", ".join(ALLOWED_TYPES)}},
                }
            },
        }
    return out


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 document, built once."""
    spec = _new_spec()
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.security_scheme(
        "cookieAuth",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "chat_access",
            "description": "The browser UI's httpOnly cookie; state-changing requests must "
            "come from an allowed Origin.",
        },
    )
    for query in {op.query for op in OPERATIONS if op.query is not None}:
        if getattr(query, "JSON_SCHEMA_RULES", None):
            spec.components.schema(register_component(query), schema=query)
    by_path: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        by_path.setdefault(op.path, {})[op.method] = _operation(op)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    add_schema_rules(doc["components"])
    return doc


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(), headers={"Cache-Control": "no-cache"})
