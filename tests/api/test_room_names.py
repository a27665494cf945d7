"""Room names that look alike must not be two rooms (issue 14, item 13): names are
normalised (NFKC) before they are stored and compared, and invisible format characters
(zero-width, bidi controls, fillers) are refused; descriptions refuse bidi controls."""

from __future__ import annotations

import pytest

from tests.chat_helpers import api, create_room
from tests.conftest import unique_name

# Invisible or reordering characters that made "lobby" and a look-alike two rooms.
FULL_WIDTH_LOBBY = "\uff4c\uff4f\uff42\uff42\uff59"
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first strong isolate": "\u2068",
    "pop directional isolate": "\u2069",
    "hangul filler": "\u3164",
    "variation selector": "\ufe0f",
    "combining grapheme joiner": "\u034f",
    "tag character": "\U000e0041",
    "line separator": "\u2028",
}


def _refused_name(status: int, body: dict) -> None:
    assert status == 400, body
    assert body["error"]["code"] == "validation_error", body
    assert "name" in body["error"]["fields"], body


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
async def test_names_with_invisible_characters_are_refused(server, http, register, char):
    user = await register(server)
    names = [f"lob{char}by", f"x{char}{unique_name('r')}"]
    if not char.isspace():  # (leading and trailing white space is trimmed instead)
        names += [f"{char}lobby", f"lobby{char}", f"{char}{unique_name('r')}"]
    for name in names:
        for private in (False, True):
            status, body = await api(
                http, server, "POST", "/api/rooms", user, json={"name": name, "isPrivate": private}
            )
            _refused_name(status, body)


async def test_bidi_variants_of_a_taken_name_are_refused(server, http, register):
    owner, other = await register(server), await register(server)
    name = unique_name("general")
    await create_room(http, server, owner, name)
    for spoof in (
        f"\u202e{name[::-1]}\u202c",  # displays as `name`
        f"\u2067{name}\u2069",
        f"\u200f{name}",
        f"{name}\u200b",
    ):
        status, body = await api(http, server, "POST", "/api/rooms", other, json={"name": spoof})
        assert status in (400, 409), body
    status, body = await api(http, server, "GET", "/api/rooms", other, params={"search": name})
    assert status == 200, body
    assert [r["name"] for r in body["rooms"]] == [name]


async def test_names_are_normalised_before_they_are_compared(server, http, register):
    owner, other = await register(server), await register(server)
    # Full-width letters are the lobby: NFKC folds them to ASCII.
    status, body = await api(
        http, server, "POST", "/api/rooms", other, json={"name": FULL_WIDTH_LOBBY}
    )
    assert status == 409, body
    assert body["error"]["code"] == "conflict"

    base = unique_name("cafe")
    composed = await create_room(http, server, owner, f"{base}\u00e9")
    assert composed["name"] == f"{base}\u00e9"
    for variant in (f"{base}e\u0301", f"{base.upper()}E\u0301"):  # decomposed é, any case
        status, body = await api(http, server, "POST", "/api/rooms", other, json={"name": variant})
        assert status == 409, (variant, body)

    # The stored name is the normalised one.
    tag = unique_name("w")
    room = await create_room(http, server, owner, f"\uff37ide {tag}\u3000")
    assert room["name"] == f"Wide {tag}"
    # Searching with full-width letters finds it too.
    status, body = await api(
        http, server, "GET", "/api/rooms", other, params={"search": f"\uff37ide {tag}"}
    )
    assert status == 200, body
    assert [r["id"] for r in body["rooms"]] == [room["id"]]


async def test_emoji_keep_their_presentation_selector_but_not_joiners(server, http, register):
    """A variation selector right after an emoji is part of it, not a spoof. The zero-width
    joiner is refused in names everywhere (emoji sequences included): the OpenAPI document
    states the rule as a character class (no Cf), which cannot allow it only between two
    emoji, and the document says exactly what the server accepts."""
    user = await register(server)
    for emoji in ("\u2764\ufe0f", "\U0001f469\U0001f3fd"):  # red heart; woman, skin tone
        name = f"{emoji} {unique_name('team')}"
        room = await create_room(http, server, user, name)
        assert room["name"] == name
    status, body = await api(
        http,
        server,
        "POST",
        "/api/rooms",
        user,
        json={"name": f"\U0001f469\u200d\U0001f4bb {unique_name('team')}"},
    )
    assert status == 400 and "name" in body["error"]["fields"], body


async def test_descriptions_refuse_bidi_controls_but_keep_marks(server, http, register):
    user = await register(server)
    for bad in ("safe \u202egnp.exe", "\u2066isolated\u2069", "x\u202ay\u202c"):
        status, body = await api(
            http,
            server,
            "POST",
            "/api/rooms",
            user,
            json={"name": unique_name("d"), "description": bad},
        )
        assert status == 400, body
        assert "description" in body["error"]["fields"], body
    # Marks and joiners that scripts need stay allowed in free text.
    text = "\u05e9\u05dc\u05d5\u05dd\u200f (hello) \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    room = await create_room(http, server, user, unique_name("d"), description=text)
    assert room["description"] == text
