"""Console pages: results (docs/console/results.md).

``/console/results`` lists finished attempts of the staff member's subtree through
``result.service.list_results`` (the function behind ``GET /api/v1/results``), filtered by a
GET form that works without JavaScript; ``/console/results/<attempt_id>`` shows one result
through ``result.service.get_result`` and its answer-by-answer log through
``result.service.answer_log``. A result outside the subtree is the console's one 404 page."""

from __future__ import annotations

import math
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from etest.console import fields
from etest.console.charts import Bar, bar_chart, probability_chart
from etest.console.i18n import N_, translator
from etest.console.pages import ConsoleRoute, error_page, render
from etest.console.session import StaffDep
from etest.deps import SessionDep
from etest.errors import EtestError, NotFound
from etest.kit.levels import LEVELS
from etest.kit.pagination import Pagination
from etest.result import service
from etest.result.schemas import ResultDetail

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 25
#: The outcome filter's choices: (value, label, the service's filters)
OUTCOMES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("passed", N_("Passed (certification)"), {"passed": True}),
    ("failed", N_("Failed (certification)"), {"passed": False}),
    ("needs_review", N_("Failed, needs review"), {"status": "needs_review"}),
    ("placed", N_("Placed (placement)"), {"status": "placed"}),
    ("unplaced", N_("Unplaced (too few answers)"), {"status": "unplaced"}),
)
TYPES = (("PT", N_("Placement test")), ("CT", N_("Certification test")))
REVIEWS = (("pending", N_("Review pending")), ("decided", N_("Review decided")))
SCOPES = (("subtree", N_("This organization and those below it")), ("only", N_("Only this one")))


@dataclass
class Filters:
    """The list form as typed, and the errors found in it (by field)."""

    type: str = ""
    level: str = ""
    uic: str = ""
    scope: str = "subtree"
    date_from: str = ""
    date_to: str = ""
    outcome: str = ""
    review: str = ""
    q: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> str:
        """The filters as a query string (without ``page``) for the pager's links."""
        pairs = {
            "type": self.type,
            "level": self.level,
            "uic": self.uic,
            "scope": self.scope if self.uic else "",
            "from": self.date_from,
            "to": self.date_to,
            "outcome": self.outcome,
            "review": self.review,
            "q": self.q,
        }
        return urllib.parse.urlencode({k: v for k, v in pairs.items() if v})

    @property
    def any(self) -> bool:
        return bool(self.query())


@dataclass(frozen=True)
class PageInfo:
    page: int
    pages: int
    total: int


def _clean(value: str | None, limit: int = 200) -> str:
    text = (value or "").strip()[:limit]
    return "".join(ch for ch in text if ch >= " ")


def _day(value: str, name: str, errors: dict[str, str]) -> datetime | None:
    found = fields.day(value)
    if value and found is None:
        errors[name] = N_("Enter a date as YYYY-MM-DD.")
    return fields.start_of(found) if found else None


def _read(params: Any) -> tuple[Filters, dict[str, Any], int]:
    """The form's values, the service's keyword arguments and the page number; problems go
    into ``Filters.errors`` (the service still checks everything it is given)."""
    f = Filters(
        type=_clean(params.get("type")),
        level=_clean(params.get("level"), 32),
        uic=_clean(params.get("uic"), 64),
        scope=_clean(params.get("scope")) or "subtree",
        date_from=_clean(params.get("from"), 10),
        date_to=_clean(params.get("to"), 10),
        outcome=_clean(params.get("outcome")),
        review=_clean(params.get("review")),
        q=_clean(params.get("q")),
    )
    kwargs: dict[str, Any] = {}
    if f.type:
        if f.type in dict(TYPES):
            kwargs["kind"] = f.type
        else:
            f.errors["type"] = N_("Choose a type from the list.")
    if f.level:
        kwargs["level"] = f.level  # the service resolves spellings and refuses unknown levels
    if f.uic:
        kwargs["uic"] = f.uic.upper()
        kwargs["include_descendants"] = f.scope != "only"
    start = _day(f.date_from, "from", f.errors)
    end = _day(f.date_to, "to", f.errors)
    if start is not None:
        kwargs["finished_from"] = start
    if end is not None:
        kwargs["finished_to"] = end + timedelta(days=1)  # the "to" day is included
    if f.outcome:
        found = {v: filters for v, _, filters in OUTCOMES}.get(f.outcome)
        if found is None:
            f.errors["outcome"] = N_("Choose an outcome from the list.")
        else:
            kwargs.update(found)
    if f.review:
        if f.review in dict(REVIEWS):
            kwargs["review"] = f.review
        else:
            f.errors["review"] = N_("Choose a review state from the list.")
    if f.q:
        kwargs["search"] = f.q
    try:
        page = max(1, min(int(params.get("page") or 1), 1_000_000))
    except ValueError:
        page = 1
    return f, kwargs, page


_FIELD_OF_CODE = {
    "unknown-level": "level",
    "not-found": "uic",
    "reversed-date-range": "to",
}


@router.get("/results")
async def results(request: Request, staff: StaffDep, session: SessionDep) -> Response:
    actor = staff.actor
    actor.require("read")
    f, kwargs, number = _read(request.query_params)
    rows: list[Any] = []
    info = PageInfo(1, 0, 0)
    if not f.errors:
        try:
            found = await service.list_results(
                session, actor, Pagination(page=number, per_page=PER_PAGE), **kwargs
            )
        except EtestError as exc:
            name = _FIELD_OF_CODE.get(exc.code)
            if name is None or exc.status not in (404, 422):
                raise
            f.errors[name] = {
                "uic": N_("No organization with this UIC among yours."),
                "to": N_("The last day must not be before the first day."),
            }.get(name, exc.detail)
        else:
            rows = found.items
            info = PageInfo(found.page, math.ceil(found.total / PER_PAGE), found.total)
    return render(
        request,
        staff,
        "console/results/list.html",
        status=422 if f.errors else 200,
        f=f,
        rows=rows,
        info=info,
        levels=LEVELS,
        types=TYPES,
        outcomes=[(v, label) for v, label, _ in OUTCOMES],
        reviews=REVIEWS,
        scopes=SCOPES,
    )


def _probabilities(result: ResultDetail) -> list[tuple[str, float]]:
    probs = result.level_probabilities or {}
    return sorted(
        probs.items(), key=lambda p: (LEVELS.index(p[0]) if p[0] in LEVELS else len(LEVELS), p[0])
    )


def _charts(result: ResultDetail, language: str) -> dict[str, Any]:
    _ = translator(language)
    out: dict[str, Any] = {"probability_chart": None}
    if result.skills:
        out["skill_chart"] = bar_chart(
            [
                Bar(
                    s.skill.capitalize(),
                    s.accuracy * 100,
                    _(
                        "%(p)s %% (%(c)s of %(n)s)",
                        p=round(s.accuracy * 100),
                        c=s.correct,
                        n=s.served,
                    ),
                )
                for s in result.skills
            ],
            title=_("Right answers by skill"),
            desc=_(
                "One bar per skill: the share of its served items answered right. The table "
                "below has the same numbers."
            ),
            headers=(_("Skill"), _("Right")),
            max_value=100,
            with_table=False,
        )
    else:
        out["skill_chart"] = None
    probs = _probabilities(result)
    if result.kind == "PT" and probs:
        out["probability_chart"] = probability_chart(
            probs,
            title=_("How sure the placement is"),
            desc=_(
                "The probability of each level near the result; the placed level is %(level)s.",
                level=result.level or "–",
            ),
            headers=(_("Level"), _("Probability")),
            highlight=result.level,
            highlight_note=_("placed"),
            table_hidden=True,
        )
    return out


@router.get("/results/{attempt_id}")
async def result_page(
    request: Request, staff: StaffDep, session: SessionDep, attempt_id: str
) -> Response:
    try:
        key = uuid.UUID(attempt_id)
    except ValueError:
        return error_page(request, 404, "")
    actor = staff.actor
    try:
        result = await service.get_result(session, actor, key)
    except NotFound:
        return error_page(request, 404, "")
    log = await service.answer_log(session, actor, key)
    template = "console/results/pt.html" if result.kind == "PT" else "console/results/ct.html"
    return render(
        request,
        staff,
        template,
        r=result,
        log=log,
        reads_keys=actor.reads_keys,
        withheld=any(line.answer_withheld for line in log),
        **_charts(result, staff.account.language),
    )
