"""Hostile input against a real eTest server: what refusing it costs, and what it costs the
requests next to it.

    .venv/bin/python bench/hostile_input.py                 # this tree, then the figures
    .venv/bin/python bench/hostile_input.py --before REV    # the same against git REV too
    .venv/bin/python bench/hostile_input.py --throughput    # + /health req/s per HTTP protocol
    .venv/bin/python bench/hostile_input.py --micro         # only the middleware's own cost

For each server (a fresh SQLite database under a temporary folder, ``etest db upgrade``, a
content-manager API key, then ``uvicorn.run`` exactly as ``etest serve`` calls it) it prints:

* ``/health`` latency at rest (the baseline of the same run: 200 sequential requests);
* a 21 MB bearer token, a 200 MB JSON body with ``Content-Length`` and the same without
  (chunked), and a zip of 40 flow files expanding to 760 MB posted to the content import: the
  status, the time until the refusal is read, the server's VmRSS before and after, and
  ``/health`` latency measured from another thread while each attack runs (3 rounds each).

``--before REV`` runs the same against the source of a git revision (``git archive`` into a
temporary folder, put first on ``PYTHONPATH``; the checkout is not touched), with that tree's own
``etest serve`` settings. ``--throughput`` compares requests per second on ``/health`` (32
keep-alive connections, 3 s, 5 interleaved rounds) for uvicorn's httptools, eTest's
HeadLimitedHttpTools and h11, and
times the edge middleware per request in-process (``--micro`` alone does only that).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.content.test_archive_limits import flow_bomb  # noqa: E402

MB = 1024 * 1024
PY = sys.executable
SERVE = """
import sys, uvicorn
from etest.config import get_settings
s = get_settings()
http = sys.argv[2]
kwargs = {} if http == "default" else {"http": http}
uvicorn.run("etest.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", proxy_headers=False,
            h11_max_incomplete_event_size=s.max_request_head_bytes, **kwargs)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    """One server process on a fresh SQLite database (``src``: a source tree or None)."""

    def __init__(self, src: Path | None, http: str, workdir: Path) -> None:
        self.port = free_port()
        var = workdir / f"var-{self.port}"
        var.mkdir()
        self.env = {
            **os.environ,
            "ETEST_DATABASE_URL": f"sqlite+aiosqlite:///{var}/etest.db",
            "ETEST_VAR_DIR": str(var),
            "ETEST_SECRET_KEY": "bench-pepper",
            "ETEST_SWEEP_INTERVAL": "0",
            "ETEST_WORKER_MODE": "external",
            "ETEST_LOG_LEVEL": "WARNING",
        }
        if src is not None:
            self.env["PYTHONPATH"] = str(src)
        etest = [PY, "-c", "from etest.cli import app; app()"]
        subprocess.run([*etest, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        made = subprocess.run(
            [*etest, "apikey", "create", "--role", "content_manager"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.key = made.stdout.strip().splitlines()[-1]
        self.log = (workdir / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [PY, "-c", SERVE, str(self.port), http],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(self.port, get("/ready"))[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"server on {self.port} did not start")

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def get(path: str, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n" + extra + b"\r\n"


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed without a response: {buf[:100]!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, rest[:length]


def request(
    port: int, head: bytes, body: Callable[[socket.socket], None] | None = None
) -> tuple[int, float]:
    """Send ``head`` (then ``body(sock)``, which may stop early); the status and seconds until
    the response was read."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        started = time.perf_counter()
        try:
            sock.sendall(head)
            if body is not None:
                body(sock)
        except OSError:
            pass  # the server stopped reading: its answer is waiting
        status, _ = read_response(sock)
        return status, time.perf_counter() - started


def stream(total: int, piece: int, chunked: bool) -> Callable[[socket.socket], None]:
    """Send up to ``total`` bytes, stopping as soon as the server has answered."""
    import select

    def send(sock: socket.socket) -> None:
        data = b" " * piece
        frame = b"%x\r\n%s\r\n" % (piece, data) if chunked else data
        sent = 0
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(frame)
            sent += piece
        if chunked and sent >= total:
            sock.sendall(b"0\r\n\r\n")  # the whole body went in: end it

    return send


def multipart(name: str, data: bytes) -> tuple[bytes, bytes]:
    boundary = b"benchboundary7d1f"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
        b"Content-Type: application/zip\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"
    )
    return b"multipart/form-data; boundary=" + boundary, body


def health_latencies(port: int, n: int) -> list[float]:
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for _ in range(n):
            started = time.perf_counter()
            sock.sendall(get("/health"))
            read_response(sock)
            out.append(time.perf_counter() - started)
    return out


def during(port: int, attack: Callable[[], Any]) -> tuple[Any, list[float]]:
    """Run ``attack`` while another thread measures /health back to back."""
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            while not done.is_set():
                started = time.perf_counter()
                sock.sendall(get("/health"))
                read_response(sock)
                latencies.append(time.perf_counter() - started)

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(0.05)
    try:
        result = attack()
    finally:
        done.set()
        thread.join()
    return result, latencies


def ms(values: list[float]) -> str:
    if not values:
        return "no answer"
    values = sorted(values)
    p50 = statistics.median(values) * 1000
    return f"median {p50:.1f} ms, max {values[-1] * 1000:.0f} ms (n={len(values)})"


def attacks(server: Served) -> dict[str, Callable[[], tuple[int, float]]]:
    # shaped like a JWT (header.payload.signature), so that a server that decodes before it
    # checks does decode it
    jwt_head = b"eyJhbGciOiJSUzI1NiIsImtpZCI6InJvdy0xIiwidHlwIjoiSldUIn0"
    token = b"Authorization: Bearer " + jwt_head + b"." + b"e" * (21 * MB) + b".c2ln"
    bomb = flow_bomb()
    ctype, zipped = multipart("flows.zip", bomb)
    auth = b"Authorization: Bearer " + server.key.encode()
    post = b"POST /api/v1/attempts HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    return {
        "21 MB bearer token": lambda: request(server.port, get("/api/v1/organizations", token)),
        "200 MB body, Content-Length": lambda: request(
            server.port,
            post + b"Content-Length: %d\r\n\r\n" % (200 * MB),
            stream(200 * MB, MB, chunked=False),
        ),
        "200 MB body, chunked": lambda: request(
            server.port,
            post + b"Transfer-Encoding: chunked\r\n\r\n",
            stream(200 * MB, 64 * 1024, chunked=True),
        ),
        f"flow zip, {len(bomb) // 1024} KB -> 760 MB": lambda: request(
            server.port,
            b"POST /api/v1/content/import HTTP/1.1\r\nHost: bench\r\n"
            + auth
            + b"\r\nContent-Type: "
            + ctype
            + b"\r\nContent-Length: %d\r\n\r\n" % len(zipped)
            + zipped,
        ),
    }


def run(label: str, src: Path | None, workdir: Path, rounds: int) -> None:
    print(f"\n== {label}")
    server = Served(
        src, "etest.ops.edge:HeadLimitedHttpTools" if src is None else "default", workdir
    )
    try:
        health_latencies(server.port, 20)  # warm up
        print(f"  /health at rest: {ms(health_latencies(server.port, 200))}")
        for name, attack in attacks(server).items():
            before = server.rss()
            results, latencies = [], []
            for _ in range(rounds):
                result, lat = during(server.port, attack)
                results.append(result)
                latencies += lat
            after = server.rss()
            statuses = sorted({s for s, _ in results})
            times = ", ".join(f"{t:.3f}" for _, t in results)
            print(
                f"  {name}: {statuses} in {times} s; RSS {before / MB:.0f} -> {after / MB:.0f} MB"
                f"; /health during: {ms(latencies)}"
            )
    finally:
        server.stop()


async def _load(port: int, seconds: float, connections: int) -> int:
    count = 0
    stop = time.monotonic() + seconds

    async def one() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        line = get("/health")
        while time.monotonic() < stop:
            writer.write(line)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            count += 1
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return count


def throughput(workdir: Path, rounds: int = 5) -> None:
    """The three protocols side by side, interleaved round by round (the machine is shared:
    load from elsewhere then falls on all three alike); the median of the rounds."""
    print(
        f"\n== /health requests per second (32 keep-alive connections, 3 s x {rounds}, interleaved)"
    )
    protocols = ("httptools", "etest.ops.edge:HeadLimitedHttpTools", "h11")
    servers = {http: Served(None, http, workdir) for http in protocols}
    rates: dict[str, list[float]] = {http: [] for http in protocols}
    try:
        for server in servers.values():
            asyncio.run(_load(server.port, 1, 8))
        for _ in range(rounds):
            for http, server in servers.items():
                rates[http].append(asyncio.run(_load(server.port, 3, 32)) / 3)
        for http in protocols:
            runs = ", ".join(f"{r:.0f}" for r in rates[http])
            print(f"  {http}: median {statistics.median(rates[http]):.0f} req/s ({runs})")
    finally:
        for server in servers.values():
            server.stop()


def micro() -> None:
    """The edge middleware's own cost per request, in-process (no network)."""
    from etest.config import Settings
    from etest.ops.edge import Edge, resolve_caps

    settings = Settings(env="test")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    edge = Edge(
        app,
        max_auth_header_bytes=settings.max_auth_header_bytes,
        default_cap=settings.max_json_body_bytes,
        caps=resolve_caps(settings),
    )
    headers = [
        (b"host", b"etest.example.org"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"),
        (b"accept", b"application/json"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"accept-language", b"en-GB,en;q=0.8"),
        (b"content-type", b"application/json"),
        (b"content-length", b"64"),
        (b"x-attempt-secret", b"s" * 43),
        (b"authorization", b"Bearer " + b"t" * 40),
        (b"x-request-id", b"0" * 32),
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/attempts/00000000-0000-0000-0000-000000000000/responses",
        "headers": headers,
    }

    async def loop(target: Any, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await target(scope, None, None)
        return (time.perf_counter() - started) / n

    n = 200_000
    bare = min(asyncio.run(loop(app, n)) for _ in range(3))
    with_edge = min(asyncio.run(loop(edge, n)) for _ in range(3))
    print(
        f"\n== edge middleware in-process, a candidate POST with 10 headers: "
        f"{(with_edge - bare) * 1e6:.2f} µs per request ({n:,} calls, best of 3)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="also run against this git revision's source")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--only-throughput", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--micro", action="store_true", help="only the in-process timing")
    args = parser.parse_args()
    if args.micro:
        micro()
        return
    workdir = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        if args.only_throughput:
            throughput(workdir)
            return
        if args.before:
            src = workdir / "before"
            src.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.before, "src", "migrations"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
            run(
                f"before: {args.before} (etest serve's uvicorn settings)",
                src / "src",
                workdir,
                args.rounds,
            )
        run(
            "this tree (etest serve: HeadLimitedHttpTools + edge middleware)",
            None,
            workdir,
            args.rounds,
        )
        if args.throughput:
            throughput(workdir)
            micro()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
