"""The demo sites on disk: every asset exists, formats rotate, links resolve, HTML is small, valid
and escaped, and generating again gives the same bytes without touching unchanged files."""

from __future__ import annotations

import filecmp
import html
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from staydown.demo.site import MANIFEST, generate_photo_site, generate_site

VOID = {"meta", "img", "br", "hr", "link", "input"}
PIL_FORMATS = {".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


class Document(HTMLParser):
    """Collects links, images and the title, and checks that every tag is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.links: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.title = ""
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a":
            self.links.append(attributes["href"] or "")
        if tag == "img":
            self.images.append(attributes)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "title":
            self.title += data


def parse(path: Path) -> Document:
    document = Document()
    document.feed(path.read_text(encoding="utf-8"))
    document.close()
    assert document.open == [], f"unclosed tags in {path}: {document.open}"
    assert document.doctype.lower() == "doctype html"
    return document


def on_disk(root: Path, url_path: str) -> Path:
    assert url_path.startswith("/")
    path = root / url_path.lstrip("/")
    return path / "index.html" if url_path.endswith("/") else path


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("manga")
    return root, generate_site(root, seed=3, chapters=2, pages_per_chapter=4, title="Demo Manga")


def test_every_asset_exists_images_first_then_html(site: tuple[Path, list[str]]) -> None:
    root, assets = site
    assert len(assets) == len(set(assets)) == 2 * 4 + 3
    kinds = ["image" if Path(a).suffix in PIL_FORMATS else "html" for a in assets]
    assert kinds == ["image"] * 8 + ["html"] * 3
    assert assets[:5] == [
        "/chapter-1/page-01.jpg",
        "/chapter-1/page-02.png",
        "/chapter-1/page-03.webp",
        "/chapter-1/page-04.jpg",
        "/chapter-2/page-01.webp",  # each chapter shifts the rotation by one
    ]
    assert assets[8:] == ["/", "/chapter-1/", "/chapter-2/"]
    for asset in assets:
        assert on_disk(root, asset).is_file(), asset
    assert (root / "robots.txt").read_text() == "User-agent: *\nAllow: /\n"


def test_formats_rotate_and_images_decode_as_what_they_claim(site: tuple[Path, list[str]]) -> None:
    root, assets = site
    images = [a for a in assets if Path(a).suffix in PIL_FORMATS]
    assert {Path(a).suffix for a in images} == set(PIL_FORMATS)
    modes = []
    for asset in images:
        with Image.open(on_disk(root, asset)) as image:
            assert image.format == PIL_FORMATS[Path(asset).suffix]
            assert image.size == (1000, 1400)
            modes.append(image.mode)
    assert modes[0] == "RGB"  # the first page is the colour cover


def test_html_is_valid_and_its_links_resolve_to_files(site: tuple[Path, list[str]]) -> None:
    root, assets = site
    index = parse(root / "index.html")
    assert index.links == ["/chapter-1/", "/chapter-2/"]
    seen_images = []
    for chapter in ("/chapter-1/", "/chapter-2/"):
        path = on_disk(root, chapter)
        assert path.stat().st_size < 4096  # small
        document = parse(path)
        for link in document.links:
            assert on_disk(root, link).is_file(), link
        for image in document.images:
            assert on_disk(root, image["src"] or "").is_file()
            assert (image["width"], image["height"]) == ("1000", "1400")
            assert image["alt"]
            seen_images.append(image["src"])
    assert seen_images == [a for a in assets if Path(a).suffix in PIL_FORMATS]
    text = (root / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in text
    assert '<meta charset="utf-8">' in text


def test_the_title_is_escaped_everywhere(tmp_path: Path) -> None:
    title = 'Tom & "Jerry" <script>alert(1)</script>'
    generate_site(tmp_path, seed=1, chapters=1, pages_per_chapter=1, title=title)
    for page in (tmp_path / "index.html", tmp_path / "chapter-1" / "index.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>" not in text
        document = parse(page)
        assert document.title.startswith(title)
        assert document.images == [] or html.unescape(str(document.images[0]["alt"])).startswith(title)


def test_generation_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assets = generate_site(first, seed=5, chapters=1, pages_per_chapter=3)
    assert generate_site(second, seed=5, chapters=1, pages_per_chapter=3) == assets
    comparison = filecmp.dircmp(first, second)
    assert comparison.diff_files == [] and comparison.left_only == [] and comparison.right_only == []
    assert all(
        filecmp.cmp(on_disk(first, a), on_disk(second, a), shallow=False) for a in assets
    )  # byte for byte, from scratch: nothing depends on the time or the process
    before = snapshot(first)
    assert generate_site(first, seed=5, chapters=1, pages_per_chapter=3) == assets
    assert snapshot(first) == before  # same bytes, and not even rewritten: mtimes (so ETags) stay


def test_a_damaged_or_different_site_is_remade(tmp_path: Path) -> None:
    generate_site(tmp_path, seed=5, chapters=2, pages_per_chapter=2)
    (tmp_path / ".well-known" / "staydown-challenge").mkdir(parents=True)
    (tmp_path / ".well-known" / "staydown-challenge" / "token").write_text("token")
    good = (tmp_path / "chapter-1" / "page-02.png").read_bytes()
    (tmp_path / "chapter-1" / "page-02.png").write_bytes(b"damaged")
    generate_site(tmp_path, seed=5, chapters=2, pages_per_chapter=2)
    assert (tmp_path / "chapter-1" / "page-02.png").read_bytes() == good

    (tmp_path / MANIFEST).write_text("{not json")
    generate_site(tmp_path, seed=5, chapters=2, pages_per_chapter=2)
    assert (tmp_path / "chapter-1" / "page-02.png").read_bytes() == good

    other = generate_site(tmp_path, seed=6, chapters=1, pages_per_chapter=2)
    assert (tmp_path / "chapter-1" / "page-02.png").read_bytes() != good  # another seed, other pages
    assert not (tmp_path / "chapter-2").exists()  # left over from the larger run: removed
    assert (tmp_path / ".well-known" / "staydown-challenge" / "token").read_text() == "token"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("page-*")) == sorted(
        a.lstrip("/") for a in other if "page-" in a
    )


def test_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        generate_site(tmp_path, chapters=0)
    with pytest.raises(ValueError, match="at least one"):
        generate_photo_site(tmp_path, count=0)


def test_photo_gallery(tmp_path: Path) -> None:
    assets = generate_photo_site(tmp_path, seed=2, count=3)
    assert assets == ["/photos/photo-01.jpg", "/photos/photo-02.jpg", "/photos/photo-03.jpg", "/"]
    for asset in assets[:-1]:
        with Image.open(on_disk(tmp_path, asset)) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1024, 768))
    document = parse(tmp_path / "index.html")
    assert [image["src"] for image in document.images] == assets[:-1]
    assert document.title == "Demo Photos"
    before = snapshot(tmp_path)
    assert generate_photo_site(tmp_path, seed=2, count=3) == assets
    assert snapshot(tmp_path) == before


def test_a_manga_and_a_gallery_can_share_a_root(tmp_path: Path) -> None:
    manga = generate_site(tmp_path, seed=8, chapters=1, pages_per_chapter=1)
    photos = generate_photo_site(tmp_path, seed=8, count=1)
    before = snapshot(tmp_path)
    assert generate_site(tmp_path, seed=8, chapters=1, pages_per_chapter=1) == manga
    assert generate_photo_site(tmp_path, seed=8, count=1) == photos
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "index.html"} == {
        k: v for k, v in before.items() if k != "index.html"
    }  # each keeps its own manifest, so neither remakes the other's images (index.html is shared)
