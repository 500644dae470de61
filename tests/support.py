"""Helpers tests share: a challenge-serving origin and builders for customers, zones and notices."""

from __future__ import annotations

import contextlib
import io
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from PIL import Image

from tests.conftest import Api


class ThreadedServer:
    """A stdlib HTTP server on 127.0.0.1 in a thread, started and stopped as a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class ChallengeOrigin(ThreadedServer):
    """An origin on 127.0.0.1 that serves whatever ``files`` holds and 404 otherwise."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        files, requests = self.files, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append((self.path, self.headers.get("host")))
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                payload = (body or "not found").encode()
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def customer_body(name: str = "Shop Owner", **extra: Any) -> dict[str, Any]:
    slug = name.lower().replace(" ", "-")
    return {
        "name": name,
        "email": f"{slug}@example.com",
        "address": "1 Main St, Springfield",
        "phone": "+1 555 0100",
        "organization": f"{name} Inc",
        **extra,
    }


def active_zone(
    api: Api,
    hostname: str,
    *,
    name: str | None = None,
    level: str = "identity",
    service_type: str = "caching",
    host_contact: str | None = "abuse@host.example",
    **identity: Any,
) -> dict[str, Any]:
    """Create a verified customer with an active zone over the API; return ids and a customer key.

    ``identity`` replaces fields of the customer (a distinct telephone number and address for a
    customer that must not look like one suspended earlier in the test)."""
    agent = api.as_("agent")
    customer = agent.post(
        "/v1/customers", json=customer_body(name or hostname.split(".", maxsplit=1)[0], **identity)
    ).json()
    r = agent.post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": level, "reason": "passport and utility bill checked"},
    )
    assert r.status_code == 200, r.text
    with ChallengeOrigin() as origin:
        zone = agent.post(
            "/v1/zones",
            json={
                "customer_id": customer["id"],
                "hostname": hostname,
                "origin": origin.url,
                "host_contact": host_contact,
                "service_type": service_type,
            },
        ).json()
        origin.files[zone["challenge"]["http_path"]] = zone["challenge"]["token"]
        validated = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
    assert validated["status"] == "active", validated
    key = (
        api.as_("admin")
        .post("/v1/keys", json={"role": "customer", "customer_id": customer["id"]})
        .json()["key"]
    )
    return {"customer_id": customer["id"], "zone_id": zone["id"], "key": key, "hostname": hostname}


def notice_body(urls: list[str], *, regime: str = "dmca", **overrides: Any) -> dict[str, Any]:
    """A complete notice for ``urls`` under ``regime``; ``overrides`` replace top-level fields."""
    body: dict[str, Any] = {
        "regime": regime,
        "submitter": {
            "name": "Rights Agent",
            "email": "agent@rights.example",
            "address": "2-1 Otemachi, Tokyo",
            "phone": "+81 3 1111 2222",
            "organization": "Rights Agency",
            "on_behalf_of": "Manga Publisher",
        },
        "works": [
            {"description": "Demo Manga, volume 1", "reference_urls": ["https://publisher.example/vol1"]}
        ],
        "items": [{"url": url, "work": 0} for url in urls],
        "explanation": "Unauthorised copies of the publisher's manga pages.",
        "statements": {"good_faith": True, "accurate": True, "authorized": True},
        "signature": "Rights Agent",
    }
    body.update(overrides)
    return body


def image_bytes(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    """Encode a test image; JPEG and WebP from RGB, other formats in the image's own mode."""
    out = io.BytesIO()
    (image.convert("RGB") if fmt in ("JPEG", "WEBP") else image).save(out, fmt, **options)
    return out.getvalue()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    return image_bytes(image, "JPEG", quality=quality)


class Overran(Exception):
    """A call guarded by :func:`hard_timeout` ran past its bound."""


@contextlib.contextmanager
def hard_timeout(seconds: float) -> Iterator[None]:
    """Interrupt the block with ``Overran`` after ``seconds`` of wall time (main thread, POSIX).

    A guard against super-linear parsing, not a benchmark: the bound is generous for linear work
    and far below what exponential backtracking takes on the inputs the tests feed.
    """

    def interrupt(_signum: int, _frame: object) -> None:
        raise Overran(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
