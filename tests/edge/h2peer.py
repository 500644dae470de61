"""HTTP/2 over real sockets for the edge's tests: a test certificate, an edge worker serving HTTP/1.1
and HTTP/2 (TLS, ALPN ``h2``) from one :class:`Edge`, a client on the ``h2`` library, and a raw peer
that writes frames as an attacker would."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
)

from staydown.edge import http2
from staydown.edge.server import Edge, EdgeConfig, close, serve
from staydown.netguard import OriginAccess, OriginGuard
from staydown.netpolicy import OriginPolicy, parse_networks
from tests.edge.wire import HOST, LocalEdge

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def certificate(directory: Path, host: str = HOST) -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` and 127.0.0.1, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    context.set_alpn_protocols(["h2"])
    return context


class H2Edge(LocalEdge):
    """A :class:`LocalEdge` that also serves HTTP/2 under TLS on ``h2_port``, from the same edge."""

    def __init__(self, origin: str, directory: Path, config: EdgeConfig | None = None) -> None:
        super().__init__(origin, config)
        self.cert, key = certificate(directory)
        self.context = server_context(self.cert, key)
        self.h2_sock = socket.create_server(("127.0.0.1", 0))
        self.h2_sock.setblocking(False)
        self.h2_port = int(self.h2_sock.getsockname()[1])
        self.stopped = False

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            self.edge = Edge(self.state, self.config)
            guard = OriginGuard(OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"]))))
            guard.serving("127.0.0.1", self.port)
            self.edge.pool.guard = guard
            server = await serve(self.edge, self.sock)
            secure = await http2.serve(self.edge, self.h2_sock, context=self.context)
            self.ready.set()
            await self.stop.wait()
            secure.close()
            await close(server, self.edge)
            self.stopped = True

        uvloop.run(main())

    def shutdown(self) -> None:
        """Stop serving, as a worker does when told to stop, and wait until it has."""
        if self.loop is not None and self.stop is not None and not self.stopped:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def client(self, **kwargs: object) -> H2Client:
        return H2Client(self.h2_port, client_context(self.cert), **kwargs)  # type: ignore[arg-type]

    def raw(self) -> RawPeer:
        return RawPeer(self.h2_port, client_context(self.cert))


@dataclass
class Answer:
    """A response on one stream as the client saw it."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    interim: list[int] = field(default_factory=list)
    body: bytes = b""
    ended: bool = False
    reset: int | None = None  # the RST_STREAM error code

    @property
    def done(self) -> bool:
        return self.ended or self.reset is not None


class H2Client:
    """An HTTP/2 client on the ``h2`` library over TLS, reading on demand."""

    def __init__(
        self,
        port: int,
        context: ssl.SSLContext,
        *,
        settings: dict[int, int] | None = None,
        consume: bool = True,
        timeout: float = 10.0,
        host: str = HOST,
    ) -> None:
        self.host = host  # the server name asked for, and the :authority of requests by default
        self.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=timeout), server_hostname=host
        )
        assert self.sock.selected_alpn_protocol() == "h2"
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config=config)
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.conn.initiate_connection()
        self.consume = consume  # give back the window of what is received at once
        self.answers: dict[int, Answer] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = False
        self.flush()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send(
        self,
        path: str,
        *,
        method: str = "GET",
        fields: list[tuple[str, str]] = (),  # type: ignore[assignment]
        body: bytes | None = None,
        authority: str | None = None,
        end: bool = True,
    ) -> int:
        """Open a stream with a request; its id."""
        sid = self.conn.get_next_available_stream_id()
        head = [(":method", method), (":scheme", "https"), (":path", path)]
        head.insert(1, (":authority", authority or self.host))
        encoded = [(n.encode(), v.encode()) for n, v in [*head, *fields]]
        self.conn.send_headers(sid, encoded, end_stream=body is None and end)
        if body is not None:
            self.send_body(sid, body, end=end)
        self.answers[sid] = Answer()
        self.flush()
        return sid

    def send_body(self, sid: int, body: bytes, *, end: bool = True) -> None:
        """Send ``body`` as flow control allows (reading the connection while it waits)."""
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                self.flush()
                self.read(1.0)
                continue
            self.conn.send_data(sid, view[:window].tobytes())
            view = view[window:]
        if end:
            self.conn.end_stream(sid)
        self.flush()

    def read(self, timeout: float) -> bool:
        """Read once and handle what came; False when nothing came or the connection closed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return False
        for event in events:
            self._handle(event)
        try:
            self.flush()
        except OSError:
            self.closed = True
        return True

    def _handle(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", None)
        answer = self.answers.setdefault(sid, Answer()) if sid else None
        if isinstance(event, h2.events.ResponseReceived) and answer is not None:
            fields = {n.decode(): v.decode() for n, v in event.headers or []}
            answer.status = int(fields.pop(":status"))
            answer.headers = fields
        elif isinstance(event, h2.events.InformationalResponseReceived) and answer is not None:
            answer.interim.append(int(dict(event.headers or [])[b":status"]))
        elif isinstance(event, h2.events.DataReceived) and answer is not None:
            answer.body += event.data or b""
            if self.consume and event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, sid)  # type: ignore[arg-type]
        elif isinstance(event, h2.events.StreamEnded) and answer is not None:
            answer.ended = True
        elif isinstance(event, h2.events.StreamReset) and answer is not None:
            answer.reset = int(event.error_code or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event

    def until(self, done: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Read until ``done()`` or the connection closes or ``timeout`` passes; ``done()``."""
        deadline = time.monotonic() + timeout
        while not done() and not self.closed and time.monotonic() < deadline:
            self.read(min(0.5, max(0.01, deadline - time.monotonic())))
        return done()

    def get(self, path: str, **kwargs: object) -> Answer:
        """Send a request and read its whole response."""
        sid = self.send(path, **kwargs)  # type: ignore[arg-type]
        assert self.until(lambda: self.answers[sid].done), f"no response on stream {sid}"
        return self.answers[sid]


class RawPeer:
    """A client that writes frames itself over TLS (ALPN ``h2``), as an attacker would, and reads
    the server's frames as they come."""

    def __init__(self, port: int, context: ssl.SSLContext, *, timeout: float = 10.0) -> None:
        self.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=timeout), server_hostname=HOST
        )
        assert self.sock.selected_alpn_protocol() == "h2"
        self.encoder = Encoder()
        self.buffer = b""
        self.frames: list[Frame] = []
        self.closed = False

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def preface(self, settings: dict[int, int] | None = None) -> None:
        frame = SettingsFrame(0, settings=settings or {})
        self.write(PREFACE + frame.serialize())

    def write(self, data: bytes) -> bool:
        """Send bytes; False once the server has closed the connection."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True
            return False
        return True

    def block(self, path: str, *extra: tuple[str, str], authority: str = HOST) -> bytes:
        fields = [(":method", "GET"), (":scheme", "https"), (":authority", authority), (":path", path)]
        return bytes(self.encoder.encode([*fields, *extra]))

    def headers(self, sid: int, block: bytes, *, end_stream: bool = True, end_headers: bool = True) -> bytes:
        frame = HeadersFrame(sid, data=block)
        if end_stream:
            frame.flags.add("END_STREAM")
        if end_headers:
            frame.flags.add("END_HEADERS")
        return frame.serialize()

    @staticmethod
    def continuation(sid: int, data: bytes, *, end: bool = False) -> bytes:
        frame = ContinuationFrame(sid, data=data)
        if end:
            frame.flags.add("END_HEADERS")
        return frame.serialize()

    @staticmethod
    def data(sid: int, payload: bytes, *, end: bool = False) -> bytes:
        frame = DataFrame(sid, data=payload)
        if end:
            frame.flags.add("END_STREAM")
        return frame.serialize()

    @staticmethod
    def reset(sid: int, code: int = 8) -> bytes:
        return RstStreamFrame(sid, error_code=code).serialize()

    def read(self, timeout: float) -> bool:
        """Read once and parse the frames that came; False when nothing came or it closed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buffer += data
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                break
            frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
            self.buffer = self.buffer[9 + length :]
            self.frames.append(frame)
            if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                self.write(SettingsFrame(0, flags=["ACK"]).serialize())
        return True

    def until(self, done: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and not self.closed and time.monotonic() < deadline:
            self.read(min(0.5, max(0.01, deadline - time.monotonic())))
        return done()

    def goaway(self) -> GoAwayFrame | None:
        return next((f for f in self.frames if isinstance(f, GoAwayFrame)), None)

    def resets(self) -> dict[int, int]:
        return {f.stream_id: f.error_code for f in self.frames if isinstance(f, RstStreamFrame)}

    def closes(self, timeout: float = 10.0) -> bool:
        """Read until the server closes the connection; whether it did within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.read(0.2)
        return self.closed
