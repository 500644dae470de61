"""An authoritative UDP DNS server on 127.0.0.1 for tests (dnspython does the wire format).

Addresses are answered with a TTL of ``address_ttl`` (0 unless a test sets it), so a test that
changes one sees the change at once."""

from __future__ import annotations

import socket
import threading
from collections import defaultdict

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LocalDnsServer:
    """Answers TXT queries from ``records`` and A/AAAA queries from ``addresses``; NXDOMAIN for
    names it holds neither for."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = defaultdict(list)
        self.addresses: dict[str, list[str]] = defaultdict(list)
        self.address_ttl = 0
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.nameserver = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def add_txt(self, name: str, value: str) -> None:
        self.records[name.rstrip(".").lower()].append(value)

    def set_addresses(self, name: str, *addresses: str) -> None:
        """Answer ``name`` with ``addresses`` (IPv4 as A, IPv6 as AAAA) from now on."""
        self.addresses[name.rstrip(".").lower()] = list(addresses)

    def remove(self, name: str) -> None:
        self.records.pop(name.rstrip(".").lower(), None)
        self.addresses.pop(name.rstrip(".").lower(), None)

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        values = self.records.get(name)
        addresses = self.addresses.get(name)
        if not values and not addresses:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and values:
            quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", *quoted))
        elif question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and addresses:
            kind = "A" if question.rdtype == dns.rdatatype.A else "AAAA"
            wanted = [a for a in addresses if (":" in a) == (kind == "AAAA")]
            if wanted:
                response.answer.append(
                    dns.rrset.from_text(question.name, self.address_ttl, "IN", kind, *wanted)
                )
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.sock.sendto(self._answer(wire), peer)

    def __enter__(self) -> LocalDnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
