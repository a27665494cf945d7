"""`GET /api/emoji`: every emoji with its English name, for the web client's reaction picker.

The picker searches emoji by name ("party", "thumbs"), and names are data, not code: they
come from the `emoji` package (Unicode's CLDR names, the list the server's reaction check
uses too), built once per process into one JSON body. The list is the same for everyone
and changes only with the package, so it is public and browsers keep it for a day.
Skin-tone variants are left out (the picker offers the base emoji) and so are
non-fully-qualified spellings, keeping the body small.
"""

from __future__ import annotations

import functools

import emoji as emoji_data
import orjson
from aiohttp import web

routes = web.RouteTableDef()

# The list changes only when the server's `emoji` package is upgraded: a day is short
# enough for that, and long enough that a client fetches it about once per day.
EMOJI_CACHE_CONTROL = "public, max-age=86400"
_FULLY_QUALIFIED = emoji_data.STATUS["fully_qualified"]


def _name(cldr: str) -> str:
    """':thumbs_up:' -> 'thumbs up'."""
    return cldr.strip(":").replace("_", " ").lower()


@functools.cache
def emoji_body() -> bytes:
    """The response body, built once: {"emoji": [{"emoji", "name"}, ...]}."""
    entries = [
        {"emoji": char, "name": _name(data["en"])}
        for char, data in emoji_data.EMOJI_DATA.items()
        if data.get("status") == _FULLY_QUALIFIED and "skin_tone" not in data["en"]
    ]
    return orjson.dumps({"emoji": entries})


@routes.get("/api/emoji")
async def list_emoji(request: web.Request) -> web.Response:
    """Every emoji the picker can offer, with its name to search by."""
    return web.Response(
        body=emoji_body(),
        content_type="application/json",
        headers={"Cache-Control": EMOJI_CACHE_CONTROL},
    )
