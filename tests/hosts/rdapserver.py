"""A small RDAP server on 127.0.0.1 answering IP network queries (RFC 9082 ``/ip/<address>``) with
RFC 9083 JSON written after the RFC's own examples (section 5.4, an IP network; section 5.1, an
entity), and misbehaving on demand: slow, garbage, huge, redirecting."""

from __future__ import annotations

import copy
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support import ThreadedServer

ABUSE_EMAIL = "abuse@hosting.example"

# RFC 9083 section 5.1 (entity), as a registry lists the holder's abuse desk under the holder.
ABUSE_ENTITY: dict[str, Any] = {
    "objectClassName": "entity",
    "handle": "ABUSE-XXXX",
    "vcardArray": [
        "vcard",
        [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", "Abuse Desk"],
            ["kind", {}, "text", "group"],
            ["tel", {"type": ["work", "voice"], "pref": "1"}, "uri", "tel:+1-555-555-1234;ext=102"],
            ["email", {"type": "work"}, "text", ABUSE_EMAIL],
        ],
    ],
    "roles": ["abuse"],
    "events": [{"eventAction": "last changed", "eventDate": "1991-12-31T23:59:59Z"}],
}

# RFC 9083 section 5.4 (IP network), with its registrant "Joe User" of "Example".
NETWORK: dict[str, Any] = {
    "rdapConformance": ["rdap_level_0"],
    "objectClassName": "ip network",
    "handle": "XXXX-RIR",
    "startAddress": "127.0.0.0",
    "endAddress": "127.255.255.255",
    "ipVersion": "v4",
    "name": "NET-RTR-1",
    "type": "DIRECT ALLOCATION",
    "country": "AU",
    "parentHandle": "YYYY-RIR",
    "status": ["active"],
    "remarks": [
        {
            "description": [
                "She sells sea shells down by the sea shore.",
                "Originally written by Terry Sullivan.",
            ]
        }
    ],
    "links": [
        {
            "value": "https://example.net/ip/2001:db8::/48",
            "rel": "self",
            "href": "https://example.net/ip/2001:db8::/48",
            "type": "application/rdap+json",
        }
    ],
    "events": [
        {"eventAction": "registration", "eventDate": "1990-12-31T23:59:59Z"},
        {"eventAction": "last changed", "eventDate": "1991-12-31T23:59:59Z"},
    ],
    "entities": [
        {
            "objectClassName": "entity",
            "handle": "XXXX",
            "vcardArray": [
                "vcard",
                [
                    ["version", {}, "text", "4.0"],
                    ["fn", {}, "text", "Example Hosting"],
                    ["kind", {}, "text", "org"],
                    ["org", {"type": "work"}, "text", "Example"],
                    [
                        "adr",
                        {"type": "work"},
                        "text",
                        ["", "Suite 1234", "4321 Rue Somewhere", "Quebec", "QC", "G1V 2M2", "Canada"],
                    ],
                    ["email", {"type": "work"}, "text", "joe.user@example.com"],
                ],
            ],
            "roles": ["registrant"],
            "entities": [ABUSE_ENTITY],
            "events": [{"eventAction": "registration", "eventDate": "1990-12-31T23:59:59Z"}],
        }
    ],
}


class RdapServer(ThreadedServer):
    """Serves ``/ip/<address>``; ``mode`` picks how: ``ok``, ``no_abuse``, ``slow``, ``garbage``,
    ``huge``, ``redirect`` (to ``redirect_to``), ``loop`` (redirects to itself), ``missing`` (404)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.redirect_to = ""
        self.max_age: int | None = 3600
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(self.path)
                mode = server.mode
                if mode in ("redirect", "loop") and not self.path.startswith("/final/"):
                    self.send_response(302)
                    target = server.redirect_to if mode == "redirect" else self.path
                    self.send_header("location", target)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if mode == "missing":
                    self._send(404, b'{"errorCode": 404, "title": "Not Found"}')
                    return
                if mode == "slow":
                    time.sleep(3)
                if mode == "garbage":
                    self._send(200, b"<html>this is not rdap</html>")
                    return
                if mode == "huge":
                    self.send_response(200)
                    self.send_header("content-type", "application/rdap+json")
                    self.end_headers()  # no length: streamed until the client gives up
                    try:
                        for _ in range(400):
                            self.wfile.write(b" " * 65536)
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                document = copy.deepcopy(NETWORK)
                if mode == "no_abuse":
                    del document["entities"][0]["entities"]
                self._send(200, json.dumps(document).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/rdap+json")
                if server.max_age is not None:
                    self.send_header("cache-control", f"max-age={server.max_age}")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the client gave up (a slow answer)
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
