"""Every Redis key and channel routing uses, with its type, its lifetime and its owner.

All names start with one prefix (default "fd:routing:"), so a rebuild or a benchmark can find
them with SCAN (never KEYS) and a test or a second deployment can use its own namespace. Lua
scripts build the same names from the prefix (`PREFIX` below is passed as ARGV[1]); those scripts
assume one Redis server (not a cluster).

Owner "dispatch" means: created and deleted only by routing.dispatch_redis, fully rebuilt from
the database by `frontdesk routing rebuild` (or automatically when `built` is missing), so losing
it loses no record. Times stored in Redis are milliseconds since the epoch, by the caller's clock.

    key                     type    lifetime / owner
    q:<queue>               zset    dispatch. Waiting tickets: member = ticket id (12 digits, so
                                    equal ranks sort first-come first-served), score = rank
    t:<ticket>              hash    dispatch, deleted when the ticket leaves routing. queue,
                                    rank, state (queued | offered | held), agent, expires
    a:<agent>               hash    dispatch. capacity, queues (",q1,q2,"), presence, until
    a:<agent>:t             set     dispatch. Tickets held by or offered to the agent (its load)
    agents                  set     dispatch. Registered agent ids
    idle                    zset    dispatch. Available agents, score = idle since (the longest
                                    idle is first); entries past their presence `until` are
                                    dropped by the next offer
    offers                  zset    dispatch. Offered tickets, score = the offer's deadline
    d:<ticket>              set     TTL 1 day (DECLINED_TTL_MS), also deleted with the ticket.
                                    Agents who declined (or let time out) the ticket's offer
    aht                     hash    dispatch. queue -> recent average handle time (seconds)
    built                   string  dispatch. When the live layer was last rebuilt; missing
                                    means lost (e.g. flushed): the next tick rebuilds
    rebuild                 string  TTL (the rebuild's time limit). The rebuild lock
    pq:<ticket>             string  TTL (routing.position_updates). A queue-position update was
                                    sent lately: the quiet period (routing.position_updates)
    pt:<ticket>             string  TTL 1 day (routing.position_updates). What the customer was
                                    last told ("position:minutes")

    channel                 pub/sub (no storage)
    ch:queue:<queue>        desk events of tickets in the queue
    ch:agent:<agent>        desk events for one agent (offers, assignments)
    ch:all                  every desk event (the supervisors' dashboard)
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "fd:routing:"
DECLINED_TTL_MS = 24 * 3600 * 1000
TICKET_DIGITS = 12


def member(ticket_id: int) -> str:
    """A ticket as a sorted-set member: zero-padded, so ties sort by ticket id."""
    return f"{ticket_id:0{TICKET_DIGITS}d}"


def agent_member(agent_id: int) -> str:
    return f"{agent_id:0{TICKET_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if any(c in self.prefix for c in "*?[]\\"):
            raise ValueError(f"a key prefix must not contain glob characters: {self.prefix!r}")

    def queue(self, queue: str) -> str:
        return f"{self.prefix}q:{queue}"

    def ticket(self, ticket_id: int) -> str:
        return f"{self.prefix}t:{member(ticket_id)}"

    def agent(self, agent_id: int) -> str:
        return f"{self.prefix}a:{agent_member(agent_id)}"

    def seats(self, agent_id: int) -> str:
        return f"{self.prefix}a:{agent_member(agent_id)}:t"

    def position_quiet(self, ticket_id: int) -> str:
        return f"{self.prefix}pq:{member(ticket_id)}"

    def position_told(self, ticket_id: int) -> str:
        return f"{self.prefix}pt:{member(ticket_id)}"

    def declined(self, ticket_id: int) -> str:
        return f"{self.prefix}d:{member(ticket_id)}"

    @property
    def agents(self) -> str:
        return f"{self.prefix}agents"

    @property
    def idle(self) -> str:
        return f"{self.prefix}idle"

    @property
    def offers(self) -> str:
        return f"{self.prefix}offers"

    @property
    def aht(self) -> str:
        return f"{self.prefix}aht"

    @property
    def built(self) -> str:
        return f"{self.prefix}built"

    @property
    def rebuild_lock(self) -> str:
        return f"{self.prefix}rebuild"

    @property
    def pattern(self) -> str:
        """SCAN MATCH pattern of every key above."""
        return f"{self.prefix}*"

    def queue_channel(self, queue: str) -> str:
        return f"{self.prefix}ch:queue:{queue}"

    def agent_channel(self, agent_id: int) -> str:
        return f"{self.prefix}ch:agent:{agent_id}"

    @property
    def all_channel(self) -> str:
        return f"{self.prefix}ch:all"
