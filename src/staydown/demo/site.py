"""Write the demo sites to disk: a manga with chapters of JPEG, PNG and WebP pages, and a gallery.

Generation is deterministic and idempotent: the same arguments give the same bytes, and a file whose
bytes would not change is not rewritten, so its modification time, and with it the origin's
``ETag`` and ``Last-Modified``, stays put across restarts. Rendering and encoding take seconds
(WebP is slow), so a manifest (``.staydown-site.json``, ``.staydown-photos.json``: dot files, which
the origin never serves) records how each image was made and its SHA-256; an image whose recipe,
renderer source, library versions and bytes are unchanged is not made again. Pages and chapters
left over from a larger earlier run are removed; nothing else under ``root`` (such as
``.well-known``) is touched.
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from PIL import Image

from staydown.demo import pages
from staydown.demo.pages import PageKind, render_page, render_photo

__all__ = ["FORMATS", "PAGE_SIZE", "PHOTO_SIZE", "generate_photo_site", "generate_site"]

PAGE_SIZE = (1000, 1400)
PHOTO_SIZE = (1024, 768)

# (extension, Pillow format, save options); pages rotate through them so every format appears.
FORMATS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("jpg", "JPEG", {"quality": 85}),
    ("png", "PNG", {"compress_level": 6}),
    ("webp", "WEBP", {"quality": 80, "method": 2}),
)
ROBOTS = "User-agent: *\nAllow: /\n"
MANIFEST = ".staydown-site.json"
PHOTO_MANIFEST = ".staydown-photos.json"


def _encode(image: Image.Image, fmt: str, options: dict[str, Any]) -> bytes:
    """The image's bytes; Pillow writes no timestamps, so equal pixels give equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, and not at all when the file already holds exactly these bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")  # a dot name: the origin never serves it
    tmp.write_bytes(data)
    tmp.replace(path)


@functools.cache
def _code_fingerprint() -> str:
    """What the images depend on besides their recipe: the renderer's source and the libraries."""
    digest = hashlib.sha256(Path(pages.__file__).read_bytes())
    digest.update(f"{PIL.__version__}/{np.__version__}".encode())
    return digest.hexdigest()


class _Images:
    """The images of one site root, remade only when their recipe, the code or their bytes differ."""

    def __init__(self, root: Path, manifest: str) -> None:
        self.root = root
        self.manifest = root / manifest
        self.made: dict[str, dict[str, str]] = {}
        self.known: dict[str, dict[str, str]] = {}
        try:
            document = json.loads(self.manifest.read_text(encoding="utf-8"))
            if document["code"] == _code_fingerprint():
                self.known = {str(k): dict(v) for k, v in document["files"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.known = {}

    def make(
        self, path: str, recipe: dict[str, Any], render: Callable[[], Image.Image], fmt: str, **options: Any
    ) -> Path:
        """Make the image at URL path ``path`` unless it is already there, made the same way."""
        target = self.root / path.lstrip("/")
        how = json.dumps({**recipe, "format": fmt, **options}, sort_keys=True)
        entry = self.known.get(path)
        if entry is not None and entry.get("recipe") == how:
            try:
                if hashlib.sha256(target.read_bytes()).hexdigest() == entry.get("sha256"):
                    self.made[path] = entry
                    return target
            except OSError:
                pass
        data = _encode(render(), fmt, options)
        _write(target, data)
        self.made[path] = {"recipe": how, "sha256": hashlib.sha256(data).hexdigest()}
        return target

    def save(self) -> None:
        document = {"code": _code_fingerprint(), "files": self.made}
        _write(self.manifest, json.dumps(document, indent=1, sort_keys=True).encode() + b"\n")


def _document(title: str, body: list[str]) -> bytes:
    lines = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _prune(root: Path, patterns: tuple[str, ...], keep: set[Path]) -> None:
    """Remove files this generator made in an earlier, larger run, and the folders that emptied."""
    emptied: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file() and path not in keep:
                path.unlink()
                emptied.add(path.parent)
    for folder in emptied:
        if not any(folder.iterdir()):
            folder.rmdir()


def page_seed(seed: int, chapter: int, number: int) -> int:
    """The seed :func:`render_page` gets for a page of the site made with ``seed``."""
    return seed * 1_000_000 + chapter * 1_000 + number


def generate_site(
    root: Path, *, seed: int = 7, chapters: int = 3, pages_per_chapter: int = 6, title: str = "Demo Manga"
) -> list[str]:
    """Write a manga site under ``root``: ``index.html`` linking the chapters, ``chapter-N/index.html``
    showing its pages, the pages as ``chapter-N/page-MM.{jpg,png,webp}`` (formats rotate from page
    to page), and ``robots.txt``. The first page of the first chapter is a colour cover, the last
    page of every chapter (of two or more pages) a near-blank credits page, the rest story pages.

    Returns the URL paths of the assets, images first (in reading order), then the HTML pages
    (``/`` and ``/chapter-N/``).
    """
    if chapters < 1 or pages_per_chapter < 1:
        raise ValueError("a site has at least one chapter of at least one page")
    width, height = PAGE_SIZE
    made = _Images(root, MANIFEST)
    images: list[str] = []
    documents: list[str] = ["/"]
    written: set[Path] = set()
    contents: list[str] = []
    index = 0
    for chapter in range(1, chapters + 1):
        tags: list[str] = []
        for number in range(1, pages_per_chapter + 1):
            ext, fmt, options = FORMATS[(index + chapter - 1) % len(FORMATS)]
            index += 1
            kind = PageKind.story
            if chapter == 1 and number == 1:
                kind = PageKind.cover
            elif number == pages_per_chapter and pages_per_chapter > 1:
                kind = PageKind.credits
            path = f"/chapter-{chapter}/page-{number:02d}.{ext}"
            number_seed = page_seed(seed, chapter, number)
            recipe = {"seed": number_seed, "width": width, "height": height, "kind": kind.value}
            render = functools.partial(render_page, number_seed, width=width, height=height, kind=kind)
            written.add(made.make(path, recipe, render, fmt, **options))
            images.append(path)
            alt = html.escape(f"{title}, chapter {chapter}, page {number}")
            tags.append(f'<p><img src="{path}" alt="{alt}" width="{width}" height="{height}"></p>')
        links = ['<a href="/">Contents</a>']
        if chapter > 1:
            links.append(f'<a href="/chapter-{chapter - 1}/">Previous chapter</a>')
        if chapter < chapters:
            links.append(f'<a href="/chapter-{chapter + 1}/">Next chapter</a>')
        nav = "<nav>" + " | ".join(links) + "</nav>"
        heading = f"<h1>{html.escape(title)}: chapter {chapter}</h1>"
        page = root / f"chapter-{chapter}" / "index.html"
        _write(page, _document(f"{title}: chapter {chapter}", [heading, nav, *tags, nav]))
        written.add(page)
        documents.append(f"/chapter-{chapter}/")
        contents.append(f'<li><a href="/chapter-{chapter}/">Chapter {chapter}</a></li>')
    body = [f"<h1>{html.escape(title)}</h1>", "<ul>", *contents, "</ul>"]
    _write(root / "index.html", _document(title, body))
    _write(root / "robots.txt", ROBOTS.encode())
    _prune(root, ("chapter-*/page-*.*", "chapter-*/index.html"), written)
    made.save()
    return [*images, *documents]


def generate_photo_site(root: Path, *, seed: int = 11, count: int = 8) -> list[str]:
    """Write a photo gallery under ``root``: ``index.html`` showing ``photos/photo-NN.jpg``, and
    ``robots.txt``. Returns the URL paths of the assets, images first, then ``/``."""
    if count < 1:
        raise ValueError("a gallery has at least one photo")
    width, height = PHOTO_SIZE
    made = _Images(root, PHOTO_MANIFEST)
    images: list[str] = []
    written: set[Path] = set()
    tags: list[str] = []
    for number in range(1, count + 1):
        path = f"/photos/photo-{number:02d}.jpg"
        recipe = {"photo": page_seed(seed, 0, number), "width": width, "height": height}
        render = functools.partial(render_photo, recipe["photo"], width=width, height=height)
        written.add(made.make(path, recipe, render, "JPEG", quality=85))
        images.append(path)
        tags.append(f'<p><img src="{path}" alt="Photo {number}" width="{width}" height="{height}"></p>')
    _write(root / "index.html", _document("Demo Photos", ["<h1>Demo Photos</h1>", *tags]))
    _write(root / "robots.txt", ROBOTS.encode())
    _prune(root, ("photos/photo-*.*",), written)
    made.save()
    return [*images, "/"]
