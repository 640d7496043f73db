"""The outbox composed at the top: which packages' subscribers and job handlers run, and the
real ports they get. ``etest.outbox`` names no job package; the app (embedded dispatcher) and
the ``etest worker`` command build their :class:`JobContext` here, which registers
``certificate``, ``notification`` and ``webhook`` by importing their ``tasks.py``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Imported for their registrations (@subscriber, @job) against etest.outbox.jobs.
import etest.certificate.tasks
import etest.notification.tasks
import etest.webhook.tasks  # noqa: F401
from etest.config import Settings
from etest.notification.mailer import mailer_from_settings
from etest.outbox.jobs import JobContext


def job_context(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> JobContext:
    """The real ports for handlers: the database and the SMTP mailer of ``settings``."""
    return JobContext(
        settings=settings, sessionmaker=sessionmaker, mailer=mailer_from_settings(settings)
    )
