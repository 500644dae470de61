"""The README's walk-through: `staydown up --demo` names its SMTP intake in demo.json, a letter sent
there with curl becomes a notice in the review queue, and the sender's receipt is in the outbox."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import Staydown, eventually

LETTER = """From: Rights Agent <agent@rights.example>
To: abuse@staydown.invalid
Subject: DMCA notice: Demo Manga
Message-ID: <demo-1@rights.example>

The page below copies our work without permission:
http://manga.demo.test/chapter-1/page-01.jpg

Work: Demo Manga, volume 1
I have a good faith belief that this use is not authorized by the copyright owner, its agent, or the law.
Under penalty of perjury, the information in this notice is accurate and I am authorized to act on
behalf of the owner.
Address: 2-1 Otemachi, Tokyo
Phone: +81 3 1111 2222

Sincerely,
Rights Agent
"""


@pytest.mark.slow
def test_demo_receives_a_notice_by_mail(data_dir: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    up = Staydown(
        "up", "--demo", "--api-port", "0", "--edge-port", "0", "--smtp-port", "0", data_dir=data_dir
    )
    try:
        demo_file = data_dir / "demo.json"
        eventually(demo_file.exists, f"demo.json never appeared: {up.output()}", 120)
        demo = json.loads(demo_file.read_text())
        host, port = demo["smtp"].split(":")
        assert host == "127.0.0.1" and int(port) > 0
        eml = data_dir / "notice.eml"
        eml.write_text(LETTER.replace("\n", "\r\n"))
        sent = subprocess.run(
            [
                "curl",
                "-sS",
                f"smtp://{demo['smtp']}",
                "--mail-from",
                "agent@rights.example",
                "--mail-rcpt",
                "abuse@staydown.invalid",
                "--upload-file",
                str(eml),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        agent = {"authorization": f"Bearer {demo['keys']['agent']}"}

        def read() -> bool:
            listed = httpx.get(f"{demo['api']}/v1/inbound", headers=agent).json()["messages"]
            return bool(listed) and listed[0]["status"] != "pending"

        eventually(read, "the letter was never read", 30)
        message = httpx.get(f"{demo['api']}/v1/inbound", headers=agent).json()["messages"][0]
        assert (message["format"], message["status"], message["from"]) == (
            "text",
            "notice",
            "agent@rights.example",
        )
        notice = httpx.get(f"{demo['api']}/v1/notices/{message['notice_id']}", headers=agent).json()
        assert notice["status"] == "accepted" and notice["missing_elements"] == []
        assert notice["items"][0]["zone"] == "manga.demo.test"
        assert notice["items"][0]["status"] == "pending_review"
        deadline = time.monotonic() + 10
        while True:
            outbox = httpx.get(f"{demo['api']}/v1/outbox", headers=agent).json()
            if any(m["kind"] == "inbound_notice" for m in outbox) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        receipt = next(m for m in outbox if m["kind"] == "inbound_notice")
        assert receipt["recipient"] == "agent@rights.example"
        assert "<demo-1@rights.example>" in receipt["subject"]
    finally:
        up.proc.send_signal(signal.SIGINT)
        try:
            up.proc.wait(30)
        except subprocess.TimeoutExpired:
            up.proc.kill()
            up.proc.wait(10)
        up.log.close()
