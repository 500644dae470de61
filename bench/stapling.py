"""What OCSP stapling costs the edge per handshake.

    python bench/stapling.py [--handshakes 2000] [--rounds 5]

Full TLS 1.3 handshakes (ECDSA P-256, X25519) between two ``ssl`` objects over memory BIOs in one
process, so no network or event loop is measured, only OpenSSL and the edge's status callback:

- ``off``: the edge's certificate context without a status callback (stapling off);
- ``on, not asked``: with the callback and a staple, the client not asking for status (the
  callback is not called);
- ``on, stapled``: the client asks (``status_request``), the callback copies the staple
  (``CRYPTO_malloc``) and OpenSSL sends it.

Both sides run in this process, so a handshake's time includes the client's work; the difference
between the modes is the server's stapling. Modes alternate within each round; the median of the
rounds, in handshakes per second of this process's CPU time, is printed with the load average.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import ssl
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.certificates.factories import authority, cert_pem, key_pem
from tests.certificates.ocspsupport import ocsp_leaf

from staydown.edge import stapling, tickets
from staydown.edge.certs import load_chain, server_context

HOST = "bench.example"
SET_STATUS_TYPE = 65  # SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE: a client context asks for status
STATUS_OCSP = 1  # TLSEXT_STATUSTYPE_ocsp


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    s = server.wrap_bio(s_in, s_out, server_side=True)
    c = client.wrap_bio(c_in, c_out, server_hostname=HOST)
    done_c = done_s = False
    while not (done_c and done_s):
        if not done_c:
            try:
                c.do_handshake()
                done_c = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        if not done_s:
            try:
                s.do_handshake()
                done_s = True
            except ssl.SSLWantReadError:
                pass
        c_in.write(s_out.read())


def rate(server: ssl.SSLContext, client: ssl.SSLContext, count: int) -> float:
    start = time.process_time()  # this process's CPU time: other processes' load counts less
    for _ in range(count):
        handshake(server, client)
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--handshakes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    now = datetime.now(UTC)
    root = authority("Bench Root", now=now)
    issuer = authority("Bench Issuing CA", now=now, issuer=root)
    leaf = ocsp_leaf(issuer, [HOST], now=now, ocsp_url="http://ocsp.bench.example/")
    der = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf.cert,
            issuer=issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - timedelta(hours=1),
            next_update=now + timedelta(days=3),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        .sign(issuer.key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    chain = (cert_pem(leaf.cert) + cert_pem(issuer.cert)).decode()
    with tempfile.TemporaryDirectory() as tmp:
        ca_path = Path(tmp) / "root.pem"
        ca_path.write_bytes(cert_pem(root.cert))

        sent: dict[int, int] = {}

        def server(stapled: bool) -> ssl.SSLContext:
            context = server_context(["http/1.1"])
            context.options |= ssl.OP_NO_TICKET
            load_chain(context, chain, key_pem(leaf.key))
            if stapled:
                key = id(context)
                stapler = stapling.Stapler(count=lambda name: sent.__setitem__(key, sent.get(key, 0) + 1))
                assert stapler.attach(context, stapling.staple_of(der, leaf.cert.serial_number)), (
                    "stapling is off"
                )
                context._stapler = stapler  # type: ignore[attr-defined]  # kept alive with it
            return context

        def client(asks: bool) -> ssl.SSLContext:
            context = ssl.create_default_context(cafile=str(ca_path))
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            if asks:
                openssl = tickets._openssl()
                assert openssl is not None
                pointer = tickets._ssl_ctx(context, openssl)
                assert pointer is not None
                assert openssl.ctrl(pointer, SET_STATUS_TYPE, STATUS_OCSP, ctypes.c_void_p()) == 1
            return context

        modes = {
            "off": (server(False), client(True)),
            "on, not asked": (server(True), client(False)),
            "on, stapled": (server(True), client(True)),
        }
        for server_ctx, client_ctx in modes.values():
            rate(server_ctx, client_ctx, 50)  # warm
        results: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.rounds):
            for name, (server_ctx, client_ctx) in modes.items():
                results[name].append(rate(server_ctx, client_ctx, args.handshakes))
        # The callback ran for every handshake that asked, and for none that did not.
        assert id(modes["on, not asked"][0]) not in sent
        assert sent[id(modes["on, stapled"][0])] == 50 + args.rounds * args.handshakes
    load = os.getloadavg()
    print(
        f"full TLS 1.3 handshakes per CPU second, both sides in one process ({args.rounds} rounds of "
        f"{args.handshakes}, median), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}:"
    )
    base = statistics.median(results["off"])
    for name, rates in results.items():
        median = statistics.median(rates)
        print(f"  {name:15} {median:8.0f}/s  ({1e6 / median:7.1f} µs each, {median / base - 1:+.1%} vs off)")


if __name__ == "__main__":
    main()
