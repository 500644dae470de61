"""Previews of noticed items and stay-down copies, fetched for the desk from the zone's own origin.

The desk shows agents what an item or a copy looks like without sending their browsers to the
infringing site. That makes the control plane fetch on their behalf, so the fetch is held to
what the edge itself would do and nothing more: only the zone's registered origin, only a
canonical request target (no other host can be reached by spelling the target), asked for as
the zone's hostname, only to addresses the origin-address policy allows (``netguard``), no
redirects, no proxies from the environment, a short time limit, a byte
limit, a pixel limit (no decompression bombs), and images only. What comes back is re-encoded
as a small PNG, so no byte of the origin's response reaches the browser as it was.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from staydown.config import Settings
from staydown.fingerprints.hashing import sniff
from staydown.netguard import OriginGuard, OriginRefused
from staydown.urls import URLError, canonicalize_target


@dataclass(frozen=True, slots=True)
class PreviewLimits:
    """What one preview may cost."""

    timeout: float = 3.0
    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 40_000_000
    size: tuple[int, int] = (240, 240)


def limits_of(settings: Settings) -> PreviewLimits:
    """Previews decode no more pixels than the bank itself accepts."""
    return PreviewLimits(max_pixels=settings.staydown_max_image_pixels)


def origin_url(origin: str, hostname: str, target: str) -> str | None:
    """The URL to fetch ``target`` from ``origin``, or None if it could reach anything else.

    ``target`` must already be canonical for ``hostname`` (as stored for items and matches), and
    the result must name the origin's own scheme, host and port.
    """
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return None
    try:
        canonical = canonicalize_target(target, host=hostname)
    except URLError:
        return None
    if canonical.target != target or not target.startswith("/") or target.startswith("//"):
        return None
    url = origin.rstrip("/") + target
    fetched = urlsplit(url)
    if (fetched.scheme, fetched.netloc) != (parts.scheme, parts.netloc):
        return None
    return url


def looks_like_image(content_type: str, body: bytes) -> bool:
    """An image by its declared type and by its first bytes (a format the bank fingerprints)."""
    return content_type.lower().startswith("image/") and sniff(body) is not None


def shrink(body: bytes, limits: PreviewLimits) -> bytes | None:
    """Decode (within the pixel limit) and re-encode as a small PNG; None if it is no usable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(body))
        with opened as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                return None
            image.thumbnail(limits.size)
            out = io.BytesIO()
            image.convert("RGB").save(out, "PNG", optimize=True)
            return out.getvalue()
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None


def fetch(url: str, *, hostname: str, limits: PreviewLimits, guard: OriginGuard) -> bytes | None:
    """GET an image from an origin URL as ``hostname`` within the limits, connecting through
    ``guard`` (an origin the policy refuses is never asked); None for anything else."""
    deadline = time.monotonic() + limits.timeout
    headers = {"host": hostname, "user-agent": "staydown-desk-preview/1", "accept": "image/*"}
    try:
        with (
            guard.client(timeout=limits.timeout) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            content_type = response.headers.get("content-type", "")
            declared = response.headers.get("content-length", "")
            if response.status_code != 200 or not content_type.lower().startswith("image/"):
                return None
            if declared.isdigit() and int(declared) > limits.max_bytes:
                return None
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limits.max_bytes or time.monotonic() > deadline:
                    return None
    except (httpx.HTTPError, OriginRefused):
        return None
    return bytes(body) if looks_like_image(content_type, bytes(body[:16])) else None


def preview(
    origin: str, *, hostname: str, target: str, limits: PreviewLimits, guard: OriginGuard
) -> bytes | None:
    """Fetch ``target`` from the zone's ``origin`` as ``hostname`` and shrink it; None if not possible."""
    url = origin_url(origin, hostname, target)
    if url is None:
        return None
    body = fetch(url, hostname=hostname, limits=limits, guard=guard)
    return None if body is None else shrink(body, limits)
