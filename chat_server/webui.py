"""The web UI's routes: `/` (the single-page client), `/static/` and the vendored
Socket.IO browser client.

The client library ships inside the package, in `static/vendor/`: a copy of the npm
package `socket.io-client` at the version `package-lock.json` pins (with its licence;
tests/test_vendored_client.py keeps the two equal), so an installed wheel serves a
working UI with no checkout and no Node.js.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
# The only vendored files served: the client's ES module build and its source map.
VENDOR_FILES = frozenset({"socket.io.esm.min.js", "socket.io.esm.min.js.map"})


def vendor_file(name: str) -> Path | None:
    """Where a served vendored file is, if `name` is one and it is present."""
    if name not in VENDOR_FILES:
        return None
    path = VENDOR_DIR / name
    return path if path.is_file() else None


def add_routes(app: web.Application) -> None:
    """Serve the UI when its files are present (they ship inside the package)."""
    if not (STATIC_DIR / "index.html").exists():
        return
    app.router.add_get("/", _index)
    # Registered before the /static/ prefix so that it wins for /static/vendor/*.
    app.router.add_get("/static/vendor/{name}", _vendor)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    app.on_response_prepare.append(_revalidate_static)


async def _revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    """Asset URLs carry no version: browsers revalidate them (a cheap 304) on every load,
    so a deploy never leaves a tab running yesterday's JavaScript against today's API."""
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")


async def _index(request: web.Request) -> web.FileResponse:
    # The page is tiny and names its assets without versions: always revalidate.
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _vendor(request: web.Request) -> web.StreamResponse:
    path = vendor_file(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    content_type = "application/json" if path.name.endswith(".map") else "text/javascript"
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
    )
