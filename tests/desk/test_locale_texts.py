"""Words other modules make, read on the Japanese desk: the law a notice relies on, why a zone may
not go live, audit actions, why a serial review opened, and the report's chart axes. English
readers keep the English; the API keeps its English answers."""

from __future__ import annotations

import base64
import re
from datetime import datetime

import pytest

from staydown.accounts import flows as account_flows
from staydown.accounts.models import Customer, Standing
from staydown.config import Settings
from staydown.serial import flows as serial_flows
from staydown.serial import probes as serial_probes
from staydown.serial import service as serial
from staydown.types import VerificationLevel
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import active_zone, customer_body, notice_body

JA = {"accept-language": "ja"}
EN = {"accept-language": "en"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"default_locale": "ja"})


def _desk(api: Api, role: str) -> DeskClient:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys[role])
    return desk


def test_regime_titles_read_in_the_readers_language(api: Api) -> None:
    desk = _desk(api, "submitter")
    ja = desk.get("/desk/submit", headers=JA).text
    assert "米国DMCA(17 U.S.C. 512)" in ja and "EUデジタルサービス法(第16条)" in ja
    assert "US DMCA (17 U.S.C. 512)" not in ja and "EU Digital Services Act" not in ja
    assert "US DMCA (17 U.S.C. 512)" in desk.get("/desk/submit", headers=EN).text


def test_audit_actions_read_as_words_in_the_readers_language(api: Api) -> None:
    zone = active_zone(api, "audit-words.example.test")
    notice = api.as_("submitter").post("/v1/notices", json=notice_body([f"http://{zone['hostname']}/a.jpg"]))
    assert notice.status_code == 201, notice.text
    desk = _desk(api, "agent")
    ja = desk.get(f"/desk/notices/{notice.json()['id']}", headers=JA).text
    assert "<td>通知を受領</td>" in ja and "notice.received" not in ja
    assert "<td>notice received</td>" in desk.get(f"/desk/notices/{notice.json()['id']}", headers=EN).text


def test_zone_blockers_and_review_triggers_read_in_the_readers_language(api: Api) -> None:
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body("Pending Shop")).json()
    zone = agent.post(
        "/v1/zones",
        json={
            "customer_id": customer["id"],
            "hostname": "pending-words.example.test",
            "origin": "http://127.0.0.1:9",
        },
    )
    assert zone.status_code == 201, zone.text
    blockers = zone.json()["activation_blockers"]
    assert "control of the domain has not been proven (HTTP or DNS challenge)" in blockers  # the API: English

    trigger = serial_flows.review_trigger(
        [serial_flows.Noticed(at=api.clock(), work=f"w{i}", rightsholder=f"r{i % 3}") for i in range(12)],
        [api.clock()] * 25,
        now=api.clock(),
        thresholds=serial_flows.Thresholds(
            works=10, rightsholders=3, matches=20, window_days=30, deadline_days=7
        ),
    )
    assert trigger is not None and "; " in trigger.reason
    with api.database.writer() as session:
        owner = session.get(Customer, customer["id"])
        assert owner is not None
        serial._open(session, owner, trigger.reason, now=api.clock(), settings=api.settings)
        session.commit()

    desk = _desk(api, "agent")
    page = desk.get(f"/desk/customers/{customer['id']}", headers=JA).text
    assert "ドメインの管理が証明されていません(HTTPまたはDNSチャレンジ)" in page
    assert "control of the domain has not been proven" not in page
    assert "常習審査を開始" in page and "serial.review_opened" not in page  # its audit entry
    dossier = desk.get(f"/desk/customers/{customer['id']}/dossier", headers=JA).text
    assert "30日以内に3名の権利者から12件の異なる著作物について通知" in dossier
    assert "30日以内にステイダウン一致が25件(しきい値 20件)" in dossier
    assert "distinct works" not in dossier and "stay-down matches within" not in dossier
    english = desk.get(f"/desk/customers/{customer['id']}/dossier", headers=EN).text
    assert "25 stay-down matches within 30 days (threshold 20)" in english


def test_the_reports_chart_axes_read_in_the_readers_language(api: Api) -> None:
    desk = _desk(api, "agent")
    period = {"from": "2020-01-01", "to": "2020-12-31"}

    def charts(headers: dict[str, str]) -> str:
        page = desk.get("/desk/transparency", params=period, headers=headers).text
        images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
        assert len(images) == 2
        return "".join(base64.b64decode(image).decode() for image in images)

    ja = charts(JA)
    assert "受領から最初の措置までの時間" in ja and "1日あたりの受領通知数" in ja and "通知数" in ja
    assert "Time from receipt to first action" not in ja and "notices" not in ja
    assert "Notices received per day" in charts(EN)


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_every_blocker_and_trigger_sentence_has_its_words(locale: str) -> None:
    """The desk reads the sentences the account and serial rules write, whichever they write."""
    from staydown.desk import labels

    blockers = account_flows.activation_blockers(
        dcv_verified=False,
        level=VerificationLevel.none,
        min_level=VerificationLevel.identity,
        standing=Standing.suspended,
    )
    assert len(blockers) == 3
    blockers += [serial.link_blocker(42), serial_probes.PROBE_PENDING]  # the serial gates'
    now = datetime(2026, 1, 1)
    trigger = serial_flows.review_trigger(
        [serial_flows.Noticed(at=now, work=f"w{i}", rightsholder=f"r{i}") for i in range(3)],
        [now] * 2,
        now=now,
        thresholds=serial_flows.Thresholds(
            works=1, rightsholders=1, matches=1, window_days=5, deadline_days=7
        ),
    )
    assert trigger is not None
    for text in [*blockers, *trigger.reason.split("; ")]:
        shown = labels.blocker_text(text, locale) if text in blockers else labels.trigger_text(text, locale)
        assert (shown == text) is (locale == "en"), shown
