"""Recall and false automatic blocks of the image fingerprints on synthetic manga and photos.

    python bench/staydown_accuracy.py [--pages 2000] [--photos 300] [--first-seed 0] [--processes N]

Renders manga pages with the demo generator (story pages over the nine shared layouts, near-blank
credits pages, colour covers) and procedural photographs, fingerprints each one as a reference
(raw and trimmed, 8 dihedral variants each, and 80 crop windows of a full-bleed image, upright and
mirrored) and applies
every transform class to it once, with random parameters: JPEG q30-q90, resize 40-90%, crop up to
5% per edge, pad, horizontal flip, a flip and a crop together,
grayscale, brightness/contrast, a site banner added at the top or bottom, a text watermark, and
re-encoding to WebP or PNG. Each copy is fingerprinted as a query (raw and trimmed) and searched in
a FAISS index of all references.

Prints recall per transform class (the copy's own reference within the automatic-block radius)
and the false automatic blocks: any original or copy that hits a DIFFERENT image's reference within
that radius, which covers all pairs of distinct images. Weak images (PDQ quality < 50) keep no
PDQ hash, so they can only ever match exactly; they are counted and reported apart.
Targets: recall >= 0.99 for every class; zero false automatic blocks. The default images are the
ones the fingerprinting was tuned on; ``--first-seed`` draws others from the same generators (for
example ``--first-seed 100000``), which tells whether a change generalises.
"""

from __future__ import annotations

import argparse
import collections
import io
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from staydown.demo.pages import LAYOUTS, PageKind, render_page, render_photo
from staydown.fingerprints.hashing import fingerprint, reference_fingerprint
from staydown.fingerprints.index import FaissHashIndex, Thresholds

Transform = Callable[[Image.Image, random.Random], bytes]


def encode(image: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image = image.convert("RGB") if image.mode not in ("L", "RGB") else image
        options.setdefault("quality", 85)
    if fmt == "PNG":
        options.setdefault("compress_level", 1)  # lossless either way; level 6 only takes longer
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def jpeg(image: Image.Image, rng: random.Random) -> bytes:
    return encode(image, quality=rng.randint(30, 90))


def resize(image: Image.Image, rng: random.Random) -> bytes:
    scale = rng.uniform(0.4, 0.9)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    method = rng.choice((Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS))
    return encode(image.resize(size, method))


def crop_box(size: tuple[int, int], rng: random.Random) -> tuple[int, int, int, int]:
    """Up to 5% off each edge."""
    w, h = size
    return (
        round(w * rng.uniform(0, 0.05)),
        round(h * rng.uniform(0, 0.05)),
        w - round(w * rng.uniform(0, 0.05)),
        h - round(h * rng.uniform(0, 0.05)),
    )


def crop(image: Image.Image, rng: random.Random) -> bytes:
    return encode(image.crop(crop_box(image.size, rng)))


def pad(image: Image.Image, rng: random.Random) -> bytes:
    w, h = image.size
    left, right = round(w * rng.uniform(0, 0.1)), round(w * rng.uniform(0, 0.1))
    top, bottom = round(h * rng.uniform(0.02, 0.1)), round(h * rng.uniform(0, 0.1))
    colour = rng.choice(
        ((255, 255, 255), (0, 0, 0), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    )
    canvas = Image.new("RGB", (w + left + right, h + top + bottom), colour)
    canvas.paste(image.convert("RGB"), (left, top))
    return encode(canvas, rng.choice(("JPEG", "PNG")))


def flip(image: Image.Image, rng: random.Random) -> bytes:
    return encode(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def flip_crop(image: Image.Image, rng: random.Random) -> bytes:
    """Mirrored to slip past a matcher, and cropped to cut a watermark off: both at once."""
    return encode(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop(crop_box(image.size, rng)))


def grayscale(image: Image.Image, rng: random.Random) -> bytes:
    return encode(image.convert("L"), quality=rng.randint(70, 90))


def brightness_contrast(image: Image.Image, rng: random.Random) -> bytes:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    return encode(ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.3)))


def banner(image: Image.Image, rng: random.Random) -> bytes:
    """A site's banner strip (6-12% of the height: a colour, a logo box and the site's name) added
    above or below the image."""
    w, h = image.size
    height = round(h * rng.uniform(0.06, 0.12))
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    strip = Image.new("RGB", (w, height), colour)
    draw = ImageDraw.Draw(strip)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    draw.rectangle((height * 0.2, height * 0.2, height * 0.8, height * 0.8), fill=ink)
    name = rng.choice(("MANGA-READ.EXAMPLE", "FREE MANGA ONLINE", "raw-scans.example", "read more chapters!"))
    draw.text((height, height / 2), name, font=_font(round(height * 0.45)), fill=ink, anchor="lm")
    canvas = Image.new("RGB", (w, h + height), colour)
    at_top = rng.random() < 0.5
    canvas.paste(strip, (0, 0 if at_top else h))
    canvas.paste(image.convert("RGB"), (0, height if at_top else 0))
    return encode(canvas)


def watermark(image: Image.Image, rng: random.Random) -> bytes:
    """A line of half-transparent text (3-5% of the height) somewhere on the image."""
    w, h = image.size
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    size = round(h * rng.uniform(0.03, 0.05))
    fill = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    text = rng.choice(("manga-read.example", "(c) scans team", "READ FREE AT raw-scans.example"))
    ImageDraw.Draw(layer).text(
        (rng.uniform(0, w * 0.5), rng.uniform(0, h * 0.95)),
        text,
        font=_font(size),
        fill=(*fill, rng.randint(100, 180)),
    )
    return encode(Image.alpha_composite(base, layer).convert("RGB"))


def reencode(image: Image.Image, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return encode(image, "WEBP", quality=rng.randint(50, 90))
    return encode(image, "PNG")


TRANSFORMS: dict[str, Transform] = {
    "jpeg q30-90": jpeg,
    "resize 40-90%": resize,
    "crop <=5%/edge": crop,
    "pad": pad,
    "flip": flip,
    "flip+crop": flip_crop,
    "grayscale": grayscale,
    "bright/contrast": brightness_contrast,
    "banner": banner,
    "watermark": watermark,
    "webp/png": reencode,
}


@dataclass(frozen=True)
class Item:
    number: int
    kind: str  # story, credits, cover, photo
    seed: int
    first_seed: int = 0  # the transforms' parameters differ between sets of images


@dataclass(frozen=True)
class Result:
    item: Item
    reference: tuple[bytes, ...]
    weak: bool
    quality: int
    original: tuple[bytes, ...]  # the reference's own bytes fingerprinted as a query
    copies: dict[str, tuple[bytes, ...]]
    seconds: float


def render(item: Item) -> Image.Image:
    if item.kind == "photo":
        rng = random.Random(f"bench-photo-size:{item.seed}")
        width, height = rng.choice(((1024, 768), (800, 600), (768, 1024), (1200, 800)))
        return render_photo(item.seed, width=width, height=height)
    return render_page(item.seed, kind=PageKind(item.kind), layout=item.seed % len(LAYOUTS))


def process(item: Item) -> Result:
    start = time.perf_counter()
    image = render(item)
    reference_bytes = encode(image, quality=95)
    reference = reference_fingerprint(reference_bytes)
    original = fingerprint(reference_bytes)
    copies = {}
    for name, transform in TRANSFORMS.items():
        salt = f":{item.first_seed}" if item.first_seed else ""
        rng = random.Random(f"bench-transform:{item.number}:{name}{salt}")
        copies[name] = fingerprint(transform(image, rng)).pdq
    return Result(
        item,
        reference.pdq,
        reference.weak,
        reference.quality,
        original.pdq,
        copies,
        time.perf_counter() - start,
    )


def items(pages: int, photos: int, first_seed: int = 0) -> list[Item]:
    chosen = []
    for seed in range(first_seed, first_seed + pages):
        kind = "credits" if seed % 12 == 11 else "cover" if seed % 20 == 7 else "story"
        chosen.append(Item(len(chosen), kind, seed, first_seed))
    chosen.extend(
        Item(len(chosen), "photo", seed, first_seed) for seed in range(first_seed, first_seed + photos)
    )
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--first-seed", type=int, default=0, help="the first page's and photo's seed")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--show-misses", type=int, default=5, help="list this many misses per class")
    args = parser.parse_args()
    thresholds = Thresholds()

    started = time.perf_counter()
    work = items(args.pages, args.photos, args.first_seed)
    with multiprocessing.Pool(args.processes) as pool:
        results = pool.map(process, work, chunksize=8)
    print(
        f"{len(results)} images ({args.pages} pages, {args.photos} photos, seeds from {args.first_seed}), "
        f"{len(TRANSFORMS)} transforms each: {time.perf_counter() - started:.0f} s "
        f"on {args.processes} processes"
    )

    index = FaissHashIndex()
    for result in results:
        if result.reference:
            index.add([result.item.number] * len(result.reference), list(result.reference))
    by_kind = collections.Counter(r.item.kind for r in results)
    weak_by_kind = collections.Counter(r.item.kind for r in results if r.weak)
    print(f"bank: {len(index)} hashes from {sum(1 for r in results if r.reference)} references")
    print(
        "weak references (quality < 50, exact SHA-256 only): "
        + ", ".join(f"{kind} {weak_by_kind[kind]}/{count}" for kind, count in sorted(by_kind.items()))
    )

    false_blocks: list[tuple[int, str, int, int]] = []
    false_reviews = 0
    nearest_other = 256
    hits: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    reviewed: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    weak_queries: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    misses: dict[str, list[str]] = collections.defaultdict(list)
    for result in results:
        own = result.item.number
        queries = {"original": result.original, **result.copies}
        for name, hashes in queries.items():
            matches = index.search(list(hashes), radius=thresholds.review) if hashes else []
            for match in matches:
                if match.id != own:
                    nearest_other = min(nearest_other, match.distance)
                    if match.distance <= thresholds.auto_block:
                        false_blocks.append((own, name, match.id, match.distance))
                    else:
                        false_reviews += 1
            if result.weak:
                continue  # weak references are matched by SHA-256 only; counted apart below
            group = result.item.kind
            totals[name][group] += 1
            if not hashes:
                weak_queries[name][group] += 1
            found = [m.distance for m in matches if m.id == own]
            if found:  # within the review radius: at least a person looks at it
                reviewed[name][group] += 1
            if found and found[0] <= thresholds.auto_block:
                hits[name][group] += 1
            elif len(misses[name]) < args.show_misses:
                misses[name].append(f"{result.item.kind} {result.item.seed} ({found[0] if found else '>48'})")

    print(f"\nrecall at distance <= {thresholds.auto_block} (references with quality >= 50):")
    groups = ("story", "cover", "photo")
    print(f"{'transform':16} {'story pages':>17} {'covers':>14} {'photos':>14} {'all':>7}  weak copies")
    worst = dict.fromkeys((*groups, "all"), 1.0)
    for name in ["original", *TRANSFORMS]:
        cells = []
        for group in groups:
            total = totals[name][group]
            cells.append(f"{hits[name][group]}/{total} {hits[name][group] / max(1, total):.3f}")
            worst[group] = min(worst[group], hits[name][group] / max(1, total))
        recall = sum(hits[name].values()) / max(1, sum(totals[name].values()))
        worst["all"] = min(worst["all"], recall)
        print(
            f"{name:16} {cells[0]:>17} {cells[1]:>14} {cells[2]:>14} {recall:7.4f}  "
            f"{sum(weak_queries[name].values())}"
        )
        if misses[name]:
            print(f"{'':18} misses: {', '.join(misses[name])}")
    print(f"\nfound within the review radius (<= {thresholds.review}: blocked or queued for review):")
    for name in TRANSFORMS:
        cells = [f"{group} {reviewed[name][group] / max(1, totals[name][group]):.3f}" for group in groups]
        print(f"{name:16} {'  '.join(cells)}")
    weak_items = [r for r in results if r.weak]
    weak_blocks = sum(1 for own, *_ in false_blocks if results[own].weak)
    print(
        f"\nweak images: {len(weak_items)} (their copies carry PDQ hashes in "
        f"{sum(1 for r in weak_items for h in r.copies.values() if h)} of "
        f"{len(weak_items) * len(TRANSFORMS)} cases; automatic blocks of them by PDQ: {weak_blocks})"
    )
    print(f"false automatic blocks (a different image within {thresholds.auto_block}): {len(false_blocks)}")
    for own, name, other, distance in false_blocks[:10]:
        print(f"  {results[own].item} {name} -> {results[other].item} at {distance}")
    print(
        f"review-band hits on a different image ({thresholds.auto_block + 1}-{thresholds.review}): "
        f"{false_reviews}"
    )
    nearest = f"{nearest_other} bits" if nearest_other <= thresholds.review else f"> {thresholds.review} bits"
    print(f"nearest different image: {nearest}")
    print()
    for group, recall in worst.items():
        verdict = "met" if recall >= 0.99 else "MISSED"
        print(f"worst class recall, {group:5}: {recall:.4f} (target >= 0.99): {verdict}")
    print(f"false automatic blocks {len(false_blocks)} (target 0): {'met' if not false_blocks else 'MISSED'}")


if __name__ == "__main__":
    main()
