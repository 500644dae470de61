"""What counting served requests costs the edge's hot path, against the code before it, in one run.

    python bench/served_counter.py [--base-src DIR] [--rounds 7] [--requests 50000] [--repeats 5]

Times, in-process, the two calls every served request makes (no sockets: the difference is
per-request CPU, which sockets would only hide):

- ``fast``: ``Edge.fast_hit`` for a plain keep-alive GET of a fresh cached 2 KB object (the bytes
  already served this second), which is where cached hits are answered;
- ``full``: ``Edge.decide`` then ``Edge.immediate`` for the same request with a cache directive
  (the full path, ending in the cache);
- ``tail``: ``full`` over 200,000 distinct targets of one zone (every request a new resource, so
  the bounded table is compacted again and again: the worst case for the counter).

Each scenario is timed ``--repeats`` times in CPU time of the process and the least is kept.
``--base-src`` is a source tree of the code before the counter (``git archive <commit> src |
tar -x -C DIR``); each round runs the base and this tree in turn in fresh interpreters, and the
ratios (this / base, per request time) are taken within the round. Without it, only this tree's
times are printed. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from staydown.edge.cache import CachedResponse
from staydown.edge.core import Request
from staydown.edge.server import Edge, EdgeConfig
from staydown.edge.state import EnforcementState

requests, repeats = int(sys.argv[1]), int(sys.argv[2])
clock = time.process_time  # CPU time of this process: less disturbed by a busy machine than wall time
state = EnforcementState.from_document({"seq": 1, "zones": [{
    "zone_id": 1, "customer_id": 1, "hostnames": ["bench.example"], "origin": "http://127.0.0.1:9",
    "status": "active", "reason": None, "rate_per_second": None, "rate_burst": None,
    "https_redirect": False, "hsts_max_age": None}]})
edge = Edge(state, EdgeConfig(), clock=lambda: 1_000_000.5)

def stored(target):
    entry = CachedResponse.from_origin(
        status=200, headers=[("Content-Type", "text/plain"), ("Cache-Control", "public, max-age=86400")],
        body=b"x" * 2048, request_headers={}, request_time=999_999.0, response_time=999_999.0)
    edge.cache.put((1, target), entry)

headers = {"host": "bench.example"}
stored("/object.txt")
plain = Request("GET", "/object.txt", headers, True, "127.0.0.1")
edge.immediate(plain, edge.decide(plain))  # decided once: fast hits follow
assert edge.fast_hit("bench.example", "/object.txt", headers) is not None

def fast():
    hit = edge.fast_hit
    started = clock()
    for _ in range(requests):
        hit("bench.example", "/object.txt", headers)
    return (clock() - started) / requests

directed = {"host": "bench.example", "cache-control": "max-age=600"}
def full():
    request = Request("GET", "/object.txt", directed, True, "127.0.0.1")
    decide, immediate = edge.decide, edge.immediate
    started = clock()
    for _ in range(requests):
        immediate(request, decide(request))
    return (clock() - started) / requests

targets = [f"/tail/{n}.html" for n in range(200_000)]
def tail():
    decide, immediate = edge.decide, edge.immediate
    made = [Request("GET", t, headers, True, "127.0.0.1") for t in targets]
    started = clock()
    for request in made:
        immediate(request, decide(request))
    return (clock() - started) / len(made)

# The least of several runs: the run least disturbed by other processes.
scenarios = {"fast": fast, "full": full, "tail": tail}
print(json.dumps({name: min(f() for _ in range(repeats)) for name, f in scenarios.items()}))
"""


def run(src: Path, requests: int, repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(requests), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-src", type=Path, help="src/ of the code before the counter")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=50_000, help="per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per scenario; the least counts")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    mine, ratios = [], []
    for n in range(args.rounds):
        base = run(args.base_src, args.requests, args.repeats) if args.base_src else None
        new = run(ROOT / "src", args.requests, args.repeats)
        mine.append(new)
        line = "  ".join(f"{k} {v * 1e9:7.0f} ns" for k, v in new.items())
        if base is not None:
            ratio = {k: new[k] / base[k] for k in new}
            ratios.append(ratio)
            line += "  | base " + "  ".join(f"{k} {v * 1e9:7.0f} ns" for k, v in base.items())
            line += "  | ratio " + "  ".join(f"{k} {v:.3f}" for k, v in ratio.items())
        print(f"round {n + 1}: {line}")
    print(
        "median per request (this tree): "
        + "  ".join(f"{k} {statistics.median(m[k] for m in mine) * 1e9:.0f} ns" for k in mine[0])
    )
    if ratios:
        print(
            "median ratio this/base: "
            + "  ".join(f"{k} {statistics.median(r[k] for r in ratios):.3f}" for k in ratios[0])
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
