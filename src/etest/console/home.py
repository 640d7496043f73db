"""The home page: what matters now for the signed-in staff member (docs/console/home.md).

An organization role (and a global superadmin) sees its subtree: tests running, finished in the
last seven days, placements by level and certification pass rates by level (charts over a
period it picks), pending reviews, failing callbacks and tokens about to expire, each with a
link to the page that deals with it. A content manager sees no organization: it gets the item
bank by status and level. The counts come from ``etest.result.dashboard``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from etest.console.charts import Bar, bar_chart
from etest.console.i18n import translator
from etest.console.pages import ConsoleRoute, render
from etest.console.session import StaffDep
from etest.deps import SessionDep
from etest.models.base import utcnow
from etest.result import dashboard

router = APIRouter(route_class=ConsoleRoute)


def _days(raw: str | None) -> int:
    try:
        return dashboard.period(int(raw)) if raw else dashboard.PERIODS[0]
    except ValueError:
        return dashboard.PERIODS[0]


def _charts(home: dashboard.TenantHome, language: str) -> dict[str, Any]:
    _ = translator(language)
    total = home.placements_total
    placements = [
        Bar(
            _("Unplaced") if level == dashboard.UNPLACED else level,
            n,
            _("%(n)s (%(p)s %%)", n=n, p=round(100 * n / total)) if total else str(n),
        )
        for level, n in home.placements
    ]
    rates = [
        Bar(
            r.level,
            r.rate * 100,
            _(
                "%(p)s %% (%(passed)s of %(taken)s)",
                p=round(r.rate * 100),
                passed=r.passed,
                taken=r.taken,
            ),
        )
        for r in home.pass_rates
    ]
    return {
        "placement_chart": bar_chart(
            placements,
            title=_("Placement results by level, last %(days)s days", days=home.days),
            desc=_(
                "%(n)s placement tests finished; one bar per level, the number placed there.",
                n=total,
            ),
            headers=(_("Level"), _("Placed")),
        )
        if placements
        else None,
        "pass_chart": bar_chart(
            rates,
            title=_("Certification pass rate by level, last %(days)s days", days=home.days),
            desc=_("One bar per level: the share of certification tests passed, in percent."),
            headers=(_("Level"), _("Passed")),
            max_value=100,
        )
        if rates
        else None,
    }


@router.get("")
async def home(
    request: Request, staff: StaffDep, session: SessionDep, days: str | None = None
) -> Response:
    actor = staff.actor
    if not actor.sees_tenants:
        bank = await dashboard.bank_home(session, actor) if actor.can("manage_content") else None
        return render(request, staff, "console/home.html", tenant=None, bank=bank)
    summary = await dashboard.tenant_home(session, actor, utcnow(), _days(days))
    return render(
        request,
        staff,
        "console/home.html",
        tenant=summary,
        bank=None,
        periods=dashboard.PERIODS,
        **_charts(summary, staff.account.language),
    )
