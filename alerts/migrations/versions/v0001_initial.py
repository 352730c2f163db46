"""Alerts, deliveries and outcomes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(40), primary_key=True),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(16), nullable=False),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("churn_probability", sa.Float(), nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=False),
        sa.Column("value_tier", sa.String(16), nullable=False),
        sa.Column("revenue_at_risk", sa.Float(), nullable=True),
        sa.Column("expected_value", sa.Float(), nullable=False),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("reason_family", sa.String(32), nullable=False),
        sa.Column("reasons_en", sa.Text(), nullable=False),
        sa.Column("reasons_zh", sa.Text(), nullable=False),
        sa.Column("rule_codes", sa.Text(), nullable=False),
        sa.Column("rules_en", sa.Text(), nullable=False),
        sa.Column("rules_zh", sa.Text(), nullable=False),
        sa.Column("action_en", sa.Text(), nullable=False),
        sa.Column("action_zh", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    for column in ("cycle", "customer_id", "owner", "status"):
        op.create_index(f"ix_alerts_{column}", "alerts", [column])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(40), sa.ForeignKey("alerts.alert_id"), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("alert_id", "channel", name="uq_delivery_alert_channel"),
    )
    op.create_index("ix_deliveries_alert_id", "deliveries", ["alert_id"])
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(40), sa.ForeignKey("alerts.alert_id"), nullable=False),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("contacted_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("alert_id", "contacted_at", name="uq_outcome_alert_contacted"),
    )
    op.create_index("ix_outcomes_alert_id", "outcomes", ["alert_id"])
    op.create_index("ix_outcomes_customer_id", "outcomes", ["customer_id"])


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_table("deliveries")
    op.drop_table("alerts")
