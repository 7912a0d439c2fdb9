"""A fake Slack Socket Mode server on loopback (websockets), for tests and the local sandbox.

It greets every connection with `hello`, sends the envelopes a test `push`es, and records the
app's acks. `FakeSlack.attach_socket(fake.url)` makes `apps.connections.open` hand out its URL.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import websockets
from websockets.asyncio.server import Server, ServerConnection, serve


def envelope(
    kind: str, payload: dict[str, Any], *, accepts_response_payload: bool | None = None
) -> dict[str, Any]:
    """A Socket Mode envelope: kind is `slash_commands`, `interactive` or `events_api`."""
    accepts = kind != "events_api" if accepts_response_payload is None else accepts_response_payload
    return {
        "envelope_id": uuid.uuid4().hex,
        "type": kind,
        "accepts_response_payload": accepts,
        "payload": payload,
    }


class FakeSocketMode:
    def __init__(self, *, app_id: str = "A111") -> None:
        self.app_id = app_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Condition()
        self._connections: list[ServerConnection] = []
        self._acks: list[dict[str, Any]] = []
        self._port = 0

    def start(self) -> FakeSocketMode:
        self._thread = threading.Thread(target=self._run, name="fake-socket-mode", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the Socket Mode fake did not start within 10 s")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None:

            async def close() -> None:
                server.close()
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = self._server = self._thread = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/link/?ticket=local"

    @property
    def acks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._acks)

    def wait_connected(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._connections:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no Socket Mode client connected within {timeout}s")
                self._lock.wait(min(left, 0.1))

    def push(self, message: dict[str, Any], timeout: float = 5.0) -> None:
        """Send an envelope (or a `disconnect`) to every connected client."""
        if self._loop is None:
            raise RuntimeError("FakeSocketMode is not started")
        self.wait_connected(timeout)
        text = json.dumps(message)

        async def send() -> None:
            for conn in list(self._connections):
                await conn.send(text)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(timeout=timeout)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for ack in self._acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout}s")
                self._lock.wait(min(left, 0.1))

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def begin() -> None:
            # The builtin client speaks no compression and answers pings itself.
            self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
            sock = next(iter(self._server.sockets))
            self._port = int(sock.getsockname()[1])
            self._ready.set()

        loop.run_until_complete(begin())
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _handle(self, conn: ServerConnection) -> None:
        with self._lock:
            self._connections.append(conn)
            self._lock.notify_all()
        try:
            hello = {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": self.app_id},
                "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 3600},
            }
            await conn.send(json.dumps(hello))
            async for raw in conn:
                try:
                    data = json.loads(raw)
                except (TypeError, ValueError):
                    continue  # not an ack; the real server ignores it too
                if isinstance(data, dict) and "envelope_id" in data:
                    with self._lock:
                        self._acks.append(data)
                        self._lock.notify_all()
        except websockets.ConnectionClosed:
            pass  # the builtin client closes without a close frame
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
