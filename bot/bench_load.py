"""The load generator and the echo ceiling of `frontdesk bench e2e`, each run in its own process.

    python -m bot.bench_load load < spec.json    # prints one JSON object: rate and latencies
    python -m bot.bench_load echo PORT           # a bare aiohttp handler that echoes JSON

The load generator keeps `conversations` conversations going at once over one keep-alive aiohttp
session; each conversation is sequential (a customer waits for the answer before writing again)
and its messages go to the given URLs in turn (a round-robin load balancer). The mix: small talk,
a booking by buttons with a confirmation, advice questions, a signed-in customer listing their
appointments. Every message carries an id of its own, as a real channel's do. With a `rate`,
messages go out on a fixed schedule of that many a second instead (each conversation still
waits for its answer), which gives the latency at a given load rather than at saturation. It
imports nothing heavy, so that it costs the machine as little as it can.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from aiohttp import web

PATH = "/webhooks/rest/webhook"
JSON = {"Content-Type": "application/json"}
SERVICES = ("cleaning", "checkup", "gp-consult", "physio", "vaccination")
SMALL_TALK = ("hello there", "what can you do?", "am I talking to a robot?", "thanks a lot", "bye")
ADVICE = (
    "hi",
    "is it normal for my gums to bleed when I floss?",
    "how should I prepare for a dental cleaning?",
    "where are you and how do I get there?",
    "thank you",
)
NAMES = ("Sam Taylor", "Priya Shah", "Jonas Berg", "Ana Costa", "Tom Okoro")
LISTING = ("hello", "/list_appointments", "which appointments do I have coming up?", "thanks")


def booking(variant: int) -> tuple[str, ...]:
    service = SERVICES[variant % len(SERVICES)]
    return (
        "hello",
        "I would like to book an appointment",
        f'/book_appointment{{"service": "{service}"}}',
        f'/choose_slot{{"option": {1 + variant % 3}}}',
        NAMES[variant % len(NAMES)],  # asked for by a customer we do not know yet
        "/affirm",
    )


@dataclass(frozen=True)
class Spec:
    urls: tuple[str, ...]
    messages: int
    conversations: int
    warmup: int = 0
    run_id: str = "bench"  # in every sender id: conversations of one run are new
    secret: str = ""  # signs the listing customers' identities (the webchat identity secret)
    web_ids: tuple[str, ...] = ()  # customers who can sign in; none: no listing conversations
    # messages/s offered on a fixed schedule; 0: each conversation writes as soon as it is
    # answered (the saturated, closed-loop throughput)
    rate: float = 0.0


@dataclass
class Tally:
    left: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # what came back instead of a 200
    started: float = field(default_factory=time.perf_counter)
    tickets: int = 0  # paced: send times handed out so far

    async def due(self, rate: float) -> float:
        """When the next message is meant to be sent: now (closed loop), or the next slot of
        the schedule, waited for. A paced message's latency counts from its slot, so a reply
        that holds up the conversation's next message is not hidden (no coordinated omission).
        """
        now = time.perf_counter()
        if rate <= 0:
            return now
        slot = self.started + self.tickets / rate
        self.tickets += 1
        if slot > now:
            await asyncio.sleep(slot - now)
        return slot


def conversation(spec: Spec, worker: int, round_: int) -> tuple[str, tuple[str, ...], bool]:
    """(sender, texts, signed) of a worker's next conversation: the mix, in rotation."""
    kinds = 4 if spec.web_ids else 3
    kind = (worker + round_) % kinds
    sender = f"{spec.run_id}-{worker}-{round_}"
    if kind == 0:
        return sender, SMALL_TALK, False
    if kind == 1:
        return sender, booking(worker * 7 + round_), False
    if kind == 2:
        return sender, ADVICE, False
    return spec.web_ids[worker % len(spec.web_ids)], LISTING, True


def body(spec: Spec, sender: str, text: str, signed: bool, message_id: str) -> bytes:
    """A REST message with its id, as the web chat, Telegram and the phone line always send one
    (the server stores it with the replies, so that a retry is answered once)."""
    metadata: dict[str, Any] = {"message_id": message_id}
    if signed:
        digest = hmac.new(spec.secret.encode(), sender.encode(), hashlib.sha256).hexdigest()
        metadata["identity"] = {"user_id": sender, "hash": digest}
    return json.dumps({"sender": sender, "message": text, "metadata": metadata}).encode()


async def post(session: aiohttp.ClientSession, url: str, data: bytes) -> str:
    """The HTTP status, or what went wrong instead (a timeout, a refused connection)."""
    try:
        async with session.post(url, data=data, headers=JSON) as response:
            await response.read()
            return str(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


class Budget(Protocol):
    left: int  # messages still to send, shared by every worker of a run


def worker_messages(
    spec: Spec, budget: Budget, worker: int
) -> Iterator[tuple[int, str, str, bool]]:
    """A worker's messages in order, (its number, sender, text, signed), while the run's budget
    lasts: its conversations of the mix one after the other (shared with bench/surge.py)."""
    sent = round_ = 0
    while budget.left > 0:
        sender, texts, signed = conversation(spec, worker, round_)
        round_ += 1
        for text in texts:
            if budget.left <= 0:
                return
            budget.left -= 1
            yield sent, sender, text, signed
            sent += 1


async def drive(session: aiohttp.ClientSession, spec: Spec, tally: Tally, worker: int) -> None:
    for sent, sender, text, signed in worker_messages(spec, tally, worker):
        url = spec.urls[(worker + sent) % len(spec.urls)] + PATH
        message_id = f"{spec.run_id}-{worker}-{sent}"
        started = await tally.due(spec.rate)
        status = await post(session, url, body(spec, sender, text, signed, message_id))
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status != "200":
            tally.errors[status] += 1


async def measure(spec: Spec) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if spec.warmup:
            warm = Spec(**{**spec.__dict__, "run_id": spec.run_id + "-warm", "messages": 0})
            tally = Tally(spec.warmup)
            await asyncio.gather(
                *(drive(session, warm, tally, w) for w in range(spec.conversations))
            )
        tally = Tally(spec.messages)
        started, cpu = tally.started, time.process_time()
        await asyncio.gather(*(drive(session, spec, tally, w) for w in range(spec.conversations)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = tally.latencies_ms
    return {
        "messages": len(done),
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(len(done) / elapsed, 1),
        "p50_ms": round(statistics.median(done), 2),
        "p99_ms": round(statistics.quantiles(done, n=100)[98] if len(done) > 1 else done[0], 2),
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "load_cpu_ms_per_msg": round(cpu * 1000 / max(len(done), 1), 3),  # the generator's own
    }


async def echo(request: web.Request) -> web.Response:
    """The ceiling: what aiohttp does with a message when nothing else happens."""
    data = await request.json()
    return web.json_response([{"recipient_id": data["sender"], "text": data["message"]}])


def main(argv: list[str]) -> int:
    if argv[:1] == ["echo"] and len(argv) == 2:
        app = web.Application()
        app.router.add_post(PATH, echo)
        app.router.add_get("/healthz", healthz)
        web.run_app(app, host="127.0.0.1", port=int(argv[1]), access_log=None, print=None)
        return 0
    if argv == ["load"]:
        raw = json.load(sys.stdin)
        spec = Spec(**{**raw, "urls": tuple(raw["urls"]), "web_ids": tuple(raw["web_ids"])})
        print(json.dumps(asyncio.run(measure(spec))), flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
