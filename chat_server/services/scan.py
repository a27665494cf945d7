"""Optional malware scanning through ClamAV's clamd (off unless CLAMD_ADDRESS is set).

Speaks clamd's INSTREAM command over a Unix socket (`/run/clamav/clamd.ctl`) or TCP
(`host:port`). A file clamd reports as infected (`... FOUND`) is refused with 415; when
clamd cannot be reached or gives no verdict (`... ERROR`, no reply) the upload is refused
too, with 503 (fail closed), because an operator who configured scanning relies on it.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import structlog

from chat_server.errors import Unavailable, UnsupportedMediaType

log = structlog.get_logger(__name__)

# clamd's default StreamMaxLength is 25 MB; we send 64-KB chunks.
_CHUNK = 64 * 1024
# A scan of a 5-MB file takes well under a second; past this clamd is considered down.
SCAN_TIMEOUT_S = 30.0


class MalwareScanner:
    def __init__(self, address: str):
        self._address = address

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if ":" in self._address and not self._address.startswith("/"):
            host, _, port = self._address.rpartition(":")
            return await asyncio.open_connection(host, int(port))
        return await asyncio.open_unix_connection(self._address)

    async def check(self, path: Path) -> None:
        """Raise UnsupportedMediaType if clamd finds something, Unavailable if it can't say."""
        try:
            async with asyncio.timeout(SCAN_TIMEOUT_S):
                reader, writer = await self._open()
                try:
                    writer.write(b"zINSTREAM\0")
                    with path.open("rb") as fh:
                        while chunk := fh.read(_CHUNK):
                            writer.write(struct.pack(">I", len(chunk)) + chunk)
                            await writer.drain()
                    writer.write(struct.pack(">I", 0))
                    await writer.drain()
                    try:
                        raw = await reader.readuntil(b"\0")
                    except asyncio.IncompleteReadError as exc:
                        raw = exc.partial  # closed without the terminator
                    except asyncio.LimitOverrunError:
                        raw = b""  # not a clamd reply: no verdict
                    reply = raw.rstrip(b"\0").decode(errors="replace").strip()
                finally:
                    writer.close()
        except (OSError, TimeoutError) as exc:
            log.error("malware_scan_unavailable", error=str(exc))
            raise Unavailable("File scanning is unavailable, try again later") from exc
        if reply.endswith(" OK"):
            return
        if reply.endswith(" FOUND"):
            log.warning("malware_scan_rejected", reply=reply)
            raise UnsupportedMediaType("The file was rejected by the malware scanner")
        # Anything else (`... ERROR`, an empty or cut-off reply) is no verdict: fail closed,
        # but as "try again", not as a judgement on the file.
        log.error("malware_scan_failed", reply=reply)
        raise Unavailable("File scanning is unavailable, try again later")
