"""The web chat transcript on every backend: numbering, idempotent keys, concurrent writers."""

from __future__ import annotations

import asyncio

import pytest

from crm_store.errors import InvalidInput
from crm_store.store import CrmStore
from crm_store.webchat import Author, NewEntry

CID = "web:anon-abcdefghijklmnop"


async def test_messages_are_numbered_from_one_per_conversation(store: CrmStore, clock) -> None:
    first = await store.webchat.append_customer(CID, "k-1", {"text": "hello"})
    replies = await store.webchat.append(
        CID,
        [
            NewEntry(Author.BOT, {"text": "Hi!", "buttons": [{"title": "Book", "payload": "/b"}]}),
            NewEntry(Author.AGENT, {"text": "Maria: hi"}),
        ],
    )
    other = await store.webchat.append_customer("web:anna", "k-1", {"text": "same key, other"})
    assert (first.entry.seq, first.new) == (1, True)
    assert [(a.entry.seq, a.entry.author, a.new) for a in replies] == [
        (2, Author.BOT, True),
        (3, Author.AGENT, True),
    ]
    assert (other.entry.seq, other.new) == (1, True)
    assert first.entry.created_at == clock()
    assert replies[0].entry.body["buttons"][0]["payload"] == "/b"
    assert await store.webchat.last_seq(CID) == 3
    assert await store.webchat.last_seq("web:nobody") == 0


async def test_a_repeated_key_is_stored_once_and_returns_the_original(store: CrmStore) -> None:
    await store.webchat.append_customer(CID, "k-1", {"text": "one"})
    await store.webchat.append_customer(CID, "k-2", {"text": "two"})
    again = await store.webchat.append_customer(CID, "k-1", {"text": "one (re-sent)"})
    assert (again.entry.seq, again.new, again.entry.body) == (1, False, {"text": "one"})
    replies = [NewEntry(Author.BOT, {"text": f"r{i}"}, f"k-2/{i}") for i in (1, 2)]
    stored = await store.webchat.append(CID, replies)
    repeated = await store.webchat.append(CID, [*replies, NewEntry(Author.BOT, {"text": "r3"})])
    assert [a.entry.seq for a in stored] == [3, 4]
    assert [(a.entry.seq, a.new) for a in repeated] == [(3, False), (4, False), (5, True)]
    found = await store.webchat.by_key(CID, "k-2/1")
    assert found is not None and found.seq == 3
    assert await store.webchat.by_key(CID, "k-9") is None


async def test_reads_after_a_number_and_the_latest(store: CrmStore) -> None:
    for i in range(1, 8):
        await store.webchat.append_customer(CID, f"k-{i}", {"text": f"m{i}"})
    after = await store.webchat.after(CID, 3, limit=2)
    assert [(e.seq, e.body["text"], e.client_key) for e in after] == [
        (4, "m4", "k-4"),
        (5, "m5", "k-5"),
    ]
    assert [e.seq for e in await store.webchat.after(CID, 7, limit=10)] == []
    assert [e.seq for e in await store.webchat.latest(CID, 3)] == [5, 6, 7]
    assert [e.seq for e in await store.webchat.latest(CID, 100)] == list(range(1, 8))
    assert await store.webchat.latest("web:nobody", 5) == []


@pytest.mark.parametrize(
    ("conversation", "key"),
    [("", "k"), ("w" * 101, "k"), (CID, ""), (CID, "k" * 65)],
)
async def test_bad_keys_are_refused(store: CrmStore, conversation: str, key: str) -> None:
    with pytest.raises(InvalidInput):
        await store.webchat.append_customer(conversation, key, {"text": "x"})


async def test_concurrent_writers_get_distinct_consecutive_numbers(store: CrmStore) -> None:
    async def customer(i: int) -> int:
        appended = await store.webchat.append_customer(CID, f"c-{i}", {"text": str(i)})
        return appended.entry.seq

    async def bot(i: int) -> list[int]:
        entries = [NewEntry(Author.BOT, {"text": f"b{i}.{j}"}) for j in range(2)]
        return [a.entry.seq for a in await store.webchat.append(CID, entries)]

    results = await asyncio.gather(*(customer(i) for i in range(12)), *(bot(i) for i in range(6)))
    seqs = [s for r in results for s in (r if isinstance(r, list) else [r])]
    assert sorted(seqs) == list(range(1, 25))
    for pair in results[12:]:
        assert isinstance(pair, list) and pair[1] == pair[0] + 1  # one turn's replies stay together
    stored = await store.webchat.after(CID, 0, limit=100)
    assert [e.seq for e in stored] == list(range(1, 25))


async def test_the_same_key_sent_concurrently_is_stored_once(store: CrmStore) -> None:
    results = await asyncio.gather(
        *(store.webchat.append_customer(CID, "dup", {"text": "hello"}) for _ in range(8))
    )
    assert sum(r.new for r in results) == 1
    assert {r.entry.seq for r in results} == {1}
    assert len(await store.webchat.after(CID, 0, limit=100)) == 1
