"""Bulk import of candidates from CSV or XLSX: every row is validated and written in its own
savepoint, so a valid row is imported, an invalid row is reported, and no row is half-written.

Columns (header row, any order, case-insensitive): ``email`` (required), ``username``,
``first_name``, ``last_name``, ``dial_code``, ``phone``, ``uic``, ``plan_code``,
``current_level``. In XLSX, keep phone columns as text: a number cell has lost its leading
zeros before eTest sees it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.candidate import service
from etest.candidate.errors import BadUpload
from etest.candidate.schemas import CandidateCreate, ImportReport, ImportRow
from etest.errors import EtestError

COLUMNS = (
    "email",
    "username",
    "first_name",
    "last_name",
    "dial_code",
    "phone",
    "uic",
    "plan_code",
    "current_level",
)
MAX_ROWS = 10_000


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _rows_csv(data: bytes) -> Iterator[list[str | None]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadUpload("The CSV file is not UTF-8.") from exc
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")  # every line ends in a bare CR: an old Mac "CSV"
    reader = csv.reader(io.StringIO(text))
    while True:
        line = reader.line_num + 1  # where the record starts (a quoted field may span lines)
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # A bare CR inside an unquoted field leaves no way to tell where the row ends, and a
            # field over csv's limit is almost always an unclosed quote that swallowed the rest
            # of the file: either way the file, not a row, is broken.
            if "new-line character" in str(exc):
                raise BadUpload(
                    f"The CSV file cannot be read at line {line}: a line break (CR) "
                    "inside an unquoted field; quote the field or save the file "
                    "with CRLF or LF line endings."
                ) from None
            if "field limit" in str(exc):
                raise BadUpload(
                    f"The CSV file cannot be read from line {line}: a field is longer "
                    f"than {csv.field_size_limit()} characters (an unclosed "
                    "quote?)."
                ) from None
            raise BadUpload(f"The CSV file cannot be read at line {line}: {exc}.") from None
        yield [_cell(v) for v in row]


def _rows_xlsx(data: bytes) -> Iterator[list[str | None]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a bad file
        raise BadUpload("The file is not a readable XLSX workbook.") from exc
    try:
        sheet = wb.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in row]
    finally:
        wb.close()


def read_rows(filename: str, data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and data rows (1-based spreadsheet row numbers, blank rows skipped)."""
    is_xlsx = filename.lower().endswith(".xlsx") or data[:2] == b"PK"
    rows = _rows_xlsx(data) if is_xlsx else _rows_csv(data)
    header_row = next(rows, None)
    if not header_row:
        raise BadUpload("The file is empty: a header row is required.")
    header = [(h or "").strip().lower() for h in header_row]
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown or "email" not in header:
        raise BadUpload(
            f"Unknown columns {unknown}; 'email' is required; allowed: {', '.join(COLUMNS)}."
        )
    out: list[tuple[int, dict[str, str]]] = []
    for number, raw in enumerate(rows, start=2):
        values = {h: v for h, v in zip(header, raw, strict=False) if h and v is not None}
        if not values:
            continue
        if len(out) >= MAX_ROWS:
            raise BadUpload(f"More than {MAX_ROWS} rows; split the file.")
        out.append((number, values))
    return header, out


#: rows written per transaction when an import runs in the background (progress between them)
BATCH = 50

Progress = Callable[[int, int], Awaitable[None]]
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def import_rows(
    session: AsyncSession,
    actor: Actor,
    rows: Sequence[tuple[int, dict[str, str]]],
    default_uic: str | None,
) -> list[ImportRow]:
    """Write ``rows`` (from :func:`read_rows`), each in its own savepoint: the per-row report."""
    actor.require("write")
    report: list[ImportRow] = []
    for number, values in rows:
        email = values.get("email")
        try:
            body = CandidateCreate.model_validate(
                {"uic": default_uic, **values, "registered_from": "bulk"}
            )
        except ValidationError as exc:
            msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            report.append(ImportRow(row=number, status="error", email=email, error=msg))
            continue
        try:
            async with session.begin_nested():
                candidate, _ = await service.create(session, actor, body, audited=False)
        except EtestError as exc:
            report.append(ImportRow(row=number, status="error", email=email, error=exc.detail))
            continue
        report.append(
            ImportRow(
                row=number, status="imported", email=candidate.email, candidate_id=candidate.id
            )
        )
    return report


def _report(rows: list[ImportRow]) -> ImportReport:
    imported = sum(r.status == "imported" for r in rows)
    return ImportReport(imported=imported, failed=len(rows) - imported, rows=rows)


def _audit(
    session: AsyncSession, actor: Actor, filename: str, report: ImportReport, uic: str | None
) -> None:
    record(
        session,
        actor,
        "candidate.import",
        target_type="candidate_import",
        target_id=filename[:200] or "upload",
        organization_id=actor.organization_id,
        details={"imported": report.imported, "failed": report.failed, "uic": uic},
    )


async def import_candidates(
    session: AsyncSession, actor: Actor, filename: str, data: bytes, default_uic: str | None
) -> ImportReport:
    """The whole file in the caller's transaction (the API's synchronous import)."""
    actor.require("write")
    _, rows = read_rows(filename, data)
    report = _report(await import_rows(session, actor, rows, default_uic))
    _audit(session, actor, filename, report, default_uic)
    return report


async def import_in_batches(
    transaction: Transaction,
    actor: Actor,
    filename: str,
    data: bytes,
    default_uic: str | None,
    progress: Progress,
    *,
    batch: int = BATCH,
) -> ImportReport:
    """The same import in transactions of ``batch`` rows, calling ``progress(done, total)``
    before the first and after each (a background task: the rows written so far are kept and
    the page watching the task sees them counted; no transaction is open during ``progress``,
    which writes the task's row in its own)."""
    actor.require("write")
    _, rows = read_rows(filename, data)
    await progress(0, len(rows))
    done: list[ImportRow] = []
    for start in range(0, len(rows), batch):
        async with transaction() as session:
            done += await import_rows(session, actor, rows[start : start + batch], default_uic)
        await progress(len(done), len(rows))
    report = _report(done)
    async with transaction() as session:
        _audit(session, actor, filename, report, default_uic)
    return report
