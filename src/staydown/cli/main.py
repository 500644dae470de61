"""The ``staydown`` command line (Typer). Assembly only: every command calls domain services."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import signal
import socket
from collections.abc import Callable, Coroutine
from datetime import datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from rich.console import Console

from staydown import assembly
from staydown.cli.mail import mail_app
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import SchemaNotCurrent, check_current, upgrade
from staydown.hosts.bootstrap import IANA_BASE, BootstrapError
from staydown.hosts.bootstrap import refresh as refresh_bootstrap
from staydown.types import Role, as_utc, system_clock


def _commands(help_text: str) -> typer.Typer:
    """A command group with plain help: options with their value type and flags without one, and
    docstrings shown as written (Typer's rich layout labels every flag ``<bool>``)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


app = _commands("Notice-and-staydown for CDNs and hosting providers.")
db_app = _commands("Database schema.")
keys_app = _commands("API keys.")
audit_app = _commands("The audit chain.")
timers_app = _commands("Durable timers.")
retention_app = _commands("The retention schedule for personal data.")
users_app = _commands("Abuse-desk users who sign in with a password.")
report_app = _commands("Transparency report, DSA statements and Lumen exports.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(timers_app, name="timers")
app.add_typer(retention_app, name="retention")
app.add_typer(users_app, name="users")
app.add_typer(report_app, name="report")
app.add_typer(mail_app, name="mail")
hosts_app = _commands("The hosts behind zone origins (RDAP).")
app.add_typer(hosts_app, name="hosts")

console = Console(stderr=True)

DEMO_ORIGINS = IPv4Network("127.0.0.0/8")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="STAYDOWN_DATA_DIR", help="Where state is kept.")
]

MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve /metrics here, on STAYDOWN_METRICS_HOST (loopback), never on the API's port; "
        "0 picks a free one (default: STAYDOWN_METRICS_PORT, 0).",
    ),
]


def require_free_ports(host: str, ports: dict[str, int | None]) -> None:
    """Exit with one line naming the option if a port this command is asked to listen on is taken.

    Checked before anything is created (data directory, database, processes), so a busy port costs
    the user a second, not a half-started service and a traceback.
    """
    for option, port in ports.items():
        if not port:
            continue  # 0 picks a free port; None leaves it to the settings
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                taken = exc.errno == errno.EADDRINUSE
                why = "is already in use" if taken else f"cannot be used ({exc.strerror})"
                console.print(
                    f"staydown: port {port} on {host} {why}; "
                    f"choose another with {option} (0 picks a free one)",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(1) from None


def load_settings(data_dir: Path | None) -> Settings:
    """Read settings from the environment, with ``--data-dir`` taking precedence."""
    try:
        settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
        _ = settings.policy
    except Exception as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings


def open_database(settings: Settings) -> Database:
    """The database this process serves from, with the pool its settings size; exit with one line
    naming ``staydown db upgrade`` if its schema is not this release's (serving never migrates)."""
    assembly.install(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    try:
        warning = check_current(database.engine)
    except SchemaNotCurrent as exc:
        database.dispose()
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    if warning:
        console.print(f"[yellow]{warning}[/yellow]", soft_wrap=True)
    return database


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Migrate the database to this release's schema: the release step before any process starts.

    Safe to run from many hosts at once: each waits for one lock, and all but the first find
    nothing left to do.
    """
    settings = load_settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    console.print(f"database at {settings.resolved_database_url.split('@')[-1]} is up to date")


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option(help="admin, agent, legal, submitter, trusted_flagger, customer or edge")
    ],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    trusted: Annotated[bool, typer.Option(help="Submitter keys only: a trusted flagger.")] = False,
    customer_id: Annotated[int | None, typer.Option(help="Customer keys: the customer it acts for.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    from staydown.accounts import service as accounts
    from staydown.accounts.service import AccountError

    if role == "trusted_flagger":
        role, trusted = Role.submitter.value, True
    try:
        parsed = Role(role)
    except ValueError:
        console.print(f"[red]unknown role {role!r}[/red]; choose one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from None
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.transaction() as session:
            key, secret = accounts.create_key(
                session,
                role=parsed,
                now=system_clock(),
                name=name,
                trusted=trusted,
                customer_id=customer_id,
                actor="cli",
            )
    except AccountError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(secret)
    console.print(f"created key {key.id} ({parsed.value}{', trusted' if trusted else ''})")


@keys_app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """Print every key as JSON (id, name, role, customer, prefix, created, revoked); never a secret."""
    from staydown.accounts import service as accounts
    from staydown.accounts.schemas import KeyRead

    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.reader() as session:
            keys = [
                KeyRead.model_validate(key).model_dump(mode="json") for key in accounts.list_keys(session)
            ]
    finally:
        database.dispose()
    typer.echo(json.dumps(keys, indent=2))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id (see `staydown keys list`).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key at once: its next request is refused. Revoking a revoked key changes nothing."""
    from staydown.accounts import service as accounts

    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.transaction() as session:
            key = accounts.get_key(session, key_id)
            if key is None:
                console.print(f"[red]key {key_id} does not exist[/red]")
                raise typer.Exit(2)
            revoked = accounts.revoke_key(session, key, now=system_clock(), actor="cli")
            revoked_at = key.revoked_at
    finally:
        database.dispose()
    typer.echo(json.dumps({"id": key_id, "revoked_at": revoked_at.isoformat() if revoked_at else None}))
    console.print(f"revoked key {key_id}" if revoked else f"key {key_id} was already revoked")


@users_app.command("create")
def users_create(
    role: Annotated[str, typer.Option(help="admin, agent, legal, submitter, trusted_flagger or customer")],
    email: Annotated[str, typer.Option(help="The e-mail address the user signs in with.")],
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Read the password from this file, not stdin.")
    ] = None,
    customer_id: Annotated[
        int | None, typer.Option(help="Customer users: the customer they act for.")
    ] = None,
    locale: Annotated[
        str | None,
        typer.Option(help="The desk's language for them: en or ja (default: as their browser asks)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a desk user (argon2-hashed password from stdin or --password-file) with their own key."""
    import sys

    from staydown.accounts.service import AccountError
    from staydown.desk import service as desk

    trusted = role == "trusted_flagger"
    try:
        parsed = Role.submitter if trusted else Role(role)
    except ValueError:
        console.print(f"[red]unknown role {role!r}[/red]; choose one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from None
    source = password_file.read_text(encoding="utf-8") if password_file else sys.stdin.read()
    password = source.rstrip("\r\n")
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.transaction() as session:
            user = desk.create_user(
                session,
                email=email,
                password=password,
                role=parsed,
                now=system_clock(),
                actor="cli",
                trusted=trusted,
                customer_id=customer_id,
                locale=locale,
            )
            user_id = user.id
    except (desk.DeskError, AccountError) as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(json.dumps({"id": user_id, "email": email.strip().lower(), "role": role, "locale": locale}))


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Recompute the audit hash chain; exit 1 and name the first bad entry if it does not hold."""
    from staydown.audit import service as audit

    settings = load_settings(data_dir)
    database = open_database(settings)
    with database.reader() as session:
        result = audit.verify(session)
    database.dispose()
    typer.echo(result.model_dump_json())
    if not result.ok:
        console.print(f"[red]audit chain broken at entry {result.first_bad}: {result.reason}[/red]")
        raise typer.Exit(1)
    console.print(f"audit chain holds: {result.entries} entries")


@timers_app.command("run")
def timers_run(
    as_of: Annotated[str, typer.Option("--as-of", help="ISO 8601 instant; default now.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Run every timer due by --as-of and exit."""
    from staydown.worker import run_timers

    _run_as_of(as_of, data_dir, "ran", lambda db, at, s: run_timers(db, as_of=at, settings=s))


@retention_app.command("run")
def retention_run(
    as_of: Annotated[str, typer.Option("--as-of", help="ISO 8601 instant; default now.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Erase personal data past its retention period (legal holds kept) as of --as-of and exit."""
    from staydown.worker import run_retention

    _run_as_of(as_of, data_dir, "erased", lambda db, at, s: run_retention(db, now=at, settings=s))


def _run_as_of(
    as_of: str, data_dir: Path | None, key: str, step: Callable[[Database, datetime, Settings], object]
) -> None:
    """Run ``step`` as of ``--as-of`` (default now) on this data directory's database and print
    ``{"as_of": …, key: what it returned}``."""
    try:
        instant = as_utc(datetime.fromisoformat(as_of)) if as_of else system_clock()
    except ValueError:
        console.print(f"[red]--as-of {as_of!r} is not an ISO 8601 instant[/red]")
        raise typer.Exit(2) from None
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        result = step(database, instant, settings)
    finally:
        database.dispose()
    typer.echo(json.dumps({"as_of": instant.isoformat(), key: result}))


PeriodFrom = Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or an ISO 8601 instant.")]
PeriodTo = Annotated[
    str, typer.Option("--to", help="Last day included (YYYY-MM-DD), or an instant (excluded).")
]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")]


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def _report_period(start: str, end: str) -> Any:
    from staydown.reports import service as reports

    try:
        return reports.parse_period(start, end)
    except reports.ReportError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None


@report_app.command("transparency")
def report_transparency(
    start: PeriodFrom,
    end: PeriodTo,
    fmt: Annotated[str, typer.Option("--format", help="json, csv or html")] = "json",
    output: Output = None,
    data_dir: DataDir = None,
) -> None:
    """The transparency report of a period: notices, URLs, time to action, due process, orders."""
    from staydown.reports import service as reports
    from staydown.reports.render import FORMATS, render

    if fmt not in FORMATS:
        console.print(f"[red]unknown format {fmt!r}[/red]; choose one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    period = _report_period(start, end)
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.reader() as session:
            now, provider = system_clock(), settings.provider_name
            report = reports.transparency(session, period, now=now, provider=provider)
    finally:
        database.dispose()
    _emit(render(report, fmt), output)


@report_app.command("lumen")
def report_lumen(start: PeriodFrom, end: PeriodTo, output: Output = None, data_dir: DataDir = None) -> None:
    """The period's notices in Lumen's format (private individuals' personal data redacted)."""
    from staydown.reports import service as reports

    period = _report_period(start, end)
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.reader() as session:
            document = reports.lumen_export(session, period, provider=settings.provider_name)
    finally:
        database.dispose()
    _emit(document, output)


@report_app.command("dsa-2835")
def report_dsa_2835(
    start: PeriodFrom,
    end: PeriodTo,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-d", help="Directory for the CSV parts.")],
    previous: Annotated[
        str | None, typer.Option(help="Publication date of the latest previous report (YYYY-MM-DD).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """The DSA Art. 15 report in the CSV templates of Implementing Regulation (EU) 2024/2835."""
    from staydown.reports import service as reports

    period = _report_period(start, end)
    try:
        day = reports.parse_day(previous, name="--previous") if previous else None
    except reports.ReportError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.reader() as session:
            parts = reports.dsa_2835_parts(
                session, period, now=system_clock(), settings=settings, previous=day
            )
    finally:
        database.dispose()
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in parts.items():
        (output_dir / name).write_text(text, encoding="utf-8", newline="")
        console.print(f"wrote {output_dir / name}")


@report_app.command("statements")
def report_statements(
    start: PeriodFrom, end: PeriodTo, output: Output = None, data_dir: DataDir = None
) -> None:
    """The period's statements of reasons for the DSA Transparency Database; exit 1 if any is invalid."""
    from staydown.reports import service as reports

    period = _report_period(start, end)
    settings = load_settings(data_dir)
    database = open_database(settings)
    try:
        with database.reader() as session:
            export = reports.statements_export(session, period)
    except reports.ReportError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    _emit(export.document, output)
    for puid, violations in export.invalid.items():
        for violation in violations:
            console.print(f"[red]{puid}: {violation.field}: {violation.message}[/red]")
    if export.invalid:
        raise typer.Exit(1)
    console.print(f"{export.count} statement(s), all valid")


@hosts_app.command("bootstrap-refresh")
def hosts_bootstrap_refresh(
    source: Annotated[
        str, typer.Option(help="Where ipv4.json, ipv6.json and asn.json are read from (RFC 9224).")
    ] = IANA_BASE,
    data_dir: DataDir = None,
) -> None:
    """Fetch the RDAP bootstrap registries and keep them in the data directory, where they win
    over the snapshot shipped with staydown."""
    settings = load_settings(data_dir)
    try:
        published = refresh_bootstrap(settings.data_dir, source=source)
    except BootstrapError as exc:
        typer.echo(f"bootstrap refresh failed, nothing changed: {exc}", err=True)
        raise typer.Exit(1) from None
    for registry, publication in published.items():
        typer.echo(f"{registry.value}: published {publication or 'undated'}")


@app.command("api")
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8080,
    metrics_port: MetricsPort = None,
    feed_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the API from processes of their own on this port (0 picks one), for the "
            "edges: their polls then never slow notice intake on --port (PostgreSQL).",
            min=0,
            max=65535,
        ),
    ] = None,
    feed_processes: Annotated[int, typer.Option(help="Processes serving --feed-port.", min=1)] = 1,
    feed_niceness: Annotated[
        int,
        typer.Option(
            help="Run the feed processes this much nicer than the API (0-19): when both want a core, "
            "the kernel gives it to notice intake first (0: an equal share).",
            min=0,
            max=19,
        ),
    ] = 10,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API, the abuse desk (/desk/) and the edge feed, with /metrics on a loopback
    listener of its own (--metrics-port), and nothing else.

    No worker (run `staydown worker`), no edge (run `staydown edge`) and no migration (run
    `staydown db upgrade` first): run as many as you like behind a load balancer. With --feed-port,
    point the edges at that port and notices at --port.
    """
    from staydown.cli.serve import serve_api

    require_free_ports(host, {"--port": port, "--metrics-port": metrics_port, "--feed-port": feed_port})
    settings = load_settings(data_dir)
    database = open_database(settings)
    if feed_port is not None and database.is_sqlite:
        console.print(
            "[red]--feed-port needs PostgreSQL:[/red] on SQLite a commit wakes only the polls of its "
            "own process, so the feed processes would learn of notices late"
        )
        raise typer.Exit(2)
    run(
        serve_api(
            settings,
            database,
            host=host,
            port=port,
            metrics_port=metrics_port,
            feed_port=feed_port,
            feed_processes=feed_processes,
            feed_niceness=feed_niceness,
        )
    )


@app.command("edge")
def edge(
    control_plane: Annotated[
        str | None, typer.Option("--control-plane", help="Control-plane base URL (feed, snapshots, reports).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar="STAYDOWN_EDGE_KEY", help="An edge-role API key.")
    ] = None,
    nats: Annotated[
        str | None, typer.Option("--nats", help="Follow the feed from NATS JetStream at this URL.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve visitors on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes sharing the port.", min=1)] = 1,
    admin_port: Annotated[
        int | None,
        typer.Option(help="Serve the metrics of all workers here, on STAYDOWN_METRICS_HOST (loopback)."),
    ] = None,
    legal_url: Annotated[
        str | None, typer.Option(help="Named by 451 responses as the blocking entity.")
    ] = None,
    tls_port: Annotated[
        int | None, typer.Option(help="Also serve HTTPS on this port (0 picks a free one).", min=0, max=65535)
    ] = None,
    cert_seal_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the fleet's certificate sealing key (base64), as the control plane has it; "
            "default: STAYDOWN_CERT_SEAL_KEY, else the data directory's cert-seal.key."
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run an edge: load the local state, serve visitors, follow the enforcement feed."""
    import threading
    from dataclasses import replace

    from staydown.edge.main import EdgeOptions, edge_supervisor, nats_options, reuseport_socket, serve_admin
    from staydown.edge.workers import CannotStart

    if control_plane is None and nats is None:
        raise typer.BadParameter("give --control-plane URL --key K, or --nats URL (or both)")
    if control_plane is not None and not key:
        raise typer.BadParameter("--control-plane needs --key (or STAYDOWN_EDGE_KEY)")
    require_free_ports(host, {"--port": port, "--admin-port": admin_port})
    settings = load_settings(data_dir)
    seal_key = read_seal_key(cert_seal_key_file) if cert_seal_key_file is not None else None
    keyless = seal_key is None and not settings.cert_seal_key
    if tls_port is not None and keyless and not (settings.data_dir / "cert-seal.key").exists():
        raise typer.BadParameter(
            "--tls-port needs the fleet's certificate sealing key: --cert-seal-key-file FILE, "
            "STAYDOWN_CERT_SEAL_KEY, or the control plane's data directory (cert-seal.key)"
        )
    reservation = None
    if tls_port == 0:  # one free port for every worker: held (unlistened) while they bind it
        reservation = reuseport_socket(host, 0, listen=False)
        tls_port = int(reservation.getsockname()[1])
    options = EdgeOptions.from_settings(
        settings,
        host=host,
        port=port,
        control_plane=control_plane or "",
        key=key or "",
        legal_url=legal_url,
        admin_port=admin_port,
        nats=nats_options(settings, nats) if nats else None,
        tls_port=tls_port,
        cert_seal_key=seal_key,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s edge %(levelname)s %(name)s: %(message)s")
    stopped = threading.Event()
    # SIGTERM (a service manager's stop) stops the workers in order, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    supervisor = edge_supervisor(options, workers)
    try:
        admin = serve_admin(options, supervisor)
        supervisor.payload = replace(options, admin_port=admin)  # the port it got, if it was 0
        supervisor.start()
        console.print(f"edge serving http://{host}:{port} with {workers} worker(s); Ctrl-C to stop")
        if tls_port is not None:
            console.print(f"edge serving https://{host}:{tls_port}")
        if admin is not None:
            console.print(f"metrics   http://{options.admin_host}:{admin}/metrics")
        supervisor.run(stopped.wait)
    except KeyboardInterrupt:
        pass
    except CannotStart as exc:
        console.print(f"[red]{exc}[/red]; see the errors above")
        raise typer.Exit(1) from None
    finally:
        supervisor.stop()
        if reservation is not None:
            reservation.close()


def read_seal_key(path: Path) -> bytes:
    """The certificate sealing key a file holds (base64 of 32 bytes), or a clear error."""
    import base64
    import binascii

    try:
        secret = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (OSError, UnicodeError, binascii.Error) as exc:
        raise typer.BadParameter(f"cannot read a sealing key from {path}: {exc}") from None
    if len(secret) != 32:
        raise typer.BadParameter(f"{path} does not hold a 256-bit key in base64")
    return secret


@app.command("relay")
def relay(
    nats: Annotated[str, typer.Option("--nats", help="NATS server URL (JetStream enabled).")],
    metrics_port: MetricsPort = None,
    data_dir: DataDir = None,
) -> None:
    """Publish every committed feed record to NATS JetStream, in order and exactly once, with
    /metrics on a loopback listener of its own (--metrics-port)."""
    from prometheus_client import CollectorRegistry

    from staydown.api.metrics import MetricsListener
    from staydown.enforcement.relay import run_relay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nats").setLevel(logging.WARNING)
    settings = load_settings(data_dir)
    database = open_database(settings)
    registry = CollectorRegistry()
    port = settings.metrics_port if metrics_port is None else metrics_port
    metrics = MetricsListener(registry, host=settings.metrics_host, port=port)
    console.print(f"relay publishing the feed to {nats} stream {settings.nats_stream}; Ctrl-C to stop")
    console.print(f"metrics   {metrics.url}")
    try:
        run(run_relay(settings, database, nats, metrics=registry))
    except KeyboardInterrupt:
        pass
    finally:
        metrics.stop()
        database.dispose()


@app.command("worker")
def worker(data_dir: DataDir = None) -> None:
    """Send the outbox, run due timers, stay-down captures and ACME certificate orders; run as many
    as you like.

    Each worker claims its work with a lease, so none is done twice while the lease runs and a
    crashed worker's work passes to the others. Run `staydown db upgrade` first.
    """
    from staydown import worker as assembly

    settings = load_settings(data_dir)
    database = open_database(settings)
    loop = assembly.build(settings, database)
    console.print(f"worker {loop.claim.claimant} running; Ctrl-C to stop")
    try:
        run(loop.run())
    except KeyboardInterrupt:
        pass
    finally:
        database.dispose()


@app.command("up")
def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Also start a demo origin, customers, zones and keys.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="API and desk port (0 picks a free one).")] = 8080,
    edge_port: Annotated[int, typer.Option(help="Edge port (0 picks a free one).")] = 8000,
    edge_workers: Annotated[int, typer.Option(help="Edge worker processes.", min=1)] = 1,
    edge_tls_port: Annotated[
        int,
        typer.Option(help="Edge HTTPS port (0 picks a free one).", min=0, max=65535),
    ] = 8443,
    smtp_port: Annotated[
        int, typer.Option(help="SMTP port of the mail intake (0 picks a free one).", min=0, max=65535)
    ] = 2525,
    metrics_port: MetricsPort = None,
    data_dir: DataDir = None,
) -> None:
    """Run the control plane (API, timers, outbox, mail intake) on the embedded database, and the demo
    with --demo."""
    from staydown.cli.serve import serve

    require_free_ports(
        host,
        {
            "--api-port": api_port,
            "--edge-port": edge_port,
            "--edge-tls-port": edge_tls_port,
            "--smtp-port": smtp_port,
            "--metrics-port": metrics_port,
        },
    )
    settings = load_settings(data_dir)
    if demo:  # the demo's origins listen on loopback; nothing else is opened for it
        settings = settings.model_copy(update={"origin_allow": [*settings.origin_allow, DEMO_ORIGINS]})
    with contextlib.suppress(KeyboardInterrupt):
        run(
            serve(
                settings,
                host=host,
                api_port=api_port,
                edge_port=edge_port,
                edge_workers=edge_workers,
                edge_tls_port=edge_tls_port,
                smtp_port=smtp_port,
                metrics_port=metrics_port,
                demo=demo,
            )
        )


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived coroutine on uvloop; SIGTERM (a service manager's stop) ends it as Ctrl-C
    does, so that what it started (edge workers above all) is stopped in order on the way out."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    uvloop.run(main)


def main() -> None:
    """Entry point of the ``staydown`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
