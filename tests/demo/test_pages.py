"""Synthetic pages: deterministic from a seed, the right sizes and modes, and genuinely distinct,
even when two pages share a layout (the hard case for perceptual hashing)."""

from __future__ import annotations

import itertools
import statistics
import time

import numpy as np
import pdqhash
import pytest
from PIL import Image

from staydown.demo.pages import LAYOUTS, PageKind, render_page, render_photo

PDQ_MATCH = 31  # the usual PDQ match threshold, in bits of 256


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def thumbnail(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L").resize((25, 35), Image.Resampling.BOX), dtype=np.float32)


def pdq(image: Image.Image) -> np.ndarray:
    small = image.convert("RGB").resize((image.width // 2, image.height // 2), Image.Resampling.BOX)
    bits, _quality = pdqhash.compute(np.asarray(small))
    return np.asarray(bits, dtype=bool)


@pytest.mark.parametrize("kind", list(PageKind))
def test_the_same_arguments_give_the_same_pixels(kind: PageKind) -> None:
    first = render_page(42, kind=kind)
    assert first.tobytes() == render_page(42, kind=kind).tobytes()
    assert first.tobytes() != render_page(43, kind=kind).tobytes()


def test_photos_are_deterministic_too() -> None:
    assert (
        render_photo(5, width=320, height=240).tobytes() == render_photo(5, width=320, height=240).tobytes()
    )
    assert (
        render_photo(5, width=320, height=240).tobytes() != render_photo(6, width=320, height=240).tobytes()
    )


@pytest.mark.parametrize(
    ("kind", "mode"), [(PageKind.story, "L"), (PageKind.credits, "L"), (PageKind.cover, "RGB")]
)
def test_sizes_and_modes(kind: PageKind, mode: str) -> None:
    page = render_page(1, kind=kind)
    assert (page.mode, page.size) == (mode, (1000, 1400))
    small = render_page(1, kind=kind, width=480, height=640)
    assert (small.mode, small.size) == (mode, (480, 640))


def test_photo_sizes_and_mode() -> None:
    photo = render_photo(1)
    assert (photo.mode, photo.size) == ("RGB", (1024, 768))
    assert render_photo(1, width=300, height=200).size == (300, 200)


def test_kind_may_be_given_by_name_and_tiny_pages_are_refused() -> None:
    assert render_page(3, kind="credits").tobytes() == render_page(3, kind=PageKind.credits).tobytes()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least"):
        render_page(1, width=10, height=10)
    with pytest.raises(ValueError, match="at least"):
        render_photo(1, width=10, height=10)


def test_the_seed_picks_one_of_the_shared_layouts() -> None:
    """Passing the layout the seed would have picked gives the same page; any other differs. And the
    index wraps, so a benchmark can cycle through layouts with a counter."""
    assert len(LAYOUTS) >= 6
    chosen = render_page(11).tobytes()
    same = [k for k in range(len(LAYOUTS)) if render_page(11, layout=k).tobytes() == chosen]
    assert len(same) == 1
    assert render_page(11, layout=same[0] + len(LAYOUTS)).tobytes() == chosen


def test_pages_sharing_a_layout_still_differ_substantially() -> None:
    for layout in (0, 3, 7):
        pages = [render_page(seed, layout=layout) for seed in range(6)]
        for a, b in itertools.combinations(pages, 2):
            assert np.abs(pixels(a) - pixels(b)).mean() > 25  # of 255, full size
            assert np.abs(thumbnail(a) - thumbnail(b)).mean() > 8  # and downscaled: not just noise


def test_story_pages_are_far_apart_under_pdq_even_with_one_layout() -> None:
    hashes = [pdq(render_page(seed, layout=4)) for seed in range(10)]
    distances = [int((a != b).sum()) for a, b in itertools.combinations(hashes, 2)]
    print(f"PDQ distances, one layout, 10 pages: min {min(distances)}, median {statistics.median(distances)}")
    assert min(distances) > PDQ_MATCH


def test_story_pages_are_busy_and_credits_pages_near_blank() -> None:
    for seed in range(5):
        story = pixels(render_page(seed))
        credits = pixels(render_page(seed, kind=PageKind.credits))
        assert (story < 128).mean() > 0.08  # panel borders, figures, tone, lettering
        assert (credits < 250).mean() < 0.02  # a few lines of text on white
        assert (credits < 128).any()  # but not empty


def test_story_pages_have_panel_borders_on_paper_margins() -> None:
    page = pixels(render_page(9))
    assert (page[:40] == 255).all()  # the top margin is paper
    assert (page[:, :40] == 255).all()
    # The left border of the live area (7% of 1000, inset by the gutter) is a vertical line of ink.
    assert (page[200:1200, 70:95] < 64).mean(axis=0).max() > 0.9


def test_covers_are_in_colour() -> None:
    for seed in range(3):
        cover = np.asarray(render_page(seed, kind=PageKind.cover, width=500, height=700), dtype=np.int16)
        chroma = cover.max(axis=2) - cover.min(axis=2)
        assert chroma.mean() > 25


def test_photos_are_smooth_with_noise() -> None:
    photo = np.asarray(render_photo(2).convert("L"), dtype=np.float32)
    steps = np.abs(np.diff(photo, axis=1))
    assert 0.5 < steps.mean() < 20  # neither flat nor line art
    assert photo.std() > 10


def test_render_times() -> None:
    """Printed, not asserted (the machine may be busy); run with -s to see them."""
    render_page(0)  # warm the font and glyph caches
    for kind in PageKind:
        times = []
        for seed in range(12):
            start = time.perf_counter()
            render_page(seed, kind=kind)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{kind.value:8} 1000x1400: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")
    start = time.perf_counter()
    render_photo(0)
    print(f"photo    1024x768:  {(time.perf_counter() - start) * 1000:.1f} ms")
