"""Synthetic manga pages and photographs, deterministic from a seed.

Pages share a handful of panel layouts (as real chapters do) but differ in content, screentone
and lettering, which is the hard case for perceptual hashing; credit pages are near-blank.
"""

from __future__ import annotations

import enum
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Panel layouts as fractions of the page: (x0, y0, x1, y1).
LAYOUTS: list[list[tuple[float, float, float, float]]] = [
    [(0, 0, 1, 0.33), (0, 0.33, 0.5, 0.66), (0.5, 0.33, 1, 0.66), (0, 0.66, 1, 1)],
    [(0, 0, 0.6, 0.4), (0.6, 0, 1, 0.4), (0, 0.4, 1, 0.7), (0, 0.7, 0.4, 1), (0.4, 0.7, 1, 1)],
    [(0, 0, 1, 0.5), (0, 0.5, 0.33, 1), (0.33, 0.5, 0.66, 1), (0.66, 0.5, 1, 1)],
    [(0, 0, 0.5, 0.25), (0.5, 0, 1, 0.25), (0, 0.25, 1, 0.6), (0, 0.6, 0.5, 1), (0.5, 0.6, 1, 1)],
    [(0, 0, 0.4, 0.5), (0.4, 0, 1, 0.5), (0, 0.5, 0.7, 1), (0.7, 0.5, 1, 1)],
    [(0, 0, 1, 0.2), (0, 0.2, 0.5, 0.55), (0.5, 0.2, 1, 0.55), (0, 0.55, 0.5, 1), (0.5, 0.55, 1, 1)],
]
MARGIN = 0.05
GUTTER = 12


class PageKind(enum.StrEnum):
    story = "story"
    credits = "credits"
    cover = "cover"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _screentone(rng: random.Random, w: int, h: int) -> Image.Image:
    pitch = rng.choice([4, 5, 6, 8, 10])
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi / 2)
    u = (xx * np.cos(angle) + yy * np.sin(angle)) % pitch
    v = (-xx * np.sin(angle) + yy * np.cos(angle)) % pitch
    radius = pitch * rng.uniform(0.2, 0.45)
    dots = (u - pitch / 2) ** 2 + (v - pitch / 2) ** 2 < radius**2
    return Image.fromarray(np.where(dots, 60, 255).astype(np.uint8), "L")


def _figure(draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = x0 + rng.uniform(0.25, 0.75) * w, y0 + rng.uniform(0.3, 0.7) * h
    r = min(w, h) * rng.uniform(0.12, 0.25)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=0, width=4, fill=255)
    for _ in range(rng.randint(3, 7)):  # hair strokes
        a = rng.uniform(np.pi, 2 * np.pi)
        draw.line((cx, cy - r * 0.5, cx + np.cos(a) * r * 1.4, cy + np.sin(a) * r * 1.4), fill=0, width=3)
    eye = r * 0.25
    for side in (-1, 1):
        ex = cx + side * r * 0.4
        draw.ellipse((ex - eye / 2, cy - eye / 2, ex + eye / 2, cy + eye), fill=0)
    draw.polygon(
        [(cx - r, cy + r), (cx + r, cy + r), (cx + r * 1.6, y1), (cx - r * 1.6, y1)], outline=0, width=4
    )


def _speed_lines(draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    for _ in range(rng.randint(20, 60)):
        a = rng.uniform(0, 2 * np.pi)
        length = max(x1 - x0, y1 - y0)
        draw.line(
            (
                cx + np.cos(a) * length * 0.3,
                cy + np.sin(a) * length * 0.3,
                cx + np.cos(a) * length,
                cy + np.sin(a) * length,
            ),
            fill=0,
            width=rng.randint(1, 3),
        )


_WORDS = "ka ri no mi ta se ku ha ru yo ne do so ma ga zu wa hi to ra".split()  # noqa: SIM905


def _balloon(draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * rng.uniform(0.3, 0.5), (y1 - y0) * rng.uniform(0.2, 0.35)
    bx, by = (
        rng.uniform(x0 + 10, max(x0 + 11, x1 - bw - 10)),
        rng.uniform(y0 + 10, max(y0 + 11, y1 - bh - 10)),
    )
    draw.ellipse((bx, by, bx + bw, by + bh), fill=255, outline=0, width=3)
    font = _font(max(12, int(bh / 6)))
    for line in range(3):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3))).upper()
        draw.text((bx + bw * 0.2, by + bh * (0.2 + line * 0.22)), text, fill=0, font=font)


def render_page(
    seed: int,
    *,
    width: int = 1000,
    height: int = 1400,
    kind: PageKind = PageKind.story,
    layout: int | None = None,
) -> Image.Image:
    """Render one page; the same arguments always give the same pixels."""
    rng = random.Random(f"{seed}:{kind}:{layout}:{width}x{height}")
    if kind is PageKind.cover:
        return _cover(rng, width, height)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    if kind is PageKind.credits:
        font = _font(max(14, width // 40))
        for line in range(rng.randint(2, 5)):
            text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 5))).title()
            draw.text((width * 0.3, height * (0.4 + line * 0.05)), text, fill=40, font=font)
        return page
    panels = LAYOUTS[(layout if layout is not None else rng.randrange(len(LAYOUTS))) % len(LAYOUTS)]
    mx, my = width * MARGIN, height * MARGIN
    for fx0, fy0, fx1, fy1 in panels:
        box = (
            int(mx + fx0 * (width - 2 * mx) + GUTTER / 2),
            int(my + fy0 * (height - 2 * my) + GUTTER / 2),
            int(mx + fx1 * (width - 2 * mx) - GUTTER / 2),
            int(my + fy1 * (height - 2 * my) - GUTTER / 2),
        )
        w, h = box[2] - box[0], box[3] - box[1]
        if rng.random() < 0.6:
            tone = _screentone(rng, w, h)
            mask = Image.new("L", (w, h), 0)
            ImageDraw.Draw(mask).rectangle((0, int(h * rng.uniform(0.3, 0.7)), w, h), fill=255)
            page.paste(tone, box[:2], mask)
        if rng.random() < 0.4:
            _speed_lines(draw, rng, box)
        for _ in range(rng.randint(1, 2)):
            _figure(draw, rng, box)
        if rng.random() < 0.8:
            _balloon(draw, rng, box)
        draw.rectangle(box, outline=0, width=5)
    return page


def _cover(rng: random.Random, width: int, height: int) -> Image.Image:
    base = np.zeros((height, width, 3), dtype=np.float32)
    top, bottom = (
        np.array([rng.randint(0, 255) for _ in range(3)]),
        np.array([rng.randint(0, 255) for _ in range(3)]),
    )
    t = np.linspace(0, 1, height)[:, None, None]
    base[:] = top * (1 - t) + bottom * t
    image = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(5, 12)):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(40, 250)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    title = " ".join(rng.choice(_WORDS) for _ in range(2)).upper()
    draw.text((width * 0.1, height * 0.08), title, fill=(255, 255, 255), font=_font(width // 10))
    return image


def render_photo(seed: int, *, width: int = 1024, height: int = 768) -> Image.Image:
    """Render a photograph-like image: smooth gradients, soft shapes and sensor noise."""
    rng = random.Random(f"photo:{seed}:{width}x{height}")
    np_rng = np.random.default_rng(rng.randrange(2**32))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), dtype=np.float32)
    for channel in range(3):
        a, b, c = (rng.uniform(-1, 1) for _ in range(3))
        image[..., channel] = 128 + 60 * np.sin(a * xx / 97 + b * yy / 131 + c * 6)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.randint(4, 10)):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(30, 200)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(4, 12)))
    noisy = np.asarray(picture, dtype=np.float32) + np_rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
