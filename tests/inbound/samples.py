"""Messages as notice senders send them, written from the formats' documentation: ACNS 2.x inline,
attached, PGP-signed, with quirky timestamps, P2P and HTTP sources; X-ARF v4; CSV; English letters
and Japanese ones in ISO-2022-JP and Shift_JIS."""

from __future__ import annotations

import json
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP, compat32
from email.utils import make_msgid

STATEMENTS = (
    "I have a good faith belief that use of the copyrighted materials described above is not "
    "authorized by the copyright owner, its agent, or the law.\n"
    "I swear, under penalty of perjury, that the information in this notification is accurate and "
    "that I am authorized to act on behalf of the owner of an exclusive right that is allegedly infringed.\n"
)


def acns_xml(
    *,
    case_id: str = "A1234567",
    timestamp: str = "2015-05-06T05-00-00UTC",
    urls: tuple[str, ...] = ("http://manga.demo.test/chapter-1/page-01.jpg",),
    p2p: bool = False,
    entities: str = "",
) -> str:
    """An ACNS 2.x ``Infringement`` document (elements per the ACNS 2.0 schema)."""
    if p2p:
        source = (
            f"<TimeStamp>{timestamp}</TimeStamp><IP_Address>192.0.2.44</IP_Address><Port>51413</Port>"
            '<Type>BitTorrent</Type><SubType BaseType="P2P" Protocol="BITTORRENT"/>'
            "<Number_Files>1</Number_Files><Peer_ID>-UT3450-abcdef</Peer_ID><Deja_Vu>No</Deja_Vu>"
        )
        items = "<Item><TimeStamp>2015-05-06T04:58:12Z</TimeStamp><Title>Demo Movie</Title>" + (
            "<FileName>Demo.Movie.2015.mkv</FileName><Hash Type='SHA1'>" + "a" * 40 + "</Hash></Item>"
        )
    else:
        source = (
            f"<TimeStamp>{timestamp}</TimeStamp><IP_Address>203.0.113.9</IP_Address>"
            f'<Type>HTTP</Type><SubType BaseType="HTTP" Protocol="HTTP"/><URL_Base>{urls[0]}</URL_Base>'
        )
        items = "".join(
            f"<Item><TimeStamp>2015-05-06T04:58:12Z</TimeStamp><Title>Demo Manga vol. 1</Title>"
            f"<URL>{url}</URL><Type>Image</Type></Item>"
            for url in urls
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>{entities}
<Infringement xmlns="http://www.acns.net/ACNS" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:schemaLocation="http://www.acns.net/ACNS http://www.acns.net/v1.2/ACNS2v1_2.xsd">
  <Case><ID>{case_id}</ID><Status>Open</Status><Severity>Normal</Severity></Case>
  <Complainant>
    <Entity>Demo Studios</Entity><Contact>Anti-Piracy Operations</Contact>
    <Address>100 Universal City Plaza, Universal City, CA 91608</Address>
    <Phone>+1 818 555 0100</Phone><Email>antipiracy@studios.example</Email>
  </Complainant>
  <Service_Provider><Entity>staydown</Entity><Email>abuse@staydown.invalid</Email></Service_Provider>
  <Source>{source}</Source>
  <Content>{items}</Content>
</Infringement>"""


def acns_letter(xml: str, *, signed: bool = False) -> str:
    letter = (
        "Dear Sir or Madam,\n\nWe have identified the material below on your network.\n\n"
        + STATEMENTS
        + "\nSincerely,\nAnti-Piracy Operations\nDemo Studios\n\n"
        + "----Start ACNS XML\n"
        + xml
        + "\n----End ACNS XML\n"
    )
    if not signed:
        return letter
    dashed = "\n".join("- " + line if line.startswith("-") else line for line in letter.splitlines())
    return (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
        + dashed
        + "\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n"
    )


def message(
    body: str,
    *,
    sender: str = "Anti-Piracy Operations <antipiracy@studios.example>",
    subject: str = "Notice of Claimed Infringement",
    message_id: str | None = None,
    charset: str = "utf-8",
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "abuse@staydown.invalid"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id or make_msgid(domain="studios.example")
    mail.set_content(body, charset=charset)
    return mail.as_bytes(policy=SMTP)


def with_attachment(
    body: str, data: bytes, filename: str, mime: str, *, message_id: str | None = None
) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Rights Agent <agent@rights.example>"
    mail["To"] = "abuse@staydown.invalid"
    mail["Subject"] = "Copyright infringement notice"
    mail["Message-ID"] = message_id or make_msgid(domain="rights.example")
    mail.set_content(body)
    maintype, subtype = mime.split("/")
    mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes(policy=SMTP)


def xarf(
    *,
    report_id: str = "f4b4d4a0-3c3b-4b8e-9d55-6c1b2a7e9f10",
    url: str | None = None,
    urls: list[str] | None = None,
) -> bytes:
    report = {
        "xarf_version": "4.0.0",
        "report_id": report_id,
        "timestamp": "2026-11-02T08:00:00Z",
        "reporter": {"org": "Rights Agency", "contact": "xarf@rights.example", "domain": "rights.example"},
        "sender": {"org": "Rights Agency", "contact": "xarf@rights.example"},
        "source_identifier": "203.0.113.9",
        "category": "copyright",
        "type": "copyright",
        "evidence_source": "manual_analysis",
        "work_title": "Demo Manga vol. 1",
        "rights_holder": "Manga Publisher",
    }
    if url:
        report["infringing_url"] = url
    if urls is not None:
        report["infringing_urls"] = urls
    body = (
        "This is an X-ARF report of copyright infringement.\n\n" + STATEMENTS + "\nSincerely,\nRights Agent\n"
    )
    return with_attachment(body, json.dumps(report).encode(), "report.json", "application/json")


ENGLISH = (
    "To whom it may concern,\n\n"
    "I am writing on behalf of Manga Publisher. The following pages are unauthorised copies of our work:\n"
    "{urls}\n\n"
    "Work: Demo Manga, volume 1\n"
    + STATEMENTS
    + "\nName: Rights Agent\nAddress: 2-1 Otemachi, Chiyoda-ku, Tokyo\nPhone: +81 3 1111 2222\n\n"
    "Sincerely,\nRights Agent\n"
)

JAPANESE = (
    "株式会社ステイダウン 御中\n\n"
    "拝啓\n当社が著作権を有する下記の作品が、貴社のサービス上で権利者の許諾なく公開されており、"
    "著作権（公衆送信権）の権利侵害にあたります。送信防止措置を講じていただきますよう申し出ます。\n\n"
    "作品名：デモ漫画 第1巻\n"
    "侵害URL：{urls}\n\n"
    "上記の情報は正確であり、当社は本件について権限を有する権利者本人です。誠実に信じて申し出ます。\n\n"
    "氏名：山田 太郎\n住所：東京都千代田区大手町2-1\n電話番号：03-1111-2222\n"
    "敬具\n山田 太郎\n"
)


def japanese(urls: str, *, charset: str) -> bytes:
    """A Japanese letter in its real encoding: ISO-2022-JP (7-bit) or Shift_JIS (8-bit)."""
    text = JAPANESE.format(urls=urls)
    part = MIMEText(text, "plain", charset)
    outer = MIMEMultipart()
    outer["From"] = Header("山田 太郎", charset).encode() + " <yamada@publisher.example.jp>"
    outer["To"] = "abuse@staydown.invalid"
    outer["Subject"] = Header("著作権侵害の申出", charset).encode()
    outer["Message-ID"] = make_msgid(domain="publisher.example.jp")
    outer.attach(part)
    return outer.as_bytes(policy=compat32.clone(linesep="\r\n"))
