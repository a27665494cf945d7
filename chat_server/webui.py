"""The web UI's routes: `/` (the single-page client), `/static/` and the vendored
Socket.IO browser client.

The client library is not copied into the repository: it comes from npm
(`package.json`, installed by `scripts/setup.sh` with `npm ci`) and is served from the
repo's `node_modules`. A deployment without a source checkout (e.g. a container image)
can instead copy the file to `chat_server/static/vendor/`, which is looked at first.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
SOCKET_IO_DIST = NODE_MODULES / "socket.io-client" / "dist"
# The only files served from node_modules: the client build and its source map.
VENDOR_FILES = frozenset(
    {
        "socket.io.esm.min.js",
        "socket.io.esm.min.js.map",
        "socket.io.min.js",
        "socket.io.min.js.map",
    }
)
MISSING_CLIENT = (
    "The Socket.IO browser client is not installed: run `npm ci` in the repository "
    "(scripts/setup.sh does it), or copy socket.io-client/dist/{name} to "
    "chat_server/static/vendor/.\n"
)


def vendor_file(name: str) -> Path | None:
    """Where a vendored client file is, if it is installed."""
    if name not in VENDOR_FILES:
        return None
    for base in (STATIC_DIR / "vendor", SOCKET_IO_DIST):
        path = base / name
        if path.is_file():
            return path
    return None


def add_routes(app: web.Application) -> None:
    """Serve the UI when its files are present (they ship inside the package)."""
    if not (STATIC_DIR / "index.html").exists():
        return
    if vendor_file("socket.io.esm.min.js") is None:
        hint = MISSING_CLIENT.format(name="socket.io.esm.min.js")
        log.warning("socketio_client_missing", hint=hint)
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
    name = request.match_info["name"]
    path = vendor_file(name)
    if path is None:
        if name in VENDOR_FILES:
            return web.Response(status=404, text=MISSING_CLIENT.format(name=name))
        raise web.HTTPNotFound()
    content_type = "application/json" if name.endswith(".map") else "text/javascript"
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
    )
