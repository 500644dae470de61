"""Cached-hit throughput of the staydown edge against nginx proxy_cache, measured in the same run.

    python bench/edge_vs_nginx.py [--rounds 5] [--duration 10] [--blocks 1000000] [--no-pin] [--no-https]

Starts an origin, nginx (Debian nginx-light) with proxy_cache, and the staydown edge (2 workers
each), loads --blocks blocked URLs and --bank stay-down hashes into the edge's local store, warms
both caches, then runs ``wrk -t2 -c64 -d{duration}s --latency`` against a cached 2 KB and a 100 KB
object, for the edge with the full blocklist, the edge with none, and nginx. Everything listens on
127.0.0.1 and is stopped at the end.

Fairness: both servers run 2 worker processes sharing the port with SO_REUSEPORT; with pinning
(the default) worker i of each is pinned to CPU i (nginx's ``worker_cpu_affinity``, the edge's
workers by ``sched_setaffinity``) and wrk is left to the scheduler. Neither writes an access log
(nginx ``access_log off``; edge workers log ``staydown.edge.access`` only at WARNING). The nginx
side is a production proxy_cache: on-disk cache with a shared keys zone, upstream keep-alive and
a cache lock. Each round measures the three servers back to back, in an order that rotates from
round to round so that no server always goes first.

HTTPS (unless --no-https): the loaded edge and nginx also serve TLS with the same certificate
(ECDSA P-256, from a CA made for the run), TLS 1.2/1.3 with the same suites and session tickets;
wrk measures cached hits over TLS keep-alive connections and new handshakes per second (every
request on a new connection, ``Connection: close``). wrk names its TLS server by the URL's host, so
the zone also has the name ``localhost`` and the HTTPS URLs use it (it resolves to 127.0.0.1 here).

Reported: every round's req/s, p99 and its ratios (staydown/nginx, loaded/empty, taken within
the round), then per object the median over the rounds of each ratio and of each p99. A round
is disturbed when other processes take CPU, so the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.edge.harness import free_port

from staydown import certseal
from staydown.demo.origin import run_origin_in_thread
from staydown.edge.main import EdgeOptions, start_workers
from staydown.edge.server import EdgeConfig
from staydown.edge.state import EnforcementState, LocalStore
from staydown.edge.workers import Supervisor
from staydown.netguard import OriginAccess
from staydown.netpolicy import OriginPolicy, parse_networks

# The bench origins listen on loopback: allowed as an operator allows private origins.
LOOPBACK_ORIGINS = OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"])))
HOST = "bench.example.test"
TLS_HOST = "localhost"  # the name wrk's TLS client sends (its URL's host)
WORKERS = 2
NGINX_TLS = (
    "listen 127.0.0.1:{tls_port} ssl reuseport; ssl_certificate {chain}; ssl_certificate_key {key}; "
    "ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20; ssl_session_tickets on; "
    "ssl_session_cache shared:tls:10m;"
)

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
        listen 127.0.0.1:{port} reuseport;
        {tls}
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


def write_objects(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "small.bin").write_bytes(bytes(range(256)) * 8)  # 2 KB
    (root / "large.bin").write_bytes(bytes(range(256)) * 400)  # 100 KB


def blocked_path(i: int) -> str:
    return f"/chapter-{i // 1000}/page-{i % 1000:04d}.jpg"


def bench_certificate(tmp: Path) -> tuple[Path, Path]:
    """A chain for the bench's names from a CA made for the run, and its key: their files."""
    from tests.edge.pki import LocalCA

    chain, key = LocalCA(tmp / "pki").issue(HOST, TLS_HOST)
    (tmp / "pki" / "chain.pem").write_text(chain)
    (tmp / "pki" / "key.pem").write_bytes(key)
    return tmp / "pki" / "chain.pem", tmp / "pki" / "key.pem"


def load_blocks(
    store_dir: Path,
    *,
    zone_id: int,
    origin: str,
    count: int,
    bank: int,
    tls: tuple[Path, Path, bytes] | None = None,
) -> None:
    """Write the local store an edge would have built from a feed with ``count`` blocks and ``bank``
    stay-down hashes (one random PDQ hash per network-wide entry), and with ``tls`` (chain, key,
    sealing secret) the zone's certificate."""
    state = EnforcementState()
    hostnames = [HOST, TLS_HOST]
    zone = {
        "zone_id": zone_id,
        "customer_id": 1,
        "hostnames": hostnames,
        "origin": origin,
        "status": "active",
    }
    state.apply({"seq": 1, "kind": "zone", **zone})
    if tls is not None:
        chain, key, secret = tls
        sealed = certseal.seal(key.read_bytes(), secret=secret, zone_id=zone_id, cert_id=1)
        state.apply(
            {"seq": 2, "kind": "cert_set", "cert_id": 1, "zone_id": zone_id, "hostnames": hostnames,
             "chain_pem": chain.read_text(), "key_sealed": sealed, "not_after": "2099-01-01"}
        )  # fmt: skip
    blocks = {blocked_path(i): i for i in range(count)}
    state.blocks[zone_id] = blocks  # type: ignore[assignment]
    random_bank(state, bank, seed=7)
    state.seq = 2
    for worker in range(WORKERS):
        LocalStore(store_dir / f"worker-{worker}").compact(state)


def random_bank(state: EnforcementState, count: int, *, seed: int) -> None:
    """Put ``count`` network-wide bank entries of one random PDQ hash each into ``state``."""
    codes = np.random.default_rng(seed).integers(0, 256, size=(count, 32), dtype=np.uint8)
    for entry_id, code in enumerate(codes, start=1):
        pdq = code.tobytes().hex()
        state.bank[entry_id] = {
            "entry_id": entry_id, "scope": "network", "scope_zone_id": None, "scope_customer_id": None,
            "notice_id": None, "work_id": None, "sha256": pdq * 2, "pdq": [pdq],
        }  # fmt: skip


def wrk(url: str, duration: int, *, new_connections: bool = False) -> tuple[float, float]:
    close = ["-H", "Connection: close"] if new_connections else []
    host = TLS_HOST if url.startswith("https:") else HOST
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "-H", f"Host: {host}", *close, url],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def start_edge(
    tmp: Path,
    name: str,
    origin: str,
    blocks: int,
    bank: int,
    *,
    pin: bool,
    tls: tuple[Path, Path] | None = None,
    tls_port: int | None = None,
) -> tuple[str, Supervisor]:
    port = free_port()
    store = tmp / name
    secret = certseal.new_secret()
    sealed = (*tls, secret) if tls is not None else None
    load_blocks(store, zone_id=1, origin=origin, count=blocks, bank=bank, tls=sealed)
    options = EdgeOptions(
        host="127.0.0.1", port=port, control_plane=f"http://127.0.0.1:{free_port()}", key="sd_none",
        data_dir=store, config=EdgeConfig(legal_url="https://cdn.example/legal"),
        origins=LOOPBACK_ORIGINS, tls_port=tls_port, cert_seal_key=secret if tls is not None else None,
    )  # fmt: skip
    supervisor = start_workers(options, WORKERS)
    if pin:
        for index, pid in enumerate(supervisor.pids()):
            os.sched_setaffinity(pid or 0, {index % (os.cpu_count() or 1)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(url + "/", headers={"host": "probe.invalid"}, timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "edge did not start"
            time.sleep(0.2)
    return url, supervisor


def warm(url: str, *, verify: ssl.SSLContext | bool = True) -> None:
    host = TLS_HOST if url.startswith("https:") else HOST
    for path in ("/small.bin", "/large.bin"):
        for _ in range(WORKERS * 4):
            response = httpx.get(url + path, headers={"host": host}, verify=verify)
            assert response.status_code == 200, response.status_code


LABELS = ("staydown", "staydown-empty", "nginx")
OBJECTS = (("/small.bin", "2 KB"), ("/large.bin", "100 KB"))
TLS_LABELS = ("staydown-tls", "nginx-tls")
# (path, what, every request on a new connection)
TLS_RUNS = (
    ("/small.bin", "2 KB tls", False),
    ("/large.bin", "100KB tls", False),
    ("/small.bin", "handshakes", True),
)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def nginx_workers(master: int) -> list[int]:
    """The master's worker processes (not its cache manager and loader, which come and go)."""
    children = [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    return [pid for pid in children if b"worker process" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--bank", type=int, default=1_000_000, help="stay-down hashes loaded into the edge")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="leave both servers' workers unpinned"
    )
    parser.add_argument("--no-https", dest="https", action="store_false", help="plain HTTP only")
    parser.add_argument("--only-https", action="store_true", help="skip the plain HTTP rounds")
    args = parser.parse_args()
    if not shutil.which("nginx") or not shutil.which("wrk"):
        sys.exit("needs nginx and wrk: apt-get install -y nginx-light wrk")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_objects(tmp / "origin")
        with run_origin_in_thread(tmp / "origin") as origin:
            nginx_port, nginx_tls_port, edge_tls_port = free_port(), free_port(), free_port()
            chain, key = bench_certificate(tmp)
            tls = NGINX_TLS.format(tls_port=nginx_tls_port, chain=chain, key=key) if args.https else ""
            conf = tmp / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(
                    user=getpass.getuser(),  # workers write the cache under this temporary directory
                    workers=WORKERS,
                    affinity="worker_cpu_affinity auto;" if args.pin else "",
                    tmp=tmp,
                    origin_port=origin.url.rsplit(":", 1)[1],
                    port=nginx_port,
                    tls=tls,
                )
            )
            nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"])
            started = time.monotonic()
            loaded_url, loaded = start_edge(
                tmp, "loaded", origin.url, args.blocks, args.bank, pin=args.pin,
                tls=(chain, key) if args.https else None, tls_port=edge_tls_port if args.https else None,
            )  # fmt: skip
            print(
                f"edge with {args.blocks} blocks and {args.bank} bank hashes ready in "
                f"{time.monotonic() - started:.1f} s"
            )
            empty_url, empty = start_edge(tmp, "empty", origin.url, 0, 0, pin=args.pin)
            nginx_url = f"http://127.0.0.1:{nginx_port}"
            urls = dict(zip(LABELS, (loaded_url, empty_url, nginx_url), strict=True))
            try:
                for url in urls.values():
                    warm(url)
                assert (
                    httpx.get(loaded_url + blocked_path(args.blocks - 1), headers={"host": HOST}).status_code
                    == 451
                )
                print(f"load average before: {load_average()}; workers pinned: {args.pin}")
                # (label, path) -> one (req/s, p99 ms) per round
                results: dict[tuple[str, str], list[tuple[float, float]]] = {}
                for round_ in range(0 if args.only_https else args.rounds):
                    order = LABELS[round_ % 3 :] + LABELS[: round_ % 3]
                    for path, size in OBJECTS:
                        for label in order:
                            rps, p99 = wrk(urls[label] + path, args.duration)
                            results.setdefault((label, path), []).append((rps, p99))
                            print(
                                f"round {round_ + 1} {size:6} {label:15} {rps:10.0f} req/s p99 {p99:7.2f} ms"
                            )
                        got = {label: results[(label, path)][-1] for label in LABELS}
                        print(
                            f"round {round_ + 1} {size:6} staydown/nginx "
                            f"{got['staydown'][0] / got['nginx'][0]:.2f}x, "
                            f"loaded/empty {got['staydown'][0] / got['staydown-empty'][0]:.3f}x"
                        )
                if args.https:
                    tls_urls = {
                        "staydown-tls": f"https://{TLS_HOST}:{edge_tls_port}",
                        "nginx-tls": f"https://{TLS_HOST}:{nginx_tls_port}",
                    }
                    pids = {
                        "staydown-tls": [pid for pid in loaded.pids() if pid],
                        "nginx-tls": nginx_workers(nginx.pid),
                    }
                    tls_results = measure_tls(
                        tls_urls, chain.parent / "ca.pem", args.rounds, args.duration, pids
                    )
                print(f"load average after: {load_average()}")
                print()
                if args.https:
                    for _path, what, _new in TLS_RUNS:
                        runs = {label: tls_results[(label, what)] for label in TLS_LABELS}
                        versus = [
                            s[0] / n[0] for s, n in zip(runs["staydown-tls"], runs["nginx-tls"], strict=True)
                        ]
                        rps = {label: statistics.median(r[0] for r in runs[label]) for label in TLS_LABELS}
                        p99 = {label: statistics.median(r[1] for r in runs[label]) for label in TLS_LABELS}
                        cpu = {label: statistics.median(r[2] for r in runs[label]) for label in TLS_LABELS}
                        print(
                            f"{what:10}: staydown/nginx per round {' '.join(f'{r:.2f}' for r in versus)}; "
                            f"median {statistics.median(versus):.2f}x ({rps['staydown-tls']:.0f} vs "
                            f"{rps['nginx-tls']:.0f} req/s; p99 {p99['staydown-tls']:.2f} ms vs "
                            f"{p99['nginx-tls']:.2f} ms)\n"
                            f"{'':10}  CPU per request {cpu['staydown-tls']:.1f} us vs "
                            f"{cpu['nginx-tls']:.1f} us: "
                            f"nginx/staydown {cpu['nginx-tls'] / cpu['staydown-tls']:.2f}x"
                        )
                for path, size in OBJECTS if not args.only_https else ():
                    runs = {label: results[(label, path)] for label in LABELS}
                    versus = [s / n for (s, _), (n, _) in zip(runs["staydown"], runs["nginx"], strict=True)]
                    overhead = [
                        s / e for (s, _), (e, _) in zip(runs["staydown"], runs["staydown-empty"], strict=True)
                    ]
                    p99 = {label: statistics.median(p for _, p in runs[label]) for label in LABELS}
                    rps = {label: statistics.median(r for r, _ in runs[label]) for label in LABELS}
                    print(
                        f"{size:6}: staydown/nginx per round {' '.join(f'{r:.2f}' for r in versus)}; "
                        f"median {statistics.median(versus):.2f}x "
                        f"({rps['staydown']:.0f} vs {rps['nginx']:.0f} req/s; "
                        f"p99 {p99['staydown']:.2f} ms vs {p99['nginx']:.2f} ms)"
                    )
                    print(
                        f"{'':6}  loaded/empty per round {' '.join(f'{r:.3f}' for r in overhead)}; "
                        f"median {statistics.median(overhead):.3f}x"
                    )
            finally:
                loaded.stop()
                empty.stop()
                nginx.terminate()
                nginx.wait(10)


def measure_tls(
    urls: dict[str, str], ca: Path, rounds: int, duration: int, pids: dict[str, list[int]]
) -> dict[tuple[str, str], list[tuple[float, float, float]]]:
    """Cached hits over TLS keep-alive and new handshakes per second, for each server, per round,
    with the CPU time its worker processes spent per request (microseconds): unlike req/s, that
    hardly depends on what else the machine runs."""
    verify = ssl.create_default_context(cafile=str(ca))
    for url in urls.values():
        warm(url, verify=verify)
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for round_ in range(rounds):
        order = TLS_LABELS[round_ % 2 :] + TLS_LABELS[: round_ % 2]
        for path, what, new in TLS_RUNS:
            for label in order:
                before = cpu_seconds(pids[label])
                rps, p99 = wrk(urls[label] + path, duration, new_connections=new)
                cpu = (cpu_seconds(pids[label]) - before) / (rps * duration) * 1e6
                results.setdefault((label, what), []).append((rps, p99, cpu))
                print(
                    f"round {round_ + 1} {what:10} {label:15} {rps:10.0f} req/s p99 {p99:7.2f} ms, "
                    f"{cpu:7.1f} us CPU per request"
                )
    return results


if __name__ == "__main__":
    main()
