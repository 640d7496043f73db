"""R-01/R-03 (short): SIGKILL the server while 50 candidates answer, twice, and restart it.

Every answer that got a 2xx must be stored with the value sent; every candidate resumes with its
token (same attempt, ``resumed``), sees the same item it was served, retries the one answer the
kill left unacknowledged (which must be 200, a replay if it had been committed), and finishes.
The only errors allowed are connection errors between a kill and the new server's readiness."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.attempt.conftest import Course
from tests.reliability.conftest import Server, device, tokens_for
from tests.support.candidate_run import Step, step

CANDIDATES = 50
ITEMS = 12  # make_course's staged PT: 3 levels x 4 items when every answer is right
KILL_AT = (200, 400)  # acknowledged answers before each SIGKILL (of 600)
RUN_TIMEOUT = 180.0  # bounded, with room for a loaded CI machine (a run takes 30-60 s)


@dataclass
class Chaos:
    """The kill schedule and what the candidates observed."""

    server: Server
    acks: int = 0
    epoch: int = 0  # incremented after each restart
    down: bool = False  # from just before SIGKILL until the new server is ready
    up: asyncio.Event = field(default_factory=asyncio.Event)
    kill_now: asyncio.Event = field(default_factory=asyncio.Event)
    windows: list[tuple[float, float]] = field(default_factory=list)
    connection_errors: int = 0
    errors: list[str] = field(default_factory=list)
    replays_after_kill: int = 0
    retried_after_kill: int = 0
    acks_at_kill: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def acked(self) -> None:
        self.acks += 1
        if len(self.acks_at_kill) < len(KILL_AT) and self.acks >= KILL_AT[len(self.acks_at_kill)]:
            self.kill_now.set()

    async def run(self) -> None:
        for _ in KILL_AT:
            await asyncio.wait_for(self.kill_now.wait(), RUN_TIMEOUT)
            self.kill_now.clear()
            self.up.clear()
            self.down = True
            killed = time.monotonic()
            self.acks_at_kill.append(self.acks)
            self.server.kill()
            await self.server.astart()
            ready = time.monotonic()
            self.windows.append((killed, ready))
            self.epoch += 1
            self.down = False
            self.up.set()


class Candidate:
    def __init__(self, n: int, token: str, chaos: Chaos) -> None:
        self.n, self.token, self.chaos = n, token, chaos
        self.attempt_id = ""
        self.headers: dict[str, str] = {}
        self.acked: dict[int, Any] = {}
        self.sent: dict[int, Any] = {}
        self.seen: dict[int, tuple[Any, ...]] = {}
        self.unacked: tuple[int, Any] | None = None  # the answer a kill left without a reply
        self.epoch = 0
        self.finished = False
        self.http = device(chaos.server)

    def fail(self, message: str) -> None:
        self.chaos.errors.append(f"candidate {self.n}: {message}")

    async def call(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """One request; None when the server was killed under it (a connection error in the
        kill window, which is allowed); any other failure is recorded as an error."""
        await asyncio.wait_for(self.chaos.up.wait(), RUN_TIMEOUT)
        epoch = self.chaos.epoch
        sent = time.monotonic()
        try:
            resp = await self.http.request(method, url, headers=self.headers, **kw)
        except httpx.TransportError as exc:
            if self.chaos.down or self.chaos.epoch != epoch:
                self.chaos.connection_errors += 1
                return None
            self.fail(
                f"{method} {url}: {exc!r} outside a kill window, sent at "
                f"{sent:.2f}, failed at {time.monotonic():.2f}, windows "
                f"{self.chaos.windows}"
            )
            raise
        self.chaos.latencies.append(time.monotonic() - sent)
        return resp

    async def start(self) -> None:
        tries = 0
        resp = None
        while resp is None and tries <= len(KILL_AT):
            tries += 1
            resp = await self.call("POST", "/api/v1/attempts", json={"token": self.token})
        if resp is None:
            raise AssertionError("start: every try met a kill")
        # 200 (resumed) only when a kill may have hidden the 201 of an earlier try
        if resp.status_code not in ((201,) if tries == 1 else (200, 201)):
            self.fail(f"start: {resp.status_code} {resp.text}")
            raise AssertionError(resp.text)
        self.attempt_id = resp.json()["attempt_id"]
        self.headers = {"Authorization": f"Bearer {resp.json()['secret']}"}

    async def resume(self) -> bool:
        """After a restart: same attempt, every acked answer there, the same item served."""
        await self.http.aclose()  # the device reconnects
        self.http = device(self.chaos.server)
        self.headers = {}
        resp = await self.call("POST", "/api/v1/attempts", json={"token": self.token})
        if resp is None:
            return False
        body = resp.json()
        if resp.status_code != 200 or not body["resumed"] or body["attempt_id"] != self.attempt_id:
            self.fail(f"resume: {resp.status_code} {resp.text[:300]}")
            return False
        self.headers = {"Authorization": f"Bearer {body['secret']}"}
        self.check_state(body["state"])
        if self.unacked is not None and not self.finished:
            # the client retries what it never saw acknowledged: 200 whether it was stored or not
            position, answer = self.unacked
            retry = await self.call(
                "POST",
                f"/api/v1/attempts/{self.attempt_id}/responses",
                json={"position": position, "answer": answer},
            )
            if retry is None:
                return False
            if retry.status_code != 200:
                self.fail(f"retry after kill at {position}: {retry.status_code} {retry.text}")
                return False
            self.chaos.retried_after_kill += 1
            self.chaos.replays_after_kill += retry.json()["replay"]
            self.acked[position] = answer
            self.unacked = None
        return True

    def check_state(self, state: dict[str, Any]) -> None:
        stored = {a["position"]: a["answer"] for a in state["answers"]}
        lost = {p: v for p, v in self.acked.items() if stored.get(p) != v}
        if lost:
            self.fail(f"acknowledged answers lost or changed: {lost} vs stored {stored}")
        phantom = {p: v for p, v in stored.items() if p not in self.sent or self.sent[p] != v}
        if phantom:
            self.fail(f"stored answers never sent: {phantom}")
        if sorted(stored) != list(range(1, len(stored) + 1)):
            self.fail(f"answered positions not contiguous: {sorted(stored)}")
        current = state["current_position"]
        if state["status"] == "in_progress" and current not in (None, len(stored) + 1):
            self.fail(f"current position {current} after {len(stored)} answers")

    async def run(self) -> None:
        await self.start()
        for _ in range(4 * ITEMS):  # bounded: each pass answers one item or resumes
            await asyncio.wait_for(self.chaos.up.wait(), RUN_TIMEOUT)
            if self.chaos.epoch != self.epoch:
                if not await self.resume():
                    continue
                self.epoch = self.chaos.epoch
            if self.finished:
                return
            outcome = await step(self, "after a restart")
            if outcome is Step.FAILED:  # recorded
                return
            if outcome is Step.ANSWERED:
                self.chaos.acked()
            # no response: the next pass resumes after the restart; finished: it returns
        self.fail("did not finish within the step bound")


@pytest.mark.slow
async def test_sigkill_during_50_candidates_loses_no_acknowledged_answer(
    app: FastAPI, pt_course: Course, server_factory: Any
) -> None:
    began = time.monotonic()
    tokens = await tokens_for(app, pt_course, CANDIDATES)
    prepared = time.monotonic()
    server: Server = server_factory()
    server.start()
    chaos = Chaos(server)
    chaos.up.set()
    candidates = [Candidate(n, token, chaos) for n, token in enumerate(tokens)]
    controller = asyncio.create_task(chaos.run())
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(c.run() for c in candidates), return_exceptions=True), RUN_TIMEOUT
        )
        await asyncio.wait_for(controller, 5)
    finally:
        controller.cancel()
        await asyncio.gather(*(c.http.aclose() for c in candidates), return_exceptions=True)
    ran = time.monotonic() - prepared
    crashed = [repr(r) for r in results if isinstance(r, BaseException)]
    assert not chaos.errors and not crashed, (
        "\n".join(chaos.errors[:20] + crashed[:5]) + f"\nserver log:\n{server.log_tail()}"
    )
    assert len(chaos.acks_at_kill) == len(KILL_AT)

    # after the last restart: every candidate resumes once more, sees every acked answer and
    # a finished attempt; finishing again is idempotent
    async with device(server) as http:
        for c in candidates:
            resp = await http.post("/api/v1/attempts", json={"token": c.token})
            assert resp.status_code == 200 and resp.json()["resumed"], resp.text
            assert resp.json()["attempt_id"] == c.attempt_id
            c.headers = {"Authorization": f"Bearer {resp.json()['secret']}"}
            state = resp.json()["state"]
            c.check_state(state)
            assert state["status"] == "completed", state
            assert len(state["answers"]) == ITEMS == len(c.acked)
            done = await http.post(f"/api/v1/attempts/{c.attempt_id}/finish", headers=c.headers)
            assert done.status_code == 200 and done.json()["status"] == "completed"
            assert done.json()["outcome"]["level"] == "A2", done.json()["outcome"]
    assert not chaos.errors, "\n".join(chaos.errors[:20])
    if app.state.settings.is_sqlite:  # the file survived two kills mid-write
        async with app.state.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA integrity_check"))).scalar() == "ok"
    acked = sum(len(c.acked) for c in candidates)
    resume = [round(ready - killed, 2) for killed, ready in chaos.windows]
    print(
        f"\nkill -9: {CANDIDATES} candidates, {acked} answers acknowledged, 0 lost; "
        f"kills after {chaos.acks_at_kill} acks; restart-to-ready {resume} s; "
        f"{chaos.connection_errors} connection errors in kill windows; "
        f"{chaos.retried_after_kill} unacked answers retried "
        f"({chaos.replays_after_kill} had been committed); requests p50 "
        f"{_ms(chaos.latencies, 0.5)} ms, p99 {_ms(chaos.latencies, 0.99)} ms; run {ran:.1f} s, "
        f"{time.monotonic() - began:.1f} s in all"
    )


def _ms(values: list[float], q: float) -> int:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]) if values else 0
