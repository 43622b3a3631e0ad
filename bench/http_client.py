"""A minimal keep-alive HTTP/1.1 client on asyncio streams: cheap enough that the load generator does not
compete with the server for the CPU the way a full client library would."""

from __future__ import annotations

import asyncio
import time

import orjson


class Connection:
    def __init__(self, host: str, port: int, api_key: str | None = None) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def post(self, path: str, body: bytes) -> tuple[int, bytes, float]:
        assert self.reader is not None and self.writer is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n{self.auth}"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        start = time.perf_counter()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        payload = await self.reader.readexactly(length)
        return status, payload, (time.perf_counter() - start) * 1000.0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def dumps(obj: object) -> bytes:
    return orjson.dumps(obj)
