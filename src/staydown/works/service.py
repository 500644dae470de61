"""Register works: fingerprint each reference image and put it in the bank for the whole network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.audit import service as audit
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.hashing import Fingerprint, ImageLimits, ImageRejected
from staydown.fingerprints.models import BankScope, BankSource
from staydown.works.models import ReferenceImage, Work

MAX_IMAGES = 50


class WorkError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 422, details: object = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Reference:
    upload: Upload
    fingerprint: Fingerprint


def fingerprint_uploads(uploads: Sequence[Upload], *, limits: ImageLimits) -> list[Reference]:
    """Fingerprint every reference image, or refuse the whole work naming each bad file."""
    if not uploads:
        raise WorkError("missing_images", "a work needs at least one reference image")
    if len(uploads) > MAX_IMAGES:
        raise WorkError("too_many_images", f"at most {MAX_IMAGES} reference images per request")
    references, problems = [], []
    for position, upload in enumerate(uploads):
        try:
            references.append(
                Reference(upload, fingerprints.fingerprint_reference(upload.data, limits=limits))
            )
        except ImageRejected as exc:
            problems.append(
                {"image": position, "filename": upload.filename, "code": exc.code, "message": exc.message}
            )
    if problems:
        names = ", ".join(f"{p['filename'] or p['image']} ({p['code']})" for p in problems)
        raise WorkError("invalid_image", f"these reference images cannot be used: {names}", details=problems)
    return references


def auto_block_distance(
    requested: int | None, *, global_bound: int, review_bound: int, by_agent: bool
) -> int | None:
    """A work's own automatic-block distance: anyone registering may tighten the global one; only
    an agent may loosen it, and never past the review distance."""
    if requested is None:
        return None
    if requested < 0:
        raise WorkError("invalid_distance", "a distance is 0 or more bits")
    if requested > global_bound and not by_agent:
        raise WorkError(
            "distance_too_loose",
            f"only an agent may set an automatic-block distance above the global {global_bound}",
            status=403,
        )
    if requested > review_bound:
        raise WorkError(
            "invalid_distance", f"the automatic-block distance cannot pass the review distance {review_bound}"
        )
    return requested


def register(
    session: Session,
    *,
    description: str,
    references: Sequence[Reference],
    owner_key_id: int | None,
    now: datetime,
    actor: str,
    distance: int | None = None,
) -> Work:
    """Record the work and bank each reference image network-wide (``distance``: the work's own
    automatic-block distance, already checked by ``auto_block_distance``)."""
    description = description.strip()
    if not 3 <= len(description) <= 5000:
        raise WorkError("invalid_description", "describe the work in 3 to 5000 characters")
    work = Work(
        description=description, owner_key_id=owner_key_id, created_at=now, auto_block_distance=distance
    )
    session.add(work)
    session.flush()
    seen: set[bytes] = set()
    for reference in references:
        fp = reference.fingerprint
        image = ReferenceImage(
            work_id=work.id,
            filename=(reference.upload.filename or None) and reference.upload.filename[:300],
            content_type=(reference.upload.content_type or None) and reference.upload.content_type[:200],
            size=len(reference.upload.data),
            sha256=fp.sha256.hex(),
            created_at=now,
        )
        if fp.sha256 not in seen:  # the same file twice is one entry
            seen.add(fp.sha256)
            entry = fingerprints.add_entry(
                session,
                fp,
                scope=BankScope.network,
                source=BankSource.reference,
                now=now,
                actor=actor,
                work_id=work.id,
                auto_block_distance=distance,
            )
            image.entry_id = entry.id
        session.add(image)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="work.registered",
        entity=("work", work.id),
        data={"images": len(references), "description": description[:200], "auto_block_distance": distance},
    )
    return work


def import_hashes(
    session: Session,
    *,
    description: str,
    hashes: Sequence[bytes],
    owner_key_id: int | None,
    now: datetime,
    actor: str,
) -> Work:
    """Record a work known only by shared PDQ hashes (a ThreatExchange hash list) and bank each."""
    description = description.strip()
    if not 3 <= len(description) <= 5000:
        raise WorkError("invalid_description", "describe the work in 3 to 5000 characters")
    if not hashes:
        raise WorkError("missing_hashes", "the list holds no PDQ hash")
    work = Work(description=description, owner_key_id=owner_key_id, created_at=now)
    session.add(work)
    session.flush()
    for code in hashes:
        fingerprints.add_entry(
            session,
            fingerprints.imported_fingerprint(code),
            scope=BankScope.network,
            source=BankSource.reference,
            now=now,
            actor=actor,
            work_id=work.id,
        )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="work.hashes_imported",
        entity=("work", work.id),
        data={"hashes": len(hashes), "description": description[:200]},
    )
    return work


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two works of different rightsholders holding the same image (or one within ``distance``)."""

    works: tuple[Work, Work]
    entries: tuple[int, int]
    distance: int


def conflicts(session: Session, *, radius: int) -> list[Conflict]:
    """Works of different owners that registered the same image, for an agent to settle who holds
    it; an image registered twice by one owner is no conflict. Each pair of works once, nearest."""
    prints = fingerprints.reference_prints(session)
    works = {w.id: w for w in session.scalars(select(Work).where(Work.id.in_({p.work_id for p in prints})))}
    found: dict[tuple[int, int], Conflict] = {}
    for a, b, distance in fingerprints.near_pairs(prints, radius=radius):
        first, second = works[prints[a].work_id], works[prints[b].work_id]
        if first.id == second.id or (
            first.owner_key_id == second.owner_key_id and first.owner_key_id is not None
        ):
            continue
        key = (min(first.id, second.id), max(first.id, second.id))
        if key not in found or distance < found[key].distance:
            found[key] = Conflict((first, second), (prints[a].entry_id, prints[b].entry_id), distance)
    return [found[key] for key in sorted(found)]


def get(session: Session, work_id: int) -> Work | None:
    return session.get(Work, work_id)


def images_of(session: Session, work_id: int) -> Sequence[ReferenceImage]:
    return session.scalars(
        select(ReferenceImage).where(ReferenceImage.work_id == work_id).order_by(ReferenceImage.id)
    ).all()


def list_for_owner(session: Session, owner_key_id: int | None, *, limit: int = 100) -> Sequence[Work]:
    query = select(Work).order_by(Work.id.desc()).limit(limit)
    if owner_key_id is not None:
        query = query.where(Work.owner_key_id == owner_key_id)
    return session.scalars(query).all()
