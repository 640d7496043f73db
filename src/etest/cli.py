"""The ``etest`` command line. Each command is one transaction (commit at the edge); errors go
to stderr with a non-zero exit code."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import ROLES, Actor
from etest.config import Settings, get_settings
from etest.db import create_engine, create_read_sessionmaker, create_sessionmaker, transaction
from etest.errors import EtestError

app = typer.Typer(
    help="eTest: adaptive placement and certification tests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema and reference data.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for client platforms and scripts.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
token_app = typer.Typer(help="Test tokens.", no_args_is_help=True)
content_app = typer.Typer(help="Item bank and test flows.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(org_app, name="org")
app.add_typer(token_app, name="token")
app.add_typer(content_app, name="content")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def cli_actor() -> Actor:
    """The operator at the console: a global superadmin, named in the audit log."""
    return Actor(
        subject=f"cli:{getpass.getuser()}", role="superadmin", organization_id=None, org_path=None
    )


def run_in_transaction(
    fn: Callable[[AsyncSession, Settings], Awaitable[T]], *, read_only: bool = False
) -> T:
    """Run ``fn`` in one committed transaction (``read_only``: a snapshot that takes no write
    lock, for long reads such as reports); a domain error becomes a message and exit 1."""
    settings = get_settings()

    async def main() -> T:
        engine = create_engine(settings)
        maker = create_read_sessionmaker(engine) if read_only else create_sessionmaker(engine)
        try:
            async with transaction(maker) as session:
                return await fn(session, settings)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except EtestError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.detail}", highlight=False, soft_wrap=True)
        for problem in exc.extra.get("errors", []):
            err.print(
                f"  {problem['file']}: {problem['path']}: {problem['message']}",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(1) from exc
    except Exception as exc:  # an unexpected failure: one line, not a traceback
        if os.environ.get("ETEST_DEBUG"):
            raise
        err.print(
            f"[red]error[/red]: {type(exc).__name__}: {exc}".splitlines()[0][:500],
            highlight=False,
            soft_wrap=True,
        )
        err.print("(set ETEST_DEBUG=1 for the traceback)")
        raise typer.Exit(1) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default ETEST_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default ETEST_PORT")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    # The app factory reads its settings from the environment (in every worker process): flags
    # become ETEST_HOST/ETEST_PORT there, so links derived from them follow (Settings.base_url).
    if host is not None:
        os.environ["ETEST_HOST"] = host
    if port is not None:
        os.environ["ETEST_PORT"] = str(port)
    from etest.ops.edge import HeadLimitedHttpTools

    get_settings.cache_clear()
    settings = get_settings()
    err.print(f"Serving on {settings.base_url} (Ctrl-C stops)")
    uvicorn.run(
        "etest.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="warning",
        # proxy headers are read in the app (ops.security, from ETEST_TRUSTED_PROXIES), so
        # that every way of running it (uvicorn, gunicorn, tests) behaves the same
        proxy_headers=False,
        # httptools stays (h11 parses in Python and was no faster here), but httptools has
        # no bound on a request's head and concatenates a long header read by read (a 21 MB
        # header cost seconds of CPU before any of our code ran), and uvicorn's
        # h11_max_incomplete_event_size only applies to h11. HeadLimitedHttpTools reads that
        # same option and refuses a longer head with 431: one setting bounds either parser.
        # Measured in bench/hostile_input.py (bench/README.md, "Hostile input").
        http=HeadLimitedHttpTools,
        h11_max_incomplete_event_size=settings.max_request_head_bytes,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema and load missing reference data."""
    from etest import migrate
    from etest.plan.service import load_reference

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    levels, plans = run_in_transaction(lambda s, _: load_reference(s))
    err.print(
        f"database at revision {migrate.head_revision()}; reference data: "
        f"{levels} levels and {plans} plans added"
    )


@app.command()
def demo() -> None:
    """Load the demo bank and flows, a demo organization, candidate and admin API key."""
    import etest.tasks  # noqa: F401  (registers the publish checks: a PT's evidence)
    from etest.content.media import MediaStore
    from etest.content.service import import_content
    from etest.content.sources import sources_from_path
    from etest.demo import DEMO_ADMIN, DEMO_CONTENT, DEMO_OPERATOR, ensure_demo

    sources = sources_from_path(DEMO_CONTENT) if DEMO_CONTENT.is_dir() else []

    async def load(session: AsyncSession, settings: Settings) -> Any:
        result = await import_content(
            session, cli_actor(), MediaStore(settings.media_path), sources, settings=settings
        )
        return result, await ensure_demo(session, settings, cli_actor())

    result, data = run_in_transaction(load)
    new = sum(f.items_new for f in result.files)
    base = get_settings().base_url
    err.print(
        f"""
[bold]eTest is ready[/bold] (demo organization {data.uic}, plan neo_plus; demo content: \
{len(result.files)} files, {new} new items)
  API docs:        {base}/docs
  Admin API key:   {data.api_key}   (also in var/demo_api_key)
  Try:             curl -H "Authorization: Bearer {data.api_key}" {base}/api/v1/items
  Issue a token:   curl -X POST -H "Authorization: Bearer {data.api_key}" \\
                     -H 'content-type: application/json' \\
                     -d '{{"email": "{data.candidate_email}", "type": "PT"}}' {base}/api/v1/tokens
""",
        highlight=False,
        soft_wrap=True,
    )
    err.print(
        f"""[bold]Staff console:[/bold]   {base}/console
  School admin:    {DEMO_ADMIN}   password {data.staff_password}
  Operator:        {DEMO_OPERATOR}   (same password; also in var/demo_staff_password)
""",
        highlight=False,
        soft_wrap=True,
    )
    if data.take_url:
        err.print("[bold]Take the placement test as the demo candidate:[/bold]")
        out.print(data.take_url, highlight=False, soft_wrap=True)


@app.command()
def sweep() -> None:
    """Finish every attempt past its deadline, with finish time = deadline (one pass)."""
    from etest.attempt.service import sweep as sweep_once

    count = run_in_transaction(lambda s, _: sweep_once(s))
    err.print(f"finished {count} attempt(s) past their deadline")


staff_app = typer.Typer(help="Staff accounts of the console.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")


@staff_app.command("create")
def staff_create(
    email: Annotated[str, typer.Option(help="the staff member's email (their sign-in)")],
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")],
    uic: Annotated[
        str | None,
        typer.Option(help="organization; none for content_manager, optional for superadmin"),
    ] = None,
    name: Annotated[str, typer.Option(help="the name shown in the console and audit log")] = "",
) -> None:
    """Create a staff account and print a password for its first sign-in (change it after)."""
    import secrets

    from etest.staff.service import create_account

    password = secrets.token_urlsafe(12)
    run_in_transaction(
        lambda s, _: create_account(
            s, cli_actor(), email=email, name=name, role=role, uic=uic, password=password
        )
    )
    err.print(f"Staff account {email.strip().lower()} created; its password (shown once):")
    out.print(password, soft_wrap=True, highlight=False)


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")],
    uic: Annotated[
        str | None,
        typer.Option(help="organization; none for content_manager, optional for superadmin"),
    ] = None,
    name: Annotated[str, typer.Option(help="what the key is for")] = "",
) -> None:
    """Create an API key. The key is printed once; only its digest is stored."""
    from etest.apikey import create_api_key

    key = run_in_transaction(
        lambda s, st: create_api_key(s, st, cli_actor(), role=role, uic=uic, name=name)
    )
    err.print("API key (shown once, store it now):")
    out.print(key, soft_wrap=True, highlight=False)


@apikey_app.command("revoke")
def apikey_revoke(prefix: Annotated[str, typer.Argument(help="the key's prefix")]) -> None:
    """Revoke an API key by its prefix; effective on the next request."""
    from etest.apikey import revoke_api_key

    run_in_transaction(lambda s, _: revoke_api_key(s, cli_actor(), prefix))
    err.print(f"revoked {prefix}")


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys (prefix, role, organization, last use)."""
    from etest.auth.repository import keys_with_uic

    async def rows(session: AsyncSession, _: Settings) -> list[Any]:
        return list(await keys_with_uic(session))

    for key, uic in run_in_transaction(rows):
        state = "revoked" if key.revoked_at else "active"
        typer.echo(
            f"{key.prefix}\t{key.role}\t{uic or '-'}\t{state}\t"
            f"last used {key.last_used_at or 'never'}\t{key.name}"
        )


@org_app.command("create")
def org_create(
    uic: str,
    name: Annotated[str, typer.Option()],
    parent: Annotated[str | None, typer.Option(help="parent UIC")] = None,
    plan: Annotated[str | None, typer.Option(help="plan code, e.g. neo_plus")] = None,
    region: Annotated[str, typer.Option()] = "ROW",
) -> None:
    """Create an organization."""
    from etest.organization import service
    from etest.organization.schemas import OrganizationCreate

    body = _parse(
        OrganizationCreate, uic=uic, name=name, parent_uic=parent, plan_code=plan, region=region
    )
    org = run_in_transaction(lambda s, _: service.create(s, cli_actor(), body))
    err.print(f"created organization {org.uic}")


@token_app.command("issue")
def token_issue(
    email: Annotated[str, typer.Option(help="the candidate's email")],
    type_: Annotated[str, typer.Option("--type", help="PT or CT")] = "PT",
    level: Annotated[str | None, typer.Option(help="CT level")] = None,
    uic: Annotated[
        str | None,
        typer.Option(
            help="the candidate's organization (or an ancestor): needed when the email is "
            "registered in several customer trees"
        ),
    ] = None,
) -> None:
    """Issue a test token and print the link where the candidate takes the test."""
    from etest.token import service
    from etest.token.schemas import TokenIssue

    body = _parse(TokenIssue, email=email, type=type_, level=level, uic=uic)

    async def issue(session: AsyncSession, settings: Settings) -> str:
        _, _, code = await service.issue(session, cli_actor(), settings, body)
        return f"{settings.base_url}/take?token={code}"

    out.print(run_in_transaction(issue), soft_wrap=True, highlight=False)


@content_app.command("import")
def content_import(
    path: Annotated[Path, typer.Argument(help="flow JSON, folder, zip, QTI package or item")],
    skill: Annotated[str, typer.Option(help="skill of imported QTI items")] = "reading",
    level: Annotated[str | None, typer.Option(help="level of imported QTI items")] = None,
    override_reason: Annotated[
        str | None,
        typer.Option(
            help="why a placement test below its evidence thresholds is published anyway "
            "(stored with the version, audited)"
        ),
    ] = None,
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="import the readable items of a QTI package with an unreadable item file "
            "(else the package is refused whole)",
        ),
    ] = False,
) -> None:
    """Import content: everything is validated first, and nothing is written on any error. A
    placement test is published with its evidence (simulation), or refused below thresholds.

    Exit codes: 0 imported; 1 nothing imported (the errors are listed); 2 bad arguments; 3 the
    rest imported, but files of a folder or zip were refused (each listed as "refused")."""
    from rich.progress import Progress

    import etest.tasks  # noqa: F401  (registers the publish checks: a PT's evidence)
    from etest.content.media import MediaStore
    from etest.content.service import import_content
    from etest.content.sources import sources_from_path

    if skill not in ("listening", "reading", "grammar", "vocabulary"):
        err.print(f"[red]error[/red]: unknown skill {skill!r}")
        raise typer.Exit(2)
    with Progress(console=err, transient=True) as progress:
        progress.add_task(f"reading {path}", total=None)
        sources = sources_from_path(
            path,
            skill=skill,  # type: ignore[arg-type]
            level=level,
            partial=partial,
        )

    async def run(session: AsyncSession, settings: Settings) -> Any:
        return await import_content(
            session,
            cli_actor(),
            MediaStore(settings.media_path),
            sources,
            settings=settings,
            override_reason=override_reason,
        )

    if print_import(run_in_transaction(run)):
        raise typer.Exit(3)


def print_import(result: Any) -> int:
    """Print what was imported; return how many files were refused (an unreadable QTI package
    among several: the service reports it as a skipped file and imports the others)."""
    refused = 0
    for f in result.files:
        if f.status == "skipped":
            refused += 1
            out.print(f"refused   {f.file}: {f.reason}", highlight=False, soft_wrap=True)
            continue
        line = f"{f.status:<9} {f.kind:<4} {f.code} v{f.version}"
        if f.status == "imported":
            line += (
                f"  items: {f.items_new} new, {f.items_reused} reused; can-do {f.can_do}; "
                f"lessons {f.review_lessons}; media {f.media}"
            )
        out.print(f"{line}   ({f.file})", highlight=False, soft_wrap=True)
    imported = [r for r in result.qti if r["status"] == "imported"]
    skipped = [r for r in result.qti if r["status"] != "imported"]
    if result.qti:
        out.print(
            f"QTI: {len(imported)} items imported, {len(skipped)} skipped",
            highlight=False,
            soft_wrap=True,
        )
        for r in skipped:
            out.print(
                f"  skipped {r['file']} {r.get('identifier') or ''}: {r['reason']}",
                highlight=False,
                soft_wrap=True,
            )
    if refused:
        err.print(
            f"[red]{refused} file(s) refused[/red] (exit code 3)",
            highlight=False,
            soft_wrap=True,
        )
    return refused


outbox_app = typer.Typer(
    help="Outbox rows: emails, callbacks and events to deliver.", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox")


@content_app.command("export")
def content_export(
    out_path: Annotated[Path, typer.Option("--out", help="the content package to write (.zip)")],
    assessment: Annotated[
        str | None,
        typer.Option(help="an assessment's code: its latest version and the item versions it pins"),
    ] = None,
    items: Annotated[
        str | None, typer.Option(help="item codes, comma-separated, or 'all' (latest versions)")
    ] = None,
    qti: Annotated[str, typer.Option(help="QTI version: 3.0 or 2.2")] = "3.0",
) -> None:
    """Export items or an assessment as a QTI content package; eTest reads it back without
    loss (docs/qti.md, "Export")."""
    from etest.content.media import MediaStore
    from etest.content.qti_export import QtiVersion, export_package, save_package

    if (assessment is None) == (items is None):
        err.print("[red]error[/red]: give --assessment CODE or --items CODE,CODE… (or all)")
        raise typer.Exit(2)
    if qti not in ("3.0", "2.2"):
        err.print(f"[red]error[/red]: unknown QTI version {qti!r}: 3.0 or 2.2")
        raise typer.Exit(2)
    version: QtiVersion = "2.2" if qti == "2.2" else "3.0"
    listed = [c.strip() for c in (items or "").split(",") if c.strip()]
    codes = None if items in (None, "all") else listed

    async def run(session: AsyncSession, settings: Settings) -> Any:
        store = MediaStore(settings.media_path)
        return await export_package(session, store, assessment=assessment, items=codes, qti=version)

    bundle, data = run_in_transaction(run, read_only=True)
    summary = save_package(out_path, bundle, data, version)
    out.print(
        f"{summary.out}: {summary.items} items, {summary.media} media files, "
        f"{summary.bytes} bytes (QTI {summary.qti})"
    )


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="process what is due now, then exit")
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="jobs run at once")] = 4,
) -> None:
    """Deliver outbox rows (emails, callbacks, certificates) until SIGTERM or Ctrl-C, which let
    the jobs in hand finish. Run several on PostgreSQL; see docs/outbox.md."""
    from etest.kit.logging import configure_logging
    from etest.ops import errorreport
    from etest.outbox.worker import work
    from etest.tasks import job_context

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    errorreport.init(settings, component="worker")
    count = asyncio.run(work(settings, job_context, once=once, concurrency=concurrency))
    if once:
        err.print(f"processed {count} outbox row(s)")


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None, typer.Option(help="pending, running, done, dead, cancelled")
    ] = None,
    topic: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List outbox rows, newest first: status, tries, when due, last error."""
    from rich.table import Table

    from etest.outbox.service import STATUSES, list_rows

    if status is not None and status not in STATUSES:
        err.print(f"[red]error[/red]: --status must be one of {', '.join(STATUSES)}")
        raise typer.Exit(2)
    rows = run_in_transaction(lambda s, _: list_rows(s, status=status, topic=topic, limit=limit))
    if not rows:
        err.print("no outbox rows match")
        return
    table = Table("id", "topic", "status", "tries", "due", "last error")
    for row in rows:
        table.add_row(
            str(row.id),
            row.topic,
            row.status,
            f"{row.tries}/{row.max_tries or '-'}",
            f"{row.available_at:%Y-%m-%d %H:%M:%S}",
            row.last_error or "",
        )
    out.print(table)


@outbox_app.command("retry")
def outbox_retry(row_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Send a dead or cancelled row round again now, with the same id and a fresh budget."""
    import uuid

    from etest.outbox.service import retry

    try:
        parsed = uuid.UUID(row_id)
    except ValueError:
        err.print(f"[red]error[/red]: {row_id!r} is not an outbox row id")
        raise typer.Exit(2) from None
    row = run_in_transaction(lambda s, settings: retry(s, settings, parsed))
    err.print(f"{row.id} ({row.topic}) is pending again, up to {row.max_tries} tries in all")


@app.command()
def report(
    name: Annotated[
        str, typer.Argument(help="placement, responses, ct-review, ct-log, cant-do or item-stats")
    ],
    date_from: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first UTC day, included")
    ],
    date_to: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last UTC day, included")
    ],
    out_file: Annotated[Path, typer.Option("--out", dir_okay=False, help="the .xlsx to write")],
    uic: Annotated[
        str | None, typer.Option(help="an organization and those below it (default: all)")
    ] = None,
    emails: Annotated[
        list[str] | None,
        typer.Option("--emails", help="responses: candidate emails, comma-separated or repeated"),
    ] = None,
    level: Annotated[str | None, typer.Option(help="only this level")] = None,
) -> None:
    """Write an Excel report, the same workbook as GET /api/v1/reports/NAME.xlsx (as the
    superadmin operator). The file appears only when it is complete."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    from etest.report import ReportParams, write_report

    params = ReportParams(date_from.date(), date_to.date(), uic, tuple(emails or ()), level)
    partial = out_file.with_name(f".{out_file.name}.partial")
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"report {name}", total=None)
        try:
            rows = run_in_transaction(
                lambda s, _: write_report(
                    s,
                    cli_actor(),
                    name,
                    params,
                    partial,
                    lambda n: progress.update(task, completed=n),
                ),
                read_only=True,
            )
            partial.replace(out_file)
        finally:
            partial.unlink(missing_ok=True)
    err.print(f"wrote {rows} rows to {out_file}", highlight=False, soft_wrap=True)


def _parse(model: Any, **values: Any) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"[red]error[/red]: {'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}")
        raise typer.Exit(2) from exc


def _register_simulate() -> None:
    from etest.simulation.cli import simulate_command

    app.command("simulate")(simulate_command)


_register_simulate()


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


@app.command()
def calibrate(
    assessment: Annotated[
        str | None, typer.Option(help="an assessment code (every version of it)")
    ] = None,
    items: Annotated[str | None, typer.Option(help="item codes, comma-separated")] = None,
    date_from: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="first UTC day of finished attempts"),
    ] = None,
    date_to: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="last UTC day, included")
    ] = None,
    model: Annotated[
        str, typer.Option(help="auto (3PL for choice items, 2PL for the rest), 2pl or 1pl")
    ] = "auto",
    free: Annotated[
        bool, typer.Option("--free", help="estimate operational items too (default: anchored)")
    ] = False,
    min_responses: Annotated[int, typer.Option(help="fewer: reported, not estimated")] = 200,
    out_file: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="the report: .json or .xlsx")
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="publish the proposal: new item/test versions")
    ] = False,
    override_reason: Annotated[
        str | None, typer.Option(help="--publish: why a PT below its evidence goes live anyway")
    ] = None,
) -> None:
    """Calibrate items from the scored responses of finished attempts (as the superadmin
    operator), the same run as POST /api/v1/calibrations; see docs/calibration.md."""
    import json

    from rich.progress import BarColumn, Progress, TextColumn

    import etest.tasks  # noqa: F401  (publishing a PT runs its registered publish checks)
    from etest.bank import calibration
    from etest.bank.report import workbook
    from etest.bank.schemas import CalibrationCreate, CalibrationOut

    if out_file is not None and out_file.suffix not in (".json", ".xlsx"):
        err.print("[red]error[/red]: --out must end in .json or .xlsx")
        raise typer.Exit(2)
    if model not in ("auto", "2pl", "1pl"):
        err.print(f"[red]error[/red]: --model must be auto, 2pl or 1pl, not {model!r}")
        raise typer.Exit(2)
    body = _parse(
        CalibrationCreate,
        assessment=assessment,
        items=[c.strip() for c in items.split(",") if c.strip()] if items else None,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        free=free,
        min_responses=min_responses,
    ).model_copy(update={"model": model})  # _parse's own first parameter is called model
    with Progress(
        TextColumn("{task.description}"), BarColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("reading responses", total=1.0)

        async def step(share: float, what: str) -> None:
            bar.update(task, completed=share, description=what)

        async def work(session: AsyncSession, settings: Settings) -> Any:
            run = await calibration.request(session, cli_actor(), body, queue=False)
            await session.commit()  # the run exists before it runs (its progress is visible)
            run = await calibration.execute(create_sessionmaker(session.bind), run.id, step)  # type: ignore[arg-type]
            written = None
            if publish:
                written = await calibration.publish(
                    session, cli_actor(), settings, run.id, override_reason
                )
            return CalibrationOut.model_validate(run).model_dump(mode="json"), written

        data, written = run_in_transaction(work)
    report = data["report"] or {}
    if out_file is not None and out_file.suffix == ".json":
        out_file.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    elif out_file is not None:
        out_file.write_bytes(workbook(data))
    flagged = [r for r in report.get("items", []) if r.get("flags")]
    err.print(
        f"calibration {data['id']}: {report.get('estimated', 0)} estimated, "
        f"{report.get('anchored', 0)} anchored, {len(report.get('too_few', []))} with too few "
        f"responses, {len(report.get('excluded', []))} excluded, {len(flagged)} flagged"
        + (f"; report in {out_file}" if out_file else ""),
        highlight=False,
        soft_wrap=True,
    )
    if written is not None:
        err.print(
            f"published {len(written['items'])} item versions, assessments "
            + (", ".join(f"{a['code']} v{a['version']}" for a in written["assessments"]) or "none"),
            highlight=False,
            soft_wrap=True,
        )
