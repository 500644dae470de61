"""Write the demo sites to disk: a manga with chapters of JPEG, PNG and WebP pages, and a gallery."""

from __future__ import annotations

import html
from pathlib import Path

from PIL import Image

from staydown.demo.pages import PageKind, render_page, render_photo

FORMATS: list[tuple[str, str, dict[str, object]]] = [
    ("jpg", "JPEG", {"quality": 85}),
    ("png", "PNG", {"optimize": False}),
    ("webp", "WEBP", {"quality": 80}),
]


def _save(image: Image.Image, path: Path, fmt: str, options: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    image.save(tmp, fmt, **options)
    tmp.replace(path)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def generate_site(
    root: Path, *, seed: int = 7, chapters: int = 3, pages_per_chapter: int = 6, title: str = "Demo Manga"
) -> list[str]:
    """Write a manga site under ``root``; return its asset paths (images first, then HTML)."""
    images: list[str] = []
    pages: list[str] = []
    chapter_links = []
    for chapter in range(1, chapters + 1):
        tags = []
        for number in range(1, pages_per_chapter + 1):
            ext, fmt, options = FORMATS[(chapter + number) % len(FORMATS)]
            kind = PageKind.cover if number == 1 and chapter == 1 else PageKind.story
            if number == pages_per_chapter:
                kind = PageKind.credits
            path = f"/chapter-{chapter}/page-{number:02d}.{ext}"
            target = root / path.lstrip("/")
            if not target.exists():
                _save(render_page(seed * 1000 + chapter * 100 + number, kind=kind), target, fmt, options)
            images.append(path)
            tags.append(
                f'<img src="{path}" alt="Chapter {chapter}, page {number}" width="1000" height="1400">'
            )
        chapter_html = _page(
            f"{title}, chapter {chapter}",
            f"<h1>{html.escape(title)}: chapter {chapter}</h1>\n"
            + "\n".join(tags)
            + '\n<p><a href="/">Contents</a></p>',
        )
        (root / f"chapter-{chapter}").mkdir(parents=True, exist_ok=True)
        (root / f"chapter-{chapter}" / "index.html").write_text(chapter_html, encoding="utf-8")
        pages.append(f"/chapter-{chapter}/")
        chapter_links.append(f'<li><a href="/chapter-{chapter}/">Chapter {chapter}</a></li>')
    index = _page(title, f"<h1>{html.escape(title)}</h1>\n<ul>\n" + "\n".join(chapter_links) + "\n</ul>")
    (root / "index.html").write_text(index, encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    return [*images, "/", *pages]


def generate_photo_site(root: Path, *, seed: int = 11, count: int = 8) -> list[str]:
    """Write a photo gallery under ``root``; return its asset paths (images first, then HTML)."""
    images = []
    for number in range(1, count + 1):
        path = f"/photos/photo-{number:02d}.jpg"
        target = root / path.lstrip("/")
        if not target.exists():
            _save(render_photo(seed * 1000 + number), target, "JPEG", {"quality": 88})
        images.append(path)
    tags = "\n".join(
        f'<img src="{p}" alt="Photo {i}" width="1024" height="768">' for i, p in enumerate(images, 1)
    )
    (root / "index.html").write_text(_page("Demo Photos", f"<h1>Demo Photos</h1>\n{tags}"), encoding="utf-8")
    return [*images, "/"]
