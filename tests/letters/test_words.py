"""The words of letters, the 451 page and the published texts in Japanese and English (pure)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from staydown.config import Settings
from staydown.disclosure import letters as disclosure_letters
from staydown.due_process import messages as due_messages
from staydown.due_process.messages import MEASURES_REVERSED, Reversal
from staydown.due_process.statements import ZoneRestriction, render_letter, zone_statement
from staydown.edge.responses import PAGE_LOCALES, blocked_response, page_locale
from staydown.fingerprints import letters as staydown_letters
from staydown.i18n import LOCALES, catalogs, negotiate, translations
from staydown.notices import messages
from staydown.notices.flows import NoticeStatus
from staydown.notices.models import Notice
from staydown.notices.regimes import RULES
from staydown.policy.flows import StepDecision, policy_text, step_letter
from staydown.policy.models import StepKind
from staydown.types import Regime, ServiceType
from staydown.urls import canonicalize_url
from staydown.wording import Words, recipient_locale

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
RECEIVED = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def _notice() -> Notice:
    return Notice(
        id=7,
        regime=Regime.jp,
        status=NoticeStatus.received,
        received_at=RECEIVED,
        deadline_at=datetime(2026, 12, 9, 9, 30, tzinfo=UTC),
        item_count=3,
        works=[{"description": "マンガ 第1巻"}],
        explanation="無断転載です。",
        missing_elements=["IDPA removal request: right infringed"],
        submitter_organization="出版社",
        sanction=None,
        rejected_items=None,
    )


def test_a_letter_is_written_in_its_recipients_language_with_its_dates() -> None:
    notice = _notice()
    english = messages.receipt(notice, provider="Example CDN")
    assert english.subject == "[Example CDN] Notice #7 received"
    assert "at 2026-12-07 09:30 UTC with 3 URL(s)" in english.body
    japanese = messages.receipt(notice, provider="Example CDN", locale="ja")
    assert japanese.subject == "[Example CDN] 通知 #7 を受領しました"
    assert "2026年12月7日 9:30 UTC に貴殿の JP 通知 #7（URL 3 件）を受領しました" in japanese.body
    assert "現在の状態：受付済み。" in japanese.body
    assert english.payload == japanese.payload  # the machine-readable part does not change


def test_an_incomplete_notice_is_told_what_is_missing_in_the_law_of_its_regime_and_its_language() -> None:
    notice = _notice()
    missing = [RULES[Regime.jp].elements["right"]]
    letter = messages.incomplete(notice, missing, provider="P", rejected=False, locale="ja")
    assert (
        "送信防止措置の申出：侵害されたとする権利：侵害されたとする権利と、その権利が保護する著作物。"
        in letter.body
    )
    assert letter.payload["missing_elements"] == ["IDPA removal request: right infringed"]
    expired = messages.expired(notice, 14, provider="P", locale="ja")
    assert "14 日以内に補正されなかったため" in expired.body and "侵害されたとする権利" in expired.body


def test_a_forward_keeps_the_senders_words_and_translates_the_redress() -> None:
    notice = _notice()
    redress = RULES[Regime.jp].redress(ServiceType.caching)
    letter = messages.forward(
        notice,
        ["http://example.test/a.jpg"],
        provider="P",
        hostname="example.test",
        to_host=False,
        complainant_fields={"organization"},
        redress=redress,
        locale="ja",
    )
    assert "このゾーンの契約者である貴殿にお送りしています" in letter.body
    assert "マンガ 第1巻" in letter.body and "組織名：出版社" in letter.body
    assert "POST /v1/complaints" in letter.body and "You may" not in letter.body


def test_the_japanese_letters_catalog_keeps_every_placeholder_of_its_english_text() -> None:
    catalog = catalogs.load("ja", "letters")
    checked = 0
    for message in catalog:
        if not message.id:
            continue
        assert set(PLACEHOLDER.findall(str(message.id))) == set(PLACEHOLDER.findall(str(message.string))), (
            message.id
        )
        checked += 1
    assert checked == len(catalogs.extract("letters"))


def test_the_letters_catalog_loads_for_every_locale() -> None:
    for locale in LOCALES:
        assert (
            translations(locale, "letters").gettext("Strikes")
            == {"en": "Strikes", "ja": "ストライク"}[locale]
        )
    assert Words("ja")("Notice #%(id)s received", id=3) == "通知 #3 を受領しました"


def test_the_recipients_language_is_its_own_else_the_default() -> None:
    assert recipient_locale("ja", "en") == "ja"
    assert recipient_locale(None, "ja") == "ja"
    assert recipient_locale("fr", "en") == "en"  # nothing staydown does not speak


def test_the_published_policy_reads_in_both_languages() -> None:
    policy = Settings().policy
    english = policy_text(policy, provider="Example CDN")
    assert english.startswith("# Example CDN repeat-infringer policy")
    japanese = policy_text(policy, provider="Example CDN", locale="ja")
    assert japanese.startswith("# Example CDN 反復侵害者ポリシー")
    assert f"{policy.suspension.window_days} 日以内に {policy.suspension.strikes} 件のストライク" in japanese
    assert not re.search(r"[a-z]{4,} [a-z]{4,}", japanese.replace("Example CDN", ""))  # no English sentence


@pytest.mark.parametrize(
    "header",
    [
        "",
        "ja",
        "ja-JP",
        "en-US,en;q=0.9,ja;q=0.8",
        "ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7",
        "fr, ja;q=0.5",
        "fr",
        "*",
        "en;q=0, *",
        "ja;q=0, *;q=0.5",
        "ja;q=0.5, en;q=0.5",
        "JA",
        "ja;q=oops",
        "x" * 2000,
    ],
)
@pytest.mark.parametrize("default", ["en", "ja"])
def test_the_edge_chooses_the_451_pages_language_as_the_control_plane_does(header: str, default: str) -> None:
    assert set(PAGE_LOCALES) == set(LOCALES)
    assert page_locale(header, default) == negotiate(header, default=default)


def test_the_451_page_escapes_what_it_is_given_in_every_language() -> None:
    url = canonicalize_url("http://example.test/<script>.jpg")
    for locale in PAGE_LOCALES:
        page = blocked_response(
            url=url,
            notice_id=None,
            legal_url="https://x/legal",
            provider="<b>P</b>",
            want_json=False,
            head=False,
            locale=locale,
        )
        assert b"<script>" not in page and b"<b>P</b>" not in page
        assert f"Content-Language: {locale}\r\n".encode() in page


def test_a_policy_step_letter_reads_in_the_customers_language_and_keeps_the_english_as_it_was() -> None:
    policy = Settings().policy
    decision = StepDecision(StepKind.suspension, 3, 90, "3 strikes within 90 days (suspension threshold 3)")
    subject, body = step_letter(decision, automatic=True, policy=policy, provider="P")
    assert subject == "[P] Repeat-infringer policy: suspension"
    assert body.startswith(f"{decision.reason}.\n\nStep taken: suspension.\n\nThe policy that applies")
    subject, body = step_letter(decision, automatic=True, policy=policy, provider="P", locale="ja")
    assert subject == "[P] 反復侵害者ポリシー：停止"
    assert body.startswith("90 日以内にストライク 3 件（停止の基準：3 件）。\n\n講じた措置：停止。")
    assert "反復侵害者ポリシー" in body
    manual = StepDecision(StepKind.termination, 4, 180, "agent's judgement after review")
    assert step_letter(manual, automatic=False, policy=policy, provider="P", locale="ja")[1].startswith(
        "agent's judgement after review。"
    )


def test_a_statement_of_reasons_letter_frames_the_database_fields_in_the_customers_language() -> None:
    restriction = ZoneRestriction(
        zone_id=1,
        hostname="manga.example.test",
        status="suspended",
        reason="3 strikes within 90 days",
        automated=True,
        repeat_infringer=True,
        whole_account=True,
        zone_created_at=RECEIVED,
        applied_at=RECEIVED,
        business=True,
    )
    statement = ("puid-1", "manga.example.test", zone_statement(restriction))
    subject, body = render_letter([statement], provider="P", locale="ja")
    assert subject == "[P] 理由の説明：貴殿のサービスに対する 1 件の制限"
    assert "理由の説明 puid-1 — manga.example.test" in body and "DECISION_PROVISION_TOTAL_SUSPENSION" in body
    assert "6か月以内の内部苦情" in body
    english = render_letter([statement], provider="P")[0]
    assert english == "[P] Statement of reasons: 1 restriction(s) on your service"


def test_what_a_complaint_reversed_is_recorded_in_english_and_told_in_the_readers_language() -> None:
    reversal = Reversal(due_messages.ITEMS_RESTORED, {"count": 2})
    assert str(reversal) == "the decision on 2 item(s), now restored,"
    assert reversal.words("ja") == "2 件の項目に関する決定（項目は復元済み）"
    assert all(
        str(Reversal(m, {})) == f"the {kind.replace('_', ' ')}" for kind, m in MEASURES_REVERSED.items()
    )


def test_stay_down_and_disclosure_letters_read_in_the_customers_language() -> None:
    subject, body = staydown_letters.blocked(
        url="http://manga.example.test/p1.jpg", notice_id=4, distance=6, provider="P", locale="ja"
    )
    assert (
        subject == "ステイダウン：http://manga.example.test/p1.jpg で削除済みコンテンツの複製を遮断しました"
    )
    assert "コンテンツ（通知 4）と一致する" in body and "256 中 6" in body
    english = staydown_letters.blocked(url="http://x.test/a", notice_id=None, distance=6, provider="P")
    assert "removed after a notice (a registered work) (perceptual distance 6 of 256)" in english[1]
    subject, body = disclosure_letters.order_letter(
        "order.received",
        provider="P",
        authority="東京地方裁判所",
        jurisdiction="JP",
        case_number="令和8年(モ)第1号",
        legal_basis="jp_disclosure_order",
        scope=["name", "email"],
        deadline_at=RECEIVED,
        released=[],
        locale="ja",
    )
    assert subject == "[P] 貴アカウントに関する開示命令"
    assert "事件番号：令和8年(モ)第1号" in body and "命令で定められた期限：2026年12月7日 9:30 UTC" in body


def test_the_edge_speaks_both_languages_without_loading_a_catalog() -> None:
    """The edge's processes import neither Babel nor the catalogs (a fresh interpreter checks)."""
    code = (
        "import sys, staydown.edge.main\n"
        "loaded = [m for m in ('babel', 'staydown.i18n', 'staydown.wording') if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
