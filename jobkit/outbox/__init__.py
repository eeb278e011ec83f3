"""The transactional outbox: jobs written as rows in the application's own transaction
(``Job.set(outbox=session)``) and moved to Redis by a relay.

``schema`` holds the table and its SQL for each database, ``writer`` the INSERT side,
``database`` the relay's connections from a URL, ``relay`` the mover, ``alembic`` the
migration operation.
"""

from .schema import TABLE

__all__ = ["TABLE"]
