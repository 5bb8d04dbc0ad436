"""Settings: config.yml plus the environment, validated once into one frozen object."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from bot.durations import DaySchedule as DaySchedule
from bot.durations import Duration as Duration
from bot.durations import TimeInterval as TimeInterval
from bot.durations import TimeZoneName as TimeZoneName
from crm_store.tiers import Tier

Loc = tuple[str | int, ...]
MASK = "**********"
CENT = Decimal("0.01")


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return list(cls)[day.weekday()]


class _Problems(ValueError):
    """Problems a validator found at keys below its model; load_settings reports each one."""

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{_dotted(loc)}: {reason}" for loc, reason in problems))
        self.problems = tuple(problems)


def _raise_any(problems: Sequence[tuple[Loc, str]]) -> None:
    if problems:
        raise _Problems(problems)


def _checked(test: Callable[[str], bool], reason: str) -> AfterValidator:
    def check(value: str) -> str:
        if not test(value):
            raise ValueError(reason.format(value=value))
        return value

    return AfterValidator(check)


def _matches(pattern: str) -> Callable[[str], bool]:
    return lambda value: re.fullmatch(pattern, value) is not None


def _prefixed(*prefixes: str) -> Callable[[str], bool]:
    return lambda value: value.startswith(prefixes)


Slug = Annotated[
    str,
    _checked(
        _matches("[a-z0-9][a-z0-9-]*"),
        "{value!r} is not a key of lower-case letters, digits, dashes",
    ),
]
Name = Annotated[str, Field(min_length=1)]
Language = Annotated[str, _checked(_matches("[a-z]{2,3}"), "{value!r} is not a code like 'en'")]
DatabaseUrl = Annotated[
    str,
    _checked(
        _prefixed("sqlite+aiosqlite://", "postgresql+asyncpg://"),
        "must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
    ),
]
RedisUrl = Annotated[str, _checked(_prefixed("redis://", "rediss://"), "must start with redis://")]
WebUrl = Annotated[str, _checked(_prefixed("http://", "https://"), "must start with http(s)://")]
Rate = Annotated[Decimal, Field(gt=0, lt=1)]
Money = Annotated[
    Decimal, Field(ge=0, decimal_places=2), AfterValidator(lambda v: v.quantize(CENT))
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _blank(secret: SecretStr | None) -> bool:
    return secret is None or not secret.get_secret_value()


class BusinessSettings(_Model):
    name: Name
    timezone: TimeZoneName
    languages: tuple[Language, ...] = Field(default=("en",), min_length=1)
    default_region: Annotated[
        str, _checked(_matches("[A-Z]{2}"), "{value!r} is not a region code like 'GB'")
    ] = "GB"
    currency: Annotated[
        str, _checked(_matches("[A-Z]{3}"), "{value!r} is not a currency code like 'GBP'")
    ] = "GBP"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StoreSettings(_Model):
    database_url: DatabaseUrl = Field(default="sqlite+aiosqlite:///frontdesk.db", repr=False)
    redis_url: RedisUrl | None = Field(default=None, repr=False)
    # PostgreSQL connections each process keeps open (SQLite: one file, no pool to size)
    database_pool_size: int = Field(default=20, ge=1, le=500)
    # seconds one SQL statement of `frontdesk run` may take (PostgreSQL): a hung database costs
    # a request this long and a 503, not a wait until the client gives up
    database_timeout: float = Field(default=10.0, gt=0, le=3600)


class ServerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: WebUrl = "http://localhost:8080"
    max_body_bytes: int = Field(default=65536, gt=0)
    # on SIGTERM or Ctrl-C: how long requests already in flight may take to finish
    shutdown_grace: float = Field(default=20.0, ge=0, le=600)  # seconds
    # turns (customer messages) one process works on at once; more wait for a place
    max_turns: int = Field(default=32, ge=1, le=10_000)
    # how long a message may wait for a place before the customer is told "busy, try again"
    turn_wait: float = Field(default=1.0, ge=0, le=60)  # seconds


class RestChannel(_Model):
    enabled: bool = True


class TelegramChannel(_Model):
    enabled: bool = False
    mode: Literal["webhook", "polling"] = "webhook"
    token: SecretStr | None = None
    webhook_secret: SecretStr | None = None  # required in webhook mode
    base_url: WebUrl | None = None  # another Bot API server (a local one, a test fake)
    per_chat_interval: float = Field(default=1.0, ge=0, le=60)  # seconds between two messages
    global_rate: float = Field(default=30.0, gt=0, le=1000)  # messages per second, all chats
    max_retries: int = Field(default=3, ge=0, le=10)  # resends after a 429 "retry after"
    max_retry_wait: float = Field(default=60.0, gt=0, le=3600)  # a longer retry_after gives up
    poll_timeout: int = Field(default=30, ge=0, le=50)  # long-polling seconds (polling mode)

    @model_validator(mode="after")
    def _needs_token(self) -> TelegramChannel:
        problems: list[tuple[Loc, str]] = []
        if self.enabled and _blank(self.token):
            problems.append((("token",), "required while the telegram channel is enabled"))
        if self.enabled and self.mode == "webhook" and _blank(self.webhook_secret):
            reason = "required in webhook mode (set TELEGRAM_WEBHOOK_SECRET, or use mode: polling)"
            problems.append((("webhook_secret",), reason))
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            reason = "must be 1-256 letters, digits, _ or - (Telegram's rule for secret tokens)"
            problems.append((("webhook_secret",), reason))
        _raise_any(problems)
        return self


WebOrigin = Annotated[
    str,
    _checked(
        _matches(r"https?://[^/\s?#]+"),
        "{value!r} is not an origin like 'https://www.example.com' (scheme and host, no path)",
    ),
]


class WebchatChannel(_Model):
    enabled: bool = True
    identity_secret: SecretStr | None = None
    allowed_origins: tuple[WebOrigin, ...] = ("http://localhost:8080",)
    max_message_chars: int = Field(default=2000, gt=0, le=20_000)
    rate_limit_messages: int = Field(default=10, ge=1)  # per conversation, within ...
    rate_limit_period: Duration = timedelta(seconds=10)
    heartbeat: Duration = timedelta(seconds=25)  # WebSocket ping interval, both ways
    history_messages: int = Field(default=100, ge=1, le=1000)  # restored on (re)load
    max_token_age: Duration = timedelta(hours=1)  # the longest a JWT may be valid ahead


_PHONE_ADDRESS = r"\+[1-9][0-9]{6,14}|sips?:[^\s@<>\"]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?(;[^\s<>\"]*)?"


class VoiceChannel(_Model):
    enabled: bool = False
    auth_token: SecretStr | None = None  # Twilio's auth token (SignalWire: the signing key)
    language: str = "en-GB"  # speech recognition and <Say> language
    voice: str = "Polly.Amy"
    hold_pause: Duration = timedelta(seconds=20)  # silence between two queue announcements
    max_hold: Duration = timedelta(minutes=15)  # then a call-back (or fallback_number) instead
    input_timeout: Duration = timedelta(seconds=5)  # no speech or key for this long: no input
    speech_timeout: Literal["auto"] | Annotated[int, Field(ge=1, le=30)] = "auto"
    dial_timeout: Duration = timedelta(seconds=25)  # ring an agent's phone this long
    # dialled when no agent answers, the wait is too long, or the assistant fails: E.164 or sip:
    fallback_number: (
        Annotated[
            str, _checked(_matches(_PHONE_ADDRESS), "{value!r} is not +<digits> or a sip: address")
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _needs_auth_token(self) -> VoiceChannel:
        if self.enabled and _blank(self.auth_token):
            _raise_any([(("auth_token",), "required while the voice channel is enabled")])
        return self


class ChannelSettings(_Model):
    rest: RestChannel = RestChannel()
    telegram: TelegramChannel = TelegramChannel()
    webchat: WebchatChannel = WebchatChannel()
    voice: VoiceChannel = VoiceChannel()


class NluSettings(_Model):
    training_data: tuple[str, ...] = ("nlu/data",)
    model_dir: str = "models/nlu"
    fallback_threshold: float = Field(default=0.4, ge=0, le=1)
    backend: Literal["local", "remote"] = "local"
    remote_url: WebUrl | None = None  # an existing Rasa server, for backend: remote
    remote_token: SecretStr | None = Field(default=None, repr=False)
    remote_timeout: Duration = timedelta(seconds=5)
    max_text_chars: int = Field(default=2000, ge=1, le=100_000)
    dense: bool = False  # MiniLM sentence embeddings (optional packages; see docs/nlu.md)
    seed: int = 0
    train_jobs: int = Field(default=2, ge=1, le=64)

    @model_validator(mode="after")
    def _remote_needs_url(self) -> NluSettings:
        if self.backend == "remote" and not self.remote_url:
            _raise_any([(("remote_url",), "required while backend is remote")])
        return self


class CalendarSettings(_Model):
    timezone: TimeZoneName
    week: dict[Weekday, DaySchedule] = Field(default_factory=dict)
    holidays: tuple[date, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SlaTarget(_Model):
    tiers: tuple[Tier, ...] = Field(default=tuple(Tier), min_length=1)
    first_response: Duration
    next_response: Duration
    resolution: Duration

    @model_validator(mode="after")
    def _first_response_within_resolution(self) -> SlaTarget:
        if self.first_response > self.resolution:
            _raise_any([(("first_response",), "must not be longer than resolution")])
        return self


class EscalationRuleSettings(_Model):
    """On a warning or a breach (of one target, or of any when `target` is omitted), do `action`."""

    on: Literal["warning", "breach"]
    action: Literal["raise_priority", "overflow", "notify_supervisors"]
    target: Literal["first_response", "next_response", "resolution"] | None = None


class SlaPolicySettings(_Model):
    targets: tuple[SlaTarget, ...] = Field(min_length=1)
    warning_share: float = Field(default=0.8, gt=0, le=1)  # warn at this share of a target
    escalations: tuple[EscalationRuleSettings, ...] = ()

    @model_validator(mode="after")
    def _each_tier_once(self) -> SlaPolicySettings:
        problems: list[tuple[Loc, str]] = []
        for tier in Tier:
            owners = [i for i, target in enumerate(self.targets) if tier in target.tiers]
            if not owners:
                problems.append((("targets",), f"no target covers the {tier} tier"))
            for i in owners[1:]:
                reason = f"the {tier} tier already has a target (targets[{owners[0]}])"
                problems.append((("targets", i, "tiers"), reason))
        _raise_any(problems)
        return self

    def target_for(self, tier: Tier) -> SlaTarget:
        return next(target for target in self.targets if tier in target.tiers)


class QueueSettings(_Model):
    key: Slug
    name: Name
    skills: tuple[str, ...] = ()
    calendar: str
    sla_policy: str
    overflow: str | None = None


class RoutingSettings(_Model):
    offer_timeout: Duration = timedelta(seconds=30)
    presence_ttl: Duration = timedelta(seconds=60)
    push_offers: bool = True  # offer new tickets to agents; false: agents only pull
    ageing_per_minute: float = Field(default=10.0, gt=0)  # priority points per minute waited
    sla_pressure_per_minute: float = Field(default=5.0, ge=0)  # points per minute nearer breach
    tier_points: dict[Tier, int] = Field(
        default_factory=lambda: {Tier.PLATINUM: 300, Tier.GOLD: 200, Tier.IRON: 100, Tier.LEAD: 0}
    )
    urgency_points: dict[str, int] = Field(
        default_factory=lambda: {"normal": 0, "complaint": 150, "emergency": 1000}
    )
    default_handle_time: Duration = timedelta(minutes=5)  # wait estimates before any data
    # a waiting customer hears their new place in the queue at most this often, when it changed
    position_updates: Duration = timedelta(minutes=3)

    @model_validator(mode="after")
    def _known_urgencies(self) -> RoutingSettings:
        known = ("normal", "complaint", "emergency")
        _raise_any(
            [
                (("urgency_points", urgency), f"unknown urgency: use {', '.join(known)}")
                for urgency in sorted(set(self.urgency_points) - set(known))
            ]
        )
        return self


class ServiceSettings(_Model):
    key: Slug
    name: Name
    duration_minutes: int = Field(ge=5, le=480)
    price: Money
    skill: str


class ResourceSettings(_Model):
    key: Slug
    name: Name
    kind: Literal["practitioner", "room"] = "practitioner"
    timezone: TimeZoneName | None = None  # Settings fills this in from the business when omitted
    skills: tuple[str, ...] = ()
    schedule: dict[Weekday, DaySchedule] = Field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        if self.timezone is None:
            raise LookupError(f"resource {self.key!r} has no time zone outside Settings")
        return ZoneInfo(self.timezone)


class TierRule(_Model):
    min_revenue: Decimal = Field(ge=0)
    min_transactions: int = Field(ge=0)
    max_recency_days: int | None = Field(default=None, ge=1)
    max_contacts_per_100: Decimal | None = Field(default=None, ge=0)


class TierSettings(_Model):
    """The first of platinum, gold, iron whose every threshold a customer meets; else lead."""

    window_days: int = Field(default=365, ge=1)
    platinum: TierRule = TierRule(
        min_revenue=Decimal(1200), min_transactions=4, max_recency_days=180,
        max_contacts_per_100=Decimal(5),
    )  # fmt: skip
    gold: TierRule = TierRule(min_revenue=Decimal(500), min_transactions=2, max_recency_days=365)
    iron: TierRule = TierRule(min_revenue=Decimal(100), min_transactions=1)

    @model_validator(mode="after")
    def _ordered(self) -> TierSettings:
        ladder = [(Tier.PLATINUM, self.platinum), (Tier.GOLD, self.gold), (Tier.IRON, self.iron)]
        problems: list[tuple[Loc, str]] = []
        for (upper, above), (tier, rule) in pairwise(ladder):
            if rule.min_revenue > above.min_revenue:
                reason = f"{rule.min_revenue} is above {upper}'s {above.min_revenue}"
                problems.append(((tier.value, "min_revenue"), reason))
        _raise_any(problems)
        return self


_DEFAULT_RETENTION = {Tier.PLATINUM: Decimal("0.9"), Tier.GOLD: Decimal("0.75"),
                      Tier.IRON: Decimal("0.6"), Tier.LEAD: Decimal("0.3")}  # fmt: skip


class ClvSettings(_Model):
    margin_rate: Decimal = Field(default=Decimal("0.6"), gt=0, le=1)
    discount_rate: Decimal = Field(default=Decimal("0.1"), ge=0)
    retention: dict[Tier, Rate] = Field(default_factory=lambda: dict(_DEFAULT_RETENTION))

    @model_validator(mode="after")
    def _every_tier(self) -> ClvSettings:
        missing = ", ".join(tier for tier in Tier if tier not in self.retention)
        _raise_any([(("retention",), f"missing a rate for {missing}")] if missing else [])
        return self


class KnowledgeBaseSettings(_Model):
    folder: str = "kb"


class BookingSettings(_Model):
    calendar: str | None = None  # the calendar whose holidays close the practice
    slot_step: Duration = timedelta(minutes=15)
    min_notice: Duration = timedelta(hours=2)
    horizon_days: int = Field(default=60, ge=1, le=366)
    reminder_before: Duration = timedelta(hours=24)


class DialogueSettings(_Model):
    templates: str = "templates"  # folder of <language>.yml message files
    state_ttl: Duration = timedelta(days=7)  # a conversation idle this long starts afresh
    emergency_guidance: str = (
        "If this is a medical emergency, call 999 now. "
        "For urgent advice that is not an emergency, call NHS 111."
    )


class CannedResponseSettings(_Model):
    key: Slug
    title: Name
    text: Name


class ResolutionCodeSettings(_Model):
    key: Slug
    title: Name


_DEFAULT_RESOLUTION_CODES = (
    ResolutionCodeSettings(key="resolved", title="Resolved"),
    ResolutionCodeSettings(key="booked", title="Appointment booked or changed"),
    ResolutionCodeSettings(key="information-given", title="Information given"),
    ResolutionCodeSettings(key="referred", title="Referred elsewhere"),
    ResolutionCodeSettings(key="no-response", title="No response from the customer"),
    ResolutionCodeSettings(key="duplicate", title="Duplicate"),
)


def _networks(value: Any) -> Any:
    """Addresses and CIDR networks, as a YAML list or one string (an environment variable:
    "127.0.0.1/32, 10.0.0.0/8"); nothing (an unset variable) is none."""
    if value is None:
        return ()
    items = re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a list of addresses or networks such as 10.0.0.0/8")
    networks = []
    for item in items:
        if item == "":
            continue
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=True))
        except ValueError:
            raise ValueError(
                f"{item!r} is not an address or a network such as 10.0.0.0/8 "
                "(a network's host bits must be zero)"
            ) from None
    return tuple(networks)


Networks = Annotated[
    tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], BeforeValidator(_networks)
]


class DeskSettings(_Model):
    """The agents' console and the supervisors' dashboard (desk/, docs/desk.md)."""

    session_lifetime: Duration = timedelta(hours=8)  # signed out after this long without use
    session_max_age: Duration = timedelta(hours=12)  # ... and after this long in any case
    cookie_secure: bool | None = None  # None: Secure cookies when server.public_url is https
    login_max_failures: int = Field(default=5, ge=1, le=1000)  # per username, within ...
    login_window: Duration = timedelta(minutes=15)
    login_max_failures_per_address: int = Field(default=50, ge=1, le=100_000)  # per client IP
    # Proxies (nginx) whose X-Forwarded-For is believed: the client address is then the
    # right-most address in it that is not one of these. Empty: the TCP peer, always.
    trusted_proxies: Networks = ()
    live_heartbeat: Duration = timedelta(seconds=15)  # keep-alive on the live event stream
    service_level_threshold: Duration = timedelta(seconds=20)  # "answered within" for SL
    short_abandon: Duration = timedelta(seconds=10)  # abandons this quick are not counted
    interval: Duration = timedelta(minutes=15)  # chart and CSV intervals; must divide an hour
    service_level_formula: Literal[
        "exclude_short_abandons", "count_abandons", "abandons_within_as_met",
        "answered_only", "offered",
    ] = "exclude_short_abandons"  # fmt: skip
    priority_step: int = Field(default=200, ge=1)  # "raise priority" on the dashboard adds this
    metrics_token: SecretStr | None = Field(default=None, repr=False)  # bearer for GET /metrics
    canned_responses: tuple[CannedResponseSettings, ...] = ()
    resolution_codes: tuple[ResolutionCodeSettings, ...] = Field(
        default=_DEFAULT_RESOLUTION_CODES, min_length=1
    )

    @model_validator(mode="after")
    def _consistent(self) -> DeskSettings:
        problems: list[tuple[Loc, str]] = []
        minutes, rest = divmod(self.interval, timedelta(minutes=1))
        if rest or minutes <= 0 or 60 % minutes:
            problems.append((("interval",), "must divide an hour in whole minutes (5m, 15m, 30m)"))
        if self.session_max_age < self.session_lifetime:
            problems.append((("session_max_age",), "must not be shorter than session_lifetime"))
        keys: dict[str, list[str]] = {
            "canned_responses": [item.key for item in self.canned_responses],
            "resolution_codes": [item.key for item in self.resolution_codes],
        }
        for section, found in keys.items():
            for i, key in enumerate(found):
                if key in found[:i]:
                    problems.append(((section, i, "key"), f"duplicate key {key!r}"))
        _raise_any(problems)
        return self


class Settings(_Model):
    business: BusinessSettings
    dialogue: DialogueSettings = DialogueSettings()
    stores: StoreSettings = StoreSettings()
    server: ServerSettings = ServerSettings()
    channels: ChannelSettings = ChannelSettings()
    nlu: NluSettings = NluSettings()
    calendars: dict[str, CalendarSettings] = Field(default_factory=dict)
    sla_policies: dict[str, SlaPolicySettings] = Field(default_factory=dict)
    queues: tuple[QueueSettings, ...] = ()
    routing: RoutingSettings = RoutingSettings()
    services: tuple[ServiceSettings, ...] = ()
    resources: tuple[ResourceSettings, ...] = ()
    tiers: TierSettings = TierSettings()
    clv: ClvSettings = ClvSettings()
    knowledge_base: KnowledgeBaseSettings = KnowledgeBaseSettings()
    booking: BookingSettings = BookingSettings()
    desk: DeskSettings = DeskSettings()

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        problems = [
            *_duplicate_keys("queues", self.queues),
            *_duplicate_keys("services", self.services),
            *_duplicate_keys("resources", self.resources),
            *self._queue_problems(),
        ]
        skills = {skill for resource in self.resources for skill in resource.skills}
        for i, service in enumerate(self.services):
            if service.skill not in skills:
                reason = f"no resource offers the skill {service.skill!r}"
                problems.append((("services", i, "skill"), reason))
        holidays = self.booking.calendar
        if holidays is not None and holidays not in self.calendars:
            problems.append((("booking", "calendar"), _undefined("calendar", holidays)))
        _raise_any(problems)
        zone = self.business.timezone
        resolved = tuple(
            r if r.timezone else r.model_copy(update={"timezone": zone}) for r in self.resources
        )
        object.__setattr__(self, "resources", resolved)  # still frozen to everyone else
        return self

    def _queue_problems(self) -> Iterable[tuple[Loc, str]]:
        step: str | None
        queues = {queue.key: queue for queue in self.queues}
        for i, queue in enumerate(self.queues):
            if queue.calendar not in self.calendars:
                yield ("queues", i, "calendar"), _undefined("calendar", queue.calendar)
            if queue.sla_policy not in self.sla_policies:
                yield ("queues", i, "sla_policy"), _undefined("SLA policy", queue.sla_policy)
            if queue.overflow is None:
                continue
            if queue.overflow == queue.key:
                yield ("queues", i, "overflow"), "a queue cannot overflow into itself"
            elif queue.overflow not in queues:
                yield ("queues", i, "overflow"), _undefined("queue", queue.overflow)
            else:
                chain, step = [queue.key], queue.overflow
                while step in queues and step not in chain:
                    chain.append(step)
                    step = queues[step].overflow
                if step == queue.key:
                    yield (
                        ("queues", i, "overflow"),
                        "overflow loops: " + " -> ".join([*chain, step]),
                    )

    def masked_dump(self) -> dict[str, Any]:
        """The resolved settings as JSON-able data, every secret shown as "**********"."""
        data = self.model_dump(mode="json")
        for key in ("database_url", "redis_url"):
            data["stores"][key] = _mask_password(data["stores"][key])
        return data


def _duplicate_keys(
    section: str, items: Sequence[QueueSettings | ServiceSettings | ResourceSettings]
) -> Iterable[tuple[Loc, str]]:
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.key in first:
            yield (
                (section, i, "key"),
                f"duplicate key {item.key!r} (also {section}[{first[item.key]}])",
            )
        first.setdefault(item.key, i)


def _undefined(what: str, key: str) -> str:
    return f"no {what} named {key!r} is defined"


def _mask_password(url: str | None) -> str | None:
    parts = urlsplit(url) if url else None
    if parts is None or parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}").geturl()


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text
