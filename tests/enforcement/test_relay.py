"""The relay as a real process: every committed record reaches JetStream once, in order, at its own
sequence, across a crash and a restart."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
from nats.js.errors import NotFoundError
from prometheus_client.parser import text_string_to_metric_families

from staydown.db.engine import Database
from staydown.enforcement import service
from staydown.enforcement.feed import encode, read_rows, render
from staydown.feedrecords import FeedKind, StreamNames
from tests.fleet import Process, eventually, free_port, http_ok, nats_env, nats_url, stream_names

__all__ = ["nats_url", "stream_names"]  # fixtures


def append_purges(database: Database, count: int, *, per_transaction: int = 500) -> None:
    at = datetime.now(UTC)
    for start in range(0, count, per_transaction):
        with database.transaction() as session:
            for n in range(start, min(count, start + per_transaction)):
                service.append(
                    session, FeedKind.purge, at=at, payload={"url": f"/{n}"}, zone_id=1, target=f"/{n}"
                )


def stream_state(url: str, names: StreamNames) -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info(names.stream)
            return int(info.state.first_seq), int(info.state.last_seq)
        except NotFoundError:
            return 0, 0
        finally:
            await nc.close()

    return asyncio.run(read())


def stream_messages(url: str, names: StreamNames) -> list[tuple[int, bytes, dict[str, str]]]:
    async def read() -> list[tuple[int, bytes, dict[str, str]]]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(names.stream)
            out = []
            for seq in range(int(info.state.first_seq), int(info.state.last_seq) + 1):
                msg = await js.get_msg(names.stream, seq)
                out.append((int(msg.seq or 0), bytes(msg.data or b""), dict(msg.headers or {})))
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def relay(database_url: str, url: str, names: StreamNames, data_dir: Path, **env: str) -> Process:
    return Process(
        "relay",
        "--nats",
        url,
        data_dir=data_dir,
        env={**nats_env(names), "STAYDOWN_DATABASE_URL": database_url, **env},
    )


def test_a_relay_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(
    database_url: str, database: Database, tmp_path: Path, nats_url: str, stream_names: StreamNames
) -> None:
    append_purges(database, 6000)
    first = relay(database_url, nats_url, stream_names, tmp_path / "relay")
    eventually(lambda: stream_state(nats_url, stream_names)[1] > 0, what="the first publish")
    first.stop(kill=True)
    killed_at = stream_state(nats_url, stream_names)[1]
    append_purges(database, 1500)
    with relay(database_url, nats_url, stream_names, tmp_path / "relay") as second:
        eventually(lambda: stream_state(nats_url, stream_names)[1] >= 7500, what="catching up")
        second.alive()
        assert f"from seq {killed_at + 1}" in second.output()
    messages = stream_messages(nats_url, stream_names)
    assert [seq for seq, _body, _headers in messages] == list(range(1, 7501))
    assert [headers["Nats-Msg-Id"] for _seq, _body, headers in messages] == [str(n) for n in range(1, 7501)]
    with database.reader() as session:
        served = [encode(render(row)) for row in read_rows(session, after=0, limit=10_000)]
    assert [body for _seq, body, _headers in messages] == served  # the HTTP feed's own JSON
    assert [json.loads(body)["seq"] for _seq, body, _h in messages] == list(range(1, 7501))


def test_two_relays_at_once_publish_each_record_once(
    database_url: str, database: Database, tmp_path: Path, nats_url: str, stream_names: StreamNames
) -> None:
    append_purges(database, 3000)
    with (
        relay(database_url, nats_url, stream_names, tmp_path / "a"),
        relay(database_url, nats_url, stream_names, tmp_path / "b"),
    ):
        eventually(lambda: stream_state(nats_url, stream_names)[1] >= 3000, what="publishing")
        append_purges(database, 200, per_transaction=10)
        eventually(lambda: stream_state(nats_url, stream_names)[1] >= 3200, what="publishing more")
    messages = stream_messages(nats_url, stream_names)
    assert [json.loads(body)["seq"] for _seq, body, _h in messages] == list(range(1, 3201))


def relay_metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        sample.name + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items())): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_relay_serves_its_progress_errors_and_connection_on_its_metrics_listener(
    database_url: str, database: Database, tmp_path: Path, nats_url: str, stream_names: StreamNames
) -> None:
    append_purges(database, 300)
    port = free_port()
    with relay(database_url, nats_url, stream_names, tmp_path / "relay", STAYDOWN_METRICS_PORT=str(port)):
        eventually(lambda: http_ok(f"http://127.0.0.1:{port}/metrics"), what="the metrics listener")
        eventually(
            lambda: relay_metrics(port)["staydown_relay_published_records_total"] == 300, what="publishing"
        )
        metrics = relay_metrics(port)
        assert metrics["staydown_relay_lag_records"] == 0
        assert metrics["staydown_relay_stream_seq"] == metrics["staydown_relay_log_head_seq"] == 300
        assert metrics["staydown_relay_nats_connected"] == 1
        assert sum(v for k, v in metrics.items() if k.startswith("staydown_relay_errors_total")) == 0
    # A relay whose NATS server is away: nothing published, the lag shows it, and so do the errors.
    dead = f"nats://127.0.0.1:{free_port()}"
    stranded_port = free_port()
    with relay(
        database_url, dead, stream_names, tmp_path / "stranded", STAYDOWN_METRICS_PORT=str(stranded_port)
    ) as stranded:
        eventually(lambda: http_ok(f"http://127.0.0.1:{stranded_port}/metrics"), what="the metrics listener")
        eventually(
            lambda: relay_metrics(stranded_port)["staydown_relay_errors_total{kind=connection}"] >= 1,
            what="a connection error counted",
        )
        metrics = relay_metrics(stranded_port)
        assert metrics["staydown_relay_nats_connected"] == 0
        assert metrics["staydown_relay_published_records_total"] == 0
        assert metrics["staydown_relay_lag_records"] == 300
        # Still trying to connect, it stops when asked, as a service manager asks (not killed).
        assert stranded.stop() == 0, stranded.output()
