"""What a candidate is shown of an attempt: the item being served (without its key) and the
attempt's state, with the part of the outcome the organization lets the candidate see. Built here
once for the API (``etest.attempt.endpoints``) and the pages (``etest.web.take``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import pinned
from etest.attempt.delivery import Served
from etest.attempt.outcome import AttemptStatus, Kind, dump, load
from etest.attempt.rules import Facts
from etest.attempt.schemas import (
    AnswerView,
    AttemptState,
    GapView,
    ItemView,
    MediaView,
    OptionView,
    Progress,
    StimulusView,
)
from etest.attempt.service import positions
from etest.content.schemas import MARKER
from etest.models import Attempt, AttemptItem, Item, Organization

#: What a candidate may see of an outcome (the rest is for admins and reports).
_PT_FIELDS = (
    "kind",
    "status",
    "level",
    "position",
    "level_probabilities",
    "correct",
    "answered",
    "served",
    "min_answers",
    "skills",
    "areas_for_improvement",
    "duration_seconds",
    "finish_reason",
)
_CT_FIELDS = (
    "kind",
    "score",
    "pass_mark",
    "passed",
    "status",
    "total",
    "correct",
    "incorrect",
    "answered",
    "served",
    "cant_do",
    "review_list",
    "continue_package",
    "next_level",
    "attempt_number",
    "duration_seconds",
    "finish_reason",
    "skills",
)


def _media(ref: dict[str, Any] | None) -> MediaView | None:
    if not ref:
        return None
    other = ref.get("alternative")
    return MediaView(
        url=f"/media/{ref['media']}",
        content_type=ref["content_type"],
        alt=ref.get("alt"),
        alternative=_media(other) if other else None,
    )


def _options(
    options: list[dict[str, Any]], order: list[str], *, uses: bool = False
) -> list[OptionView]:
    by_id = {o["id"]: o for o in options}
    return [
        OptionView(
            id=i,
            text=by_id[i].get("text"),
            image=_media(by_id[i].get("image")),
            audio=_media(by_id[i].get("audio")),
            max_uses=int(by_id[i].get("max_uses", 1)) if uses else None,
        )
        for i in order
        if i in by_id
    ]


def _gaps(item: Item) -> list[GapView]:
    """The gaps in the order they stand in the body; an inline choice's choices in their
    authored order (the served row keeps the order of the item's options only)."""
    where = {m: n for n, m in enumerate(MARKER.findall(item.body or ""))}
    gaps = sorted(item.gaps or [], key=lambda g: where.get(g["id"], len(where)))
    return [
        GapView(
            id=g["id"],
            choices=_options(g.get("choices") or [], [c["id"] for c in g.get("choices") or []]),
            expected_length=g.get("expected_length"),
        )
        for g in gaps
    ]


def choose_one(item: Item) -> bool:
    """Whether a hottext item is answered with one piece of the text (its key names one): the
    candidate is told, as a single_choice item's type tells it."""
    return len(item.key.get("correct") or ()) == 1


async def _total(session: AsyncSession, attempt: Facts) -> int | None:
    version = await pinned.load_version(session, attempt.assessment_version_id)
    return pinned.planned_total(version, attempt)


def item_view(
    served: AttemptItem | Served, item: Item, answered: int, total: int | None
) -> ItemView:
    stim = item.stimulus
    return ItemView(
        position=served.position,
        type=item.type,
        skill=item.skill,
        prompt=item.prompt,
        stimulus=None
        if not stim
        else StimulusView(
            text=stim.get("text"), image=_media(stim.get("image")), audio=_media(stim.get("audio"))
        ),
        options=_options(item.options, served.option_order, uses=item.type == "gap_match"),
        targets=_options(item.targets, served.target_order),
        body=item.body,
        gaps=_gaps(item),
        max_choices=(1 if choose_one(item) else 0) if item.type == "hottext" else None,
        served_at=served.served_at,
        deadline=served.deadline,
        progress=Progress(answered=answered, total=total),
    )


async def state_of(session: AsyncSession, attempt: Attempt, *, fresh: bool = False) -> AttemptState:
    """The attempt's state for the candidate (``fresh``: just started, nothing served yet)."""
    rows = [] if fresh else await positions(session, attempt.id)
    responses = [r for r in rows if r.answered_at is not None]
    served = [r.position for r in rows]
    org = await session.get(Organization, attempt.organization_id)
    show = bool(org is None or org.settings.get("show_result_to_candidate", True))
    outcome = None
    if attempt.outcome is not None and show:
        # through the type, so outcomes stored by earlier versions read as the results API
        # reads them (etest.attempt.outcome)
        stored = dump(load(attempt.outcome))
        fields = _PT_FIELDS if attempt.kind == Kind.PT else _CT_FIELDS
        outcome = {k: stored.get(k) for k in fields}
        if "points" in stored:  # credit earned, when items scored per gap were served
            outcome["points"] = stored["points"]
    open_positions = sorted(set(served) - {r.position for r in responses})
    return AttemptState(
        id=attempt.id,
        kind=attempt.kind,
        level=attempt.level,
        status=attempt.status,
        attempt_number=attempt.attempt_number,
        started_at=attempt.started_at,
        deadline=attempt.deadline,
        finished_at=attempt.finished_at,
        progress=Progress(answered=len(responses), total=await _total(session, attempt)),
        answers=[
            AnswerView(
                position=r.position,
                answer=r.answer,
                timed_out=r.timed_out,
                answered_at=r.answered_at,
            )
            for r in responses
        ],
        current_position=open_positions[0]
        if open_positions and attempt.status == AttemptStatus.in_progress
        else None,
        outcome=outcome,
        result_hidden=attempt.outcome is not None and not show,
    )
