"""Gap items (body, gaps), GPCM steps, response points; the candidate's language and
accommodations (token, candidate, attempt); plan register; open links; token not-before.

Additive (expand/contract): older code ignores every new column and the new table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:24:05.079806
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import etest.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_links",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=2), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=True),
        sa.Column("plan_code", sa.String(length=64), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("opens_at", etest.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closes_at", etest.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("access_code_digest", sa.String(length=128), nullable=True),
        sa.Column("required_fields", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("accommodations", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("revoked_at", etest.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", etest.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", etest.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["level"], ["levels.name"], name=op.f("fk_open_links_level_levels")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_open_links_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"], ["plans.code"], name=op.f("fk_open_links_plan_code_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_links")),
        sa.UniqueConstraint("slug", name=op.f("uq_open_links_slug")),
    )
    with op.batch_alter_table("open_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_links_organization_id"), ["organization_id"], unique=False
        )

    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accommodations", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))

    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("accommodations", sa.JSON(), nullable=True))

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("irt_steps", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("gaps", sa.JSON(), nullable=True))

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("register", sa.String(length=16), server_default="adult", nullable=False)
        )

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("points", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_points", sa.Integer(), nullable=True))

    with op.batch_alter_table("test_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("not_before", etest.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("accommodations", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("open_link_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_test_tokens_open_link_id"), ["open_link_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_test_tokens_open_link_id_open_links"),
            "open_links",
            ["open_link_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("test_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_test_tokens_open_link_id_open_links"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_test_tokens_open_link_id"))
        batch_op.drop_column("open_link_id")
        batch_op.drop_column("accommodations")
        batch_op.drop_column("language")
        batch_op.drop_column("not_before")

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("max_points")
        batch_op.drop_column("points")

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("register")

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("gaps")
        batch_op.drop_column("body")
        batch_op.drop_column("irt_steps")

    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("accommodations")
        batch_op.drop_column("language")

    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("accommodations")

    with op.batch_alter_table("open_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_links_organization_id"))

    op.drop_table("open_links")
