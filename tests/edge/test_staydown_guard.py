"""The edge's stay-down guard without sockets: scopes, exact and perceptual verdicts, the sweep of
cached copies, and the bank's place in the local store."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from staydown.demo.pages import PageKind, render_page
from staydown.edge.state import EnforcementState, LocalStore
from staydown.edge.staydown import BankRecord, StaydownGuard
from staydown.fingerprints.features import bank_fingerprint
from staydown.fingerprints.hashing import Fingerprint, fingerprint, reference_fingerprint
from tests.support import image_bytes


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return render_page(5)


def record(fp: Fingerprint, entry_id: int = 1, scope: str = "customer", **extra: object) -> BankRecord:
    return BankRecord.from_record(
        {
            "entry_id": entry_id,
            "scope": scope,
            "scope_zone_id": extra.get("zone"),
            "scope_customer_id": extra.get("customer", 7 if scope == "customer" else None),
            "notice_id": 99,
            "work_id": None,
            "sha256": fp.sha256.hex(),
            "pdq": [h.hex() for h in fp.pdq],
        }
    )


def test_scopes_decide_which_zones_an_entry_covers(page: Image.Image) -> None:
    fp = reference_fingerprint(image_bytes(page))
    assert record(fp, scope="network").covers(zone_id=1, customer_id=None)
    assert record(fp, scope="customer", customer=7).covers(zone_id=1, customer_id=7)
    assert not record(fp, scope="customer", customer=7).covers(zone_id=1, customer_id=8)
    assert record(fp, scope="zone", zone=3).covers(zone_id=3, customer_id=8)
    assert not record(fp, scope="zone", zone=3).covers(zone_id=4, customer_id=8)


def test_verdicts_block_near_copies_only_in_scope(page: Image.Image) -> None:
    guard = StaydownGuard()
    guard.add(record(reference_fingerprint(image_bytes(page)), customer=7))
    copy = fingerprint(image_bytes(ImageOps.mirror(page).resize((600, 840)), quality=40))
    verdict = guard.verdict(copy, zone_id=1, customer_id=7)
    assert verdict is not None and verdict.outcome == "block" and not verdict.exact
    assert guard.verdict(copy, zone_id=1, customer_id=8) is None
    assert guard.verdict(fingerprint(image_bytes(render_page(6))), zone_id=1, customer_id=7) is None
    guard.remove(1)
    assert guard.verdict(copy, zone_id=1, customer_id=7) is None


def test_the_review_band_is_asked_apart_from_the_verdict(page: Image.Image) -> None:
    """The verdict that decides serving looks only within the automatic-block distance; a copy in
    the review band is served and found by ``review``."""
    query = fingerprint(image_bytes(page))
    flipped = int.from_bytes(query.pdq[0], "big") ^ ((1 << 40) - 1)  # 40 bits away: the review band
    near = Fingerprint(b"\0" * 32, (flipped.to_bytes(32, "big"),), 100, 1, 1, "JPEG")
    guard = StaydownGuard()
    guard.add(record(near, customer=7))
    assert guard.verdict(query, zone_id=1, customer_id=7) is None
    review = guard.review(query, zone_id=1, customer_id=7)
    assert review is not None and review.outcome == "review" and review.distance <= 40
    assert guard.review(query, zone_id=1, customer_id=8) is None  # out of the entry's scope
    guard.add(record(reference_fingerprint(image_bytes(page)), entry_id=2, customer=7))
    blocked = guard.verdict(query, zone_id=1, customer_id=7)
    assert blocked is not None and blocked.outcome == "block" and blocked.entry.entry_id == 2
    assert guard.review(query, zone_id=1, customer_id=7) is None  # the closest entry blocks


def test_a_weak_image_is_matched_only_exactly() -> None:
    blank = render_page(3, kind=PageKind.credits)
    data = image_bytes(blank)
    reference = reference_fingerprint(data)
    assert reference.weak and reference.pdq == ()
    guard = StaydownGuard()
    guard.add(record(reference, scope="network"))
    exact = guard.verdict(fingerprint(data), zone_id=1, customer_id=None)
    assert exact is not None and exact.exact and exact.distance == 0
    assert guard.verdict(fingerprint(image_bytes(blank, quality=70)), zone_id=1, customer_id=None) is None


def test_the_sweep_finds_cached_copies_and_forgets_evicted_ones(page: Image.Image) -> None:
    guard = StaydownGuard()
    guard.cached.remember((1, "/copy.jpg"), fingerprint(image_bytes(page, quality=50)))
    guard.cached.remember((1, "/same.jpg"), fingerprint(image_bytes(page)))
    other = fingerprint(image_bytes(render_page(6)))
    guard.cached.remember((1, "/other.jpg"), other)
    for n in range(3000):  # grow past the first allocation; forgotten rows are reused
        guard.cached.remember((2, f"/filler/{n}"), other)
        if n % 2:
            guard.cached.forget((2, f"/filler/{n}"))
    guard.cached.forget((1, "/same.jpg"))
    entry = record(reference_fingerprint(image_bytes(page)), scope="network")
    guard.add(entry)
    found = guard.sweep(entry)
    assert [key for key, _, _ in found] == [(1, "/copy.jpg")]
    assert found[0][1] <= 31


def test_the_bank_and_exemptions_survive_a_restart(tmp_path: Path, page: Image.Image) -> None:
    fp = reference_fingerprint(image_bytes(page))
    store = LocalStore(tmp_path)
    state = EnforcementState()
    records = [
        {"seq": 1, "kind": "hash_add", **record(fp, entry_id=4).to_record()},
        {"seq": 2, "kind": "hash_add", **record(fp, entry_id=5).to_record()},
        {"seq": 3, "kind": "hash_remove", "entry_id": 5},
        {"seq": 4, "kind": "unblock", "zone_id": 1, "target": "/x.jpg", "staydown_exempt": True},
        {"seq": 5, "kind": "unblock", "zone_id": 1, "target": "/y.jpg", "staydown_exempt": True},
        {"seq": 6, "kind": "block", "zone_id": 1, "target": "/y.jpg", "notice_id": 3},
    ]
    store.append(records)
    for r in records:
        state.apply(r)
    assert set(state.bank) == {4}
    assert state.exempted(1, "/x.jpg") and state.exempted(1, "/x.jpg?p=2")
    assert not state.exempted(1, "/y.jpg")
    assert store.load().bank == state.bank
    store.compact(state)
    restored = store.load()
    assert restored.bank == state.bank and restored.exempt == state.exempt
    assert BankRecord.from_record(restored.bank[4]) == record(fp, entry_id=4)


def test_the_second_stage_blocks_a_turned_copy_only_in_scope_and_only_with_features(
    page: Image.Image,
) -> None:
    banked = bank_fingerprint(image_bytes(page))
    entry = record(banked, customer=7)
    with_features = BankRecord.from_record({**entry.to_record(), "features": record_features(banked)})
    assert with_features.features == banked.features
    assert BankRecord.from_record(with_features.to_record()) == with_features
    turned = image_bytes(
        page.convert("RGB").rotate(4, Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    )
    copy = fingerprint(turned)

    guard = StaydownGuard()
    guard.add(with_features)
    assert guard.verdict(copy, zone_id=1, customer_id=7) is None  # PDQ cannot follow a turn
    found = guard.after_serving(copy, turned, zone_id=1, customer_id=7)
    assert found is not None and found.outcome == "block" and found.evidence is not None
    assert found.evidence.conclusive and 3 <= abs(found.evidence.rotation) <= 5
    assert guard.after_serving(copy, turned, zone_id=1, customer_id=8) is None  # another customer
    unrelated = image_bytes(render_page(6))
    assert guard.second_stage(fingerprint(unrelated), unrelated, zone_id=1, customer_id=7) is None
    guard.remove(1)
    assert guard.second_stage(copy, turned, zone_id=1, customer_id=7) is None

    # An entry without features (or with features that do not decode) is matched by PDQ only.
    guard.add(BankRecord.from_record({**entry.to_record(), "features": "not base64!"}))
    assert guard.second_stage(copy, turned, zone_id=1, customer_id=7) is None
    assert guard.verdict(fingerprint(image_bytes(page)), zone_id=1, customer_id=7) is not None


def record_features(fp: Fingerprint) -> str:
    return base64.b64encode(fp.features).decode("ascii")


def test_a_verdict_on_a_spread_names_the_page_that_matched() -> None:
    left, right = render_page(41, width=600, height=840), render_page(42, width=600, height=840)
    spread = Image.new("L", (1224, 840), 255)
    spread.paste(left, (0, 0))
    spread.paste(right, (624, 0))
    guard = StaydownGuard()
    guard.add(record(reference_fingerprint(image_bytes(right)), customer=7))
    verdict = guard.verdict(fingerprint(image_bytes(spread)), zone_id=1, customer_id=7)
    assert verdict is not None and verdict.outcome == "block" and verdict.part == "right page"
    whole = guard.verdict(fingerprint(image_bytes(right)), zone_id=1, customer_id=7)
    assert whole is not None and whole.part == "whole"


def hygiene_record(fp: Fingerprint, entry_id: int, **fields: object) -> BankRecord:
    return BankRecord.from_record(
        {
            "entry_id": entry_id,
            "scope": "network",
            "notice_id": None,
            "work_id": 5,
            "sha256": fp.sha256.hex(),
            "pdq": [h.hex() for h in fp.pdq],
            **fields,
        }
    )


def test_an_allowlisted_image_keeps_its_near_copies_to_review_and_survives_the_store(
    page: Image.Image,
) -> None:
    reference = reference_fingerprint(image_bytes(page))
    guard = StaydownGuard()
    guard.add(hygiene_record(reference, 1, source="reference"))
    copy = fingerprint(image_bytes(page.resize((600, 840)), quality=50))
    assert guard.verdict(copy, zone_id=1, customer_id=7) is not None
    allowed = hygiene_record(reference, 2, source="allowlist", scope="customer", scope_customer_id=7)
    guard.add(allowed)
    assert len(guard) == 1 and guard.sweep(allowed) == []
    assert guard.verdict(copy, zone_id=1, customer_id=7) is None
    review = guard.review(copy, zone_id=1, customer_id=7)
    assert review is not None and review.outcome == "review" and review.allowed_by == 2
    assert guard.verdict(copy, zone_id=1, customer_id=8) is not None  # another customer: blocked
    assert BankRecord.from_record(allowed.to_record()) == allowed
    state = EnforcementState()
    state.apply({"seq": 1, "kind": "hash_add", **allowed.to_record()})
    assert BankRecord.from_record(state.bank[2]) == allowed  # what a restarted edge loads
    guard.remove(2)
    assert guard.verdict(copy, zone_id=1, customer_id=7) is not None


def test_a_works_own_distance_tightens_its_verdicts(page: Image.Image) -> None:
    reference = reference_fingerprint(image_bytes(page))
    copy = fingerprint(image_bytes(page.resize((500, 700)), quality=30))
    distance = min(
        bin(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).count("1")
        for a in reference.pdq
        for b in copy.pdq
    )
    assert 0 < distance <= 31
    loose, tight = StaydownGuard(), StaydownGuard()
    loose.add(hygiene_record(reference, 1))
    tight_record = hygiene_record(reference, 1, auto_block_distance=distance - 1)
    tight.add(tight_record)
    assert loose.verdict(copy, zone_id=1, customer_id=None) is not None
    assert tight.verdict(copy, zone_id=1, customer_id=None) is None
    review = tight.review(copy, zone_id=1, customer_id=None)
    assert review is not None and review.outcome == "review"
    assert BankRecord.from_record(tight_record.to_record()).auto_block == distance - 1
    assert hygiene_record(reference, 3, auto_block_distance="wide").auto_block is None
