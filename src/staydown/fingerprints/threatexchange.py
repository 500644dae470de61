"""PDQ hash lists in the format python-threatexchange reads and writes (its local-file exchange):
one signal a line, ``pdq <64 lowercase hex>``, or the bare hash where the list is known to be PDQ.

Hash lists are how the field shares banks (ThreatExchange, Hasher-Matcher-Actioner, NCMEC-style
lists): importing one banks hashes whose images we never see; exporting one hands our bank to
another provider. The parser reads untrusted text line by line in linear time (no regex).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from staydown.fingerprints.hashing import PDQ_BYTES, Fingerprint

SIGNAL_TYPE = "pdq"  # PdqSignal.get_name()
_HEX = frozenset("0123456789abcdef")
MAX_LINES = 1_000_000
# A shared hash carries no quality; lists hold only hashes of quality 50 or more (PdqSignal's
# QUALITY_THRESHOLD), so an imported one is trusted for near matching.
IMPORTED_QUALITY = 100


@dataclass(slots=True)
class HashList:
    hashes: list[bytes] = field(default_factory=list)  # distinct, in the list's order
    skipped: list[dict[str, object]] = field(default_factory=list)  # line, why


def parse(text: str, *, max_lines: int = MAX_LINES) -> HashList:
    """Read a hash list: ``pdq <hash>`` or ``<hash>`` lines; blank and ``#`` lines are ignored,
    another signal type's lines and malformed ones are reported, not fatal."""
    found = HashList()
    seen: set[bytes] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if number > max_lines:
            found.skipped.append({"line": number, "reason": f"more than {max_lines} lines"})
            break
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, signal = line.partition(" ")
        if not signal:
            kind, signal = SIGNAL_TYPE, kind
        signal = signal.strip().lower()
        if kind.lower() != SIGNAL_TYPE:
            found.skipped.append(
                {"line": number, "reason": f"signal type {kind[:40]!r} is not {SIGNAL_TYPE}"}
            )
        elif len(signal) != 2 * PDQ_BYTES or not _HEX.issuperset(signal):
            found.skipped.append({"line": number, "reason": "not a PDQ hash (64 hexadecimal characters)"})
        else:
            code = bytes.fromhex(signal)
            if code not in seen:
                seen.add(code)
                found.hashes.append(code)
    return found


def render(hashes: Iterable[bytes]) -> str:
    """Write a hash list, one ``pdq <hash>`` a line (each hash once)."""
    seen: set[bytes] = set()
    lines = []
    for code in hashes:
        if code not in seen:
            seen.add(code)
            lines.append(f"{SIGNAL_TYPE} {code.hex()}\n")
    return "".join(lines)


def imported(code: bytes) -> Fingerprint:
    """A bank fingerprint for a shared hash: no file (so no exact match), no local features."""
    return Fingerprint(sha256=b"", pdq=(code,), quality=IMPORTED_QUALITY, width=0, height=0, format="pdq")
