"""Background work of the candidate package (registered by ``etest.tasks``): the console's
bulk import (``candidate.import``), run by the outbox worker as the staff member who started
it, in transactions of :data:`~etest.candidate.importer.BATCH` rows with progress between them.

Parameters: ``filename`` (CSV or XLSX: how the bytes are read) and ``uic`` (the organization
of rows without a ``uic`` column, or None for the actor's own); the input is the uploaded
file. The result is the :class:`~etest.candidate.schemas.ImportReport` as JSON."""

from __future__ import annotations

from etest.background.service import runner
from etest.background.tasks import TaskRun
from etest.candidate import importer

KIND = "candidate.import"


@runner(KIND)
async def import_candidates(run: TaskRun) -> None:
    async def progress(done: int, total: int) -> None:
        await run.progress(done, total, force=done in (0, total))

    report = await importer.import_in_batches(
        run.ctx.transaction,
        run.actor,
        str(run.params.get("filename") or ""),
        run.input(),
        run.params.get("uic"),
        progress,
    )
    await run.finish(report.model_dump(mode="json"))
