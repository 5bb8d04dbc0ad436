"""The dialogue's replies as TwiML, built with twilio's VoiceResponse (it escapes every text).

Replies are spoken with <Say> inside a <Gather> that listens for speech and keys; the choices
of the last reply that offers any are read as "say or press 1 for X, 2 for Y"; links are read
as their titles. Holding is <Say> + <Pause> + <Redirect> back to the hold URL; connecting is
<Dial> with <Number> or <Sip>; leaving is <Say> + <Hangup/>.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from bot.channels.voice.caller import choices_of
from bot.dialogue.messages import Button, Reply

Texts = Callable[..., str]
_DROPPED = frozenset({"So", "Sk", "Cc", "Co", "Cn", "Cs"})  # symbols, controls, unassigned
_BULLETS = "-•*–— "


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    voice: str
    language: str
    speech_timeout: str  # "auto" or whole seconds
    input_timeout: int  # seconds
    hold_pause: int  # seconds
    dial_timeout: int  # seconds


def speakable(text: str) -> str:
    """Text fit to be spoken: no emoji or symbols, no control characters, lines as sentences."""
    text = unicodedata.normalize("NFC", text).replace(" · ", ", ").replace("·", ",")
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _DROPPED)
    sentences = []
    for line in kept.splitlines():
        line = " ".join(line.split()).strip(_BULLETS).strip()
        if line:
            sentences.append(line if line[-1] in ".!?:;," else f"{line}.")
    return " ".join(sentences)


def offered(replies: Sequence[Reply]) -> tuple[Button, ...]:
    """The choices a key press picks: those of the last reply that offers any."""
    for reply in reversed(replies):
        choices = reply.buttons or reply.quick_replies
        if choices:
            return choices_of(choices)
    return ()


class Speaker:
    def __init__(self, style: VoiceStyle, texts: Texts) -> None:
        self.style = style
        self.texts = texts

    # -- words -------------------------------------------------------------------------------------

    def lines(self, replies: Sequence[Reply]) -> list[str]:
        """What to say for these replies, the choices read after the reply that offers them."""
        choices = offered(replies)
        last = max((i for i, r in enumerate(replies) if r.buttons or r.quick_replies), default=-1)
        lines: list[str] = []
        for index, reply in enumerate(replies):
            text = speakable(reply.text)
            if text:
                lines.append(text)
            for link in reply.links:
                title = speakable(link.title).rstrip(".")
                if title:
                    lines.append(self.texts("voice_link", title=title))
            if index == last:
                lines.append(self.choices(choices))
        return lines

    def choices(self, buttons: Sequence[Button]) -> str:
        titles = [speakable(b.title).rstrip(".") for b in buttons]
        if all(titles):
            items = (self.texts("voice_choice", number=i, title=t) for i, t in enumerate(titles, 1))
            return self.texts("voice_choices", choices=", ".join(items))
        numbers = [str(i) for i in range(1, len(buttons) + 1)]
        spoken = numbers[0]
        if len(numbers) > 1:
            spoken = f"{', '.join(numbers[:-1])} {self.texts('voice_or')} {numbers[-1]}"
        return self.texts("voice_numbers", numbers=spoken)

    # -- documents ---------------------------------------------------------------------------------

    def _say(self, parent: Any, lines: Sequence[str]) -> None:
        for line in lines:
            parent.say(line, voice=self.style.voice, language=self.style.language)

    def gather(
        self, lines: Sequence[str], action: str, choices: Sequence[Button] = ()
    ) -> VoiceResponse:
        """Say the lines and listen; an empty answer is posted too (actionOnEmptyResult)."""
        response = VoiceResponse()
        hints = ", ".join(t for b in choices if (t := speakable(b.title).rstrip(".")))
        gather = response.gather(
            input="speech dtmf",
            action=action,
            method="POST",
            timeout=self.style.input_timeout,
            speech_timeout=self.style.speech_timeout,
            num_digits=1 if choices else None,
            action_on_empty_result=True,
            language=self.style.language,
            hints=hints[:1000] or None,
        )
        self._say(gather, lines)
        response.redirect(action, method="POST")  # a provider that skips empty results
        return response

    def hold(self, lines: Sequence[str], action: str) -> VoiceResponse:
        """Say the lines, wait, and come back: a key or words during the wait are posted."""
        response = VoiceResponse()
        gather = response.gather(
            input="dtmf speech",
            action=action,
            method="POST",
            timeout=1,
            speech_timeout="auto",
            num_digits=1,
            action_on_empty_result=False,
            language=self.style.language,
        )
        self._say(gather, lines)
        gather.pause(length=self.style.hold_pause)
        response.redirect(action, method="POST")
        return response

    def connect(self, lines: Sequence[str], address: str, action: str) -> VoiceResponse:
        """Say the lines and put the call through to a number (E.164) or a SIP address."""
        response = VoiceResponse()
        self._say(response, lines)
        dial = response.dial(action=action, method="POST", timeout=self.style.dial_timeout)
        if address.lower().startswith(("sip:", "sips:")):
            dial.sip(address)
        else:
            dial.number(address)
        return response

    def goodbye(self, lines: Sequence[str]) -> VoiceResponse:
        response = VoiceResponse()
        self._say(response, lines)
        response.hangup()
        return response


def empty() -> VoiceResponse:
    """The answer to a status callback: nothing to do."""
    return VoiceResponse()
