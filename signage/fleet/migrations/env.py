"""Alembic environment: run by signage.fleet.store.migrate with an open connection."""

from __future__ import annotations

from alembic import context

from signage.fleet.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
