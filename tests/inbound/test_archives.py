"""Archives attached to notices, built here as senders build them: ACNS XML, CSV lists, plain
letters and forwarded ``.eml`` files inside ZIP, gzip and tar; and archives built to hurt (bombs,
deep nesting, thousands of files, damaged or encrypted ones), each answered with a status and a
reason under a hard time limit."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.inbound import service
from staydown.inbound.models import InboundStatus
from staydown.inbound.parsers import InboundFormat, Limits, MailView, Outcome, Parsed, archives, classify
from tests.inbound import samples
from tests.support import hard_timeout

URL = "http://manga.demo.test/chapter-1/page-01.jpg"
TABLE = b"url,title\n" + b"".join(f"http://manga.demo.test/p{i}.jpg,Vol 1\n".encode() for i in range(40))


def zipped(files: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def tarred(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sent(data: bytes, filename: str, mime: str = "application/zip", body: str = "See attached.") -> bytes:
    return samples.with_attachment(body, data, filename, mime)


def read(raw: bytes, limits: Limits | None = None) -> tuple[MailView, Parsed]:
    with hard_timeout(10):
        return classify(raw, limits)


# --- what senders send ---------------------------------------------------------------------------


def test_acns_xml_in_a_zip_is_read_as_if_attached() -> None:
    raw = sent(zipped({"notices/A1234567.xml": samples.acns_xml().encode()}), "notice.zip")
    _view, parsed = classify(raw)
    assert parsed.format is InboundFormat.acns and parsed.outcome is Outcome.notice
    assert parsed.external_id == "A1234567"
    assert parsed.draft is not None and parsed.draft.urls == (URL,)


def test_csv_in_a_zip_gzip_bzip2_xz_and_tar_gz_is_read() -> None:
    wrapped = [
        (zipped({"urls.csv": TABLE}), "urls.zip", "application/zip"),
        (gzip.compress(TABLE), "urls.csv.gz", "application/gzip"),
        (bz2.compress(TABLE), "urls.csv.bz2", "application/x-bzip2"),
        (lzma.compress(TABLE), "urls.csv.xz", "application/x-xz"),
        (tarred({"list/urls.csv": TABLE}), "urls.tgz", "application/gzip"),
        (tarred({"urls.csv": TABLE}, "w"), "urls.tar", "application/x-tar"),
    ]
    for data, filename, mime in wrapped:
        view, parsed = classify(sent(data, filename, mime, body=samples.STATEMENTS))
        assert parsed.format is InboundFormat.csv and parsed.outcome is Outcome.notice, (filename, parsed)
        assert parsed.draft is not None and len(parsed.draft.urls) == 40, filename
        assert [a.filename.rsplit("/", 1)[-1] for a in view.attachments] == ["urls.csv"], filename


def test_a_forwarded_eml_and_a_text_letter_in_an_archive_are_read() -> None:
    forwarded = samples.message(samples.acns_letter(samples.acns_xml(case_id="FWD-1")))
    parsed = classify(sent(zipped({"forwarded.eml": forwarded}), "fwd.zip"))[1]
    assert parsed.format is InboundFormat.acns and parsed.external_id == "FWD-1"
    letter = samples.ENGLISH.format(urls=URL).encode()
    parsed = classify(sent(tarred({"letter.txt": letter}), "letter.tar.gz", "application/gzip"))[1]
    assert parsed.format is InboundFormat.text and parsed.outcome is Outcome.notice
    assert parsed.draft is not None and parsed.draft.urls == (URL,)


def test_office_files_and_misnamed_archives_are_left_as_they_are() -> None:
    assert archives.kind_of("list.xlsx", "application/vnd.ms-excel", zipped({"a.xml": b"x"})) is None
    assert archives.kind_of("urls.zip", "application/zip", b"url\nhttp://a.example/") is None
    assert archives.kind_of("urls.zip", "application/octet-stream", zipped({"a": b"x"})) is archives.Kind.zip


# --- what is built to hurt ------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_stated_sizes_without_inflating_it() -> None:
    bomb = zipped({"zeros.csv": bytes(8 * 1024 * 1024)})
    assert len(bomb) < 100_000
    _view, parsed = read(sent(bomb, "urls.zip"))
    assert parsed.outcome is Outcome.refused
    assert "urls.zip/zeros.csv is a compression bomb" in (parsed.reason or "")
    assert "more than 100 times" in (parsed.reason or "")


def test_a_gzip_bomb_is_refused_while_inflating_a_piece_at_a_time() -> None:
    bomb = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9)
    _view, parsed = read(sent(bomb, "urls.csv.gz", "application/gzip"))
    assert parsed.outcome is Outcome.refused and "compression bomb" in (parsed.reason or "")


def test_nested_zips_beyond_the_depth_are_refused() -> None:
    inner = zipped({"urls.csv": TABLE})
    for level in range(6):
        inner = zipped({f"layer{level}.zip": inner})
    _view, parsed = read(sent(inner, "42.zip"))
    assert parsed.outcome is Outcome.refused
    assert "deeper than 4 levels" in (parsed.reason or "")
    shallow = zipped({"inner.zip": zipped({"urls.csv": TABLE})})
    assert read(sent(shallow, "two.zip", body=samples.STATEMENTS))[1].outcome is Outcome.notice


def test_forwarded_messages_nested_in_archives_beyond_the_depth_are_refused() -> None:
    inner = samples.message(samples.acns_letter(samples.acns_xml()))
    for level in range(5):
        inner = samples.with_attachment(
            "fwd", zipped({f"fwd{level}.eml": inner}), "fwd.zip", "application/zip"
        )
    _view, parsed = read(inner)
    assert parsed.outcome is Outcome.refused and "deeper than" in (parsed.reason or "")


def test_too_many_files_and_too_many_bytes_are_refused_with_the_bound_named() -> None:
    many = zipped({f"f{i}.txt": b"x" for i in range(1001)}, method=zipfile.ZIP_STORED)
    parsed = read(sent(many, "many.zip"))[1]
    assert parsed.outcome is Outcome.refused and "more than 1000 files" in (parsed.reason or "")
    noise = os.urandom(300_000)  # incompressible: no ratio to catch, only the total
    big = zipped({"a.bin": noise, "b.bin": noise})
    parsed = read(sent(big, "big.zip"), Limits(max_archive_bytes=500_000))[1]
    assert parsed.outcome is Outcome.refused
    assert "expand to more than 500000 bytes (reached in big.zip/b.bin)" in (parsed.reason or "")


def test_damaged_encrypted_and_unsupported_archives_go_to_a_person_with_the_problem_named() -> None:
    good = zipped({"urls.csv": TABLE})
    damaged = good[:30] + b"\xff" * 40 + good[70:]
    encrypted = bytearray(good)
    encrypted[6] |= 0x1  # the local header's flag; the central directory's too
    central = bytes(encrypted).rfind(b"PK\x01\x02")
    encrypted[central + 8] |= 0x1
    for data, filename in (
        (damaged, "urls.zip"),
        (bytes(encrypted), "urls.zip"),
        (b"Rar!\x1a\x07\x00", "u.rar"),
    ):
        view, parsed = read(sent(data, filename, "application/octet-stream"))
        assert parsed.outcome is Outcome.triage, filename
        assert f"archives could not be opened ({filename})" in (parsed.reason or ""), parsed.reason
        assert filename == "u.rar" or any(filename in problem for problem in view.problems), view.problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_archives_of_every_kind_get_an_outcome_and_never_raise(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["zip", "gz", "bz2", "xz", "tgz"]))
    pristine = {
        "zip": zipped({"urls.csv": TABLE, "n.xml": samples.acns_xml().encode()}),
        "gz": gzip.compress(TABLE),
        "bz2": bz2.compress(TABLE),
        "xz": lzma.compress(TABLE),
        "tgz": tarred({"urls.csv": TABLE}),
    }[kind]
    damaged = bytearray(pristine)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(damaged) // 2, len(damaged)))
    _view, parsed = read(sent(bytes(damaged[:cut]), f"urls.{kind}", "application/octet-stream"))
    assert parsed.outcome in Outcome


@pytest.mark.parametrize("members", [1, 999])
def test_opening_is_linear_in_the_files(members: int) -> None:
    files = {f"f{i}.txt": b"http://manga.demo.test/x.jpg\n" for i in range(members)}
    with hard_timeout(5):
        view, _parsed = classify(sent(zipped(files), "m.zip"))
    assert len(view.texts) == members + 1


def test_a_forwarded_message_nesting_multiparts_hundreds_deep_is_refused_in_linear_time() -> None:
    opened = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        for level in range(400)
    )
    forwarded = b"From: a@example.org\r\n" + opened + b"\r\n" + b"x\r\n" * 600_000
    with hard_timeout(5):
        _view, parsed = classify(sent(zipped({"fwd.eml": forwarded}, method=zipfile.ZIP_STORED), "fwd.zip"))
    assert parsed.outcome is Outcome.refused and "deeper than 4 levels" in (parsed.reason or "")


def test_a_sender_field_nesting_comments_is_received_and_read(database: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=str(database.engine.url))
    raw = b"From: " + b"(" * 5_000 + b"a@example.org\r\nSubject: x\r\n\r\n" + URL.encode()
    message_id = service.receive(database, raw, via="smtp", now=datetime.now(UTC), settings=settings)
    status = service.process_one(database, message_id, now=datetime.now(UTC), settings=settings)
    assert status is InboundStatus.notice


def test_a_bomb_received_is_refused_with_its_reason_and_kept_raw(database: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=str(database.engine.url))
    raw = sent(zipped({"zeros.csv": bytes(8 * 1024 * 1024)}), "urls.zip")
    with hard_timeout(20):
        message_id = service.receive(database, raw, via="smtp", now=datetime.now(UTC), settings=settings)
        status = service.process_one(database, message_id, now=datetime.now(UTC), settings=settings)
    assert status is InboundStatus.refused
    with database.reader() as session:
        row = service.get(session, message_id)
        assert row is not None and row.raw == raw
        assert "urls.zip/zeros.csv is a compression bomb" in (row.reason or "")
