"""`GET /api/emoji`: the names the web client's reaction picker searches by."""

from __future__ import annotations

import emoji as emoji_data

from schemas.responses import EmojiListSchema


async def test_emoji_list_is_public_named_and_cached(server, http):
    # No session: the list is the same for everyone (the picker may load before sign-in).
    async with http.get(f"{server.url}/api/emoji") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Cache-Control"] == "public, max-age=86400"
        body = await resp.json()
    # The shape the OpenAPI document gives it (GET /api/emoji in api/openapi.py).
    assert EmojiListSchema().validate(body) == {}
    names = {e["emoji"]: e["name"] for e in body["emoji"]}
    # Searchable English names, as the picker's search expects them.
    assert names["👍"] == "thumbs up"
    assert names["🎉"] == "party popper"
    assert names["❤️"] == "red heart"
    # Every entry is one emoji the server recognises; no skin-tone variants.
    assert all(emoji_data.is_emoji(e) for e in names)
    assert "👍🏽" not in names
    assert all("skin tone" not in n for n in names.values())
    assert len(names) == len(body["emoji"]) > 1000
