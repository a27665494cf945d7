"""The REST API's contract, generated from `schemas/`: `GET /api/openapi.json` (OpenAPI 3).
(The Socket.IO events are documented by `chat_server/api/asyncapi.py` and `events_page.py`
from the one table of events, `schemas/socket_events.py`.)

Every REST route is described once in `OPERATIONS` below (method, path, parameters, body,
success and error responses); the bodies and parameters are the very marshmallow schemas
the views validate with, and the responses are `schemas/responses.py`. The documents are
built once per process and served as they are. tests/security/test_openapi.py checks
that every route the app registers is here, and tests/security/test_schemathesis.py holds
the live server to the document.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from chat_server.services.files import ALLOWED_TYPES
from schemas import responses as r
from schemas.auth import (
    PASSWORD_MAX_BYTES,
    PASSWORD_MIN_CHARS,
    LoginSchema,
    RefreshSchema,
    RegisterSchema,
    UpdateMeSchema,
    UserSearchQuerySchema,
)
from schemas.changes import (
    ChangesQuerySchema,
    MessagePathSchema,
    PatchMessageSchema,
)
from schemas.common import (
    LINE_PATTERN,
    NAME_PATTERN,
    SURROGATE_NOTE,
    TEXT_PATTERN,
    VISIBLE_NAME_PATTERN,
    CamelSchema,
)
from schemas.messages import (
    HistoryQuerySchema,
    PostDirectMessageSchema,
    PostMessageSchema,
)
from schemas.reactions import (
    PinPathSchema,
    ReactionPathSchema,
    ThreadPathSchema,
    ThreadQuerySchema,
)
from schemas.rooms import (
    CreateRoomSchema,
    InviteSchema,
    MemberListQuerySchema,
    RoomListQuerySchema,
    RoomPathSchema,
    UserPathSchema,
)

routes = web.RouteTableDef()

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
FILE_NAME_PATTERN = r"^[0-9a-f]{32}(_thumb)?\.(jpg|jpeg|png|gif|pdf|txt)$"


class FileNamePathSchema(CamelSchema):
    name = fields.String(required=True, metadata={"pattern": FILE_NAME_PATTERN})


class VendorPathSchema(CamelSchema):
    name = fields.String(required=True)


@dataclass(frozen=True)
class Op:
    """One REST operation as documented."""

    method: str
    path: str
    summary: str
    tag: str
    # {status: schema class | None (no body) | media-type string for non-JSON bodies}
    ok: dict[int, Any]
    errors: tuple[int, ...] = ()
    auth: bool = True
    path_schema: type[Schema] | None = None
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    multipart: bool = False
    description: str = ""
    links: dict[str, dict[str, Any]] = field(default_factory=dict)


_ROOM_ID = {"id": "$response.body#/id"}
_ROOM_LINKS = {
    "GetRoom": {"operationId": "getRoom", "parameters": _ROOM_ID},
    "History": {"operationId": "getRoomMessages", "parameters": _ROOM_ID},
    "PostMessage": {"operationId": "postRoomMessage", "parameters": _ROOM_ID},
    "Members": {"operationId": "getRoomMembers", "parameters": _ROOM_ID},
    "Reads": {"operationId": "getRoomReads", "parameters": _ROOM_ID},
    "Join": {"operationId": "joinRoom", "parameters": _ROOM_ID},
    "Invite": {"operationId": "inviteToRoom", "parameters": _ROOM_ID},
    "Leave": {"operationId": "leaveRoom", "parameters": _ROOM_ID},
}
_USER_ID = {"userId": "$response.body#/user/id"}
_USER_LINKS = {
    "DirectHistory": {"operationId": "getDirectMessages", "parameters": _USER_ID},
    "SendDirect": {"operationId": "postDirectMessage", "parameters": _USER_ID},
    "Block": {"operationId": "blockUser", "parameters": _USER_ID},
    "Unblock": {"operationId": "unblockUser", "parameters": _USER_ID},
    "Profile": {"operationId": "getUser", "parameters": _USER_ID},
}
_MESSAGE_ROOM = {"id": "$response.body#/message/roomId"}

OPERATIONS: tuple[Op, ...] = (
    # -- auth --------------------------------------------------------------------------
    Op(
        "post",
        "/api/auth/register",
        "Create an account (joins the lobby)",
        "auth",
        {201: r.AuthPairSchema},
        (400, 403, 409, 413, 415, 429, 503),
        auth=False,
        body=RegisterSchema,
        description="Also sets the httpOnly `chat_access` and `chat_refresh` cookies. "
        "Rate limited per client IP. The body must be `application/json` (415) and a "
        "browser's Origin ours or allowed (403).",
        links=_USER_LINKS,
    ),
    Op(
        "post",
        "/api/auth/login",
        "Log in with email or username",
        "auth",
        {200: r.AuthPairSchema},
        (400, 401, 403, 413, 415, 429, 503),
        auth=False,
        body=LoginSchema,
        description="Give `email` (an email or a username) or `username`. A wrong password and "
        "an unknown account get the same 401. Rate limited per client IP and per account. "
        "The body must be `application/json` (415) and a browser's Origin ours or allowed "
        "(403).",
    ),
    Op(
        "post",
        "/api/auth/refresh",
        "Exchange a refresh token for a new pair",
        "auth",
        {200: r.AuthPairSchema},
        (400, 401, 403, 413, 503),
        auth=False,
        body=RefreshSchema,
        description="The token comes from the body or the `chat_refresh` cookie. The old "
        "token is spent; presenting a spent one later revokes its whole session.",
    ),
    Op(
        "post",
        "/api/auth/logout",
        "End this session everywhere",
        "auth",
        {204: None},
        (401, 403, 503),
        description="Blacklists the access token, revokes the refresh family and "
        "disconnects the session's sockets on every instance.",
    ),
    # -- users -------------------------------------------------------------------------
    Op(
        "get",
        "/api/users/me",
        "The caller's account",
        "users",
        {200: r.UserPrivateSchema},
        (401, 404, 503),
    ),
    Op(
        "put",
        "/api/users/me",
        "Change username, email, display name or password",
        "users",
        {200: r.UserPrivateSchema},
        (400, 401, 403, 404, 409, 413, 429, 503),
        body=UpdateMeSchema,
        description="Give at least one of `username`, `email`, `displayName`, `password` "
        "(nothing to change is a 400). A new `password` or `email` needs `currentPassword`; "
        "a wrong one is a 403. A request with any of the three is rate limited per user and "
        "per client IP. A taken username or email is a 409. A new password ends every other "
        "session of the user.",
    ),
    Op(
        "get",
        "/api/users",
        "Find people by username prefix (to message or invite them)",
        "users",
        {200: r.UserListSchema},
        (400, 401, 503),
        query=UserSearchQuerySchema,
        description="Public fields and online status only; LIKE wildcards are literal.",
    ),
    Op(
        "get",
        "/api/users/{userId}",
        "Another user's public profile",
        "users",
        {200: r.DirectoryUserSchema},
        (400, 401, 404, 503),
        path_schema=UserPathSchema,
    ),
    # -- rooms -------------------------------------------------------------------------
    Op(
        "get",
        "/api/rooms",
        "Public rooms, the caller's private rooms and invitations",
        "rooms",
        {200: r.RoomPageSchema},
        (400, 401, 503),
        query=RoomListQuerySchema,
    ),
    Op(
        "post",
        "/api/rooms",
        "Create a room (the caller owns it)",
        "rooms",
        {201: r.RoomSchema},
        (400, 401, 403, 409, 413, 429, 503),
        body=CreateRoomSchema,
        description="Public room names are unique (case-insensitively). Names are stored "
        "NFKC-normalised; invisible format characters (zero-width, bidi controls) are "
        "refused. Rate limited per user.",
        links=_ROOM_LINKS,
    ),
    Op(
        "get",
        "/api/rooms/{id}",
        "One room",
        "rooms",
        {200: r.RoomSchema},
        (400, 401, 404, 503),
        path_schema=RoomPathSchema,
    ),
    Op(
        "post",
        "/api/rooms/{id}/join",
        "Join a public room or a private room one is invited to",
        "rooms",
        {200: r.RoomSchema},
        (400, 401, 403, 404, 429, 503),
        path_schema=RoomPathSchema,
        description="Joins and leaves (REST and socket) are rate limited per user.",
    ),
    Op(
        "delete",
        "/api/rooms/{id}/leave",
        "Leave a room",
        "rooms",
        {204: None},
        (400, 401, 403, 404, 429, 503),
        path_schema=RoomPathSchema,
        description="The lobby and direct conversations cannot be left (403). Joins and "
        "leaves (REST and socket) are rate limited per user.",
    ),
    Op(
        "get",
        "/api/rooms/{id}/members",
        "Members with role, online status and last seen",
        "rooms",
        {200: r.MemberPageSchema},
        (400, 401, 404, 503),
        path_schema=RoomPathSchema,
        query=MemberListQuerySchema,
    ),
    Op(
        "post",
        "/api/rooms/{id}/invites",
        "Invite a user into a private room",
        "rooms",
        {201: r.InviteCreatedSchema, 200: r.InviteCreatedSchema},
        (400, 401, 403, 404, 409, 413, 429, 503),
        path_schema=RoomPathSchema,
        body=InviteSchema,
        description="Owners and admins only (403). Rate limited per user. 201 for a new "
        "invitation (the invitee gets `room_invite`), 200 when it already existed. 403 when "
        "the invitee blocked the caller (nothing stored). 409 for a room that is not "
        "private or a user who is already a member.",
    ),
    Op(
        "get",
        "/api/invites",
        "The private rooms the caller is invited to",
        "rooms",
        {200: r.InviteListSchema},
        (401, 503),
    ),
    Op(
        "get",
        "/api/rooms/{id}/reads",
        "How far each member has read",
        "rooms",
        {200: r.ReadPositionsSchema},
        (400, 401, 404, 503),
        path_schema=RoomPathSchema,
    ),
    # -- messages ----------------------------------------------------------------------
    Op(
        "get",
        "/api/rooms/{id}/messages",
        "A keyset page of a room's history",
        "messages",
        {200: r.MessagePageSchema},
        (400, 401, 403, 404, 503),
        path_schema=RoomPathSchema,
        query=HistoryQuerySchema,
        description="`before=SEQ` pages backwards (default: from the newest), `after=SEQ` "
        "forwards. Messages come in seq order.",
    ),
    Op(
        "post",
        "/api/rooms/{id}/messages",
        "Send a message (HTTP fallback of send_message)",
        "messages",
        {201: r.MessageEnvelopeSchema, 200: r.MessageEnvelopeSchema},
        (400, 401, 403, 404, 409, 413, 429, 503),
        path_schema=RoomPathSchema,
        body=PostMessageSchema,
        description="201 when stored; 200 with the original when `clientMsgId` was already "
        "used for this room (an idempotent retry). 403 in a public room not joined, or in a "
        "direct conversation whose other member blocked the caller. 409 when `messageType` "
        "does not fit the file (image for images, file for the rest). With `threadId` it is "
        "a reply: 404 when that is no message of the room, 409 when it is a reply itself "
        "or deleted; the root's new reply count is announced as `message_updated`.",
        links={"History": {"operationId": "getRoomMessages", "parameters": _MESSAGE_ROOM}},
    ),
    # -- messages that change (docs/contract.md §12) -----------------------------------
    Op(
        "patch",
        "/api/rooms/{id}/messages/{messageId}",
        "Edit one's own message (HTTP fallback of edit_message)",
        "messages",
        {200: r.ChangedMessageEnvelopeSchema},
        (400, 401, 403, 404, 409, 413, 429, 503),
        path_schema=MessagePathSchema,
        body=PatchMessageSchema,
        description="Same rules as sending (length, control characters). The earlier "
        "version is kept (`.../edits`), `editedAt` is set and the room gets "
        "`message_updated`. The same text again changes nothing. 403 for another's "
        "message, or when the caller may not post into the room; 404 for a room the caller "
        "may not see or a message not in it; 409 for a deleted message, or blank content "
        "for a text message (a file's caption may be empty). Counts against the "
        "`messages` rate limit.",
    ),
    Op(
        "delete",
        "/api/rooms/{id}/messages/{messageId}",
        "Delete a message (HTTP fallback of delete_message)",
        "messages",
        {200: r.ChangedMessageEnvelopeSchema},
        (400, 401, 403, 404, 503),
        path_schema=MessagePathSchema,
        description="For its author and the room's owners and admins. Answers the "
        "tombstone (`deletedAt` set, no text, file, reactions, pin or edit history); the "
        "room gets `message_updated`. Deleting again answers the tombstone unchanged.",
    ),
    Op(
        "get",
        "/api/rooms/{id}/messages/{messageId}/edits",
        "The earlier versions of a message",
        "messages",
        {200: r.MessageEditsSchema},
        (400, 401, 403, 404, 503),
        path_schema=MessagePathSchema,
        description="Oldest first, with the message as it is now; for whoever may read the "
        "room's history.",
    ),
    Op(
        "get",
        "/api/rooms/{id}/changes",
        "The room's change feed: messages changed after a change number",
        "messages",
        {200: r.ChangePageSchema},
        (400, 401, 403, 404, 503),
        path_schema=RoomPathSchema,
        query=ChangesQuerySchema,
        description="The current state of each message changed after `after`, once, in "
        "changeSeq order. Continue with `after=changeSeq` while `hasMore`.",
    ),
    # -- direct messages ---------------------------------------------------------------
    Op(
        "get",
        "/api/direct-messages",
        "The caller's conversations with unread counts",
        "direct messages",
        {200: r.ConversationListSchema},
        (401, 503),
    ),
    Op(
        "get",
        "/api/direct-messages/{userId}",
        "A keyset page of the conversation with a user",
        "direct messages",
        {200: r.DirectMessagePageSchema},
        (400, 401, 404, 503),
        path_schema=UserPathSchema,
        query=HistoryQuerySchema,
    ),
    Op(
        "post",
        "/api/direct-messages/{userId}",
        "Send a DM (HTTP fallback of send_dm)",
        "direct messages",
        {201: r.DirectMessageEnvelopeSchema, 200: r.DirectMessageEnvelopeSchema},
        (400, 401, 403, 404, 409, 413, 429, 503),
        path_schema=UserPathSchema,
        body=PostDirectMessageSchema,
        description="403 when the recipient blocked the caller, or is the caller. 409 "
        "when `messageType` does not fit the file.",
    ),
    Op(
        "post",
        "/api/users/{userId}/block",
        "Block a user's DMs",
        "direct messages",
        {204: None},
        (400, 401, 403, 404, 503),
        path_schema=UserPathSchema,
        description="Blocking yourself is a 403.",
    ),
    Op(
        "delete",
        "/api/users/{userId}/block",
        "Unblock a user",
        "direct messages",
        {204: None},
        (400, 401, 403, 404, 503),
        path_schema=UserPathSchema,
    ),
    # -- files -------------------------------------------------------------------------
    Op(
        "post",
        "/api/upload",
        "Upload a file (multipart, field `file`)",
        "files",
        {201: r.FileSchema},
        (400, 401, 403, 413, 415, 429, 503),
        multipart=True,
        description="At most 5 MB by default. JPEG, PNG, GIF, PDF or UTF-8 text, sniffed from "
        "the bytes and matching the file name's extension. Images are re-encoded.",
    ),
    Op(
        "get",
        "/api/files/{name}",
        "Download a file",
        "files",
        {200: "file"},
        (401, 404, 503),
        path_schema=FileNamePathSchema,
        description="For its uploader and the members of a room where it was posted; 404 "
        "for everyone else. Non-images are sent as attachments.",
    ),
    # -- operations --------------------------------------------------------------------
    Op("get", "/health/live", "Liveness", "operations", {200: r.HealthSchema}, auth=False),
    Op(
        "get",
        "/health/ready",
        "Readiness (database, Redis, listener, not draining)",
        "operations",
        {200: r.HealthSchema, 503: r.HealthSchema},
        auth=False,
    ),
    Op("get", "/metrics", "Prometheus metrics", "operations", {200: "text/plain"}, auth=False),
    Op("get", "/api/openapi.json", "This document", "contract", {200: "object"}, auth=False),
    Op(
        "get",
        "/api/events",
        "The Socket.IO event reference (HTML)",
        "contract",
        {200: "text/html"},
        auth=False,
    ),
    Op(
        "get",
        "/api/asyncapi.json",
        "The Socket.IO events as an AsyncAPI 3.0 document",
        "contract",
        {200: "object"},
        auth=False,
    ),
    # -- web UI ------------------------------------------------------------------------
    Op("get", "/", "The web client", "web UI", {200: "text/html"}, auth=False),
    Op(
        "get",
        "/static/vendor/{name}",
        "The Socket.IO browser client (from npm)",
        "web UI",
        {200: "text/javascript"},
        (404,),
        auth=False,
        path_schema=VendorPathSchema,
    ),
    # -- messages that change: reactions, pins, threads (docs/contract.md §12) -----------
    Op(
        "put",
        "/api/rooms/{id}/messages/{messageId}/reactions/{emoji}",
        "React to a message (idempotent; HTTP fallback of add_reaction)",
        "messages",
        {200: r.ChangedMessageEnvelopeSchema},
        (400, 401, 403, 404, 409, 503),
        path_schema=ReactionPathSchema,
        description="`emoji` is exactly one Unicode emoji, percent-encoded in the path "
        "(ZWJ sequences, skin tones and flags are one emoji; an unqualified one such as "
        "U+2764 is stored fully qualified, U+2764 U+FE0F); anything else is a 400. Answers "
        "the message's current state; reacting again changes nothing. The room gets "
        "`message_updated` when it changed. 403/404 as for sending (not a member, or "
        "blocked in the DM); 409 for a deleted message, or a 51st different emoji.",
    ),
    Op(
        "delete",
        "/api/rooms/{id}/messages/{messageId}/reactions/{emoji}",
        "Take one's reaction back (idempotent; HTTP fallback of remove_reaction)",
        "messages",
        {200: r.ChangedMessageEnvelopeSchema},
        (400, 401, 403, 404, 503),
        path_schema=ReactionPathSchema,
        description="Answers the message's current state; removing a reaction one does "
        "not have changes nothing. The room gets `message_updated` when it changed.",
    ),
    Op(
        "get",
        "/api/rooms/{id}/messages/{messageId}/thread",
        "A thread: its root and a page of replies",
        "messages",
        {200: r.ThreadPageSchema},
        (400, 401, 403, 404, 409, 503),
        path_schema=ThreadPathSchema,
        query=ThreadQuerySchema,
        description="For readers of the room. Replies after seq `after` in seq order. "
        "Reply with `POST /api/rooms/{id}/messages` and `threadId`. 404 when the message "
        "is not in the room; 409 when it is itself a reply (its `threadId` is the root).",
    ),
    Op(
        "get",
        "/api/rooms/{id}/pins",
        "A room's pinned messages, newest pin first",
        "messages",
        {200: r.MessageListSchema},
        (400, 401, 403, 404, 503),
        path_schema=RoomPathSchema,
        description="For readers of the room; at most 100 (a room holds no more). "
        "Deleted messages are not listed.",
    ),
    Op(
        "put",
        "/api/rooms/{id}/pins/{messageId}",
        "Pin a message (idempotent; HTTP fallback of pin_message)",
        "messages",
        {200: r.ChangedMessageEnvelopeSchema},
        (400, 401, 403, 404, 409, 503),
        path_schema=PinPathSchema,
        description="Members may pin. Answers the message's current state; the room gets "
        "`message_updated` when it changed. 409 for a deleted message, or when the room "
        "already holds 100 pinned messages.",
    ),
    Op(
        "delete",
        "/api/rooms/{id}/pins/{messageId}",
        "Unpin a message (idempotent; HTTP fallback of unpin_message)",
        "messages",
        {200: r.ChangedMessageEnvelopeSchema},
        (400, 401, 403, 404, 503),
        path_schema=PinPathSchema,
        description="Members may unpin. Answers the message's current state; the room "
        "gets `message_updated` when it changed.",
    ),
)

# -- building the documents ----------------------------------------------------------------


def _schema_name_resolver(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = _component_name(cls)
    _COMPONENT_CLASSES[name] = cls
    return name


def _component_name(cls: type[Schema]) -> str:
    name = cls.__name__.removeprefix("_").removesuffix("Schema")
    if cls.__module__ == r.__name__:
        return name
    if cls.__module__.startswith("schemas."):
        # Request bodies and payloads; response names stay short.
        return name + "Input" if name in _RESPONSE_NAMES else name
    return name


# Component name -> the marshmallow schema it was made from (filled by the resolver).
_COMPONENT_CLASSES: dict[str, type[Schema]] = {}


def _add_schema_rules(components: dict[str, Any]) -> None:
    """Add the cross-field rules of `schemas/` (`JSON_SCHEMA_RULES`: anyOf, oneOf, not...)
    that marshmallow fields cannot describe to their components."""
    for name, component in components.get("schemas", {}).items():
        rules = getattr(_COMPONENT_CLASSES.get(name), "JSON_SCHEMA_RULES", None)
        if rules:
            rules = {"allOf": [copy.deepcopy(rules)]}
            _close_branches(rules, list(component.get("properties", {})))
            component.update(rules)


def _close_branches(schema: dict[str, Any], names: list[str]) -> None:
    """Repeat `additionalProperties: false` (with the object's property names) in every
    anyOf/oneOf/allOf branch. The object is closed anyway; said again in each branch, a
    tool that looks at one branch alone knows it too: schemathesis 4.32 adds fields of
    earlier responses to a body and checks the result against a branch (the rules go
    under an allOf for the same reason)."""
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, ()):
            properties = branch.setdefault("properties", {})
            for name in names:
                properties.setdefault(name, {})
            branch["additionalProperties"] = False
            _close_branches(branch, names)


_RESPONSE_NAMES = {
    cls.__name__.removesuffix("Schema")
    for cls in vars(r).values()
    if isinstance(cls, type) and issubclass(cls, Schema)
}


# The text rules of schemas/common.py as JSON Schema patterns, so that the spec (and the
# clients and fuzzers generated from it) know them: no control characters (newline and tab
# allowed in free text), and for names at least one visible character.
def _text_rules(self: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """apispec attribute function: document the function validators of `schemas/`."""
    names = {getattr(v, "__name__", "") for v in field.validators}
    if "password_rules" in names:
        return {
            "minLength": PASSWORD_MIN_CHARS,
            # A character is at least one byte: the byte limit is also a length limit.
            "maxLength": PASSWORD_MAX_BYTES,
            "pattern": LINE_PATTERN,
            "description": f"{PASSWORD_MIN_CHARS} characters to {PASSWORD_MAX_BYTES} bytes "
            f"of UTF-8 (bcrypt's limit), no control characters. {SURROGATE_NOTE}",
        }
    if "pattern" in ret:
        return {}
    if "single_line" in names:
        pattern = NAME_PATTERN if "not_blank" in names else LINE_PATTERN
        if "no_format_chars" in names:
            pattern = VISIBLE_NAME_PATTERN
        return {"pattern": pattern, "description": SURROGATE_NOTE}
    if "no_control_chars" in names:
        return {"pattern": TEXT_PATTERN, "description": SURROGATE_NOTE}
    return {}


def _new_spec() -> APISpec:
    spec = _bare_spec()
    plugin = spec.plugins[0]
    assert isinstance(plugin, MarshmallowPlugin) and plugin.converter is not None
    plugin.converter.add_attribute_function(_text_rules)
    return spec


def _bare_spec() -> APISpec:
    return APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name_resolver)],
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
                "schema": {"$ref": f"#/components/schemas/{_component_name(op.query)}"},
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
            name = _component_name(query)
            _COMPONENT_CLASSES[name] = query
            spec.components.schema(name, schema=query)
    by_path: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        by_path.setdefault(op.path, {})[op.method] = _operation(op)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    _add_schema_rules(doc["components"])
    return doc


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(), headers={"Cache-Control": "no-cache"})
