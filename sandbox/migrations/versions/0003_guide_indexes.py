"""the indexes the VeriHome guide names (Add Missing Indexes), built CONCURRENTLY as it says

Revision ID: 0003_guide_indexes
Revises: 0002_guide_tables
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_guide_indexes"
down_revision = "0002_guide_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    with op.get_context().autocommit_block():
        op.create_index(
            "idx_properties_city_status",
            "properties",
            ["city", "status"],
            postgresql_where=sa.text("status = 'available'"),
            postgresql_concurrently=True,
        )
        op.create_index(
            "idx_payments_due_date",
            "payments",
            ["due_date"],
            postgresql_where=sa.text("status = 'pending'"),
            postgresql_concurrently=True,
        )
        op.create_index(
            "idx_messages_conversation_created",
            "messages",
            ["conversation_id", "created_at"],
            postgresql_concurrently=True,
        )
        op.create_index(
            "idx_properties_search",
            "properties",
            [sa.text("to_tsvector('english', title || ' ' || description)")],
            postgresql_using="gin",
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in ("idx_properties_search", "idx_messages_conversation_created", "idx_payments_due_date"):
            op.drop_index(name, postgresql_concurrently=True)
        op.drop_index("idx_properties_city_status", postgresql_concurrently=True)
