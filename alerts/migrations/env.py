"""Alembic environment: runs on the connection :func:`alerts.store.migrate` passes in."""

from __future__ import annotations

from alembic import context

from alerts.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through alerts.store.migrate
    raise RuntimeError("run migrations through alerts.store.migrate(url)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
