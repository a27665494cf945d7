"""The REST operation table: every route of the API described once (issue 15).

Owns: `OPERATIONS` (method, path, summary, tag, success and error responses, the path,
query and body schemas the views validate with, links between operations) and the small
path schemas only the document needs. `api/openapi.py` builds `GET /api/openapi.json` from
it; tests/security/test_openapi.py checks that every registered route is here.
Must not: build the document or know apispec (openapi.py does), or hold rules: schemas live
in `schemas/`, behaviour in the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields

from schemas import responses as r
from schemas.auth import (
    LoginSchema,
    RefreshSchema,
    RegisterSchema,
    UpdateMeSchema,
    UserSearchQuerySchema,
)
from schemas.common import CamelSchema
from schemas.messages import (
    HistoryQuerySchema,
    PostDirectMessageSchema,
    PostMessageSchema,
)
from schemas.rooms import (
    CreateRoomSchema,
    InviteSchema,
    MemberListQuerySchema,
    RoomListQuerySchema,
    RoomPathSchema,
    UserPathSchema,
)

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

# Every route but the message-change ones (api/change_operations.py); api/openapi.py joins
# the two into OPERATIONS.
CORE_OPERATIONS: tuple[Op, ...] = (
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
        "/api/emoji",
        "Every emoji with its English name (the reaction picker's search)",
        "web UI",
        {200: r.EmojiListSchema},
        auth=False,
        description="Fully-qualified emoji without skin-tone variants, named as in Unicode "
        "CLDR (`thumbs up`). The same for everyone; cached by browsers for a day.",
    ),
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
)
