"""One webhook's parameters, checked: the call, what the caller said or keyed, the call's status.

Read only after the signature held (signature.py). A retry of the same webhook carries the same
`I-Twilio-Idempotency-Token`; without that header the key is the CallSid and a hash of the URL
path and every parameter (each question's action URL carries a step number, so two answers
"yes" in one call are still two messages).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from multidict import MultiDictProxy

from bot.channels.voice.signature import BadWebhook

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
_SID = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,128}$")
_DIGITS = re.compile(r"^[0-9*#]{1,32}$")
MAX_SPEECH = 2000


@dataclass(frozen=True, slots=True)
class Webhook:
    key: str  # the same for every retry of this webhook
    call_sid: str
    from_: str
    to: str
    call_status: str
    speech: str | None = None  # SpeechResult
    confidence: float | None = None
    digits: str | None = None
    sequence: int | None = None  # SequenceNumber (status callbacks)
    duration: int | None = None  # CallDuration, seconds
    timestamp: str | None = None  # RFC 2822, as sent
    dial_status: str | None = None  # DialCallStatus (after <Dial>)

    @property
    def said_anything(self) -> bool:
        return bool(self.speech or self.digits)


def idempotency_key(
    headers: Mapping[str, str], call_sid: str, path_qs: str, params: MultiDictProxy[str]
) -> str:
    token = headers.get(IDEMPOTENCY_HEADER, "").strip()
    if _TOKEN.match(token):
        return token
    digest = hashlib.sha256(path_qs.encode())
    for name, value in sorted(params.items()):
        digest.update(f"\0{name}\0{value}".encode())
    return f"{call_sid}:{digest.hexdigest()[:32]}"


def _float(params: MultiDictProxy[str], name: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadWebhook(f"{name} is not a number") from None
    if not value >= 0:  # also refuses nan
        raise BadWebhook(f"{name} is not a number of zero or more")
    return value


def _int(params: MultiDictProxy[str], name: str) -> int | None:
    value = _float(params, name)
    if value is not None and not value.is_integer():
        raise BadWebhook(f"{name} is not a whole number")
    return None if value is None else int(value)


def read_webhook(params: MultiDictProxy[str], headers: Mapping[str, str], path_qs: str) -> Webhook:
    call_sid = params.get("CallSid", "").strip()
    if not _SID.match(call_sid):
        raise BadWebhook("CallSid is missing")
    if "From" not in params:
        raise BadWebhook("From is missing")
    digits = params.get("Digits", "").strip() or None
    if digits is not None and not _DIGITS.match(digits):
        raise BadWebhook("Digits must be keypad keys")
    speech = " ".join(params.get("SpeechResult", "").split())[:MAX_SPEECH] or None
    return Webhook(
        key=idempotency_key(headers, call_sid, path_qs, params),
        call_sid=call_sid,
        from_=params["From"],
        to=params.get("To", ""),
        call_status=params.get("CallStatus", "").strip().lower(),
        speech=speech,
        confidence=_float(params, "Confidence"),
        digits=digits,
        sequence=_int(params, "SequenceNumber"),
        duration=_int(params, "CallDuration"),
        timestamp=params.get("Timestamp") or None,
        dial_status=params.get("DialCallStatus", "").strip().lower() or None,
    )


def parse_timestamp(raw: str | None) -> datetime | None:
    """The status callback's Timestamp as an aware datetime, or None if absent or unreadable."""
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo is not None else None
