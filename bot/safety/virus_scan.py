"""Scan files with clamd (ClamAV's daemon) before they are decoded.

clamd's INSTREAM command takes the file as chunks, each prefixed with its length
as a 4-byte big-endian integer, ended by a zero-length chunk; it answers
`stream: OK` or `stream: <signature> FOUND`.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str | None = None


class ScannerUnavailable(Exception):
    """clamd could not be reached or gave an answer we do not understand."""


class VirusScanner(Protocol):
    async def scan(self, data: bytes) -> ScanResult: ...


class ClamdScanner:
    """Talks to clamd over TCP (`host:port`) or a Unix socket (a path starting with `/`).

    Args:
        address: where clamd listens (`CLAMD_ADDRESS`).
        timeout: seconds for the whole scan.
    """

    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        self._address = address
        self._timeout = timeout

    async def scan(self, data: bytes) -> ScanResult:
        try:
            reply = await asyncio.wait_for(self._instream(data), timeout=self._timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise ScannerUnavailable(f"clamd at {self._address}: {type(error).__name__}") from error
        answer = reply.decode("utf-8", "replace").strip("\0\n ")
        if answer.endswith(" OK"):
            return ScanResult(clean=True)
        if answer.endswith(" FOUND"):
            signature = answer.removeprefix("stream:").removesuffix("FOUND").strip()
            return ScanResult(clean=False, signature=signature)
        raise ScannerUnavailable(f"clamd at {self._address} answered {answer[:80]!r}")

    async def version(self) -> str:
        """clamd's `VERSION` answer (engine and signature database); raises `ScannerUnavailable`.

        https://docs.clamav.net/manual/Usage/Scanning.html#clamd (VERSION, z-prefixed commands)
        """
        try:
            reader, writer = await asyncio.wait_for(self._connect(), timeout=self._timeout)
            try:
                writer.write(b"zVERSION\0")
                await writer.drain()
                reply = await asyncio.wait_for(reader.readuntil(b"\0"), timeout=self._timeout)
            finally:
                writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise ScannerUnavailable(f"clamd at {self._address}: {type(error).__name__}") from error
        return reply.decode("utf-8", "replace").strip("\0\n ")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._address.startswith("/"):
            return await asyncio.open_unix_connection(self._address)
        host, _, port = self._address.rpartition(":")
        return await asyncio.open_connection(host or "127.0.0.1", int(port))

    async def _instream(self, data: bytes) -> bytes:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            for start in range(0, len(data), _CHUNK):
                chunk = data[start : start + _CHUNK]
                writer.write(struct.pack("!L", len(chunk)) + chunk)
                await writer.drain()
            writer.write(struct.pack("!L", 0))
            await writer.drain()
            return await reader.readuntil(b"\0")
        finally:
            writer.close()
