"""The pure pipeline: each format read from samples written from its documentation, and bad input
answered with a status and a reason, in linear time."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staydown.inbound.parsers import InboundFormat, Limits, Outcome, classify
from staydown.inbound.parsers.acns import parse_timestamp
from staydown.types import Regime
from tests.inbound import samples
from tests.support import hard_timeout

URL = "http://manga.demo.test/chapter-1/page-01.jpg"


def test_acns_inline_becomes_a_dmca_draft_with_case_id_complainant_and_statements() -> None:
    _view, parsed = classify(samples.message(samples.acns_letter(samples.acns_xml())))
    assert parsed.format is InboundFormat.acns and parsed.outcome is Outcome.notice
    assert parsed.external_id == "A1234567"
    draft = parsed.draft
    assert draft is not None
    assert draft.regime is Regime.dmca
    assert draft.urls == (URL,)
    assert draft.works == ("Demo Manga vol. 1",) and draft.work_of_url == (0,)
    assert draft.organization == "Demo Studios" and draft.email == "antipiracy@studios.example"
    assert draft.phone == "+1 818 555 0100" and draft.address and "Universal City" in draft.address
    assert (draft.good_faith, draft.accurate, draft.authorized) == (True, True, True)


def test_acns_pgp_signed_and_attached_read_the_same() -> None:
    signed = classify(samples.message(samples.acns_letter(samples.acns_xml(), signed=True)))[1]
    attached = classify(
        samples.with_attachment(
            samples.STATEMENTS, samples.acns_xml().encode(), "notice.xml", "application/xml"
        )
    )[1]
    for parsed in (signed, attached):
        assert parsed.format is InboundFormat.acns and parsed.outcome is Outcome.notice
        assert parsed.draft is not None and parsed.draft.urls == (URL,)
        assert parsed.external_id == "A1234567"


def _clearsigned(text: str) -> str:
    """``text`` in a PGP clearsigned block: its lines that begin with a dash escaped (RFC 4880 7.1)."""
    dashed = "\n".join("- " + line if line.startswith("-") else line for line in text.splitlines())
    signature = "-----BEGIN PGP SIGNATURE-----\n\nabc\n=abcd\n-----END PGP SIGNATURE-----\n"
    return f"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{dashed}\n{signature}"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_clearsigned(samples.acns_letter(samples.acns_xml(), signed=True)), id="signed-twice"),
        pytest.param(
            samples.acns_letter(samples.acns_xml())
            .replace("----Start", "- - ---Start")
            .replace("----End", "- - ---End"),
            id="three-dash-markers",
        ),
        pytest.param(
            samples.acns_letter(samples.acns_xml()).replace("----Start ACNS XML", "----start acns xml  "),
            id="marker-case-and-space",
        ),
    ],
)
def test_acns_markers_and_dash_escaping_as_forwarding_and_signing_leave_them(body: str) -> None:
    _view, parsed = classify(samples.message(body))
    assert parsed.format is InboundFormat.acns and parsed.outcome is Outcome.notice, parsed.reason
    assert parsed.external_id == "A1234567"
    assert parsed.draft is not None and parsed.draft.urls == (URL,)


def test_acns_quoted_printable_letter_is_read() -> None:
    raw = samples.message(samples.acns_letter(samples.acns_xml()), charset="iso-8859-1")
    assert b"=3D" in raw  # the XML's attribute values, quoted-printable encoded as senders send it
    _view, parsed = classify(raw)
    assert parsed.outcome is Outcome.notice and parsed.external_id == "A1234567"


def test_acns_of_forty_thousand_items_is_read_in_linear_time() -> None:
    count = 40_000  # beyond the default XML bound: the time an item costs must not grow with their number
    urls = tuple(f"http://manga.demo.test/chapter-{n // 100}/page-{n % 100:02d}.jpg" for n in range(count))
    raw = samples.with_attachment(
        samples.STATEMENTS, samples.acns_xml(urls=urls).encode(), "notice.xml", "application/xml"
    )
    with hard_timeout(10):
        _view, parsed = classify(raw, Limits(max_xml_bytes=64 * 1024 * 1024))
    assert parsed.outcome is Outcome.notice and parsed.draft is not None, parsed.reason
    assert parsed.draft.urls == urls and parsed.draft.work_of_url == tuple(range(count))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-05-06T05-00-00UTC", "2015-05-06T05:00:00+00:00"),
        ("2015-05-06T05:00:00Z", "2015-05-06T05:00:00+00:00"),
        ("2015-05-06 05:00:00 GMT", "2015-05-06T05:00:00+00:00"),
        ("2015-05-06T05:00:00-05:00", "2015-05-06T05:00:00-05:00"),
        ("2015-05-06T05-00-00", "2015-05-06T05:00:00+00:00"),
    ],
)
def test_acns_quirky_timestamps(value: str, expected: str) -> None:
    parsed = parse_timestamp(value)
    assert parsed is not None and parsed.isoformat() == expected


def test_acns_quirky_timestamp_in_a_document_is_read() -> None:
    raw = samples.message(samples.acns_letter(samples.acns_xml(timestamp="2015-05-06T05-00-00UTC")))
    parsed = classify(raw)[1]
    assert parsed.details["observed_at"] == "2015-05-06T05:00:00+00:00"


def test_acns_p2p_source_is_not_applicable_with_a_clear_reason() -> None:
    parsed = classify(samples.message(samples.acns_letter(samples.acns_xml(p2p=True))))[1]
    assert parsed.outcome is Outcome.not_applicable
    assert parsed.reason and "192.0.2.44:51413" in parsed.reason and "peer-to-peer" in parsed.reason
    assert parsed.external_id == "A1234567"


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE Infringement [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE Infringement [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        '<!DOCTYPE Infringement SYSTEM "http://127.0.0.1:9/acns.dtd">',
    ],
)
def test_acns_with_entities_or_external_references_is_refused_without_reading_them(doctype: str) -> None:
    xml = samples.acns_xml(entities=doctype)
    if "ENTITY" in doctype:
        xml = xml.replace(
            "<Title>Demo Manga vol. 1</Title>",
            "<Title>&x;</Title>" if "x " in doctype else "<Title>&b;</Title>",
        )
    parsed = classify(samples.message(samples.acns_letter(xml)))[1]
    assert parsed.format is InboundFormat.acns
    assert parsed.outcome in (Outcome.refused, Outcome.notice)
    if "ENTITY" in doctype:
        assert parsed.outcome is Outcome.refused and "entities" in (parsed.reason or "")
    else:  # a DTD reference alone is never fetched; the document is read without it
        assert parsed.draft is not None and parsed.draft.urls == (URL,)


def test_acns_not_well_formed_goes_to_triage() -> None:
    parsed = classify(samples.message(samples.acns_letter("<Infringement><Case><ID>1</Case>")))[1]
    assert parsed.outcome is Outcome.triage and "not well-formed" in (parsed.reason or "")


def test_xarf_of_many_urls_is_read_in_linear_time() -> None:
    urls = [f"http://m.demo.test/{n}" for n in range(60_000)]
    with hard_timeout(10):
        parsed = classify(samples.xarf(urls=urls + urls[::-1]))[1]  # each named twice, under the 4 MiB bound
    assert parsed.outcome is Outcome.notice and parsed.draft is not None, parsed.reason
    assert parsed.draft.urls == tuple(urls)


def test_xarf_copyright_report_and_p2p_report() -> None:
    parsed = classify(samples.xarf(url="https://manga.demo.test/x.png"))[1]
    assert parsed.format is InboundFormat.xarf and parsed.outcome is Outcome.notice
    assert parsed.external_id == "f4b4d4a0-3c3b-4b8e-9d55-6c1b2a7e9f10"
    assert parsed.draft is not None and parsed.draft.urls == ("https://manga.demo.test/x.png",)
    assert parsed.draft.on_behalf_of == "Manga Publisher"
    p2p = classify(samples.xarf())[1]
    assert p2p.outcome is Outcome.not_applicable and "203.0.113.9" in (p2p.reason or "")


def test_csv_attachment_of_urls_with_titles() -> None:
    table = b"url,title\n" + b"".join(
        f"http://manga.demo.test/p{i}.jpg,Vol {i % 2}\n".encode() for i in range(50)
    )
    parsed = classify(samples.with_attachment(samples.STATEMENTS, table, "urls.csv", "text/csv"))[1]
    assert parsed.format is InboundFormat.csv and parsed.outcome is Outcome.notice
    draft = parsed.draft
    assert draft is not None and len(draft.urls) == 50
    assert set(draft.works) == {"Vol 0", "Vol 1"}
    assert draft.work_of_url[0] == draft.works.index("Vol 0")


def test_english_letter_elements_and_missing_ones() -> None:
    parsed = classify(samples.message(samples.ENGLISH.format(urls=URL)))[1]
    draft = parsed.draft
    assert parsed.format is InboundFormat.text and draft is not None
    assert draft.urls == (URL,) and draft.regime is Regime.dmca
    assert draft.phone == "+81 3 1111 2222" and draft.address == "2-1 Otemachi, Chiyoda-ku, Tokyo"
    assert draft.signature == "Rights Agent" and draft.works == ("Demo Manga, volume 1",)
    bare = classify(samples.message(f"Please remove {URL} now.", sender="someone@example.org"))[1]
    assert bare.draft is not None
    assert (bare.draft.good_faith, bare.draft.accurate, bare.draft.signature, bare.draft.works) == (
        False,
        False,
        None,
        (),
    )


@pytest.mark.parametrize("charset", ["iso-2022-jp", "shift_jis"])
def test_japanese_letters_in_their_real_encodings(charset: str) -> None:
    raw = samples.japanese(URL, charset=charset)
    assert "山田".encode() not in raw  # really in the legacy encoding
    view, parsed = classify(raw)
    assert view.subject == "著作権侵害の申出" and view.from_name == "山田 太郎"
    draft = parsed.draft
    assert draft is not None and draft.regime is Regime.jp
    assert draft.urls == (URL,)
    assert draft.works == ("デモ漫画 第1巻",)
    assert draft.address == "東京都千代田区大手町2-1" and draft.phone == "03-1111-2222"
    assert (draft.good_faith, draft.accurate, draft.authorized) == (True, True, True)


def test_dsa_letter_is_a_dsa_notice() -> None:
    body = f"Notice under Article 16 of the Digital Services Act (Regulation (EU) 2022/2065).\n{URL}\n"
    parsed = classify(samples.message(body))[1]
    assert parsed.draft is not None and parsed.draft.regime is Regime.dsa


def test_letter_without_url_goes_to_triage() -> None:
    parsed = classify(samples.message("Your service hosts our content. Please call me."))[1]
    assert parsed.outcome is Outcome.triage and "no URL" in (parsed.reason or "")


def test_ten_thousand_urls_in_one_letter_and_over_the_limit() -> None:
    urls = "\n".join(f"http://manga.demo.test/p/{i}.jpg" for i in range(10_000))
    parsed = classify(samples.message(samples.ENGLISH.format(urls=urls)))[1]
    assert parsed.draft is not None and len(parsed.draft.urls) == 10_000
    over = classify(samples.message(urls), Limits(max_urls=5000))[1]
    assert over.outcome is Outcome.refused and "5000" in (over.reason or "")


def test_unknown_charset_is_guessed_and_named() -> None:
    raw = samples.message("Please remove http://manga.demo.test/a.jpg", charset="utf-8").replace(
        b'charset="utf-8"', b'charset="x-unheard-of"'
    )
    view, parsed = classify(raw)
    assert parsed.draft is not None and parsed.draft.urls == ("http://manga.demo.test/a.jpg",)
    assert any("x-unheard-of" in p for p in view.problems)


def _nested(depth: int) -> bytes:
    inner = samples.message(f"http://manga.demo.test/{depth}.jpg")
    for _ in range(depth):
        inner = b"From: a@example.org\r\nSubject: fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner
    return inner


def test_nesting_beyond_the_depth_is_refused_and_within_it_read() -> None:
    assert classify(_nested(2))[1].outcome is Outcome.notice
    deep = classify(_nested(30))[1]
    assert deep.outcome is Outcome.refused and "deeper than" in (deep.reason or "")


def test_archive_and_malformed_mime_get_a_status() -> None:
    zipped = samples.with_attachment(
        "see attached", b"PK\x03\x04" + b"\0" * 100, "urls.zip", "application/zip"
    )
    parsed = classify(zipped)[1]
    assert parsed.outcome is Outcome.triage and "archives could not be opened (urls.zip)" in (
        parsed.reason or ""
    )
    broken = b"From: x@example.org\r\nContent-Type: multipart/mixed\r\n\r\n--nothing\r\nhttp://manga.demo.test/a.jpg"
    assert classify(broken)[1].outcome in (Outcome.notice, Outcome.triage)
    assert classify(b"")[1].outcome is Outcome.triage


def test_auto_replies_are_not_answered() -> None:
    raw = (
        b"From: MAILER-DAEMON@example.org\r\nAuto-Submitted: auto-replied\r\n\r\nhttp://manga.demo.test/a.jpg"
    )
    assert classify(raw)[1].outcome is Outcome.not_applicable


ADVERSARIAL = st.one_of(
    st.binary(max_size=20_000),
    st.text(alphabet="h:t/p.<>-=\"'\r\n \uff1a\x1b$B", max_size=20_000).map(
        lambda t: t.encode("utf-8", "replace")
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=ADVERSARIAL)
def test_any_input_gets_an_outcome_and_never_raises(body: bytes) -> None:
    with hard_timeout(5):
        _view, parsed = classify(b"From: a@example.org\r\nSubject: x\r\n\r\n" + body)
    assert parsed.outcome in Outcome
    assert parsed.outcome is not Outcome.notice or (parsed.draft is not None and parsed.draft.urls)


@pytest.mark.parametrize(
    "body",
    [
        b"http://" + b"a" * 2_000_000,
        b"(" * 1_000_000 + b"http://a.example/" + b")" * 1_000_000,
        b"<" * 2_000_000,
        ("\uff1a" * 500_000).encode(),
        b"--" * 1_000_000,
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"--x\r\n" * 200_000,
        b"href=" * 400_000,
    ],
)
def test_long_adversarial_inputs_are_read_in_linear_time(body: bytes) -> None:
    started = time.monotonic()
    with hard_timeout(10):
        classify(b"From: a@example.org\r\n" + body[:60] + b"\r\n\r\n" + body)
    assert time.monotonic() - started < 10


def test_a_long_field_of_unclosed_encoded_words_is_read_in_linear_time() -> None:
    subject = b"=?utf-8?q?caf=C3=A9?= " + b"=?a?q?x" * 40_000  # every later "=?" opens a word never closed
    raw = b"From: a@example.org\r\nSubject: " + subject + b"\r\n\r\nhttp://manga.demo.test/a.jpg"
    with hard_timeout(5):
        view, parsed = classify(raw)
    assert parsed.outcome is Outcome.notice and view.subject.startswith("caf\u00e9 =?a?q?x")


def test_a_field_of_too_many_parameters_is_refused_in_linear_time() -> None:
    field = b'Content-Type: text/plain; name="' + b";" * 200_000
    with hard_timeout(5):
        _view, parsed = classify(b"From: a@example.org\r\n" + field + b"\r\n\r\nhttp://manga.demo.test/a.jpg")
    assert parsed.outcome is Outcome.refused and "more than 100 parameters" in (parsed.reason or "")


def _multiparts(depth: int, body: bytes) -> bytes:
    opened = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        for level in range(depth)
    )
    closed = b"".join(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    return b"From: a@example.org\r\n" + opened + b"Content-Type: text/plain\r\n\r\n" + body + closed


def test_multiparts_nested_hundreds_deep_are_refused_in_linear_time() -> None:
    # The stdlib parser compares each line with the boundary of every multipart it is inside.
    with hard_timeout(5):
        _view, parsed = classify(_multiparts(400, b"x\r\n" * 600_000))
    assert parsed.outcome is Outcome.refused and "deeper than 4 levels" in (parsed.reason or "")
    assert classify(_multiparts(4, b"http://manga.demo.test/a.jpg\r\n"))[1].outcome is Outcome.notice


def test_comments_nested_in_the_sender_field_are_read_without_an_address() -> None:
    raw = b"From: " + b"(" * 5_000 + b"a@example.org\r\nSubject: x\r\n\r\nhttp://manga.demo.test/a.jpg"
    with hard_timeout(5):
        view, parsed = classify(raw)
    assert view.from_address == "" and parsed.outcome is Outcome.notice
