"""How the notice workflow's commands are carried out: block and bank, lift (keeping a resource
blocked while another notice or match holds it), forward the notice, record strikes, tell the
submitter. The transition table (``flows``) decides; the one runner in ``enforcement`` calls these
handlers, which the assembly registers from :func:`command_handlers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.fingerprints import service as fingerprints
from staydown.hosts import service as hosts
from staydown.notices import messages
from staydown.notices import service as notices
from staydown.notices.flows import (
    BLOCKING,
    Block,
    Command,
    ForwardToCustomer,
    ForwardToHost,
    KeepBlocked,
    PassBlock,
    RecordStrike,
    TellSubmitter,
    Unblock,
    lift_block,
)
from staydown.notices.models import Notice, NoticeItem
from staydown.notices.regimes import rules_of
from staydown.policy import service as policy
from staydown.serial import service as serial
from staydown.types import Recipient
from staydown.wording import recipient_locale


def command_handlers() -> list[tuple[type, enforcement.CommandHandler]]:
    """How the notice workflow's commands are carried out, in the order their kinds run."""
    return [
        (Block, _block),
        (Unblock, _unblock),
        (ForwardToCustomer, _forward_all),
        (ForwardToHost, _forward_all),
        (RecordStrike, _record_strikes),
        (TellSubmitter, _tell_submitter),
    ]


def _block(session: Session, step: enforcement.Step, commands: Sequence[Block]) -> None:
    notice: Notice = step.subject
    blocks = [c.item for c in commands]
    enforcement.block(
        session,
        [
            enforcement.BlockSpec(r.zone_id, r.target, r.url, r.notice_id, r.item_id)
            for r in blocks
            if r.zone_id
        ],
        at=step.now,
        reason=f"notice {notice.id}",
    )
    fingerprints.capture_later(
        session,
        [
            fingerprints.CaptureSpec(r.item_id, r.notice_id, r.zone_id, r.url, r.target)
            for r in blocks
            if r.zone_id and not r.duplicate  # the first notice on a resource banks its content
        ],
        now=step.now,
    )


def _unblock(session: Session, step: enforcement.Step, commands: Sequence[Unblock]) -> None:
    _lift(session, step.subject, commands, now=step.now, actor=step.actor)
    fingerprints.release_items(
        session, [c.item.item_id for c in commands], now=step.now, actor=step.actor, reason=commands[0].reason
    )


def _forward_all(
    session: Session, step: enforcement.Step, commands: Sequence[ForwardToCustomer | ForwardToHost]
) -> None:
    assert step.settings is not None
    for command in commands:
        _forward(session, step.subject, command, now=step.now, settings=step.settings)


def _record_strikes(session: Session, step: enforcement.Step, commands: Sequence[RecordStrike]) -> None:
    settings = step.settings
    assert settings is not None
    # One notice may strike several customers: lock them all first, in id order, so two notices
    # naming the same customers in another order queue instead of deadlocking.
    policy.lock_customers(session, [c.customer_id for c in commands])
    # A strike is weighed by the notice's URLs actioned on the customer's zones (copies aside).
    rows = session.execute(
        select(NoticeItem.customer_id, func.count())
        .where(
            NoticeItem.notice_id == step.subject.id,
            NoticeItem.customer_id.in_([c.customer_id for c in commands]),
            NoticeItem.status.in_(sorted(BLOCKING)),
            NoticeItem.duplicate_of_id.is_(None),
        )
        .group_by(NoticeItem.customer_id)
    )
    urls = {customer_id: count for customer_id, count in rows if customer_id is not None}
    for command in commands:
        policy.record_strike(
            session,
            customer_id=command.customer_id,
            notice_id=command.notice_id,
            zone_id=command.zone_id,
            now=step.now,
            actor=step.actor,
            policy=settings.policy,
            provider=settings.provider_name,
            urls=urls.get(command.customer_id, 1),
        )
    serial.consider(session, [c.customer_id for c in commands], now=step.now, settings=settings)


def _tell_submitter(session: Session, step: enforcement.Step, commands: Sequence[TellSubmitter]) -> None:
    settings = step.settings
    assert settings is not None
    notice: Notice = step.subject
    for _command in commands:
        counts = session.execute(
            select(NoticeItem.status, func.count())
            .where(NoticeItem.notice_id == notice.id)
            .group_by(NoticeItem.status)
        ).all()
        rules = rules_of(notice.regime)
        letter = messages.decision(
            notice,
            {status.value: count for status, count in counts},
            provider=settings.provider_name,
            redress=rules.redress(notices.notice_service_type(session, notice.id)),
            automated=notice.trusted and rules.trusted_direct_action(),
            locale=recipient_locale(notice.language, settings.default_locale),
        )
        notices.tell(session, notice, letter, kind="notice_decision", at=step.now)


def _lift(
    session: Session, notice: Notice, unblocks: Sequence[Unblock], *, now: datetime, actor: str
) -> None:
    """Lift the items' blocks: unblock each resource nothing else holds; keep the others blocked."""
    first: dict[tuple[int, str], Unblock] = {}
    for command in unblocks:
        if command.item.zone_id is not None:
            # Copies of one resource lifted together lift it once.
            first.setdefault((command.item.zone_id, command.item.target), command)
    items = notices.holding_items(session, list(first))
    matches = fingerprints.holding_matches(session, list(first))
    outcome: list[Command] = []
    for key, command in first.items():
        outcome += lift_block(command, items.get(key, []) + matches.get(key, []))
    lifted = [c for c in outcome if isinstance(c, Unblock)]
    if lifted:
        enforcement.unblock(
            session,
            [
                enforcement.BlockSpec(
                    c.item.zone_id, c.item.target, c.item.url, c.item.notice_id, c.item.item_id
                )
                for c in lifted
                if c.item.zone_id
            ],
            at=now,
            reason=lifted[0].reason,
        )
    for step in outcome:
        if isinstance(step, KeepBlocked):
            item = step.item
            if item.zone_id is not None:  # its statement of reasons ends, the block stays
                spec = enforcement.BlockSpec(
                    item.zone_id, item.target, item.url, item.notice_id, item.item_id
                )
                enforcement.withhold_unblock(session, [spec], at=now, reason=step.reason)
            audit.record(
                session,
                at=now,
                actor=actor,
                action="items.unblock_withheld",
                entity=("notice", notice.id),
                data={
                    "item_id": step.item.item_id,
                    "zone_id": step.item.zone_id,
                    "target": step.item.target,
                    "holder": step.holder.describe(),
                    "reason": step.reason,
                },
            )
        elif isinstance(step, PassBlock):
            _pass_block(session, step, now=now, actor=actor)


def _pass_block(session: Session, step: PassBlock, *, now: datetime, actor: str) -> None:
    """Relink a lifted item's copies to the item that keeps the block; a new carrier gets a block
    record (and its content banked) as the first notice on a resource does."""
    carrier_id = step.carrier.id
    copies = list(step.copies)
    for start in range(0, len(copies), 500):
        session.execute(
            update(NoticeItem)
            .where(NoticeItem.id.in_(copies[start : start + 500]))
            .values(duplicate_of_id=carrier_id)
        )
    data: dict[str, Any] = {
        "item_id": carrier_id,
        "from_item_id": step.lifted.item_id,
        "copies": copies[: notices.AUDIT_BATCH],
    }
    if step.new_carrier:
        carrier = session.get(NoticeItem, carrier_id)
        assert carrier is not None and carrier.zone_id is not None
        carrier.duplicate_of_id = None
        enforcement.block(
            session,
            [
                enforcement.BlockSpec(
                    carrier.zone_id, carrier.target, carrier.canonical_url, carrier.notice_id, carrier.id
                )
            ],
            at=now,
            reason=f"notice {carrier.notice_id}",
        )
        fingerprints.capture_later(
            session,
            [
                fingerprints.CaptureSpec(
                    carrier.id, carrier.notice_id, carrier.zone_id, carrier.canonical_url, carrier.target
                )
            ],
            now=now,
        )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="items.block_carried" if step.new_carrier else "items.copies_relinked",
        entity=("notice", step.carrier.notice_id or step.lifted.notice_id),
        data=data,
    )


def _forward(
    session: Session,
    notice: Notice,
    command: ForwardToCustomer | ForwardToHost,
    *,
    now: datetime,
    settings: Settings,
) -> None:
    zone = accounts.get_zone(session, command.zone_id)
    if zone is None:
        return
    # Copies of one resource in the notice name it once.
    urls = list(
        dict.fromkeys(
            session.scalars(
                select(NoticeItem.canonical_url)
                .where(NoticeItem.id.in_(command.item_ids[:1000]))
                .order_by(NoticeItem.position)
            )
        )
    )
    to_host = isinstance(command, ForwardToHost)
    rules = rules_of(notice.regime)
    fields = rules.shared(
        Recipient.host if to_host else Recipient.customer,
        party="complainant",
        organisation=bool(notice.submitter_organization),
    )
    # A host's letter in the default language (its registry record tells no language); the
    # customer's in the one it chose.
    letter = messages.forward(
        notice,
        urls,
        provider=settings.provider_name,
        hostname=zone.hostname,
        to_host=to_host,
        complainant_fields=fields,
        redress=rules.redress(zone.service_type),
        locale=settings.default_locale
        if to_host
        else recipient_locale(zone.customer.locale, settings.default_locale),
    )
    if to_host:  # the hosts domain finds the host (RDAP) and adds the origin addresses
        hosts.forward_notice(
            session,
            zone,
            notice_id=notice.id,
            urls=urls,
            subject=letter.subject,
            body=letter.body,
            payload=letter.payload,
            complainant_email=notice.submitter_email,
            complainant_trusted=notice.trusted,
            now=now,
            settings=settings,
        )
        return
    customer = zone.customer
    enforcement.enqueue_message(
        session,
        at=now,
        kind="notice_forward_customer",
        channel=Channel.email,
        recipient=customer.email,
        subject=letter.subject,
        body=letter.body,
        payload=letter.payload,
        notice_id=notice.id,
        customer_id=customer.id,
    )
    if customer.webhook_url:
        enforcement.enqueue_message(
            session,
            at=now,
            kind="notice_forward_customer",
            channel=Channel.webhook,
            recipient=customer.webhook_url,
            subject=letter.subject,
            body=letter.body,
            payload=letter.payload,
            notice_id=notice.id,
            customer_id=customer.id,
        )
