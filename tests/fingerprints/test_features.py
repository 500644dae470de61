"""The second stage on the copies PDQ cannot follow: a page turned by a few degrees, cropped into its
panels, inside a two-page spread or a site's layout, mirrored — and pages and covers of one design
that must never be taken for each other."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from staydown.demo.pages import PageKind, render_page, render_photo
from staydown.fingerprints.features import (
    MIN_CORRELATION,
    MIN_INLIERS,
    QUERY_SIZE,
    Evidence,
    FeatureIndex,
    Features,
    bank_fingerprint,
    features_of,
)
from staydown.fingerprints.hashing import decode_luma


def encode(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# Pages of one panel layout share their strongest corners; covers share their design.
BANKED = {
    1: render_page(101, layout=3),
    2: render_page(102, layout=3),
    3: render_page(103, layout=3),
    4: render_page(7, kind=PageKind.cover),
    5: render_photo(5, width=900, height=700),
}


@pytest.fixture(scope="module")
def index() -> FeatureIndex:
    index = FeatureIndex()
    for entry_id, image in BANKED.items():
        index.add(entry_id, features_of(encode(image, 95)))
    return index


def search(index: FeatureIndex, image: Image.Image) -> list[Evidence]:
    return index.search(decode_luma(encode(image), size=QUERY_SIZE))


def site_layout(page: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (1366, 1300), (24, 24, 28))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 1366, 80), fill=(180, 30, 40))
    draw.text((20, 30), "READ MANGA FREE - FASTEST UPDATES", fill=(255, 255, 255))
    for row in range(120, 1200, 30):
        draw.text((1000, row), "latest chapter 12 - comments (4)", fill=(230, 230, 230))
    shown = page.convert("RGB").resize((820, 1148))
    canvas.paste(shown, (60, 110))
    return canvas


def spread(left: Image.Image, right: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    canvas.paste(left.convert("RGB"), (0, 0))
    canvas.paste(right.convert("RGB"), (left.width, 0))
    return canvas.resize((canvas.width * 3 // 4, canvas.height * 3 // 4))


def crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * share), round(h * share), w - round(w * share), h - round(h * share)))


@pytest.mark.parametrize(
    ("name", "copy", "entry_id"),
    [
        ("turned 3 degrees", BANKED[1].convert("RGB").rotate(3, expand=True, fillcolor="white"), 1),
        ("turned 5 degrees", BANKED[5].rotate(-5, expand=True, fillcolor="black"), 5),
        ("cropped 8% a side", crop(BANKED[2], 0.08), 2),
        ("in a site's layout", site_layout(BANKED[3]), 3),
        (
            "mirrored and turned",
            BANKED[1].transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(2, expand=True),
            1,
        ),
    ],
)
def test_a_copy_pdq_cannot_follow_is_matched_conclusively(
    index: FeatureIndex, name: str, copy: Image.Image, entry_id: int
) -> None:
    found = search(index, copy)
    assert found, name
    best = found[0]
    assert best.entry_id == entry_id, (name, found[:2])
    assert best.conclusive, (name, best)
    assert best.inliers >= MIN_INLIERS and best.correlation >= MIN_CORRELATION
    assert best.to_record()["inliers"] == best.inliers
    assert [e for e in found[1:] if e.conclusive] == [], name


def test_a_spread_names_the_half_each_banked_page_lies_in(index: FeatureIndex) -> None:
    found = [e for e in search(index, spread(BANKED[2], BANKED[1])) if e.conclusive]
    halves = {e.entry_id: e.part for e in found}
    assert set(halves) == {1, 2}
    assert halves[2][2] <= 0.55 and halves[1][0] >= 0.45  # page 2 on the left, page 1 on the right
    record = found[0].to_record()
    assert set(record) == {
        "inliers",
        "pairs",
        "mirrored",
        "scale",
        "rotation",
        "part",
        "correlation",
        "precision",
    }


def test_pages_of_one_layout_and_covers_of_one_design_are_never_conclusive(index: FeatureIndex) -> None:
    others = [
        render_page(104, layout=3),
        render_page(105, layout=3).rotate(2, expand=True, fillcolor="white"),
        render_page(27, kind=PageKind.cover),
        render_page(47, kind=PageKind.cover),
        render_photo(6, width=900, height=700),
    ]
    for image in others:
        assert [e for e in search(index, image) if e.conclusive] == []


def test_features_travel_as_bytes_and_refuse_anything_else() -> None:
    features = features_of(encode(BANKED[1]))
    assert 100 <= len(features) <= 500
    again = Features.from_bytes(features.to_bytes())
    assert (again.width, again.height) == (features.width, features.height)
    assert np.array_equal(again.descriptors, features.descriptors)
    assert np.abs(again.points - features.points).max() < 1e-4
    assert np.array_equal(again.thumbnail, features.thumbnail)
    for bad in (b"", b"\x00" * 11, features.to_bytes()[:-1], features.to_bytes() + b"\x00"):
        with pytest.raises(ValueError):
            Features.from_bytes(bad)


def test_a_bank_fingerprint_carries_features_unless_the_image_is_weak() -> None:
    strong = bank_fingerprint(encode(BANKED[1]))
    assert strong.pdq and len(Features.from_bytes(strong.features)) > 100
    blank = bank_fingerprint(encode(Image.new("L", (600, 800), 255)))
    assert blank.weak and blank.features == b""


def test_removed_entries_are_no_longer_found() -> None:
    index = FeatureIndex()
    index.add(1, features_of(encode(BANKED[1])))
    index.add(2, features_of(encode(BANKED[2])))
    index.remove([1])
    assert len(index) == 1
    assert [e.entry_id for e in search(index, BANKED[1]) if e.conclusive] == []
    assert [e.entry_id for e in search(index, BANKED[2]) if e.conclusive] == [2]


def test_a_bank_past_its_exact_size_searches_an_inverted_file_and_still_finds_copies() -> None:
    index = FeatureIndex(ivf_from=3000)
    pages = {n: render_page(200 + n, layout=n) for n in range(1, 10)}
    for entry_id, image in pages.items():
        index.add(entry_id, features_of(encode(image, 95)))
    assert index.inverted and index.descriptors >= 3000
    for entry_id in (2, 7):
        turned = pages[entry_id].convert("RGB").rotate(3, expand=True, fillcolor="white")
        assert [e.entry_id for e in search(index, turned) if e.conclusive] == [entry_id]
    index.remove([7])
    assert [e for e in search(index, pages[7]) if e.conclusive] == []
    index.add(7, features_of(encode(pages[7], 95)))  # added after the index was trained
    assert [e.entry_id for e in search(index, crop(pages[7], 0.08)) if e.conclusive] == [7]
    assert [e for e in search(index, render_page(300, layout=2)) if e.conclusive] == []
