"""More than one node: two ``etest serve`` processes (``ETEST_WORKER_MODE=external``) behind a
round-robin TCP balancer, two ``etest worker`` processes, one PostgreSQL database, and a real
callback receiver on loopback. 30 candidates take a placement test through the balancer, each
request on a new connection (so one candidate's consecutive requests land on both nodes); one
node is SIGKILLed mid-run and stays dead.

What must hold: every answer acknowledged (2xx) to a client is in the database with the value
sent; every candidate whose request died with the node resumes with its token through the
balancer (now the surviving node: same attempt, its answers there), retries its unacknowledged
answer (200, a replay if it had been committed) and finishes; every attempt is then resumable
and finished; and the outbox delivers each ``attempt.finished`` callback exactly once (as many
distinct ``webhook-id`` as finished attempts, no repeat in the receiver). The only errors
allowed are transport errors of requests sent before the node was dead.

PostgreSQL only: several processes writing one SQLite file is not a deployment eTest supports
(``docs/operations.md``)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent, Response
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers
from tests.reliability.conftest import tokens_for
from tests.support.balancer import Balancer
from tests.support.candidate_run import Step, step
from tests.support.server import Server
from tests.support.worker import WorkerProcess
from tests.webhook.conftest import QUIET, finished_event_id
from tests.webhook.receiver import Receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("ETEST_TEST_DATABASE_URL", "").startswith("postgresql"),
        reason="several app processes on one database: a PostgreSQL deployment only",
    ),
]

CANDIDATES = 30
ITEMS = 12  # make_course's staged PT when every answer is right
KILL_AFTER = 140  # acknowledged answers (of 360) before the SIGKILL
RUN_TIMEOUT = 120.0
DELIVERY_TIMEOUT = 60.0
ALLOW = '["127.0.0.1/32"]'
SECRET = "multinode-callback-secret"


class Node(Server):
    """An app node: the reliability server, with loopback allowed as a callback target (the
    organization's callback URL is saved through the balancer, so through a node)."""

    def _env(self) -> dict[str, str]:
        return {**super()._env(), "ETEST_CALLBACK_ALLOW_NETWORKS": ALLOW}


def start_worker(settings: Settings, log_dir: Path, n: int) -> WorkerProcess:
    """One ``etest worker`` process on the test database. The default lease (120 s) is kept: a
    lease that expires while a slow delivery is still running is what turns at-least-once into
    a duplicate, and no worker is killed here."""
    env = {
        "ETEST_WORKER_MODE": "external",
        "ETEST_WORKER_POLL_INTERVAL": "0.2",
        "ETEST_OUTBOX_BACKOFF_BASE": "0.5",
        "ETEST_CALLBACK_ALLOW_NETWORKS": ALLOW,
    }
    return WorkerProcess(settings, log_dir / f"worker-{n}.log", env)


@dataclass
class Run:
    """The kill and what the candidates observed."""

    victim: Server
    acks: int = 0
    kill_now: asyncio.Event = field(default_factory=asyncio.Event)
    kill_started: float = float("inf")
    kill_done: float = float("inf")
    acks_at_kill: int = 0
    transport_errors: int = 0
    resumes: int = 0
    retries: int = 0
    replays: int = 0
    errors: list[str] = field(default_factory=list)

    def acked(self) -> None:
        self.acks += 1
        if self.acks >= KILL_AFTER:
            self.kill_now.set()

    async def kill(self) -> None:
        await asyncio.wait_for(self.kill_now.wait(), RUN_TIMEOUT)
        self.acks_at_kill = self.acks
        self.kill_started = time.monotonic()
        await asyncio.to_thread(self.victim.kill)
        self.kill_done = time.monotonic()


def device(base: str) -> httpx.AsyncClient:
    """A device that opens a new connection per request: round robin then spreads one
    candidate's requests over both nodes (a keep-alive connection would pin it to one)."""
    return httpx.AsyncClient(
        base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )


class Candidate:
    def __init__(self, n: int, token: str, run: Run, base: str) -> None:
        self.n, self.token, self.run_ = n, token, run
        self.http = device(base)
        self.attempt_id = ""
        self.headers: dict[str, str] = {}
        self.acked: dict[int, Any] = {}
        self.sent: dict[int, Any] = {}
        self.seen: dict[int, tuple[Any, ...]] = {}
        self.unacked: tuple[int, Any] | None = None
        self.finished = False

    def fail(self, message: str) -> None:
        self.run_.errors.append(f"candidate {self.n}: {message}")

    async def call(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """One request; None when it died with the killed node (allowed only for a request
        sent before the node was dead); any other transport error fails the run."""
        sent = time.monotonic()
        try:
            return await self.http.request(method, url, headers=self.headers, **kw)
        except httpx.TransportError as exc:
            if sent < self.run_.kill_done and time.monotonic() >= self.run_.kill_started:
                self.run_.transport_errors += 1
                return None
            self.fail(f"{method} {url}: {exc!r} outside the kill (sent at {sent:.2f})")
            raise

    async def start(self) -> None:
        for tries in (1, 2):
            resp = await self.call("POST", "/api/v1/attempts", json={"token": self.token})
            if resp is None:
                continue
            if resp.status_code not in ((201,) if tries == 1 else (200, 201)):
                self.fail(f"start: {resp.status_code} {resp.text[:300]}")
                raise AssertionError(resp.text)
            body = resp.json()
            self.attempt_id = body["attempt_id"]
            self.headers = {"Authorization": f"Bearer {body['secret']}"}
            return
        raise AssertionError("start died twice")

    async def recover(self) -> None:
        """After a request died with the node: resume with the token (the device lost its
        state), check every acknowledged answer is there, retry the unacknowledged one."""
        self.headers = {}
        # a resume sent while the kill is under way may die with the node too (call() allows it
        # only for a request sent before the node was dead), so it is tried again
        for _ in range(3):
            resp = await self.call("POST", "/api/v1/attempts", json={"token": self.token})
            if resp is not None:
                break
        assert resp is not None, "a resume after the kill cannot die with it"
        body = resp.json()
        if resp.status_code != 200 or not body["resumed"] or body["attempt_id"] != self.attempt_id:
            self.fail(f"resume: {resp.status_code} {resp.text[:300]}")
            raise AssertionError(resp.text)
        self.run_.resumes += 1
        self.headers = {"Authorization": f"Bearer {body['secret']}"}
        self.check_state(body["state"])
        if self.unacked is not None and body["state"]["status"] == "in_progress":
            position, answer = self.unacked
            for _ in range(3):  # the same: a retry sent during the kill may die with it
                retry = await self.call(
                    "POST",
                    f"/api/v1/attempts/{self.attempt_id}/responses",
                    json={"position": position, "answer": answer},
                )
                if retry is not None:
                    break
            assert retry is not None
            if retry.status_code != 200:
                self.fail(f"retry of {position}: {retry.status_code} {retry.text[:300]}")
                raise AssertionError(retry.text)
            self.run_.retries += 1
            self.run_.replays += retry.json()["replay"]
            self.acked[position] = answer
            self.unacked = None

    def check_state(self, state: dict[str, Any]) -> None:
        stored = {a["position"]: a["answer"] for a in state["answers"]}
        lost = {p: v for p, v in self.acked.items() if stored.get(p) != v}
        if lost:
            self.fail(f"acknowledged answers lost or changed: {lost} vs stored {stored}")
        phantom = {p: v for p, v in stored.items() if self.sent.get(p) != v}
        if phantom:
            self.fail(f"stored answers never sent: {phantom}")

    async def run(self) -> None:
        await self.start()
        for _ in range(4 * ITEMS):  # bounded: each pass answers one item or recovers
            outcome = await step(self, "by the other node")
            if outcome is Step.NO_RESPONSE:
                await self.recover()
            elif outcome is Step.ANSWERED:
                self.run_.acked()
            else:  # finished, or failed (recorded)
                return
        self.fail("did not finish within the step bound")


async def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} after {seconds:.0f} s")
        await asyncio.sleep(0.2)


async def _outbox(app: FastAPI, organization_id: str) -> Counter[str]:
    async with transaction(app.state.sessionmaker) as session:
        statuses = await session.scalars(
            select(OutboxEvent.status).where(
                OutboxEvent.topic == "webhook.deliver",
                OutboxEvent.organization_id == uuid.UUID(organization_id),
            )
        )
        return Counter(statuses.all())


async def test_two_nodes_one_killed_lose_no_answer_and_deliver_each_callback_once(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, settings: Settings, tmp_path: Path
) -> None:
    began = time.monotonic()
    course: Course = await make_course(app, client, su, settings=QUIET)
    tokens = await tokens_for(app, course, CANDIDATES)
    nodes = [Node(settings, tmp_path), Node(settings, tmp_path)]
    workers: list[WorkerProcess] = []
    receiver = Receiver().start()
    balancer = Balancer([n.port for n in nodes]).start()
    candidates: list[Candidate] = []
    try:
        started = [n.spawn() for n in nodes]  # both boot at once
        for node, when in zip(nodes, started, strict=True):
            await asyncio.to_thread(node.wait_ready, when)
        workers = [start_worker(settings, tmp_path, n) for n in range(2)]
        async with device(balancer.base) as admin:
            resp = await admin.patch(
                f"/api/v1/organizations/{course.uic}",
                headers=course.admin,
                json={"callback_url": receiver.url, "callback_secret": SECRET},
            )
            assert resp.status_code == 200, resp.text
            organization_id = resp.json()["id"]

        prepared = time.monotonic()
        run = Run(victim=nodes[0])
        candidates = [Candidate(n, t, run, balancer.base) for n, t in enumerate(tokens)]
        killer = asyncio.create_task(run.kill())
        results = await asyncio.wait_for(
            asyncio.gather(*(c.run() for c in candidates), return_exceptions=True), RUN_TIMEOUT
        )
        await asyncio.wait_for(killer, 5)
        ran = time.monotonic() - prepared
        crashed = [repr(r) for r in results if isinstance(r, BaseException)]
        assert not run.errors and not crashed, (
            "\n".join(run.errors[:20] + crashed[:5])
            + f"\nkill {run.kill_started:.2f}-{run.kill_done:.2f} after {run.acks_at_kill} acks, "
            f"balancer {balancer.stats}\nkilled node's log:\n{nodes[0].log_tail()}"
            f"\nsurviving node's log:\n{nodes[1].log_tail()}"
        )
        assert nodes[0].proc is not None and nodes[0].proc.poll() is not None, "node 0 is dead"
        served = dict(balancer.stats.connections)
        assert all(served.get(n.port, 0) > 0 for n in nodes), "both nodes served"

        # every acknowledged answer is in the database, with the value sent
        async with transaction(app.state.sessionmaker) as session:
            rows = (
                await session.execute(
                    select(Response.attempt_id, Response.position, Response.answer).where(
                        Response.attempt_id.in_([uuid.UUID(c.attempt_id) for c in candidates])
                    )
                )
            ).all()
        stored = {(str(a), p): v for a, p, v in rows}
        acked = {(c.attempt_id, p): v for c in candidates for p, v in c.acked.items()}
        lost = {k: v for k, v in acked.items() if stored.get(k) != v}
        assert not lost, f"acknowledged answers not in the database: {lost}"

        # every attempt resumes through the surviving node, complete; finishing is idempotent
        async with device(balancer.base) as http:
            for c in candidates:
                resp = await http.post("/api/v1/attempts", json={"token": c.token})
                body = resp.json()
                assert resp.status_code == 200 and body["resumed"], resp.text
                assert body["attempt_id"] == c.attempt_id
                c.check_state(body["state"])
                assert body["state"]["status"] == "completed", body["state"]
                assert len(body["state"]["answers"]) == ITEMS == len(c.acked)
                done = await http.post(
                    f"/api/v1/attempts/{c.attempt_id}/finish",
                    headers={"Authorization": f"Bearer {body['secret']}"},
                )
                assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        assert not run.errors, "\n".join(run.errors[:20])

        # each attempt.finished callback delivered exactly once, by either worker
        async def delivered() -> bool:
            statuses = await _outbox(app, organization_id)
            return statuses["done"] >= CANDIDATES or any(w.proc.poll() is not None for w in workers)

        await _wait(delivered, DELIVERY_TIMEOUT, "callbacks not all delivered")
        assert all(w.proc.poll() is None for w in workers), workers[0].log_tail()
        await asyncio.sleep(1.0)  # a duplicate, if any, would arrive now
        statuses = await _outbox(app, organization_id)
        assert statuses == Counter(done=CANDIDATES), statuses
        ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
        duplicates = sum(n - 1 for n in ids.values())
        assert set(ids) == {str(finished_event_id(c.attempt_id)) for c in candidates}
        assert duplicates == 0, [i for i, n in ids.items() if n > 1]
    finally:
        for c in candidates:
            await c.http.aclose()
        for w in workers:
            w.kill()
        for node in nodes:
            node.kill()
        balancer.stop()
        receiver.stop()

    print(
        f"\nmulti-node: {CANDIDATES} candidates on 2 nodes behind a round-robin balancer "
        f"(connections per node {sorted(served.values())}), 2 workers; "
        f"node 0 SIGKILLed after {run.acks_at_kill} acks; {len(acked)} answers acknowledged, "
        f"0 lost; {run.transport_errors} requests died with the node, {run.resumes} resumes, "
        f"{run.retries} unacknowledged answers retried ({run.replays} had been committed); "
        f"{len(receiver.requests)} callbacks received for {CANDIDATES} finished attempts, "
        f"{len(ids)} distinct webhook-ids, {duplicates} duplicates; run {ran:.1f} s, "
        f"{time.monotonic() - began:.1f} s in all"
    )
