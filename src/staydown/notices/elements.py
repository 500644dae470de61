"""The legal elements each regime requires of a notice, and the assessment of a submission.

Pure: takes what was submitted, returns which elements are missing, named as the law names them,
and whether the notice can be acted on, must be completed, or cannot be considered at all. Each
regime declares its own in ``notices.regimes``; this module is the one door to them.
"""

from __future__ import annotations

from staydown.notices.regimes import RULES, rules_of
from staydown.notices.regimes.base import Assessment, Element, NoticeFacts, Outcome
from staydown.types import Regime

__all__ = ["ELEMENTS", "Assessment", "Element", "NoticeFacts", "Outcome", "assess"]

ELEMENTS: dict[Regime, dict[str, Element]] = {regime: rules.elements for regime, rules in RULES.items()}


def assess(regime: Regime, facts: NoticeFacts) -> Assessment:
    """Return which elements ``regime`` requires that ``facts`` lack, and what follows from it."""
    return rules_of(regime).assess(facts)
