"""Long decisions in the desk: a decision over many items runs in chunks while the page shows how far
it got, instead of one request that hangs until everything is done.

A decision over at most ``CHUNK`` items is taken in one unit of work as before. A longer one is
recorded as a :class:`DecisionJob` and applied ``CHUNK`` items at a time, each chunk one unit of
work through the same domain service the API calls (every item is decided whole: its status, its
statement, its block and its audit entry commit together), with the job's ``done`` advanced in
the same unit of work. Items another person decided after the job was recorded are left as they
are and counted as skipped. The job holds a lease while it runs; a job whose runner died (its
lease ran out) is taken up again the next time its page is looked at.

One consequence: customers and the notifier hear of a long decision chunk by chunk (one letter per
zone and chunk), as they would of several decisions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.desk.models import DecisionJob
from staydown.i18n import Message, _
from staydown.notices import service as notices
from staydown.notices.flows import ITEM_TRANSITIONS, ItemEvent
from staydown.notices.models import NoticeItem

log = logging.getLogger(__name__)

CHUNK = 250
LEASE = timedelta(seconds=60)
RUNNING, DONE, FAILED = "running", "done", "failed"


def needs_job(count: int, *, chunk: int = CHUNK) -> bool:
    """Whether a decision over ``count`` items is applied as a job with progress."""
    return count > chunk


@dataclass(frozen=True, slots=True)
class Progress:
    """What the desk shows of a job."""

    id: int
    notice_id: int
    verdict: str
    status: str
    done: int
    total: int
    skipped: int
    error: str | None

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total

    @property
    def summary(self) -> Message:
        """One sentence on where the decision stands."""
        decided = self.done - self.skipped
        if self.status == FAILED:
            return _(
                "Stopped after %(done)s of %(total)s item(s): %(error)s",
                done=self.done,
                total=self.total,
                error=self.error,
            )
        if self.status == DONE and self.verdict == "action":
            if self.skipped:
                return _(
                    "%(decided)s item(s) actioned (%(skipped)s decided by someone else meanwhile, "
                    "left as they were).",
                    decided=decided,
                    skipped=self.skipped,
                )
            return _("%(decided)s item(s) actioned.", decided=decided)
        if self.status == DONE:
            if self.skipped:
                return _(
                    "%(decided)s item(s) rejected (%(skipped)s decided by someone else meanwhile, "
                    "left as they were).",
                    decided=decided,
                    skipped=self.skipped,
                )
            return _("%(decided)s item(s) rejected.", decided=decided)
        if self.skipped:
            return _(
                "%(done)s of %(total)s item(s) done (%(skipped)s decided by someone else meanwhile, "
                "left as they were).",
                done=self.done,
                total=self.total,
                skipped=self.skipped,
            )
        return _("%(done)s of %(total)s item(s) done.", done=self.done, total=self.total)


def progress_of(job: DecisionJob) -> Progress:
    return Progress(
        id=job.id,
        notice_id=job.notice_id,
        verdict=job.verdict,
        status=job.status,
        done=job.done,
        total=job.total,
        skipped=job.skipped,
        error=job.error,
    )


def create(
    database: Database,
    notice_id: int,
    item_ids: list[int],
    *,
    verdict: str,
    reason: str,
    actor: str,
    now: datetime,
) -> int:
    """Record a job for the decision (not yet started); its id."""
    with database.writer() as session:
        job = DecisionJob(
            notice_id=notice_id,
            verdict=verdict,
            reason=reason,
            item_ids=list(item_ids),
            total=len(item_ids),
            done=0,
            skipped=0,
            status=RUNNING,
            created_by=actor,
            created_at=now,
        )
        session.add(job)
        session.commit()
        return job.id


def read(database: Database, job_id: int) -> Progress | None:
    with database.reader() as session:
        job = session.get(DecisionJob, job_id)
        return progress_of(job) if job is not None else None


def claim(database: Database, job_id: int, *, now: datetime) -> bool:
    """Take the job's lease if nobody holds it; whether this caller now runs the job."""
    with database.writer() as session:
        result = session.execute(
            update(DecisionJob)
            .where(
                DecisionJob.id == job_id,
                DecisionJob.status == RUNNING,
                or_(DecisionJob.lease_until.is_(None), DecisionJob.lease_until < now),
            )
            .values(lease_until=now + LEASE)
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


def step(database: Database, job_id: int, *, now: datetime, settings: Settings, chunk: int = CHUNK) -> bool:
    """Decide the job's next chunk in one unit of work; whether items are left."""
    with database.writer() as session:
        # The job's row is locked for the chunk, so two runners never take the same chunk.
        job = session.get(DecisionJob, job_id, with_for_update=True)
        if job is None or job.status != RUNNING:
            return False
        ids = [int(i) for i in job.item_ids[job.done : job.done + chunk]]
        event = ItemEvent(job.verdict)
        rows = session.execute(
            select(NoticeItem.id, NoticeItem.status, NoticeItem.decided_at).where(
                NoticeItem.notice_id == job.notice_id, NoticeItem.id.in_(ids)
            )
        )
        # An item someone decided after the job was recorded keeps that decision.
        states = {
            item_id: status
            for item_id, status, decided_at in rows
            if decided_at is None or decided_at < job.created_at
        }
        decidable = [i for i in ids if i in states and (states[i], event) in ITEM_TRANSITIONS]
        if decidable:
            notice = notices.get(session, job.notice_id)
            assert notice is not None
            notices.decide(
                session,
                notice,
                dict.fromkeys(decidable, job.verdict),
                reason=job.reason,
                actor=job.created_by,
                now=now,
                settings=settings,
            )
        job.done += len(ids)
        job.skipped += len(ids) - len(decidable)
        if job.done >= job.total:
            job.status, job.finished_at, job.lease_until = DONE, now, None
        else:
            job.lease_until = now + LEASE
        session.commit()
        return job.status == RUNNING


def fail(database: Database, job_id: int, message: str, *, now: datetime) -> None:
    with database.writer() as session:
        job = session.get(DecisionJob, job_id)
        if job is not None and job.status == RUNNING:
            job.status, job.error, job.finished_at, job.lease_until = FAILED, message, now, None
            session.commit()


def run(
    database: Database, job_id: int, *, clock: Callable[[], datetime], settings: Settings, chunk: int = CHUNK
) -> None:
    """Apply the job to its end (if its lease can be taken); a refusal stops it with the reason."""
    if not claim(database, job_id, now=clock()):
        return
    try:
        while step(database, job_id, now=clock(), settings=settings, chunk=chunk):
            pass
    except notices.NoticeError as exc:
        fail(database, job_id, exc.message, now=clock())
    except Exception:
        log.exception("decision job %s stopped", job_id)
        fail(
            database,
            job_id,
            "an internal error stopped the decision; the items done so far stay decided",
            now=clock(),
        )


def start(database: Database, job_id: int, *, clock: Callable[[], datetime], settings: Settings) -> None:
    """Run the job on a thread of its own (this process keeps answering requests meanwhile)."""
    thread = threading.Thread(
        target=run,
        args=(database, job_id),
        kwargs={"clock": clock, "settings": settings},
        name=f"decision-job-{job_id}",
        daemon=True,
    )
    thread.start()


def resume_if_abandoned(
    database: Database, progress: Progress, *, clock: Callable[[], datetime], settings: Settings
) -> None:
    """Start a runner for a job nobody runs any more (the process that ran it stopped)."""
    if progress.status != RUNNING:
        return
    with database.reader() as session:
        lease = session.scalar(select(DecisionJob.lease_until).where(DecisionJob.id == progress.id))
    if lease is None or lease < clock():
        start(database, progress.id, clock=clock, settings=settings)
