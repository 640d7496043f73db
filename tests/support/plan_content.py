"""Content for the reference plans the shared test trees use (a token is refused for a test
with no content loaded): one reading item per level, a staged placement test and a one-item
certification test per level, under the plans' own assessment codes.

Version 1000 keeps clear of the demo bank's flows (version 1), which a content test imports
into the same database and rolls back."""

from __future__ import annotations

from typing import Any

import httpx

from etest.kit.levels import LEVELS
from tests.support.flows import import_flows

#: The plans the tests give organizations and candidates.
PLANS = ("neo_plus", "neo_jr", "neo_pro")
VERSION = 1000


def _slug(level: str) -> str:
    return level.replace("+", "p").replace(" ", "").replace("-", "").lower()


def _item(level: str) -> dict[str, Any]:
    # pilot, not active: a flow that pools "every active item of a level" never takes these
    return {
        "code": f"plan-fixture-{_slug(level)}",
        "type": "single_choice",
        "status": "pilot",
        "skill": "reading",
        "level": level,
        "prompt": f"Reading at {level}",
        "options": [{"id": "A", "text": "yes"}, {"id": "B", "text": "no"}],
        "key": {"correct": ["A"]},
        # a placement test is published with its simulated evidence, which needs IRT parameters
        "irt": {"b": LEVELS.index(level) * 0.5 - 2.5},
    }


def flows(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A bank with an item per level, then each plan's PT and CTs."""
    levels = [lv["level"] for plan in plans for lv in plan["levels"]]
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": "bank-plan-fixture",
        "version": VERSION,
        "title": "Plan fixture bank",
        "items": [_item(lv) for lv in dict.fromkeys(levels)],
    }
    out: list[dict[str, Any]] = [bank]
    for plan in plans:
        out.append(
            {
                "format": "etest-flow/1",
                "kind": "PT",
                "code": plan["pt_assessment"],
                "version": VERSION,
                "title": "Placement",
                "plan": plan["code"],
                "engine": {
                    "type": "staged",
                    "groups": [
                        {"level": lv["level"], "items": [_item(lv["level"])["code"]]}
                        for lv in plan["levels"]
                    ],
                },
            }
        )
        for lv in plan["levels"]:
            out.append(
                {
                    "format": "etest-flow/1",
                    "kind": "CT",
                    "code": lv["ct_assessment"],
                    "version": VERSION,
                    "title": f"Certification {lv['level']}",
                    "plan": plan["code"],
                    "level": lv["level"],
                    "engine": {
                        "type": "fixed",
                        "sections": [
                            {"skill": "reading", "count": 1, "pool": [_item(lv["level"])["code"]]}
                        ],
                    },
                }
            )
    return out


async def import_plan_content(client: httpx.AsyncClient, su: dict[str, str]) -> None:
    """Import (idempotently) content for :data:`PLANS` through the real content API."""
    plans = [(await client.get(f"/api/v1/plans/{code}")).json() for code in PLANS]
    await import_flows(client, su, *flows(plans))
