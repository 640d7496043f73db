"""One step of a candidate's run in the reliability tests (``tests/reliability``): get the
current item and answer it right, checking on the way that a position is always served the
same. The tests differ in what they do when a request gets no response (the server was killed
under it), so a step reports that and leaves it to them."""

from __future__ import annotations

import enum
from typing import Any, Protocol

import httpx

from tests.reliability.conftest import fingerprint, right_answer


class Step(enum.Enum):
    ANSWERED = "answered"  # the answer was acknowledged (200)
    FINISHED = "finished"  # the attempt is finished; its state has been checked
    NO_RESPONSE = "no response"  # a request died with the server: the test recovers
    FAILED = "failed"  # an unexpected status, recorded with ``candidate.fail``


class Answering(Protocol):
    """What a step needs of a test's candidate."""

    n: int
    attempt_id: str
    seen: dict[int, tuple[Any, ...]]  # position -> fingerprint of the item served there
    sent: dict[int, Any]  # every answer sent, acknowledged or not
    acked: dict[int, Any]  # the answers that got a 200
    unacked: tuple[int, Any] | None  # the answer sent last, until it gets its 200
    finished: bool

    def fail(self, message: str) -> None: ...

    async def call(self, method: str, url: str, **kw: Any) -> httpx.Response | None: ...

    def check_state(self, state: dict[str, Any]) -> None: ...


async def step(candidate: Answering, served_differently: str) -> Step:
    """GET the current item; when the attempt is finished, check its state; otherwise answer
    the item right and record the answer as sent, then as acknowledged once it gets a 200.
    ``served_differently`` ends the failure message when a position comes back as another
    item (e.g. "after a restart")."""
    resp = await candidate.call("GET", f"/api/v1/attempts/{candidate.attempt_id}/item")
    if resp is None:
        return Step.NO_RESPONSE
    if resp.status_code != 200:
        candidate.fail(f"item: {resp.status_code} {resp.text[:300]}")
        return Step.FAILED
    body = resp.json()
    if body["finished"]:
        candidate.finished = True
        candidate.check_state(body["state"])
        return Step.FINISHED
    item = body["item"]
    position = item["position"]
    if position in candidate.seen and candidate.seen[position] != fingerprint(item):
        candidate.fail(f"position {position} served differently {served_differently}")
    candidate.seen[position] = fingerprint(item)
    answer = right_answer(item, candidate.n + position)
    candidate.sent[position] = answer
    candidate.unacked = (position, answer)
    resp = await candidate.call(
        "POST",
        f"/api/v1/attempts/{candidate.attempt_id}/responses",
        json={"position": position, "answer": answer},
    )
    if resp is None:
        return Step.NO_RESPONSE
    if resp.status_code != 200:
        candidate.fail(f"answer {position}: {resp.status_code} {resp.text[:300]}")
        return Step.FAILED
    candidate.unacked = None
    candidate.acked[position] = answer
    return Step.ANSWERED
