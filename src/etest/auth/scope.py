"""Subtree scoping in one place. Every query over organization-owned rows goes through
:func:`in_subtree`, so a row outside the actor's subtree is never listed and reads as a 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, true

from etest.auth.actor import Actor
from etest.models import Organization


def in_subtree(actor: Actor) -> ColumnElement[bool]:
    """A filter on :class:`Organization` rows: the actor's organization and those below it;
    every organization for a global superadmin, none for a content manager."""
    if actor.is_global:
        return true()
    if not actor.sees_tenants or actor.org_path is None:  # a content manager
        return false()
    return Organization.path.startswith(actor.org_path, autoescape=True)


def scoped(stmt: Any, actor: Actor, org_id_column: Any) -> Any:
    """Join ``stmt`` to the owning organization through ``org_id_column`` and apply the scope."""
    return stmt.join(Organization, Organization.id == org_id_column).where(in_subtree(actor))
