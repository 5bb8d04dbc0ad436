"""The phone line: TwiML voice webhooks (Twilio and compatible providers such as SignalWire).

Only modules in this package import `twilio` (import-linter checks it).
"""

from __future__ import annotations

from bot.channels.voice.channel import VoiceChannel

__all__ = ["VoiceChannel"]
