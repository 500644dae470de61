"""``staydown users create`` and the desk served by ``staydown up --demo``, run as processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.desk import service
from staydown.types import system_clock
from tests.test_cli import STAYDOWN, Process, run


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory migrated as a release does (`staydown db upgrade`) before users are made."""
    path = tmp_path / "data"
    path.mkdir()
    run("db", "upgrade", data_dir=path)
    return path


def _create(data_dir: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STAYDOWN, "users", "create", *args],
        input=password,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "STAYDOWN_DATABASE_URL"}
        | {"STAYDOWN_DATA_DIR": str(data_dir)},
        timeout=120,
        check=False,
    )


def test_users_create_reads_the_password_from_stdin_or_a_file(data_dir: Path) -> None:
    made = _create(data_dir, "--role", "agent", "--email", "Ann@Desk.example", password="a long passphrase\n")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["email"] == "ann@desk.example"
    secret = data_dir / "pw"
    secret.write_text("another long passphrase\n")
    from_file = run(
        "users",
        "create",
        "--role",
        "trusted_flagger",
        "--email",
        "flag@desk.example",
        "--password-file",
        str(secret),
        "--locale",
        "ja",
        data_dir=data_dir,
    )
    assert json.loads(from_file.stdout)["role"] == "trusted_flagger"
    again = _create(data_dir, "--role", "agent", "--email", "ann@desk.example", password="a long passphrase")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = _create(data_dir, "--role", "agent", "--email", "bob@desk.example", password="short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    edge = _create(data_dir, "--role", "edge", "--email", "edge@desk.example", password="a long passphrase")
    assert edge.returncode == 2 and "cannot sign in" in edge.stderr
    orphan = _create(
        data_dir, "--role", "customer", "--email", "c@desk.example", password="a long passphrase"
    )
    assert orphan.returncode == 2 and "must name its customer" in orphan.stderr
    database = Database.from_url(f"sqlite:///{data_dir / 'staydown.db'}")
    try:
        with database.transaction() as session:
            _session, token = service.sign_in_with_password(
                session,
                email="flag@desk.example",
                password="another long passphrase",
                now=system_clock(),
                limits=service.SessionLimits.of(Settings()),
            )
        with database.reader() as session:
            resolved = service.resolve(
                session, token, now=system_clock(), limits=service.SessionLimits.of(Settings())
            )
            assert resolved is not None and resolved[0].trusted and resolved[0].role.value == "submitter"
            assert resolved[0].locale == "ja"  # the desk speaks Japanese to them
            stored = session.get(service.DeskUser, resolved[0].user_id)
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
    finally:
        database.dispose()


def test_up_demo_lists_and_serves_the_desk(data_dir: Path) -> None:
    process = Process(
        "up",
        "--demo",
        "--api-port",
        "0",
        "--edge-port",
        "0",
        "--edge-tls-port",
        "0",
        "--smtp-port",
        "0",
        data_dir=data_dir,
    )
    try:
        deadline = time.monotonic() + 90
        demo_file = data_dir / "demo.json"
        while not demo_file.exists():
            assert process.proc.poll() is None, Path(process.log.name).read_text()
            assert time.monotonic() < deadline, "demo.json never appeared"
            time.sleep(0.2)
        demo = json.loads(demo_file.read_text())
        assert demo["desk"] == f"{demo['api']}/desk/"
        with httpx.Client() as browser:
            signin = browser.get(demo["desk"], follow_redirects=True)
            assert signin.status_code == 200 and "Sign in to the abuse desk" in signin.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', signin.text).group(1)  # type: ignore[union-attr]
            signed = browser.post(
                f"{demo['api']}/desk/signin/key", data={"csrf_token": token, "key": demo["keys"]["customer"]}
            )
            assert signed.status_code == 303
            zones = browser.get(f"{demo['api']}/desk/account/zones")
            assert zones.status_code == 200 and "manga.demo.test" in zones.text
            assert "photos.demo.test" not in zones.text
            css = browser.get(f"{demo['api']}/desk/static/desk.css")
            assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    finally:
        process.stop()
