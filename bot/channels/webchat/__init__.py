"""The embeddable web chat: a widget served by Frontdesk, talking over a WebSocket."""

from bot.channels.webchat.channel import WebchatChannel

__all__ = ["WebchatChannel"]
