"""A database outage under load, for ``tests/ops/test_db_outage.py`` and ``bench/db_outage.py``.

Several clients, each on one keep-alive connection of its own, read the admin API and take a
placement test (item, answer) against a real server, while the PostgreSQL cluster under it is
stopped and started again (:class:`tests.support.pgcluster.PgCluster`). Every request is counted
per phase (before, down, after) by its answer: a status, or ``dropped`` when the connection
failed without an answer; every connection a client used is counted by its local port (one
means the server kept it open throughout). Every answer acknowledged (200) is checked against
the attempt's stored state at the end. Every wait is bounded."""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from etest.config import Settings
from tests.support.pgcluster import PgCluster
from tests.support.server import PEPPER, Server

PHASES = ("before", "down", "after")
#: Pause between a client's rounds (admin read, item, answer): a steady, modest load.
PACE = 0.05
WAIT = 120.0  # bound of every phase's wait (a loaded 2-core machine is slow)


def outage_settings(url: str, var_dir: Path) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        var_dir=var_dir,
        secret_key=PEPPER,
        base_url="http://testserver",
        log_level="WARNING",
        sweep_interval=0,
        worker_mode="external",
        evidence_per_level=10,
        evidence_within_one_level=0,
    )


@dataclass
class Prepared:
    settings: Settings
    admin: dict[str, str]
    candidate_id: str
    tokens: list[str]


async def prepare(url: str, var_dir: Path, clients: int) -> Prepared:
    """A course (plan, content, organization) and one token per client, written through the
    in-process app on the cluster's database."""
    from etest.app import create_app
    from tests.attempt.conftest import make_course
    from tests.conftest import create_key
    from tests.reliability.conftest import tokens_for

    settings = outage_settings(url, var_dir)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            su = await create_key(app, "superadmin", None)
            course = await make_course(app, c, su, pt_engine="staged")
            tokens = await tokens_for(app, course, clients)
    return Prepared(settings, course.admin, course.candidate["id"], tokens)


@dataclass
class Load:
    """What every client saw, per phase."""

    phase: str = "before"
    counts: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: {p: collections.Counter() for p in PHASES}
    )
    bad: list[str] = field(default_factory=list)  # answers that are not 2xx or a proper 503
    first_ok_after: float | None = None  # monotonic time of the first 2xx in phase "after"
    seconds: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def _is_unavailable(resp: httpx.Response) -> bool:
    return (
        resp.status_code == 503
        and resp.headers.get("content-type", "").startswith("application/problem+json")
        and resp.json().get("type") == "/errors/service-unavailable"
        and int(resp.headers.get("retry-after", "0")) >= 1
    )


class Client:
    """One candidate's device and an admin's reads, on one connection."""

    def __init__(self, n: int, server: Server, prepared: Prepared, load: Load) -> None:
        from tests.reliability.conftest import right_answer

        self.n, self.load, self.prepared = n, load, prepared
        self.token = prepared.tokens[n]
        self.right_answer = right_answer
        # one connection: the client sends one request at a time
        self.http = httpx.AsyncClient(
            base_url=server.base,
            timeout=WAIT,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self.ports: set[int] = set()
        self.sent = 0
        self.answered = 0
        self.per_phase: dict[str, collections.Counter[str]] = {
            p: collections.Counter() for p in PHASES
        }
        self.acked: dict[int, Any] = {}
        self.attempt_id = ""
        self.secret: dict[str, str] = {}
        self.finished = False

    async def call(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        phase = self.load.phase
        self.sent += 1
        sent = time.monotonic()
        try:
            resp = await self.http.request(method, url, **kw)
        except httpx.TransportError as exc:
            self._count(phase, "dropped")
            self.load.bad.append(f"client {self.n} {method} {url}: dropped ({exc!r})")
            return None
        self.answered += 1
        self.load.seconds[phase].append(time.monotonic() - sent)
        stream = resp.extensions.get("network_stream")
        address = stream.get_extra_info("client_addr") if stream is not None else None
        if address is not None:  # None: the server closed the connection already
            self.ports.add(address[1])
        if resp.is_success:
            self._count(phase, str(resp.status_code))
            if phase == "after" and self.load.first_ok_after is None:
                self.load.first_ok_after = time.monotonic()
        elif _is_unavailable(resp):
            self._count(phase, "503")
        else:
            self._count(phase, str(resp.status_code))
            self.load.bad.append(
                f"client {self.n} {method} {url} ({phase}): {resp.status_code} {resp.text[:300]}"
            )
        return resp

    def _count(self, phase: str, key: str) -> None:
        self.per_phase[phase][key] += 1
        self.load.counts[phase][key] += 1

    async def start(self) -> None:
        resp = await self.call("POST", "/api/v1/attempts", json={"token": self.token})
        assert resp is not None and resp.status_code == 201, resp and resp.text
        self.attempt_id = resp.json()["attempt_id"]
        self.secret = {"Authorization": f"Bearer {resp.json()['secret']}"}

    async def step(self) -> None:
        """One round: an admin read, then (until the test is finished) the item and its
        answer. A 503 leaves the position unanswered; the next round serves it again."""
        await self.call(
            "GET", f"/api/v1/candidates/{self.prepared.candidate_id}", headers=self.prepared.admin
        )
        if self.finished:
            return
        resp = await self.call(
            "GET", f"/api/v1/attempts/{self.attempt_id}/item", headers=self.secret
        )
        if resp is None or resp.status_code != 200:
            return
        body = resp.json()
        if body["finished"]:
            self.finished = True
            return
        position = body["item"]["position"]
        answer = self.right_answer(body["item"])
        resp = await self.call(
            "POST",
            f"/api/v1/attempts/{self.attempt_id}/responses",
            headers=self.secret,
            json={"position": position, "answer": answer},
        )
        if resp is not None and resp.status_code == 200:
            self.acked[position] = answer

    async def run(self) -> None:
        while not self.load.stop.is_set():
            try:
                await self.step()
            except Exception as exc:  # recorded; the client goes on (old code answers oddly)
                self.load.bad.append(f"client {self.n}: {exc!r}")
            await asyncio.sleep(PACE)

    async def lost_answers(self) -> dict[int, Any]:
        """Acknowledged answers that the attempt does not hold (resuming with the token)."""
        resp = await self.call("POST", "/api/v1/attempts", json={"token": self.token})
        assert resp is not None and resp.status_code == 200, resp and resp.text
        stored = {a["position"]: a["answer"] for a in resp.json()["state"]["answers"]}
        return {p: v for p, v in self.acked.items() if stored.get(p) != v}


@dataclass
class Outage:
    """The figures of one outage."""

    mode: str
    counts: dict[str, dict[str, int]]
    connections: list[int]  # per client: connections used (1: kept throughout)
    sent: int
    answered: int
    bad: list[str]
    lost: dict[int, dict[int, Any]]
    ready_down: list[dict[str, Any]]
    health_down: list[int]
    down_seconds: float
    start_seconds: float  # pg_ctl start, until it accepts connections
    recover_seconds: float | None  # from pg_ctl start's return to the first 2xx (0: at once)
    ready_after: int
    slowest: dict[str, float]  # per phase: the slowest answer, in seconds
    median: dict[str, float]


async def _probe(server: Server, path: str) -> httpx.Response:
    """``path`` on a connection of its own (0: no answer, the connection failed)."""
    async with httpx.AsyncClient(base_url=server.base, timeout=WAIT) as probe:
        try:
            return await probe.get(path)
        except httpx.TransportError:
            return httpx.Response(0)


async def _until(cond: Any, what: str, load: Load) -> None:
    """Poll ``cond`` (the clients' counters, which no event announces) for at most WAIT s; a
    wait that runs out is recorded in ``load.bad`` and the outage goes on (a bench reports
    the figures of old code too)."""
    deadline = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > deadline:
            load.bad.append(f"timed out after {WAIT:.0f} s waiting for {what}")
            return
        await asyncio.sleep(0.05)


async def run_outage(
    cluster: PgCluster,
    server: Server,
    prepared: Prepared,
    *,
    clients: int,
    mode: str = "fast",
    first: int = 0,
    min_down: float = 2.0,
) -> Outage:
    """Clients ``first .. first+clients-1`` (one token each) run; the database is stopped in
    ``mode`` once each has two answers acknowledged, kept down until each has seen two answers
    of the down phase (and ``min_down`` seconds), then started again; the clients run until
    each has three successes after the start."""
    load = Load()
    group = [Client(first + i, server, prepared, load) for i in range(clients)]
    ready_down: list[dict[str, Any]] = []
    health_down: list[int] = []
    try:
        for c in group:
            await c.start()
        tasks = [asyncio.create_task(c.run()) for c in group]
        try:
            await _until(lambda: all(len(c.acked) >= 2 for c in group), "answers before", load)
            load.phase = "down"
            stopped = time.monotonic()
            await asyncio.to_thread(cluster.stop, mode)

            def down_seen() -> bool:
                return all(sum(c.per_phase["down"].values()) >= 2 for c in group)

            await _until(down_seen, "answers while the database is down", load)
            await asyncio.sleep(max(0.0, min_down - (time.monotonic() - stopped)))
            ready = await _probe(server, "/ready")
            body = ready.json() if "json" in ready.headers.get("content-type", "") else {}
            ready_down.append({"status": ready.status_code, **body})
            health_down.append((await _probe(server, "/health")).status_code)
            down_seconds = time.monotonic() - stopped
            load.phase = "after"
            starting = time.monotonic()
            await asyncio.to_thread(cluster.start)
            started = time.monotonic()

            def recovered() -> bool:
                return all(
                    sum(v for k, v in c.per_phase["after"].items() if k.startswith("2")) >= 3
                    or c.finished
                    for c in group
                )

            await _until(recovered, "successes after the database's start", load)
        finally:
            load.stop.set()
            _, hung = await asyncio.wait(tasks, timeout=WAIT)
            for task in hung:  # a request without an answer after WAIT s
                task.cancel()
                load.bad.append("a client's request got no answer within the wait")
        recover = None if load.first_ok_after is None else max(0.0, load.first_ok_after - started)
        ready_after = (await _probe(server, "/ready")).status_code
        lost = {c.n: await c.lost_answers() for c in group}
        return Outage(
            mode=mode,
            counts={p: dict(load.counts[p]) for p in PHASES},
            connections=[len(c.ports) for c in group],
            sent=sum(c.sent for c in group),
            answered=sum(c.answered for c in group),
            bad=load.bad,
            lost={n: v for n, v in lost.items() if v},
            ready_down=ready_down,
            health_down=health_down,
            down_seconds=down_seconds,
            start_seconds=started - starting,
            recover_seconds=recover,
            ready_after=ready_after,
            slowest={p: max(v, default=0.0) for p, v in load.seconds.items()},
            median={p: statistics.median(v) if v else 0.0 for p, v in load.seconds.items()},
        )
    finally:
        for c in group:
            await c.http.aclose()
