"""Every ORM model, one module per aggregate. Importing this package registers them all."""

from etest.models.apikey import ApiKey
from etest.models.attempt import Attempt, AttemptItem, Response
from etest.models.audit import AuditEntry
from etest.models.base import Base
from etest.models.candidate import Candidate, CandidateTransfer
from etest.models.certificate import Certificate
from etest.models.content import (
    Assessment,
    AssessmentVersion,
    CalibrationRun,
    CanDoStatement,
    ContentImport,
    Item,
    MediaObject,
    ReviewLesson,
)
from etest.models.organization import Organization
from etest.models.outbox import OutboxEvent, OutboxTry
from etest.models.reference import Level, Plan
from etest.models.review import ReviewDecision
from etest.models.staff import StaffAccount, StaffSession, StaffTicket
from etest.models.task import BackgroundTask
from etest.models.token import OpenLink, TestToken

__all__ = [
    "ApiKey",
    "Assessment",
    "AssessmentVersion",
    "Attempt",
    "AttemptItem",
    "AuditEntry",
    "BackgroundTask",
    "Base",
    "CalibrationRun",
    "CanDoStatement",
    "Candidate",
    "CandidateTransfer",
    "Certificate",
    "ContentImport",
    "Item",
    "Level",
    "MediaObject",
    "OpenLink",
    "Organization",
    "OutboxEvent",
    "OutboxTry",
    "Plan",
    "Response",
    "ReviewDecision",
    "ReviewLesson",
    "StaffAccount",
    "StaffSession",
    "StaffTicket",
    "TestToken",
]
