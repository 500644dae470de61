"""The desk's presentation helpers as pure functions."""

from __future__ import annotations

from staydown.config import Settings
from staydown.desk.present import text_blocks
from staydown.policy.flows import policy_text


def test_the_published_policy_becomes_headings_lists_and_paragraphs() -> None:
    blocks = text_blocks(policy_text(Settings().policy, provider="Example CDN"))
    kinds = [kind for kind, _ in blocks]
    assert kinds[0] == "h1" and "h2" in kinds and "ol" in kinds and "p" in kinds
    steps = next(content for kind, content in blocks if kind == "ol")
    assert len(steps) == 3 and steps[0].startswith("Warning")
    assert not any(str(content).startswith(("#", "1. ")) for _, content in blocks)


def test_lists_gather_their_items_and_markup_stays_text() -> None:
    text = "# Title\n- one\n- <b>two</b>\n\n2. second\n10. tenth\nplain 3. not a list"
    assert text_blocks(text) == [
        ("h1", "Title"),
        ("ul", ["one", "<b>two</b>"]),  # escaped by the template like any other text
        ("ol", ["second", "tenth"]),
        ("p", "plain 3. not a list"),
    ]
