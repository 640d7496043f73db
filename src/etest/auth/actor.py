"""The authenticated caller and what its role may do.

Two kinds of role: the organization roles (``admin``, ``support``, ``viewer`` and a
``superadmin`` scoped to a subtree) see their subtree; the global roles belong to no
organization. A global ``superadmin`` sees every organization; a ``content_manager`` runs the
item bank and sees no organization at all. Keys, IRT parameters and transcripts of items are
for ``content_manager`` and ``superadmin`` only (docs/roles.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from etest.config import Role
from etest.errors import Forbidden

ROLES: tuple[Role, ...] = ("superadmin", "admin", "support", "viewer", "content_manager")
#: Roles that may have no organization; ``content_manager`` must have none.
GLOBAL_ROLES: tuple[Role, ...] = ("superadmin", "content_manager")

Action = Literal[
    "read", "write", "reset_token", "manage_plans", "manage_content", "read_keys", "record_review"
]

_ALLOWED: dict[Action, frozenset[str]] = {
    # a content manager may call the read routes: every tenant row is outside its scope
    "read": frozenset(ROLES),
    "write": frozenset({"superadmin", "admin"}),
    "reset_token": frozenset({"superadmin", "admin", "support"}),
    "manage_plans": frozenset({"superadmin"}),
    # importing items and changing their status: whoever writes an item writes its key
    "manage_content": frozenset({"superadmin", "content_manager"}),
    "read_keys": frozenset({"superadmin", "content_manager"}),
    # the outcome of the oral review after the last failed CT at a level (review/service.py)
    "record_review": frozenset({"superadmin", "admin", "support"}),
}


@dataclass(frozen=True)
class Actor:
    """A caller. ``org_path`` is None for the global roles: a superadmin without an
    organization (every organization) and a content manager (no organization)."""

    subject: str
    role: Role
    organization_id: uuid.UUID | None
    org_path: str | None

    @property
    def is_global(self) -> bool:
        """A superadmin of no organization: sees every organization."""
        return self.role == "superadmin" and self.org_path is None

    @property
    def sees_tenants(self) -> bool:
        """False for a content manager: no organization (nor anything of one) is in its scope."""
        return self.is_global or self.org_path is not None

    @property
    def reads_keys(self) -> bool:
        """May see item keys, IRT parameters, transcripts and the answers to live items."""
        return self.role in _ALLOWED["read_keys"]

    def can(self, action: Action) -> bool:
        return self.role in _ALLOWED[action]

    def require(self, action: Action) -> None:
        if not self.can(action):
            raise Forbidden(f"The role {self.role!r} may not {action.replace('_', ' ')}.")

    def covers(self, org_path: str) -> bool:
        """True when an organization with this path lies in the actor's subtree (none lies in
        a content manager's)."""
        if self.org_path is None:
            return self.is_global
        return org_path.startswith(self.org_path)
