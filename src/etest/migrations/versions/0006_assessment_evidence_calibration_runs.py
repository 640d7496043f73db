"""assessment evidence, calibration runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:57:42.048176
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import etest.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "calibration_runs",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("requested_by", sa.String(length=300), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("published_at", etest.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=300), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", etest.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", etest.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_runs")),
    )
    with op.batch_alter_table("assessment_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("assessment_versions", schema=None) as batch_op:
        batch_op.drop_column("override_reason")
        batch_op.drop_column("evidence")

    op.drop_table("calibration_runs")
