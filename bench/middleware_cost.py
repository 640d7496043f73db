"""What the request observer (``etest.ops.metrics.RequestObserver``: the access log and the
metrics in one middleware) adds to one request.

A Starlette app with the candidate API's answer route (a route template with a path parameter,
an empty 200 response) is called directly through ASGI, with no server and no network, ``N``
times bare, with the observer's access log only (metrics off) and with both, alternately, best
of ``ROUNDS``. "metrics" is the difference the metrics make: reading the template the router
left in the scope, one histogram observation and the answers counter. The access log's line
is dropped below WARNING here, so the log column is the observer's own work. Once in a single
process (values in memory) and once as with ``PROMETHEUS_MULTIPROC_DIR`` set (values in
memory-mapped files, which prometheus-client must know before it is imported: a child process).

    .venv/bin/python bench/middleware_cost.py          # about 10 s on the 2-core VM

Prints microseconds per request; a candidate's step costs milliseconds (bench/delivery_load.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

N = 20_000
ROUNDS = 5


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _per_request(app: Any, paths: list[str]) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for path in paths:
        await app(_scope(path), receive, send)
    return (time.perf_counter() - started) / len(paths) * 1e6


async def _measure() -> tuple[float, float, float]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from etest.kit.logging import configure_logging
    from etest.ops.metrics import ANSWER_ROUTE, RequestObserver

    # the access log's line is dropped below WARNING: what is timed is the observer's own work
    configure_logging("WARNING", True)

    async def answer(_: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    inner = Starlette(routes=[Route(ANSWER_ROUTE, answer, methods=["POST"])])
    measured = RequestObserver(inner, metrics=True)
    log_only = RequestObserver(inner, metrics=False)
    paths = [f"/api/v1/attempts/{uuid.uuid4()}/responses" for _ in range(N)]
    await _per_request(inner, paths[:1000])  # warm up both
    await _per_request(measured, paths[:1000])
    await _per_request(log_only, paths[:1000])
    without, logged, with_ = [], [], []
    for _ in range(ROUNDS):
        without.append(await _per_request(inner, paths))
        logged.append(await _per_request(log_only, paths))
        with_.append(await _per_request(measured, paths))
    return min(without), min(logged), min(with_)


def _report(label: str) -> None:
    without, logged, with_ = asyncio.run(_measure())
    print(
        f"{label:<28} bare {without:6.2f} µs   access log {logged:6.2f} µs   "
        f"log + metrics {with_:6.2f} µs   metrics {with_ - logged:5.2f} µs/request"
    )


def main() -> None:
    if "--child" in sys.argv:
        _report(sys.argv[-1])
        return
    print(f"{N} POSTs to {{attempt_id}}/responses through ASGI, best of {ROUNDS} rounds")
    _report("single process")
    with tempfile.TemporaryDirectory() as shared:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": shared}
        subprocess.run(
            [sys.executable, __file__, "--child", "PROMETHEUS_MULTIPROC_DIR set"],
            env=env,
            check=True,
        )


if __name__ == "__main__":
    main()
