"""``staydown mail``: receive notices by e-mail (serve SMTP/LMTP, deliver from a pipe, fetch over IMAP)
and bind senders' addresses to API keys. Assembly only: the work is in ``staydown.inbound``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from staydown import assembly
from staydown.config import Settings
from staydown.db import claims
from staydown.db.engine import Database
from staydown.db.migrate import SchemaNotCurrent, check_current
from staydown.inbound import imap, service, smtp
from staydown.types import system_clock

mail_app = typer.Typer(help="Receive notices by e-mail.", no_args_is_help=True, rich_markup_mode=None)
console = Console(stderr=True)

# sysexits.h: what a mail transfer agent's pipe transport reads from the exit status.
EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="STAYDOWN_DATA_DIR", help="Where state is kept.")
]


def _settings(data_dir: Path | None) -> Settings:
    try:
        return Settings() if data_dir is None else Settings(data_dir=data_dir)
    except Exception as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _open(settings: Settings, *, pool_size: int | None = None) -> Database:
    """The database, once its schema is this release's (serving never migrates)."""
    assembly.install(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(
        settings.resolved_database_url,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    try:
        check_current(database.engine)
    except SchemaNotCurrent:
        database.dispose()
        raise
    return database


def _open_or_exit(settings: Settings) -> Database:
    try:
        return _open(settings)
    except SchemaNotCurrent as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None


class Stored:
    """The receiver's count of messages stored since the reader last took them up."""

    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def add(self, _message_id: int) -> None:
        self.count += 1
        self.event.set()

    def take(self) -> None:
        self.count = 0
        self.event.clear()


def lingering(waited: float, stored: int, *, linger: float, batch: int) -> bool:
    """Whether the reader should wait longer before reading what was stored: until a batch's worth
    of messages is there, or ``linger`` seconds went by since the first."""
    return 0 < stored < batch and waited < linger


async def process_loop(
    database: Database,
    settings: Settings,
    stored: Stored,
    stop: asyncio.Event,
    *,
    interval: float = 1.0,
    linger: float = 0.25,
) -> None:
    """Read stored messages into notices: once a batch's worth is stored, or ``linger`` seconds
    after the first of fewer was, and every ``interval`` for what others stored or a crash left
    pending.

    Each message was committed and acknowledged before it counts here, so lingering delays its
    notice, never its 250. It gathers the messages arriving together into one batch: reading a
    batch costs a claim, a transaction and a commit whether it holds one message or fifty, and
    under a burst, reading each message as it was stored (or a few at a time) spent more on those
    than on the messages."""
    claimant = claims.claimant_name()
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        first = loop.time()
        while lingering(loop.time() - first, stored.count, linger=linger, batch=service.BATCH):
            if stop.is_set():
                return
            await asyncio.sleep(0.01)
        stored.take()
        try:
            await asyncio.to_thread(
                service.process_due, database, now=system_clock(), settings=settings, claimant=claimant
            )
        except Exception as exc:  # a failed round is retried; the messages stay pending
            console.print(f"[red]reading received mail failed: {exc}[/red]")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stored.event.wait(), interval)


async def serve_mail(
    settings: Settings, database: Database, *, host: str, port: int, lmtp: bool, process: bool
) -> None:
    """Receive on ``host:port`` until interrupted; read what arrives unless ``process`` is off."""
    stored, stop = Stored(), asyncio.Event()
    sock = smtp.listening_socket(host, port)
    server = await smtp.start(database, settings, sock, lmtp=lmtp, stored=stored.add)
    bound = sock.getsockname()
    console.print(f"{'lmtp' if lmtp else 'smtp'}      {bound[0]}:{bound[1]}")
    console.print("ready; Ctrl-C to stop")
    reader = asyncio.create_task(process_loop(database, settings, stored, stop)) if process else None
    try:
        await server.serve_forever()
    finally:
        stop.set()
        server.close()
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        database.dispose()


@mail_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).", min=0, max=65535)] = 2525,
    lmtp: Annotated[bool, typer.Option("--lmtp", help="Speak LMTP (RFC 2033) instead of SMTP.")] = False,
    process: Annotated[
        bool, typer.Option(help="Also read stored messages here (else leave them to `staydown worker`).")
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Receive notices over SMTP (or LMTP): each message is stored before it is acknowledged."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s mail %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command lines
    settings = _settings(data_dir)
    database = _open_or_exit(settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a service manager's stop ends it as Ctrl-C
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve_mail(settings, database, host=host, port=port, lmtp=lmtp, process=process))


@mail_app.command("deliver")
def deliver(
    process: Annotated[bool, typer.Option(help="Read the message into a notice before exiting.")] = True,
    sender: Annotated[
        str | None, typer.Option("--from", help="The envelope sender (Postfix: ${sender}).")
    ] = None,
    recipient: Annotated[
        list[str] | None, typer.Option("--to", help="An envelope recipient (Postfix: ${recipient}).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Store one RFC 5322 message read from standard input (a Postfix or Exim pipe transport).

    Exit 0 once it is stored (even if it is refused later: it is kept and answered), 65 when it is
    empty or over the size limit, 75 when the database cannot take it now (the MTA retries).
    """
    settings = _settings(data_dir)
    raw = sys.stdin.buffer.read(settings.mail_max_bytes + 1)
    if not raw.strip():
        console.print("no message on standard input")
        raise typer.Exit(EX_DATAERR)
    try:
        database = _open(settings, pool_size=1)
        message_id = service.receive(
            database,
            raw,
            via="pipe",
            now=system_clock(),
            settings=settings,
            envelope_from=sender,
            recipients=recipient or [],
        )
    except service.TooLarge as exc:
        console.print(str(exc))
        raise typer.Exit(EX_DATAERR) from None
    except (SQLAlchemyError, SchemaNotCurrent, OSError) as exc:
        console.print(f"the message could not be stored now: {str(exc).splitlines()[0]}")
        raise typer.Exit(EX_TEMPFAIL) from None
    status = "pending"
    if process:
        try:
            status = service.process_one(database, message_id, now=system_clock(), settings=settings).value
        except SQLAlchemyError as exc:  # stored: the worker reads it later
            console.print(f"stored; reading it is left to the worker: {str(exc).splitlines()[0]}")
    database.dispose()
    typer.echo(json.dumps({"id": message_id, "status": status}))


@mail_app.command("fetch")
def fetch(
    imap_url: Annotated[str, typer.Option("--imap", help="imaps://USER[:PASSWORD]@HOST[:PORT]/MAILBOX")],
    move_to: Annotated[str, typer.Option(help="Folder processed messages are moved to.")] = "Processed",
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=1)] = 60.0,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="Trust this CA (PEM) for the IMAP server's certificate.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Poll an IMAP mailbox: store each message, then move it to MOVE_TO, and read it into a notice."""
    settings = _settings(data_dir)
    try:
        mailbox = imap.Mailbox.from_url(imap_url, password=os.environ.get("STAYDOWN_IMAP_PASSWORD"))
    except imap.MailboxError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    database = _open_or_exit(settings)
    claimant = claims.claimant_name()
    try:
        while True:
            try:
                stored = imap.fetch(database, settings, mailbox, move_to=move_to, context=context)
            except imap.MailboxError as exc:
                console.print(f"[red]{exc}[/red]")
                if once:
                    raise typer.Exit(1) from None
                stored = []
            read = service.process_due(database, now=system_clock(), settings=settings, claimant=claimant)
            typer.echo(json.dumps({"stored": stored, "read": read}))
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        database.dispose()


@mail_app.command("bind")
def bind(
    address: Annotated[str, typer.Argument(help="The sender's e-mail address.")],
    key_id: Annotated[int, typer.Option("--key-id", help="The submitter key its messages are submitted as.")],
    data_dir: DataDir = None,
) -> None:
    """Submit the messages from ADDRESS as the key's (a trusted flagger's, once its From is authenticated)."""
    settings = _settings(data_dir)
    database = _open_or_exit(settings)
    try:
        with database.transaction() as session:
            binding = service.bind_sender(session, address, key_id, actor="cli", now=system_clock())
            result = {"id": binding.id, "address": binding.address, "key_id": binding.key_id}
    except service.InboundError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(json.dumps(result))
