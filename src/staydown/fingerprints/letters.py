"""The words of the letters a stay-down match sends its customer (blocked, then perhaps lifted), in
the customer's language (``locale``; see ``staydown.wording``)."""

from __future__ import annotations

from staydown.wording import Words


def blocked(
    *, url: str, notice_id: int | None, distance: int, provider: str, locale: str = "en"
) -> tuple[str, str]:
    """A copy of removed content was found and blocked (subject, body)."""
    _ = Words(locale)
    source = _(" (notice %(id)s)", id=notice_id) if notice_id is not None else _(" (a registered work)")
    return (
        _("Stay-down: a copy of removed content was blocked on %(url)s", url=url),
        _(
            "The file at %(url)s matches content that was removed after a notice%(source)s (perceptual "
            "distance %(distance)s of 256). It is no longer served and answers 451. If this is wrong, file "
            "a complaint through the abuse desk or the API; an agent other than the system will review it.",
            url=url,
            source=source,
            distance=distance,
        )
        + "\n\n"
        + _(
            "Statement of reasons: automated detection of a copy of content removed for infringement "
            "(stay-down), %(provider)s terms of service and the repeat-infringer policy.",
            provider=provider,
        ),
    )


def restored(*, url: str, reason: str, locale: str = "en") -> tuple[str, str]:
    """A block found wrong on review was lifted (subject, body)."""
    _ = Words(locale)
    return (
        _("Stay-down: the block on %(url)s was lifted", url=url),
        _(
            "On review, the file at %(url)s was found not to be a copy of the removed content and is served "
            "again. Reason: %(reason)s",
            url=url,
            reason=reason,
        ),
    )
