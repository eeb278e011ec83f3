"""Alembic operations for the outbox table.

In a migration::

    import jobkit.outbox.alembic  # registers the operations

    def upgrade():
        op.create_jobkit_outbox()

    def downgrade():
        op.drop_jobkit_outbox()
"""

from __future__ import annotations

from typing import Any

from alembic.operations import MigrateOperation, Operations

from . import schema


@Operations.register_operation("create_jobkit_outbox")
class CreateOutboxOp(MigrateOperation):
    """Create ``jobkit_outbox`` (and PostgreSQL's NOTIFY trigger)."""

    @classmethod
    def create_jobkit_outbox(cls, operations: Operations) -> Any:
        """``op.create_jobkit_outbox()``."""
        return operations.invoke(cls())

    def reverse(self) -> DropOutboxOp:
        return DropOutboxOp()


@Operations.register_operation("drop_jobkit_outbox")
class DropOutboxOp(MigrateOperation):
    """Drop ``jobkit_outbox`` (rows still in it are lost: relay them first)."""

    @classmethod
    def drop_jobkit_outbox(cls, operations: Operations) -> Any:
        """``op.drop_jobkit_outbox()``."""
        return operations.invoke(cls())

    def reverse(self) -> CreateOutboxOp:
        return CreateOutboxOp()


@Operations.implementation_for(CreateOutboxOp)
def _create(operations: Operations, operation: CreateOutboxOp) -> None:
    for sql in schema.create_statements(operations.get_bind().dialect.name):
        operations.execute(sql)


@Operations.implementation_for(DropOutboxOp)
def _drop(operations: Operations, operation: DropOutboxOp) -> None:
    for sql in schema.drop_statements(operations.get_bind().dialect.name):
        operations.execute(sql)
