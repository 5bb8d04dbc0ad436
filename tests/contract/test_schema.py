"""The migrations build exactly the schema the models describe, and the store fails fast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError

from crm_store.database import Database, create_engine
from crm_store.enums import AgentRole
from crm_store.errors import InvalidInput, StoreUnavailable
from crm_store.migrate import current_revision, head_revision, upgrade
from crm_store.models import Base
from crm_store.store import CrmStore
from crm_store.utc import UtcDateTime


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


async def test_migrated_schema_matches_the_models(store: CrmStore) -> None:
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with store.database.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
    assert await current_revision(store.database) == head_revision()


async def test_upgrade_is_idempotent(store: CrmStore) -> None:
    await upgrade(store.database)
    await upgrade(store.database)
    assert await current_revision(store.database) == head_revision()


async def test_the_database_itself_refuses_overlaps(store: CrmStore) -> None:
    """Bypass the repository: raw SQL must hit the constraint too."""
    from tests.contract.catalog_fixture import seed_catalog

    await seed_catalog(store)
    stamp = {name: bindparam(name, type_=UtcDateTime()) for name in ("s", "e", "t")}
    insert = text(
        "INSERT INTO appointments (customer_id, service_id, resource_id, start_at, end_at, status,"
        " created_at, updated_at) VALUES (1, 1, 1, :s, :e, 'booked', :s, :s)"
    ).bindparams(stamp["s"], stamp["e"])
    async with store.database.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO customers (full_name, language, timezone, consent_marketing,"
                " consent_data_processing, tier, lifetime_value, created_at, updated_at)"
                " VALUES ('x', 'en', 'UTC', false, true, 'lead', 0, :t, :t)"
            ).bindparams(stamp["t"]),
            {"t": at(9)},
        )
        await session.execute(insert, {"s": at(10), "e": at(10, 45)})
    with pytest.raises(IntegrityError, match="appointments_no_overlap"):
        async with store.database.transaction() as session:
            await session.execute(insert, {"s": at(10, 30), "e": at(11)})


async def test_agents_authenticate_with_hashed_passwords(store: CrmStore) -> None:
    agent = await store.agents.create(
        "Maria.K",
        "correct horse battery",
        roles=[AgentRole.SUPERVISOR],
        skills=["billing"],
        capacity=4,
    )
    assert agent.username == "maria.k" and agent.roles == (AgentRole.SUPERVISOR,)
    assert (await store.agents.authenticate("maria.k", "correct horse battery")) == agent
    assert await store.agents.authenticate("maria.k", "wrong password!!") is None
    assert await store.agents.authenticate("nobody", "correct horse battery") is None
    async with store.database.transaction() as session:
        stored = await session.scalar(text("SELECT password_hash FROM agents"))
    assert stored.startswith("$argon2") and "correct horse" not in stored
    with pytest.raises(InvalidInput, match="taken"):
        await store.agents.create("maria.k", "another long password")
    with pytest.raises(InvalidInput, match="password"):
        await store.agents.create("short.pw", "short")


async def test_unreachable_postgres_is_an_error_not_a_fallback(policy) -> None:
    with pytest.raises(StoreUnavailable):
        async with CrmStore.open(
            "postgresql+asyncpg://postgres@127.0.0.1:1/none",
            policy,
            default_region="GB",
            default_timezone="UTC",
        ):
            pass


async def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(StoreUnavailable, match="unsupported"):
        Database(create_engine("mysql://root@localhost/x"))
