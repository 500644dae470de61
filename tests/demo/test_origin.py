"""The demo origin over a real socket on 127.0.0.1: content types, validators, ranges, HEAD, 404s,
no way out of its root, challenge files, any Host, and a clean stop."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import anyio
import httpx
import pytest

from staydown.demo.origin import RunningOrigin, make_origin_app, run_origin_in_thread
from staydown.demo.site import generate_site

SECRET = "secret-outside-the-root"
TOKEN = "dcv-token-9f2c41"


def raw_request(origin: RunningOrigin, target: bytes, headers: bytes = b"Host: manga.demo.test\r\n") -> bytes:
    """Send a request line exactly as given (httpx would normalise ``..`` away) and read to EOF."""
    with socket.create_connection((origin.host, origin.port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\n" + headers + b"Connection: close\r\n\r\n")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("origin")
    root = base / "site"
    assets = generate_site(root, seed=4, chapters=2, pages_per_chapter=3)
    (base / "secret.txt").write_text(SECRET)
    (base / "secret-dir").mkdir()
    (base / "secret-dir" / "inside.txt").write_text(SECRET)
    challenge = root / ".well-known" / "staydown-challenge"
    challenge.mkdir(parents=True)
    (challenge / TOKEN).write_text(TOKEN)
    (challenge / ".hidden").write_text(SECRET)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(SECRET)
    (root / "chapter-1" / ".draft.txt").write_text(SECRET)
    (root / "leak.txt").symlink_to(base / "secret.txt")
    (root / "leak-dir").symlink_to(base / "secret-dir", target_is_directory=True)
    (root / "hidden-link.txt").symlink_to(root / ".git" / "config")
    (root / "cover.jpg").symlink_to(root / "chapter-1" / "page-01.jpg")  # inside the root: fine
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    return root, assets


@pytest.fixture(scope="module")
def origin(site: tuple[Path, list[str]]) -> Iterator[RunningOrigin]:
    with run_origin_in_thread(site[0]) as running:
        yield running


@pytest.fixture
def client(origin: RunningOrigin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=origin.url, timeout=5) as http:
        yield http


def test_url_names_the_real_port(origin: RunningOrigin) -> None:
    assert origin.port != 0
    assert origin.url == f"http://127.0.0.1:{origin.port}"


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/chapter-1/page-01.jpg", "image/jpeg", "public, max-age=3600"),
        ("/chapter-1/page-02.png", "image/png", "public, max-age=3600"),
        ("/chapter-1/page-03.webp", "image/webp", "public, max-age=3600"),
        ("/", "text/html; charset=utf-8", "public, max-age=60"),
        ("/chapter-1/", "text/html; charset=utf-8", "public, max-age=60"),
        ("/chapter-1/index.html", "text/html; charset=utf-8", "public, max-age=60"),
        ("/robots.txt", "text/plain; charset=utf-8", "public, max-age=60"),
        (f"/.well-known/staydown-challenge/{TOKEN}", "text/plain; charset=utf-8", "public, max-age=60"),
    ],
)
def test_content_types_validators_and_cache_control(
    client: httpx.Client, site: tuple[Path, list[str]], path: str, content_type: str, cache: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == cache
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")
    file = site[0] / path.lstrip("/")
    assert response.content == (file / "index.html" if path.endswith("/") else file).read_bytes()


def test_every_generated_asset_is_served(client: httpx.Client, site: tuple[Path, list[str]]) -> None:
    for asset in site[1]:
        assert client.get(asset).status_code == 200, asset


def test_challenge_file_is_served_as_written(client: httpx.Client) -> None:
    response = client.get(f"/.well-known/staydown-challenge/{TOKEN}")
    assert response.text == TOKEN
    assert response.headers["content-type"].startswith("text/plain")


def test_conditional_requests_get_304(client: httpx.Client) -> None:
    path = "/chapter-1/page-02.png"
    first = client.get(path)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    for headers in (
        {"if-none-match": etag},
        {"if-none-match": f'"other", W/{etag}'},
        {"if-none-match": "*"},
        {"if-modified-since": last_modified},
        {"if-modified-since": formatdate(time.time() + 60, usegmt=True)},
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 304, headers
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == "public, max-age=3600"
    assert client.get(path, headers={"if-none-match": '"stale"'}).status_code == 200
    assert client.get(path, headers={"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status_code == 200
    html = client.get("/chapter-1/")
    assert client.get("/chapter-1/", headers={"if-none-match": html.headers["etag"]}).status_code == 304


def test_ranges_get_206(client: httpx.Client, site: tuple[Path, list[str]]) -> None:
    path = "/chapter-1/page-01.jpg"
    body = (site[0] / path.lstrip("/")).read_bytes()
    response = client.get(path, headers={"range": "bytes=10-109"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 10-109/{len(body)}"
    assert response.content == body[10:110]
    assert response.headers["content-type"] == "image/jpeg"
    suffix = client.get(path, headers={"range": "bytes=-50"})
    assert (suffix.status_code, suffix.content) == (206, body[-50:])
    etag = response.headers["etag"]
    assert client.get(path, headers={"range": "bytes=0-9", "if-range": etag}).status_code == 206
    stale = client.get(path, headers={"range": "bytes=0-9", "if-range": '"stale"'})
    assert (stale.status_code, stale.content) == (200, body)
    beyond = client.get(path, headers={"range": f"bytes={len(body) + 10}-"})
    assert beyond.status_code == 416


def test_head_has_the_headers_and_no_body(client: httpx.Client) -> None:
    path = "/chapter-1/page-03.webp"
    get, head = client.get(path), client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == get.headers[name], name
    assert int(head.headers["content-length"]) == len(get.content)
    assert client.head("/missing.jpg").status_code == 404


def test_missing_files_are_404_and_not_cached(client: httpx.Client) -> None:
    for path in ("/missing.jpg", "/chapter-9/", "/chapter-1/page-99.png", "/leak-dir/", "/loop-a"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["cache-control"] == "no-store"


def test_only_get_and_head(client: httpx.Client) -> None:
    response = client.post("/chapter-1/page-01.jpg", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_directories_serve_their_index_and_redirect_without_the_slash(
    client: httpx.Client, origin: RunningOrigin, site: tuple[Path, list[str]]
) -> None:
    assert client.get("/chapter-1/").content == (site[0] / "chapter-1" / "index.html").read_bytes()
    assert client.get("/").content == (site[0] / "index.html").read_bytes()
    redirect = client.get("/chapter-1?from=toc")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/chapter-1/?from=toc"  # relative: no Host in it
    assert (
        b"location: /chapter-1/\r\n" in raw_request(origin, b"/chapter-1", b"Host: evil.example\r\n").lower()
    )
    # A path that starts with // must not become a scheme-relative (other host) Location.
    assert b"location: /chapter-1/\r\n" in raw_request(origin, b"//chapter-1").lower()


@pytest.mark.parametrize(
    "target",
    [
        b"/../secret.txt",
        b"/chapter-1/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/%2E%2E/%2e%2e/secret.txt",
        b"/..%2fsecret.txt",
        b"/chapter-1/%2e%2e%2f%2e%2e%2fsecret.txt",
        b"/..\\secret.txt",
        b"//etc/passwd",
        b"/etc/passwd",
        b"/%2fetc%2fpasswd",
        b"http://manga.demo.test/../secret.txt",
        b"/leak.txt",
        b"/leak-dir/inside.txt",
        b"/hidden-link.txt",
        b"/.git/config",
        b"/.git/",
        b"/chapter-1/.draft.txt",
        b"/.well-known/staydown-challenge/.hidden",
        b"/.well-known/../.git/config",
        b"/.staydown-site.json",
        b"/chapter-1/%00.jpg",
        b"/" + b"a" * 4000,
    ],
)
def test_no_way_out_of_the_root_and_no_hidden_files(origin: RunningOrigin, target: bytes) -> None:
    response = raw_request(origin, target)
    status = response.split(b"\r\n", 1)[0]
    assert status in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request"), (target, status)
    assert SECRET.encode() not in response
    assert b"root:" not in response


def test_symlinks_inside_the_root_are_followed(client: httpx.Client, site: tuple[Path, list[str]]) -> None:
    response = client.get("/cover.jpg")
    assert response.status_code == 200
    assert response.content == (site[0] / "chapter-1" / "page-01.jpg").read_bytes()


def test_the_host_header_is_ignored(
    origin: RunningOrigin, client: httpx.Client, site: tuple[Path, list[str]]
) -> None:
    path = next(asset for asset in site[1] if asset.startswith("/chapter-2/") and asset.endswith(".webp"))
    expected = (site[0] / path.lstrip("/")).read_bytes()
    for host in ("manga.demo.test", "photos.demo.test", "evil.example", f"127.0.0.1:{origin.port}"):
        response = client.get(path, headers={"host": host})
        assert (response.status_code, response.content) == (200, expected), host
    for headers in (b"Host: \r\n", b"Host: [::1]:80\r\n", b""):
        response = raw_request(origin, path.encode(), headers)
        assert response.startswith(b"HTTP/1.1 200 OK"), headers
        assert response.endswith(expected)


def test_make_origin_app_creates_the_root_and_serves_in_process(tmp_path: Path) -> None:
    root = tmp_path / "new" / "root"
    app = make_origin_app(root)
    assert root.is_dir()
    (root / "a.png").write_bytes(b"\x89PNG fake")
    transport = httpx.ASGITransport(app=app)

    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://anything.test") as http:
            return await http.get("/a.png")

    response = anyio.run(fetch)
    assert (response.status_code, response.headers["content-type"]) == (200, "image/png")


def test_stop_is_clean_even_with_an_open_connection(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    origin = run_origin_in_thread(tmp_path)
    with httpx.Client(base_url=origin.url) as http:  # keep-alive: the connection stays open
        assert http.get("/").status_code == 200
        start = time.monotonic()
        origin.stop()
        assert time.monotonic() - start < 3
    assert not origin.thread.is_alive()
    assert origin.sock.fileno() == -1
    with pytest.raises(OSError):
        socket.create_connection((origin.host, origin.port), timeout=1).close()
    origin.stop()  # twice is harmless


def test_an_explicit_port_and_ipv6(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with run_origin_in_thread(tmp_path, port=port) as origin:
        assert origin.url == f"http://127.0.0.1:{port}"
        assert httpx.get(origin.url + "/nothing").status_code == 404
    try:
        ipv6 = run_origin_in_thread(tmp_path, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with ipv6:
        assert ipv6.url == f"http://[::1]:{ipv6.port}"
        assert httpx.get(ipv6.url + "/nothing").status_code == 404
