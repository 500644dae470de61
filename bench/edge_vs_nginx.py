"""Cached-hit throughput of the staydown edge against nginx proxy_cache, measured in the same run.

    python bench/edge_vs_nginx.py [--rounds 3] [--duration 10] [--blocks 1000000]

Starts an origin, nginx (Debian nginx-light) with proxy_cache, and the staydown edge (2 workers
each), loads --blocks blocked URLs into the edge's local store, warms both caches, then runs
``wrk -t2 -c64 -d{duration}s --latency`` against a cached 2 KB and a 100 KB object alternately,
for the edge with the full blocklist, the edge with none, and nginx. Prints req/s, p99 and the
ratios. Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import getpass
import re
import shutil
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

from staydown.demo.origin import run_origin_in_thread
from staydown.edge.main import EdgeOptions, start_processes, stop_processes
from staydown.edge.server import EdgeConfig
from staydown.edge.state import EnforcementState, LocalStore

HOST = "bench.example.test"
WORKERS = 2

NGINX_CONF = """
user {user};
worker_processes {workers};
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


def load_blocks(store_dir: Path, *, zone_id: int, origin: str, count: int, bank: int) -> None:
    """Write the local store an edge would have built from a feed with ``count`` blocks and ``bank``
    stay-down hashes (one random PDQ hash per network-wide entry)."""
    state = EnforcementState()
    zone = {"zone_id": zone_id, "customer_id": 1, "hostnames": [HOST], "origin": origin, "status": "active"}
    state.apply({"seq": 1, "kind": "zone", **zone})
    blocks = {blocked_path(i): i for i in range(count)}
    state.blocks[zone_id] = blocks  # type: ignore[assignment]
    random_bank(state, bank, seed=7)
    state.seq = 1
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


def wrk(url: str, duration: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "-H", f"Host: {HOST}", url],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def start_edge(tmp: Path, name: str, origin: str, blocks: int, bank: int) -> tuple[str, list]:  # type: ignore[type-arg]
    port = free_port()
    store = tmp / name
    load_blocks(store, zone_id=1, origin=origin, count=blocks, bank=bank)
    options = EdgeOptions(
        host="127.0.0.1", port=port, control_plane=f"http://127.0.0.1:{free_port()}", key="sd_none",
        data_dir=store, config=EdgeConfig(legal_url="https://cdn.example/legal"),
    )  # fmt: skip
    processes = start_processes(options, WORKERS)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(url + "/", headers={"host": "probe.invalid"}, timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "edge did not start"
            time.sleep(0.2)
    return url, processes


def warm(url: str) -> None:
    for path in ("/small.bin", "/large.bin"):
        for _ in range(WORKERS * 4):
            response = httpx.get(url + path, headers={"host": HOST})
            assert response.status_code == 200, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--bank", type=int, default=1_000_000, help="stay-down hashes loaded into the edge")
    args = parser.parse_args()
    if not shutil.which("nginx") or not shutil.which("wrk"):
        sys.exit("needs nginx and wrk: apt-get install -y nginx-light wrk")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_objects(tmp / "origin")
        with run_origin_in_thread(tmp / "origin") as origin:
            nginx_port = free_port()
            conf = tmp / "nginx.conf"
            conf.write_text(
                NGINX_CONF.format(
                    user=getpass.getuser(),  # workers write the cache under this temporary directory
                    workers=WORKERS,
                    tmp=tmp,
                    origin_port=origin.url.rsplit(":", 1)[1],
                    port=nginx_port,
                )
            )
            nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"])
            started = time.monotonic()
            loaded_url, loaded = start_edge(tmp, "loaded", origin.url, args.blocks, args.bank)
            print(
                f"edge with {args.blocks} blocks and {args.bank} bank hashes ready in "
                f"{time.monotonic() - started:.1f} s"
            )
            empty_url, empty = start_edge(tmp, "empty", origin.url, 0, 0)
            nginx_url = f"http://127.0.0.1:{nginx_port}"
            try:
                for url in (loaded_url, empty_url, nginx_url):
                    warm(url)
                assert (
                    httpx.get(loaded_url + blocked_path(args.blocks - 1), headers={"host": HOST}).status_code
                    == 451
                )
                results: dict[tuple[str, str], list[tuple[float, float]]] = {}
                for round_ in range(args.rounds):
                    for path in ("/small.bin", "/large.bin"):
                        for label, url in (
                            ("staydown", loaded_url),
                            ("staydown-empty", empty_url),
                            ("nginx", nginx_url),
                        ):
                            rps, p99 = wrk(url + path, args.duration)
                            results.setdefault((label, path), []).append((rps, p99))
                            print(
                                f"round {round_ + 1} {path:11} {label:15} {rps:10.0f} req/s",
                                f"p99 {p99:7.2f} ms",
                            )
                print()
                for path, size in (("/small.bin", "2 KB"), ("/large.bin", "100 KB")):
                    med = {
                        label: statistics.median(r for r, _ in results[(label, path)])
                        for label in ("staydown", "staydown-empty", "nginx")
                    }
                    p99 = {
                        label: statistics.median(p for _, p in results[(label, path)])
                        for label in ("staydown", "nginx")
                    }
                    print(
                        f"{size:6}: staydown/nginx {med['staydown'] / med['nginx']:.2f}x "
                        f"(p99 {p99['staydown']:.2f} ms vs {p99['nginx']:.2f} ms); "
                        f"loaded/empty {med['staydown'] / med['staydown-empty']:.3f}x"
                    )
            finally:
                stop_processes(loaded)
                stop_processes(empty)
                nginx.terminate()
                nginx.wait(10)


if __name__ == "__main__":
    main()
