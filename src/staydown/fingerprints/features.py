"""The second stage of stay-down: local features with geometric verification, for what PDQ misses.

A PDQ hash describes a whole picture, so it cannot follow a copy whose picture is only part of what
is served (a two-page spread, a page inside a site's layout, a screenshot), turned by a few degrees,
or cropped deeper than the reference's crop windows. Local features can: ORB keypoints (corners at
several scales, each with a 256-bit binary descriptor that does not change when the picture is
turned or scaled) are found in the reference and in the copy, descriptors are paired by Hamming
distance, and a similarity transform (scale, rotation, shift; an affine one where a site stretched
the picture) is fitted to the pairs with RANSAC. The fitted transform then turns the copy back onto
the reference, and their pixels must correlate. Three numbers make the evidence, and a match is
recorded with them (``Evidence``): inliers (pairs one transform explains; pictures that merely look
alike share a few by chance), correlation (covers of one design and pages of one panel layout agree
on dozens of pairs along their lettering and frames, but not in their pictures), and precision
(two photographs of one scene from a step apart, a stereo pair or a burst, correlate, but parallax
spreads their keypoints' errors). The transform and where the reference lies in the copy name the
part that matched (which page of a spread, where in a layout).

Candidates come from :class:`FeatureIndex`: each query descriptor whose nearest stored descriptor
is clearly nearer than any other entry's votes for that entry, and the few entries with most votes
are verified. Mirrored copies are searched with the query's mirror image. An entry keeps
``REFERENCE_FEATURES`` descriptors (36 bytes each with its keypoint) and a 64x64 thumbnail, about
21 KiB; the index is sized for banks of up to a few hundred thousand entries on one machine, not
the ten million hashes the PDQ bank holds. It runs after a copy is served (PDQ decides before),
then blocks and purges.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import faiss
import numpy as np
import numpy.typing as npt

from staydown.fingerprints.hashing import Fingerprint, ImageLimits, decode_luma, reference_fingerprint

__all__ = [
    "FEATURE_BYTES",
    "MIN_INLIERS",
    "MIN_PRECISION",
    "Evidence",
    "FeatureIndex",
    "Features",
    "bank_fingerprint",
    "conclusive",
    "extract",
    "features_of",
    "verify",
]

FEATURE_BYTES = 32  # an ORB descriptor
REFERENCE_SIZE = 640  # references are decoded to fit this square before their keypoints are found
QUERY_SIZE = 960  # a copy may hold the picture in part of it (a spread, a layout): more pixels
REFERENCE_FEATURES = 500
QUERY_FEATURES = 3000
# FAST's corner threshold, low: smooth photographs have few strong corners, and in a copy the
# site's lettering around the picture would take every keypoint the picture does not claim.
_FAST = 5
MIN_INLIERS = 24  # pairs that agree on one transform before a copy is blocked on them alone
# ...and how alike the copy, turned back onto the reference, must look (Pearson correlation of
# their pixels over what they share). Pictures of one design (covers with one title placement,
# pages of one layout) share dozens of consistent pairs along their lettering and frames; their
# pictures do not correlate.
MIN_CORRELATION = 0.85
MIN_PRECISION = 0.7  # see Evidence.precision
SURE_PRECISION = 0.88  # a precision that needs no more correlation than MIN_CORRELATION
SURE_CORRELATION = 0.97  # a correlation that needs no more precision than MIN_PRECISION
THUMBNAIL = 64  # the reference's pixels kept for that check, a square this many pixels wide
_BLUR = 1.0  # the Gaussian both are blurred with before they are compared, in thumbnail pixels
_RATIO = 0.8  # Lowe's test: a pair is kept when its descriptor is clearly nearer than the next
_NEAR = 64  # a descriptor further than this (of 256 bits) votes for nobody
_CANDIDATES = 6  # references verified per query
IVF_FROM = 250_000  # descriptors (500 entries) from which the index is an inverted file
_NLIST = 1024  # its lists
_NPROBE = 24  # the lists a query descriptor looks in
_REPROJECTION = 0.012  # RANSAC tolerance, as a share of the query's longer side
_SCALES = (0.1, 6.0)  # a copy shows the reference between a tenth and six times its size
_ASPECT = 1.4  # how much more one direction may be scaled than the other
_STRETCH = 1.03  # ...and at least, for an affine transform to be taken over a similarity


@dataclass(frozen=True, slots=True)
class Features:
    """ORB keypoints of one image: positions as shares of its width and height, and descriptors."""

    points: npt.NDArray[np.float32]  # (n, 2): x / width, y / height
    descriptors: npt.NDArray[np.uint8]  # (n, 32)
    width: int  # of the decoded image the positions were found in
    height: int
    thumbnail: npt.NDArray[np.uint8]  # THUMBNAIL x THUMBNAIL luma of the whole image, for the check

    def __len__(self) -> int:
        return len(self.descriptors)

    def to_bytes(self) -> bytes:
        """A compact form for the feed and the store: size, then each keypoint (two uint16
        shares of 65535) and its descriptor."""
        header = np.array([self.width, self.height, len(self)], dtype="<u4").tobytes()
        points = np.round(np.clip(self.points, 0, 1) * 65535).astype("<u2")
        return (
            header
            + np.ascontiguousarray(self.thumbnail).tobytes()
            + points.tobytes()
            + np.ascontiguousarray(self.descriptors).tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        """Read what :meth:`to_bytes` wrote; ValueError on anything else."""
        head = 12 + THUMBNAIL * THUMBNAIL
        if len(data) < head:
            raise ValueError(f"features are at least {head} bytes")
        width, height, count = (int(v) for v in np.frombuffer(data[:12], dtype="<u4"))
        if len(data) != head + count * (4 + FEATURE_BYTES) or not (width and height):
            raise ValueError(f"{count} features of a {width}x{height} image do not fit in {len(data)} bytes")
        thumbnail = np.frombuffer(data[12:head], dtype=np.uint8).reshape(THUMBNAIL, THUMBNAIL)
        points = np.frombuffer(data[head : head + 4 * count], dtype="<u2").reshape(count, 2)
        descriptors = np.frombuffer(data[head + 4 * count :], dtype=np.uint8).reshape(count, FEATURE_BYTES)
        shares = (points.astype(np.float32) / 65535).astype(np.float32)
        return cls(shares, descriptors.copy(), width, height, thumbnail.copy())


def conclusive(*, inliers: int, correlation: float, precision: float) -> bool:
    """The rule a second-stage match must pass to block on its own (the edge and the control
    plane both apply it)."""
    if inliers < MIN_INLIERS or correlation < MIN_CORRELATION or precision < MIN_PRECISION:
        return False
    # Keypoints of smooth pictures are found less precisely, but such a copy correlates all but
    # perfectly; a photograph of the same scene from a step apart does neither (its precision
    # stays far below, 0.3-0.6 on a stereo pair, though it correlates at 0.95).
    return precision >= SURE_PRECISION or correlation >= SURE_CORRELATION


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a copy is taken for a reference: pairs of keypoints that one transform explains."""

    entry_id: int
    inliers: int
    pairs: int
    mirrored: bool
    scale: float  # the reference's size in the copy, relative to its own (in decoded pixels)
    rotation: float  # degrees, counter-clockwise
    part: tuple[float, float, float, float]  # where the reference lies in the copy: left, top, right, bottom
    correlation: float  # of the copy turned back onto the reference, over what they share
    precision: float  # the share of inliers the transform places within a third of the tolerance

    @property
    def conclusive(self) -> bool:
        """Whether the evidence is strong enough to block on its own."""
        return conclusive(inliers=self.inliers, correlation=self.correlation, precision=self.precision)

    def to_record(self) -> dict[str, Any]:
        """The evidence as a match report carries it (the entry is named beside it)."""
        return {
            "inliers": self.inliers,
            "pairs": self.pairs,
            "mirrored": self.mirrored,
            "scale": round(self.scale, 4),
            "rotation": round(self.rotation, 2),
            "part": [round(v, 4) for v in self.part],
            "correlation": round(self.correlation, 3),
            "precision": round(self.precision, 3),
        }


def extract(luma: npt.NDArray[np.uint8], *, limit: int = REFERENCE_FEATURES) -> Features:
    """Find up to ``limit`` ORB keypoints of a luma image (the strongest, spread over the scales)."""
    height, width = luma.shape
    thumbnail = np.asarray(cv2.resize(luma, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA), np.uint8)
    orb = cv2.ORB.create(nfeatures=limit, fastThreshold=_FAST, edgeThreshold=15, patchSize=31)
    keypoints, descriptors = orb.detectAndCompute(np.ascontiguousarray(luma), None)
    if descriptors is None or not keypoints:
        empty = np.empty((0, FEATURE_BYTES), np.uint8)
        return Features(np.empty((0, 2), np.float32), empty, width, height, thumbnail)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    points /= np.array([width, height], dtype=np.float32)
    return Features(points, np.asarray(descriptors, dtype=np.uint8), width, height, thumbnail)


def features_of(data: bytes, *, limits: ImageLimits | None = None, query: bool = False) -> Features:
    """Decode an image with the fingerprinting guards and find its keypoints, as a reference or,
    with ``query``, as a copy to look up (more pixels and keypoints: the picture may be a part)."""
    size, limit = (QUERY_SIZE, QUERY_FEATURES) if query else (REFERENCE_SIZE, REFERENCE_FEATURES)
    return extract(decode_luma(data, limits=limits or ImageLimits(), size=size), limit=limit)


def bank_fingerprint(data: bytes, *, limits: ImageLimits | None = None) -> Fingerprint:
    """Fingerprint a reference for the bank: its PDQ hashes and, unless it is too weak to be
    matched perceptually at all, its local features for the second stage."""
    fp = reference_fingerprint(data, limits=limits or ImageLimits())
    if fp.weak:
        return fp
    return dataclasses.replace(fp, features=features_of(data, limits=limits).to_bytes())


def verify(
    query: Features,
    reference: Features,
    luma: npt.NDArray[np.uint8],
    *,
    entry_id: int = 0,
    mirror: bool = False,
) -> Evidence | None:
    """Pair the two images' descriptors, fit one similarity transform to the pairs and compare the
    copy's pixels, turned back by it, with the reference's; the evidence, or None when no transform
    explains even a handful of pairs. ``luma`` is the copy the query features were found in."""
    if len(query) < 2 or len(reference) < 2:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    knn = matcher.knnMatch(reference.descriptors, query.descriptors, k=2)
    pairs = [
        m[0] for m in knn if len(m) == 2 and m[0].distance < _RATIO * m[1].distance and m[0].distance <= _NEAR
    ]
    if len(pairs) < 4:
        return None
    source = reference.points[[p.queryIdx for p in pairs]] * np.array(
        [reference.width, reference.height], np.float32
    )
    target = query.points[[p.trainIdx for p in pairs]] * np.array([query.width, query.height], np.float32)
    tolerance = _REPROJECTION * max(query.width, query.height)
    similar = _fit(source, target, tolerance, stretched=False)
    found = _evidence(
        similar, source, target, tolerance, query, reference, luma, entry_id, mirror, len(pairs)
    )
    if found is None or not found.conclusive:
        # Sites stretch pictures to fit their columns: a copy scaled by different amounts across
        # and down is explained by an affine transform, taken only when it is one.
        stretched = _fit(source, target, tolerance, stretched=True)
        if stretched is not None:
            other = _evidence(
                stretched, source, target, tolerance, query, reference, luma, entry_id, mirror, len(pairs)
            )
            if other is not None and (found is None or _stronger(other, found)):
                found = other
    return found


_Fit = tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]


def _fit(
    source: npt.NDArray[np.float32], target: npt.NDArray[np.float32], tolerance: float, *, stretched: bool
) -> _Fit | None:
    """A similarity (or, ``stretched``, an affine transform that scales one direction between
    _STRETCH and _ASPECT times more than the other) fitted with RANSAC, and its inliers; None when
    none fits or it mirrors (a mirrored copy is searched as the query's mirror image)."""
    estimate = cv2.estimateAffine2D if stretched else cv2.estimateAffinePartial2D
    transform, mask = estimate(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=tolerance, maxIters=2000, confidence=0.995
    )
    if transform is None or mask is None:
        return None
    linear = np.asarray(transform[:, :2], np.float64)
    if np.linalg.det(linear) <= 0:
        return None
    if stretched:
        larger, smaller = np.linalg.svd(linear, compute_uv=False)
        if not _STRETCH * smaller <= larger <= _ASPECT * smaller:
            return None
    return np.asarray(transform, np.float64), mask.ravel() == 1


def _evidence(
    fit: _Fit | None,
    source: npt.NDArray[np.float32],
    target: npt.NDArray[np.float32],
    tolerance: float,
    query: Features,
    reference: Features,
    luma: npt.NDArray[np.uint8],
    entry_id: int,
    mirror: bool,
    pairs: int,
) -> Evidence | None:
    if fit is None:
        return None
    transform, inside = fit
    linear = transform[:, :2]
    inliers = int(inside.sum())
    scale = float(math.sqrt(np.linalg.det(linear)))
    if not _SCALES[0] <= scale <= _SCALES[1]:
        return None
    # How many inliers the transform places within a third of the tolerance: a copy's keypoints
    # sit where the transform puts them; two photographs of one scene from a step apart (a stereo
    # pair, a burst) agree on a transform only roughly, parallax spreading their errors out.
    errors = np.linalg.norm(source @ linear.T + transform[:, 2] - target, axis=1)
    precise = int(np.count_nonzero(errors[inside] <= tolerance / 3))
    rotation = math.degrees(math.atan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    corners = np.array(
        [[0, 0], [reference.width, 0], [reference.width, reference.height], [0, reference.height]], np.float64
    )
    placed = corners @ linear.T + transform[:, 2]
    size = np.array([query.width, query.height], np.float64)
    left, top = np.clip(placed.min(axis=0) / size, 0, 1)
    right, bottom = np.clip(placed.max(axis=0) / size, 0, 1)
    if mirror:
        left, right = 1 - right, 1 - left
    return Evidence(
        entry_id,
        inliers,
        pairs,
        mirror,
        scale,
        rotation,
        (float(left), float(top), float(right), float(bottom)),
        _correlation(luma, transform, reference) if inliers >= MIN_INLIERS else 0.0,
        precise / max(1, inliers),
    )


def _correlation(
    luma: npt.NDArray[np.uint8], transform: npt.NDArray[np.float64], reference: Features
) -> float:
    """Pearson correlation between the reference's thumbnail and the copy sampled where the
    transform puts each of its pixels, over the pixels that fall inside the copy (a crop leaves
    some out); 0 when fewer than a third do."""
    # Each thumbnail pixel covers this many copy pixels: shrink the copy first so that sampling
    # it does not alias (two samples a thumbnail pixel).
    scale = math.sqrt(abs(np.linalg.det(transform[:, :2])))
    shrink = max(1.0, scale * reference.width / THUMBNAIL / 2)
    small = luma
    if shrink > 1:
        size = (max(1, round(luma.shape[1] / shrink)), max(1, round(luma.shape[0] / shrink)))
        small = np.asarray(cv2.resize(luma, size, interpolation=cv2.INTER_AREA), np.uint8)
    # Thumbnail pixel (u, v) -> reference pixel -> copy pixel -> shrunk copy pixel (pixel centres).
    to_reference = np.array(
        [
            [reference.width / THUMBNAIL, 0, reference.width / THUMBNAIL / 2],
            [0, reference.height / THUMBNAIL, reference.height / THUMBNAIL / 2],
            [0, 0, 1],
        ]
    )
    to_copy = np.vstack([transform, [0, 0, 1]]) @ to_reference
    # INTER_AREA puts a shrunk pixel's centre at (x + 0.5) / shrink - 0.5 of the copy.
    offset = 0.5 / shrink - 0.5
    to_small = np.array([[1 / shrink, 0, offset], [0, 1 / shrink, offset], [0, 0, 1]]) @ to_copy
    mapping = to_small[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    sampled = cv2.warpAffine(small, mapping, (THUMBNAIL, THUMBNAIL), flags=flags, borderValue=0)
    inside = cv2.warpAffine(
        np.full(small.shape, 255, np.uint8), mapping, (THUMBNAIL, THUMBNAIL), flags=flags, borderValue=0
    )
    # Compared a little blurred: a transform fitted to keypoints is off by a fraction of a
    # thumbnail pixel, which fine texture (stars, gravel, screentone) would not forgive. The blur
    # reaches over the copy's edge, so the pixels next to it are left out.
    valid = cv2.erode(inside, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0) == 255
    if valid.sum() < THUMBNAIL * THUMBNAIL / 3:
        return 0.0
    a = cv2.GaussianBlur(sampled, (5, 5), _BLUR)[valid].astype(np.float64)
    b = cv2.GaussianBlur(reference.thumbnail, (5, 5), _BLUR)[valid].astype(np.float64)
    if a.std() < 1 or b.std() < 1:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


class FeatureIndex:
    """Every reference's keypoints, searchable by descriptor, and each entry's features for
    verification.

    Descriptors are stored under row ids (each row's entry beside it, -1 once removed). A small
    bank is searched exactly (``IndexBinaryFlat``); past ``IVF_FROM`` descriptors the index turns
    into an inverted file (``IndexBinaryIVF``) trained once on the descriptors it holds then, which
    searches ``_NPROBE`` of its ``_NLIST`` lists: a query's cost no longer grows with the bank
    (3,000 query descriptors over a million stored cost seconds exactly). Candidates need only
    some of a copy's descriptors to find their own, and every candidate is verified in full."""

    def __init__(self, *, ivf_from: int | None = None) -> None:
        self._ivf_from = IVF_FROM if ivf_from is None else ivf_from
        self._flat: Any = faiss.IndexBinaryFlat(FEATURE_BYTES * 8)
        self._index: Any = faiss.IndexBinaryIDMap(self._flat)
        self._inverted = False
        self._owners: npt.NDArray[np.int64] = np.full(1024, -1, dtype=np.int64)
        self._rows: dict[int, npt.NDArray[np.int64]] = {}
        self._next = 0
        self._entries: dict[int, Features] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def descriptors(self) -> int:
        return int(self._index.ntotal)

    @property
    def inverted(self) -> bool:
        """Whether the index has turned into an inverted file."""
        return self._inverted

    def add(self, entry_id: int, features: Features) -> None:
        """Store an entry's features (replacing any it had)."""
        with self._lock:
            if entry_id in self._entries:
                self.remove([entry_id])
            if not len(features):
                return
            rows = np.arange(self._next, self._next + len(features), dtype=np.int64)
            self._next += len(features)
            if self._next > len(self._owners):  # grow by doubling: entries arrive one at a time
                grown = np.full(max(2 * len(self._owners), self._next), -1, dtype=np.int64)
                grown[: len(self._owners)] = self._owners
                self._owners = grown
            self._owners[rows] = entry_id
            self._rows[entry_id] = rows
            self._entries[entry_id] = features
            self._index.add_with_ids(np.ascontiguousarray(features.descriptors), rows)
            if not self._inverted and self._index.ntotal >= self._ivf_from:
                self._invert()

    def _invert(self) -> None:
        """Move every descriptor into an inverted file trained on them."""
        codes = faiss.vector_to_array(self._flat.xb).reshape(-1, FEATURE_BYTES)
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        nlist = min(_NLIST, max(1, len(codes) // 64))
        quantizer = faiss.IndexBinaryFlat(FEATURE_BYTES * 8)
        inverted = faiss.IndexBinaryIVF(quantizer, FEATURE_BYTES * 8, nlist)
        self._quantizer = quantizer  # the inverted file does not own it: keep it alive
        sample = codes[np.random.default_rng(0).permutation(len(codes))[: nlist * 100]]
        inverted.train(np.ascontiguousarray(sample))
        inverted.add_with_ids(np.ascontiguousarray(codes), ids)
        inverted.nprobe = _NPROBE
        self._index = inverted
        self._flat = None
        self._inverted = True

    def remove(self, entry_ids: Iterable[int]) -> None:
        """Drop the entries' features."""
        with self._lock:
            gone = [i for i in entry_ids if i in self._entries]
            if not gone:
                return
            rows = np.concatenate([self._rows.pop(entry_id) for entry_id in gone])
            for entry_id in gone:
                del self._entries[entry_id]
            self._index.remove_ids(faiss.IDSelectorBatch(rows))
            self._owners[rows] = -1

    def candidates(self, query: Features, *, limit: int = _CANDIDATES) -> list[int]:
        """The entries most of the query's descriptors lie nearest to, most votes first.

        A descriptor votes only when its nearest stored descriptor is clearly nearer than the
        nearest of any other entry (Lowe's ratio over the bank): lettering and a site's layout
        look like every page with lettering, and their votes would crowd the picture's out."""
        if not len(query):
            return []
        with self._lock:
            if not self._index.ntotal:
                return []
            distances, rows = self._index.search(np.ascontiguousarray(query.descriptors), 2)
            owners = np.where(rows >= 0, self._owners[np.clip(rows, 0, len(self._owners) - 1)], -1)
            distinct = (distances[:, 0] < _RATIO * distances[:, 1]) | (owners[:, 0] == owners[:, 1])
            voting = (distances[:, 0] <= _NEAR) & (owners[:, 0] >= 0) & distinct
            votes = Counter(owners[voting, 0].tolist())
        return [entry_id for entry_id, count in votes.most_common(limit) if count >= 4]

    def search(self, luma: npt.NDArray[np.uint8], *, limit: int = _CANDIDATES) -> list[Evidence]:
        """Find and verify the likeliest entries for a copy (luma decoded to fit QUERY_SIZE); when
        none is conclusive, its mirror image too. The evidence, conclusive and most inliers first."""
        found: dict[int, Evidence] = {}
        for flipped in (False, True):
            if any(e.conclusive for e in found.values()):
                break
            view = np.ascontiguousarray(luma[:, ::-1]) if flipped else luma
            query = extract(view, limit=QUERY_FEATURES)
            for entry_id in self.candidates(query, limit=limit):
                with self._lock:
                    reference = self._entries.get(entry_id)
                if reference is None:
                    continue
                evidence = verify(query, reference, view, entry_id=entry_id, mirror=flipped)
                if evidence is not None and (entry_id not in found or _stronger(evidence, found[entry_id])):
                    found[entry_id] = evidence
        return sorted(found.values(), key=lambda e: (not e.conclusive, -e.inliers, e.entry_id))


def _stronger(a: Evidence, b: Evidence) -> bool:
    return (a.conclusive, a.inliers) > (b.conclusive, b.inliers)
