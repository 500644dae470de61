"""The legal regimes notices are made under, one class per regime (one module each).

Adding a regime is adding its module here and its value to ``types.Regime``; every rule that
differs between regimes (elements, assessment, grounds, Lumen type, personal data shared, counter-
notices, misuse sanctions, sender inquiry, redress) is read from the regime's class.
"""

from __future__ import annotations

from staydown.notices.regimes.base import RegimeRules
from staydown.notices.regimes.dmca import Dmca
from staydown.notices.regimes.dsa import Dsa
from staydown.notices.regimes.jp import Jp
from staydown.types import Regime

RULES: dict[Regime, RegimeRules] = {rules.regime: rules for rules in (Dmca(), Dsa(), Jp())}
DEFAULT_REGIME = Regime.dmca  # the one a notice form starts with


def rules_of(regime: Regime | str) -> RegimeRules:
    """The rules of ``regime``."""
    return RULES[Regime(regime)]
