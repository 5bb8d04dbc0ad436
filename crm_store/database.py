"""The engine, one transaction per unit of work, and the translation of driver errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from crm_store.errors import CrmError, StoreUnavailable

log = logging.getLogger(__name__)

SUPPORTED_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so writers queue instead of failing.

    SQLite has one writer at a time; taking the write lock when the transaction starts (rather
    than on its first write) makes check-then-insert sequences race-free and avoids the
    'database is locked' upgrade failures of deferred transactions.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 20, statement_timeout: float | None = None
) -> AsyncEngine:
    """`statement_timeout` (PostgreSQL): seconds a statement may run before it is cancelled and
    its unit of work fails with StoreUnavailable (a hung server or a network partition)."""
    scheme = url.split("://", 1)[0]
    if scheme not in SUPPORTED_SCHEMES:
        raise StoreUnavailable(
            f"unsupported database URL scheme {scheme!r}; use one of {', '.join(SUPPORTED_SCHEMES)}"
        )
    kwargs: dict[str, Any] = {"echo": echo}
    if scheme.startswith("postgresql"):
        # No pre-ping: it costs round trips on every checkout; a dead connection is invalidated
        # on first use (StoreUnavailable for that one unit of work) and the pool reconnects.
        # No overflow: connections opened past the pool under a burst were closed again on
        # return, and their set-up cost more than waiting for a pooled one (measured: 9% of a
        # loaded server's CPU in asyncpg's connect).
        kwargs.update(pool_size=pool_size, max_overflow=0, pool_recycle=1800)
        if statement_timeout is not None:
            kwargs["connect_args"] = {"command_timeout": statement_timeout}
    engine = create_async_engine(url, **kwargs)
    if scheme.startswith("sqlite"):
        _tune_sqlite(engine)
    return engine


# SQLSTATE classes of a server that cannot serve us now: connection exceptions (08), too many
# connections / out of resources (53), shutting down or still starting up (57P01-57P03).
_UNAVAILABLE_STATES = ("08", "53", "57P")


def is_unavailable(exc: DBAPIError) -> bool:
    """True when a driver error means 'cannot talk to the database' rather than 'bad data'."""
    if isinstance(exc, InterfaceError) or exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
        return True
    return isinstance(exc, OperationalError) and not isinstance(exc, IntegrityError)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """Driver errors that mean 'cannot reach the database' become StoreUnavailable."""
    try:
        yield
    except CrmError:
        raise
    except (OSError, ConnectionError) as exc:
        raise StoreUnavailable(f"database unreachable: {exc}") from exc
    except PoolTimeout as exc:  # every connection of the pool busy for pool_timeout seconds
        raise StoreUnavailable(f"no database connection free: {exc}") from exc
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(f"database unavailable: {exc.orig}") from exc
        raise


class Database:
    """Owns the engine; hands out sessions that are one transaction each."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._autocommit = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back everything on any error."""
        async with _translated(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for a unit of work that is one SQL statement, atomic by itself.

        On PostgreSQL it runs in autocommit: no BEGIN and COMMIT round trips around the
        statement (a hot path's unit of work costs one round trip). On SQLite, an ordinary
        transaction (there are no round trips to save). Use `transaction()` for anything that
        takes more than one statement.
        """
        if self._autocommit is None:
            async with self.begin() as connection:
                yield connection
            return
        async with _translated(), self._autocommit.connect() as connection:
            yield connection

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One unit of work on a Core connection: `transaction()` without the ORM session."""
        async with _translated(), self.engine.begin() as connection:
            yield connection

    async def ping(self) -> None:
        """Raise StoreUnavailable unless a trivial query succeeds (one round trip: a health
        check every few seconds per instance should cost the database nothing)."""
        async with self.statement() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
