"""The awaitable enqueue methods honour ``set(after_commit=...)`` and ``set(outbox=...)``:
nothing reaches Redis before the commit, a rollback drops the job — as the plain methods."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

import jobkit
from tests.outbox.databases import Database
from tests.outbox.jobs import ChargeOrderJob, queued_args, scheduled


@pytest.mark.parametrize("module_database", ["sqlite"], indirect=True)
def test_awaited_enqueues_after_commit_wait_for_the_commit(
    db: Database, real_settings: jobkit.Settings
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    engine = create_async_engine(db.sa_url.replace("sqlite://", "sqlite+aiosqlite://"))

    async def scenario() -> None:
        try:
            async with AsyncSession(engine) as session:
                async with session.begin():
                    await session.execute(text("INSERT INTO orders (id, item) VALUES (1, 'a')"))
                    await ChargeOrderJob.set(after_commit=session).aperform_async(1)
                    await ChargeOrderJob.set(after_commit=session).aperform_in(60, 2)
                    await ChargeOrderJob.set(after_commit=session).aperform_bulk([[3], [4]])
                    assert queued_args(real_settings) == []
                    assert len(jobkit.pending_after_commit()) == 4
                async with session.begin():
                    await ChargeOrderJob.set(after_commit=session).aperform_async(5)
                    await session.rollback()
        finally:
            await engine.dispose()
            await jobkit.aclose()

    asyncio.run(scenario())
    assert queued_args(real_settings) == [1, 3, 4]
    assert [p["args"] for p, _score in scheduled(real_settings)] == [[2]]
