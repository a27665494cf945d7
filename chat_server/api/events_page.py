"""The human-readable Socket.IO event reference: `GET /api/events` (HTML).

This module owns the HTML page only: it renders the AsyncAPI document of
`chat_server/api/asyncapi.py` (client events with payload and ack, server events, every
schema as a table of fields) and nothing else, so the page and the machine-readable
document cannot disagree. It must not declare events or schemas, read marshmallow schemas
directly, or add inline script or style (the page obeys the app's Content-Security-Policy).
"""

from __future__ import annotations

import functools
import html
import json
from typing import Any

from aiohttp import web

from chat_server.api.asyncapi import CHANNEL, asyncapi_document

routes = web.RouteTableDef()

_PAGE_CSS_NOTE = "<!-- no inline script or style: the page obeys the app's CSP -->"
# JSON Schema keywords shown in the "rules" column, in this order.
_RULES = ("minLength", "maxLength", "minimum", "maximum", "pattern", "maxProperties")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(prop: dict[str, Any]) -> str:
    """A schema as short HTML: a link to a named schema, or its type."""
    if "$ref" in prop:
        name = html.escape(_ref_name(prop["$ref"]))
        return f'<a href="#schema-{name}">{name}</a>'
    for combinator in ("oneOf", "anyOf"):
        if combinator in prop:
            return " or ".join(_type_of(option) for option in prop[combinator])
    if "allOf" in prop and len(prop["allOf"]) == 1:
        return _type_of(prop["allOf"][0])
    kinds = prop.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return " | ".join(_one_type(kind, prop) for kind in kinds)


def _one_type(kind: str, prop: dict[str, Any]) -> str:
    if kind == "array":
        return f"array of {_type_of(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"object of {_type_of(prop['additionalProperties'])}"
    text = html.escape(str(kind))
    if "format" in prop and kind != "null":
        text += f" ({html.escape(str(prop['format']))})"
    return text


def _constraints(prop: dict[str, Any]) -> str:
    parts = [f"{key}: {prop[key]}" for key in _RULES if key in prop]
    if "enum" in prop:
        parts.append("one of " + ", ".join(json.dumps(v) for v in prop["enum"]))
    if "description" in prop:
        parts.append(str(prop["description"]))
    return html.escape("; ".join(parts))


def _schema_table(name: str, schema: dict[str, Any]) -> str:
    rows = []
    required = set(schema.get("required", ()))
    for prop, spec in schema.get("properties", {}).items():
        rows.append(
            f"<tr><td><code>{html.escape(prop)}</code></td><td>{_type_of(spec)}</td>"
            f"<td>{'yes' if prop in required else ''}</td><td>{_constraints(spec)}</td></tr>"
        )
    return (
        f'<h3 id="schema-{html.escape(name)}">{html.escape(name)}</h3>'
        "<table><thead><tr><th>field</th><th>type</th><th>required</th><th>rules</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _message(doc: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    """The message a `#/channels/<channel>/messages/<name>` reference points to."""
    channel_entry = doc["channels"][CHANNEL]["messages"][_ref_name(ref["$ref"])]
    message: dict[str, Any] = doc["components"]["messages"][_ref_name(channel_entry["$ref"])]
    return message


def _event_row(doc: dict[str, Any], name: str, operation: dict[str, Any]) -> str:
    payload = _type_of(_message(doc, operation["messages"][0])["payload"])
    cells = [f"<td><code>{html.escape(name)}</code></td>", f"<td>{payload}</td>"]
    if "reply" in operation:
        ack = _message(doc, operation["reply"]["messages"][0])["payload"]
        cells.append(f"<td>{_type_of(ack)}</td>")
    cells.append(f"<td>{html.escape(operation['summary'])}</td>")
    return f'<tr id="event-{html.escape(name)}">{"".join(cells)}</tr>'


@functools.cache
def events_html() -> str:
    doc = asyncapi_document()
    operations = doc["operations"].items()
    client_rows = "".join(
        _event_row(doc, name, op) for name, op in operations if op["action"] == "receive"
    )
    server_rows = "".join(
        _event_row(doc, name, op) for name, op in operations if op["action"] == "send"
    )
    schemas = "".join(
        _schema_table(name, schema) for name, schema in sorted(doc["components"]["schemas"].items())
    )
    paragraphs = "".join(
        f"<p>{html.escape(text)}</p>" for text in doc["info"]["description"].split("\n\n")
    )
    namespace = html.escape(doc["channels"][CHANNEL]["address"])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(doc['info']['title'])}</title>{_PAGE_CSS_NOTE}</head><body>"
        f"<h1>Socket.IO events, namespace <code>{namespace}</code></h1>{paragraphs}"
        '<p>Machine-readable (AsyncAPI 3.0): <a href="/api/asyncapi.json">/api/asyncapi.json'
        '</a>. REST: <a href="/api/openapi.json">/api/openapi.json</a>.</p>'
        "<h2>Client to server</h2><table><thead><tr><th>event</th><th>payload</th>"
        f"<th>ack</th><th>effect</th></tr></thead><tbody>{client_rows}</tbody></table>"
        "<h2>Server to client</h2><table><thead><tr><th>event</th><th>payload</th>"
        f"<th>meaning</th></tr></thead><tbody>{server_rows}</tbody></table>"
        f"<h2>Schemas</h2>{schemas}</body></html>"
    )


@routes.get("/api/events")
async def events_page(request: web.Request) -> web.Response:
    return web.Response(
        text=events_html(), content_type="text/html", headers={"Cache-Control": "no-cache"}
    )
