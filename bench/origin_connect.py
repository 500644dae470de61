"""What the origin-address policy adds to opening an origin connection at the edge.

Opens --connections TCP connections to a listener on 127.0.0.1 on uvloop, plainly
(``asyncio.open_connection``) and through the edge's ``OriginGuard`` (origin given as an address, and
as ``localhost``, whose answer is cached), and reports the median time per connection of each and
the ratio to the plain one. The check happens once per new connection, never per request.

    python bench/origin_connect.py --connections 2000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop

from staydown.netguard import OriginAccess, OriginGuard
from staydown.netpolicy import OriginPolicy, parse_networks

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def timed(open_one: Opener, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        _reader, writer = await open_one()
        times.append(time.perf_counter() - started)
        writer.close()
    return times


async def main(count: int) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    policy = OriginPolicy(allow=parse_networks(["127.0.0.0/8"]))
    guard = OriginGuard(OriginAccess(policy, cache_seconds=3600))  # the system's resolver
    guard.serving("127.0.0.1", port + 1)  # an own endpoint to compare against, as the edge has
    cases: dict[str, Opener] = {
        "plain": lambda: asyncio.open_connection("127.0.0.1", port),
        "guarded, address": lambda: guard.open_connection("127.0.0.1", port),
        "guarded, cached name": lambda: guard.open_connection("localhost", port),
    }
    await timed(cases["plain"], 100)  # warm up
    medians = {name: statistics.median(await timed(opener, count)) for name, opener in cases.items()}
    checks = []
    for _ in range(count):
        started = time.perf_counter()
        await guard.aaddresses("127.0.0.1", port)
        checks.append(time.perf_counter() - started)
    server.close()
    print(f"{count} connections per case on loopback (uvloop)")
    for name, median in medians.items():
        print(f"  {name:22s} median {median * 1e6:7.1f} us  ({median / medians['plain']:.2f}x plain)")
    print(f"  policy check alone     median {statistics.median(checks) * 1e6:7.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    uvloop.run(main(parser.parse_args().connections))
