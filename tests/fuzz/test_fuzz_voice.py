"""Hostile input at the voice webhooks: signed correctly (twilio's RequestValidator over the
public URL) but with hostile field values; unsigned or wrongly signed (403, nothing written);
bodies that are not forms; bodies over the limit. Answers are TwiML (or an empty 4xx)."""

from __future__ import annotations

import itertools
import uuid
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.conftest import PUBLIC, FuzzApp, diff
from tests.fuzz.strategies import FUZZ, INJECTIONS, ODD_UNICODE, assert_clean

pytestmark = pytest.mark.asyncio(loop_scope="module")
PATHS = ("/voice/incoming", "/voice/gather", "/voice/hold", "/voice/dialled", "/voice/status")
FIELDS = (
    "CallSid", "From", "To", "CallStatus", "SpeechResult", "Confidence", "Digits",
    "SequenceNumber", "CallDuration", "Timestamp", "DialCallStatus",
)  # fmt: skip
numbers = itertools.count(7_700_900_100)
# Form values: no lone surrogates (a form is UTF-8 text), but everything else goes.
form_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(ODD_UNICODE),
    st.text(max_size=40),
    st.sampled_from(("", " ", "nan", "-1", "1e309", "inf", "1.5", "#*#", "0" * 40)),
)


def assert_twiml(status: int, body: str) -> None:
    assert_clean(status, body)
    if status == 200:
        root = ET.fromstring(body)
        assert root.tag == "Response", body[:300]
    else:
        assert status in (400, 403), (status, body[:300])


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    values=st.dictionaries(st.sampled_from(FIELDS), form_text, max_size=8),
    valid_call=st.booleans(),
)
@example(
    path="/voice/gather", values={"SpeechResult": "'; DROP TABLE customers; --"}, valid_call=True
)
@example(path="/voice/gather", values={"Digits": "1" * 33}, valid_call=True)
@example(path="/voice/status", values={"CallDuration": "1e309"}, valid_call=True)
@example(path="/voice/status", values={"SequenceNumber": "nan"}, valid_call=True)
@example(path="/voice/incoming", values={"From": "<script>alert(1)</script>"}, valid_call=True)
async def test_signed_webhooks_with_hostile_fields(
    fuzz_app: FuzzApp, path: str, values: dict[str, str], valid_call: bool
) -> None:
    peer = fuzz_app.twilio()
    params = {"AccountSid": "AC" + "0" * 32, "CallStatus": "in-progress"}
    if valid_call:
        params |= {"CallSid": "CA" + uuid.uuid4().hex, "From": f"+44{next(numbers)}"}
    params |= values
    answer = await peer.post(PUBLIC + path, params)
    assert answer.status != 403, "a correctly signed webhook was refused"
    assert_twiml(answer.status, answer.body)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    values=st.dictionaries(st.sampled_from(FIELDS), form_text, max_size=6),
    signature=st.one_of(st.none(), st.text(st.characters(codec="ascii"), max_size=40)),
)
async def test_unsigned_or_wrongly_signed_webhooks_are_403_with_nothing_written(
    fuzz_app: FuzzApp, path: str, values: dict[str, str], signature: str | None
) -> None:
    peer = fuzz_app.twilio()
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": f"+44{next(numbers)}", **values}
    before = await fuzz_app.counts()
    try:
        if signature is None:
            answer = await peer.post(PUBLIC + path, params, sign=False)
        else:
            answer = await peer.post(PUBLIC + path, params, signature=signature)
    except ValueError:  # a header value the HTTP client will not send
        return
    assert_clean(answer.status, answer.body)
    assert answer.status == 403 or (answer.status == 400 and signature == ""), answer
    assert diff(before, await fuzz_app.counts()) == {}


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/json", b'{"CallSid": "CA1"}'),
        ("application/x-www-form-urlencoded", b"\xff\xfe=\x00"),
        ("application/x-www-form-urlencoded", b"a=1&&&=&b"),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(500))),
    ],
)
async def test_bodies_that_are_not_forms(fuzz_app: FuzzApp, content_type: str, raw: bytes) -> None:
    before = await fuzz_app.counts()
    response = await fuzz_app.client.post(
        "/voice/incoming",
        data=raw,
        headers={"Content-Type": content_type, "X-Twilio-Signature": "c2lnbmF0dXJl"},
    )
    body = await response.text()
    assert_clean(response.status, body)
    assert response.status in (400, 403), (response.status, body[:300])
    assert diff(before, await fuzz_app.counts()) == {}


async def test_a_body_over_the_limit_is_413(fuzz_app: FuzzApp) -> None:
    peer = fuzz_app.twilio()
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+447700900999"}
    params["SpeechResult"] = "a" * (fuzz_app.max_body + 1)
    before = await fuzz_app.counts()
    answer = await peer.post(PUBLIC + "/voice/gather", params)
    assert answer.status == 413, answer.status
    assert_clean(answer.status, answer.body)
    assert diff(before, await fuzz_app.counts()) == {}


async def test_an_accepted_turn_is_one_inbound_interaction(fuzz_app: FuzzApp) -> None:
    call = fuzz_app.twilio().call(f"+44{next(numbers)}")
    await call.start()
    marker = f"m{uuid.uuid4().hex[:8]}"
    heard = await call.say(f"<script>alert(1)</script> '; DROP TABLE customers; -- {marker}")
    assert heard.text
    from sqlalchemy import func, select

    from crm_store.enums import Direction
    from crm_store.models import Interaction

    async with fuzz_app.store.database.transaction() as session:
        said = await session.scalar(
            select(func.count()).where(
                Interaction.direction == Direction.INBOUND,
                Interaction.text.contains(marker),
            )
        )
    assert said == 1
