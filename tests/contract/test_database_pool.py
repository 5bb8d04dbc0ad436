"""A unit of work that finds every pooled connection taken for the pool's timeout gets the
store's "unavailable" (a polite 503 at the edge), not a library error (a 500 with a trace)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_store.database import Database
from crm_store.errors import StoreUnavailable


async def test_no_free_connection_within_the_pool_timeout_is_unavailable(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    database = Database(engine)
    try:
        async with database.statement() as held:  # the pool's only connection
            assert (await held.execute(text("SELECT 1"))).scalar() == 1
            with pytest.raises(StoreUnavailable, match="no database connection free"):
                async with database.statement():
                    pytest.fail("a second connection from a pool of one")
            with pytest.raises(StoreUnavailable, match="no database connection free"):
                async with database.transaction() as session:  # connects on first use
                    await session.execute(text("SELECT 1"))
                    pytest.fail("a second connection from a pool of one")
        async with database.transaction() as session:  # given back: free again
            assert (await session.execute(text("SELECT 2"))).scalar() == 2
    finally:
        await database.close()
