"""The authenticated caller and what its role may do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from etest.errors import Forbidden

Role = Literal["superadmin", "admin", "support", "viewer"]
ROLES: tuple[Role, ...] = ("superadmin", "admin", "support", "viewer")

Action = Literal["read", "write", "reset_token", "manage_plans", "record_review"]

_ALLOWED: dict[Action, frozenset[str]] = {
    "read": frozenset(ROLES),
    "write": frozenset({"superadmin", "admin"}),
    "reset_token": frozenset({"superadmin", "admin", "support"}),
    "manage_plans": frozenset({"superadmin"}),
    # the outcome of the oral review after the last failed CT at a level (review/service.py)
    "record_review": frozenset({"superadmin", "admin", "support"}),
}


@dataclass(frozen=True)
class Actor:
    """A caller. ``org_path`` is None only for a global superadmin (no organization)."""

    subject: str
    role: Role
    organization_id: uuid.UUID | None
    org_path: str | None

    @property
    def is_global(self) -> bool:
        return self.role == "superadmin" and self.org_path is None

    def require(self, action: Action) -> None:
        if self.role not in _ALLOWED[action]:
            raise Forbidden(f"The role {self.role!r} may not {action.replace('_', ' ')}.")

    def covers(self, org_path: str) -> bool:
        """True when an organization with this path lies in the actor's subtree."""
        return self.org_path is None or org_path.startswith(self.org_path)
