"""The candidate's page ``/take``: token entry, a start page with a sound check, one item per
page, a finish confirmation (CT) and the result or a thank-you page.

Plain HTML forms with POST-redirect-GET, so it works without JavaScript and survives reloads and
Back: the server holds all state and the attempt service (the same rules as the API) decides
what is current. ``SessionDep`` commits after the route returns and before the redirect is sent,
so a candidate only ever sees the next item once the answer is committed. Errors of the service
are rolled back (as the API's would be) and shown as sentences on the page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import delivery, pinned, rules, service
from etest.attempt import repository as attempt_repository
from etest.attempt.delivery import Current, Pending, Served
from etest.attempt.device import device_of
from etest.attempt.errors import (
    AnswerConflict,
    AttemptFinished,
    InvalidAnswer,
    TokenNotFound,
    WrongPosition,
)
from etest.attempt.outcome import AttemptStatus, Kind, PtOutcome, PtStatus
from etest.attempt.outcome import load as load_outcome
from etest.attempt.schemas import AttemptState
from etest.attempt.secret import attempt_secret, check_secret
from etest.attempt.views import item_view, state_of
from etest.candidate import accommodations
from etest.certificate import service as certificate_service
from etest.certificate.download import RendererDep, pdf_response
from etest.config import Settings
from etest.db import transaction
from etest.deps import SessionDep, SettingsDep
from etest.errors import EtestError, Forbidden, NotFound
from etest.kit import language as chain
from etest.kit.i18n import N_
from etest.kit.secrets import digest
from etest.models import Attempt, Candidate, Item, Organization, Plan, TestToken
from etest.models.base import utcnow
from etest.notification.texts import level_meaning
from etest.ops import ratelimits
from etest.organization.service import frame_ancestors
from etest.token.errors import TokenNotYetValid
from etest.web import brand, clips, cookie, embedding, language, result
from etest.web import look as page_look
from etest.web.errors import CsrfRefused
from etest.web.forms import Given, Parsed, parse_answer
from etest.web.pages import PageRoute, error_page, render
from etest.web.texts import kind_name, problem, skill_name, too_many

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# the language switcher first: ``/take/language`` is not an attempt's page
router.include_router(language.router)
router.include_router(brand.router)
router.include_router(clips.router)

MAX_TOKEN = 200

#: Short notices carried in the redirect after a POST (``?n=``), read out by a live region.
NOTICES = {
    "saved": N_("Your answer was saved."),
    "late": N_(
        "The time for the last question ran out before your answer arrived, so your answer "
        "was not counted: that question counts as wrong."
    ),
    "timeout": N_(
        "The time for the last question ran out before you answered, so that question counts "
        "as wrong."
    ),
    "answered": N_("That question was already answered. Here is your current question."),
    "moved": N_("That question is no longer open. Here is your current question."),
}

#: The notices that still make sense once the test is over (on the result or thank-you page).
END_NOTICES = ("late", "timeout")


def _timed_out_before(current: Current | Pending) -> bool:
    """Whether serving now records the open question as timed out (its time ran out with no
    answer): the hot path decided so and left it to the transaction."""
    decision = current.decision if isinstance(current, Pending) else None
    return isinstance(decision, rules.Serve | rules.Stop) and decision.time_out is not None


def _see_other(url: str) -> RedirectResponse:
    # no-store: the redirect that follows a token carries the attempt's secret in its cookie
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------------------- token entry


def _token_page(
    request: Request,
    *,
    error: str | None = None,
    status: int = 200,
    value: str = "",
    resume: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The token form, bound to this browser's form cookie (set now when it has none)."""
    settings: Settings = request.app.state.settings
    binding = cookie.form_binding(request, settings.pepper())
    response = render(
        "token.html",
        status=status,
        headers=headers,
        error=error,
        value=value,
        resume=resume,
        csrf=binding.field,
    )
    binding.keep(request, response)
    return response


def _csrf_refused() -> Response:
    return error_page(
        CsrfRefused.status,
        N_(
            "This form is out of date or did not come from this site's own page, so it was "
            "not accepted. Open the token form again and enter your token there."
        ),
        code=CsrfRefused.code,
    )


@router.get("/take")
async def token_form(
    request: Request, session: SessionDep, settings: SettingsDep, token: str | None = None
) -> Response:
    """The token form; ``/take?token=…`` (the link in an invitation) submits it at once."""
    if token is not None:
        return await _start(request, session, settings, token, link=True)
    credential = cookie.read(request)
    resume = None
    if credential is not None and check_secret(
        settings.pepper(), credential.attempt_id, credential.secret
    ):
        resume = f"/take/{credential.attempt_id}"
    return _token_page(request, resume=resume)


@router.post("/take")
async def submit_token(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The token form: only from our own page in this browser (its CSRF field matches the form
    cookie, which SameSite=Strict keeps off every other site's form)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("The test can only be started from this site's own form.")
    form = await request.form()
    if not cookie.form_csrf_ok(request, settings.pepper(), form.get("csrf")):
        return _csrf_refused()
    value = form.get("token")
    return await _start(
        request, session, settings, value if isinstance(value, str) else "", link=False
    )


def _too_many(request: Request, wait: int, value: str) -> Response:
    return _token_page(
        request,
        error=too_many(wait),
        status=429,
        value=value,
        headers={"Retry-After": str(wait)},
    )


async def _start(
    request: Request, session: AsyncSession, settings: Settings, code: str, *, link: bool
) -> Response:
    """Check the code (under the wrong-codes-per-address limit), then start or resume its
    attempt (under the starts-per-token limit) and hand the browser its credential."""
    code = code.strip()
    if not code:
        return _token_page(
            request,
            error=language.current().gettext("Enter the test token you were given."),
            status=422,
        )
    if len(code) > MAX_TOKEN:
        return _token_page(
            request,
            error=language.current().gettext(
                "This is too long to be a test token. Check that you copied only the token."
            ),
            status=422,
        )
    wait = await ratelimits.wait_for(request, ratelimits.TOKEN_FAILURES)
    if wait:
        return _too_many(request, wait, code)
    try:
        attempt, _ = await service.start(
            session,
            settings,
            code,
            device=device_of(request),
        )
        await session.flush()
    except EtestError as exc:
        await session.rollback()
        if isinstance(exc, TokenNotFound):
            await ratelimits.charge(request, ratelimits.TOKEN_FAILURES)
        error = await _refusal(request, session, settings, code, exc)
        return _token_page(request, error=error, status=exc.status, value=code)
    token_key = str(attempt.token_id)
    wait = await ratelimits.wait_for(request, ratelimits.STARTS_PER_TOKEN, token_key)
    if wait:
        await session.rollback()  # a start the limit refuses leaves nothing behind
        return _too_many(request, wait, code)
    await ratelimits.charge(request, ratelimits.STARTS_PER_TOKEN, token_key)
    target = f"/take/{attempt.id}"
    attempt_language = await _attempt_words(request, session, attempt)
    frame = await _frame_of(request, session, attempt.organization_id)
    sealed = None if frame is None else embedding.seal(settings.pepper(), attempt.id, frame)
    response: Response
    if frame is not None:
        # Embedded in an allowed platform's page: the framed cookie (SameSite=None) is sent on
        # this redirect; the hand-off lets the next page offer a new window if it is not.
        handoff = embedding.handoff(settings.pepper(), attempt.id)
        response = _see_other(f"{target}?embed={handoff}")
    elif link and request.headers.get("sec-fetch-site") not in (None, "none", "same-origin"):
        # A link followed from another site (an email, a platform): a SameSite=Strict cookie
        # set now would not be sent on a redirect of that navigation, so continue from a page
        # of our own.
        response = render("continue.html", target=target)
    else:
        response = _see_other(target)
    cookie.write(
        request, response, attempt.id, attempt_secret(settings.pepper(), attempt.id), sealed
    )
    language.remember_attempt(request, response, language.current(), attempt_language)
    return response


async def _attempt_words(request: Request, session: AsyncSession, attempt: Attempt) -> str:
    """The attempt's language (the chain over its token, candidate and organization, then the
    browser's; the switcher's choice over all: what the candidate reads), recorded on the
    attempt when it starts; the page's words become the attempt's from here on."""
    token = await session.get(TestToken, attempt.token_id)
    candidate = await session.get(Candidate, attempt.candidate_id)
    org = await session.get(Organization, attempt.organization_id)
    plan = await session.get(Plan, attempt.plan_code)
    if attempt.language is None:
        attempt.language = language.chosen(dict(request.cookies)) or chain.choose(
            token.language if token else None,
            candidate.language if candidate else None,
            chain.organization_language(org.settings if org else None),
            accept_language=request.headers.get("accept-language"),
        )
    words = language.for_attempt(
        request,
        attempt.language,
        plan.register if plan else None,
        org.timezone if org else None,
    )
    language.use(words)
    return attempt.language


async def _frame_of(
    request: Request, session: AsyncSession, organization_id: uuid.UUID
) -> embedding.Frame | None:
    """The frame of a start loaded inside another page (None when not framed, or when the
    organization lets no page frame its tests: the page is then refused by the browser)."""
    if not embedding.framed_request(request):
        return None
    org = await session.get(Organization, organization_id)
    return (
        None if org is None else embedding.frame_for(request, await frame_ancestors(session, org))
    )


async def _refusal(
    request: Request, session: AsyncSession, settings: Settings, code: str, exc: EtestError
) -> str:
    """The sentence of a refused start. A token before its test window says when it opens in
    its organization's time zone; a framed start's refusal is shown in the frame."""
    if not isinstance(exc, TokenNotYetValid) and not embedding.framed_request(request):
        return problem(exc)
    found = await attempt_repository.token_with_candidate_and_org(
        session, digest(settings.pepper(), code)
    )
    if found is None:
        return problem(exc)
    _, _, org = found
    embedding.use(await _frame_of(request, session, org.id), None)
    words = language.current()  # the time in the organization's zone (texts.problem)
    language.use(language.Words(words.language, words.register, org.timezone))
    return problem(exc)


# ---------------------------------------------------------------------------- the attempt


def _gone() -> NotFound:
    return NotFound(
        N_(
            "This test is not open in this browser. Enter your token again to go on where "
            "you left off."
        )
    )


def _credential(request: Request, attempt_id: str) -> cookie.Credential:
    """This browser's credential for the attempt named in the path (checked against the
    attempt's secret by the service, which reads the attempt)."""
    try:
        wanted = uuid.UUID(attempt_id)
    except ValueError:
        raise _gone() from None
    credential = cookie.read(request)
    if credential is None or credential.attempt_id != wanted:
        raise _gone()
    if credential.frame is not None:  # an embedded attempt: its pages may be framed
        settings: Settings = request.app.state.settings
        frame = embedding.unseal(settings.pepper(), wanted, credential.frame)
        answered = embedding.answered_position(request.query_params.get("a"))
        embedding.use(frame, wanted, answered)
    return credential


async def _authorised(
    request: Request, session: AsyncSession, settings: Settings, attempt_id: str
) -> tuple[Attempt, cookie.Credential]:
    """The attempt named in the path, when this browser's cookie holds its secret."""
    credential = _credential(request, attempt_id)
    try:
        attempt = await service.get_for_candidate(
            session, settings, credential.attempt_id, credential.secret
        )
    except NotFound:
        raise _gone() from None
    return attempt, credential


async def _posted(request: Request, attempt_id: str) -> tuple[cookie.Credential, Any]:
    """The credential and the form of a POST, the form ``None`` when its CSRF field is wrong."""
    credential = _credential(request, attempt_id)
    form = await request.form()
    return credential, form if cookie.csrf_ok(credential, form.get("csrf")) else None


def _stale_form(attempt_id: uuid.UUID) -> Response:
    return error_page(
        CsrfRefused.status,
        N_(
            "This form is out of date or did not come from this page, so it "
            "was not accepted. Go back to your test and answer again."
        ),
        back=f"/take/{attempt_id}",
        back_text=N_("Back to your test"),
        code=CsrfRefused.code,
    )


@router.get("/take/{attempt_id}")
async def attempt_page(request: Request, attempt_id: str, n: str | None = None) -> Response:
    """Whatever the attempt is at: start page, current item (the same on every reload), or
    the result. An item page costs what the API's ``GET …/item`` costs: no session unless the
    hot path hands the request over (etest.attempt.delivery)."""
    settings: Settings = request.app.state.settings
    fallback = await _embed_fallback(request, settings, attempt_id)
    if fallback is not None:
        return fallback
    credential = _credential(request, attempt_id)
    args = (settings, credential.attempt_id, credential.secret)
    try:
        current = await delivery.serve(request.app.state.live, *args, may_start=False)
        if _timed_out_before(current):
            n = "timeout"
        notice = NOTICES.get(n or "")
        notice = language.current().gettext(notice) if notice else None
        if not isinstance(current, Pending):
            return _item_page(current, credential, notice=notice)
        async with transaction(request.app.state.sessionmaker) as session:
            current = await delivery.serve_in(session, *args, current, may_start=False)
            if current.served is not None:
                return _item_page(current, credential, notice=notice)
            attempt = await session.get(Attempt, credential.attempt_id)
            assert attempt is not None  # the service found it
            if not current.started:
                return await _start_page(session, attempt, credential)
            return await _finished_page(
                session, attempt, notice=notice if n in END_NOTICES else None
            )
    except NotFound:
        raise _gone() from None


async def _embed_fallback(request: Request, settings: Settings, attempt_id: str) -> Response | None:
    """The first page after a framed start when the framed cookie did not come back (the
    browser blocks cookies in other sites' frames): with the start's hand-off, a button that
    opens the same attempt in a new window (docs/embedding.md). None: not that case."""
    handed = request.query_params.get("embed")
    if handed is None:
        return None
    try:
        wanted = uuid.UUID(attempt_id)
    except ValueError:
        return None
    credential = cookie.read(request)
    if credential is not None and credential.attempt_id == wanted:
        return None
    if not embedding.handoff_ok(settings.pepper(), wanted, handed):
        return None
    async with transaction(request.app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, wanted)
        org = None if attempt is None else await session.get(Organization, attempt.organization_id)
        origins = [] if org is None else await frame_ancestors(session, org)
    embedding.use(embedding.Frame(tuple(origins)), wanted)
    return render("embed_window.html", window=f"/take/{wanted}/window?embed={handed}")


def _remaining(deadline: datetime | None, now: datetime) -> float | None:
    return None if deadline is None else max(0.0, (deadline - now).total_seconds())


async def _look(session: AsyncSession, attempt: Attempt) -> page_look.Look:
    """The page's brand and theme, the logo named by the organization's name."""
    org = await session.get(Organization, attempt.organization_id)
    return page_look.of(attempt, org.name if org is not None else "")


@router.post("/take/{attempt_id}/theme")
async def choose_theme(
    request: Request, session: SessionDep, settings: SettingsDep, attempt_id: str
) -> Response:
    """The candidate's own theme (larger text, high contrast): kept with the attempt, so it
    follows them to another device; the accommodation staff set is only the default."""
    credential, form = await _posted(request, attempt_id)
    if form is None:
        return _stale_form(credential.attempt_id)
    attempt, _ = await _authorised(request, session, settings, attempt_id)
    chosen = form.get("theme")
    if chosen in accommodations.THEMES:
        attempt.accommodations = {**(attempt.accommodations or {}), page_look.CHOSEN: chosen}
    return _see_other(f"/take/{attempt.id}")


async def _start_page(
    session: AsyncSession, attempt: Attempt, credential: cookie.Credential
) -> Response:
    facts = await service.start_facts(session, attempt)
    version = facts.version
    engine = version.version.engine
    limit = engine.get("time_limit_seconds")
    needs = accommodations.read(attempt.accommodations)
    if limit:  # the limit as the server will hold it: with the candidate's extra time
        limit = rules.extended(limit, needs.extra_time)
    return render(
        "start.html",
        attempt=attempt,
        title=version.version.title,
        kind=kind_name(attempt.kind),
        total=pinned.planned_total(version, attempt),
        time_limit_minutes=round(limit / 60) if limit else None,
        extra_time=needs.extra_time if needs.extra_time > 1 else None,
        remaining=_remaining(attempt.deadline, utcnow()),
        item_limits=facts.item_limits,
        listening=facts.listening,
        csrf=cookie.csrf_token(credential),
        look=await _look(session, attempt),
    )


@router.post("/take/{attempt_id}/start")
async def start_items(request: Request, attempt_id: str) -> Response:
    credential, form = await _posted(request, attempt_id)
    if form is None:
        return _stale_form(credential.attempt_id)
    settings: Settings = request.app.state.settings
    args = (settings, credential.attempt_id, credential.secret)
    try:  # the first item: it starts the clock
        current = await delivery.serve(request.app.state.live, *args)
        if isinstance(current, Pending):
            async with transaction(request.app.state.sessionmaker) as session:
                await delivery.serve_in(session, *args, current)
    except NotFound:
        raise _gone() from None
    return _see_other(f"/take/{credential.attempt_id}")


def _item_page(
    current: Current,
    credential: cookie.Credential,
    *,
    notice: str | None = None,
    error: str | None = None,
    given: Given | None = None,
) -> Response:
    served, item, attempt = current.served, current.item, current.attempt
    assert served is not None and item is not None
    answered = served.position - 1  # every position before the open one is answered
    view = clips.recordings(
        item_view(served, item, answered, current.total),
        item,
        attempt.id,
        served.position,
        attempt.accommodations,
    )
    now = utcnow()
    timers = []
    if served.deadline is not None and served.deadline != attempt.deadline:
        timers.append(
            ("question", N_("Time left for this question"), _remaining(served.deadline, now))
        )
    if attempt.deadline is not None:
        timers.append(("test", N_("Time left for the test"), _remaining(attempt.deadline, now)))
    return render(
        "item.html",
        status=422 if error else 200,
        attempt=attempt,
        item=view,
        kind=attempt.kind,
        answered=answered,
        total=current.total,
        timers=timers,
        notice=notice,
        error=language.current().gettext(error) if error else None,
        given=given or Given(),
        csrf=cookie.csrf_token(credential),
        look=page_look.of(attempt),
        may_pause=_may_pause(attempt, served.deadline),
    )


def _may_pause(attempt: rules.Facts, item_deadline: datetime | None) -> bool:
    """Pausing is for untimed tests only: no clock on the test or on the open question (a
    timed test ignores the accommodation; staff are told so where they set it)."""
    needs = accommodations.read(attempt.accommodations)
    return needs.pause_allowed and attempt.deadline is None and item_deadline is None


@router.post("/take/{attempt_id}/pause")
async def pause(
    request: Request, session: SessionDep, settings: SettingsDep, attempt_id: str
) -> Response:
    """Leave an untimed test open and this browser without it: the candidate comes back with
    the same link or token (the attempt is resumed where it was). Nothing about the attempt
    changes; the /take cookie is removed, so a shared computer keeps no test open."""
    credential, form = await _posted(request, attempt_id)
    if form is None:
        return _stale_form(credential.attempt_id)
    attempt, _ = await _authorised(request, session, settings, attempt_id)
    if attempt.status != AttemptStatus.in_progress or attempt.deadline is not None:
        return _see_other(f"/take/{attempt.id}")
    response = render("paused.html", look=await _look(session, attempt))
    cookie.forget(response, credential)  # a framed cookie too (web.cookie)
    return response


class _FormReader:
    """Reads the answer from the page's form once the served item is known (the service's
    :data:`~etest.attempt.delivery.Reader`), keeping what it saw to show the form again."""

    def __init__(self, form: Any, position: int) -> None:
        self.form, self.position = form, position
        self.parsed: Parsed | None = None
        self.item: Item | None = None
        self.served: Any = None

    def __call__(self, item: Item, served: Any) -> Any:
        self.item, self.served = item, served
        self.parsed = parse_answer(
            item.type, self.form, served.option_order, served.target_order, item=item
        )
        if self.parsed.error is not None:
            raise InvalidAnswer(self.parsed.error)
        return self.parsed.answer


@router.post("/take/{attempt_id}/answer")
async def answer(request: Request, attempt_id: str) -> Response:
    """Answer through the same service as the API's ``POST …/responses`` (the same statements),
    then redirect to the next item."""
    credential, form = await _posted(request, attempt_id)
    if form is None:
        return _stale_form(credential.attempt_id)
    settings: Settings = request.app.state.settings
    page = f"/take/{credential.attempt_id}"
    raw = form.get("position")
    position = (
        int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 6 else 0
    )
    read = _FormReader(form, position)
    args = (settings, credential.attempt_id, credential.secret, position, read, device_of(request))
    try:
        ack = await delivery.answer(request.app.state.live, *args)
        if isinstance(ack, Pending):
            async with transaction(request.app.state.sessionmaker) as session:
                ack = await delivery.answer_in(session, *args, pending=ack)
    except NotFound:
        raise _gone() from None
    except WrongPosition:
        return _see_other(f"{page}?n=moved")
    except AnswerConflict:
        return _see_other(f"{page}?n=answered")
    except AttemptFinished:
        return _see_other(page)
    except EtestError as exc:  # the answer's shape was refused (by the form or the service)
        async with transaction(request.app.state.sessionmaker) as session:
            return await _refused(session, credential, read, exc.detail)
    # an embedded attempt's next page posts etest:answered with this position
    answered = f"&a={position}" if credential.frame is not None else ""
    return _see_other(f"{page}?n={'late' if ack.timed_out else 'saved'}{answered}")


async def _refused(
    session: AsyncSession, credential: cookie.Credential, read: _FormReader, error: str
) -> Response:
    """The item again with the reason its answer was refused, unless it is answered or the
    attempt finished meanwhile."""
    page = f"/take/{credential.attempt_id}"
    attempt = await session.get(Attempt, credential.attempt_id)
    served, item = read.served, read.item
    if served is None or item is None or attempt is None:
        return _see_other(page)
    if served.answered_at is not None or attempt.status != AttemptStatus.in_progress:
        return _see_other(f"{page}?n=answered")
    version = await pinned.load_version(session, attempt.assessment_version_id)
    shown = Served(
        read.position, served.served_at, served.deadline, served.option_order, served.target_order
    )
    return _item_page(
        Current(shown, item, attempt, pinned.planned_total(version, attempt)),
        credential,
        error=error,
        given=read.parsed.given if read.parsed else None,
    )


# ---------------------------------------------------------------------------- finishing


@router.get("/take/{attempt_id}/finish")
async def finish_confirm(
    request: Request, session: SessionDep, settings: SettingsDep, attempt_id: str
) -> Response:
    """Only a CT can be finished early; a PT ends by itself when the level is clear."""
    attempt, credential = await _authorised(request, session, settings, attempt_id)
    if (
        attempt.kind != Kind.CT
        or attempt.status != AttemptStatus.in_progress
        or await service.expire_if_due(session, attempt)
    ):
        return _see_other(f"/take/{attempt.id}")
    state = await state_of(session, attempt)
    return render(
        "finish.html",
        attempt=attempt,
        answered=state.progress.answered,
        total=state.progress.total,
        csrf=cookie.csrf_token(credential),
        look=await _look(session, attempt),
    )


@router.post("/take/{attempt_id}/finish")
async def finish(
    request: Request, session: SessionDep, settings: SettingsDep, attempt_id: str
) -> Response:
    credential, form = await _posted(request, attempt_id)
    if form is None:
        return _stale_form(credential.attempt_id)
    attempt, _ = await _authorised(request, session, settings, attempt_id)
    if attempt.kind == Kind.CT and not await service.expire_if_due(session, attempt):
        await service.finish(session, attempt, reason="finished")
    return _see_other(f"/take/{attempt.id}")


async def _finished_page(
    session: AsyncSession, attempt: Attempt, *, notice: str | None = None
) -> Response:
    state: AttemptState = await state_of(session, attempt)
    ended_by_time = attempt.finish_reason == "deadline"
    look = await _look(session, attempt)
    if state.outcome is None or attempt.outcome is None:  # hidden from the candidate
        return render(
            "thanks.html",
            attempt=attempt,
            kind=kind_name(attempt.kind),
            ended_by_time=ended_by_time,
            notice=notice,
            look=look,
        )
    outcome = load_outcome(attempt.outcome)
    if isinstance(outcome, PtOutcome):
        areas = [
            skill_name(s)
            for s in outcome.areas_for_improvement
            if s not in outcome.skills or outcome.skills[s].accuracy < 1
        ][:3]
        level = outcome.level or ""
        return render(
            "result_pt.html",
            attempt=attempt,
            level=level,
            meaning=level_meaning(level, language.current().language),
            areas=areas,
            answered=outcome.answered,
            ended_by_time=ended_by_time,
            unplaced=outcome.status == PtStatus.unplaced,
            needed=outcome.min_answers,
            notice=notice,
            look=look,
            **await result.placement_context(session, attempt, outcome),
        )
    return render(
        "result_ct.html",
        attempt=attempt,
        outcome=outcome,
        ended_by_time=ended_by_time,
        notice=notice,
        look=look,
        certificate_download=await certificate_service.candidate_download_allowed(session, attempt),
    )


@router.get("/take/{attempt_id}/certificate.pdf")
async def take_certificate(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    render_pdf: RendererDep,
    attempt_id: str,
) -> Response:
    """The download link of the CT result page (the browser holds the attempt secret in the
    ``/take`` cookie)."""
    credential = cookie.read(request)
    if credential is None or str(credential.attempt_id) != attempt_id:
        raise NotFound(N_("This test is not open in this browser. Enter your token again."))
    attempt = await service.get_for_candidate(
        session, settings, credential.attempt_id, credential.secret
    )
    certificate = await certificate_service.for_candidate(session, settings, attempt)
    return await pdf_response(session, settings, render_pdf, certificate)


# ---------------------------------------------------------------------------- the rest


@router.get("/take/{attempt_id}/window")
async def open_in_window(request: Request, attempt_id: str, embed: str | None = None) -> Response:
    """The fallback of an embedded test: the same attempt in a window of its own, where the
    cookie is first-party (the link carries the framed start's short-lived hand-off)."""
    settings: Settings = request.app.state.settings
    try:
        wanted = uuid.UUID(attempt_id)
    except ValueError:
        raise _gone() from None
    if not embedding.handoff_ok(settings.pepper(), wanted, embed):
        raise _gone()
    response = _see_other(f"/take/{wanted}")
    cookie.write(request, response, wanted, attempt_secret(settings.pepper(), wanted))
    return response


@router.get("/take/{attempt_id}/{rest:path}")
async def not_a_page(attempt_id: str, rest: str) -> Response:
    return error_page(
        404, N_("There is no such page. Check the address, or enter your token again.")
    )
