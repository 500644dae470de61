"""Fingerprints as the edge and the bank see them: every web format, every way an input can be bad,
the quality gate, and PDQ distances of demo pages under the transforms copies go through."""

from __future__ import annotations

import hashlib
import io
import itertools
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps, features

from staydown.demo.pages import PageKind, render_page, render_photo
from staydown.fingerprints.hashing import (
    PDQ_BYTES,
    QUALITY_MIN,
    Fingerprint,
    ImageLimits,
    ImageRejected,
    fingerprint,
    hamming,
    is_image_type,
    reference_fingerprint,
)
from tests.support import hard_timeout

AUTO_BLOCK = 31
REVIEW = 48


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return render_page(7, width=600, height=840)


@pytest.fixture(scope="module")
def reference(page: Image.Image) -> Fingerprint:
    return reference_fingerprint(encode(page, quality=95))


def distance(reference: Fingerprint, query: Fingerprint) -> int:
    assert reference.pdq and query.pdq
    return min(hamming(a, b) for a in reference.pdq for b in query.pdq)


# --- formats ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90}), ("GIF", {})],
)
def test_every_web_format_is_fingerprinted_and_matches_the_reference(
    page: Image.Image, reference: Fingerprint, fmt: str, options: dict[str, object]
) -> None:
    data = encode(page, fmt, **options)
    result = fingerprint(data)
    assert result.format == fmt
    assert (result.width, result.height) == page.size
    assert result.sha256 == hashlib.sha256(data).digest()
    assert not result.weak and result.quality >= QUALITY_MIN
    assert 1 <= len(result.pdq) <= 2 and all(len(h) == PDQ_BYTES for h in result.pdq)
    assert distance(reference, result) <= AUTO_BLOCK


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF codec")
def test_avif(page: Image.Image, reference: Fingerprint) -> None:
    result = fingerprint(encode(page.convert("RGB"), "AVIF", quality=80))
    assert result.format == "AVIF"
    assert distance(reference, result) <= AUTO_BLOCK


def test_only_the_first_frame_of_an_animation_counts(page: Image.Image, reference: Fingerprint) -> None:
    other = render_page(8, width=600, height=840)
    for fmt in ("GIF", "WEBP", "PNG"):
        data = encode(page, fmt, save_all=True, append_images=[other], duration=100, loop=0)
        assert distance(reference, fingerprint(data)) <= AUTO_BLOCK
        swapped = encode(other, fmt, save_all=True, append_images=[page], duration=100, loop=0)
        assert distance(reference, fingerprint(swapped)) > REVIEW


def test_transparency_is_flattened_onto_white(page: Image.Image, reference: Fingerprint) -> None:
    rgba = page.convert("RGBA")
    rgba.putalpha(ImageOps.invert(page.convert("L")))  # ink opaque, paper transparent
    assert distance(reference, fingerprint(encode(rgba, "PNG"))) <= AUTO_BLOCK


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("image/jpeg", True),
        ("IMAGE/PNG; charset=binary", True),
        ("image/webp", True),
        ("image/gif", True),
        ("image/avif", features.check("avif")),
        ("image/svg+xml", False),
        ("image/bmp", False),
        ("text/html", False),
        ("", False),
    ],
)
def test_is_image_type(content_type: str, expected: bool) -> None:
    assert is_image_type(content_type) is expected


# --- bad input --------------------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size and whose data is a few bytes (it never decodes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("claim", "limits"),
    [
        ((100_000, 100_000), ImageLimits()),  # beyond Pillow's own check too
        ((7_000, 7_000), ImageLimits()),  # 49 M pixels: over our 40 M limit
        ((2_000, 2_000), ImageLimits(max_pixels=1_000_000)),
    ],
)
def test_decompression_bombs_are_refused_from_the_header(claim: tuple[int, int], limits: ImageLimits) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImageRejected) as caught:
            fingerprint(png_claiming(*claim), limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == "decompression_bomb"
    assert peak < 5_000_000  # the pixels (at least 4 MB) were never allocated


def test_a_jpeg_of_thousands_of_scans_is_refused_before_decoding() -> None:
    progressive = encode(Image.new("L", (4000, 4000), 128), progressive=True, quality=50)
    last_scan = progressive[progressive.rfind(b"\xff\xda") : -2]  # a few bytes, a pass over every pixel
    bomb = progressive[:-2] + last_scan * 2_000 + b"\xff\xd9"
    with hard_timeout(5), pytest.raises(ImageRejected) as caught:
        fingerprint(bomb)
    assert caught.value.code == "decompression_bomb" and "2006 scans" in caught.value.message
    assert fingerprint(progressive).width == 4000  # the ten scans of an encoder are read


def test_bad_bytes_are_rejected_with_a_reason(page: Image.Image) -> None:
    jpeg = encode(page, quality=90)
    cases = {
        b"": "empty",
        b"hello, this is a text file\n" * 20: "unsupported_format",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>": "unsupported_format",
        encode(page, "BMP"): "unsupported_format",
        encode(page, "TIFF"): "unsupported_format",
        jpeg[: len(jpeg) // 2]: "corrupt",  # truncated
        jpeg[:4] + bytes(range(256)) * 8: "corrupt",  # a JPEG marker, then noise
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100: "corrupt",
        png_claiming(100, 100)[:40]: "corrupt",
    }
    for data, code in cases.items():
        with pytest.raises(ImageRejected) as caught:
            fingerprint(data)
        assert caught.value.code == code, (data[:16], caught.value)
        assert str(caught.value)


def test_too_many_bytes() -> None:
    data = encode(Image.new("L", (64, 64), 128), "PNG")
    with pytest.raises(ImageRejected) as caught:
        fingerprint(data, limits=ImageLimits(max_bytes=len(data) - 1))
    assert caught.value.code == "too_large"
    with pytest.raises(ValueError, match="unknown rejection code"):
        ImageRejected("nope", "x")


# --- the quality gate -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (800, 1100), 255),
        Image.new("RGB", (640, 480), (30, 90, 200)),
        render_page(3, kind=PageKind.credits, width=600, height=840),
    ],
    ids=["blank", "flat colour", "credits page"],
)
def test_weak_images_keep_only_their_exact_hash(image: Image.Image) -> None:
    data = encode(image, "PNG")
    for result in (fingerprint(data), reference_fingerprint(data)):
        assert result.weak and result.quality < QUALITY_MIN
        assert result.pdq == ()
        assert result.sha256 == hashlib.sha256(data).digest()


# --- near-duplicates --------------------------------------------------------------------------------


def banner(image: Image.Image, *, top: bool) -> Image.Image:
    w, h = image.size
    strip = Image.new("RGB", (w, h // 10), (200, 40, 40))
    ImageDraw.Draw(strip).text(
        (h // 10, h // 40), "FREE MANGA ONLINE", fill=(255, 255, 255), font_size=h // 30
    )
    canvas = Image.new("RGB", (w, h + strip.height))
    canvas.paste(strip, (0, 0 if top else h))
    canvas.paste(image.convert("RGB"), (0, strip.height if top else 0))
    return canvas


def pad(image: Image.Image, colour: tuple[int, int, int], border: tuple[int, int, int, int]) -> Image.Image:
    return ImageOps.expand(image.convert("RGB"), border, colour)


TRANSFORMS = {
    "jpeg q40": lambda im: encode(im, quality=40),
    "webp": lambda im: encode(im, "WEBP", quality=70),
    "png": lambda im: encode(im, "PNG"),
    "resize 50%": lambda im: encode(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "crop 5%": lambda im: encode(im.crop((30, 42, im.width - 30, im.height - 42))),
    "crop one edge": lambda im: encode(im.crop((0, 0, im.width, im.height - 40))),
    "pad white": lambda im: encode(pad(im, (255, 255, 255), (40, 60, 40, 60))),
    "pad black": lambda im: encode(pad(im, (0, 0, 0), (10, 50, 30, 20))),
    "flip": lambda im: encode(ImageOps.mirror(im)),
    "rotate 180": lambda im: encode(im.rotate(180)),
    "banner top": lambda im: encode(banner(im, top=True)),
    "banner bottom": lambda im: encode(banner(im, top=False)),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_copies_of_a_page_stay_within_the_automatic_radius(
    page: Image.Image, reference: Fingerprint, name: str
) -> None:
    assert distance(reference, fingerprint(TRANSFORMS[name](page))) <= AUTO_BLOCK


def test_copies_of_a_photo_match_too() -> None:
    photo = render_photo(4, width=640, height=480)
    reference = reference_fingerprint(encode(photo, quality=95))
    for name in ("jpeg q40", "webp", "resize 50%", "flip", "crop one edge"):
        copy = TRANSFORMS[name](photo) if name != "crop one edge" else encode(photo.crop((0, 0, 640, 470)))
        assert distance(reference, fingerprint(copy)) <= AUTO_BLOCK, name


def test_a_photo_in_a_pad_or_under_a_banner_is_found_by_its_trimmed_hash() -> None:
    """A photo has no margins: the pad is stripped down to the picture, and a banner ends where its
    own background does. (bench/staydown_accuracy.py measures how often, over many photos.)"""
    photo = render_photo(4, width=640, height=480)
    reference = reference_fingerprint(encode(photo, quality=95))
    for copy in (
        pad(photo, (0, 0, 0), (20, 30, 20, 30)),
        pad(photo, (255, 255, 255), (0, 40, 0, 40)),
        banner(photo, top=True),
        banner(photo, top=False),
    ):
        query = fingerprint(encode(copy))
        assert 2 <= len(query.pdq) <= 3
        assert hamming(reference.pdq[0], query.pdq[0]) > REVIEW  # as it is, the copy is far off
        assert distance(reference, query) <= AUTO_BLOCK  # trimmed, it is found


@pytest.mark.parametrize(
    "copy",
    [
        lambda im, edge: pad(im, edge, (3, 60, 0, 40)),
        lambda im, edge: pad(im, (255, 255, 255), (0, 50, 2, 30)),
        lambda im, edge: banner(im, top=True),
        lambda im, edge: banner(im, top=False),
    ],
    ids=["pad of the cover's own sky colour", "white pad, thin at one side", "banner on top", "banner below"],
)
def test_a_cover_in_a_pad_or_under_a_banner_is_found(
    copy: Callable[[Image.Image, tuple[int, int, int]], Image.Image],
) -> None:
    """A cover is full-bleed, and its flat sky and title look like borders and banners to trimming;
    the query's hash with only the pad or banner stripped comes back to the cover itself."""
    cover = render_page(27, kind=PageKind.cover, width=500, height=700)
    reference = reference_fingerprint(encode(cover, quality=95))
    edge = cover.convert("RGB").getpixel((250, 2))
    assert isinstance(edge, tuple)
    query = fingerprint(encode(copy(cover, (edge[0], edge[1], edge[2]))))
    assert distance(reference, query) <= AUTO_BLOCK


def test_a_cover_with_a_light_sky_in_a_white_pad_is_found() -> None:
    """Inside a white pad, a cover's pale, nearly flat sky and edges look like a page's paper
    margins, so trimming cuts into the picture; the hash with only the pad stripped still finds it."""
    cover = render_page(147, kind=PageKind.cover, layout=3)
    reference = reference_fingerprint(encode(cover, quality=95))
    query = fingerprint(encode(pad(cover, (255, 255, 255), (69, 42, 52, 2))))
    _, trimmed, stripped = query.pdq
    assert min(hamming(reference_hash, trimmed) for reference_hash in reference.pdq) > AUTO_BLOCK
    assert min(hamming(reference_hash, stripped) for reference_hash in reference.pdq) <= AUTO_BLOCK


def test_a_plain_page_is_hashed_twice() -> None:
    """A page framed by its own margins needs no third hash: the verdict on the usual copy stays at
    two PDQ computations."""
    query = fingerprint(encode(render_page(11, width=600, height=840), quality=80))
    assert len(query.pdq) == 2


@pytest.mark.parametrize("vertical", [True, False], ids=["top to bottom", "left to right"])
def test_a_gradient_is_not_a_border(vertical: bool) -> None:
    """A sky or a cover's background fades; trimming it would make crops and pads disagree."""
    ramp = np.linspace(30, 220, 480 if vertical else 640, dtype=np.float32)
    pixels = np.tile(ramp[:, None], (1, 640)) if vertical else np.tile(ramp[None, :], (480, 1))
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for i in range(5):
        draw.ellipse((60 + 110 * i, 160 + 20 * i, 140 + 110 * i, 260 + 20 * i), fill=255 - 40 * i)
    result = fingerprint(encode(image, quality=90))
    assert not result.weak
    assert len(result.pdq) == 1  # nothing was trimmed


def test_distinct_pages_are_far_apart_even_sharing_a_layout() -> None:
    pages = [render_page(seed, width=500, height=700, layout=2) for seed in range(6)]
    references = [reference_fingerprint(encode(p, quality=90)) for p in pages]
    queries = [fingerprint(encode(p, quality=70)) for p in pages]
    for (i, ref), (j, query) in itertools.product(enumerate(references), enumerate(queries)):
        if i != j:
            assert distance(ref, query) > REVIEW, (i, j)


def test_a_reference_carries_raw_and_trimmed_in_eight_orientations(page: Image.Image) -> None:
    data = encode(page, quality=95)
    ref = reference_fingerprint(data)
    query = fingerprint(data)
    assert 8 < len(ref.pdq) <= 16 and len(set(ref.pdq)) == len(ref.pdq)  # no crop windows: framed
    assert len(query.pdq) == 2  # the page has margins, so trimming changed it
    assert set(query.pdq) <= set(ref.pdq)  # the same pipeline on both sides: identical hashes
    photo = encode(render_photo(1, width=320, height=240), quality=95)
    assert len(fingerprint(photo).pdq) == 1  # nothing to trim, no pad or banner to strip


@pytest.mark.parametrize(
    "box",
    [(0.05, 0.0, 0.0, 0.0), (0.0, 0.05, 0.05, 0.0), (0.01, 0.03, 0.05, 0.02), (0.05, 0.05, 0.05, 0.05)],
    ids=["left 5%", "top and right 5%", "uneven", "5% all round"],
)
def test_a_cropped_copy_of_a_full_bleed_picture_lands_near_a_crop_window(
    box: tuple[float, float, float, float],
) -> None:
    """A photo has no margin to absorb a crop: as it is, the copy is far off; the reference's crop
    windows bring it within the automatic radius."""
    photo = render_photo(7, width=800, height=600)
    reference = reference_fingerprint(encode(photo, quality=95))
    left, top, right, bottom = box
    w, h = photo.size
    copy = fingerprint(
        encode(photo.crop((round(left * w), round(top * h), w - round(right * w), h - round(bottom * h))))
    )
    assert min(hamming(code, copy.pdq[0]) for code in reference.pdq[:8]) > AUTO_BLOCK
    assert distance(reference, copy) <= AUTO_BLOCK


@pytest.mark.parametrize("kind", ["photo", "cover"])
def test_a_mirrored_and_cropped_copy_of_a_full_bleed_picture_is_found(kind: str) -> None:
    image = (
        render_photo(7, width=800, height=600)
        if kind == "photo"
        else render_page(27, kind=PageKind.cover, width=500, height=700)
    )
    reference = reference_fingerprint(encode(image, quality=95))
    w, h = image.size
    copy = fingerprint(encode(ImageOps.mirror(image).crop((round(0.04 * w), 0, w, h - round(0.03 * h)))))
    assert distance(reference, copy) <= AUTO_BLOCK


@pytest.mark.parametrize("turn", list(Image.Transpose), ids=lambda turn: turn.name.lower())
def test_a_turned_or_mirrored_copy_is_found(
    page: Image.Image, reference: Fingerprint, turn: Image.Transpose
) -> None:
    """Each of the 7 other orientations a copy can be stored in (a quarter turn included, as a phone or a
    scanner saves it) lands on one of the reference's variants."""
    assert distance(reference, fingerprint(encode(page.transpose(turn), "PNG"))) <= 8


def test_a_copy_turned_by_its_exif_orientation_is_found(page: Image.Image, reference: Fingerprint) -> None:
    """A JPEG stored a quarter turn off, with the EXIF tag that turns it back for display."""
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees clockwise to display
    turned = page.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    assert distance(reference, fingerprint(encode(turned, quality=85, exif=exif.tobytes()))) <= AUTO_BLOCK


def test_crop_windows_only_where_a_crop_takes_picture_away(page: Image.Image) -> None:
    """A page with paper margins all round keeps its 16 hashes; a full-bleed picture adds 80 crop
    windows (3 crops at each of 4 edges, less the uncropped one), each upright and mirrored."""
    assert len(reference_fingerprint(encode(page, quality=95)).pdq) <= 16
    photo = reference_fingerprint(encode(render_photo(7, width=800, height=600), quality=95))
    assert 8 + 80 < len(photo.pdq) <= 16 + 2 * 80
    cover = render_page(7, kind=PageKind.cover, width=500, height=700)
    assert len(reference_fingerprint(encode(cover, quality=95)).pdq) > 16


def test_fingerprinting_is_safe_from_many_threads(page: Image.Image) -> None:
    inputs = [encode(render_page(seed, width=400, height=560), quality=80) for seed in range(6)]
    expected = [fingerprint(data) for data in inputs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(3):
            assert list(pool.map(fingerprint, inputs)) == expected


def test_hamming() -> None:
    assert hamming(b"\x00" * 32, b"\xff" * 32) == 256
    assert hamming(b"\x01\x80", b"\x00\x00") == 2
    with pytest.raises(ValueError, match="different lengths"):
        hamming(b"\x00", b"\x00\x00")


@pytest.mark.parametrize("gutter", [0, 24], ids=["pages touching", "paper gutter"])
def test_each_page_of_a_two_page_spread_is_found_by_its_own_hash(gutter: int) -> None:
    """A spread of two noticed pages is split at its gutter, and each half is hashed as a page."""
    left, right = render_page(41, width=600, height=840), render_page(42, width=600, height=840)
    spread = Image.new("L", (1200 + gutter, 840), 255)
    spread.paste(left, (0, 0))
    spread.paste(right, (600 + gutter, 0))
    query = fingerprint(encode(spread.resize((spread.width * 4 // 5, 672)), quality=80))
    # Pages that touch lose a sliver at the split and may only come near (the second stage, which
    # runs after serving, settles those); a gutter gives each page back whole.
    limit = AUTO_BLOCK if gutter else REVIEW
    for page in (left, right):
        assert distance(reference_fingerprint(encode(page, quality=95)), query) <= limit
    assert distance(reference_fingerprint(encode(render_page(43, width=600, height=840))), query) > REVIEW
    assert len(query.parts) == len(query.pdq)
    assert {"whole", "left page", "right page"} <= set(query.parts)
