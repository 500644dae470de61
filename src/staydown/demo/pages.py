"""Synthetic manga pages and photographs, deterministic from a seed.

Story pages share a handful of panel layouts (as the pages of a real chapter do) but differ in what
the panels hold: characters built from random shapes and strokes, backgrounds, screentone of
varying pitch, speed and focus lines, sound effects and speech balloons with lettering. That is the
hard case for perceptual hashing: two pages with the same layout have the same strong edges.
Credit pages are near-blank, covers are colour illustrations, photos are smooth and noisy.

Only Pillow and NumPy are used, with Pillow's built-in font, so nothing is downloaded. The same
arguments give the same pixels on every run with the same Pillow and NumPy (``random.Random`` is
seeded from a string, never ``hash()``). A 1000x1400 story page takes about 20 ms on one core, a
cover 10 ms, a credits page 4 ms: glyphs are cached, so lettering is pasted rather than rendered.
"""

from __future__ import annotations

import enum
import functools
import itertools
import math
import random
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["LAYOUTS", "PageKind", "render_page", "render_photo"]

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # clockwise from the top left, fractions of the live area
Mask = npt.NDArray[np.bool_]

INK = 0
PAPER = 255
MIN_PAGE = 256  # below this, panels shrink to nothing
MIN_PHOTO = 64


class PageKind(enum.StrEnum):
    """What a page is: a story page with panels, a near-blank credits page, or a colour cover."""

    story = "story"
    credits = "credits"
    cover = "cover"


def _tiered(*tiers: tuple[tuple[float, float], tuple[tuple[float, float], ...]]) -> tuple[Quad, ...]:
    """Panels in horizontal tiers. Each tier gives its bottom edge as (y at left, y at right) and its
    column dividers as (x at top, x at bottom), so both may slant."""
    quads: list[Quad] = []
    top = (0.0, 0.0)
    for bottom, dividers in tiers:
        xs = [(0.0, 0.0), *dividers, (1.0, 1.0)]
        for (a_top, a_bottom), (b_top, b_bottom) in itertools.pairwise(xs):
            quads.append(
                (
                    (a_top, top[0] + (top[1] - top[0]) * a_top),
                    (b_top, top[0] + (top[1] - top[0]) * b_top),
                    (b_bottom, bottom[0] + (bottom[1] - bottom[0]) * b_bottom),
                    (a_bottom, bottom[0] + (bottom[1] - bottom[0]) * a_bottom),
                )
            )
        top = bottom
    return tuple(quads)


# Shared panel layouts, from a splash page to an eight-panel grid; some have slanted gutters.
LAYOUTS: tuple[tuple[Quad, ...], ...] = (
    _tiered(((0.3, 0.3), ()), ((0.65, 0.65), ((0.5, 0.5),)), ((1, 1), ())),
    _tiered(((0.34, 0.34), ((0.58, 0.58),)), ((0.66, 0.66), ()), ((1, 1), ((0.4, 0.4),))),
    _tiered(((0.5, 0.5), ()), ((1, 1), ((0.33, 0.33), (0.66, 0.66)))),
    _tiered(((1 / 3, 1 / 3), ((0.5, 0.5),)), ((2 / 3, 2 / 3), ((0.5, 0.5),)), ((1, 1), ((0.5, 0.5),))),
    _tiered(((0.28, 0.36), ()), ((0.7, 0.62), ((0.62, 0.42),)), ((1, 1), ((0.35, 0.35),))),
    _tiered(((0.78, 0.78), ()), ((1, 1), ((0.5, 0.5),))),
    _tiered(((0.25, 0.25), ()), ((0.5, 0.5), ()), ((0.75, 0.75), ()), ((1, 1), ())),
    _tiered(
        ((0.3, 0.3), ((1 / 3, 1 / 3), (2 / 3, 2 / 3))),
        ((0.62, 0.62), ((0.45, 0.55),)),
        ((1, 1), ((0.3, 0.3), (0.7, 0.7))),
    ),
    _tiered(((0.4, 0.25), ((0.55, 0.45),)), ((0.75, 0.8), ()), ((1, 1), ((0.6, 0.5),))),
)

_SYLLABLES = (
    *(
        consonant + vowel
        for consonant in ("", "k", "s", "t", "n", "h", "m", "r", "g", "z", "d", "b", "p")
        for vowel in "aiueo"
    ),
    *("ya", "yu", "yo", "wa", "n", "shi", "chi", "tsu", "fu", "ji"),
)
_SFX = ("DOKI", "ZAAA", "GOGOGO", "BAN", "DON", "SHUN", "GASHI", "PIKU", "ZUN", "DODODO", "KIII", "BATA")
_ROLES = ("Story & Art", "Translation", "Lettering", "Editing", "Cleaning", "Typesetting", "Original")


@functools.lru_cache(maxsize=128)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=max(6, size))
    if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow's wheels have FreeType
        raise RuntimeError("synthetic pages need Pillow built with FreeType")
    return font


@functools.lru_cache(maxsize=8192)
def _glyph(size: int, char: str, stroke: int = 0) -> tuple[Image.Image, int]:
    """One letter's coverage mask (its top at the font's ascender, ``stroke`` pixels of outline
    around it) and its advance. Letters are cached: lettering pastes them instead of asking
    FreeType to render every line, which is most of the time a page takes."""
    font = _font(size)
    ascent, descent = font.getmetrics()
    advance = math.ceil(font.getlength(char))
    mask = Image.new("L", (advance + 2 * stroke + max(2, size // 6), ascent + descent + 2 * stroke), 0)
    ImageDraw.Draw(mask).text(
        (stroke, stroke), char, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    return mask, advance


def _line_height(size: int) -> int:
    ascent, descent = _font(size).getmetrics()
    return ascent + descent


def _text_width(text: str, size: int) -> int:
    return sum(_glyph(size, char)[1] for char in text)


def _write(
    image: Image.Image,
    xy: Point,
    text: str,
    size: int,
    ink: int,
    *,
    vertical: bool = False,
    stroke: int = 0,
    stroke_ink: int = PAPER,
) -> None:
    """Letter ``text`` from its top left corner, along a line or down a column."""
    x, y = xy
    line = _line_height(size)
    for char in text:
        mask, advance = _glyph(size, char)
        left = x + ((size - advance) / 2 if vertical else 0)
        if stroke:
            outline, _ = _glyph(size, char, stroke)
            image.paste(stroke_ink, (round(left) - stroke, round(y) - stroke), outline)
        if not char.isspace():
            image.paste(ink, (round(left), round(y)), mask)
        if vertical:
            y += line * 0.85
        else:
            x += advance


def _word(rng: random.Random, syllables: tuple[int, int] = (1, 3)) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(*syllables)))


def _name(rng: random.Random) -> str:
    return f"{_word(rng, (2, 3)).title()} {_word(rng, (2, 3)).title()}"


def _inset(quad: Sequence[Point], by: float) -> list[Point]:
    """Move every edge of a convex clockwise (on screen) polygon inward by ``by`` pixels."""
    lines = []
    count = len(quad)
    for i in range(count):
        (x0, y0), (x1, y1) = quad[i], quad[(i + 1) % count]
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length
        lines.append((nx, ny, nx * x0 + ny * y0 + by))
    points = []
    for i in range(count):
        a1, b1, c1 = lines[i - 1]
        a2, b2, c2 = lines[i]
        det = a1 * b2 - a2 * b1
        if abs(det) < 1e-9:
            points.append(quad[i])
            continue
        points.append(((c1 * b2 - c2 * b1) / det, (a1 * c2 - a2 * c1) / det))
    return points


# --- screentone -------------------------------------------------------------------------------------


def _dot_field(rng: random.Random, w: int, h: int, pitch: int) -> npt.NDArray[np.float32]:
    """Squared distance of every pixel to its nearest screen dot (a square or a 45-degree lattice)."""
    centre = np.arange(pitch, dtype=np.float32) + 0.5 - pitch / 2
    d2 = centre[:, None] ** 2 + centre[None, :] ** 2
    if rng.random() < 0.5:
        corner = np.minimum(np.arange(pitch) + 0.5, pitch - np.arange(pitch) - 0.5).astype(np.float32)
        d2 = np.minimum(d2, corner[:, None] ** 2 + corner[None, :] ** 2)
    ox, oy = rng.randrange(pitch), rng.randrange(pitch)
    tiled = np.tile(d2, (h // pitch + 2, w // pitch + 2))
    return tiled[oy : oy + h, ox : ox + w]


def _tone(rng: random.Random, w: int, h: int, scale: float, *, gradient: bool = False) -> Mask:
    """A screentone: dots of one pitch, flat or growing across the panel (a gradient tone)."""
    pitch = max(3, round(rng.choice((4, 5, 6, 7, 8, 10, 12)) * scale))
    field = _dot_field(rng, w, h, pitch)
    if not gradient:
        return field < (pitch * rng.uniform(0.2, 0.5)) ** 2
    ramp = np.sqrt(np.linspace(0.0, 1.0, h if rng.random() < 0.7 else w, dtype=np.float32))
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    radius = pitch * (0.05 + 0.65 * ramp)
    if len(ramp) == h:
        return field < (radius**2)[:, None]
    return field < (radius**2)[None, :]


def _region(rng: random.Random, w: int, h: int) -> Mask:
    """Where a tone goes: the whole panel, a floor below a horizon, a diagonal, or a band."""
    choice = rng.random()
    ys = np.arange(h)[:, None]
    xs = np.arange(w)[None, :]
    if choice < 0.3:
        return np.ones((h, w), dtype=bool)
    if choice < 0.6:
        return np.broadcast_to(ys > h * rng.uniform(0.3, 0.75), (h, w))
    if choice < 0.85:
        slope = rng.uniform(-1.2, 1.2)
        return ys > h * rng.uniform(0.2, 0.8) + slope * (xs - w / 2)
    top = h * rng.uniform(0, 0.6)
    return np.broadcast_to((ys > top) & (ys < top + h * rng.uniform(0.15, 0.4)), (h, w))


# --- panel contents ---------------------------------------------------------------------------------


def _background(rng: random.Random, w: int, h: int, scale: float) -> tuple[Image.Image, bool]:
    """The panel's ground: paper, a tone (flat or gradient, over a region), night, or flat grey."""
    pixels = np.full((h, w), PAPER, dtype=np.uint8)
    style = rng.choices(("blank", "tone", "gradient", "dark", "grey"), weights=(3, 4, 3, 1, 1))[0]
    if style == "tone":
        pixels[_tone(rng, w, h, scale) & _region(rng, w, h)] = rng.choice((INK, 40, 90))
    elif style == "gradient":
        pixels[_tone(rng, w, h, scale, gradient=True)] = INK
    elif style == "dark":
        pixels[:] = rng.randint(10, 40)
        pixels[_tone(rng, w, h, scale) & _region(rng, w, h)] = 120
    elif style == "grey":
        pixels[_region(rng, w, h)] = rng.randint(150, 225)
    return Image.fromarray(pixels, "L"), style == "dark"


def _focus_lines(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, ink: int) -> None:
    """Concentration lines: wedges from outside the panel toward a clear centre."""
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    outer = math.hypot(w, h)
    clear = min(w, h) * rng.uniform(0.15, 0.35)
    for _ in range(rng.randint(50, 140)):
        angle = rng.uniform(0, 2 * math.pi)
        inner = clear * rng.uniform(1.0, 1.8)
        spread = rng.uniform(0.003, 0.012)
        draw.polygon(
            [
                (cx + math.cos(angle) * inner, cy + math.sin(angle) * inner),
                (cx + math.cos(angle - spread) * outer, cy + math.sin(angle - spread) * outer),
                (cx + math.cos(angle + spread) * outer, cy + math.sin(angle + spread) * outer),
            ],
            fill=ink,
        )


def _action_lines(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, ink: int) -> None:
    """Parallel speed lines of random length, horizontal or slanted."""
    slope = rng.choice((0.0, 0.0, rng.uniform(-0.6, 0.6)))
    for _ in range(rng.randint(25, 70)):
        y = rng.uniform(-0.3 * h, 1.3 * h)
        x0 = rng.uniform(-0.2 * w, 0.6 * w)
        x1 = x0 + rng.uniform(0.2, 0.9) * w
        draw.line((x0, y + slope * x0, x1, y + slope * x1), fill=ink, width=rng.randint(1, 3))


def _hatching(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, scale: float) -> None:
    spacing = max(3.0, rng.uniform(5, 12) * scale)
    dx = rng.choice((-1, 1)) * rng.uniform(0.3, 1.5) * h
    top = h * rng.uniform(0, 0.5)
    x = -abs(dx)
    while x < w + abs(dx):
        draw.line((x, top, x + dx, h), fill=INK, width=1)
        x += spacing


def _city(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, scale: float) -> None:
    """An establishing shot: a horizon, perspective lines and buildings with windows."""
    horizon = h * rng.uniform(0.45, 0.75)
    vx = w * rng.uniform(0.2, 0.8)
    for _ in range(rng.randint(6, 14)):
        draw.line((vx, horizon, rng.uniform(-w, 2 * w), h), fill=INK, width=1)
    x = rng.uniform(-0.1, 0.05) * w
    while x < w:
        bw = w * rng.uniform(0.08, 0.25)
        top = horizon - h * rng.uniform(0.1, 0.45)
        draw.rectangle((x, top, x + bw, horizon), fill=rng.choice((PAPER, 200, 120)), outline=INK)
        step = max(6.0, rng.uniform(10, 22) * scale)
        wy = top + step / 2
        while wy < horizon - step and bw > 2 * step:
            draw.rectangle((x + step / 2, wy, x + bw - step / 2, wy + step / 3), fill=INK)
            wy += step
        x += bw + rng.uniform(0, 0.05) * w
    draw.line((0, horizon, w, horizon), fill=INK, width=max(1, round(2 * scale)))


def _props(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int, scale: float) -> None:
    """Random objects and strokes: tables, windows, round things and scribbles."""
    lw = max(1, round(2 * scale))
    for _ in range(rng.randint(1, 4)):
        x, y = rng.uniform(0, w), rng.uniform(0.3 * h, h)
        size = min(w, h) * rng.uniform(0.08, 0.3)
        shape = rng.randrange(4)
        fill = rng.choice((PAPER, PAPER, 170, INK))
        if shape == 0:
            draw.rectangle((x, y, x + size * 1.6, y + size * 0.6), fill=fill, outline=INK, width=lw)
        elif shape == 1:
            draw.ellipse((x, y, x + size, y + size), fill=fill, outline=INK, width=lw)
        elif shape == 2:
            points = [
                (x + rng.uniform(-size, size), y + rng.uniform(-size, size)) for _ in range(rng.randint(3, 6))
            ]
            draw.polygon(points, fill=fill, outline=INK, width=lw)
        else:
            points = [(x, y)]
            for _ in range(rng.randint(3, 8)):
                x += rng.uniform(-size, size) / 2
                y += rng.uniform(-size, size) / 2
                points.append((x, y))
            draw.line(points, fill=INK, width=lw, joint="curve")


def _character(
    draw: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float, scale: float
) -> Point:
    """A figure from shapes and strokes: body, head, hair, eyes and mouth. Returns the mouth."""
    lw = max(2, round(rng.uniform(2, 4) * scale))
    turn = rng.uniform(-0.35, 0.35)
    shoulders = r * rng.uniform(1.1, 1.7)
    body_fill = rng.choice((PAPER, PAPER, 200, 140, 30))
    draw.polygon(
        [
            (cx - shoulders, cy + r * 1.25),
            (cx + shoulders, cy + r * 1.25),
            (cx + shoulders * 1.5, cy + r * 5),
            (cx - shoulders * 1.5, cy + r * 5),
        ],
        fill=body_fill,
        outline=INK,
        width=lw,
    )
    collar = INK if body_fill > 100 else PAPER
    draw.line(
        (cx - r * 0.4, cy + r * 1.25, cx, cy + r * 1.7, cx + r * 0.4, cy + r * 1.25), fill=collar, width=lw
    )
    if rng.random() < 0.6:  # arms
        for side in (-1, 1):
            draw.line(
                (
                    cx + side * shoulders,
                    cy + r * 1.35,
                    cx + side * shoulders * rng.uniform(1.2, 2.2),
                    cy + r * rng.uniform(1.5, 3.5),
                    cx + side * shoulders * rng.uniform(0.5, 1.8),
                    cy + r * rng.uniform(0.8, 3.5),
                ),
                fill=INK,
                width=lw + 1,
                joint="curve",
            )
    hair = rng.choice((INK, INK, PAPER, 110))
    long_hair = rng.random() < 0.35
    if long_hair:
        draw.rounded_rectangle(
            (cx - r * 1.2, cy - r * 1.1, cx + r * 1.2, cy + r * rng.uniform(1.2, 2.4)),
            radius=r * 0.8,
            fill=hair,
            outline=INK,
            width=lw,
        )
    # the face: a round skull over a jaw that narrows to a chin
    jaw = rng.uniform(0.45, 0.7)
    face = [(cx + math.cos(a) * r, cy + math.sin(a) * r) for a in np.linspace(math.pi, 2 * math.pi, 13)]
    face += [(cx + r * 0.95, cy + r * 0.35), (cx + r * jaw, cy + r * 0.95)]
    face += [(cx + turn * r, cy + r * 1.2), (cx - r * jaw, cy + r * 0.95), (cx - r * 0.95, cy + r * 0.35)]
    draw.polygon(face, fill=PAPER, outline=INK, width=lw)
    # hair on top: spikes or a bob
    if rng.random() < 0.55:
        spikes = rng.randint(5, 11)
        points = []
        for i in range(spikes * 2 + 1):
            angle = math.pi + math.pi * i / (spikes * 2)
            reach = r * (rng.uniform(1.25, 1.7) if i % 2 else rng.uniform(0.85, 1.0))
            points.append((cx + math.cos(angle) * reach, cy - r * 0.1 + math.sin(angle) * reach))
        points.append((cx + r * 0.2, cy - r * 0.3))
        draw.polygon(points, fill=hair, outline=INK, width=lw)
    else:
        draw.chord(
            (cx - r * 1.1, cy - r * 1.2, cx + r * 1.1, cy + r * 0.4),
            180,
            360,
            fill=hair,
            outline=INK,
            width=lw,
        )
        for _ in range(rng.randint(2, 5)):  # fringe strands
            x = cx + rng.uniform(-0.8, 0.8) * r
            draw.line((x, cy - r * 0.4, x + rng.uniform(-0.3, 0.3) * r, cy - r * 0.05), fill=INK, width=lw)
    # eyes
    eye_w, eye_h = r * rng.uniform(0.18, 0.3), r * rng.uniform(0.25, 0.45)
    eye_y = cy + r * rng.uniform(0.0, 0.2)
    closed = rng.random() < 0.15
    for side in (-1, 1):
        ex = cx + (side * 0.42 + turn * 0.5) * r
        if closed:
            draw.arc(
                (ex - eye_w, eye_y - eye_h / 2, ex + eye_w, eye_y + eye_h / 2), 200, 340, fill=INK, width=lw
            )
            continue
        draw.ellipse((ex - eye_w / 2, eye_y - eye_h / 2, ex + eye_w / 2, eye_y + eye_h / 2), fill=INK)
        glint = eye_w * 0.35
        draw.ellipse((ex - glint, eye_y - eye_h / 3, ex, eye_y - eye_h / 3 + glint), fill=PAPER)
        draw.line((ex - eye_w, eye_y - eye_h * 0.8, ex + eye_w * 0.7, eye_y - eye_h), fill=INK, width=lw)
    mouth = (cx + turn * r * 0.6, cy + r * rng.uniform(0.55, 0.75))
    if rng.random() < 0.4:
        size = r * rng.uniform(0.08, 0.2)
        draw.ellipse((mouth[0] - size, mouth[1] - size, mouth[0] + size, mouth[1] + size * 1.4), fill=INK)
    else:
        draw.line((mouth[0] - r * 0.15, mouth[1], mouth[0] + r * 0.15, mouth[1]), fill=INK, width=lw)
    return mouth


def _sfx(canvas: Image.Image, rng: random.Random, w: int, h: int) -> None:
    """A sound effect in big outlined letters that bounce along a diagonal."""
    text = rng.choice(_SFX) + "!" * rng.randint(0, 2)
    size = max(8, 8 * round(min(w, h) * rng.uniform(0.12, 0.25) / 8))
    x, y = rng.uniform(0, w * 0.5), rng.uniform(0, h * 0.6)
    dy = rng.uniform(-0.3, 0.5) * size
    fill, stroke = (INK, PAPER) if rng.random() < 0.7 else (PAPER, INK)
    for letter in text:
        jump = rng.uniform(-0.15, 0.15) * size
        _write(canvas, (x, y + jump), letter, size, fill, stroke=max(1, size // 12), stroke_ink=stroke)
        x += size * rng.uniform(0.6, 0.85)
        y += dy / len(text)


def _lettering(rng: random.Random) -> tuple[list[str], bool]:
    """A balloon's words: vertical columns of syllables (as in Japanese) or horizontal lines."""
    if rng.random() < 0.5:
        columns = [_word(rng, (2, 4)).upper()[: rng.randint(3, 7)] for _ in range(rng.randint(1, 4))]
        return columns, True
    lines = [
        " ".join(_word(rng).upper() for _ in range(rng.randint(1, 3))) + rng.choice(("", "", "!", "?", "..."))
        for _ in range(rng.randint(1, 4))
    ]
    return lines, False


def _tail(
    draw: ImageDraw.ImageDraw, style: str, box: tuple[float, float, float, float], speaker: Point, lw: int
) -> None:
    """The balloon's tail toward its speaker: a wedge, or shrinking bubbles for a thought."""
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2, by + bh / 2
    sx, sy = speaker
    angle = math.atan2(sy - cy, sx - cx)
    reach = min(math.hypot(sx - cx, sy - cy) * 0.8, max(bw, bh) * 1.1)
    base = min(bw, bh) * 0.15
    if style == "thought":
        for step in (0.65, 0.8, 0.95):
            px, py = cx + math.cos(angle) * reach * step, cy + math.sin(angle) * reach * step
            size = base * (1.1 - step) * 1.5
            draw.ellipse((px - size, py - size, px + size, py + size), fill=PAPER, outline=INK, width=lw)
        return
    normal = angle + math.pi / 2
    tip = (cx + math.cos(angle) * reach, cy + math.sin(angle) * reach)
    draw.polygon(
        [
            (cx + math.cos(normal) * base, cy + math.sin(normal) * base),
            tip,
            (cx - math.cos(normal) * base, cy - math.sin(normal) * base),
        ],
        fill=PAPER,
        outline=INK,
        width=lw,
    )


def _balloon_shape(
    draw: ImageDraw.ImageDraw, rng: random.Random, style: str, box: tuple[float, float, float, float], lw: int
) -> None:
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2, by + bh / 2
    if style == "oval":
        draw.ellipse((bx, by, bx + bw, by + bh), fill=PAPER, outline=INK, width=lw)
    elif style == "box":
        draw.rectangle((bx, by, bx + bw, by + bh), fill=PAPER, outline=INK, width=lw)
    elif style == "thought":
        for _ in range(rng.randint(7, 11)):
            angle = rng.uniform(0, 2 * math.pi)
            px, py = cx + math.cos(angle) * bw * 0.42, cy + math.sin(angle) * bh * 0.42
            size = min(bw, bh) * rng.uniform(0.18, 0.28)
            draw.ellipse((px - size, py - size, px + size, py + size), fill=PAPER, outline=INK, width=lw)
        draw.ellipse((bx + bw * 0.08, by + bh * 0.08, bx + bw * 0.92, by + bh * 0.92), fill=PAPER)
    else:  # a shout: a spiky burst
        spikes = rng.randint(12, 22)
        points = []
        for i in range(spikes * 2):
            angle = 2 * math.pi * i / (spikes * 2)
            grow = rng.uniform(1.15, 1.45) if i % 2 else 0.95
            points.append((cx + math.cos(angle) * bw / 2 * grow, cy + math.sin(angle) * bh / 2 * grow))
        draw.polygon(points, fill=PAPER, outline=INK, width=lw)


def _balloon(
    canvas: Image.Image,
    rng: random.Random,
    w: int,
    h: int,
    scale: float,
    speaker: Point | None,
) -> None:
    """A speech balloon (oval, shout, thought or narration box) with lettering and a tail."""
    size = max(8, round(rng.uniform(15, 24) * scale))
    texts, vertical = _lettering(rng)
    line = _line_height(size)
    if vertical:
        column_w = size * 1.3
        text_w = column_w * len(texts)
        text_h = max(len(text) for text in texts) * line * 0.85
    else:
        widths = [_text_width(text, size) for text in texts]
        text_w, text_h = float(max(widths)), float(line * len(texts))
    style = rng.choices(("oval", "shout", "thought", "box"), weights=(6, 2, 1, 2))[0]
    pad = 1.0 if style == "box" else 1.45
    bw, bh = text_w * pad + size * 0.8, text_h * pad + size * 0.8
    bx = rng.uniform(-0.1 * bw, max(-0.1 * bw + 1, w - 0.9 * bw))
    by = rng.uniform(-0.1 * bh, max(-0.1 * bh + 1, h * 0.6 - bh))
    lw = max(2, round(2.5 * scale))
    draw = ImageDraw.Draw(canvas)
    if speaker is not None and style != "box":
        _tail(draw, style, (bx, by, bw, bh), speaker, lw)
    _balloon_shape(draw, rng, style, (bx, by, bw, bh), lw)
    cx, cy = bx + bw / 2, by + bh / 2
    if vertical:  # Japanese order: columns from right to left
        x = cx + text_w / 2 - column_w + (column_w - size) / 2
        for text in texts:
            _write(canvas, (x, cy - text_h / 2), text, size, INK, vertical=True)
            x -= column_w
        return
    for i, (text, width) in enumerate(zip(texts, widths, strict=True)):
        _write(canvas, (cx - width / 2, cy - text_h / 2 + i * line), text, size, INK)


def _panel(rng: random.Random, w: int, h: int, scale: float) -> Image.Image:
    """One panel's picture, drawn on its own canvas so nothing spills into its neighbours."""
    canvas, dark = _background(rng, w, h, scale)
    draw = ImageDraw.Draw(canvas)
    shot = rng.choices(("closeup", "medium", "wide", "effect", "establishing"), weights=(3, 4, 2, 2, 1))[0]
    line_ink = PAPER if dark else INK
    if shot == "establishing":
        _city(draw, rng, w, h, scale)
    elif rng.random() < 0.25:
        _hatching(draw, rng, w, h, scale)
    if shot == "effect" or rng.random() < 0.15:
        (_focus_lines if rng.random() < 0.6 else _action_lines)(draw, rng, w, h, line_ink)
    if shot in ("medium", "wide") and rng.random() < 0.6:
        _props(draw, rng, w, h, scale)
    speakers: list[Point] = []
    if shot == "closeup":
        r = min(w, h) * rng.uniform(0.28, 0.42)
        speakers.append(
            _character(draw, rng, w * rng.uniform(0.3, 0.7), h * rng.uniform(0.35, 0.6), r, scale)
        )
    elif shot in ("medium", "effect"):
        count = rng.randint(1, 2)
        for i in range(count):
            r = min(w, h) * rng.uniform(0.12, 0.22)
            x = w * ((i + 0.5) / count + rng.uniform(-0.12, 0.12))
            speakers.append(_character(draw, rng, x, h * rng.uniform(0.35, 0.65), r, scale))
    elif shot == "wide":
        for _ in range(rng.randint(1, 4)):
            r = min(w, h) * rng.uniform(0.05, 0.1)
            speakers.append(
                _character(draw, rng, w * rng.uniform(0.1, 0.9), h * rng.uniform(0.4, 0.7), r, scale)
            )
    if rng.random() < 0.3 or shot == "effect":
        _sfx(canvas, rng, w, h)
    for _ in range(rng.choices((0, 1, 2, 3), weights=(2, 5, 3, 1))[0]):
        _balloon(canvas, rng, w, h, scale, rng.choice(speakers) if speakers else None)
    return canvas


# --- pages ------------------------------------------------------------------------------------------


def render_page(
    seed: int,
    *,
    width: int = 1000,
    height: int = 1400,
    kind: PageKind = PageKind.story,
    layout: int | None = None,
) -> Image.Image:
    """Render one page: grayscale ("L") for story and credits pages, RGB for covers.

    The same arguments always give the same pixels. ``layout`` picks one of :data:`LAYOUTS` (taken
    modulo their number) for a story page; without it the seed picks one, and passing the layout the
    seed would have picked gives the same page.
    """
    kind = PageKind(kind)
    if width < MIN_PAGE or height < MIN_PAGE:
        raise ValueError(f"a page is at least {MIN_PAGE}x{MIN_PAGE} pixels, not {width}x{height}")
    rng = random.Random(f"staydown-page:{seed}:{kind.value}:{width}x{height}")
    if kind is PageKind.cover:
        return _cover(rng, width, height)
    if kind is PageKind.credits:
        return _credits(rng, width, height)
    chosen = rng.randrange(len(LAYOUTS))
    if layout is not None:
        chosen = layout % len(LAYOUTS)
    return _story(rng, width, height, LAYOUTS[chosen])


def _story(rng: random.Random, width: int, height: int, quads: Sequence[Quad]) -> Image.Image:
    scale = min(width / 1000, height / 1400)
    page = Image.new("L", (width, height), PAPER)
    draw = ImageDraw.Draw(page)
    left, top = width * 0.07, height * 0.06
    live_w, live_h = width - 2 * left, height - 2 * top
    gutter = max(2.0, 7 * scale)
    border = max(1, round(rng.choice((3, 4, 5)) * scale))
    for quad in quads:
        corners = _inset([(left + fx * live_w, top + fy * live_h) for fx, fy in quad], gutter)
        x0, y0 = math.floor(min(x for x, _ in corners)), math.floor(min(y for _, y in corners))
        x1, y1 = math.ceil(max(x for x, _ in corners)), math.ceil(max(y for _, y in corners))
        w, h = max(1, x1 - x0), max(1, y1 - y0)
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in corners], fill=255)
        page.paste(_panel(rng, w, h, scale), (x0, y0), mask)
        draw.polygon(corners, outline=INK, width=border)
    number = str(rng.randint(2, 220))
    draw.text((width / 2, height - top / 2), number, font=_font(round(14 * scale)), fill=INK, anchor="mm")
    return page


def _credits(rng: random.Random, width: int, height: int) -> Image.Image:
    """A near-blank page: a few short lines of small text, perhaps a rule, and a page number."""
    scale = min(width / 1000, height / 1400)
    page = Image.new("L", (width, height), PAPER)
    draw = ImageDraw.Draw(page)
    font = _font(round(rng.uniform(14, 22) * scale))
    lines = [f"{role}: {_name(rng)}" for role in rng.sample(_ROLES, rng.randint(1, 5))]
    if rng.random() < 0.5:
        lines.insert(0, f"~ {_word(rng, (2, 4)).title()} ~")
    if rng.random() < 0.3:
        lines.append(f"To be continued in chapter {rng.randint(2, 99)}")
    spacing = round(font.size * 0.8)
    x = width * rng.uniform(0.3, 0.7)
    y = height * rng.uniform(0.25, 0.7)
    draw.multiline_text(
        (x, y),
        "\n".join(lines),
        font=font,
        fill=rng.randint(0, 60),
        spacing=spacing,
        anchor="ma",
        align="center",
    )
    if rng.random() < 0.5:
        rule_y = y - height * 0.03
        draw.line((x - width * 0.12, rule_y, x + width * 0.12, rule_y), fill=INK, width=max(1, round(scale)))
    if rng.random() < 0.6:
        draw.text(
            (width / 2, height * 0.96),
            str(rng.randint(2, 220)),
            font=_font(round(14 * scale)),
            fill=INK,
            anchor="mm",
        )
    return page


def _colour(rng: random.Random, low: int = 0, high: int = 255) -> tuple[int, int, int]:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def _cover(rng: random.Random, width: int, height: int) -> Image.Image:
    """A colour cover: a gradient sky with light shapes, a big character, a title and a volume."""
    scale = min(width / 1000, height / 1400)
    top, bottom = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    column = top * (1 - t) + bottom * t
    strip = Image.fromarray(np.ascontiguousarray(column.astype(np.uint8)), "RGB")  # one pixel wide
    image = strip.resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    if rng.random() < 0.5:  # rays from a point
        cx, cy = width * rng.uniform(0.2, 0.8), height * rng.uniform(0.2, 0.6)
        ray = _colour(rng, 120)
        for i in range(rng.randint(8, 20)):
            angle = 2 * math.pi * i / 20 + rng.uniform(0, 0.1)
            far = 2 * max(width, height)
            draw.polygon(
                [
                    (cx, cy),
                    (cx + math.cos(angle) * far, cy + math.sin(angle) * far),
                    (cx + math.cos(angle + 0.12) * far, cy + math.sin(angle + 0.12) * far),
                ],
                fill=ray,
            )
    for _ in range(rng.randint(5, 14)):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 220) * scale
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng, 60))
    # the character, in flat colours with ink outlines
    cx, cy, r = (
        width * rng.uniform(0.35, 0.65),
        height * rng.uniform(0.42, 0.55),
        width * rng.uniform(0.16, 0.24),
    )
    lw = max(2, round(5 * scale))
    hair, clothes, skin = (
        _colour(rng, 0, 200),
        _colour(rng),
        (250, rng.randint(205, 230), rng.randint(180, 205)),
    )
    draw.polygon(
        [
            (cx - r * 1.4, cy + r * 1.1),
            (cx + r * 1.4, cy + r * 1.1),
            (cx + r * 2.4, height),
            (cx - r * 2.4, height),
        ],
        fill=clothes,
        outline=(0, 0, 0),
        width=lw,
    )
    draw.ellipse(
        (cx - r * 1.25, cy - r * 1.2, cx + r * 1.25, cy + r * rng.uniform(0.8, 2.0)),
        fill=hair,
        outline=(0, 0, 0),
        width=lw,
    )
    draw.ellipse((cx - r, cy - r, cx + r, cy + r * 0.95), fill=skin, outline=(0, 0, 0), width=lw)
    draw.chord(
        (cx - r * 1.1, cy - r * 1.25, cx + r * 1.1, cy + r * 0.3),
        180,
        360,
        fill=hair,
        outline=(0, 0, 0),
        width=lw,
    )
    iris = _colour(rng, 0, 180)
    for side in (-1, 1):
        ex, ey = cx + side * r * 0.42, cy + r * 0.2
        draw.ellipse(
            (ex - r * 0.16, ey - r * 0.24, ex + r * 0.16, ey + r * 0.24),
            fill=iris,
            outline=(0, 0, 0),
            width=lw,
        )
        draw.ellipse((ex - r * 0.1, ey - r * 0.18, ex, ey - r * 0.06), fill=(255, 255, 255))
    draw.arc((cx - r * 0.2, cy + r * 0.45, cx + r * 0.2, cy + r * 0.7), 20, 160, fill=(0, 0, 0), width=lw)
    # title, volume and imprint
    title = " ".join(_word(rng, (2, 3)).upper() for _ in range(rng.randint(1, 2)))
    title_font = _font(round(width * rng.uniform(0.09, 0.13)))
    draw.text(
        (width / 2, height * rng.uniform(0.06, 0.14)),
        title,
        font=title_font,
        fill=_colour(rng, 150),
        stroke_width=max(2, round(6 * scale)),
        stroke_fill=(0, 0, 0),
        anchor="ma",
    )
    draw.text(
        (width * 0.08, height * 0.9),
        f"VOL. {rng.randint(1, 30)}",
        font=_font(round(48 * scale)),
        fill=(255, 255, 255),
        stroke_width=max(1, round(3 * scale)),
        stroke_fill=(0, 0, 0),
    )
    draw.text(
        (width * 0.92, height * 0.96),
        _name(rng),
        font=_font(round(22 * scale)),
        fill=(255, 255, 255),
        anchor="rm",
    )
    return image


# --- photographs ------------------------------------------------------------------------------------


def render_photo(seed: int, *, width: int = 1024, height: int = 768) -> Image.Image:
    """Render a photograph-like RGB image: a sky and ground, soft out-of-focus shapes, a vignette
    and sensor noise. The same arguments always give the same pixels."""
    if width < MIN_PHOTO or height < MIN_PHOTO:
        raise ValueError(f"a photo is at least {MIN_PHOTO}x{MIN_PHOTO} pixels, not {width}x{height}")
    rng = random.Random(f"staydown-photo:{seed}:{width}x{height}")
    noise_rng = np.random.default_rng(rng.randrange(2**32))
    # Draw at a quarter of the size, blur and scale up: smooth like a lens, and fast.
    small_w, small_h = max(16, width // 4), max(16, height // 4)
    horizon = rng.uniform(0.3, 0.7)
    t = np.linspace(0.0, 1.0, small_h, dtype=np.float32)[:, None, None]
    sky_top, sky_low = np.array(_colour(rng, 60), np.float32), np.array(_colour(rng, 120), np.float32)
    ground_top, ground_low = (
        np.array(_colour(rng, 20, 200), np.float32),
        np.array(_colour(rng, 0, 160), np.float32),
    )
    sky = sky_top + (sky_low - sky_top) * np.clip(t / horizon, 0, 1)
    ground = ground_top + (ground_low - ground_top) * np.clip((t - horizon) / (1 - horizon), 0, 1)
    column = np.where(t < horizon, sky, ground)
    small = Image.fromarray(np.broadcast_to(column, (small_h, small_w, 3)).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(small)
    for _ in range(rng.randint(4, 12)):
        x, y = rng.uniform(0, small_w), rng.uniform(0, small_h)
        rx, ry = rng.uniform(4, small_w / 4), rng.uniform(4, small_h / 4)
        if rng.random() < 0.6:
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=_colour(rng))
        else:
            top = min(y, small_h * horizon) - ry  # a building or a tree trunk standing on the ground
            draw.rectangle((x - rx / 2, top, x + rx / 2, small_h * horizon + ry), fill=_colour(rng, 0, 180))
    small = small.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 3.0)))
    picture = np.array(small.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    # Texture (foliage, walls, grain) from noise at a few scales, then lens falloff and sensor noise.
    texture = np.zeros((height, width), dtype=np.float32)
    for step, amplitude in ((32, 1.0), (8, 0.5), (2, 0.25)):
        coarse = noise_rng.standard_normal((max(2, height // step), max(2, width // step)), dtype=np.float32)
        texture += amplitude * np.asarray(
            Image.fromarray(coarse, "F").resize((width, height), Image.Resampling.BILINEAR)
        )
    texture *= rng.uniform(4, 14)
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    texture += noise_rng.standard_normal((height, width), dtype=np.float32) * rng.uniform(2, 6)
    picture *= (1.0 - rng.uniform(0.15, 0.4) * (xs**2 + ys**2) / 2)[:, :, None]
    picture += texture[:, :, None]
    np.clip(picture, 0, 255, out=picture)
    return Image.fromarray(picture.astype(np.uint8), "RGB")
