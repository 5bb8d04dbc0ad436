"""The `frontdesk` command: configuration, database, demo data, CRM chores, agents, the server."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from bot.config import Settings
from bot.config_loader import ConfigError, load_settings
from bot.resources import BackendUnavailable, open_crm
from crm_store.enums import AgentRole
from crm_store.errors import CrmError

log = logging.getLogger("frontdesk")
Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def progress_bar(total: int | None, unit: str) -> tqdm[Any]:
    """A bar on stderr when it is a terminal; silent otherwise (the summary line still prints)."""
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True)


# -- commands --------------------------------------------------------------------------------------


async def config_check(settings: Settings, args: argparse.Namespace) -> int:
    json.dump(settings.masked_dump(), sys.stdout, indent=2, ensure_ascii=False, default=str)
    print(f"\n{args.config}: OK", file=sys.stderr)
    return 0


async def db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_crm(settings, migrate=True) as store:
        from crm_store.migrate import current_revision

        print(f"database schema is at revision {await current_revision(store.database)}")
    return 0


async def demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo_seed import DemoSeeder

    async with open_crm(settings) as store:
        with progress_bar(args.customers - 1, "customers") as bar:
            report = await DemoSeeder(settings, store, seed=args.seed).run(
                args.customers, bar.update
            )
    print(f"catalog: {report.services} services, {report.resources} practitioners/rooms")
    if report.already_seeded:
        print("customers: already seeded (Anna Weber is there); nothing added")
    else:
        tiers = ", ".join(f"{t.value} {n}" for t, n in sorted(report.tiers.items()))
        print(f"customers: {report.created} created ({tiers})")
    return 0


async def crm_segment(settings: Settings, _args: argparse.Namespace) -> int:
    async with open_crm(settings) as store:
        with progress_bar(await store.customers.count(), "customers") as bar:
            tally = await store.tiers.assign_all(bar.update)
    for tier, count in sorted(tally.items()):
        print(f"{tier.value:<9} {count}")
    return 0


async def crm_import_customers(settings: Settings, args: argparse.Namespace) -> int:
    from crm_store.importer import CustomerImporter

    async with open_crm(settings) as store:
        with progress_bar(None, "rows") as bar:
            report = await CustomerImporter(store).import_file(args.file, bar.update)
    for error in report.errors:
        print(f"{args.file}:{error.line}: {error.reason}", file=sys.stderr)
    print(
        f"{report.total} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} rejected"
    )
    return 1 if report.errors else 0


async def crm_export(settings: Settings, args: argparse.Namespace) -> int:
    async with open_crm(settings) as store:
        data = await store.privacy.export(args.customer_id)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text + "\n", encoding="utf-8")
        print(f"customer {args.customer_id} exported to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


async def crm_erase(settings: Settings, args: argparse.Namespace) -> int:
    if not args.yes:
        print("erasure cannot be undone; add --yes to confirm", file=sys.stderr)
        return 2
    async with open_crm(settings) as store:
        await store.privacy.erase(args.customer_id)
    print(f"customer {args.customer_id}: personal data erased (anonymous aggregates kept)")
    return 0


async def agent_create(settings: Settings, args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin, sys.stdin)
    async with open_crm(settings) as store:
        agent = await store.agents.create(
            args.username,
            password,
            display_name=args.name,
            roles=[AgentRole(r) for r in args.role or ["agent"]],
            skills=args.skill or [],
            capacity=args.capacity,
            phone_address=args.phone,
        )
    print(f"agent {agent.username} created (id {agent.id}, roles {', '.join(agent.roles)})")
    return 0


def read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise CrmError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CrmError("the passwords differ")
    return first


async def run_server(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import build_app

    host = args.host or settings.server.host
    port = args.port or settings.server.port
    grace = settings.server.shutdown_grace
    runner = web.AppRunner(build_app(settings), access_log=None, shutdown_timeout=grace)
    await runner.setup()  # opens the stores: unreachable or out-of-date ones stop us here
    # What start-up built (the NLU model, the SQL metadata, the templates) lives as long as the
    # process: out of the collector's sight, each collection walks only what requests made.
    # Measured under `bench e2e`: 0.16-0.20 s of collection per server instead of 0.33-0.42 s.
    gc.collect()
    gc.freeze()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"Frontdesk for {settings.business.name} on http://{host}:{port}", flush=True)
        received = await stop_signal()
        log.info("%s: stopping; requests in flight get up to %g s", received, grace)
    finally:
        # no new connections (a load balancer moves on to another instance), chat sockets
        # closed as "going away" (the widgets reconnect), requests in flight finished, then
        # the stores closed
        await runner.cleanup()
    log.info("stopped")
    return 0


async def stop_signal() -> str:
    """Wait for SIGTERM (docker stop, systemd, a rolling deploy) or SIGINT (Ctrl-C); its name.
    Once one has come, the default handlers are back: a second one stops the process at once."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[str] = loop.create_future()

    def receive(name: str) -> None:
        if not received.done():  # two at once: the first counts
            received.set_result(name)

    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, receive, number.name)
    try:
        return await received
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


def event_loop_factory(handler: Command) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the server when it is installed (it is a dependency on Linux and macOS): its
    socket handling costs a message about a tenth less CPU. The standard loop otherwise."""
    if handler is not run_server:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


# -- parsing ---------------------------------------------------------------------------------------


def extra_command_groups() -> list[Callable[[Any, Callable[..., argparse.ArgumentParser]], None]]:
    """Command groups that live beside the code they drive (bot/cli_*.py), registered here."""
    from bot import cli_bench, cli_chat, cli_nlu, cli_routing

    return [cli_nlu.register, cli_routing.register, cli_bench.register, cli_chat.register]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="frontdesk", description=__doc__)
    root.add_argument(
        "--config", default=None, help="config file (default: $FRONTDESK_CONFIG or ./config.yml)"
    )
    root.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    groups = root.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def command(
        parent: Any, name: str, handler: Command, help_text: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name, help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    config = groups.add_parser("config", help="check the configuration").add_subparsers(
        required=True
    )
    command(config, "check", config_check, "validate config.yml and print it with secrets masked")

    db = groups.add_parser("db", help="database schema").add_subparsers(required=True)
    command(db, "upgrade", db_upgrade, "create or migrate the database schema")

    demo = groups.add_parser("demo", help="demo data").add_subparsers(required=True)
    seed = command(demo, "seed", demo_seed, "load the demo clinic (idempotent)")
    seed.add_argument("--customers", type=int, default=200)
    seed.add_argument("--seed", type=int, default=7, help="random seed")

    crm = groups.add_parser("crm", help="customer records").add_subparsers(required=True)
    imp = crm.add_parser("import", help="import records").add_subparsers(required=True)
    customers = command(imp, "customers", crm_import_customers, "import customers from a CSV file")
    customers.add_argument("file", type=Path)
    export = command(crm, "export", crm_export, "export one customer's data as JSON")
    export.add_argument("customer_id", type=int)
    export.add_argument("-o", "--output", help="write to this file instead of stdout")
    erase = command(crm, "erase", crm_erase, "erase one customer's personal data")
    erase.add_argument("customer_id", type=int)
    erase.add_argument("--yes", action="store_true", help="confirm the erasure")
    command(crm, "segment", crm_segment, "recompute every customer's tier and lifetime value")

    agent = groups.add_parser("agent", help="desk accounts").add_subparsers(required=True)
    create = command(agent, "create", agent_create, "create an agent account")
    create.add_argument("username")
    create.add_argument("--name", help="display name")
    create.add_argument("--role", action="append", choices=[r.value for r in AgentRole])
    create.add_argument("--skill", action="append", help="a queue skill (repeat for several)")
    create.add_argument("--capacity", type=int, default=3, help="concurrent tickets")
    create.add_argument(
        "--phone", help="where phone calls are put through: +44... (E.164) or sip:user@host"
    )
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )

    for register in extra_command_groups():
        register(groups, command)

    run = command(groups, "run", run_server, "serve Frontdesk over HTTP")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    return root


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    args = parser().parse_args(argv)
    args.config = args.config or env.get("FRONTDESK_CONFIG", "config.yml")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        settings = load_settings(args.config, env)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    handler: Command = args.handler
    try:
        with asyncio.Runner(loop_factory=event_loop_factory(handler)) as runner:
            return runner.run(handler(settings, args))
    except KeyboardInterrupt:
        return 130
    except (CrmError, BackendUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file named on the command line cannot be read or written
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
