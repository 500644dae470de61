"""The CLI as a user runs it: separate processes, real ports on 127.0.0.1, a crash in the middle."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from tests.processes import free_port
from tests.support import notice_body

STAYDOWN = [sys.executable, "-m", "staydown.cli"]


def run(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir)}
    env.pop("STAYDOWN_DATABASE_URL", None)
    result = subprocess.run(
        [*STAYDOWN, *args], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


class Process:
    def __init__(self, *args: str, data_dir: Path) -> None:
        env = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir)}
        env.pop("STAYDOWN_DATABASE_URL", None)
        self.log = (data_dir / f"{args[0]}.log").open("w")
        self.proc = subprocess.Popen([*STAYDOWN, *args], stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait_http(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"{url} did not come up: {Path(self.log.name).read_text()}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def test_db_keys_audit_commands(data_dir: Path) -> None:
    run("db", "upgrade", data_dir=data_dir)
    key = run(
        "keys", "create", "--role", "trusted_flagger", "--name", "flagger", data_dir=data_dir
    ).stdout.strip()
    assert key.startswith("sd_")
    bad = run("keys", "create", "--role", "wizard", data_dir=data_dir, check=False)
    assert bad.returncode == 2 and "unknown role" in bad.stderr
    verified = json.loads(run("audit", "verify", data_dir=data_dir).stdout)
    assert verified == {"ok": True, "entries": 1, "first_bad": None, "reason": None}
    db = sqlite3.connect(data_dir / "staydown.db")
    db.execute("UPDATE audit_entries SET action = 'key.deleted' WHERE seq = 1")
    db.commit()
    db.close()
    broken = run("audit", "verify", data_dir=data_dir, check=False)
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["first_bad"] == 1


def test_bad_configuration_is_refused_with_its_name(data_dir: Path) -> None:
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir), "STAYDOWN_ACTION_DEADLINE_HOURS": "soon"}
    result = subprocess.run(
        [*STAYDOWN, "db", "upgrade"], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "action_deadline_hours" in result.stderr


def test_a_bad_origin_allowance_is_refused_with_its_name(data_dir: Path) -> None:
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(data_dir), "STAYDOWN_ORIGIN_ALLOW": "10.0.0.0/8,10.0.0.1/8"}
    result = subprocess.run(
        [*STAYDOWN, "api", "--port", "0"], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "origin_allow" in result.stderr and "10.0.0.1/8" in result.stderr


@pytest.fixture
def api_process(data_dir: Path) -> Iterator[tuple[str, Process]]:
    run("db", "upgrade", data_dir=data_dir)
    port = free_port()
    process = Process("api", "--port", str(port), data_dir=data_dir)
    url = f"http://127.0.0.1:{port}"
    process.wait_http(url)
    yield url, process
    process.stop()


def test_keys_create_names_a_customer_that_does_not_exist(data_dir: Path) -> None:
    run("db", "upgrade", data_dir=data_dir)
    for customer_id in ("99999999999999999999", "3000000000", "42"):
        result = run(
            "keys",
            "create",
            "--role",
            "customer",
            "--customer-id",
            customer_id,
            data_dir=data_dir,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert f"customer {customer_id} does not exist" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert json.loads(run("keys", "list", data_dir=data_dir).stdout) == []


def test_keys_list_and_revoke_refuse_a_revoked_key_at_once(
    data_dir: Path, api_process: tuple[str, Process]
) -> None:
    url, _process = api_process
    admin = run("keys", "create", "--role", "admin", "--name", "ops", data_dir=data_dir).stdout.strip()
    edge = run("keys", "create", "--role", "edge", "--name", "edge-1", data_dir=data_dir).stdout.strip()
    listed = {k["name"]: k for k in json.loads(run("keys", "list", data_dir=data_dir).stdout)}
    assert {name: (k["role"], k["revoked_at"]) for name, k in listed.items()} == {
        "ops": ("admin", None),
        "edge-1": ("edge", None),
    }
    assert listed["edge-1"]["prefix"] == edge[:10]
    assert edge not in json.dumps(listed) and admin not in json.dumps(listed)
    edge_id = str(listed["edge-1"]["id"])
    feed = f"{url}/v1/edge/feed"
    assert httpx.get(feed, headers={"authorization": f"Bearer {edge}"}).status_code == 200

    revoked = run("keys", "revoke", edge_id, data_dir=data_dir)
    assert f"revoked key {edge_id}" in revoked.stderr
    revoked_at = json.loads(revoked.stdout)["revoked_at"]
    assert revoked_at is not None
    assert httpx.get(feed, headers={"authorization": f"Bearer {edge}"}).status_code == 401
    http_listed = httpx.get(f"{url}/v1/keys", headers={"authorization": f"Bearer {admin}"}).json()
    assert {k["name"]: k["revoked_at"] is not None for k in http_listed} == {
        "ops": False,
        "edge-1": True,
    }

    again = run("keys", "revoke", edge_id, data_dir=data_dir)
    assert "already revoked" in again.stderr
    assert json.loads(again.stdout)["revoked_at"] == revoked_at
    for unknown in ("77", "99999999999999999999"):
        missing = run("keys", "revoke", unknown, data_dir=data_dir, check=False)
        assert missing.returncode == 2 and f"key {unknown} does not exist" in missing.stderr
        assert "Traceback" not in missing.stderr

    assert json.loads(run("audit", "verify", data_dir=data_dir).stdout)["ok"] is True
    db = sqlite3.connect(data_dir / "staydown.db")
    revocations = db.execute(
        "SELECT actor, entity_type, entity_id FROM audit_entries WHERE action = 'key.revoked'"
    ).fetchall()
    db.close()
    assert revocations == [("cli", "api_key", edge_id)]


def test_report_transparency_to_the_last_day_of_9999(data_dir: Path) -> None:
    run("db", "upgrade", data_dir=data_dir)
    report = run("report", "transparency", "--from", "9999-01-01", "--to", "9999-12-31", data_dir=data_dir)
    assert json.loads(report.stdout)["period_to"] == "9999-12-31T23:59:59.999999Z"
    html = run(
        "report", "transparency", "--from", "9998-01-01", "--to", "9999-12-31", "--format", "html",
        data_dir=data_dir,
    )  # fmt: skip
    assert "9998-01-01 to 9999-12-31" in html.stdout
    whole = run(
        "report", "transparency", "--from", "0001-01-01", "--to", "9999-12-31", data_dir=data_dir, check=False
    )
    assert whole.returncode == 2
    assert "a report covers at most three years" in whole.stderr and "Traceback" not in whole.stderr
    shifted = run(
        "report", "transparency", "--from", "9999-12-31T23:00:00-05:00", "--to", "9999-12-31",
        data_dir=data_dir, check=False,
    )  # fmt: skip
    assert shifted.returncode == 2 and "outside the years 1 to 9999" in shifted.stderr


def test_acknowledged_notice_survives_a_crash(data_dir: Path, api_process: tuple[str, Process]) -> None:
    url, process = api_process
    key = run("keys", "create", "--role", "submitter", data_dir=data_dir).stdout.strip()
    r = httpx.post(
        f"{url}/v1/notices", json=notice_body(["http://x.test/a"]), headers={"authorization": f"Bearer {key}"}
    )
    assert r.status_code == 201
    process.stop(signal.SIGKILL)
    again = Process("api", "--port", str(free_port()), data_dir=data_dir)
    try:
        new_url = f"http://127.0.0.1:{again.proc.args[-1]}"
        again.wait_http(new_url)
        stored = httpx.get(
            f"{new_url}/v1/notices/{r.json()['id']}", headers={"authorization": f"Bearer {key}"}
        )
        assert stored.status_code == 200
        assert stored.json()["items"][0]["canonical_url"] == "http://x.test/a"
    finally:
        again.stop()


def test_up_demo_serves_the_contract(data_dir: Path) -> None:
    process = Process(
        "up", "--demo", "--api-port", "0", "--edge-port", "0", "--edge-workers", "2",
        "--edge-tls-port", "0", "--smtp-port", "0", data_dir=data_dir,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        demo_file = data_dir / "demo.json"
        while not demo_file.exists():
            assert process.proc.poll() is None, Path(process.log.name).read_text()
            assert time.monotonic() < deadline, "demo.json never appeared"
            time.sleep(0.2)
        demo = json.loads(demo_file.read_text())
        assert set(demo["keys"]) == {
            "admin",
            "agent",
            "legal",
            "submitter",
            "trusted_flagger",
            "customer",
            "edge",
        }
        assert set(demo["zones"]) == {"manga.demo.test", "photos.demo.test"}
        # HTTPS beside it: a name it holds no certificate for is refused a handshake, never given one.
        assert demo["edge_tls"].startswith("https://127.0.0.1:")
        tls_port = int(demo["edge_tls"].rsplit(":", 1)[1])
        untrusting = ssl.create_default_context()
        untrusting.check_hostname, untrusting.verify_mode = False, ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw,
            untrusting.wrap_socket(
                raw, server_hostname="nobody.demo.test", do_handshake_on_connect=False
            ) as tls,
            pytest.raises(ssl.SSLError),
        ):
            tls.do_handshake()
        # Metrics on a loopback listener of their own, not on the API's port.
        assert demo["metrics"].startswith("http://127.0.0.1:")
        assert "staydown_feed_head_seq" in httpx.get(demo["metrics"]).text
        assert httpx.get(demo["api"] + "/metrics").status_code == 404
        manga = demo["zones"]["manga.demo.test"]
        assert any(path.endswith(".jpg") for path in manga["assets"])
        asset = next(p for p in manga["assets"] if p.endswith((".jpg", ".png", ".webp")))
        assert httpx.get(manga["origin"] + asset).headers["content-type"].startswith("image/")
        through_edge = httpx.get(demo["edge"] + asset, headers={"host": "manga.demo.test"})
        assert through_edge.status_code == 200
        assert through_edge.content == httpx.get(manga["origin"] + asset).content
        headers = {"authorization": f"Bearer {demo['keys']['trusted_flagger']}"}
        body = notice_body([f"http://MANGA.demo.test:80{asset}"])
        notice = httpx.post(f"{demo['api']}/v1/notices", json=body, headers=headers).json()
        assert notice["status"] == "actioned"
        feed = httpx.get(
            f"{demo['api']}/v1/edge/feed", headers={"authorization": f"Bearer {demo['keys']['edge']}"}
        ).json()
        assert feed["records"][-1]["kind"] == "block"
        assert feed["records"][-1]["target"] == asset
        zones = {r["zone_id"]: r["status"] for r in feed["records"] if r["kind"] == "zone"}
        assert zones == {manga["zone_id"]: "active", demo["zones"]["photos.demo.test"]["zone_id"]: "active"}
        # Each demo zone is served a certificate of the demo CA whose path demo.json names.
        ca = x509.load_pem_x509_certificate(Path(demo["ca_cert"]).read_bytes())
        served = {r["zone_id"]: r for r in feed["records"] if r["kind"] == "cert_set"}
        assert set(served) == set(zones) and {r["source"] for r in served.values()} == {"demo"}
        for record in served.values():
            x509.load_pem_x509_certificates(record["chain_pem"].encode())[0].verify_directly_issued_by(ca)
        deadline = time.monotonic() + 10
        while httpx.get(demo["edge"] + asset, headers={"host": "manga.demo.test"}).status_code != 451:
            assert time.monotonic() < deadline, "the edge never blocked the noticed asset"
            time.sleep(0.05)
        blocked = httpx.get(demo["edge"] + asset, headers={"host": "manga.demo.test"})
        assert blocked.headers["link"] == f'<{demo["api"]}/legal>; rel="blocked-by"'
        assert "counter-notice" in httpx.get(f"{demo['api']}/legal").text
        customer = {"authorization": f"Bearer {demo['keys']['customer']}"}
        assert httpx.get(f"{demo['api']}/v1/notices/{notice['id']}", headers=customer).status_code == 200
        # The demo allows loopback origins and nothing else, and never the service's own ports.
        agent = {"authorization": f"Bearer {demo['keys']['agent']}"}
        for index, origin in enumerate(["http://10.0.0.5", "http://[::1]", demo["api"], demo["edge"]]):
            body = {"customer_id": manga["customer_id"], "hostname": f"x{index}.demo.test", "origin": origin}
            refused = httpx.post(f"{demo['api']}/v1/zones", json=body, headers=agent)
            assert refused.status_code == 422, (origin, refused.text)
            assert refused.json()["error"]["code"] == "origin_not_allowed"
    finally:
        assert process.stop() in (0, -signal.SIGINT, 130)


def test_edge_admin_port_serves_every_workers_metrics(data_dir: Path) -> None:
    """`staydown edge --workers 2 --admin-port A`: one scrape of A carries both workers' feed state
    (merged into one family each), and says which workers answered; the edge enforces its local
    state while the control plane is unreachable."""
    admin = free_port()
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    edge = Process(
        "edge", "--control-plane", dead, "--key", "sd_unused", "--port", str(port),
        "--workers", "2", "--admin-port", str(admin), data_dir=data_dir,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            assert edge.proc.poll() is None, Path(edge.log.name).read_text()
            try:
                text = httpx.get(f"http://127.0.0.1:{admin}/metrics", timeout=3).text
            except httpx.HTTPError:
                text = ""
            if 'staydown_edge_worker_up{worker="1"} 1.0' in text and 'worker_up{worker="0"} 1.0' in text:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"workers never all answered: {text}")
        for worker in ("0", "1"):
            assert f'staydown_edge_feed_seq{{worker="{worker}"}} 0.0' in text
            assert f'staydown_edge_blocks{{worker="{worker}"}} 0.0' in text
        assert text.count("# TYPE staydown_edge_feed_seq gauge") == 1
        assert text.count("# TYPE staydown_edge_responses counter") <= 1
        unknown = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "nobody.example"}, timeout=3)
        assert unknown.status_code == 421
        public = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"host": "127.0.0.1"}, timeout=3)
        assert public.status_code == 421  # metrics are the admin listener's alone
    finally:
        assert edge.stop() == 0


def test_up_demo_again_keeps_its_keys_and_has_one_for_each_customer(data_dir: Path) -> None:
    def run_demo() -> dict[str, Any]:
        demo_file = data_dir / "demo.json"
        demo_file.unlink(missing_ok=True)
        process = Process(
            "up", "--demo", "--api-port", "0", "--edge-port", "0", "--edge-tls-port", "0", data_dir=data_dir
        )
        try:
            deadline = time.monotonic() + 90
            while not demo_file.exists():
                assert process.proc.poll() is None, Path(process.log.name).read_text()
                assert time.monotonic() < deadline, "demo.json never appeared"
                time.sleep(0.2)
            demo: dict[str, Any] = json.loads(demo_file.read_text())
            for hostname, zone in demo["zones"].items():
                mine = {"authorization": f"Bearer {zone['customer_key']}"}
                own = httpx.get(f"{demo['api']}/v1/zones/{zone['zone_id']}", headers=mine)
                assert own.status_code == 200, (hostname, own.text)
                other = next(z for h, z in demo["zones"].items() if h != hostname)
                theirs = httpx.get(f"{demo['api']}/v1/zones/{other['zone_id']}", headers=mine)
                assert theirs.status_code in (403, 404), hostname
            return demo
        finally:
            assert process.stop() in (0, -signal.SIGINT, 130)

    first = run_demo()
    assert first["keys"]["customer"] == first["zones"]["manga.demo.test"]["customer_key"]
    assert (data_dir / "demo-keys.json").stat().st_mode & 0o077 == 0
    revoked = first["keys"]["submitter"]
    keys_listed = json.loads(run("keys", "list", data_dir=data_dir).stdout)
    submitter_id = next(k["id"] for k in keys_listed if k["name"] == "demo submitter")
    run("keys", "revoke", str(submitter_id), data_dir=data_dir)
    second = run_demo()
    assert {k: v for k, v in second["keys"].items() if k != "submitter"} == {
        k: v for k, v in first["keys"].items() if k != "submitter"
    }
    assert second["keys"]["submitter"] != revoked  # a revoked key is replaced, not handed out again
    for hostname, zone in first["zones"].items():
        assert second["zones"][hostname]["customer_key"] == zone["customer_key"]
