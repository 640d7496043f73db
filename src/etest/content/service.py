"""Content import: validate every source first, then write everything in the caller's
transaction, or nothing.

Idempotent by (code, version): a file imported again with the same bytes changes nothing; the
same (code, version) with other content is refused (publish a new version instead). A new
version of a flow serves new attempts; started attempts keep the version (and the item versions)
they pinned. QTI content has no version: a changed package becomes the next version.

A new placement-test version is published only through the publish checks registered with
:func:`on_publish` (``etest.tasks`` registers the evidence check of ``etest.bank.evidence``,
which ``content`` cannot import): they run in the import's transaction once the version row is
built, before anything is committed, and refuse it by raising.

The CPU-heavy parts (unzip, parse, validate, read and hash media, sanitise and hash items) run
in worker threads (``anyio.to_thread``); the database work stays on the event loop, so a large
import does not stall the other requests of its process."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.config import Settings, get_settings
from etest.content import repository
from etest.content.errors import ContentInvalid
from etest.content.media import MediaStore, content_type_of, media_problem
from etest.content.sanitize import clean_html
from etest.content.schemas import (
    FixedEngine,
    FlowFile,
    IrtEngine,
    ItemIn,
    ItemStatus,
    MediaRef,
    Option,
    Skill,
    StagedEngine,
)
from etest.content.sources import Problem, Source, sources_from_bytes
from etest.errors import NotFound
from etest.kit.levels import canonical_level
from etest.models import (
    Assessment,
    AssessmentVersion,
    CanDoStatement,
    ContentImport,
    Item,
    MediaObject,
    ReviewLesson,
)
from etest.plan import repository as plan_repository


@dataclass
class FileReport:
    file: str
    kind: str | None
    code: str | None
    version: int | None
    status: str  # imported | unchanged | skipped
    reason: str | None = None
    items_new: int = 0
    items_reused: int = 0
    can_do: int = 0
    review_lessons: int = 0
    media: int = 0


@dataclass
class ImportResult:
    files: list[FileReport] = field(default_factory=list)
    qti: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"files": [asdict(f) for f in self.files], "qti": self.qti}


@dataclass(frozen=True)
class Publication:
    """A new placement-test version about to be published, as a publish check sees it: the
    version row (added to the session, not committed; a check may still change its ``engine``,
    ``evidence`` and ``override_reason``), the flow it was imported from (its ``evidence``
    thresholds, its engine's settings), the settings, and a superadmin's reason to publish it
    below the thresholds (``None``: none given)."""

    version: AssessmentVersion
    flow: FlowFile
    settings: Settings
    override_reason: str | None


PublishCheck = Callable[[AsyncSession, Actor, Publication], Awaitable[None]]
"""A check run on every new placement-test version before it is committed: it may complete the
version (evidence, exposure control) and refuses it by raising an :class:`EtestError`."""

PUBLISH_CHECKS: list[PublishCheck] = []

#: What an import's publish checks get besides the version and flow: settings, override reason.
_Publish = tuple[Settings, str | None]


def on_publish(check: PublishCheck) -> PublishCheck:
    """Register ``check`` to run on every new placement-test version (once, however often it
    is registered)."""
    if check not in PUBLISH_CHECKS:
        PUBLISH_CHECKS.append(check)
    return check


@dataclass
class _Media:
    digest: str
    content_type: str
    data: bytes
    #: an Ogg/Opus recording's MP3 or AAC sibling in the package (``x.opus`` beside ``x.mp3``
    #: or ``x.m4a``), for browsers without Opus (Safari): a second ``<source>`` on the page
    alternative: _Media | None = None


@dataclass
class _Plan:
    """What will be written for one source, decided during validation."""

    source: Source
    flow: FlowFile
    version: int
    media: dict[str, _Media] = field(default_factory=dict)


class _Batch:
    """Codes known to the batch: those in the database plus those of earlier files."""

    def __init__(self) -> None:
        self.can_do: set[str] = set()
        self.lessons: set[str] = set()
        #: What a code resolves to during validation: the batch's item, else the stored one.
        self.items: dict[str, ItemIn | Item] = {}
        #: The latest stored version of each item code (writing starts from these).
        self.stored: dict[str, Item] = {}


async def _known(session: AsyncSession, batch: _Batch) -> None:
    batch.can_do |= await repository.can_do_codes(session)
    batch.lessons |= await repository.lesson_codes(session)
    for item in await repository.latest_items(session):
        batch.items[item.code] = batch.stored[item.code] = item


def _media_refs(item: ItemIn) -> list[tuple[str, MediaRef, str]]:
    """Every media reference of an item with its JSON path and kind (image or audio)."""
    refs: list[tuple[str, MediaRef, str]] = []
    if item.stimulus is not None:
        for kind in ("image", "audio"):
            ref = getattr(item.stimulus, kind)
            if ref is not None:
                refs.append((f"stimulus.{kind}", ref, kind))
    for group in ("options", "targets"):
        options: list[Option] = getattr(item, group)
        for n, opt in enumerate(options):
            for kind in ("image", "audio"):
                ref = getattr(opt, kind)
                if ref is not None:
                    refs.append((f"{group}[{n}].{kind}", ref, kind))
    for g, gap in enumerate(item.gaps):
        for n, opt in enumerate(gap.choices):
            for kind in ("image", "audio"):
                ref = getattr(opt, kind)
                if ref is not None:
                    refs.append((f"gaps[{g}].choices[{n}].{kind}", ref, kind))
    return refs


async def _validate(
    session: AsyncSession,
    sources: list[Source],
    batch: _Batch,
    problems: list[Problem],
    result: ImportResult,
) -> list[_Plan]:
    plans: list[_Plan] = []
    plan_levels: dict[str, list[str]] = {
        p.code: [str(lv["level"]) for lv in p.levels] for p in await plan_repository.plans(session)
    }
    for source in sources:
        if source.flow is None:
            if source.auto_version and len(sources) > 1:
                # one unreadable QTI file among many: reported, not fatal to the others
                result.files.append(
                    FileReport(
                        source.name,
                        None,
                        None,
                        None,
                        "skipped",
                        "; ".join(p.message for p in source.problems),
                    )
                )
            else:
                problems.extend(source.problems)
            continue
        flow, name = source.flow, source.name
        before = len(problems)
        previous = await repository.imports_of(session, flow.code)
        same = next((p for p in previous if p.content_hash == source.content_hash), None)
        if same is not None:
            result.files.append(FileReport(name, flow.kind, flow.code, same.version, "unchanged"))
            for item in flow.items:
                batch.items.setdefault(item.code, item)
            continue
        version = flow.version
        if source.auto_version:
            version = (previous[0].version + 1) if previous else 1
        elif any(p.version == version for p in previous):
            problems.append(
                Problem(
                    name,
                    "$.version",
                    f"{flow.code} version {version} was "
                    "imported with other content; publish a new version",
                )
            )
        plan = _Plan(source, flow, version)
        batch.can_do |= {cd.code for cd in flow.can_do}
        batch.lessons |= {lesson.code for lesson in flow.review_lessons}
        # reading, checking and hashing every item's media: off the event loop
        await to_thread.run_sync(_check_items, source, plan, batch, problems, result)
        if flow.kind != "bank":
            _validate_engine(flow, name, batch, plan_levels, problems)
        if len(problems) == before:
            plans.append(plan)
    return plans


def _check_items(
    source: Source, plan: _Plan, batch: _Batch, problems: list[Problem], result: ImportResult
) -> None:
    """Check every item of a source (run in a worker thread: it reads and hashes media); keep
    the good ones in the flow and the batch, report the bad ones."""
    flow, name = plan.flow, source.name
    kept: list[ItemIn] = []
    for n, item in enumerate(flow.items):
        found = _check_item(item, f"$.items[{n}]", name, source, batch, plan)
        if found and source.auto_version:
            # QTI is tolerant per item: a bad item is reported and left out
            result.qti.append(
                {
                    "file": name,
                    "identifier": item.source,
                    "code": item.code,
                    "status": "skipped",
                    "reason": "; ".join(f"{p.path}: {p.message}" for p in found),
                }
            )
            continue
        problems.extend(found)
        kept.append(item)
        batch.items[item.code] = item
    flow.items = kept


def _check_item(
    item: ItemIn, at: str, name: str, source: Source, batch: _Batch, plan: _Plan
) -> list[Problem]:
    """The problems of one item's references (can-do, lessons, media); media it names are
    added to the plan."""
    found: list[Problem] = []
    if item.can_do is not None and item.can_do not in batch.can_do:
        found.append(Problem(name, f"{at}.can_do", f"unknown can-do statement {item.can_do!r}"))
    for code in item.review_lessons:
        if code not in batch.lessons:
            found.append(Problem(name, f"{at}.review_lessons", f"unknown review lesson {code!r}"))
    for where, ref, kind in _media_refs(item):
        if ref.src in plan.media:
            continue
        data = source.read_media(ref.src)
        if data is None:
            found.append(Problem(name, f"{at}.{where}.src", f"media file {ref.src!r} not found"))
            continue
        why = media_problem(ref.src, data)
        ctype = content_type_of(ref.src) or ""
        if why is None and not ctype.startswith(kind):
            why = f"{ref.src!r} is not {kind}"
        if why is None and kind == "image" and not ref.alt and item.status != "draft":
            why = "an image needs alt text (drafts may lack it until reviewed)"
        if why is not None:
            found.append(Problem(name, f"{at}.{where}", why))
            continue
        plan.media[ref.src] = _Media(
            hashlib.sha256(data).hexdigest(), ctype, data, _alternative(ref.src, source, plan)
        )
    return found


#: The siblings looked for beside an Ogg recording, in this order.
ALTERNATIVES = (".mp3", ".m4a")


def _alternative(src: str, source: Source, plan: _Plan) -> _Media | None:
    """An Ogg recording's MP3 or AAC sibling, when the package has a good one (it is stored
    too, under its own name, so it is written and served like any media)."""
    stem, dot, ext = src.rpartition(".")
    if not dot or f".{ext.lower()}" not in (".opus", ".ogg", ".oga"):
        return None
    for suffix in ALTERNATIVES:
        name = stem + suffix
        data = plan.media[name].data if name in plan.media else source.read_media(name)
        if data is not None and media_problem(name, data) is None:
            ctype = content_type_of(name) or ""
            plan.media[name] = _Media(hashlib.sha256(data).hexdigest(), ctype, data)
            return plan.media[name]
    return None


def _level_of(item: ItemIn | Item) -> str | None:
    return item.level


def _has_irt(item: ItemIn | Item) -> bool:
    return item.irt is not None if isinstance(item, ItemIn) else item.irt_b is not None


def _validate_engine(
    flow: FlowFile,
    name: str,
    batch: _Batch,
    plan_levels: dict[str, list[str]],
    problems: list[Problem],
) -> None:
    assert flow.plan is not None and flow.engine is not None
    levels = plan_levels.get(flow.plan)
    if levels is None:
        problems.append(Problem(name, "$.plan", f"unknown plan {flow.plan!r}"))
        return
    engine = flow.engine

    def resolve(codes: list[str], at: str) -> list[ItemIn | Item]:
        found = []
        for n, code in enumerate(codes):
            item = batch.items.get(code)
            if item is None:
                problems.append(Problem(name, f"{at}[{n}]", f"unknown item {code!r}"))
            else:
                found.append(item)
        return found

    if flow.kind == "CT" and flow.level not in levels:
        problems.append(Problem(name, "$.level", f"{flow.level!r} is not a level of {flow.plan}"))
    if isinstance(engine, StagedEngine):
        for g, group in enumerate(engine.groups):
            if group.level not in levels:
                problems.append(
                    Problem(
                        name,
                        f"$.engine.groups[{g}].level",
                        f"{group.level!r} is not a level of {flow.plan}",
                    )
                )
            resolve(group.items, f"$.engine.groups[{g}].items")
    elif isinstance(engine, IrtEngine):
        if len(engine.cut_scores) != len(levels) - 1:
            problems.append(
                Problem(
                    name,
                    "$.engine.cut_scores",
                    f"{flow.plan} has {len(levels)} levels: give {len(levels) - 1} cut scores",
                )
            )
        pool = (
            resolve(engine.pool, "$.engine.pool")
            if engine.pool is not None
            else [
                i
                for i in batch.items.values()
                if _level_of(i) in (engine.pool_levels or []) and i.status == "active"
            ]
        )
        if not pool:
            problems.append(Problem(name, "$.engine", "the item pool is empty"))
        missing = [i.code for i in pool if not _has_irt(i)]
        if missing:
            problems.append(
                Problem(name, "$.engine.pool", f"items without IRT parameters: {missing[:10]}")
            )
    elif isinstance(engine, FixedEngine):
        for s, section in enumerate(engine.sections):
            at = f"$.engine.sections[{s}]"
            for item in resolve(section.pool, f"{at}.pool"):
                if item.skill != section.skill:
                    problems.append(
                        Problem(
                            name,
                            f"{at}.pool",
                            f"{item.code} is a {item.skill} item, the section is {section.skill}",
                        )
                    )
    if engine.pilot is not None:
        _validate_pilots(engine.pilot.items, name, batch, problems)


def _validate_pilots(codes: list[str], name: str, batch: _Batch, problems: list[Problem]) -> None:
    """Pilot items exist and have status ``pilot``. None is an operational item of its engine:
    the flow schema refuses a code named as both, and a pool by levels takes active items."""
    for n, code in enumerate(codes):
        at = f"$.engine.pilot.items[{n}]"
        item = batch.items.get(code)
        if item is None:
            problems.append(Problem(name, at, f"unknown item {code!r}"))
        elif item.status != "pilot":
            problems.append(
                Problem(name, at, f"{code} has status {item.status!r}; pilot items need 'pilot'")
            )


def _media_json(ref: MediaRef | None, media: dict[str, _Media]) -> dict[str, Any] | None:
    if ref is None:
        return None
    m = media[ref.src]
    out: dict[str, Any] = {"media": m.digest, "content_type": m.content_type, "alt": ref.alt}
    if m.alternative is not None:
        out["alternative"] = {
            "media": m.alternative.digest,
            "content_type": m.alternative.content_type,
        }
    return out


def _option_json(opt: Option, media: dict[str, _Media]) -> dict[str, Any]:
    stored: dict[str, Any] = {
        "id": opt.id,
        "text": clean_html(opt.text) if opt.text else None,
        "image": _media_json(opt.image, media),
        "audio": _media_json(opt.audio, media),
    }
    if opt.max_uses != 1:  # gap_match words only; absent keeps older items' hashes
        stored["max_uses"] = opt.max_uses
    return stored


def item_row_values(item: ItemIn, media: dict[str, _Media]) -> dict[str, Any]:
    """The stored form of an item (sanitised HTML, media by hash), without code and version."""
    stim = item.stimulus
    stimulus = (
        None
        if stim is None
        else {
            "text": clean_html(stim.text) if stim.text else None,
            "image": _media_json(stim.image, media),
            "audio": _media_json(stim.audio, media),
            "transcript": stim.transcript,
        }
    )
    irt = item.irt
    values: dict[str, Any] = {
        "type": item.type,
        "skill": item.skill,
        "level": item.level,
        "status": item.status,
        "prompt": clean_html(item.prompt),
        "stimulus": stimulus,
        "options": [_option_json(o, media) for o in item.options],
        "targets": [_option_json(o, media) for o in item.targets],
        "key": item.key.model_dump(mode="json"),
        "can_do": item.can_do,
        "review_lessons": list(item.review_lessons),
        "irt_model": irt.model if irt else None,
        "irt_a": irt.a if irt else None,
        "irt_b": irt.b if irt else None,
        "irt_c": irt.c if irt else None,
        "shuffle_options": item.shuffle_options,
        "time_limit_seconds": item.time_limit_seconds,
        "source": item.source,
    }
    # the columns of gap items and GPCM are written only when used, so that the stored form
    # (and content hash) of every older item is unchanged
    if item.body is not None:
        values["body"] = clean_html(item.body)
        values["gaps"] = [
            {
                "id": gap.id,
                "choices": [_option_json(c, media) for c in gap.choices],
                **({"expected_length": gap.expected_length} if gap.expected_length else {}),
            }
            for gap in item.gaps
        ]
    if irt is not None and irt.steps is not None:
        values["irt_steps"] = list(irt.steps)
    return values


def _item_rows(
    items: list[ItemIn], media: dict[str, _Media]
) -> list[tuple[ItemIn, dict[str, Any], str]]:
    """Each item with its stored form and that form's hash (sanitising HTML is the cost)."""
    rows = []
    for item in items:
        values = item_row_values(item, media)
        rows.append((item, values, _hash(values)))
    return rows


def _hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


async def _upsert_by_code(
    session: AsyncSession, model: type[CanDoStatement] | type[ReviewLesson], values: dict[str, Any]
) -> None:
    """Insert a can-do statement or review lesson, or update the one with the same code."""
    row = await repository.by_code(session, model, values["code"])
    if row is None:
        session.add(model(**values))
    else:
        for key, value in values.items():
            setattr(row, key, value)


async def _write(
    session: AsyncSession,
    actor: Actor,
    store: MediaStore,
    plan: _Plan,
    items_by_code: dict[str, Item],
    publish: _Publish,
) -> FileReport:
    flow, source = plan.flow, plan.source
    report = FileReport(
        source.name, flow.kind, flow.code, plan.version, "imported", media=len(plan.media)
    )
    # files written and item rows sanitised and hashed in a worker thread; the rows are added
    # here, on the loop, where the session lives
    await to_thread.run_sync(lambda: [store.put(m.data) for m in plan.media.values()])
    rows = await to_thread.run_sync(_item_rows, flow.items, plan.media)
    for m in plan.media.values():
        if await session.get(MediaObject, m.digest) is None:
            session.add(MediaObject(sha256=m.digest, content_type=m.content_type, size=len(m.data)))
    for model, entries in ((CanDoStatement, flow.can_do), (ReviewLesson, flow.review_lessons)):
        for entry in entries:
            await _upsert_by_code(session, model, entry.model_dump())
    report.can_do, report.review_lessons = len(flow.can_do), len(flow.review_lessons)
    await session.flush()
    for item, values, digest in rows:
        latest = items_by_code.get(item.code)
        if latest is not None and latest.content_hash == digest:
            report.items_reused += 1
            continue
        new_row = Item(
            code=item.code,
            version=(latest.version + 1) if latest else 1,
            content_hash=digest,
            **values,
        )
        session.add(new_row)
        items_by_code[item.code] = new_row
        report.items_new += 1
    await session.flush()
    if flow.kind != "bank":
        await _write_assessment(session, actor, plan, items_by_code, publish)
    session.add(
        ContentImport(
            code=flow.code,
            version=plan.version,
            kind=flow.kind,
            content_hash=source.content_hash,
            source_name=source.name,
            imported_by=actor.subject,
            summary={"items_new": report.items_new, "items_reused": report.items_reused},
        )
    )
    await session.flush()
    return report


def engine_with_ids(
    engine: StagedEngine | IrtEngine | FixedEngine,
    id_of: Mapping[str, Any],
    level_pool: Callable[[list[str]], list[str]],
) -> tuple[dict[str, Any], int]:
    """The stored form of an engine: item codes replaced by item ids (its pilot items' too),
    an irt ``pool_levels`` resolved (by ``level_pool``, sorted) and pinned; with the number of
    operational items it serves.
    The import and the placement simulation both use it, so they store the same engine."""

    def ids(codes: list[str]) -> list[str]:
        return [str(id_of[c]) for c in codes]

    config: dict[str, Any] = engine.model_dump(mode="json")
    if config.get("pilot") is not None:
        config["pilot"]["items"] = ids(config["pilot"]["items"])
    if isinstance(engine, StagedEngine):
        for group in config["groups"]:
            group["items"] = ids(group["items"])
        return config, sum(len(g["items"]) for g in config["groups"])
    if isinstance(engine, IrtEngine):
        codes = (
            engine.pool if engine.pool is not None else sorted(level_pool(engine.pool_levels or []))
        )
        config["pool"] = ids(codes)
        return config, len(codes)
    for section in config["sections"]:
        section["pool"] = ids(section["pool"])
    return config, sum(s["count"] for s in config["sections"])


async def _write_assessment(
    session: AsyncSession, actor: Actor, plan: _Plan, items: dict[str, Item], publish: _Publish
) -> None:
    flow = plan.flow
    assert flow.engine is not None

    engine, count = engine_with_ids(
        flow.engine,
        {c: i.id for c, i in items.items()},
        lambda levels: [
            c
            for c, i in items.items()
            if i.level in levels and i.status == "active" and i.irt_b is not None
        ],
    )
    assessment = await repository.assessment_by_code(session, flow.code)
    if assessment is None:
        assessment = Assessment(
            code=flow.code, kind=flow.kind, plan_code=flow.plan, level=flow.level, title=flow.title
        )
        session.add(assessment)
        await session.flush()
    else:
        assessment.title = flow.title
    version = AssessmentVersion(
        assessment_id=assessment.id,
        version=plan.version,
        title=flow.title,
        engine=engine,
        item_count=count,
        content_hash=plan.source.content_hash,
        source_name=plan.source.name,
        imported_by=actor.subject,
    )
    session.add(version)
    if flow.kind == "PT":
        await _publish(session, actor, Publication(version, flow, *publish))


async def _publish(session: AsyncSession, actor: Actor, publication: Publication) -> None:
    if not PUBLISH_CHECKS:
        raise RuntimeError(
            "publishing a placement test has no publish check: the bank package's evidence "
            "check must be registered (etest.tasks does it; import it before importing content)"
        )
    for check in PUBLISH_CHECKS:
        await check(session, actor, publication)


async def import_content(
    session: AsyncSession,
    actor: Actor,
    store: MediaStore,
    sources: list[Source],
    *,
    settings: Settings | None = None,
    override_reason: str | None = None,
) -> ImportResult:
    """Validate every source, then write them all; on any problem write nothing and raise
    :class:`ContentInvalid` listing every problem (file, JSON path, message). Every new
    placement-test version goes through the publish checks (:func:`on_publish`), which may
    refuse it; ``override_reason`` is a superadmin's reason to publish one below the evidence
    thresholds (the caller rolls back on any error: nothing is written)."""
    actor.require("manage_content")
    publish: _Publish = (settings or get_settings(), override_reason)
    result = ImportResult()
    for source in sources:
        for r in source.qti_reports:
            inner = str(r.file)
            where = source.name if source.name.endswith(inner) else f"{source.name}/{inner}"
            result.qti.append({**r.__dict__, "file": where})
    problems: list[Problem] = []
    batch = _Batch()
    await _known(session, batch)
    plans = await _validate(session, sources, batch, problems, result)
    if (
        len(sources) == 1
        and sources[0].auto_version
        and sources[0].flow is not None
        and not sources[0].flow.items
        and not result.files
    ):
        # one QTI file and not one usable item in it: say why, as an error
        problems.extend(
            Problem(r["file"], str(r.get("identifier") or "$"), str(r["reason"]))
            for r in result.qti
        )
    if problems:
        raise ContentInvalid(
            f"{len(problems)} problem(s); nothing was imported.",
            errors=[p.__dict__ for p in problems],
        )
    items_by_code = dict(batch.stored)
    for plan in plans:
        result.files.append(await _write(session, actor, store, plan, items_by_code, publish))
    return result


async def import_file(
    session: AsyncSession,
    actor: Actor,
    store: MediaStore,
    name: str,
    data: bytes,
    *,
    skill: Skill = "reading",
    level: str | None = None,
    settings: Settings | None = None,
    override_reason: str | None = None,
    partial: bool = False,
) -> ImportResult:
    """One uploaded file (flow JSON, zip of flows with media, QTI package or item XML) imported
    as the API and the console's background import both do: read into sources, imported by
    :func:`import_content` (all or nothing), and audited as ``content.import``. ``partial``: a
    QTI package with an unreadable item file imports the rest, that file reported as skipped
    (as ``etest content import --partial``)."""
    actor.require("manage_content")
    # unzipping, parsing and validating run in a worker thread: the event loop keeps serving
    # other requests while a large import is read (bench/hostile_input.py)
    sources = await to_thread.run_sync(
        functools.partial(
            sources_from_bytes,
            name,
            data,
            skill=skill,
            level=canonical_level(level) if level else None,
            partial=partial,
        )
    )
    result = await import_content(
        session, actor, store, sources, settings=settings, override_reason=override_reason
    )
    record(
        session,
        actor,
        "content.import",
        target_type="content",
        target_id=name[:64],
        organization_id=None,
        details={"files": [f.code for f in result.files]},
    )
    return result


async def item_by_id(session: AsyncSession, item_id: uuid.UUID) -> Item:
    """The stored item version with this id (items are global content: no tenant scope)."""
    item = await session.get(Item, item_id)
    if item is None:
        raise NotFound("No such item.")
    return item


async def change_item_status(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, status: ItemStatus
) -> Item:
    """Move an item between draft, pilot, active and retired (content managers and
    superadmins; audited as ``item.status`` with the statuses before and after)."""
    actor.require("manage_content")
    item = await item_by_id(session, item_id)
    before, item.status = item.status, status
    record(
        session,
        actor,
        "item.status",
        target_type="item",
        target_id=item.id,
        organization_id=None,
        details={"from": before, "to": status},
    )
    await session.flush()
    return item
