from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from etest.kit.schemas import Output


class AuditEntryOut(Output):
    id: uuid.UUID
    uic: str | None = None
    actor: str
    actor_role: str
    action: str
    target_type: str
    target_id: str
    reason: str | None
    details: dict[str, Any]
    created_at: datetime
