"""Outbox wiring of calibration: the job ``calibration.run`` (queued by
:func:`etest.bank.calibration.request`) runs the calibration and stores its report.

A run that cannot estimate anything or fails in the core is stored as ``failed`` and not
retried (the same data would fail again); a run repeated after a crash finds its row done and
returns."""

from __future__ import annotations

import uuid
from typing import Any

from etest.bank import calibration
from etest.errors import EtestError
from etest.irt import IRTError
from etest.outbox.jobs import Job, JobContext, JobFailed, job


@job(calibration.RUN_JOB)
async def run_calibration(ctx: JobContext, job: Job) -> dict[str, Any]:
    run_id = uuid.UUID(job.payload["calibration_id"])
    try:
        run = await calibration.execute(ctx.sessionmaker, run_id)
    except (EtestError, IRTError) as exc:
        raise JobFailed(f"{type(exc).__name__}: {exc}", retry=False) from exc
    return {"calibration_id": str(run.id), "status": run.status}
