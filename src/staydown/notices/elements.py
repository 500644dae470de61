"""The legal elements each regime requires of a notice, and the assessment of a submission.

Pure: takes what was submitted, returns which elements are missing, named as the law names them,
and whether the notice can be acted on, must be completed, or cannot be considered at all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from staydown.types import Regime


@dataclass(frozen=True, slots=True)
class Element:
    """One required element: its legal name and a plain-words explanation for the submitter."""

    code: str
    name: str
    explanation: str


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What a submission contains, reduced to the questions the law asks."""

    signature: bool
    works_identified: bool
    urls: bool
    name: bool
    email: bool
    address: bool
    phone: bool
    explanation: bool
    good_faith: bool
    accurate: bool
    authorized: bool


class Outcome(enum.StrEnum):
    complete = "complete"  # every element present: the notice can be acted on
    incomplete = "incomplete"  # enough to locate the material and reach the notifier: ask to complete
    insufficient = "insufficient"  # cannot be considered a notice: rejected with the reasons


@dataclass(frozen=True, slots=True)
class Assessment:
    outcome: Outcome
    missing: tuple[Element, ...]

    @property
    def missing_names(self) -> list[str]:
        return [element.name for element in self.missing]


def _e(code: str, name: str, explanation: str) -> Element:
    return Element(code, name, explanation)


DMCA = {
    "i": _e(
        "512(c)(3)(A)(i)",
        "512(c)(3)(A)(i) signature",
        "A physical or electronic signature of the person authorised to act for the rights owner.",
    ),
    "ii": _e(
        "512(c)(3)(A)(ii)",
        "512(c)(3)(A)(ii) identification of the copyrighted work",
        "Which work is infringed (a title or description; a representative list for many works).",
    ),
    "iii": _e(
        "512(c)(3)(A)(iii)",
        "512(c)(3)(A)(iii) identification of the infringing material",
        "The exact URLs of the infringing material, so it can be found.",
    ),
    "iv": _e(
        "512(c)(3)(A)(iv)",
        "512(c)(3)(A)(iv) contact information",
        "How to reach you: your name, postal address, telephone number and e-mail address.",
    ),
    "v": _e(
        "512(c)(3)(A)(v)",
        "512(c)(3)(A)(v) good-faith statement",
        "A statement that you believe in good faith the use is not authorised by the owner, "
        "its agent or the law.",
    ),
    "vi": _e(
        "512(c)(3)(A)(vi)",
        "512(c)(3)(A)(vi) accuracy and authority statement",
        "A statement that the notice is accurate and, under penalty of perjury, that you are authorised "
        "to act for the owner.",
    ),
}

DSA = {
    "a": _e(
        "DSA 16(2)(a)",
        "DSA Art. 16(2)(a) substantiated explanation",
        "Why you consider the content illegal, with enough detail to assess it.",
    ),
    "b": _e(
        "DSA 16(2)(b)",
        "DSA Art. 16(2)(b) exact electronic location",
        "The exact URL of each item of content.",
    ),
    "c": _e("DSA 16(2)(c)", "DSA Art. 16(2)(c) name and e-mail address", "Your name and e-mail address."),
    "d": _e(
        "DSA 16(2)(d)",
        "DSA Art. 16(2)(d) statement of bona fide belief",
        "A statement that you believe in good faith that the notice is accurate and complete.",
    ),
}

JP = {
    "location": _e(
        "IDPA location",
        "IDPA removal request: location of the information (URL)",
        "The URL where the information is published.",
    ),
    "right": _e(
        "IDPA right",
        "IDPA removal request: right infringed",
        "Which right is infringed and the work it protects.",
    ),
    "reason": _e(
        "IDPA reason",
        "IDPA removal request: reason the right is infringed",
        "Why publishing the information infringes your right.",
    ),
    "requester": _e(
        "IDPA requester",
        "IDPA removal request: requester name and contact",
        "Your name and an e-mail address or postal address where you can be reached.",
    ),
    "declaration": _e(
        "IDPA declaration",
        "IDPA removal request: declaration of truth",
        "A declaration that the statements in the request are true.",
    ),
    "signature": _e(
        "IDPA signature",
        "IDPA removal request: signature of the requester",
        "Your signature (or that of your authorised agent).",
    ),
}

ELEMENTS: dict[Regime, dict[str, Element]] = {Regime.dmca: DMCA, Regime.dsa: DSA, Regime.jp: JP}


def _dmca(f: NoticeFacts) -> Assessment:
    missing = []
    if not f.signature:
        missing.append(DMCA["i"])
    if not f.works_identified:
        missing.append(DMCA["ii"])
    if not f.urls:
        missing.append(DMCA["iii"])
    if not (f.name and f.email and f.address and f.phone):
        missing.append(DMCA["iv"])
    if not f.good_faith:
        missing.append(DMCA["v"])
    if not (f.accurate and f.authorized):
        missing.append(DMCA["vi"])
    reachable = f.email or f.phone or f.address
    # 512(c)(3)(B)(ii): with (ii), (iii) and (iv) in substance, the provider must ask for the rest.
    if not (f.works_identified and f.urls and reachable):
        outcome = Outcome.insufficient
    else:
        outcome = Outcome.incomplete if missing else Outcome.complete
    return Assessment(outcome, tuple(missing))


def _dsa(f: NoticeFacts) -> Assessment:
    missing = []
    if not f.explanation:
        missing.append(DSA["a"])
    if not f.urls:
        missing.append(DSA["b"])
    if not (f.name and f.email):
        missing.append(DSA["c"])
    if not f.accurate:
        missing.append(DSA["d"])
    if not (f.urls and f.email):
        outcome = Outcome.insufficient
    else:
        outcome = Outcome.incomplete if missing else Outcome.complete
    return Assessment(outcome, tuple(missing))


def _jp(f: NoticeFacts) -> Assessment:
    missing = []
    if not f.urls:
        missing.append(JP["location"])
    if not f.works_identified:
        missing.append(JP["right"])
    if not f.explanation:
        missing.append(JP["reason"])
    if not (f.name and (f.email or f.address)):
        missing.append(JP["requester"])
    if not f.accurate:
        missing.append(JP["declaration"])
    if not f.signature:
        missing.append(JP["signature"])
    if not (f.urls and (f.email or f.address)):
        outcome = Outcome.insufficient
    else:
        outcome = Outcome.incomplete if missing else Outcome.complete
    return Assessment(outcome, tuple(missing))


_ASSESSORS = {Regime.dmca: _dmca, Regime.dsa: _dsa, Regime.jp: _jp}


def assess(regime: Regime, facts: NoticeFacts) -> Assessment:
    """Return which elements ``regime`` requires that ``facts`` lack, and what follows from it."""
    return _ASSESSORS[regime](facts)
