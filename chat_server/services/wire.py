"""The wire format: public JSON shapes (camelCase, ISO-8601 UTC) of stored rows.

One place turns a database record into what REST responses, acks and events carry
(schemas/responses.py documents these shapes). It builds plain dicts and must not query,
authorise or emit anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def iso(ts: datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`, millisecond precision (what JS `Date` prints)."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A user as other users see them."""
    return {
        "id": str(row["id"]),
        "username": row["username"],
        "displayName": row.get("display_name"),
        "lastSeen": iso(row.get("last_seen_at")),
    }


def user_private(row: Mapping[str, Any]) -> dict[str, Any]:
    """A user as they see themselves (adds email and timestamps)."""
    return {
        **user_public(row),
        "email": row["email"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
    }


def message(row: Mapping[str, Any]) -> dict[str, Any]:
    """A message object of docs/contract.md §6."""
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "roomId": str(row["room_id"]),
        "seq": row["seq"],
        "userId": str(row["user_id"]) if row["user_id"] else None,
        "username": row["username"],
        "content": row["content"],
        "contentHtml": row["content_html"],
        "messageType": row["message_type"],
        "createdAt": iso(row["created_at"]),
    }
    if row["client_msg_id"] is not None:
        out["clientMsgId"] = row["client_msg_id"]
    if row["edited_at"] is not None:
        out["editedAt"] = iso(row["edited_at"])
    # Its state since it was sent (docs/contract.md §12): the room's change counter at its
    # latest change, reactions, thread, pin and tombstone.
    out["changeSeq"] = row.get("change_seq") or 0
    out["reactions"] = row.get("reactions") or []
    out["pinned"] = row.get("pinned_at") is not None
    if row.get("thread_id") is not None:
        out["threadId"] = str(row["thread_id"])
    if row.get("reply_count"):
        out["thread"] = {
            "replyCount": row["reply_count"],
            "lastReplyAt": iso(row["last_reply_at"]),
        }
    if row.get("deleted_at") is not None:
        out["deletedAt"] = iso(row["deleted_at"])
    if row["file_id"] is not None:
        out["fileId"] = str(row["file_id"])
        if row.get("file_stored_name"):
            out["file"] = file(
                {
                    "id": row["file_id"],
                    "stored_name": row["file_stored_name"],
                    "original_name": row["file_name"],
                    "mime_type": row["file_mime_type"],
                    "size_bytes": row["file_size"],
                    "width": row["file_width"],
                    "height": row["file_height"],
                    "thumbnail_name": row["file_thumbnail_name"],
                }
            )
    return out


FILES_URL = "/api/files/"


def file(row: Mapping[str, Any]) -> dict[str, Any]:
    """An uploaded file as the upload response and messages carry it."""
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "url": FILES_URL + row["stored_name"],
        "name": row["original_name"],
        "mimeType": row["mime_type"],
        "size": row["size_bytes"],
    }
    if row["width"] is not None:
        out["width"] = row["width"]
        out["height"] = row["height"]
    if row["thumbnail_name"]:
        out["thumbnailUrl"] = FILES_URL + row["thumbnail_name"]
    return out


def direct_message(row: Mapping[str, Any], recipient_id: str) -> dict[str, Any]:
    """A DM: the message object plus the seed's senderId, senderUsername, recipientId."""
    out = message(row)
    out["senderId"] = out["userId"]
    out["senderUsername"] = out["username"]
    out["recipientId"] = recipient_id
    return out


def changed_message(row: Mapping[str, Any]) -> dict[str, Any]:
    """A message as its changes carry it (`message_updated`, edit and delete answers, the
    change feed): in a direct room (`dm_recipient_id` set) with the DM fields too, so a
    client that replaces its copy by id keeps senderId/recipientId."""
    recipient = row.get("dm_recipient_id")
    if recipient is None:
        return message(row)
    return direct_message(row, str(recipient))


def room(row: Mapping[str, Any]) -> dict[str, Any]:
    """A room as listed and detailed over REST."""
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "isPrivate": row["is_private"],
        "kind": row["kind"],
        "createdBy": str(row["created_by"]) if row["created_by"] else None,
        "createdAt": iso(row["created_at"]),
        "lastSeq": row["last_seq"],
        # Where the room's change feed stands (docs/contract.md §12).
        "changeSeq": row.get("last_change_seq") or 0,
        "memberCount": row["member_count"],
    }
    for column, key in _ROOM_CALLER_FIELDS:
        if column in row:
            out[key] = row[column]
    return out


# Optional columns describing the caller's relation to a room.
_ROOM_CALLER_FIELDS = (
    ("is_member", "isMember"),
    ("is_invited", "isInvited"),
    ("role", "role"),
    ("unread_count", "unreadCount"),
)
