"""What the stay-down verdict adds to a cache miss at the edge, over real sockets.

    python bench/staydown_edge_miss.py [--requests 300] [--bank 1000000]

One edge worker with a bank of --bank PDQ hashes loaded; an origin serving a 1000x1400 JPEG manga
page and an opaque body of the same size. Each request is a miss (a new URL every time, one client,
keep-alive). The image is fingerprinted and matched before the edge answers; the opaque body is not.
Prints the median and p90 miss latency of both and their difference: the verdict's added latency.
Target: median added <= 10 ms.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.edge_vs_nginx import random_bank
from tests.edge.harness import Route, ScriptedOrigin, free_port

from staydown.demo.pages import render_page
from staydown.edge.main import EdgeOptions, start_workers
from staydown.edge.server import EdgeConfig
from staydown.edge.state import EnforcementState, LocalStore
from staydown.netguard import OriginAccess
from staydown.netpolicy import OriginPolicy, parse_networks

# The bench origins listen on loopback: allowed as an operator allows private origins.
LOOPBACK_ORIGINS = OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"])))
HOST = "bench.example.test"


def page_jpeg() -> bytes:
    out = io.BytesIO()
    render_page(7, width=1000, height=1400).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def store(directory: Path, origin: str, bank: int) -> None:
    state = EnforcementState()
    state.apply(
        {"seq": 1, "kind": "zone", "zone_id": 1, "customer_id": 1, "hostnames": [HOST], "origin": origin,
         "status": "active"}
    )  # fmt: skip
    random_bank(state, bank, seed=3)
    LocalStore(directory / "worker-0").compact(state)


def timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url, headers={"host": HOST})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    assert response.headers.get("staydown-cache") == "miss", response.headers
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--bank", type=int, default=1_000_000)
    args = parser.parse_args()
    image = page_jpeg()
    opaque = np.random.default_rng(5).integers(0, 256, size=len(image), dtype=np.uint8).tobytes()
    cache = {"Cache-Control": "public, max-age=600"}
    with ScriptedOrigin() as origin, tempfile.TemporaryDirectory() as tmp:
        origin.routes["/page.jpg"] = Route(image, headers={**cache, "Content-Type": "image/jpeg"})
        origin.routes["/blob.bin"] = Route(
            opaque, headers={**cache, "Content-Type": "application/octet-stream"}
        )
        store(Path(tmp), origin.url, args.bank)
        port = free_port()
        options = EdgeOptions(
            host="127.0.0.1", port=port, control_plane=f"http://127.0.0.1:{free_port()}", key="sd_none",
            data_dir=Path(tmp), config=EdgeConfig(legal_url="https://cdn.example/legal"),
            origins=LOOPBACK_ORIGINS,
        )  # fmt: skip
        supervisor = start_workers(options, 1)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    httpx.get(url + "/", headers={"host": "probe.invalid"}, timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "edge did not start"
                    time.sleep(0.2)
            print(f"{len(image)} byte JPEG (1000x1400) and opaque body; bank of {args.bank} hashes")
            samples: dict[str, list[float]] = {"image": [], "opaque": []}
            with httpx.Client(base_url=url, timeout=30) as client:
                for n in range(10):  # warm the connection pool to the origin and the hash threads
                    timed(client, f"/page.jpg?warm={n}")
                    timed(client, f"/blob.bin?warm={n}")
                for n in range(args.requests):  # interleaved, so both see the same machine
                    samples["image"].append(timed(client, f"/page.jpg?n={n}"))
                    samples["opaque"].append(timed(client, f"/blob.bin?n={n}"))
        finally:
            supervisor.stop()
    for label, values in samples.items():
        values.sort()
        print(
            f"{label:7} miss: median {statistics.median(values):6.2f} ms, "
            f"p90 {values[int(0.9 * len(values))]:6.2f} ms"
        )
    added = statistics.median(samples["image"]) - statistics.median(samples["opaque"])
    print(f"verdict adds {added:.2f} ms to the median miss (target <= 10 ms)")


if __name__ == "__main__":
    main()
