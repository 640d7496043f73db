"""A real TCP load balancer on loopback for the multi-node tests: round robin over the backends,
one backend per client connection (a layer-4 proxy, like HAProxy in ``mode tcp``), a backend
that refuses the connection skipped for the next one. It runs its own event loop in a thread,
so the test's loop (the candidates) and a SIGKILLed backend cannot stall it.

When a backend dies mid-request the client's connection is closed with it: the client sees a
transport error, exactly as behind a real proxy, and retries on a new connection, which goes to
a backend that is still up."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.support.server import free_port

CONNECT_TIMEOUT = 2.0
CHUNK = 64 * 1024


@dataclass
class Stats:
    """What the balancer did: connections per backend, refusals it skipped, clients it had to
    turn away (every backend down)."""

    connections: Counter[int] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)
    turned_away: int = 0


class Balancer:
    """``Balancer([port_a, port_b]).start()`` listens on ``self.port``; ``stop()`` closes it."""

    def __init__(self, backends: list[int], port: int | None = None) -> None:
        self.backends = list(backends)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stats = Stats()
        self._next = itertools.cycle(range(len(self.backends)))
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)

    def start(self) -> Balancer:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the balancer did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._stopped is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            # close the clients' connections too: nothing outlives stop()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend in turn that accepts a connection; None when none does."""
        first = next(self._next)  # this connection's turn; then the others in order (a
        # shared cursor would let concurrent connections skip a live backend between them)
        for k in range(len(self.backends)):
            port = self.backends[(first + k) % len(self.backends)]
            try:
                streams = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                self.stats.refused[port] += 1
                continue
            self.stats.connections[port] += 1
            return streams
        return None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = await self._connect()
        if backend is None:
            self.stats.turned_away += 1
            writer.close()
            return
        up_reader, up_writer = backend
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side ends; then close the sink so the other direction ends too (a
    backend killed mid-response closes the client's connection: no half-open hang)."""
    try:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        sink.close()
