"""The desk's audit log on each database: entries are appended and read back newest first."""

from __future__ import annotations

from crm_store.enums import AgentRole
from crm_store.store import CrmStore
from desk.audit import AuditAction, AuditEntry, AuditLog, Outcome
from tests.conftest import FakeClock


async def test_entries_are_kept_in_order_with_who_where_and_what(
    store: CrmStore, clock: FakeClock
) -> None:
    agent = await store.agents.create("ann.k", "a long enough password", roles=[AgentRole.AGENT])
    log = AuditLog(store.database, clock)
    await log.record(
        AuditEntry(AuditAction.LOGIN_FAILED, Outcome.FAILED, None, "ann.k", "10.0.0.1")
    )
    clock.advance(seconds=5)
    await log.record(AuditEntry(AuditAction.LOGIN, Outcome.OK, agent.id, "ann.k", "10.0.0.1"))
    clock.advance(seconds=5)
    await log.record(
        AuditEntry(
            AuditAction.TICKET_REFUSED,
            Outcome.REFUSED,
            agent.id,
            "ann.k",
            "10.0.0.1",
            target="ticket:9",
            detail={"path": "/desk/api/tickets/9"},
        )
    )
    entries = await log.recent()
    assert [(e.action, e.outcome) for e in entries] == [
        (AuditAction.TICKET_REFUSED, Outcome.REFUSED),
        (AuditAction.LOGIN, Outcome.OK),
        (AuditAction.LOGIN_FAILED, Outcome.FAILED),
    ]
    assert entries[0].target == "ticket:9" and entries[0].detail == {"path": "/desk/api/tickets/9"}
    assert entries[0].at == clock.now
    assert [e.action for e in await log.recent(agent_id=agent.id, limit=1)] == [
        AuditAction.TICKET_REFUSED
    ]
    assert len(await log.recent(since=clock.now)) == 1


async def test_overlong_values_are_cut_not_refused(store: CrmStore, clock: FakeClock) -> None:
    log = AuditLog(store.database, clock)
    await log.record(
        AuditEntry(AuditAction.LOGIN_FAILED, Outcome.FAILED, username="x" * 500, target="t" * 500)
    )
    (entry,) = await log.recent()
    assert entry.username == "x" * 64 and entry.target == "t" * 100
