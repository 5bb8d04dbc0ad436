"""Interpreters: what the dialogue calls. A local model, or a remote Rasa server.

Both are async context managers and follow `Interpreter`:

    async with LocalInterpreter.load(path, runtime) as nlu:
        result = await nlu.parse("book a cleaning tomorrow")
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from nlu.config import RuntimeConfig
from nlu.entities import ParseContext
from nlu.errors import BadParseRequest, NluUnavailable
from nlu.model import NluModel, clean_text
from nlu.model_file import load_model
from nlu.types import FALLBACK_INTENT, Entity, IntentScore, ParseResult


class Interpreter(Protocol):
    async def parse(
        self, text: str, reference_time: datetime | None = None, timezone: str | None = None
    ) -> ParseResult:
        """The meaning of `text`. `reference_time` (timezone-aware; default: now) and
        `timezone` (an IANA name; default: the configured one) resolve relative dates."""
        ...


def parse_context(
    runtime: RuntimeConfig, reference_time: datetime | None, timezone: str | None
) -> ParseContext:
    """Check and complete the when and where of a parse; BadParseRequest says what is wrong."""
    name = timezone or runtime.timezone
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # UnicodeError is a ValueError
        raise BadParseRequest(f"unknown time zone {name[:60]!r}") from exc
    if reference_time is None:
        reference_time = datetime.now(UTC)
    elif reference_time.tzinfo is None or reference_time.utcoffset() is None:
        reference_time = reference_time.replace(tzinfo=zone)  # a naive time is local time
    try:
        local = reference_time.astimezone(zone)
    except (OverflowError, ValueError) as exc:
        raise BadParseRequest(f"reference time {reference_time} is out of range") from exc
    return ParseContext(local, zone, runtime.language)


class LocalInterpreter:
    """A trained model in this process; parses run on one worker thread off the event loop."""

    def __init__(self, model: NluModel, runtime: RuntimeConfig) -> None:
        self.model = model
        self.runtime = runtime
        self._executor: ThreadPoolExecutor | None = None
        self._serving = ExitStack()

    @classmethod
    def load(cls, path: Path, runtime: RuntimeConfig) -> LocalInterpreter:
        """Blocking (reads the file, maybe loads MiniLM): call before serving or in a thread."""
        return cls(load_model(path), runtime)

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")
        self._serving.enter_context(self.model.serving())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._serving.close()

    async def parse(
        self, text: str, reference_time: datetime | None = None, timezone: str | None = None
    ) -> ParseResult:
        context = parse_context(self.runtime, reference_time, timezone)
        if self.model.encoder is None:
            # Sparse only: well under a millisecond, cheaper on the loop than a thread hop,
            # whose GIL hand-offs stall the loop's socket writes.
            return self.model.parse(text, context, self.runtime)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self.model.parse, text, context, self.runtime
        )


class RemoteRasaInterpreter:
    """Sends each parse to an existing Rasa server's POST /model/parse."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        token: str | None = None,
        runtime: RuntimeConfig | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/model/parse"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.runtime = runtime or RuntimeConfig()
        self._params = {"token": token} if token else {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def parse(
        self, text: str, reference_time: datetime | None = None, timezone: str | None = None
    ) -> ParseResult:
        parse_context(self.runtime, reference_time, timezone)  # same checks as a local parse
        if self._session is None:
            raise RuntimeError("use `async with RemoteRasaInterpreter(...)` before parsing")
        body: dict[str, Any] = {"text": clean_text(text, self.runtime.max_text_chars)}
        try:
            async with self._session.post(self.url, json=body, params=self._params) as response:
                if response.status != 200:
                    reason = (await response.text())[:200]
                    raise NluUnavailable(
                        f"the Rasa server at {self.url} answered {response.status}: {reason}"
                    )
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise NluUnavailable(
                f"the Rasa server at {self.url} is unreachable or too slow "
                f"({type(exc).__name__}: {exc or 'timed out'})"
            ) from exc
        try:
            return from_rasa(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise NluUnavailable(
                f"the Rasa server at {self.url} sent an unexpected answer"
            ) from exc


def from_rasa(data: Any) -> ParseResult:
    """A ParseResult from Rasa's /model/parse JSON (a null intent becomes nlu_fallback at 0)."""
    intent = data["intent"] or {}
    name = intent.get("name")
    top = IntentScore(str(name) if name else FALLBACK_INTENT, float(intent.get("confidence") or 0))
    ranking = tuple(
        IntentScore(str(item["name"]), float(item["confidence"]))
        for item in data.get("intent_ranking") or []
    )
    entities = tuple(
        Entity(
            entity=str(item["entity"]),
            value=item.get("value"),
            start=int(item["start"]),
            end=int(item["end"]),
            extractor=str(item.get("extractor") or "rasa"),
            confidence_entity=item.get("confidence_entity"),
            role=item.get("role"),
            group=item.get("group"),
        )
        for item in data.get("entities") or []
    )
    return ParseResult(str(data["text"]), top, entities, ranking)
