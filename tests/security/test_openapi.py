"""The API contract documents: `GET /api/openapi.json` covers every route the app serves,
and the socket event reference (`/api/asyncapi.json`, `/api/events`) covers every event the
namespace handles."""

from __future__ import annotations

import re
import unicodedata

import schemathesis
from aiohttp import web
from marshmallow import ValidationError

from chat_server.api.asyncapi import ack_message_name
from chat_server.api.openapi import openapi_document
from chat_server.realtime.namespace import ChatNamespace
from schemas import common
from schemas.socket_events import CLIENT_EVENTS, EVENTS, SERVER_EVENTS

ERROR_SCHEMA = "#/components/schemas/Error"


def _spec_path(resource_path: str) -> str:
    # aiohttp and OpenAPI write path parameters the same way ({id}), minus regexes.
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", resource_path)


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route, without Socket.IO, static files and implicit HEADs."""
    out = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource):
            continue
        path = resource.canonical
        if path.startswith("/socket.io"):
            continue
        if route.method in ("HEAD", "OPTIONS", "*"):
            continue
        out.add((route.method.lower(), _spec_path(path)))
    return out


async def test_every_route_is_in_the_spec(server, http):
    async with http.get(f"{server.url}/api/openapi.json") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        spec = await resp.json()
    assert spec["openapi"].startswith("3.")
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    served = registered_routes(server.app)
    assert served, "no routes found"
    missing = served - documented
    assert not missing, f"routes missing from /api/openapi.json: {sorted(missing)}"
    stale = documented - served
    assert not stale, f"documented routes the app does not serve: {sorted(stale)}"


def test_every_operation_documents_its_errors():
    spec = openapi_document()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            assert any(code.startswith("2") for code in responses), where
            secured = bool(op["security"])
            if secured:
                assert "401" in responses, where
            if "{" in path:
                assert "404" in responses, where
            if "requestBody" in op or ("parameters" in op and not path.startswith("/static")):
                assert "400" in responses or path == "/api/files/{name}", where
            if "requestBody" in op:
                assert "413" in responses, where
            if method != "get" and secured:
                # Cookie-authenticated writes from a foreign Origin are refused.
                assert "403" in responses, where
            for code, response in responses.items():
                if code.startswith(("4", "5")) and path != "/health/ready":
                    content = response["content"]["application/json"]["schema"]
                    assert content == {"$ref": ERROR_SCHEMA}, (where, code)
            if "429" in responses:
                assert "Retry-After" in responses["429"]["headers"], where


def test_security_schemes():
    spec = openapi_document()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "chat_access"
    public = {
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/openapi.json",
        "/api/events",
        "/api/asyncapi.json",
        "/",
        "/static/vendor/{name}",
        # The emoji names of the reaction picker: the same for everyone (api/emoji.py).
        "/api/emoji",
    }
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert bool(op["security"]) == (path not in public), path


def test_schemathesis_loads_the_spec():
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in openapi_document()["paths"].values())


def test_every_namespace_event_is_documented():
    handled = {
        name.removeprefix("on_")
        for name in dir(ChatNamespace)  # its mixins (realtime/message_events.py) too
        if name.startswith("on_") and name not in ("on_connect", "on_disconnect")
    }
    documented = {e.name for e in CLIENT_EVENTS}
    assert handled == documented
    for name in (
        "authenticated",
        "auth_error",
        "new_message",
        "new_dm",
        "user_joined",
        "user_left",
        "user_typing",
        "user_stopped_typing",
        "presence",
        "unread",
        "error",
        "session_revoked",
        "server_shutdown",
        "read_receipt",
        "delivery_receipt",
        "room_invite",
    ):
        assert name in {e.name for e in SERVER_EVENTS}, name


async def test_event_reference_is_served_as_asyncapi_and_html(server, http):
    async with http.get(f"{server.url}/api/asyncapi.json") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        doc = await resp.json()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"]["chat"]["address"] == "/chat"
    operations = doc["operations"]
    assert set(operations) == {e.name for e in EVENTS}
    for event in EVENTS:
        op = operations[event.name]
        # The server's perspective: it receives client events and sends its own.
        assert op["action"] == ("receive" if event.direction == "client" else "send")
        assert ("reply" in op) == (event.direction == "client"), event.name
    schemas = doc["components"]["schemas"]
    messages = doc["components"]["messages"]
    for event in CLIENT_EVENTS:
        payload = messages[event.name]["payload"]
        assert schemas[payload["$ref"].rsplit("/", 1)[-1]]["properties"], event.name
        ack = messages[ack_message_name(event.name)]["payload"]
        assert [o["$ref"].rsplit("/", 1)[-1] for o in ack["oneOf"]][1] == "AckError"
    send = schemas[messages["send_message"]["payload"]["$ref"].rsplit("/", 1)[-1]]
    assert send["properties"]["content"]["maxLength"] == 5000

    async with http.get(f"{server.url}/api/events.json") as resp:
        assert resp.status == 404, "replaced by /api/asyncapi.json"

    async with http.get(f"{server.url}/api/events") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
        csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "<script" not in page.lower() and "style=" not in page.lower()
    for event in EVENTS:
        assert f'id="event-{event.name}"' in page, event.name
    assert 'href="/api/asyncapi.json"' in page


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _closed(schema: dict) -> bool:
    """The object and every anyOf/oneOf/allOf branch of it refuse unknown properties."""
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key, ())]
    return schema.get("additionalProperties") is False and all(_closed(b) for b in branches)


def test_every_request_body_refuses_unknown_fields():
    """The server refuses unknown fields (marshmallow RAISE, one `file` part per upload):
    the document must say so for every body, JSON or multipart, and every object query."""
    spec = openapi_document()
    seen = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                assert _closed(_resolve(spec, content["schema"])), (where, media)
                seen += 1
            for param in op.get("parameters", ()):
                schema = _resolve(spec, param["schema"])
                if schema.get("type") == "object":
                    assert param["style"] == "form" and param["explode"] is True, where
                    assert _closed(schema), where
    assert seen >= 9


def test_text_patterns_agree_with_the_validators_on_every_character():
    """The documented patterns (what clients and fuzzers go by) and the Python checks (what
    the server does) are built from the same classes; check them on every BMP character
    but the surrogates, which a JSON Schema pattern cannot name (see SURROGATE_NOTE)."""
    checks = [
        (common.TEXT_PATTERN, [common.no_control_chars]),
        (common.LINE_PATTERN, [common.single_line]),
        (common.NAME_PATTERN, [common.single_line, common.not_blank]),
        (common.NONBLANK_TEXT_PATTERN, [common.no_control_chars, common.not_blank]),
        (
            common.VISIBLE_NAME_PATTERN,
            [common.single_line, common.not_blank, common.no_format_chars],
        ),
    ]
    for pattern, validators in checks:
        regex = re.compile(pattern)
        for code in range(0x10000):
            if 0xD800 <= code <= 0xDFFF:
                continue
            for text in (f"a{chr(code)}b", chr(code), f" {chr(code)} "):
                try:
                    for validate in validators:
                        validate(text)
                    valid = True
                except ValidationError:
                    valid = False
                assert bool(regex.search(text)) == valid, (pattern, hex(code), text)


def test_documented_text_rules():
    schemas = openapi_document()["components"]["schemas"]
    assert schemas["CreateRoom"]["properties"]["name"]["pattern"] == common.VISIBLE_NAME_PATTERN
    assert schemas["PostMessage"]["properties"]["content"]["pattern"] == common.TEXT_PATTERN
    for component, field in (
        ("Register", "password"),
        ("Login", "email"),
        ("UpdateMe", "password"),
    ):
        assert schemas[component]["properties"][field]["pattern"] == common.LINE_PATTERN
    for name in ("Login", "UpdateMe", "PostMessage", "PostDirectMessage", "HistoryQuery"):
        assert schemas[name]["allOf"], name


def test_the_format_class_is_unicode_cf_in_the_bmp():
    cf = {code for code in range(0x10000) if unicodedata.category(chr(code)) == "Cf"}
    matched = {
        code for code in range(0x10000) if re.fullmatch(f"[{common.FORMAT_CLASS}]", chr(code))
    }
    assert matched == cf
