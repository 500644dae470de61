"""Cached-hit throughput over HTTP/2 (TLS, ALPN h2) of the staydown edge against nginx's HTTP/2 with
proxy_cache, measured in the same run with the same certificate.

    python bench/edge_h2.py [--rounds 3] [--duration 10] [--blocks 1000000] [--no-pin]

Starts an origin, nginx (``listen ... ssl http2``, proxy_cache as in bench/edge_vs_nginx.py) and
the staydown edge (2 worker processes each, SO_REUSEPORT, worker i pinned to CPU i unless
--no-pin), both serving a test certificate generated here; the edge's workers hold --blocks blocked
URLs. Both caches are warmed, then ``h2load -t2 -c{clients} -m{streams} -D{duration}`` asks each for
a cached 2 KB and a 100 KB object, the servers' order rotating from round to round. Reported: each
round's req/s, mean latency and the server's CPU time per answer (its worker processes' user and
system time over the run, which holds on a busy machine where req/s does not), and per object the
medians of staydown/nginx in req/s and of nginx/staydown in CPU per answer, with the load average
before and after.

Last, the floor: the CPU the ``h2`` state machine alone spends on one such answer (taking the
request's HEADERS as h2load encodes them, sending the response's HEADERS and DATA, taking the
client's WINDOW_UPDATEs) as the edge uses it -- the response's header block encoded once, the
DATA frames before the last framed outside it -- with no sockets, TLS, cache or decision.
nginx's CPU per answer over this floor is the best ratio any edge built on ``h2`` could reach on
this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import h2.config
import h2.connection
import h2.settings
import hpack
import uvloop
from hyperframe.frame import HeadersFrame, WindowUpdateFrame

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.edge_vs_nginx import (
    HOST,
    LOOPBACK_ORIGINS,
    blocked_path,
    cpu_seconds,
    load_average,
    nginx_workers,
    write_objects,
)
from tests.edge.h2peer import H2Client, certificate, client_context, server_context
from tests.edge.harness import free_port

from staydown.demo.origin import run_origin_in_thread
from staydown.edge import http2
from staydown.edge.server import Edge, EdgeConfig, close
from staydown.edge.state import EnforcementState
from staydown.netguard import OriginGuard

WORKERS = 2
LABELS = ("staydown", "nginx")
OBJECTS = (("/small.bin", "2 KB"), ("/large.bin", "100 KB"))

NGINX_CONF = """
user {user};
worker_processes {workers};
{affinity}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=bench:64m max_size=2g inactive=1h use_temp_path=off;
    upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port} ssl http2 reuseport;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        http2_max_concurrent_streams 100;
        # As the edge, no bound on requests per connection: nginx's 1000 ends h2load's connections
        # (which do not reconnect) within the warm-up on a quick machine, leaving nothing to measure.
        keepalive_requests 100000000;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_cache bench;
            proxy_cache_valid 200 10m;
            proxy_cache_lock on;
            add_header X-Cache $upstream_cache_status;
        }}
    }}
}}
"""


def edge_worker(
    index: int,
    port: int,
    origin: str,
    blocks: int,
    tls: tuple[Path, Path],
    pin: bool,
    ready: Event,
    stop: Event,
) -> None:
    """One edge worker process serving HTTP/2 under TLS on the shared port."""
    if pin:
        os.sched_setaffinity(0, {index % (os.cpu_count() or 1)})
    state = EnforcementState()
    zone = {"zone_id": 1, "customer_id": 1, "hostnames": [HOST], "origin": origin, "status": "active"}
    state.apply({"seq": 1, "kind": "zone", **zone})
    state.blocks[1] = {blocked_path(i): i for i in range(blocks)}  # type: ignore[assignment]

    async def main() -> None:
        edge = Edge(state, EdgeConfig(legal_url="https://cdn.example/legal"))
        guard = OriginGuard(LOOPBACK_ORIGINS)
        guard.serving("127.0.0.1", port)
        edge.pool.guard = guard
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(4096)
        sock.setblocking(False)
        server = await http2.serve(edge, sock, context=server_context(*tls))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        server.close()
        await close(server, edge)

    uvloop.run(main())


def h2load(url: str, *, duration: int, clients: int, streams: int) -> tuple[float, float, int]:
    """req/s, mean request time (ms) and 2xx answers of one h2load run; every answer must be a 2xx."""
    out = subprocess.run(
        ["h2load", "-t2", f"-c{clients}", f"-m{streams}", f"-D{duration}", "--warm-up-time=1",
         "-H", f":authority: {HOST}", url],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout  # fmt: skip
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    assert rps and codes and done and mean, out
    # Requests in flight when the duration ends are counted as failed; no answer may be anything but 2xx.
    assert int(codes.group(1)) > 0 and codes.group(2, 3, 4) == ("0", "0", "0"), out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[mean.group(2)]
    return float(rps.group(1)), float(mean.group(1)) * scale, int(codes.group(1))


def warm(port: int, cert: Path, blocks: int) -> None:
    """Fill the cache of every worker (over HTTP/2) and check answers, a block's 451 among them."""
    for _ in range(WORKERS * 4):
        with H2Client(port, client_context(cert), host=HOST) as client:
            for path in ("/small.bin", "/large.bin"):
                answer = client.get(path)
                assert answer.status == 200, answer.status
            if blocks:
                assert client.get(blocked_path(blocks - 1)).status == 451


def h2_floor(size: int, *, requests: int = 20_000) -> float:
    """CPU microseconds the ``h2`` state machine alone spends per answer of ``size`` body bytes."""
    fields = [
        (":method", "GET"), (":scheme", "https"), (":authority", HOST), (":path", "/small.bin"),
        ("user-agent", "h2load nghttp2/1.52.0"),
    ]  # fmt: skip
    response = [(b":status", b"200"), (b"content-type", b"application/octet-stream"),
                (b"content-length", str(size).encode()), (b"age", b"1")]  # fmt: skip
    body = b"x" * size
    per_connection = 1000
    spent = 0.0
    for _ in range(requests // per_connection):
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        client.local_settings = h2.settings.Settings(  # h2load's windows: 2**30 - 1
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**30 - 1}
        )
        client.initiate_connection()
        server = h2.connection.H2Connection(config=http2.connection_config())
        server.initiate_connection()
        server.receive_data(client.data_to_send())
        encoder = hpack.Encoder()
        frames = []
        for index in range(per_connection):
            frame = HeadersFrame(1 + 2 * index, data=encoder.encode(fields))
            frame.flags.add("END_HEADERS")
            frame.flags.add("END_STREAM")
            frames.append(frame.serialize())
        server.receive_data(WindowUpdateFrame(0, window_increment=2**30).serialize())
        credit = WindowUpdateFrame(0, window_increment=size * 10).serialize()
        started = time.process_time()
        preset = http2.PresetEncoder(hpack.Encoder().encode(response))  # as the edge keeps a hit's block
        step = server.max_outbound_frame_size
        tail = (size - 1) // step * step  # the frames before the last are framed by the edge itself
        for index, frame in enumerate(frames):
            stream = 1 + 2 * index
            server.receive_data(frame)
            encoder, server.encoder = server.encoder, preset  # type: ignore[assignment]
            server.send_headers(stream, response)
            server.encoder = encoder
            server.outbound_flow_control_window -= tail
            server.streams[stream].outbound_flow_control_window -= tail
            server.send_data(stream, body[tail:], end_stream=True)
            server.data_to_send()
            if index % 10 == 9:
                server.receive_data(credit)
        spent += time.process_time() - started
    return spent / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--streams", type=int, default=10, help="concurrent streams per connection")
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    args = parser.parse_args()
    if not shutil.which("nginx") or not shutil.which("h2load"):
        sys.exit("needs nginx and h2load: apt-get install -y nginx-light nghttp2-client")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_objects(tmp / "origin")
        cert, key = certificate(tmp / "tls", HOST)
        with run_origin_in_thread(tmp / "origin") as origin:
            nginx_port, edge_port = free_port(), free_port()
            conf = tmp / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(
                    user=getpass.getuser(),
                    workers=WORKERS,
                    affinity="worker_cpu_affinity auto;" if args.pin else "",
                    tmp=tmp,
                    origin_port=origin.url.rsplit(":", 1)[1],
                    port=nginx_port,
                    cert=cert,
                    key=key,
                )
            )
            nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"])
            context = multiprocessing.get_context("fork")
            stop = context.Event()
            workers = []
            for index in range(WORKERS):
                ready = context.Event()
                worker = context.Process(
                    target=edge_worker,
                    args=(index, edge_port, origin.url, args.blocks, (cert, key), args.pin, ready, stop),
                    daemon=True,
                )
                worker.start()
                assert ready.wait(180), "edge worker did not start"
                workers.append(worker)
            urls = {"staydown": f"https://127.0.0.1:{edge_port}", "nginx": f"https://127.0.0.1:{nginx_port}"}
            try:
                time.sleep(0.5)
                warm(edge_port, cert, args.blocks)
                warm(nginx_port, cert, 0)
                print(f"load average before: {load_average()}; workers pinned: {args.pin}")
                # The servers' CPU per answer holds on a busy machine, where req/s does not.
                pids = {"staydown": [w.pid or 0 for w in workers], "nginx": nginx_workers(nginx.pid)}
                results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
                for round_ in range(args.rounds):
                    order = LABELS[round_ % 2 :] + LABELS[: round_ % 2]
                    for path, size in OBJECTS:
                        for label in order:
                            before = cpu_seconds(pids[label])
                            rate, latency, answered = h2load(
                                urls[label] + path,
                                duration=args.duration,
                                clients=args.clients,
                                streams=args.streams,
                            )
                            cpu = (cpu_seconds(pids[label]) - before) / answered * 1e6  # warm-up included
                            results.setdefault((label, path), []).append((rate, latency, cpu))
                            print(
                                f"round {round_ + 1} {size:6} {label:9} {rate:10.0f} req/s "
                                f"mean {latency:7.2f} ms, {cpu:6.1f} us CPU per answer"
                            )
                print(f"load average after: {load_average()}")
                for path, size in OBJECTS:
                    runs = {label: results[(label, path)] for label in LABELS}
                    pairs = list(zip(runs["staydown"], runs["nginx"], strict=True))
                    versus = [s[0] / n[0] for s, n in pairs]
                    efficiency = [n[2] / s[2] for s, n in pairs]  # the req/s ratio on cores of their own
                    rps = {label: statistics.median(r[0] for r in runs[label]) for label in LABELS}
                    mean = {label: statistics.median(r[1] for r in runs[label]) for label in LABELS}
                    cpu = {label: statistics.median(r[2] for r in runs[label]) for label in LABELS}
                    print(
                        f"{size:6}: HTTP/2 staydown/nginx per round {' '.join(f'{r:.2f}' for r in versus)}; "
                        f"median {statistics.median(versus):.2f}x "
                        f"({rps['staydown']:.0f} vs {rps['nginx']:.0f} req/s; "
                        f"mean {mean['staydown']:.2f} ms vs {mean['nginx']:.2f} ms)"
                    )
                    print(
                        f"{'':6}  CPU per answer {cpu['staydown']:.1f} us vs {cpu['nginx']:.1f} us: "
                        f"nginx/staydown per round {' '.join(f'{r:.2f}' for r in efficiency)}; "
                        f"median {statistics.median(efficiency):.2f}x"
                    )
                    floor = h2_floor(2048 if path == "/small.bin" else 100 * 1024)
                    print(
                        f"{'':6}  the h2 library alone: {floor:.1f} us CPU per answer; nginx/h2 floor "
                        f"{cpu['nginx'] / floor:.2f}x (the best ratio an edge on h2 could reach)"
                    )
            finally:
                stop.set()
                for worker in workers:
                    worker.join(10)
                    if worker.is_alive():
                        worker.terminate()
                nginx.terminate()
                nginx.wait(10)


if __name__ == "__main__":
    main()
