"""A local stand-in for Twilio's voice webhooks: it places a call like Twilio and walks the TwiML.

Each request is a form-encoded POST with the standard parameters, signed like Twilio
(X-Twilio-Signature over the *public* URL, which may differ from the test server's own address:
the proxy case) and carrying an I-Twilio-Idempotency-Token. The answers are parsed with
xml.etree and executed as Twilio would: <Say> is collected, <Pause> skipped, <Redirect>
followed, and the walk stops where the caller must act: at a <Gather> (answer with speech or
keys, or stay silent), at a <Dial> (tell how the dialled leg ended), at <Hangup/> or the end.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlencode, urljoin

from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
CLINIC_NUMBER = "+442079460000"
MAX_DOCUMENTS = 20  # redirects followed in one step before the fake calls it a loop


@dataclass(frozen=True)
class Sent:
    """One webhook as sent: enough to send it again (a retry) or to forge a variant."""

    url: str
    params: dict[str, str]
    token: str
    signature: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


@dataclass
class Gather:
    action: str
    attrs: dict[str, str]
    rest: list[ET.Element]  # the verbs after it, run when nothing is heard and no empty post
    url: str  # the document it came in


@dataclass
class Dialled:
    kind: str  # "Number" or "Sip"
    address: str
    action: str | None
    attrs: dict[str, str]


@dataclass
class Heard:
    """What one step of the call produced, up to where the caller must act."""

    said: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # the public URLs requested
    gather: Gather | None = None
    dialled: Dialled | None = None
    hung_up: bool = False
    ended: bool = False  # the document ran out: Twilio hangs up
    pauses: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.said)


class TwilioPeer:
    def __init__(
        self,
        client: TestClient,
        *,
        public_url: str,
        auth_token: str,
        signature_header: str = "X-Twilio-Signature",
    ) -> None:
        self.client = client
        self.public_url = public_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.signature_header = signature_header
        self.sent: list[Sent] = []

    def call(self, from_: str, *, to: str = CLINIC_NUMBER, call_sid: str | None = None) -> Call:
        return Call(self, call_sid or "CA" + uuid.uuid4().hex, from_, to)

    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, params))

    def path_of(self, url: str) -> str:
        """Where the proxy forwards a public URL: the public base (and any path prefix in it)
        becomes the test server's root."""
        assert url.startswith(self.public_url + "/"), f"{url} is not on {self.public_url}"
        return url[len(self.public_url) :]

    async def post(
        self,
        url: str,
        params: dict[str, str],
        *,
        token: str | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> Answer:
        """POST as Twilio does; `signature` overrides the computed one, `sign=False` omits it."""
        token = token or str(uuid.uuid4())
        signature = signature if signature is not None else self.sign(url, params)
        self.sent.append(Sent(url, dict(params), token, signature))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "I-Twilio-Idempotency-Token": token,
            "User-Agent": "TwilioProxy/1.1",
        }
        if sign:
            headers[self.signature_header] = signature
        response = await self.client.post(
            self.path_of(url), data=urlencode(params).encode(), headers=headers
        )
        return Answer(response.status, await response.text())

    async def resend(self, sent: Sent) -> Answer:
        """Twilio's retry: the same request, the same idempotency token."""
        return await self.post(sent.url, sent.params, token=sent.token, signature=sent.signature)


class Call:
    def __init__(self, peer: TwilioPeer, sid: str, from_: str, to: str) -> None:
        self.peer = peer
        self.sid = sid
        self.from_ = from_
        self.to = to
        self.pending: Gather | None = None
        self.dialling: Dialled | None = None
        self.last: Heard | None = None

    def params(self, status: str = "in-progress", **extra: str) -> dict[str, str]:
        return {
            "CallSid": self.sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.from_,
            "To": self.to,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    # -- the caller's side -------------------------------------------------------------------------

    async def start(self) -> Heard:
        return await self._request(self.peer.public_url + "/voice/incoming", self.params("ringing"))

    async def say(self, speech: str, confidence: float = 0.92) -> Heard:
        gather = self._gather("speech")
        extra = {"SpeechResult": speech, "Confidence": f"{confidence:.8f}"}
        return await self._request(gather.action, self.params(**extra))

    async def press(self, digits: str) -> Heard:
        gather = self._gather("dtmf")
        return await self._request(gather.action, self.params(Digits=digits, FinishedOnKey=""))

    async def silence(self) -> Heard:
        """Nothing heard: post the empty result, or go on with the verbs after the <Gather>."""
        gather = self._gather(None)
        if gather.attrs.get("actionOnEmptyResult") == "true":
            return await self._request(gather.action, self.params())
        heard = Heard()
        await self._run(gather.rest, gather.url, heard)
        return self._done(heard)

    async def dial_ends(self, status: str = "completed", duration: int = 42) -> Heard:
        dialled = self.dialling
        assert dialled is not None and dialled.action, "the call is not being put through"
        self.dialling = None
        extra = {
            "DialCallStatus": status,
            "DialCallSid": "CA" + uuid.uuid4().hex,
            "DialCallDuration": str(duration if status == "completed" else 0),
        }
        return await self._request(dialled.action, self.params(**extra))

    async def status(
        self,
        status: str,
        *,
        sequence: int,
        duration: int | None = None,
        at: datetime | None = None,
        token: str | None = None,
    ) -> Answer:
        """A status callback, as the number's "call status changes" webhook sends it."""
        extra = {"SequenceNumber": str(sequence), "CallbackSource": "call-progress-events"}
        if duration is not None:
            extra["CallDuration"] = str(duration)
            extra["Duration"] = str(max(1, (duration + 59) // 60))
        if at is not None:
            extra["Timestamp"] = format_datetime(at)
        url = self.peer.public_url + "/voice/status"
        return await self.peer.post(url, self.params(status, **extra), token=token)

    # -- walking TwiML -----------------------------------------------------------------------------

    def _gather(self, needs: str | None) -> Gather:
        gather = self.pending
        assert gather is not None, "nobody is listening: the call is not at a <Gather>"
        if needs is not None:
            assert needs in gather.attrs.get("input", "dtmf"), f"the <Gather> takes no {needs}"
        self.pending = None
        return gather

    async def _request(self, url: str, params: dict[str, str]) -> Heard:
        heard = Heard()
        await self._fetch(url, params, heard)
        return self._done(heard)

    def _done(self, heard: Heard) -> Heard:
        self.pending, self.dialling, self.last = heard.gather, heard.dialled, heard
        return heard

    async def _fetch(self, url: str, params: dict[str, str], heard: Heard) -> None:
        assert len(heard.documents) < MAX_DOCUMENTS, f"redirect loop: {heard.urls}"
        answer = await self.peer.post(url, params)
        assert answer.status == 200, f"{url}: HTTP {answer.status} {answer.body!r}"
        heard.documents.append(answer.body)
        heard.urls.append(url)
        root = ET.fromstring(answer.body)
        assert root.tag == "Response", answer.body
        await self._run(list(root), url, heard)

    async def _run(self, verbs: list[ET.Element], url: str, heard: Heard) -> None:
        for index, verb in enumerate(verbs):
            if verb.tag == "Say":
                heard.said.append(verb.text or "")
            elif verb.tag == "Pause":
                heard.pauses.append(int(verb.get("length", "1")))
            elif verb.tag == "Gather":
                for inner in verb:
                    if inner.tag == "Say":
                        heard.said.append(inner.text or "")
                    elif inner.tag == "Pause":
                        heard.pauses.append(int(inner.get("length", "1")))
                action = urljoin(url, verb.get("action") or url)
                heard.gather = Gather(action, dict(verb.attrib), verbs[index + 1 :], url)
                return
            elif verb.tag == "Redirect":
                await self._fetch(urljoin(url, (verb.text or "").strip()), self.params(), heard)
                return
            elif verb.tag == "Dial":
                (target,) = list(verb)
                action = verb.get("action")
                heard.dialled = Dialled(
                    target.tag,
                    (target.text or "").strip(),
                    urljoin(url, action) if action else None,
                    dict(verb.attrib),
                )
                return
            elif verb.tag == "Hangup":
                heard.hung_up = True
                return
            else:
                raise AssertionError(f"the fake does not know <{verb.tag}>")
        heard.ended = True
