"""Validate and normalise values at the store's edge; every rejection says which field and why."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from crm_store.enums import Channel
from crm_store.errors import InvalidInput
from crm_store.models import EXTERNAL_ID_MAX, NAME_MAX

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
_WEB_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


def clean_text(
    field: str, value: str | None, max_len: int, *, required: bool = False
) -> str | None:
    """Strip, normalise to NFC, refuse control characters and over-long values.

    Any script is welcome (Persian, emoji, ...): only characters that would corrupt a display or
    a log line (C0/C1 controls other than newline and tab) are refused.
    """
    if value is None or not value.strip():
        if required:
            raise InvalidInput(field, "is required")
        return None
    value = unicodedata.normalize("NFC", value.strip())
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise InvalidInput(field, "contains control characters")
    if len(value) > max_len:
        raise InvalidInput(field, f"is {len(value)} characters long; the limit is {max_len}")
    return value


def clean_name(value: str | None, field: str = "full_name") -> str:
    name = clean_text(field, value, NAME_MAX, required=True)
    assert name is not None
    if "\n" in name or "\t" in name:
        raise InvalidInput(field, "must be a single line")
    return name


_PHONE_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without an area code",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong length for its region",
}


def normalize_phone(raw: str, default_region: str) -> str:
    """Return the E.164 form of `raw`, read in `default_region` when it has no country code."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput("phone", f"{raw!r} is not a phone number ({exc._msg})") from exc
    # Length rules per region, not the allocation tables: fictional ranges such as Ofcom's
    # 07700 900xxx (used in demos and tests) are well-formed but never "valid".
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidInput(
            "phone", f"{raw!r} is not a phone number: {_PHONE_REASONS.get(reason, 'invalid')}"
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalize_email(raw: str) -> str:
    value = raw.strip()
    if len(value) > EXTERNAL_ID_MAX or not _EMAIL.match(value):
        raise InvalidInput("email", f"{raw!r} is not an e-mail address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def normalize_external_id(channel: Channel, raw: str, default_region: str) -> str:
    """Bring a channel identity to its canonical form, or refuse it."""
    value = raw.strip() if isinstance(raw, str) else str(raw)
    if channel is Channel.PHONE:
        return normalize_phone(value, default_region)
    if channel is Channel.EMAIL:
        return normalize_email(value)
    if channel is Channel.TELEGRAM:
        if not value.isascii() or not value.isdigit() or len(value) > 20:
            raise InvalidInput("telegram_id", f"{raw!r} is not a Telegram user id (digits only)")
        return str(int(value))
    if not _WEB_ID.match(value):
        raise InvalidInput(
            f"{channel.value}_id", f"{raw!r} must be 1-128 letters, digits or . _ : @ -"
        )
    return value


def check_timezone(value: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(field, f"{value!r} is not a known time zone") from exc
    return value


def check_language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise InvalidInput("language", f"{value!r} is not a language code like 'en' or 'de-CH'")
    return value


def check_birth_date(value: date | None, today: date) -> date | None:
    if value is None:
        return None
    if value > today:
        raise InvalidInput("birth_date", "is in the future")
    if value.year < today.year - 130:
        raise InvalidInput("birth_date", "is more than 130 years ago")
    return value


def check_aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must carry a time zone")
    return value
