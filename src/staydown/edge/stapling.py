"""OCSP stapling: a handshake whose ClientHello asks for status (``status_request``) is given the
OCSP response of the certificate its SNI chose, while that response's ``nextUpdate`` is to come.

Python's ``ssl`` has no server-side status callback, so it is registered with OpenSSL directly, as
``tickets`` sets ticket keys: through the ``SSL_CTX`` of each certificate's ``ssl.SSLContext``,
reached through the interpreter's own ``_ssl`` module and used only once OpenSSL confirmed it
(``tickets._ssl_ctx``). ``SSL_CTX_set_tlsext_status_cb`` is a macro over
``SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB, cb)``; after registering, the
callback is read back (``SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB``) and must be the one given. OpenSSL
calls the callback of the context the SNI callback switched the connection to, and only when the
client asks; it finds that context with ``SSL_get_SSL_CTX`` and hands OpenSSL a copy of its staple
(``SSL_set_tlsext_status_ocsp_resp``, a macro over ``SSL_ctrl``), allocated with ``CRYPTO_malloc``
since OpenSSL frees it. Where any of this cannot be verified, the edge serves without stapling and
says why once.

The callback runs inside OpenSSL's handshake: it does a dictionary lookup, a clock read and a copy,
and lets no Python exception escape (any answers "no staple").
"""

from __future__ import annotations

import ctypes
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from staydown.edge import tickets

log = logging.getLogger("staydown.edge.tls")

SET_STATUS_CB = 63  # SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB
SET_STATUS_RESPONSE = 71  # SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP
GET_STATUS_CB = 128  # SSL_CTRL_GET_TLSEXT_STATUS_REQ_CB
OK = 0  # SSL_TLSEXT_ERR_OK: send what was set
NOACK = 3  # SSL_TLSEXT_ERR_NOACK: send no status

StatusCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


@dataclass(frozen=True, slots=True)
class Staple:
    """A DER OCSP response and the instant (seconds since the epoch) past which it is not sent."""

    der: bytes
    next_update: float


class _OpenSSL:
    """The functions of the libssl and libcrypto the ``ssl`` module uses that stapling needs."""

    def __init__(self) -> None:
        import _ssl

        library = ctypes.CDLL(_ssl.__file__)  # its symbols' lookup reaches the libssl it links
        self.callback_ctrl = library.SSL_CTX_callback_ctrl
        self.callback_ctrl.restype = ctypes.c_long
        self.callback_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, StatusCallback]
        self.ctx_ctrl = library.SSL_CTX_ctrl
        self.ctx_ctrl.restype = ctypes.c_long
        self.ctx_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        self.ctx_of = library.SSL_get_SSL_CTX
        self.ctx_of.restype = ctypes.c_void_p
        self.ctx_of.argtypes = [ctypes.c_void_p]
        self.ssl_ctrl = library.SSL_ctrl
        self.ssl_ctrl.restype = ctypes.c_long
        self.ssl_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        self.malloc = library.CRYPTO_malloc
        self.malloc.restype = ctypes.c_void_p
        self.malloc.argtypes = [ctypes.c_size_t, ctypes.c_char_p, ctypes.c_int]
        self.free = library.CRYPTO_free
        self.free.restype = None
        self.free.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]


@cache
def _openssl() -> _OpenSSL | str:
    try:
        return _OpenSSL()
    except (OSError, AttributeError, ImportError) as exc:
        return f"libssl is not reachable ({exc})"


class Stapler:
    """The staples of an edge worker's certificate contexts, and the status callback serving them."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, count: Callable[[str], None] = lambda name: None
    ) -> None:
        self.clock, self.count = clock, count
        self.staples: dict[int, Staple] = {}  # SSL_CTX pointer -> its staple
        self.pointers: dict[int, int] = {}  # id of a context -> its SSL_CTX pointer
        self.callback = StatusCallback(self._status)
        self.disabled: str | None = None  # why stapling is off, once known

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    def _disable(self, reason: str) -> None:
        if self.disabled is None:
            log.warning("OCSP stapling is off: %s", reason)
        self.disabled = reason
        self.staples.clear()
        self.pointers.clear()

    def probe(self, context: ssl.SSLContext) -> bool:
        """Check at start-up, on a context of no certificate, that the callback can be registered
        (where it cannot, stapling is off from now on, and the log says why); whether it can."""
        self.attach(context, None)
        self.detach(context)
        return self.enabled

    def attach(self, context: ssl.SSLContext, staple: Staple | None) -> bool:
        """Serve ``staple`` (None: none) on handshakes that end on ``context``; whether it will."""
        if self.disabled is not None:
            return False
        openssl = _openssl()
        if isinstance(openssl, str):
            self._disable(openssl)
            return False
        pointer = self.pointers.get(id(context))
        if pointer is None:
            confirming = tickets._openssl()
            pointer = tickets._ssl_ctx(context, confirming) if confirming is not None else None
            if pointer is None:
                self._disable("this Python's SSL context layout is not known")
                return False
            if not self._register(openssl, pointer):
                return False
            self.pointers[id(context)] = pointer
        if staple is None:
            self.staples.pop(pointer, None)
        else:
            self.staples[pointer] = staple
        return staple is not None

    def _register(self, openssl: _OpenSSL, pointer: int) -> bool:
        openssl.callback_ctrl(pointer, SET_STATUS_CB, self.callback)
        registered = ctypes.c_void_p()
        openssl.ctx_ctrl(pointer, GET_STATUS_CB, 0, ctypes.byref(registered))
        if registered.value != ctypes.cast(self.callback, ctypes.c_void_p).value:
            self._disable("OpenSSL did not take the status callback")
            return False
        return True

    def detach(self, context: ssl.SSLContext) -> None:
        """``context`` is no longer served: forget it (another context may get its address)."""
        pointer = self.pointers.pop(id(context), None)
        if pointer is not None:
            self.staples.pop(pointer, None)

    def _status(self, connection: int | None, _arg: int | None) -> int:
        try:
            openssl = _openssl()
            if isinstance(openssl, str) or not connection:
                return NOACK
            staple = self.staples.get(openssl.ctx_of(connection) or 0)
            if staple is None or self.clock() >= staple.next_update:
                return NOACK
            size = len(staple.der)
            buffer = openssl.malloc(size, b"staydown stapling", 0)
            if not buffer:
                return NOACK
            ctypes.memmove(buffer, staple.der, size)
            if not openssl.ssl_ctrl(connection, SET_STATUS_RESPONSE, size, buffer):
                openssl.free(buffer, b"staydown stapling", 0)
                return NOACK
            self.count("tls_ocsp_stapled")
            return OK
        except BaseException:  # nothing may unwind into OpenSSL's handshake
            return NOACK


def staple_of(der: bytes, leaf_serial: int) -> Staple | None:
    """The staple of a control plane's response about the certificate of ``leaf_serial``: None
    unless it is a successful response saying ``good`` for that serial, with a ``nextUpdate``."""
    from cryptography.x509 import ocsp

    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        for single in response.responses:
            if (
                single.serial_number == leaf_serial
                and single.certificate_status is ocsp.OCSPCertStatus.GOOD
                and single.next_update_utc is not None
            ):
                return Staple(der, single.next_update_utc.timestamp())
    except ValueError:
        return None
    return None
