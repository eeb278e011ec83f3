"""``op.create_jobkit_outbox()`` in a real Alembic migration, on PostgreSQL, MariaDB, SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.orm import Session

import jobkit
from jobkit.outbox.relay import Relay
from tests.outbox.databases import Database
from tests.outbox.jobs import ChargeOrderJob, queued_args

ENV = '''
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
'''

MIGRATION = '''
from alembic import op
import jobkit.outbox.alembic  # noqa: F401  (registers op.create_jobkit_outbox)

revision = "0001"
down_revision = None


def upgrade():
    op.create_jobkit_outbox()


def downgrade():
    op.drop_jobkit_outbox()
'''


def test_alembic_operation_creates_a_working_outbox_and_drops_it(
    db: Database, real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE jobkit_outbox")
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "script.py.mako").write_text("")
    (tmp_path / "versions" / "0001_outbox.py").write_text(MIGRATION)
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    config.set_main_option("sqlalchemy.url", db.sa_url)
    command.upgrade(config, "head")
    assert "jobkit_outbox" in inspect(db.engine).get_table_names()
    with Session(db.engine) as session, session.begin():
        ChargeOrderJob.set(outbox=session).perform_async(1)
    with Relay(db.url, jobkit.Client(real_settings)) as relay:
        assert relay.drain() == 1
    assert queued_args(real_settings) == [1]
    command.downgrade(config, "base")
    db.engine.dispose()
    assert "jobkit_outbox" not in inspect(db.engine).get_table_names()
