"""payments.reminded_at, written on a branch from 0002 at the same time as 0003_guide_indexes and
merged without `alembic merge heads`: the folder has two heads (the DB-02 twin alembic-two-heads).

Revision ID: 0003_payment_reminders
Revises: 0002_guide_tables
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_payment_reminders"
down_revision = "0002_guide_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("reminded_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("payments", "reminded_at")
