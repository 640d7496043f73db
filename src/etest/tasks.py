"""The packages composed at the top: which packages' subscribers and job handlers run, and the
real ports they get. ``etest.outbox`` names no job package; the app (embedded dispatcher) and
the ``etest worker`` command build their :class:`JobContext` here, which registers
``certificate``, ``notification`` and ``webhook`` by importing their ``tasks.py``.

Also the token reset's hook: a reset voids the token's unfinished attempt through the attempt
package (``etest.attempt.voiding``), which ``token`` cannot import (``attempt`` imports
``token``). Registered when this module is imported, as the app does at import time, in the
reset's transaction; a reset with no hook raises (``etest.token.service.reset``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Imported for their registrations (@subscriber, @job) against etest.outbox.jobs.
import etest.background.tasks
import etest.bank.tasks
import etest.candidate.tasks
import etest.certificate.tasks
import etest.content.tasks
import etest.notification.tasks
import etest.report.tasks
import etest.staff.tasks
import etest.webhook.tasks  # noqa: F401
from etest.attempt.voiding import on_token_reset
from etest.bank import evidence
from etest.config import Settings
from etest.content.service import on_publish
from etest.notification.mailer import mailer_from_settings
from etest.outbox.jobs import JobContext
from etest.token.service import on_reset

on_reset(on_token_reset)
on_publish(evidence.check)


def job_context(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> JobContext:
    """The real ports for handlers: the database and the SMTP mailer of ``settings``."""
    return JobContext(
        settings=settings, sessionmaker=sessionmaker, mailer=mailer_from_settings(settings)
    )
