"""The CRM store's front: one object that opens the database and hands out its repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crm_store.agents import AgentDirectory
from crm_store.appointments import AppointmentBook
from crm_store.catalog import Catalog
from crm_store.clock import Clock, system_clock
from crm_store.customer_view import CustomerViewer
from crm_store.customers import CustomerDirectory
from crm_store.database import Database, create_engine
from crm_store.knowledge_log import KnowledgeLog
from crm_store.migrate import require_current, upgrade
from crm_store.privacy import PrivacyOffice
from crm_store.reminders import ReminderBook
from crm_store.segmentation import SegmentationPolicy
from crm_store.tier_assignment import TierAssigner
from crm_store.turns import TurnRecord
from crm_store.webchat import WebchatTranscript


class CrmStore:
    def __init__(
        self,
        database: Database,
        policy: SegmentationPolicy,
        *,
        default_region: str,
        default_timezone: str,
        clock: Clock = system_clock,
    ) -> None:
        self.database = database
        self.clock = clock
        self.tiers = TierAssigner(database, policy, clock)
        self.customers = CustomerDirectory(
            database,
            self.tiers,
            clock,
            default_region=default_region,
            default_timezone=default_timezone,
        )
        self.views = CustomerViewer(database, clock)
        self.catalog = Catalog(database)
        self.appointments = AppointmentBook(database, clock)
        self.agents = AgentDirectory(database, clock)
        self.privacy = PrivacyOffice(database, clock)
        self.knowledge_log = KnowledgeLog(database, clock)
        self.reminders = ReminderBook(database, clock)
        self.webchat = WebchatTranscript(database, clock)
        self.turns = TurnRecord(database, self.customers, clock)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        policy: SegmentationPolicy,
        *,
        default_region: str,
        default_timezone: str,
        clock: Clock = system_clock,
        migrate: bool = False,
        pool_size: int = 20,
        statement_timeout: float | None = None,
    ) -> AsyncIterator[CrmStore]:
        """Connect (fail fast with StoreUnavailable), migrate or check the schema, close on exit."""
        engine = create_engine(url, pool_size=pool_size, statement_timeout=statement_timeout)
        database = Database(engine)
        try:
            await database.ping()
            if migrate:
                await upgrade(database)
            else:
                await require_current(database)
            yield cls(
                database,
                policy,
                default_region=default_region,
                default_timezone=default_timezone,
                clock=clock,
            )
        finally:
            await database.close()
