"""URL canonicalization: every spelling of one resource maps to one canonical form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.urls import (
    URLError,
    block_key,
    canonical_host,
    canonicalize_target,
    canonicalize_url,
    is_plain_target,
    split_host_port,
)
from tests.support import hard_timeout

SAME = [
    ("HTTP://Manga.Demo.Test/a.jpg", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test:80/a.jpg", "http://manga.demo.test/a.jpg"),
    ("https://manga.demo.test:443/a.jpg", "https://manga.demo.test/a.jpg"),
    ("http://manga.demo.test:/a.jpg", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test./a.jpg", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test/%61%2E%6a%70%67", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test/%7e%2d%5F", "http://manga.demo.test/~-_"),
    ("http://manga.demo.test/a%2fb%3f", "http://manga.demo.test/a%2Fb%3F"),
    ("http://manga.demo.test/x/./y/../a.jpg", "http://manga.demo.test/x/a.jpg"),
    ("http://manga.demo.test/x/%2e%2E/a.jpg", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test/x/.%2e/a.jpg", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test/../../a.jpg", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test//x///a.jpg", "http://manga.demo.test/x/a.jpg"),
    ("http://manga.demo.test\\x\\a.jpg", "http://manga.demo.test/x/a.jpg"),
    ("http://manga.demo.test/a.jpg#page=2", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test/a.jpg?", "http://manga.demo.test/a.jpg"),
    ("http://manga.demo.test", "http://manga.demo.test/"),
    ("http://manga.demo.test/a b", "http://manga.demo.test/a%20b"),
    ("http://manga.demo.test/é", "http://manga.demo.test/%C3%A9"),
    ("http://manga.demo.test/%c3%a9", "http://manga.demo.test/%C3%A9"),
    ("http://manga.demo.test/a?x=%7e&y=a+b", "http://manga.demo.test/a?x=~&y=a+b"),
    ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://B%C3%BCcher.example/", "http://xn--bcher-kva.example/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://[0:0::1]:8080/", "http://[::1]:8080/"),
    ("  http://manga.demo.test/a  ", "http://manga.demo.test/a"),
    ("http:///manga.demo.test/a", "http://manga.demo.test/a"),  # browsers skip extra slashes too
]


@pytest.mark.parametrize(("raw", "canonical"), SAME)
def test_equivalent_spellings(raw: str, canonical: str) -> None:
    assert canonicalize_url(raw.replace(" b", "%20b") if raw.endswith("a b") else raw).url == canonical


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("ftp://x.test/a", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("javascript:alert(1)", "scheme_not_allowed"),
        ("x.test/a", "scheme_not_allowed"),
        ("http:/x.test/a", "missing_host"),
        ("http://", "missing_host"),
        ("http://?q", "missing_host"),
        ("http://user@x.test/a", "credentials_in_url"),
        ("http://u:p@x.test/a", "credentials_in_url"),
        ("http://x.test:0/", "invalid_port"),
        ("http://x.test:65536/", "invalid_port"),
        ("http://x.test:8o/", "invalid_port"),
        ("http://x.test/%zz", "invalid_percent_encoding"),
        ("http://x.test/%4", "invalid_percent_encoding"),
        ("http://x.test/a\nb", "invalid_characters"),
        ("http://x.test/a\x00", "invalid_characters"),
        ("http://a..b/", "invalid_host"),
        ("http://[::g]/", "invalid_host"),
        ("http://" + "a" * 64 + ".test/", "invalid_host"),
        ("http://x.test/" + "a" * 9000, "too_long"),
    ],
)
def test_rejections_have_codes(raw: str, code: str) -> None:
    with pytest.raises(URLError) as info:
        canonicalize_url(raw)
    assert info.value.code == code
    assert info.value.message


def test_query_and_trailing_slash_are_kept_apart() -> None:
    assert canonicalize_url("http://x.test/a/").target == "/a/"
    assert canonicalize_url("http://x.test/a").target == "/a"
    assert canonicalize_url("http://x.test/a?b=1&a=2").target == "/a?b=1&a=2"
    assert canonicalize_url("http://x.test/A").target == "/A"


def test_targets_for_the_edge() -> None:
    url = canonicalize_target("/chapter-1/page-01.jpg", host="Manga.Demo.Test:8000")
    assert (url.host, url.port, url.target) == ("manga.demo.test", 8000, "/chapter-1/page-01.jpg")
    assert canonicalize_target("/a/%2e%2e/b?x#f", host="x.test").target == "/b?x"
    assert canonicalize_target("http://other.test/a", host="x.test").host == "other.test"
    with pytest.raises(URLError):
        canonicalize_target("*", host="x.test")
    assert split_host_port("[::1]:80") == ("[::1]", 80)
    assert canonical_host("WWW.Example.COM:443") == "www.example.com"


UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
segment = st.text(alphabet=UNRESERVED + "é!$&'()*+,;=:@ ", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
paths = st.lists(segment, min_size=1, max_size=5)


def respell(segments: list[str], data: st.DataObject) -> str:
    out = []
    for seg in segments:
        chars = []
        for ch in seg:
            if ch in UNRESERVED and data.draw(st.booleans()):
                chars.append(f"%{ord(ch):02x}" if data.draw(st.booleans()) else f"%{ord(ch):02X}")
            elif ch == " ":
                chars.append("%20")
            else:
                chars.append(ch)
        if data.draw(st.booleans()):
            out.append(".")
        if data.draw(st.booleans()):
            out.extend(["zz", ".."])
        out.append("".join(chars))
    slash = "//" if data.draw(st.booleans()) else "/"
    return slash + slash.join(out)


@given(paths, st.data())
def test_every_spelling_maps_to_one_resource(segments: list[str], data: st.DataObject) -> None:
    plain = "/" + "/".join(s.replace(" ", "%20") for s in segments)
    expected = canonicalize_url("http://host.example.test" + plain)
    host = "".join(c.upper() if data.draw(st.booleans()) else c for c in "host.example.test")
    port = data.draw(st.sampled_from(["", ":80", ":"]))
    scheme = data.draw(st.sampled_from(["http", "HTTP", "Http"]))
    spelled = f"{scheme}://{host}{port}{respell(segments, data)}"
    assert canonicalize_url(spelled) == expected
    assert canonicalize_target(respell(segments, data), host=host + port) == expected


@given(st.text(max_size=60))
def test_canonical_forms_are_fixed_points(tail: str) -> None:
    try:
        first = canonicalize_url("https://x.test/" + tail)
    except URLError:
        return
    assert canonicalize_url(first.url) == first
    assert first.url.isascii()
    assert "//" not in first.path and "/./" not in first.path and "/../" not in first.path


def test_a_backslash_in_the_query_is_kept_as_the_edge_keeps_it() -> None:
    noticed = canonicalize_url("http://x.test/a\\b?q=a\\b#f\\g")
    assert noticed.target == "/a/b?q=a%5Cb"
    assert canonicalize_target("/a\\b?q=a\\b", host="x.test") == noticed
    assert canonicalize_target("/a/b?q=a%5Cb", host="x.test") == noticed


def test_origin_form_targets_are_never_taken_for_absolute_ones() -> None:
    assert canonicalize_target("/e/a://b", host="x.test").target == "/e/a:/b"
    assert canonicalize_target("/x#?v=1", host="x.test").target == "/x"  # the fragment goes first
    assert canonicalize_target("HTTP://Other.Test:80/a", host="").host == "other.test"


@pytest.mark.parametrize(
    ("spelling", "blocked"),
    [
        ("/extra%2Fdoc.txt", "/extra/doc.txt"),
        ("/extra/doc.txt%2F", "/extra/doc.txt"),
        ("/%2Fextra/doc.txt", "/extra/doc.txt"),
        ("/extra/x%2F..%2Fdoc.txt", "/extra/doc.txt"),
        ("/extra/x%5C..%5Cdoc.txt", "/extra/doc.txt"),
        ("/extra/doc.txt/", "/extra/doc.txt"),
        ("/chapter-3", "/chapter-3/"),
        ("/extra/x!y.txt", "/extra/x%21y.txt"),
        ("/extra/a%2Bb.txt", "/extra/a+b.txt"),
        ("/a%3Ab%40c%3Bd%3De%2Cf%27g%28h%29%2A%26%24", "/a:b@c;d=e,f'g(h)*&$"),
        ("/a%2Fb?q=1", "/a/b?q=1"),
        ("/a?next=%2Fb%3Fc%3A%40", "/a?next=/b?c:@"),
    ],
)
def test_blocks_match_what_origins_decode(spelling: str, blocked: str) -> None:
    """Origins decode escaped slashes and sub-delimiters in a path before they look a file up, and
    ignore a trailing slash: a block on one spelling must catch the others."""

    def key(target: str) -> str:
        return block_key(canonicalize_target(target, host="x.test").target)

    assert key(spelling) == key(blocked)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("/a/Doc.txt", "/a/doc.txt"),  # paths are case-sensitive
        ("/a%252Fb", "/a/b"),  # a double escape is a literal "%2F"
        ("/a?q=a+b", "/a?q=a%2Bb"),  # in a query "+" may mean a space
        ("/a?x=1%26y=2", "/a?x=1&y=2"),
        ("/a?x%3D1", "/a?x=1"),
        ("/a;x", "/a"),
    ],
)
def test_distinct_resources_keep_distinct_block_keys(one: str, other: str) -> None:
    def key(target: str) -> str:
        return block_key(canonicalize_target(target, host="x.test").target)

    assert key(one) != key(other)


@given(st.text(max_size=60))
def test_block_keys_are_fixed_points(tail: str) -> None:
    try:
        target = canonicalize_url("https://x.test/" + tail).target
    except URLError:
        return
    key = block_key(target)
    assert block_key(key) == key
    assert block_key(canonicalize_url("https://x.test" + key).target) == key


# Request targets an attacker controls: every one is answered in time linear in its length. The
# bound is a guard (the old fast-path pattern took 30 s on a 24-character segment before a "?").
SEGMENT_CHARS = "aZ09_~!$&'()*+,;=:@-"
ADVERSARIAL_TARGETS = [
    "/test/" + "a" * 24 + "?x=1",
    "/test/" + "a" * 60_000 + "?",
    "/" + "a." * 30_000 + "?",
    "/" + "a" * 40_000 + "%",
    "/" + "a/" * 30_000 + ".?",
    "/" + "." * 60_000,
    "/" + "/" * 60_000 + "x",
    "/" + "%2e%2E/" * 9_000,
    "/" + "%41" * 20_000,
    "/" + "..%2f" * 12_000,
    "/" + "\\" * 60_000,
    "/" + "a" * 30_000 + "?" + "&=%7e" * 6_000,
]


@pytest.mark.parametrize("target", ADVERSARIAL_TARGETS, ids=lambda t: f"{t[:12]}…{len(t)}")
def test_adversarial_targets_are_answered_at_once(target: str) -> None:
    with hard_timeout(2.0):
        for host in ("manga.demo.test", "x" * 250 + ".test"):
            try:
                url = canonicalize_target(target, host=host, max_length=65_536)
            except URLError:
                continue
            block_key(url.target)


@given(
    st.text(alphabet=SEGMENT_CHARS + "./%?\\#", min_size=1, max_size=200),
    st.integers(min_value=1, max_value=300),
    st.sampled_from(["?", "#", " ", "%", "é", "\x00", "."]),
)
def test_repeated_characters_then_an_outsider_stay_linear(unit: str, times: int, tail: str) -> None:
    target = "/" + unit * times + tail
    with hard_timeout(2.0):
        try:
            url = canonicalize_target(target[:65_536], host="manga.demo.test", max_length=65_536)
        except URLError:
            return
        block_key(url.target)


@pytest.mark.parametrize(
    "host", ["a" * 64_000, "[" + ":" * 60_000, "1." * 30_000, "%41" * 20_000, "x." * 30_000 + ":80"]
)
def test_adversarial_hosts_are_refused_at_once(host: str) -> None:
    with hard_timeout(2.0), pytest.raises(URLError):
        split_host_port(host)


def test_a_plain_target_is_taken_as_it_is_and_any_other_is_canonicalised() -> None:
    for plain in ["/", "/a", "/a/b.c/d-e_f~g", "/a/", "/x.y.z"]:
        assert is_plain_target(plain), plain
        assert canonicalize_target(plain, host="x.test").target == plain
    for other in ["", "a", "//a", "/a//b", "/./a", "/a/.", "/a/..", "/.a", "/a./b", "/a..b", "/a?", "/%41"]:
        assert not is_plain_target(other), other
