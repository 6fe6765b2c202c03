"""the VeriHome guide's tables: properties, payments, messages, user_sessions, login_attempts

Revision ID: 0002_guide_tables
Revises: 0001_users
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_guide_tables"
down_revision = "0001_users"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "properties",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", name="properties_owner_id_fkey"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("city", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="available"),
        sa.Column("price_per_month", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("idx_properties_owner_id", "properties", ["owner_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="payments_user_id_fkey"), nullable=False),
        sa.Column(
            "property_id", sa.Integer, sa.ForeignKey("properties.id", name="payments_property_id_fkey"), nullable=False
        ),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("stripe_payment_intent", sa.Text),
    )
    op.create_index("idx_payments_user_id", "payments", ["user_id"])
    op.create_index("idx_payments_property_id", "payments", ["property_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.Integer, nullable=False),
        sa.Column("sender_id", sa.Integer, sa.ForeignKey("users.id", name="messages_sender_id_fkey"), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("idx_messages_sender_id", "messages", ["sender_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="user_sessions_user_id_fkey"), nullable=False),
        sa.Column("session_key", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("idx_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_index("idx_user_sessions_expires_at", "user_sessions", ["expires_at"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="login_attempts_user_id_fkey")),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("ip", sa.Text, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("idx_login_attempts_user_id", "login_attempts", ["user_id"])


def downgrade() -> None:
    for table in ("login_attempts", "user_sessions", "messages", "payments", "properties"):
        op.drop_table(table)
