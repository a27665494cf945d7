"""schemas/: the validation rules every REST body and socket payload goes through."""

from __future__ import annotations

import uuid

import pytest

from chat_server.errors import ValidationFailed
from schemas import load
from schemas.auth import (
    AuthenticateSchema,
    LoginSchema,
    RefreshSchema,
    RegisterSchema,
    UpdateMeSchema,
)
from schemas.messages import HistoryQuerySchema, PostMessageSchema, SendMessageSchema, SyncSchema

ROOM = str(uuid.uuid4())


def ok(schema, data):
    return load(schema, data)


def fails(schema, data) -> dict:
    """Load must fail with the public validation error; returns its `fields`."""
    with pytest.raises(ValidationFailed) as info:
        load(schema, data)
    err = info.value
    assert err.code == "validation_error"
    assert err.status == 400
    body = err.to_dict()
    assert set(body) <= {"code", "message", "fields"}
    return err.fields or {}


def register(**overrides):
    data = {"email": "alice@example.test", "username": "alice", "password": "correct horse"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# -- usernames ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "a" * 50, "Alice_99", "___", "ABC", "123"])
def test_valid_usernames(name):
    assert ok(RegisterSchema(), register(username=name))["username"] == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 51,  # too long
        "",
        "bad-name",
        "bad name",
        "bad.name",
        "alice\n",  # `$` must not let a trailing newline through
        "\nalice",
        "alice\t",
        "ålice",
        "名前です",
        "alice\x00",
        "ali\u200bce",  # zero-width space
    ],
)
def test_invalid_usernames(name):
    assert "username" in fails(RegisterSchema(), register(username=name))


def test_username_must_be_a_string():
    assert "username" in fails(RegisterSchema(), register(username=12345))


# -- passwords ----------------------------------------------------------------------------


def test_password_length_bounds_in_bytes():
    assert ok(RegisterSchema(), register(password="x" * 8))
    assert ok(RegisterSchema(), register(password="x" * 72))
    assert "password" in fails(RegisterSchema(), register(password="x" * 7))
    assert "password" in fails(RegisterSchema(), register(password="x" * 73))


def test_multibyte_password_counted_in_utf8_bytes():
    pw72 = "é" * 36  # 36 characters, 72 bytes
    assert ok(RegisterSchema(), register(password=pw72))["password"] == pw72
    pw73 = pw72 + "a"  # 37 characters, 73 bytes
    assert "password" in fails(RegisterSchema(), register(password=pw73))
    emoji = "🔑" * 18  # 72 bytes
    assert ok(RegisterSchema(), register(password=emoji))
    assert "password" in fails(RegisterSchema(), register(password=emoji + "🔑"))


@pytest.mark.parametrize("pw", ["pass\x00word", "pass\x07word", "password\ud800", "pass\nword12"])
def test_password_control_characters_and_surrogates_refused(pw):
    assert "password" in fails(RegisterSchema(), register(password=pw))


def test_password_missing():
    fields = fails(RegisterSchema(), register(password=None))
    assert fields["password"] == ["Missing data for required field."]


# -- email --------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["alice@example.com", "A.B+tag@sub.example.org"])
def test_valid_emails(email):
    assert ok(RegisterSchema(), register(email=email))["email"] == email


@pytest.mark.parametrize(
    "email",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "a b@example.com",
        "alice@example.com\n",
        "x" * 250 + "@example.com",
        42,
    ],
)
def test_invalid_emails(email):
    assert "email" in fails(RegisterSchema(), register(email=email))


# -- message content ----------------------------------------------------------------------


def send(**overrides):
    data = {"roomId": ROOM, "content": "hello"}
    data.update(overrides)
    return data


def test_content_length_bounds():
    assert ok(SendMessageSchema(), send(content="a"))["content"] == "a"
    assert ok(SendMessageSchema(), send(content="a" * 5000))["content"] == "a" * 5000
    assert "content" in fails(SendMessageSchema(), send(content=""))
    assert "content" in fails(SendMessageSchema(), send(content="a" * 5001))


def test_content_length_counts_characters_not_bytes():
    content = "é" * 5000  # 10000 bytes, 5000 characters
    assert ok(SendMessageSchema(), send(content=content))["content"] == content


def test_content_kept_exactly_as_sent():
    content = "  **hi**\n\tthere <b>x</b> & 'quotes' \"dq\" 🙂  "
    assert ok(SendMessageSchema(), send(content=content))["content"] == content


@pytest.mark.parametrize("content", ["line one\nline two", "col1\tcol2", "\ttabbed", "a\n\n\nb"])
def test_newline_and_tab_allowed(content):
    assert ok(SendMessageSchema(), send(content=content))["content"] == content


@pytest.mark.parametrize(
    "content",
    [
        "a\x00b",
        "\x00",
        "bell\x07",
        "esc\x1b[31mred",
        "cr\r",
        "del\x7f",
        "c1\x85",
        "vt\x0b",
        "ff\x0c",
    ],
)
def test_control_characters_refused(content):
    assert "content" in fails(SendMessageSchema(), send(content=content))


@pytest.mark.parametrize("content", ["\ud800", "a\udfffb", "x\udc00"])
def test_lone_surrogates_refused(content):
    assert "content" in fails(SendMessageSchema(), send(content=content))


def test_paired_astral_characters_allowed():
    assert ok(SendMessageSchema(), send(content="😀𝄞"))["content"] == "😀𝄞"


@pytest.mark.parametrize("content", [" ", "   ", "\n", "\t\n  \n", "\u3000"])
def test_whitespace_only_refused(content):
    assert "content" in fails(SendMessageSchema(), send(content=content))


@pytest.mark.parametrize("content", [None, 5, ["a"], {"a": 1}, True])
def test_content_wrong_type_refused(content):
    assert "content" in fails(SendMessageSchema(), send(content=content))


def test_message_type_only_text():
    assert ok(SendMessageSchema(), send())["message_type"] == "text"
    assert "messageType" in fails(SendMessageSchema(), send(messageType="system"))


def test_room_id_must_be_a_uuid():
    assert ok(SendMessageSchema(), send())["room_id"] == uuid.UUID(ROOM)
    for bad in ("lobby", "", 1, None, ROOM + "0"):
        assert "roomId" in fails(SendMessageSchema(), send(roomId=bad))


def test_client_msg_id_rules():
    assert ok(SendMessageSchema(), send())["client_msg_id"] is None
    assert ok(SendMessageSchema(), send(clientMsgId="c" * 64))["client_msg_id"] == "c" * 64
    for bad in ("", "c" * 65, "a\x00", 7):
        assert "clientMsgId" in fails(SendMessageSchema(), send(clientMsgId=bad))


def test_post_message_takes_the_room_from_the_url():
    assert "room_id" not in ok(PostMessageSchema(), {"content": "hi"})
    assert "roomId" in fails(PostMessageSchema(), {"content": "hi", "roomId": ROOM})


# -- unknown fields, field names, shape -----------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (RegisterSchema(), register(isAdmin=True)),
        (LoginSchema(), {"email": "a@b.co", "password": "x", "remember": True}),
        (SendMessageSchema(), send(userId=str(uuid.uuid4()))),
        (UpdateMeSchema(), {"passwordHash": "x"}),
        (RefreshSchema(), {"refreshToken": "abc", "extra": 1}),
        (AuthenticateSchema(), {"token": "abc", "extra": 1}),
        (SyncSchema(), {"rooms": {}, "extra": 1}),
    ],
)
def test_unknown_fields_refused(schema, data):
    fields = fails(schema, data)
    assert any(msg == ["Unknown field."] for msg in fields.values()), fields


def test_snake_case_names_are_unknown_on_the_wire():
    fields = fails(SendMessageSchema(), {"room_id": ROOM, "content": "hi"})
    assert fields["room_id"] == ["Unknown field."]
    assert "roomId" in fields


def test_error_fields_are_camel_case():
    fields = fails(
        SendMessageSchema(), {"clientMsgId": "", "messageType": "x", "content": "c" * 5001}
    )
    assert {"roomId", "content", "clientMsgId", "messageType"} <= set(fields)
    assert not {"room_id", "client_msg_id", "message_type"} & set(fields)
    fields = fails(UpdateMeSchema(), {"displayName": 5, "currentPassword": 3})
    assert set(fields) == {"displayName", "currentPassword"}


def test_data_comes_back_snake_case():
    data = ok(
        UpdateMeSchema(),
        {"displayName": "Al", "currentPassword": "old password", "password": "new password"},
    )
    assert data == {
        "display_name": "Al",
        "current_password": "old password",
        "password": "new password",
    }


@pytest.mark.parametrize("data", [[], [1, 2], "text", 3, None, True])
def test_non_object_payloads_refused(data):
    assert "_schema" in fails(SendMessageSchema(), data)


# -- login, update -------------------------------------------------------------------------


def test_login_by_email_or_username():
    by_email = ok(LoginSchema(), {"email": "a@b.co", "password": "pw"})
    assert LoginSchema.identifier(by_email) == "a@b.co"
    by_name = ok(LoginSchema(), {"username": "alice", "password": "pw"})
    assert LoginSchema.identifier(by_name) == "alice"
    assert "password" in fails(LoginSchema(), {"email": "a@b.co"})
    assert "email" in fails(LoginSchema(), {"email": "a@b.co\n", "password": "pw"})


def test_update_me_rules():
    # Nothing to change is refused; a new password needs the current one.
    assert "_schema" in fails(UpdateMeSchema(), {})
    assert "_schema" in fails(UpdateMeSchema(), {"currentPassword": "old password"})
    assert "currentPassword" in fails(UpdateMeSchema(), {"password": "new password"})
    assert ok(UpdateMeSchema(), {"displayName": None}) == {"display_name": None}
    assert "displayName" in fails(UpdateMeSchema(), {"displayName": "x" * 101})
    assert "displayName" in fails(UpdateMeSchema(), {"displayName": "two\nlines"})
    assert "username" in fails(UpdateMeSchema(), {"username": "no"})
    assert "username" in fails(UpdateMeSchema(), {"username": "alice\n"})
    assert "password" in fails(UpdateMeSchema(), {"password": "short"})
    assert "email" in fails(UpdateMeSchema(), {"email": "nope"})


# -- history query and sync ------------------------------------------------------------------


def test_history_query():
    assert ok(HistoryQuerySchema(), {}) == {"limit": 50}
    assert ok(HistoryQuerySchema(), {"before": "10", "limit": "5"}) == {"before": 10, "limit": 5}
    assert ok(HistoryQuerySchema(), {"after": "0"}) == {"after": 0, "limit": 50}
    assert ok(HistoryQuerySchema(), {"limit": "100"})["limit"] == 100
    assert "_schema" in fails(HistoryQuerySchema(), {"before": "10", "after": "2"})
    for bad in ("0", "101", "abc", "-1", "1.5", ""):
        assert "limit" in fails(HistoryQuerySchema(), {"limit": bad})
    assert "before" in fails(HistoryQuerySchema(), {"before": "0"})
    assert "after" in fails(HistoryQuerySchema(), {"after": "-1"})
    assert "before" in fails(HistoryQuerySchema(), {"before": str(2**63)})


def test_sync_accepts_integer_seqs():
    room = uuid.uuid4()
    assert ok(SyncSchema(), {"rooms": {str(room): 5}}) == {"rooms": {room: 5}}
    assert ok(SyncSchema(), {"rooms": {}}) == {"rooms": {}}


@pytest.mark.parametrize("seq", ["5", 5.0, 5.5, True, False, None, -1, [5], 2**63])
def test_sync_seq_must_be_a_strict_non_negative_integer(seq):
    assert "rooms" in fails(SyncSchema(), {"rooms": {ROOM: seq}})


def test_sync_room_keys_must_be_uuids():
    assert "rooms" in fails(SyncSchema(), {"rooms": {"lobby": 1}})
    assert "rooms" in fails(SyncSchema(), {})
    assert "rooms" in fails(SyncSchema(), {"rooms": [ROOM]})


def test_sync_room_count_bounded():
    many = {str(uuid.uuid4()): 0 for _ in range(501)}
    assert "rooms" in fails(SyncSchema(), {"rooms": many})
