"""Letters as their recipients receive them: over SMTP, in the recipient's language, properly encoded
(UTF-8 bodies, RFC 2047 subjects); and the published texts over HTTP in the reader's language."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from staydown.worker import send_outbox, transports
from tests.conftest import Api
from tests.enforcement.test_outbox import Inbox, smtp
from tests.support import active_zone, notice_body

mail = smtp  # the SMTP sink the outbox tests use

JAPANESE = {"accept-language": "ja-JP,ja;q=0.9,en;q=0.5"}


class RawInbox(Inbox):
    """Keeps each message's bytes as they came over the wire, to check how it was encoded."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append((list(envelope.rcpt_tos), envelope.content))
        return await super().handle_DATA(server, session, envelope)


def _deliver(api: Api, controller: Controller) -> None:
    settings = api.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": controller.port})
    assert send_outbox(api.database, now=api.clock(), available=transports(settings)) >= 1


def test_a_japanese_notifier_gets_its_letters_in_japanese_and_others_theirs_in_their_own(
    api: Api, mail: tuple[Controller, Inbox]
) -> None:
    controller, _ = mail
    inbox = RawInbox()
    controller.handler = inbox
    active_zone(api, "manga.example.test", locale="ja")  # a customer that reads Japanese
    active_zone(api, "shop.example.test")  # and one that states no language
    flagger = api.as_("trusted_flagger")
    ja = flagger.post(
        "/v1/notices", json=notice_body(["http://manga.example.test/a.jpg"], regime="jp"), headers=JAPANESE
    ).json()
    assert ja["language"] == "ja"
    en = flagger.post("/v1/notices", json=notice_body(["http://shop.example.test/b.jpg"])).json()
    assert en["language"] == "en"
    _deliver(api, controller)

    def received(recipient: str, notice_id: int) -> list[tuple[bytes, Any]]:
        """What ``recipient`` was sent about the notice (its number is in every subject)."""
        found = [
            (raw, message)
            for rcpt, raw in inbox.raw
            if rcpt == [recipient]
            and f"#{notice_id} " in (message := message_from_bytes(raw, policy=default))["Subject"] + " "
        ]
        assert found, (recipient, notice_id)
        return found

    # The notifier of the Japanese notice: receipt and decision in Japanese, by subject and body.
    to_notifier = received("agent@rights.example", ja["id"])
    subjects = {message["Subject"] for _, message in to_notifier}
    assert f"[staydown] 通知 #{ja['id']} を受領しました" in subjects
    assert f"[staydown] 通知 #{ja['id']} についての決定" in subjects
    for raw, message in to_notifier:
        head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
        subject_line = next(line for line in head.splitlines() if line.lower().startswith(b"subject:"))
        assert subject_line.isascii() and b"=?utf-8?" in subject_line.lower()  # RFC 2047
        body = message.get_body(("plain",))
        assert body.get_content_charset() == "utf-8"
        text = body.get_content()
        if "受領しました" in message["Subject"]:
            assert "年" in text and "月" in text and "日" in text and "受領しました" in text
    # The customer who reads Japanese is sent the notice in Japanese; the other one in English.
    (_, to_ja_customer), *_ = received("manga@example.com", ja["id"])
    assert to_ja_customer["Subject"] == f"[staydown] manga.example.test に関する通知 #{ja['id']}"
    assert (
        "このゾーンの契約者である貴殿にお送りしています" in to_ja_customer.get_body(("plain",)).get_content()
    )
    (_, to_en_customer), *_ = received("shop@example.com", en["id"])
    assert to_en_customer["Subject"] == f"[staydown] Notice #{en['id']} for shop.example.test"
    # The English notifier's letters stay English.
    english = {message["Subject"] for _, message in received("agent@rights.example", en["id"])}
    assert f"[staydown] Notice #{en['id']} received" in english


def test_the_policy_legal_page_and_legal_elements_follow_accept_language(api: Api) -> None:
    client = api.client()
    policy = client.get("/v1/policy/repeat-infringer", headers=JAPANESE)
    assert policy.status_code == 200
    assert policy.headers["content-language"] == "ja" and "accept-language" in policy.headers["vary"].lower()
    assert "反復侵害者ポリシー" in policy.text and "strikes" not in policy.text
    assert "repeat-infringer policy" in client.get("/v1/policy/repeat-infringer").text
    legal = client.get("/legal", headers=JAPANESE)
    assert "遮断されたコンテンツ" in legal.text and "指定代理人" in legal.text
    elements = client.get("/v1/regimes/jp/elements", headers=JAPANESE)
    assert elements.headers["content-language"] == "ja"
    by_code = {element["code"]: element for element in elements.json()}
    right = by_code["IDPA right"]
    assert right["name"] == "IDPA removal request: right infringed"  # as notices list it
    assert right["title"] == "送信防止措置の申出：侵害されたとする権利"
    assert right["explanation"] == "侵害されたとする権利と、その権利が保護する著作物。"
    english = client.get("/v1/regimes/dmca/elements").json()
    assert english[0]["title"] == english[0]["name"] and english[0]["explanation"].startswith("A physical")
    assert client.get("/v1/regimes/nope/elements").status_code == 422
    # A notice's missing elements are explained in the language its reader asks for.
    flagger = api.as_("submitter")
    incomplete = notice_body(["http://elsewhere.example.test/x.jpg"], regime="dmca", signature=None)
    created = flagger.post("/v1/notices", json=incomplete).json()
    assert created["language"] == "en" and created["missing_elements"]
    read = flagger.get(f"/v1/notices/{created['id']}", headers=JAPANESE).json()
    assert read["missing_element_explanations"] == {
        "512(c)(3)(A)(i) signature": "権利者のために行動する権限を有する者の自署または電子署名。"
    }
