"""Alembic environment: always run through crm_store.migrate with a shared connection."""

from __future__ import annotations

from alembic import context

from crm_store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `frontdesk db upgrade` (crm_store.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
