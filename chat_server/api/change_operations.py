"""The REST operations of messages that change (docs/contract.md §12): edits, deletions,
edit history, the change feed, reactions, pins and threads.

Owns: their rows of the operation table, in the same `Op` form as api/operations.py (the
rest of the API); api/openapi.py joins both into `OPERATIONS`. Replies are sent with
`POST /api/rooms/{id}/messages` (api/operations.py).
Must not: build the document or hold rules (schemas in `schemas/`, behaviour in the
services).
"""

from __future__ import annotations

from chat_server.api.operations import Op
from schemas import responses as r
from schemas.changes import ChangesQuerySchema, MessagePathSchema, PatchMessageSchema
from schemas.reactions import (
    PinPathSchema,
    ReactionPathSchema,
    ThreadPathSchema,
    ThreadQuerySchema,
)
from schemas.rooms import RoomPathSchema

MESSAGE_CHANGE_OPERATIONS: tuple[Op, ...] = (
    # -- edits, deletions and the change feed ----------------------------------------
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
