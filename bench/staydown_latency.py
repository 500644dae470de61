"""Latency and memory of the image verdict, the purge scan and the hash bank.

    python bench/staydown_latency.py [--bank 1000000] [--cached 1000000] [--big-bank 10000000]

(a) The verdict added to a cache miss of a 1000x1400 JPEG: decode (JPEG draft mode) + PDQ of the
    raw and trimmed image + SHA-256 + one search of its hashes within the automatic-block radius (31)
    in a bank of --bank hashes, as the edge decides before serving (the review band, up to 48, is
    searched after the copy is served). Target: median <= 10 ms.
(b) A new bank hash arrives at an edge: the vectorised popcount over --cached stored fingerprints
    that finds the cached copies to purge. Target: <= 100 ms.
(c) A bank of --big-bank hashes: one query hash at radius 31, and the RSS the index added.
    Targets: <= 10 ms, <= 400 MB. Also the time to remove one id (compaction) is printed.
Each query runs on one thread; the verdict also prints its CPU time, which a busy machine does
not inflate. The index scans the first half of every code (128 bits) and reads the second half only
for rows within the radius on the first, so as a reference measured in the same run it prints how
long NumPy takes to sum as many bytes as that first stage reads. The bank holds random hashes: the
first stage reads every row whatever they are; a real bank with many near-identical hashes sends
more rows to the second stage (the tests compare every answer with a full popcount).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import io
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from staydown.demo.pages import render_page
from staydown.fingerprints.hashing import fingerprint
from staydown.fingerprints.index import FaissHashIndex, Thresholds, matches_within

CHUNK = 1_000_000
BIG_BANK_SEED = 3  # the 10M bank and the plain scan it is compared with hold the same codes


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def release_freed_heap() -> None:
    """Hand memory the allocator holds but nobody uses back to the OS (the hash generator's freed
    temporaries), so that RSS growth counts what the index keeps."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms  (n={len(ordered)})"


def random_codes(count: int, seed: int) -> Iterator[npt.NDArray[np.uint8]]:
    """``count`` random 256-bit codes from ``seed``, a million rows at a time."""
    generator = np.random.default_rng(seed)
    done = 0
    while done < count:
        size = min(CHUNK, count - done)
        yield generator.integers(0, 256, (size, 32), dtype=np.uint8)
        done += size


def fill(index: FaissHashIndex, count: int, seed: int) -> None:
    """Add ``count`` random hashes, eight per id as references have, a million at a time."""
    done = 0
    for codes in random_codes(count, seed):
        data = codes.tobytes()
        hashes = [data[i * 32 : (i + 1) * 32] for i in range(len(codes))]
        index.add([(done + i) // 8 for i in range(len(codes))], hashes)
        done += len(codes)
        del codes, data, hashes


def verdict(args: argparse.Namespace) -> None:
    thresholds = Thresholds()
    index = FaissHashIndex()
    fill(index, args.bank, seed=1)
    pages = []
    for seed in range(8):
        buffer = io.BytesIO()
        render_page(seed).convert("RGB").save(buffer, "JPEG", quality=85)
        pages.append(buffer.getvalue())
    print(f"(a) verdict on a 1000x1400 JPEG ({len(pages[0]) // 1024} KB), bank of {len(index):,} hashes")

    def run(page: bytes) -> None:
        result = fingerprint(page)
        index.search(list(result.pdq), radius=thresholds.auto_block)

    for page in pages:  # warm up
        run(page)
    parts: dict[str, list[float]] = {
        "decode+PDQ+SHA-256": [],
        "search": [],
        "total": [],
        "total, CPU time": [],
    }
    for round_ in range(args.repeat):
        page = pages[round_ % len(pages)]
        cpu = time.thread_time()
        start = time.perf_counter()
        result = fingerprint(page)
        middle = time.perf_counter()
        index.search(list(result.pdq), radius=thresholds.auto_block)
        end = time.perf_counter()
        parts["total, CPU time"].append((time.thread_time() - cpu) * 1000)
        parts["decode+PDQ+SHA-256"].append((middle - start) * 1000)
        parts["search"].append((end - middle) * 1000)
        parts["total"].append((end - start) * 1000)
    sha = timed(lambda: hashlib.sha256(pages[0]).digest(), 200)
    print(f"    SHA-256 alone        {summary(sha)}")
    for name, samples in parts.items():
        print(f"    {name:20} {summary(samples)}")
    median = statistics.median(parts["total"])
    print(f"    target median <= 10 ms: {'met' if median <= 10 else 'MISSED'} ({median:.2f} ms)")


def purge(args: argparse.Namespace) -> None:
    generator = np.random.default_rng(2)
    stored = generator.integers(0, 256, (args.cached, 32), dtype=np.uint8)
    probes = [generator.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(10)]
    stored[12345] = np.frombuffer(probes[0], dtype=np.uint8)
    assert 12345 in matches_within(stored, probes[0], radius=31)
    samples = [t for probe in probes for t in timed(lambda p=probe: matches_within(stored, p, radius=31), 5)]
    print(f"(b) purge scan over {args.cached:,} cached fingerprints: {summary(samples)}")
    print(f"    target <= 100 ms: {'met' if max(samples) <= 100 else 'MISSED'} (max {max(samples):.2f} ms)")


def sum_time(nbytes: int) -> float:
    """Milliseconds NumPy takes to sum ``nbytes`` of float64 on one thread: a reference for what
    reading the bank once costs on this machine, measured in the same run."""
    block = np.ones(nbytes // 8, dtype=np.float64)
    block.sum()  # fault the pages in
    return min(timed(block.sum, 5))


def plain_flat(count: int, probes: list[bytes]) -> float:
    """Median milliseconds of a radius-31 query in a plain ``IndexBinaryFlat`` over whole 256-bit
    codes (the same random codes as the index's), on one thread: the single-stage scan the index
    replaces, measured in the same run."""
    import faiss

    plain = faiss.IndexBinaryFlat(256)
    for codes in random_codes(count, BIG_BANK_SEED):
        plain.add(codes)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        queries = [np.frombuffer(probe, dtype=np.uint8).reshape(1, 32) for probe in probes]
        samples = [
            t for query in queries for t in timed(lambda q=query, flat=plain: flat.range_search(q, 32), 1)
        ]
    finally:
        faiss.omp_set_num_threads(threads)
    del plain
    release_freed_heap()
    return statistics.median(samples)


def big_bank(args: argparse.Namespace) -> None:
    release_freed_heap()
    before = rss_bytes()
    index = FaissHashIndex()
    start = time.perf_counter()
    fill(index, args.big_bank, seed=BIG_BANK_SEED)
    built = time.perf_counter() - start
    held = rss_bytes() - before
    release_freed_heap()
    grown = rss_bytes() - before
    generator = np.random.default_rng(4)
    probes = [generator.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(args.repeat // 4)]
    one = [t for probe in probes for t in timed(lambda p=probe: index.search([p], radius=31), 1)]
    cpu = time.thread_time()
    for probe in probes:
        index.search([probe], radius=31)
    cpu_each = (time.thread_time() - cpu) * 1000 / len(probes)
    two = [t for probe in probes for t in timed(lambda p=probe: index.search([p, p[::-1]], radius=31), 1)]
    plain = plain_flat(args.big_bank, probes)
    removal = timed(lambda: index.remove([len(index) // 16]), 1)
    print(f"(c) bank of {args.big_bank:,} hashes, built in {built:.1f} s")
    print(f"    one query hash, radius 31:  {summary(one)}; CPU time {cpu_each:.2f} ms per query")
    print(f"    two query hashes (raw and trimmed): {summary(two)}")
    print(
        f"    RSS added by the index: {grown / 1e6:.0f} MB ({grown / 2**20:.0f} MiB); "
        f"{held / 1e6:.0f} MB before the generator's freed temporaries went back to the OS"
    )
    print(
        f"    reference: one FAISS IndexBinaryFlat over all 256 bits of the same codes, one thread: "
        f"median {plain:.2f} ms; the index takes {statistics.median(one) / plain:.2f}x that"
    )
    print(f"    removing one id (compaction): {removal[0]:.0f} ms")
    median = statistics.median(one)
    print(
        f"    targets <= 10 ms and <= 400 MB: {'met' if median <= 10 and grown <= 400e6 else 'MISSED'} "
        f"({median:.2f} ms, {grown / 1e6:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bank", type=int, default=1_000_000)
    parser.add_argument("--cached", type=int, default=1_000_000)
    parser.add_argument("--big-bank", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=400)
    args = parser.parse_args()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (wall times include waiting for a CPU)")
    big_bank(args)  # first, so the RSS it measures is not mixed with the other parts' arrays
    reference = sum_time(args.big_bank * 16)
    print(
        f"    reference: NumPy sums {args.big_bank * 16 / 1e6:.0f} MB (the first halves of the bank's "
        f"codes, what a query reads) in {reference:.1f} ms on one thread here"
    )
    verdict(args)
    purge(args)


if __name__ == "__main__":
    main()
