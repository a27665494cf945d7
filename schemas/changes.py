"""Messages that change (docs/contract.md §12): editing, deleting, edit history, change feed.

An edit carries only the new text: unknown fields (a `fileId` among them) are refused, so
an edit can never attach a file, least of all someone else's (issue 16, item 4).
"""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import CamelSchema
from schemas.messages import SEQ_MAX, content_field

# One page of the change feed, as one `sync` page: bounded work per request.
CHANGES_DEFAULT_LIMIT = 100
CHANGES_MAX_LIMIT = 100


class MessagePathSchema(CamelSchema):
    """/api/rooms/{id}/messages/{messageId}[/...]"""

    id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)


class PatchMessageSchema(CamelSchema):
    """`PATCH /api/rooms/:id/messages/:messageId`: the new text, as sending checks it."""

    content = content_field(required=True)


class EditMessageSchema(PatchMessageSchema):
    """Socket `edit_message` {roomId, messageId, content}."""

    room_id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)


class DeleteMessageSchema(CamelSchema):
    """Socket `delete_message` {roomId, messageId}."""

    room_id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)


class ChangesQuerySchema(CamelSchema):
    """`GET /api/rooms/:id/changes?after=CHANGESEQ&limit=N`."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=SEQ_MAX))
    limit = fields.Integer(
        load_default=CHANGES_DEFAULT_LIMIT, validate=validate.Range(min=1, max=CHANGES_MAX_LIMIT)
    )
