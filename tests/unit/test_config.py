"""Settings: loading config.yml, ${VAR} substitution, validation errors with paths and lines."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings, TimeInterval, Weekday
from bot.config_loader import ConfigError, load_settings
from bot.durations import format_duration, parse_duration
from crm_store.tiers import Tier

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
MINIMAL = "business: {name: Test Clinic, timezone: Europe/London}\n"
ROUTED = (
    MINIMAL
    + """\
calendars:
  office: {timezone: Europe/London, week: {mon: ["09:00-17:00"]}}
sla_policies:
  basic:
    targets: [{first_response: 5m, next_response: 10m, resolution: 1h}]
queues:
  - {key: front, name: Front desk, calendar: office, sla_policy: basic}
"""
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(write(tmp_path, text), environ or {})


def fails(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    return caught.value


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the only line of `text` containing `needle`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def paths(error: ConfigError) -> set[str]:
    return {problem.path for problem in error.problems}


# ------------------------------------------------------------------ the shipped demo config


def test_the_shipped_config_loads_with_an_empty_environment() -> None:
    settings = load_settings(REPO_CONFIG, {})

    assert settings.business.name == "Lindenhof Clinic"
    assert settings.business.timezone == "Europe/London"
    assert settings.business.languages == ("en",)
    assert (settings.business.default_region, settings.business.currency) == ("GB", "GBP")
    assert settings.stores.database_url.startswith("sqlite+aiosqlite://")
    assert settings.stores.redis_url is None
    assert settings.channels.telegram.enabled is False
    assert settings.channels.telegram.token is None
    assert settings.channels.webchat.identity_secret is None
    assert settings.channels.voice.auth_token is None


def test_the_shipped_config_describes_the_clinic() -> None:
    settings = load_settings(REPO_CONFIG, {})

    hours = settings.calendars["clinic_hours"]
    assert hours.week[Weekday.MON] == (
        TimeInterval(start=time(8), end=time(12, 30)),
        TimeInterval(start=time(13, 30), end=time(18)),
    )
    assert hours.week[Weekday.SAT] == (TimeInterval(start=time(9), end=time(13)),)
    assert Weekday.SUN not in hours.week
    assert date(2026, 12, 25) in hours.holidays
    assert date(2027, 12, 28) in hours.holidays
    assert len(settings.calendars["nurse_line"].week) == 7

    standard = settings.sla_policies["standard"]
    assert standard.target_for(Tier.PLATINUM).first_response == timedelta(minutes=5)
    assert standard.target_for(Tier.LEAD).resolution == timedelta(days=1)
    urgent = settings.sla_policies["urgent"].target_for(Tier.GOLD)
    assert (urgent.first_response, urgent.next_response) == (
        timedelta(minutes=2),
        timedelta(minutes=5),
    )

    assert [q.key for q in settings.queues] == [
        "appointments",
        "billing",
        "nurse-advice",
        "general",
    ]
    assert {q.overflow for q in settings.queues if q.key != "general"} == {"general"}

    services = {s.key: s for s in settings.services}
    assert services["cleaning"].price == Decimal("80.00")
    assert services["gp-consult"].duration_minutes == 20
    assert len(services) == 7

    practitioners = [r for r in settings.resources if r.kind == "practitioner"]
    assert len(practitioners) >= 5
    assert any(Weekday.SAT in r.schedule for r in practitioners)
    assert all(r.timezone == "Europe/London" for r in settings.resources)

    assert settings.tiers.platinum.max_contacts_per_100 == Decimal(5)
    assert settings.clv.retention[Tier.LEAD] == Decimal("0.3")


# ------------------------------------------------------------------ valid configs


def test_a_minimal_config_is_valid_and_everything_else_has_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL)

    assert settings.business.languages == ("en",)
    assert settings.stores.database_url == "sqlite+aiosqlite:///frontdesk.db"
    assert settings.server.port == 8080
    assert settings.channels.rest.enabled and not settings.channels.telegram.enabled
    assert settings.routing.offer_timeout == timedelta(seconds=30)
    assert (settings.queues, settings.services, settings.resources) == ((), (), ())
    assert settings.calendars == {} and settings.sla_policies == {}
    assert set(settings.clv.retention) == set(Tier)


def test_environment_variables_are_substituted(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
server:
  host: ${HOST:-0.0.0.0}
  port: ${PORT}
  public_url: https://${DOMAIN}/frontdesk
channels:
  telegram:
    {enabled: true, mode: polling, token: "${TELEGRAM_BOT_TOKEN}", webhook_secret: "${HOOK}"}
knowledge_base:
  folder: "$${literal}"
"""
    )
    environ = {"PORT": "9000", "DOMAIN": "clinic.example", "TELEGRAM_BOT_TOKEN": "123:abc"}

    settings = load(tmp_path, text, environ)

    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 9000
    assert settings.server.public_url == "https://clinic.example/frontdesk"
    token = settings.channels.telegram.token
    assert token is not None and token.get_secret_value() == "123:abc"
    assert settings.channels.telegram.webhook_secret is None  # ${HOOK} alone, HOOK unset
    assert settings.knowledge_base.folder == "${literal}"
    assert load(tmp_path, text, {**environ, "HOST": "10.0.0.1"}).server.host == "10.0.0.1"


def test_an_unset_variable_inside_a_longer_value_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL + 'server:\n  public_url: "https://${DOMAIN}/x"\n'

    error = fails(tmp_path, text)

    assert error.path == "server.public_url"
    assert error.line == line_of(text, "public_url")
    assert "DOMAIN" in error.reason


def test_an_unset_variable_standing_alone_in_a_required_field_names_the_variable(
    tmp_path: Path,
) -> None:
    error = fails(tmp_path, 'business: {name: "${CLINIC_NAME}", timezone: Europe/London}\n')

    assert error.path == "business.name"
    assert "${CLINIC_NAME}" in error.reason


def test_secrets_are_masked_in_the_dump_and_never_in_repr_or_str(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
stores:
  database_url: ${DATABASE}
channels:
  telegram: {enabled: true, mode: polling, token: "${TELEGRAM_BOT_TOKEN}"}
  voice: {auth_token: "${TWILIO_AUTH_TOKEN}"}
"""
    )
    environ = {
        "TELEGRAM_BOT_TOKEN": "tg-secret-1",
        "TWILIO_AUTH_TOKEN": "twilio-secret-2",
        "DATABASE": "postgresql+asyncpg://app:db-secret-3@db.internal/frontdesk",
    }

    settings = load(tmp_path, text, environ)
    dump = settings.masked_dump()

    assert dump["channels"]["telegram"]["token"] == "**********"
    assert dump["channels"]["voice"]["auth_token"] == "**********"
    assert dump["channels"]["webchat"]["identity_secret"] is None
    assert dump["stores"]["database_url"] == (
        "postgresql+asyncpg://app:**********@db.internal/frontdesk"
    )
    shown = [json.dumps(dump), repr(settings), str(settings), repr(settings.channels)]
    for secret in ("tg-secret-1", "twilio-secret-2", "db-secret-3"):
        assert not any(secret in text for text in shown)


def test_the_masked_dump_is_plain_json_data(tmp_path: Path) -> None:
    dump = load_settings(REPO_CONFIG, {}).masked_dump()

    assert json.loads(json.dumps(dump)) == dump
    assert dump["calendars"]["clinic_hours"]["week"]["sat"] == ["09:00-13:00"]
    assert dump["sla_policies"]["standard"]["targets"][2]["resolution"] == "1d"
    assert dump["services"][0]["price"] == "80.00"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path, ROUTED)

    with pytest.raises(ValidationError):
        settings.server = settings.server  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.business.name = "Other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.queues[0].calendar = "elsewhere"  # type: ignore[misc]


def test_a_resource_without_a_time_zone_works_in_the_business_time_zone(tmp_path: Path) -> None:
    text = """\
business: {name: X, timezone: Europe/Berlin}
resources:
  - {key: ana, name: Ana, skills: [x]}
  - {key: ben, name: Ben, skills: [x], timezone: America/New_York}
"""
    ana, ben = load(tmp_path, text).resources

    assert (ana.timezone, str(ana.tz)) == ("Europe/Berlin", "Europe/Berlin")
    assert ben.timezone == "America/New_York"


# ------------------------------------------------------------------ durations and intervals


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1d2h3m4s ", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (90, timedelta(seconds=90)),
        ("90", timedelta(seconds=90)),
    ],
)
def test_durations_parse(written: str | int, expected: timedelta) -> None:
    assert parse_duration(written) == expected


@pytest.mark.parametrize("written", ["", "5x", "1.5h", "m", "30m1h", "-5s", 0, -5, True, 1.5, "0s"])
def test_bad_durations_are_rejected(written: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(written)


def test_durations_format_back_to_their_short_form() -> None:
    for text in ("30s", "5m", "1h30m", "2d", "1d2h3m4s"):
        assert format_duration(parse_duration(text)) == text


def test_a_bad_duration_in_the_file_names_its_key(tmp_path: Path) -> None:
    text = MINIMAL + "routing:\n  offer_timeout: soon\n"

    error = fails(tmp_path, text)

    assert (error.path, error.line) == ("routing.offer_timeout", line_of(text, "offer_timeout"))
    assert "soon" in error.reason


@pytest.mark.parametrize("interval", ["12:00-08:00", "09:00-09:00"])
def test_an_interval_must_start_before_it_ends(tmp_path: Path, interval: str) -> None:
    text = (
        MINIMAL
        + f"""\
calendars:
  office:
    timezone: Europe/London
    week:
      mon: ["08:00-09:00", "{interval}"]
"""
    )
    error = fails(tmp_path, text)

    assert error.path == "calendars.office.week.mon[1]"
    assert error.line == line_of(text, "mon:")
    assert "must start before it ends" in error.reason


def test_intervals_parse_and_sort_and_must_not_overlap(tmp_path: Path) -> None:
    interval = TimeInterval.model_validate("8:05 - 12:30")
    assert (interval.start, interval.end, str(interval)) == (
        time(8, 5),
        time(12, 30),
        "08:05-12:30",
    )
    assert time(12, 29) in interval and time(12, 30) not in interval

    week = "  office:\n    timezone: Europe/London\n    week:\n      tue: [{}]\n"
    sorted_ok = load(
        tmp_path, MINIMAL + "calendars:\n" + week.format('"13:00-14:00", "09:00-10:00"')
    )
    assert [str(i) for i in sorted_ok.calendars["office"].week[Weekday.TUE]] == [
        "09:00-10:00",
        "13:00-14:00",
    ]
    error = fails(tmp_path, MINIMAL + "calendars:\n" + week.format('"09:00-12:00", "11:00-13:00"'))
    assert (error.path, error.reason) == (
        "calendars.office.week.tue",
        "intervals 09:00-12:00 and 11:00-13:00 overlap",
    )
    error = fails(tmp_path, MINIMAL + "calendars:\n" + week.format('"9am-5pm"'))
    assert "HH:MM" in error.reason


# ------------------------------------------------------------------ errors: path, line, reason


def test_an_unknown_key_is_reported_with_its_path_and_line(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
channels:
  telegram:
    enabled: false
    tokn: abc
"""
    )
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})

    error = caught.value
    line = line_of(text, "tokn")
    assert (error.file, error.path, error.line, error.reason) == (
        str(path),
        "channels.telegram.tokn",
        line,
        "unknown key",
    )
    assert str(error) == f"{path}:{line}: channels.telegram.tokn: unknown key"
    assert len(error.problems) == 1


def test_a_value_of_the_wrong_type_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + "server:\n  host: localhost\n  port: eighty\n"

    error = fails(tmp_path, text)

    assert (error.path, error.line) == ("server.port", line_of(text, "eighty"))
    assert "integer" in error.reason


def test_an_unknown_time_zone_is_named(tmp_path: Path) -> None:
    text = "business:\n  name: X\n  timezone: Europe/Lndon\n"

    error = fails(tmp_path, text)

    assert (error.path, error.line) == ("business.timezone", 3)
    assert "Europe/Lndon" in error.reason


def test_a_missing_required_key_points_at_its_section(tmp_path: Path) -> None:
    error = fails(tmp_path, "server: {port: 1}\nbusiness:\n  name: X\n")

    assert (error.path, error.line, error.reason) == (
        "business.timezone",
        2,
        "required key is missing",
    )


def test_a_queue_naming_an_undefined_calendar_is_reported(tmp_path: Path) -> None:
    text = (
        ROUTED
        + "  - key: back\n    name: Back office\n    calendar: ofice\n    sla_policy: basic\n"
    )

    error = fails(tmp_path, text)

    assert (error.path, error.line) == ("queues[1].calendar", line_of(text, "ofice"))
    assert error.reason == "no calendar named 'ofice' is defined"


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        ("  - {key: b, name: B, calendar: office, sla_policy: gold}\n", "queues[1].sla_policy",
         "no SLA policy named 'gold'"),
        ("  - {key: b, name: B, calendar: office, sla_policy: basic, overflow: nowhere}\n",
         "queues[1].overflow", "no queue named 'nowhere'"),
        ("  - {key: b, name: B, calendar: office, sla_policy: basic, overflow: b}\n",
         "queues[1].overflow", "cannot overflow into itself"),
        ("  - {key: front, name: B, calendar: office, sla_policy: basic}\n", "queues[1].key",
         "duplicate key 'front'"),
    ],
)  # fmt: skip
def test_queue_references_are_checked(tmp_path: Path, extra: str, path: str, reason: str) -> None:
    error = fails(tmp_path, ROUTED + extra)

    assert error.path == path
    assert reason in error.reason
    assert error.line == line_of(ROUTED + extra, "key: b" if "key: b" in extra else "name: B,")


def test_an_overflow_loop_is_rejected(tmp_path: Path) -> None:
    text = ROUTED.replace("sla_policy: basic}", "sla_policy: basic, overflow: back}") + (
        "  - {key: back, name: Back, calendar: office, sla_policy: basic, overflow: front}\n"
    )
    error = fails(tmp_path, text)

    assert paths(error) == {"queues[0].overflow", "queues[1].overflow"}
    assert "front -> back -> front" in error.problems[0].reason


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("services:\n  - {key: xr, name: X, duration_minutes: 10, price: 5, skill: radiology}\n",
         "services[0].skill", "no resource offers the skill 'radiology'"),
        ("services:\n  - {key: Bad Key, name: X, duration_minutes: 10, price: 5, skill: a}\n",
         "services[0].key", "'Bad Key' is not a key"),
        ("services:\n  - {key: x, name: X, duration_minutes: 500, price: 5, skill: a}\n",
         "services[0].duration_minutes", "less than or equal to 480"),
        ("services:\n  - {key: x, name: X, duration_minutes: 10, price: -1, skill: a}\n",
         "services[0].price", "greater than or equal to 0"),
        ("channels: {telegram: {enabled: true}}\n", "channels.telegram.token", "required"),
        ("channels: {telegram: {enabled: true, token: '1:a'}}\n",
         "channels.telegram.webhook_secret", "required in webhook mode"),
        ("channels: {voice: {enabled: true}}\n", "channels.voice.auth_token", "required"),
        ("tiers: {gold: {min_revenue: 5000, min_transactions: 1}}\n", "tiers.gold.min_revenue",
         "above platinum"),
        ("clv: {retention: {platinum: 0.9, gold: 0.8, iron: 0.5}}\n", "clv.retention",
         "missing a rate for lead"),
        ("clv: {retention: {platinum: 1, gold: 0.8, iron: 0.5, lead: 0.1}}\n",
         "clv.retention.platinum", "less than 1"),
        ("clv: {discount_rate: -0.1}\n", "clv.discount_rate", "greater than or equal to 0"),
        ("nlu: {fallback_threshold: 1.5}\n", "nlu.fallback_threshold", "less than or equal to 1"),
        ("server: {port: 70000}\n", "server.port", "less than or equal to 65535"),
        ("stores: {database_url: 'mysql://x'}\n", "stores.database_url", "sqlite+aiosqlite://"),
        ("stores: {redis_url: 'localhost:6379'}\n", "stores.redis_url", "redis://"),
        ("sla_policies: {p: {targets: [{tiers: [gold], first_response: 1m, next_response: 1m, "
         "resolution: 1h}]}}\n", "sla_policies.p.targets", "no target covers the platinum tier"),
    ],
)  # fmt: skip
def test_cross_field_and_range_rules(tmp_path: Path, text: str, path: str, reason: str) -> None:
    extra = "resources:\n  - {key: ana, name: Ana, skills: [a]}\n" if "services" in text else ""
    error = fails(tmp_path, MINIMAL + text + extra)

    assert path in paths(error)
    problem = next(p for p in error.problems if p.path == path)
    assert reason in problem.reason
    assert problem.line == 1 + text.count("\n")  # the snippet's last line, after MINIMAL's one


@pytest.mark.parametrize(
    ("business", "path"),
    [
        ("{name: X, timezone: UTC, default_region: gb}", "business.default_region"),
        ("{name: X, timezone: UTC, default_region: GBR}", "business.default_region"),
        ("{name: X, timezone: UTC, currency: pounds}", "business.currency"),
        ("{name: X, timezone: UTC, languages: []}", "business.languages"),
        ("{name: X, timezone: UTC, languages: [english]}", "business.languages[0]"),
        ("{name: '', timezone: UTC}", "business.name"),
    ],
)
def test_business_codes_are_checked(tmp_path: Path, business: str, path: str) -> None:
    assert paths(fails(tmp_path, f"business: {business}\n")) == {path}


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = """\
business:
  name: X
  timezone: Mars/Olympus
server:
  port: high
  colour: blue
routing:
  offer_timeout: later
"""
    error = fails(tmp_path, text)

    assert [(p.path, p.line) for p in error.problems] == [
        ("business.timezone", 3),
        ("server.port", 5),
        ("server.colour", 6),
        ("routing.offer_timeout", 8),
    ]
    assert all(p.file == str(tmp_path / "config.yml") for p in error.problems)
    lines = str(error).splitlines()
    assert len(lines) == 4
    assert lines[2] == f"{tmp_path / 'config.yml'}:6: server.colour: unknown key"
    assert (error.path, error.line) == ("business.timezone", 3)


def test_a_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL + "server:\n  port: [8080\n  host: x\n"

    error = fails(tmp_path, text)

    assert error.line == line_of(text, "host: x")
    assert error.reason.startswith("invalid YAML")
    assert error.path == ""


def test_a_repeated_key_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + "server: {port: 1}\nserver: {port: 2}\n"

    error = fails(tmp_path, text)

    assert (error.path, error.line) == ("server", 3)
    assert "line 2" in error.reason


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n"])
def test_an_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    assert fails(tmp_path, text).reason == "the file is empty"


def test_a_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    assert "mapping" in fails(tmp_path, "- business\n").reason


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as caught:
        load_settings(tmp_path / "nope.yml", {})
    assert caught.value.file == str(tmp_path / "nope.yml")


def test_a_malformed_reference_is_an_error(tmp_path: Path) -> None:
    error = fails(tmp_path, MINIMAL + "server: {host: '${HOST'}\n")

    assert error.path == "server.host"
    assert "malformed" in error.reason


def test_validation_errors_do_not_echo_secret_values(tmp_path: Path) -> None:
    text = MINIMAL + "channels:\n  telegram: {token: '${TOKEN}', mode: sometimes}\n"

    error = fails(tmp_path, text, {"TOKEN": "tg-secret-9"})

    assert "tg-secret-9" not in str(error)
    assert error.__cause__ is None and error.__context__ is None  # no pydantic error in the chain
