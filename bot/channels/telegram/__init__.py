"""The Telegram channel (python-telegram-bot): the only package that imports `telegram`."""

from bot.channels.telegram.channel import TelegramChannel, TelegramSetupError, webhook_path

__all__ = ["TelegramChannel", "TelegramSetupError", "webhook_path"]
