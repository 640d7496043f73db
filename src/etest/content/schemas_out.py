"""Response models of the content API (input models live in :mod:`etest.content.schemas`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from etest.content.schemas import ItemStatus
from etest.kit.schemas import Input, Output

_KEY_READERS = "Content managers and superadmins only (absent for other roles)"

#: What only content managers and superadmins see of an item: left unset for other roles, and
#: the routes drop unset fields (``response_model_exclude_unset``), so the fields are absent.
SECRET_FIELDS = frozenset({"key", "irt_model", "irt_a", "irt_b", "irt_c"})


class ItemSummary(Output):
    id: uuid.UUID
    code: str
    version: int
    type: str
    skill: str
    level: str | None
    status: str
    can_do: str | None
    irt_model: str | None = Field(None, description=_KEY_READERS)
    irt_a: float | None = Field(None, description=_KEY_READERS)
    irt_b: float | None = Field(None, description=_KEY_READERS)
    irt_c: float | None = Field(None, description=_KEY_READERS)
    source: str | None
    created_at: datetime


class ItemDetail(ItemSummary):
    """The whole item as staff see it; its key, IRT parameters and the audio's transcript
    (``stimulus.transcript``) only for content managers and superadmins."""

    prompt: str
    stimulus: dict[str, Any] | None
    options: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    key: dict[str, Any] | None = Field(None, description=_KEY_READERS)
    review_lessons: list[str]
    shuffle_options: bool
    time_limit_seconds: int | None
    content_hash: str


class ItemStatusChange(Input):
    status: ItemStatus


class AssessmentVersionOut(Output):
    id: uuid.UUID
    version: int
    title: str
    item_count: int
    engine_type: str
    source_name: str
    imported_by: str
    imported_at: datetime
    evidence: dict[str, Any] | None = Field(
        None,
        description="A placement test's simulation report when it was published "
        "(docs/psychometrics.md); null for a certification test",
    )
    override_reason: str | None = Field(
        None, description="Why a superadmin published it below the evidence thresholds"
    )


class AssessmentOut(Output):
    id: uuid.UUID
    code: str
    kind: str
    plan_code: str | None
    level: str | None
    title: str
    current_version: int | None
    versions: list[AssessmentVersionOut]


class ImportFileOut(Output):
    file: str
    kind: str | None
    code: str | None
    version: int | None
    status: str
    reason: str | None
    items_new: int
    items_reused: int
    can_do: int
    review_lessons: int
    media: int


class QtiReportOut(Output):
    file: str
    identifier: str | None
    status: str
    reason: str | None
    code: str | None


class ImportOut(Output):
    files: list[ImportFileOut]
    qti: list[QtiReportOut]
