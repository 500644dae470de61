"""A private Dovecot IMAP server for tests: its own configuration in a temporary directory, IMAPS on
a free 127.0.0.1 port with a self-signed certificate, one passwd-file user, Maildir storage."""

from __future__ import annotations

import datetime
import getpass
import grp
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "abuse", "s3cret-imap"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
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
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class Dovecot:
    """``with Dovecot(tmp) as server:`` runs dovecot in the foreground until the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.maildir = directory / "mail" / USER
        self.cert, self.key = self_signed(directory)
        self.proc: subprocess.Popen[bytes] | None = None
        # Dovecot never keeps mail as root: as root, the mail belongs to its own unprivileged user.
        if os.getuid() == 0:
            entry = pwd.getpwnam("dovecot" if _exists("dovecot") else "nobody")
            self.owner = (entry.pw_uid, entry.pw_gid)
        else:
            self.owner = (os.getuid(), os.getgid())

    @staticmethod
    def available() -> str | None:
        if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
            return "dovecot is not installed (apt-get install dovecot-imapd)"
        return None

    def _config(self) -> Path:
        d = self.directory
        user = getpass.getuser()
        group = grp.getgrgid(os.getgid()).gr_name
        login_user = "dovenull" if os.getuid() == 0 and _exists("dovenull") else user
        uid, gid = self.owner
        (d / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{d}/home/{USER}::\n")
        config = f"""
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
default_login_user = {login_user}
default_internal_user = {user}
default_internal_group = {group}
mail_location = maildir:{d}/mail/%u
first_valid_uid = 0
auth_mechanisms = plain
disable_plaintext_auth = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_plugins =
}}
"""
        path = d / "dovecot.conf"
        path.write_text(config)
        return path

    def __enter__(self) -> Dovecot:
        config = self._config()
        for sub in ("run", "state", f"home/{USER}", f"mail/{USER}"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.directory / "home", self.directory / "mail"):
            self._own(path)
        self.directory.chmod(0o755)
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.directory / "dovecot.log"
                    self.__exit__()
                    text = log.read_text() if log.exists() else "(no log)"
                    raise RuntimeError(f"dovecot did not start: {text}") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def deliver(self, raw: bytes, folder: str = "", *, at: float | None = None) -> None:
        """Put a message in the user's Maildir (INBOX, or ``folder``) as a delivery agent would;
        ``at``: when it was delivered (a Maildir file's time is the message's IMAP INTERNALDATE)."""
        base = self.maildir / (f".{folder}" if folder else "")
        for sub in ("tmp", "new", "cur"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.{os.getpid()}.test"
        (base / "tmp" / name).write_bytes(raw)
        if at is not None:
            os.utime(base / "tmp" / name, (at, at))
        (base / "tmp" / name).rename(base / "new" / name)
        self._own(self.maildir)

    def _own(self, top: Path) -> None:
        if os.getuid() != 0:
            return
        for path in [top, *top.rglob("*")]:
            os.chown(path, *self.owner)

    def count(self, folder: str = "") -> int:
        base = self.maildir / (f".{folder}" if folder else "")
        return sum(len(list((base / sub).glob("*"))) for sub in ("new", "cur") if (base / sub).exists())


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True
