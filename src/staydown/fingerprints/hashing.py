"""Fingerprints of images: SHA-256 of the exact bytes and PDQ hashes of what the image looks like.

A reference image from a rightsholder and an image an edge is about to cache go through the same
pipeline, so their PDQ distances are comparable: decode the first frame (JPEGs in draft mode, so the
decoder's DCT scaling does most of the shrinking), flatten transparency onto white, take the luma
(PDQ hashes luma only, with the same ITU-R 601 weights Pillow uses), and scale it to fit a fixed box.

Copies are often re-framed, so every image is hashed as it is and with its borders normalised
(``trimmed``). A border is a uniform layer that ends at an edge: a pad, and inside it a page's
white margin, are stripped, while a gradient (a sky) is picture and stays. A strip added at the
top or bottom (a site banner) is dropped where a band of the page's paper cuts it off, or, over a
photo or a cover, where its own background ends. Trimming decides the same way for a reference and
for a copy, so their trimmed hashes agree. References also get the 8 dihedral variants of both,
hashed from turned pixels, so mirrored and rotated copies match.

A full-bleed picture (a cover, a photo) has no margin to absorb a crop, and its own flat edges (a
sky) make trimming unsure where a pad or banner ends. So a reference without paper margins all
round also carries crop windows (0, 2 or 4% cut off each edge, 80 of them, each also mirrored),
which bring a copy cropped by up to 5% per edge, mirrored or not, within reach; and a query is
also hashed with only what a copy adds stripped (a pad of one colour at two sides or more, a banner
that ends sharply), which gives back the reference's own pixels, give or take a crop the windows
absorb. A copy that looks framed gets that hash too when trimming took more than its pad: a
picture's pale edges inside a white pad look like paper. A wide image (a two-page spread) is also
hashed page by page, split at its gutter and each page trimmed, so that a spread of two noticed
pages, or a spread noticed and one of its pages copied, still match. A plain copy of a page has two hashes, a
changed one or a picture's up to three; a reference at most 8 + 8 + 2 x (80 + 1) = 178. A hash of
low PDQ quality (a blank or near-blank image) says little about the picture, so weak images keep
only their SHA-256: they are never blocked automatically on a perceptual match.

Decoding is guarded: size limits are checked from the header before any pixel is allocated, only
the five web formats are decoded, and every decoder failure becomes :class:`ImageRejected` with a
code. Everything here is reentrant and safe to call from a thread pool.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image, UnidentifiedImageError, features

__all__ = [
    "FORMATS",
    "PDQ_BYTES",
    "QUALITY_MIN",
    "Fingerprint",
    "ImageLimits",
    "ImageRejected",
    "decode_luma",
    "fingerprint",
    "hamming",
    "is_image_type",
    "reference_fingerprint",
]

PDQ_BYTES = 32
QUALITY_MIN = 50  # PDQ's own recommendation: below this a hash is not trusted for matching

Luma = npt.NDArray[np.uint8]

# The formats decoded, and the media types that announce them. AVIF only when Pillow has it.
FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", *(("AVIF",) if features.check("avif") else ()))
_CONTENT_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/avif": "AVIF",
}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
REJECTION_CODES = frozenset({"unsupported_format", "corrupt", "too_large", "decompression_bomb", "empty"})

# The box every image is scaled to fit before hashing: four times PDQ's own 64x64 working size,
# which keeps trimming precise. JPEGs are drafted (decoded by DCT scaling) to at least the box.
NORMAL_SIZE = 256

# Border normalisation, in luma levels and shares of the image's side.
_FUZZ = 32  # a pixel within this of a border's colour belongs to it (JPEG ringing, noise)
_STRAY = 0.03  # a border line may have this share of other pixels (a page number in a margin)
_UNIFORM = 4  # a border's lines keep their colour within this; a gradient drifts past it
_LAYER = 0.015  # a border inside another (a margin inside a pad) is at least this thick
_BLEND = 2  # lines that blend one border into the next (JPEG and resampling soften edges)
_PAPER = 200  # pages are printed on white: a border this light is a page's own margin
_DEEPEST = 0.4  # no border is deeper than this
_MIDDLE = 0.15  # side borders are judged on the rows between 15% and 85% of the height
_PASSES = 4
# A strip added above or below (a banner) is at most _STRIP of the height; on a page it is cut off
# by a band of paper rows at least _BAND deep with at most _BAND_STRAY other pixels, so panel
# borders crossing a gutter stop it.
_STRIP = 0.22
_BAND = 0.025
_BANNER_BAND = 0.01
_BAND_STRAY = 0.005
_MIN_TRIMMED = 0.3  # a trimmed image smaller than this share of either side is not the picture
# Crop windows of a full-bleed reference, as shares of the side cut off at each edge: 3^4 - 1 = 80
# windows, the residual to a copy cropped by up to 5% per edge is at most 1% per edge.
_CROPS = (0.0, 0.02, 0.04)
_CROP_DEEPEST = 0.05  # paper margins this deep all round absorb a crop of up to 5% per edge
# Two-page spreads: at least this much wider than high, split at a gutter found between these
# shares of the width (a seam is a step between neighbouring columns in this share of the rows);
# from _PAGES (two portrait pages are ~1.4) in the middle when no gutter shows.
_SPREAD = 1.2
_PAGES = 1.38
_GUTTER = (0.35, 0.65)
_SEAM = 0.6


# A progressive JPEG is decoded scan by scan over the whole image, so its cost is its pixels times its
# scans, and a scan costs a few bytes: more than this many (encoders write about ten) is a bomb.
MAX_JPEG_SCANS = 100
# The end of entropy-coded data: a marker, not a stuffed 0xFF (0xFF00), a restart or a fill byte.
_JPEG_MARKER = re.compile(rb"\xff(?![\x00\xd0-\xd7\xff])")


def jpeg_scans(data: bytes) -> int:
    """How many scans (SOS segments) a JPEG holds, counted by walking its segments in one pass."""
    scans, index, size = 0, 2, len(data)
    while index + 4 <= size and data[index] == 0xFF:
        marker = data[index + 1]
        if marker == 0xD9:  # EOI
            break
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill byte, no length
            index += 1 if marker == 0xFF else 2
            continue
        index += 2 + int.from_bytes(data[index + 2 : index + 4], "big")
        if marker == 0xDA:
            scans += 1
            found = _JPEG_MARKER.search(data, index)
            index = found.start() if found is not None else size
    return scans


class ImageRejected(ValueError):
    """An image that cannot be fingerprinted, with a machine-readable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        if code not in REJECTION_CODES:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What an input may cost: bytes read and pixels decoded."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The exact and perceptual hashes of one image, and what it was."""

    sha256: bytes
    pdq: tuple[bytes, ...]
    quality: int
    width: int
    height: int
    format: str
    # A reference's local features for the second stage (``features.Features.to_bytes``); empty
    # for a query, whose features are found only when PDQ does not decide.
    features: bytes = b""
    # For a query, what part of the image each PDQ hash is of ("whole", "left page", "right
    # page"), so that a match names the part that matched; empty for a reference.
    parts: tuple[str, ...] = ()

    def part_of(self, index: int) -> str:
        """What part of the image the ``index``-th PDQ hash is of."""
        return self.parts[index] if index < len(self.parts) else "whole"

    @property
    def weak(self) -> bool:
        """True when the image is too plain for its PDQ hash to be trusted (exact matching only)."""
        return self.quality < QUALITY_MIN


def is_image_type(content_type: str) -> bool:
    """Say whether a Content-Type names a format that is fingerprinted (parameters ignored)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return _CONTENT_TYPES.get(media) in FORMATS


def hamming(a: bytes, b: bytes) -> int:
    """Return the number of differing bits between two hashes of the same length."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)} bytes")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def fingerprint(data: bytes, *, limits: ImageLimits = ImageLimits()) -> Fingerprint:
    """Fingerprint an image to look it up: PDQ of the image as it is, with borders trimmed, and,
    where that differs, with only a pad or a banner stripped."""
    luma, size, fmt = _decode(data, limits)
    raw, quality = _pdq(luma)
    hashes: list[bytes] = []
    labels: list[str] = []
    if quality >= QUALITY_MIN:
        hashes.append(raw)
        labels.append("whole")
        trimmed, margins = _normalise(luma)
        # A page framed by paper margins is normalised by trimming; a pad or banner stripped on its
        # own serves full-bleed pictures, and a framed-looking one whose light edges (a sky) inside
        # a white pad trimming took for a page's margins.
        stripped = _strip_added(luma)
        if stripped is not None and trimmed is not None:
            if _framed(luma.shape, margins):
                stripped = stripped if _deeper(margins, stripped, luma) else None
            elif _same_part(stripped, trimmed, luma):
                stripped = None
        parts = [("whole", trimmed), ("whole", stripped)]
        # A two-page spread: each page on its own, split at the gutter.
        for label, half in zip(("left page", "right page"), _pages(data, limits, luma), strict=False):
            parts.extend(((label, half), (label, _normalise(half)[0])))
        for label, part in parts:
            if part is not None:
                hash_, part_quality = _pdq(part)
                if part_quality >= QUALITY_MIN and hash_ not in hashes:
                    hashes.append(hash_)
                    labels.append(label)
    return Fingerprint(
        hashlib.sha256(data).digest(), tuple(hashes), quality, size[0], size[1], fmt, parts=tuple(labels)
    )


def reference_fingerprint(data: bytes, *, limits: ImageLimits = ImageLimits()) -> Fingerprint:
    """Fingerprint a reference image for the bank: the 8 dihedral variants of raw and trimmed, and
    for a full-bleed image its crop windows and its pad- or banner-stripped part, each also mirrored."""
    luma, size, fmt = _decode(data, limits)
    raw, quality = _pdq_dihedral(luma)
    hashes: dict[bytes, None] = {}
    if quality >= QUALITY_MIN:
        hashes.update(dict.fromkeys(raw))
        trimmed, margins = _normalise(luma)
        if trimmed is not None:
            variants, trimmed_quality = _pdq_dihedral(trimmed)
            if trimmed_quality >= QUALITY_MIN:
                hashes.update(dict.fromkeys(variants))
        parts: list[Luma] = []
        if not _framed(luma.shape, margins):
            stripped = _strip_added(luma)
            parts = _crop_windows(luma)
            if stripped is not None:
                # A banner-like strip of the picture's own (a title over a flat sky) is stripped
                # from a copy too, with the banner the copy got: the query's third hash lands here.
                parts.append(stripped)
        # A spread given as a reference: its pages, which copies may show one at a time.
        for half in _pages(data, limits, luma):
            parts.extend(part for part in (half, _normalise(half)[0]) if part is not None)
        # Copies are mirrored as well as cropped or padded: each part also as a mirror image.
        for part in parts:
            for turned in (part, part[:, ::-1]):
                hash_, part_quality = _pdq(turned)
                if part_quality >= QUALITY_MIN:
                    hashes[hash_] = None
    return Fingerprint(hashlib.sha256(data).digest(), tuple(hashes), quality, size[0], size[1], fmt)


# --- decoding ---------------------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """Name the image format the first bytes announce (origins mislabel images), or None."""
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:12] in (b"ftypavif", b"ftypavis", b"ftypmif1"):
        return "AVIF"
    return None


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    """Open an image from its header, refusing what is not one of FORMATS or is too big."""
    if not data:
        raise ImageRejected("empty", "the image has no bytes")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes is more than the limit of {limits.max_bytes}")
    sniffed = sniff(data)
    if sniffed is not None and sniffed not in FORMATS:
        raise ImageRejected("unsupported_format", f"{sniffed} images are not supported here")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own check (the warning is raised where warnings are errors, as under test).
        raise ImageRejected("decompression_bomb", str(error)) from None
    except UnidentifiedImageError:
        if sniffed is not None:
            raise ImageRejected("corrupt", f"the {sniffed} header cannot be read") from None
        raise ImageRejected("unsupported_format", "not a JPEG, PNG, WebP, GIF or AVIF image") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageRejected("corrupt", f"the image header cannot be read: {error}") from None
    if image.format == "JPEG" and (scans := jpeg_scans(data)) > MAX_JPEG_SCANS:
        image.close()
        raise ImageRejected(
            "decompression_bomb",
            f"the JPEG is coded in {scans} scans, more than the limit of {MAX_JPEG_SCANS}",
        )
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise ImageRejected("corrupt", f"the image claims a size of {width}x{height}")
    if width * height > limits.max_pixels:
        image.close()
        raise ImageRejected(
            "decompression_bomb",
            f"{width}x{height} is {width * height} pixels, more than the limit of {limits.max_pixels}",
        )
    return image


def decode_luma(data: bytes, *, limits: ImageLimits = ImageLimits(), size: int = NORMAL_SIZE) -> Luma:
    """Decode the first frame to luma scaled to fit a ``size`` square, with the same guards as
    fingerprinting (the local features of the second stage want more pixels than PDQ)."""
    return _decode(data, limits, size)[0]


def _decode(data: bytes, limits: ImageLimits, size: int = NORMAL_SIZE) -> tuple[Luma, tuple[int, int], str]:
    """Decode the first frame to luma scaled into the normal box; return it, the size and format."""
    with _open(data, limits) as image:
        width, height = image.size
        fmt = image.format or "unknown"
        box = _fit(width, height, size)
        if fmt == "JPEG":
            image.draft("L", box)
        try:
            image.load()  # the first frame of an animation: an image opens on frame 0
            luma = _to_luma(image)
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
            raise ImageRejected("corrupt", f"the {fmt} data cannot be decoded: {error}") from None
    if luma.size != box:
        luma = luma.resize(box, Image.Resampling.BOX)
    return np.asarray(luma, dtype=np.uint8), (width, height), fmt


def _fit(width: int, height: int, limit: int) -> tuple[int, int]:
    """The size of ``width``x``height`` scaled to fit a ``limit`` square (up or down)."""
    scale = limit / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_luma(image: Image.Image) -> Image.Image:
    """Flatten any mode to 8-bit luma; transparency goes onto white, as browsers show it on pages."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        wide = np.asarray(image, dtype=np.float32) / 257.0
        return Image.fromarray(np.clip(wide, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    if image.mode == "L":
        return image
    if image.mode not in ("RGB", "1"):
        image = image.convert("RGB")
    return image.convert("L")


# --- PDQ --------------------------------------------------------------------------------------------


def _as_rgb(luma: Luma) -> npt.NDArray[np.uint8]:
    # pdqhash takes RGB and weighs the channels into luma; equal channels give back this luma.
    # A read-only view that repeats each pixel three times, not a copy.
    return np.broadcast_to(luma[:, :, None], (*luma.shape, 3))


def _pack(bits: npt.NDArray[np.generic]) -> bytes:
    # pdqhash lists bits from the most significant, so this is the byte order of PDQ's hex form.
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def _pdq(luma: Luma) -> tuple[bytes, int]:
    # pdqhash reads a turned view (np.rot90, whose rows are not laid out one after another) as if
    # it were not turned, so every view it gets has C-ordered rows; a contiguous array is not copied.
    bits, quality = pdqhash.compute(_as_rgb(np.ascontiguousarray(luma)))
    return _pack(bits), int(quality)


def _pdq_dihedral(luma: Luma) -> tuple[list[bytes], int]:
    # Each variant is hashed from turned pixels rather than PDQ's own DCT-domain variants: PDQ's
    # downsampling is not symmetric, so on busy line art its derived variants land up to ~40 bits
    # from the hash of the actually mirrored image that a query computes.
    hashes = []
    quality = 0
    for flipped in (luma, luma[:, ::-1]):
        for turns in range(4):
            hash_, variant_quality = _pdq(np.rot90(flipped, turns))
            hashes.append(hash_)
            if not hashes[1:]:
                quality = variant_quality
    return hashes, quality


# --- border normalisation ---------------------------------------------------------------------------


def _medians(block: npt.NDArray[np.uint8] | npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """The median of each row (the upper one of an even row), by partition: np.median's overhead
    is most of its cost on rows this short."""
    middle = block.shape[1] // 2
    return np.partition(block, middle, axis=1)[:, middle].astype(np.int16)


def _share(off: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """The share of true values in each row."""
    share: npt.NDArray[np.float64] = np.count_nonzero(off, axis=1) / max(1, off.shape[1])
    return share


def _off_line(block: Luma, colour: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """The share of each row's pixels that differ from that row's ``colour`` by more than _FUZZ."""
    off = np.abs(block.astype(np.int16) - colour.reshape(-1, 1)) > _FUZZ
    return _share(off)


def _leading(flags: npt.NDArray[np.bool_]) -> int:
    """How many leading entries are true."""
    false = np.flatnonzero(~flags)
    return int(false[0]) if false.size else len(flags)


def _transition(probe: Luma, previous: int | None) -> tuple[int, int]:
    """Where the next layer of border starts and its colour: up to _BLEND lines that blend into it
    from the ``previous`` layer's colour, or at the image's edge any lines of another colour (a
    sliver of pad), are skipped: JPEG and resampling soften every edge."""
    medians = _medians(probe[: _BLEND + 1])
    colour = int(medians[-1])
    low, high = (-1, 256) if previous is None else (min(previous, colour), max(previous, colour))
    low, high = low - _FUZZ, high + _FUZZ
    skip = 0
    while skip < len(medians) - 1 and low <= medians[skip] <= high and abs(medians[skip] - colour) > _UNIFORM:
        skip += 1
    return skip, colour


def _layer(probe: Luma, colour: int) -> int:
    """How many leading lines of ``probe`` are a uniform border of ``colour`` that ends at an edge.

    A border is flat (few stray pixels) and keeps its colour; the line after it is content or a
    clearly different colour. A gradient (a sky, a cover's background) drifts instead of ending,
    so it is not a border and nothing of it is stripped."""
    window = probe[: max(1, round(_DEEPEST * probe.shape[0]))].astype(np.int16)
    share = _share(np.abs(window - colour) > _FUZZ)
    flat = _leading(share <= _STRAY)
    if flat == 0 or flat == len(window):
        return 0  # no border, or deeper than any border: this is the picture
    medians = _medians(window[: flat + 1])  # only where it can matter
    count = _leading(np.abs(medians[:flat] - colour) <= _UNIFORM)
    if count == 0:
        return 0
    own = np.count_nonzero(np.abs(window[count] - medians[count]) > _FUZZ) / window.shape[1]
    if own <= _STRAY and abs(int(medians[count]) - int(medians[count - 1])) <= _UNIFORM:
        return 0  # the colour drifts on, line by line: a gradient
    return count


def _strip_margins(
    luma: Luma, colours: list[int | None] | None = None
) -> tuple[Luma, list[int | None], list[int | None]]:
    """Strip uniform borders of the colour found at each edge, pads over margins included.

    Columns are judged on the middle rows only, so a banner across the top or bottom does not hide
    the page's side margins. Returns the rest and, for the top, right, bottom and left sides, the
    colour of the innermost border stripped there (None where nothing was, or only a sliver) and of
    the outermost; ``colours`` carries the innermost on from an earlier strip."""
    colours = list(colours) if colours is not None else [None] * 4
    outer: list[int | None] = [None] * 4
    full = luma.shape
    for _ in range(_PASSES):
        before = luma.shape
        for side in (1, 3, 0, 2):  # left and right first, then top and bottom
            turned = np.rot90(luma, side)  # the side to strip comes first
            if turned.shape[0] < 2:
                continue
            probe = turned
            if side in (1, 3):
                span = turned.shape[1]
                probe = turned[:, round(span * _MIDDLE) : span - round(span * _MIDDLE)]
            previous = colours[side]
            skip, colour = _transition(probe, previous)
            count = _layer(probe[skip:], colour)
            thick = count >= _LAYER * full[side % 2]
            # Past a first layer (a pad, or the page's margin) only a page's white margin goes,
            # and only a thick one: a thin one is a panel border, and inside it lies the picture;
            # a flat stretch of a photo inside a pad is the picture too.
            if previous is not None and not (
                thick and colour >= _PAPER and abs(colour - previous) > _UNIFORM
            ):
                continue
            if count:
                # A thin first layer is an edge artefact (a sliver of pad, resampling): the next
                # layer counts as the first.
                colours[side] = colour if thick or previous is not None else None
                outer[side] = colour if outer[side] is None else outer[side]
                luma = np.rot90(turned[min(skip + count, turned.shape[0] - 1) :], -side)
        if luma.shape == before:
            break
    return luma, colours, outer


def _cut_banner(luma: Luma, colour: int) -> tuple[Luma, int] | None:
    """Drop a banner at the top whose flat background of ``colour`` was stripped: it ends at a band
    of rows of that colour below its lettering, or else where rows stop having that colour as
    their median (lettering and a logo cover little of a row). Return the rest and the colour, or
    None when no banner ends within _STRIP."""
    height = luma.shape[0]
    window = luma[: round(_STRIP * height) + 1]
    medians = _medians(window)
    own = np.abs(medians - colour) <= _UNIFORM
    flat = _share(np.abs(window.astype(np.int16) - colour) > _FUZZ) <= _BAND_STRAY
    band = own & flat
    rows = max(2, round(_BANNER_BAND * height))
    run = 0
    for row, flag in enumerate(band):
        run = run + 1 if flag else 0
        if run >= rows and row + 1 - run > 0 and (row + 1 == len(band) or not band[row + 1]):
            return luma[row + 1 :], colour
    end = _leading(own)
    if end == len(window) or end < 1:
        return None
    return luma[end:], colour


def _cut_strip(luma: Luma, colours: list[int]) -> tuple[Luma, int] | None:
    """Drop a strip at the top that a band of rows of one of ``colours`` cuts off from the rest;
    return the rest and the band's colour, or None.

    The band must be flat across the whole width: gutters and blank panels are crossed by panel
    borders, so only a margin between the picture and something added to it qualifies."""
    height = luma.shape[0]
    rows = max(2, round(_BAND * height))
    window = luma[: min(height, round(_STRIP * height) + rows + 1)]
    medians = _medians(window)
    flat = _off_line(window, medians) <= _BAND_STRAY
    for colour in colours:
        separator = flat & (np.abs(medians - colour) <= _FUZZ)
        run = 0
        for row, flag in enumerate(separator):
            run = run + 1 if flag else 0
            if run >= rows and row + 1 - run > 0:  # a band below some content
                end = row + 1
                while end < len(window) and separator[end]:
                    end += 1
                return (luma[end:], colour) if end < height else None
    return None


def _padded(colour: int, outer: list[int | None]) -> bool:
    """Whether both sides were stripped in ``colour`` too: a pad all round, not a banner."""
    return all(side is not None and abs(side - colour) <= 2 * _UNIFORM for side in (outer[1], outer[3]))


def _unlike(colour: int, paper: list[int]) -> bool:
    """Whether ``colour`` is clearly not the paper of the page's margins."""
    return all(abs(colour - margin) > _FUZZ for margin in paper)


def _framed(shape: tuple[int, ...], margins: list[tuple[int, int | None]]) -> bool:
    """Whether a page's paper margin at least _CROP_DEEPEST deep was stripped on every side: a
    copy cropped by that much loses margin only, which trimming absorbs. Anything else (a cover, a
    photo, a page printed to its edges) has picture at some edge, and a crop takes picture away."""
    return all(
        colour is not None and colour >= _PAPER and depth >= _CROP_DEEPEST * shape[side % 2]
        for side, (depth, colour) in enumerate(margins)
    )


def _crop_windows(luma: Luma) -> list[Luma]:
    """The image cropped by every combination of _CROPS at its four edges (the uncropped one
    excepted): PDQ is not crop-invariant (a 1% crop of one edge moves it ~14 bits on a full-bleed
    picture, shifts cost more than scaling), so a copy cropped by up to _CROPS[-1] plus half a step
    per edge lies near one of these windows. Upright; the reference hashes each one mirrored too."""
    height, width = luma.shape
    windows = []
    for left, top, right, bottom in itertools.product(_CROPS, repeat=4):
        if left == top == right == bottom == 0:
            continue
        rows = slice(round(top * height), height - round(bottom * height))
        columns = slice(round(left * width), width - round(right * width))
        windows.append(luma[rows, columns])
    return windows


def _pages(data: bytes, limits: ImageLimits, luma: Luma) -> list[Luma]:
    """The pages of a spread (see _halves), decoded anew at twice the normal size: each page is
    hashed from as many pixels as a page on its own would be."""
    height, width = luma.shape
    if width < _SPREAD * height:
        return []
    return _halves(_decode(data, limits, 2 * NORMAL_SIZE)[0])


def _halves(luma: Luma) -> list[Luma]:
    """The two pages of what looks like a two-page spread, split at the gutter: a band of flat
    columns of paper (between framed pages) nearest the middle, or else a seam down most of the height
    (two full-bleed pictures side by side), in an image at least _SPREAD times as wide as it is
    high; or the middle of one at least _PAGES times as wide (one drawing across both pages), which
    a landscape photograph (4:3 is 1.33) is not. Views into ``luma``; [] for anything else."""
    height, width = luma.shape
    if width < _SPREAD * height:
        return []
    low, high = round(_GUTTER[0] * width), round(_GUTTER[1] * width)
    columns = np.ascontiguousarray(np.rot90(luma[:, low:high]))[::-1]  # a row per column, left first
    colours = _medians(columns)
    # Flat in paper white (or black): a gradient's columns are flat too, in every shade between.
    flat = (_off_line(columns, colours) <= _STRAY) & ((colours >= _PAPER) | (colours <= 255 - _PAPER))
    start = end = width // 2 if width >= _PAGES * height else 0
    if flat.any():
        runs = np.flatnonzero(np.diff(np.concatenate(([0], flat.astype(np.int8), [0]))))
        starts, ends = runs[::2], runs[1::2]
        nearest = int(np.argmin(np.abs((starts + ends) / 2 + low - width / 2)))
        start, end = int(starts[nearest]) + low, int(ends[nearest]) + low
    else:
        steps = np.abs(np.diff(luma[:, low - 1 : high].astype(np.int16), axis=1)) > _FUZZ // 2
        seams = np.count_nonzero(steps, axis=0) / height
        sharpest = int(np.argmax(seams))
        if seams[sharpest] >= _SEAM:
            start = end = low + sharpest
    return [luma[:, :start], luma[:, end:]] if start else []


def _strip_added(luma: Luma) -> Luma | None:
    """Strip only what a copy adds around a picture: a pad (one flat layer of one colour at two sides
    or more) and a banner (at the top or bottom, a flat background with lettering that a band of
    its colour ends sharply). Nothing of the picture beneath goes: a flat stretch at one side (a
    sky) stays, so a copy of a full-bleed picture comes back to its reference, give or take a line
    or a few more where the picture's edge has the pad's colour (the reference's crop windows absorb
    that). Return the rest (a view into ``luma``), or None when nothing was stripped or too little
    is left."""
    height, width = luma.shape
    ends = [_flat_layer(luma), _flat_layer(luma[::-1])]
    rows = luma[ends[0][0] : height - ends[1][0]]
    sides = [_flat_layer(np.rot90(rows, 1)), _flat_layer(np.rot90(rows, 3))]  # right, left
    layers = [ends[0], sides[0], ends[1], sides[1]]  # top, right, bottom, left
    depths = [0] * 4
    for end in (0, 2):
        count, colour = layers[end]
        # A layer in the colour of two other sides is a pad all round, whatever lies inside it
        # (a photo's sky may look like a banner's band); with one, it may be a banner's background
        # in the colour of the picture's edge.
        if count and _sharing(layers, end) < 2:
            banner = _banner_below(luma[count:] if end == 0 else luma[::-1][count:], colour)
            depths[end] = count + banner if banner else 0
    pads = [layer if not depths[side] else (0, 0) for side, layer in enumerate(layers)]
    for side, (count, _) in enumerate(pads):
        if count and _sharing(pads, side):
            depths[side] = count
    top, right, bottom, left = depths
    if not any(depths) or height - top - bottom < _MIN_TRIMMED * height:
        return None
    if width - left - right < _MIN_TRIMMED * width:
        return None
    return luma[top : height - bottom, left : width - right]


def _sharing(layers: list[tuple[int, int]], side: int) -> int:
    """How many other sides have a layer in the colour of ``side``'s."""
    colour = layers[side][1]
    return sum(
        1
        for other, (count, other_colour) in enumerate(layers)
        if other != side and count and abs(other_colour - colour) <= 2 * _UNIFORM
    )


def _banner_below(probe: Luma, colour: int) -> int:
    """How many leading lines of ``probe`` (below a flat layer of ``colour``) are the rest of a
    banner: lettering on that colour, then a band of rows of it (two lines at least) that the
    picture ends sharply (the next rows' median is another colour); 0 when there is none within
    _STRIP, as under a title over a flat sky, where the sky goes on past the band."""
    height = probe.shape[0]
    window = probe[: round(_STRIP * height) + _BLEND + 2]
    medians = _medians(window)
    own = np.abs(medians - colour) <= _UNIFORM
    flat = _share(np.abs(window.astype(np.int16) - colour) > _FUZZ) <= _BAND_STRAY
    band = own & flat
    rows = max(2, round(_BANNER_BAND * height / 2))  # a line of the band blends into the picture
    run = 0
    for row, flag in enumerate(band[: round(_STRIP * height)]):
        run = run + 1 if flag else 0
        if run >= rows and row + 1 - run > 0 and not band[row + 1]:
            # The picture, or a line of it, within the lines that blend the band into it; the first
            # of them goes with the band.
            after = medians[row + 1 : row + 2 + _BLEND]
            return row + 2 if bool(np.any(np.abs(after - colour) > _UNIFORM)) else 0
    return 0


def _flat_layer(turned: Luma) -> tuple[int, int]:
    """How many leading lines of ``turned`` are flat in the colour of its first line, with the line
    that blends them into what follows, and that colour; 0 when none are, or when more than
    _DEEPEST are (that is the picture). Flat is tighter here than for trimming: a pad is one
    colour, while a photo's smooth sky is noisy and a drawn one drifts along a side."""
    if turned.shape[0] < 2:
        return 0, 0
    lines = turned[: max(1, round(_DEEPEST * turned.shape[0]))]
    colour = int(_medians(lines[:1])[0])
    off = _share(np.abs(lines.astype(np.int16) - colour) > 2 * _UNIFORM)
    flat = (off <= _STRAY) & (np.abs(_medians(lines) - colour) <= _UNIFORM)
    count = _leading(flat)
    if count == 0 or count == len(lines):
        return 0, 0
    return count + 1, colour


def _normalise(luma: Luma) -> tuple[Luma | None, list[tuple[int, int | None]]]:
    """Normalise borders: the trimmed luma (a view into ``luma``), or None when it is the whole
    image or too small, and for the top, right, bottom and left sides how deep the borders stripped
    there are and the colour of the innermost (None where nothing was stripped)."""
    height, width = luma.shape
    trimmed, colours, outer = _strip_margins(luma)
    # A strip is cut off at a band of the page's paper (the colour of its white side margins), or,
    # when a border was stripped at that end in a colour the sides do not have (a banner's
    # background over a photo or a cover, not a pad all round), where that colour ends.
    paper = [colour for colour in (colours[1], colours[3]) if colour is not None and colour >= _PAPER]
    ends = {0: outer[0], 2: outer[2]}
    for _ in range(_PASSES):
        changed = False
        for end in (0, 2):  # the top, then (flipped) the bottom
            own = ends[end]
            found = _cut_strip(trimmed, paper) if paper else None
            if found is None and own is not None and not _padded(own, outer) and _unlike(own, paper):
                found = _cut_banner(trimmed, own)
            if found is not None and found[0].shape[0] >= _MIN_TRIMMED * height:
                cut, colour = found
                ends[end] = None  # one banner per end
                colours[end] = colour  # the band was a margin: only a white margin goes after it
                trimmed, colours, _ = _strip_margins(cut[::-1] if end else cut, colours)
                trimmed = trimmed[::-1] if end else trimmed
                changed = True
            trimmed = trimmed[::-1]
        if not changed:
            break
    if trimmed.shape == luma.shape:
        return None, [(0, None)] * 4
    if trimmed.shape[0] < _MIN_TRIMMED * height or trimmed.shape[1] < _MIN_TRIMMED * width:
        return None, [(0, None)] * 4
    depths = _depths(trimmed, luma)
    return trimmed, [(depth, colours[side] if depth else None) for side, depth in enumerate(depths)]


def _deeper(margins: list[tuple[int, int | None]], stripped: Luma, luma: Luma) -> bool:
    """Whether trimming took at least _LAYER more than ``stripped`` leaves off at some side: what
    lies inside the pad there looked like paper to trimming, a page's margin or a picture's pale
    edge (which of the two, the hashes tell)."""
    kept = _depths(stripped, luma)
    return any(depth - kept[side] >= _LAYER * luma.shape[side % 2] for side, (depth, _) in enumerate(margins))


def _depths(view: Luma, luma: Luma) -> tuple[int, int, int, int]:
    """How deep ``view`` (a view into ``luma``) lies from the top, right, bottom and left edges."""
    top, left = _position(view, luma)
    height, width = luma.shape
    return top, width - left - view.shape[1], height - top - view.shape[0], left


def _same_part(a: Luma, b: Luma, luma: Luma) -> bool:
    """Whether two views into ``luma`` cover the same pixels."""
    return a.shape == b.shape and _position(a, luma) == _position(b, luma)


def _position(view: Luma, luma: Luma) -> tuple[int, int]:
    """Row and column of ``view``'s first pixel inside ``luma``: every step of trimming slices,
    turns or flips views of ``luma`` (whose rows are contiguous), never copies."""
    offset = view.__array_interface__["data"][0] - luma.__array_interface__["data"][0]
    row, column = divmod(offset, luma.strides[0])
    return int(row), int(column)
