"""Session ticket keys shared by an edge's workers, so that a ticket one worker issued resumes the
session on any other (the workers share the HTTPS port, and a client's next connection lands on
whichever the kernel picks).

Each worker derives the key of the current period from a secret the supervisor draws once at start
(``EdgeOptions.ticket_secret``, never written anywhere) with HKDF, so that the workers agree
without talking; a new period brings a new key, bounding how long a ticket key could reveal the
sessions it protects. Python's ``ssl`` has no API for ticket keys: the key is given to OpenSSL with
``SSL_CTX_ctrl(SSL_CTRL_SET_TLSEXT_TICKET_KEYS)``, reaching the context's ``SSL_CTX`` through the
interpreter's own ``_ssl`` module. That pointer is used only after it proved to be the context's
(OpenSSL reads back the options the context reports); where it does not, or the call fails, each
worker keeps its own random key, as before, and a resumption works only on the worker that issued it.
"""

from __future__ import annotations

import ctypes
import logging
import ssl
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("staydown.edge.tls")

TICKET_KEYS_SIZE = 80  # OpenSSL's ticket keys: a 16-byte name, a 32-byte HMAC key, a 32-byte AES key
TICKET_PERIOD = 3600  # seconds one derived key is used for; the next period's replaces it
_SET_TICKET_KEYS = 59  # SSL_CTRL_SET_TLSEXT_TICKET_KEYS
_GET_TICKET_KEYS = 58  # SSL_CTRL_GET_TLSEXT_TICKET_KEYS


def period_of(now: float) -> int:
    """The ticket key period ``now`` (seconds since the epoch) falls in."""
    return int(now // TICKET_PERIOD)


def ticket_keys(secret: bytes, period: int) -> bytes:
    """The ticket keys of ``period``: the same in every worker given the same ``secret``."""
    if len(secret) < 16:
        raise ValueError("a ticket secret has at least 16 bytes")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=TICKET_KEYS_SIZE,
        salt=None,
        info=b"staydown edge session tickets " + str(period).encode("ascii"),
    )
    return hkdf.derive(secret)


class _OpenSSL:
    """``SSL_CTX_ctrl`` and ``SSL_CTX_get_options`` of the libssl the ``ssl`` module uses."""

    def __init__(self) -> None:
        import _ssl

        library = ctypes.CDLL(_ssl.__file__)  # its symbols' lookup reaches the libssl it links
        self.ctrl = library.SSL_CTX_ctrl
        self.ctrl.restype = ctypes.c_long
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        self.options = library.SSL_CTX_get_options
        self.options.restype = ctypes.c_uint64
        self.options.argtypes = [ctypes.c_void_p]


@cache
def _openssl() -> _OpenSSL | None:
    try:
        return _OpenSSL()
    except (OSError, AttributeError, ImportError) as exc:
        log.warning("session tickets stay per worker: libssl is not reachable (%s)", exc)
        return None


def _ssl_ctx(context: ssl.SSLContext, openssl: _OpenSSL) -> int | None:
    """The ``SSL_CTX *`` of ``context``: the first field after the object's header in CPython's
    ``PySSLContext``; None unless OpenSSL confirms it (a context with other options set reads back
    the same options through it, twice, so a stray match is ruled out)."""
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        return None
    before = context.options
    for probe in (ssl.OP_NO_TICKET, 0):
        context.options = (before & ~ssl.OP_NO_TICKET) | probe
        if openssl.options(pointer) != int(context.options):
            context.options = before
            return None
    context.options = before
    return int(pointer)


def share_tickets(context: ssl.SSLContext, keys: bytes) -> bool:
    """Make ``context`` issue and accept session tickets under ``keys``; whether it took them."""
    if len(keys) != TICKET_KEYS_SIZE:
        raise ValueError(f"ticket keys are {TICKET_KEYS_SIZE} bytes")
    openssl = _openssl()
    if openssl is None:
        return False
    pointer = _ssl_ctx(context, openssl)
    if pointer is None:
        log.warning("session tickets stay per worker: this Python's SSL context layout is not known")
        return False
    buffer = ctypes.create_string_buffer(keys, TICKET_KEYS_SIZE)
    return bool(openssl.ctrl(pointer, _SET_TICKET_KEYS, TICKET_KEYS_SIZE, buffer))


def current_keys(context: ssl.SSLContext) -> bytes | None:
    """The ticket keys ``context`` uses (for tests and diagnostics); None where unreachable."""
    openssl = _openssl()
    pointer = _ssl_ctx(context, openssl) if openssl is not None else None
    if openssl is None or pointer is None:
        return None
    buffer = ctypes.create_string_buffer(TICKET_KEYS_SIZE)
    if not openssl.ctrl(pointer, _GET_TICKET_KEYS, TICKET_KEYS_SIZE, buffer):
        return None
    return buffer.raw


class TicketKeys:
    """Keeps a context's ticket keys those of the current period."""

    def __init__(self, context: ssl.SSLContext, secret: bytes | None) -> None:
        self.context, self.secret = context, secret
        self.period: int | None = None
        self.shared = False

    def refresh(self, now: float) -> None:
        """Install the keys of ``now``'s period, if not yet done (cheap when they are)."""
        if self.secret is None:
            return
        period = period_of(now)
        if period == self.period:
            return
        self.period = period
        self.shared = share_tickets(self.context, ticket_keys(self.secret, period))
        if not self.shared:
            self.secret = None  # not possible here: leave OpenSSL's own per-worker keys
