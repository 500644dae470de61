"""Obtain a certificate from an ACME directory (RFC 8555) with the ``acme`` library: the I/O shell.

The account key lives in the data directory (``acme-account.pem``, mode 0600) and the account is
registered once per directory (``new_account`` answers an existing one with its location). For each
authorization the directory asks for, the challenge chosen by ``flows.choose_challenge`` is handed
to ``publish`` (which puts it on the enforcement feed and returns once the edges serve it); only then
is the directory told to validate. ``withdraw`` runs whatever happens, so an order never leaves a
challenge answered at the edges.

TLS-ALPN-01 (RFC 8737) is answered with a self-signed certificate for the hostname carrying the
critical ``acmeIdentifier`` extension (the SHA-256 of the key authorization). The ``acme`` library
no longer models this challenge (its ``make_self_signed_cert`` is deprecated), so the certificate is
built here with ``cryptography``; the key authorization is the library's (RFC 8555 section 8.1).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from josepy.b64 import b64encode
from josepy.jwk import JWK, JWKRSA

from staydown.certificates.flows import choose_challenge

ACCOUNT_KEY_FILE = "acme-account.pem"
USER_AGENT = "staydown"
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")  # RFC 8737 section 3
ALPN_PROTOCOL = "acme-tls/1"


class OrderFailed(Exception):
    """The directory refused the order or a challenge did not validate; the message says why."""


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """What the edges must answer for one authorization (``key_pem`` only for tls-alpn-01)."""

    challenge_type: str
    hostname: str
    token: str
    key_authorization: str
    chain_pem: str | None = None
    key_pem: bytes | None = None


class _TLSALPN01Response(challenges.KeyAuthorizationChallengeResponse):
    """The response that asks the directory to validate a tls-alpn-01 challenge: ``{}`` on the wire
    (an object without fields would be sent as an empty POST-as-GET and validate nothing)."""

    typ = "tls-alpn-01"


def account_key(data_dir: Path) -> rsa.RSAPrivateKey:
    """The ACME account key kept in the data directory, made on first use (readable by its owner only)."""
    path = data_dir / ACCOUNT_KEY_FILE
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        pass
    else:
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise OrderFailed(f"{path} does not hold an RSA account key")
        return loaded
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first: use theirs
        return account_key(data_dir)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def connect(
    directory_url: str,
    *,
    key: rsa.RSAPrivateKey,
    email: str | None,
    ca_bundle: Path | None,
    timeout: float = 30,
) -> client.ClientV2:
    """A client of the directory with the account registered (or found again)."""
    network = client.ClientNetwork(
        JWKRSA(key=key),
        user_agent=USER_AGENT,
        verify_ssl=str(ca_bundle) if ca_bundle else True,  # type: ignore[arg-type]  # requests takes a path
        timeout=int(timeout),
    )
    directory = client.ClientV2.get_directory(directory_url, network)
    acme = client.ClientV2(directory, network)
    registration = messages.NewRegistration.from_data(email=email, terms_of_service_agreed=True)
    try:
        account = acme.new_account(registration)
    except errors.ConflictError as exc:  # the key has an account already: its location is its id
        account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
    network.account = account
    return acme


def new_certificate_key() -> bytes:
    """A fresh P-256 key for a certificate, as PKCS#8 PEM."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def tls_alpn_certificate(hostname: str, key_authorization: str, *, now: datetime) -> tuple[str, bytes]:
    """The RFC 8737 validation certificate and its key (PEM) for ``hostname``: self-signed, the
    hostname its only name, the critical ``acmeIdentifier`` extension holding the SHA-256 of the key
    authorization (an ASN.1 OCTET STRING)."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode("ascii")).digest()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), key_pem


def _answer(
    challb: messages.ChallengeBody, hostname: str, account: JWK
) -> tuple[ChallengeAnswer, challenges.ChallengeResponse]:
    chall = challb.chall
    if isinstance(chall, challenges.HTTP01):
        response, validation = chall.response_and_validation(account)
        return ChallengeAnswer("http-01", hostname, chall.encode("token"), validation), response
    # tls-alpn-01: the library no longer models it, but the key authorization is the same (8.1)
    token = chall.jobj.get("token") if isinstance(chall, challenges.UnrecognizedChallenge) else None
    if not isinstance(token, str):
        raise OrderFailed(f"the {_type_of(challb)} challenge for {hostname} has no token")
    key_authorization = f"{token}.{b64encode(account.thumbprint()).decode('ascii')}"
    chain_pem, key_pem = tls_alpn_certificate(hostname, key_authorization, now=datetime.now(UTC))
    answer = ChallengeAnswer("tls-alpn-01", hostname, token, key_authorization, chain_pem, key_pem)
    return answer, _TLSALPN01Response(key_authorization=key_authorization)


def _type_of(challb: messages.ChallengeBody) -> str:
    """A challenge's type, also of one the library does not model (tls-alpn-01)."""
    chall = challb.chall
    if isinstance(chall, challenges.UnrecognizedChallenge):
        return str(chall.jobj.get("type", ""))
    return str(chall.typ)


def _to_answer(
    order: messages.OrderResource, preference: Sequence[str], account: JWK
) -> list[tuple[messages.ChallengeBody, ChallengeAnswer, challenges.ChallengeResponse]]:
    pending = []
    for authz in order.authorizations:
        if authz.body.status == messages.STATUS_VALID:
            continue  # the directory reuses an earlier validation
        hostname = authz.body.identifier.value
        offered = {_type_of(c): c for c in authz.body.challenges}
        chosen = choose_challenge(list(offered), preference)
        if chosen is None:
            raise OrderFailed(f"the directory offers {sorted(offered)} for {hostname}; none is answered here")
        answer, response = _answer(offered[chosen], hostname, account)
        pending.append((offered[chosen], answer, response))
    return pending


def _finalize(acme: client.ClientV2, order: messages.OrderResource, *, timeout: float) -> str:
    # The library compares the deadline with a naive local now.
    deadline = (datetime.now(UTC) + timedelta(seconds=timeout)).astimezone().replace(tzinfo=None)
    try:
        finished = acme.poll_and_finalize(order, deadline=deadline)
    except errors.ValidationError as exc:
        details = "; ".join(
            f"{a.body.identifier.value}: {c.error.detail if c.error else c.status}"
            for a in exc.failed_authzrs
            for c in a.body.challenges
            if c.error is not None
        )
        raise OrderFailed(f"validation failed: {details or exc}") from exc
    except errors.TimeoutError as exc:
        raise OrderFailed(f"the order was not ready within {timeout:.0f} s") from exc
    except errors.Error as exc:
        raise OrderFailed(f"the order failed: {exc}") from exc
    if not finished.fullchain_pem:
        raise OrderFailed("the directory returned no certificate")
    return str(finished.fullchain_pem)


def obtain(
    acme: client.ClientV2,
    *,
    hostnames: Sequence[str],
    key_pem: bytes,
    preference: Sequence[str],
    publish: Callable[[list[ChallengeAnswer]], None],
    withdraw: Callable[[list[ChallengeAnswer]], None],
    timeout: float,
) -> str:
    """Order a certificate for ``hostnames`` with ``key_pem``; return the full chain (PEM)."""
    csr = crypto_util.make_csr(key_pem, list(hostnames))
    try:
        order = acme.new_order(csr)
    except errors.Error as exc:
        raise OrderFailed(f"the directory refused the order: {exc}") from exc
    account = acme.net.key
    if not isinstance(account, JWK):
        raise OrderFailed("the client has no account key")
    pending = _to_answer(order, preference, account)
    answers = [answer for _challb, answer, _response in pending]
    try:
        if answers:
            publish(answers)
        for challb, _answered, response in pending:
            acme.answer_challenge(challb, response)
        return _finalize(acme, order, timeout=timeout)
    finally:
        if answers:
            withdraw(answers)
