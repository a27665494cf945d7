"""Holds the server to its published event contract in every test that uses a shared client.

This module owns the emitted-payload check: `CheckedClient` is the python-socketio client
the shared fixtures hand out (tests/conftest.py `sio_connect`). Every event the server
emits to it on `/chat`, and every ack it answers to it, is validated against the JSON
Schema of that message in the AsyncAPI document (`chat_server.api.asyncapi`, the document
`GET /api/asyncapi.json` serves); an event the document does not list is a violation too.
Violations are collected on the client and fail the test at teardown, so server payloads
cannot drift from the documents. It must not change what the client sees (events and acks
are passed on untouched), retry, wait or sleep, and it checks only what the server sends,
never what a test deliberately sends wrong.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
import socketio

from chat_server.api.asyncapi import CHANNEL, asyncapi_document

NS = "/chat"
# Socket.IO's own events on a namespace, not part of the application's contract.
_TRANSPORT_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
# Every ack's failure branch; also the ack of an event the document does not list.
_ACK_ERROR = "#/components/schemas/AckError"
_MAX_SHOWN_CHARS = 600


def _refs(node: Any) -> Iterator[str]:
    """Every `$ref` inside a JSON Schema fragment."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class EventContract:
    """Validators for what the server sends, built from the AsyncAPI document."""

    def __init__(self, doc: dict[str, Any]):
        self._schemas: dict[str, Any] = doc["components"]["schemas"]
        messages = doc["components"]["messages"]
        channel = doc["channels"][CHANNEL]["messages"]

        def message(ref: dict[str, str]) -> dict[str, Any]:
            entry = channel[ref["$ref"].rsplit("/", 1)[-1]]
            found: dict[str, Any] = messages[entry["$ref"].rsplit("/", 1)[-1]]
            return found

        self.events: dict[str, jsonschema_rs.Validator] = {}
        # The ack's schema, and the schema of its `ok: true` branch (for clear messages).
        self.acks: dict[str, tuple[jsonschema_rs.Validator, jsonschema_rs.Validator]] = {}
        for operation in doc["operations"].values():
            sent = message(operation["messages"][0])
            if operation["action"] == "send":
                self.events[sent["name"]] = self._validator(sent["payload"])
            else:
                ack = message(operation["reply"]["messages"][0])["payload"]
                (success,) = [o for o in ack["oneOf"] if o != {"$ref": _ACK_ERROR}]
                self.acks[sent["name"]] = (self._validator(ack), self._validator(success))
        self.ack_error = self._validator({"$ref": _ACK_ERROR})

    def _validator(self, schema: dict[str, Any]) -> jsonschema_rs.Validator:
        """A validator for one payload, with the named schemas it refers to (transitively).

        Only those: the request schemas' patterns are written for Python's `re` (the
        server's) and need not compile in the Rust regex engine used here (they did not
        while they named surrogates), and a check of server payloads needs none of them."""
        needed: dict[str, Any] = {}
        pending = list(_refs(schema))
        while pending:
            name = pending.pop().rsplit("/", 1)[-1]
            if name not in needed:
                needed[name] = self._schemas[name]
                pending.extend(_refs(needed[name]))
        root = {"allOf": [schema], "components": {"schemas": needed}}
        # 2020-12 so that `format: uuid` is checked too (draft 7 does not define it).
        return jsonschema_rs.Draft202012Validator(root, validate_formats=True)

    def check_event(self, name: str, args: tuple[Any, ...]) -> str | None:
        """Why this server event breaks the contract, or None."""
        if name in _TRANSPORT_EVENTS:
            return None
        validator = self.events.get(name)
        if validator is None:
            return f"event {name!r} is not in /api/asyncapi.json: {_show(args)}"
        if len(args) != 1:
            return f"event {name!r} came with {len(args)} arguments, not one: {_show(args)}"
        return _errors(f"event {name!r}", validator, args[0])

    def check_ack(self, event: str, args: tuple[Any, ...]) -> str | None:
        """Why the ack of a client event breaks the contract, or None."""
        if len(args) != 1:
            return f"ack of {event!r} came with {len(args)} arguments, not one: {_show(args)}"
        payload = args[0]
        ack, success = self.acks.get(event, (self.ack_error, self.ack_error))
        if ack.is_valid(payload):
            return None
        # Explain with the branch the ack claims to be (`ok` tells them apart).
        claimed = success if isinstance(payload, dict) and payload.get("ok") is True else ack
        return _errors(f"ack of {event!r}", claimed, payload) or _errors(
            f"ack of {event!r}", ack, payload
        )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_CHARS else text[:_MAX_SHOWN_CHARS] + "..."


def _errors(what: str, validator: jsonschema_rs.Validator, payload: Any) -> str | None:
    errors = [
        f"{'/'.join(map(str, e.instance_path)) or '/'}: {e.message}"
        for e in validator.iter_errors(payload)
    ]
    if not errors:
        return None
    return f"{what} does not match /api/asyncapi.json: {'; '.join(errors)} in {_show(payload)}"


@functools.cache
def contract() -> EventContract:
    return EventContract(asyncapi_document())


class CheckedClient(socketio.AsyncClient):
    """A python-socketio client that records every contract violation of what it receives
    on `/chat` in `contract_violations` (the fixture that made it fails the test)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.contract_violations: list[str] = []

    def _note(self, problem: str | None) -> None:
        if problem is not None:
            self.contract_violations.append(problem)

    async def _handle_event(self, namespace: str | None, id: Any, data: list[Any]) -> None:
        if (namespace or "/") == NS and data:
            self._note(contract().check_event(str(data[0]), tuple(data[1:])))
        await super()._handle_event(namespace, id, data)

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        if callback is not None and (namespace or "/") == NS:
            callback = self._checking(event, callback)
        await super().emit(event, data, namespace=namespace, callback=callback)

    def _checking(self, event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(callback):

            async def checked_async(*args: Any) -> Any:
                self._note(contract().check_ack(event, args))
                return await callback(*args)

            return checked_async

        def checked(*args: Any) -> Any:
            self._note(contract().check_ack(event, args))
            return callback(*args)

        return checked
