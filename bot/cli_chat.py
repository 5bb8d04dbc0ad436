"""`frontdesk chat`: talk to the bot in the terminal, in-process or against a running server."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import aiohttp

from bot.config import Settings
from bot.dialogue.messages import Button, InboundMessage, Reply
from crm_store.enums import Channel

Send = Callable[[str], Awaitable[list[Reply]]]
PROMPT = "you> "


def show(replies: list[Reply], out: TextIO) -> list[Button]:
    """Print the replies; returns the buttons offered, numbered from 1 in the printout."""
    buttons: list[Button] = []
    for reply in replies:
        for line in reply.text.splitlines() or [""]:
            print(f"bot> {line}", file=out)
        for button in (*reply.buttons, *reply.quick_replies):
            buttons.append(button)
            print(f"     [{len(buttons)}] {button.title}", file=out)
    out.flush()
    return buttons


async def converse(send: Send, lines: TextIO, out: TextIO) -> None:
    """Read lines until EOF or /quit; a number picks one of the last buttons shown."""
    buttons: list[Button] = []
    loop = asyncio.get_running_loop()
    while True:
        print(PROMPT, end="", file=out, flush=True)
        line = await loop.run_in_executor(None, lines.readline)
        if not line or line.strip() in {"/quit", "/exit"}:
            print(file=out)
            return
        text = line.strip()
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1].payload
        buttons = show(await send(text), out)


def remote_sender(
    session: aiohttp.ClientSession, url: str, sender: str, metadata: dict[str, Any]
) -> Send:
    async def send(text: str) -> list[Reply]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        async with session.post(f"{url.rstrip('/')}/webhooks/rest/webhook", json=body) as response:
            data = await response.json()
            if response.status != 200:
                return [Reply(f"(server said {response.status}: {data.get('error')})")]
        return [
            Reply(
                item.get("text", ""),
                buttons=tuple(Button(b["title"], b["payload"]) for b in item.get("buttons", [])),
            )
            for item in data
        ]

    return send


async def chat(settings: Settings, args: argparse.Namespace) -> int:
    """Talk to the bot. In-process, `--as USER` is a signed-in web user (the operator vouches)."""
    if args.url:
        metadata: dict[str, Any] = {}
        secret = settings.channels.webchat.identity_secret
        if args.as_user and secret is not None:
            from bot.channels.identity import sign

            metadata["identity"] = {
                "user_id": args.as_user,
                "hash": sign(args.as_user, secret.get_secret_value()),
            }
        async with aiohttp.ClientSession() as session:
            await converse(
                remote_sender(session, args.url, args.as_user or "terminal", metadata),
                sys.stdin,
                sys.stdout,
            )
        return 0
    from bot.dialogue_setup import open_dialogue
    from bot.nlu_backend import open_interpreter

    async with (
        open_interpreter(settings) as interpreter,
        open_dialogue(settings, interpreter, background=True) as bot,
    ):
        engine = bot.engine
        clock = engine.services.clock

        async def send(text: str) -> list[Reply]:
            message = InboundMessage(
                channel=Channel.WEB if args.as_user else Channel.REST,
                sender_id=args.as_user or "terminal",
                text=text,
                received_at=clock(),
                verified=bool(args.as_user),
            )
            return await engine.handle(message)

        print(f"Chatting with {settings.business.name}'s assistant. /quit to leave.")
        await converse(send, sys.stdin, sys.stdout)
    return 0


def register(groups: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    parser = command(groups, "chat", chat, "talk to the bot in the terminal")
    parser.add_argument(
        "--as", dest="as_user", metavar="USER", help="a signed-in web user id, e.g. anna"
    )
    parser.add_argument("--url", help="a running server (default: in-process)")
