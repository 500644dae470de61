"""Letters in free text: DMCA notices, DSA Art. 16 notices and Japanese removal requests as people
write them. The URLs are taken from the text, the complainant from the headers and the letter's
contact or signature block, the statements from their legal wording (``parsers.wording``), and the
law from what the letter invokes. An element that cannot be found is left out, so the notice names
it as missing exactly as the API would. A letter without a URL is for a person to read.
"""

from __future__ import annotations

from staydown.inbound.parsers import wording
from staydown.inbound.parsers.base import Draft, InboundFormat, Limits, MailView, Outcome, Parsed

FORMAT = InboundFormat.text


def detect(view: MailView) -> bool:
    """Whether the message has any text to read."""
    return any(text.strip() for text in view.texts)


def parse(view: MailView, limits: Limits) -> Parsed:
    """Read a letter into a notice draft; a letter without URLs goes to triage."""
    letter = view.body
    found = wording.find_urls(letter, limits)
    if found.over_limit:
        return Parsed(
            FORMAT,
            Outcome.refused,
            f"the letter names more than {limits.max_urls} URLs; send them as several notices or a CSV",
        )
    works = wording.works_of(letter)
    said = wording.statements(letter)
    who = wording.contact(view, letter)
    draft = Draft(
        regime=wording.regime_of(view.subject + "\n" + letter),
        urls=found.valid,
        work_of_url=tuple(0 if works else None for _ in found.valid),
        works=works,
        name=who["name"],
        email=who["email"],
        address=who["address"],
        phone=who["phone"],
        organization=who["organization"],
        on_behalf_of=who["on_behalf_of"],
        explanation=letter.strip()[:20_000] or None,
        good_faith=said.good_faith,
        accurate=said.accurate,
        authorized=said.authorized,
        signature=wording.signature_of(letter),
    )
    if not found.valid:
        # What was read still fills the form of the person who takes the letter up.
        reason = "the letter names no URL, so nothing can be located; a person will read it"
        if found.skipped:
            reason = f"the letter names no valid http(s) URL ({len(found.skipped)} could not be read)"
        return Parsed(FORMAT, Outcome.triage, reason, draft=draft, skipped_urls=found.skipped)
    return Parsed(FORMAT, Outcome.notice, None, draft=draft, skipped_urls=found.skipped)
