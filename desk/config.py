"""The desk's own settings: built by bot/app.py from config.yml's `desk:` section (docs/desk.md).

The desk never imports the bot, so `DeskConfig.build` reads any object shaped like
bot.config.DeskSettings (`DeskSettingsLike`) plus the values the bot works out itself: the
business time zone, each queue's calendar and the SLA policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from desk.proxies import Network, TrustedProxies
from routing.calendar import BusinessCalendar
from routing.metrics import MetricSettings, ServiceLevelFormula
from routing.sla_monitor import SlaPolicy


@dataclass(frozen=True, slots=True)
class CannedResponse:
    key: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class ResolutionCode:
    key: str
    title: str


DEFAULT_CODES = (ResolutionCode("resolved", "Resolved"),)


@dataclass(frozen=True, slots=True)
class LoginLimits:
    max_failures: int = 5  # per username within `window`
    max_failures_per_address: int = 50  # per client address within `window`
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class DeskConfig:
    business_name: str = "Frontdesk"
    canned_responses: tuple[CannedResponse, ...] = ()
    resolution_codes: tuple[ResolutionCode, ...] = DEFAULT_CODES
    session_lifetime: timedelta = timedelta(hours=8)  # idle: renewed on every use
    session_max_age: timedelta = timedelta(hours=12)  # absolute
    cookie_secure: bool = False
    login: LoginLimits = field(default_factory=LoginLimits)
    live_heartbeat: timedelta = timedelta(seconds=15)
    metrics: MetricSettings = field(default_factory=MetricSettings)
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)  # per queue
    sla_policies: Mapping[str, SlaPolicy] = field(default_factory=dict)  # by name
    priority_step: int = 200
    metrics_token: str | None = field(default=None, repr=False)
    dashboard_cache: timedelta = timedelta(seconds=2)  # numbers are recomputed at most this often
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)  # see proxies.py

    @property
    def timezone(self) -> ZoneInfo:
        return self.metrics.timezone

    def resolution_code(self, key: str) -> ResolutionCode | None:
        return next((code for code in self.resolution_codes if code.key == key), None)

    @classmethod
    def build(
        cls,
        settings: DeskSettingsLike,
        *,
        business_name: str,
        timezone: ZoneInfo,
        public_url: str,
        calendars: Mapping[str, BusinessCalendar],
        sla_policies: Mapping[str, SlaPolicy],
    ) -> DeskConfig:
        secure = settings.cookie_secure
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        return cls(
            business_name=business_name,
            canned_responses=tuple(
                CannedResponse(c.key, c.title, c.text) for c in settings.canned_responses
            ),
            resolution_codes=tuple(
                ResolutionCode(c.key, c.title) for c in settings.resolution_codes
            )
            or DEFAULT_CODES,
            session_lifetime=settings.session_lifetime,
            session_max_age=settings.session_max_age,
            cookie_secure=public_url.startswith("https://") if secure is None else secure,
            login=LoginLimits(
                settings.login_max_failures,
                settings.login_max_failures_per_address,
                settings.login_window,
            ),
            live_heartbeat=settings.live_heartbeat,
            metrics=MetricSettings(
                timezone=timezone,
                interval=settings.interval,
                service_level_threshold=settings.service_level_threshold,
                short_abandon=settings.short_abandon,
                formula=ServiceLevelFormula(settings.service_level_formula),
                calendars=dict(calendars),
            ),
            calendars=dict(calendars),
            sla_policies=dict(sla_policies),
            priority_step=settings.priority_step,
            metrics_token=token or None,
            trusted_proxies=TrustedProxies.of(settings.trusted_proxies),
        )


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...


class _Canned(_Keyed, Protocol):
    @property
    def text(self) -> str: ...


class DeskSettingsLike(Protocol):
    """The shape of bot.config.DeskSettings."""

    @property
    def session_lifetime(self) -> timedelta: ...
    @property
    def session_max_age(self) -> timedelta: ...
    @property
    def cookie_secure(self) -> bool | None: ...
    @property
    def login_max_failures(self) -> int: ...
    @property
    def login_window(self) -> timedelta: ...
    @property
    def login_max_failures_per_address(self) -> int: ...
    @property
    def trusted_proxies(self) -> Sequence[Network]: ...
    @property
    def live_heartbeat(self) -> timedelta: ...
    @property
    def service_level_threshold(self) -> timedelta: ...
    @property
    def short_abandon(self) -> timedelta: ...
    @property
    def interval(self) -> timedelta: ...
    @property
    def service_level_formula(self) -> str: ...
    @property
    def priority_step(self) -> int: ...
    @property
    def metrics_token(self) -> SecretStr | None: ...
    @property
    def canned_responses(self) -> Sequence[_Canned]: ...
    @property
    def resolution_codes(self) -> Sequence[_Keyed]: ...
