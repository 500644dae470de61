"""Statements of reasons for the DSA Transparency Database: the submission rules as a validator.

The rules are those the database applies to an API submission (field names as in LEGAL.md):
required fields, allowed values, conditional fields, lengths, date formats and the ``puid``
pattern. ``validate_statement`` returns every violation, each naming its field; an export is
valid only if no statement has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

DECISION_VISIBILITY = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_MONETARY = frozenset(
    {"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
)
DECISION_PROVISION = frozenset(
    {
        "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_PARTIAL_TERMINATION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    }
)
DECISION_ACCOUNT = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPE = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
DECISION_GROUND = frozenset({"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"})
CONTENT_TYPE = frozenset(
    {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    }
)
CATEGORY = frozenset(
    {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    }
)
SOURCE_TYPE = frozenset(
    {"SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY"}
)
AUTOMATED_DETECTION = frozenset({"Yes", "No"})
AUTOMATED_DECISION = frozenset(
    {"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"}
)
INCOMPATIBLE_CONTENT_ILLEGAL = frozenset({"Yes", "No"})
# The EU member states and the EEA countries a decision can apply in.
_EU = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU")
_EU2 = ("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
TERRITORIES = frozenset((*_EU, *_EU2, "IS", "LI", "NO"))
PUID = re.compile(r"[A-Za-z0-9_-]+")
END_DATES = (
    "end_date_account_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_visibility_restriction",
)
MAX_LENGTHS = {
    "decision_visibility_other": 500,
    "decision_monetary_other": 500,
    "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2000,
    "content_type_other": 500,
    "decision_facts": 5000,
    "source_identity": 500,
    "puid": 500,
    "decision_ground_reference_url": 500,
}
ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    rule: str
    message: str


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list) and len(value) == 0)


def _date(statement: dict[str, Any], name: str, low: date, out: list[Violation], *, required: bool) -> None:
    value = statement.get(name)
    if _empty(value):
        if required:
            out.append(Violation(name, "required", f"{name} is required"))
        return
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        out.append(Violation(name, "date_format", f"{name} must be a date as YYYY-MM-DD"))
        return
    try:
        day = date.fromisoformat(value)
    except ValueError:
        out.append(Violation(name, "date_format", f"{name} {value!r} is not a calendar date"))
        return
    if not low <= day <= date(2038, 1, 1):
        out.append(Violation(name, "date_range", f"{name} must lie between {low} and 2038-01-01"))


def _one_of(statement: dict[str, Any], name: str, allowed: frozenset[str], out: list[Violation]) -> None:
    value = statement.get(name)
    if not _empty(value) and value not in allowed:
        out.append(Violation(name, "in", f"{name} {value!r} is not one of the allowed values"))


def _list_of(statement: dict[str, Any], name: str, allowed: frozenset[str], out: list[Violation]) -> None:
    value = statement.get(name)
    if _empty(value):
        return
    if not isinstance(value, list):
        out.append(Violation(name, "array", f"{name} must be a list"))
        return
    wrong = [v for v in value if v not in allowed]
    if wrong:
        out.append(Violation(name, "in", f"{name} has values that are not allowed: {wrong[:5]}"))


def _required(statement: dict[str, Any], name: str, out: list[Violation]) -> bool:
    """Record a violation if ``name`` is empty; return whether it has a value."""
    if _empty(statement.get(name)):
        out.append(Violation(name, "required", f"{name} is required"))
        return False
    return True


def _required_if(
    statement: dict[str, Any], name: str, condition: bool, why: str, out: list[Violation]
) -> None:
    if condition and _empty(statement.get(name)):
        out.append(Violation(name, "required_if", f"{name} is required when {why}"))


def _decisions(statement: dict[str, Any], out: list[Violation]) -> None:
    names = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
    if all(_empty(statement.get(name)) for name in names):
        out.append(
            Violation(
                "decision_visibility", "required_without_all", "at least one decision_* field is required"
            )
        )
    _list_of(statement, "decision_visibility", DECISION_VISIBILITY, out)
    _one_of(statement, "decision_monetary", DECISION_MONETARY, out)
    _one_of(statement, "decision_provision", DECISION_PROVISION, out)
    _one_of(statement, "decision_account", DECISION_ACCOUNT, out)
    _one_of(statement, "account_type", ACCOUNT_TYPE, out)
    visibility = statement.get("decision_visibility")
    other = isinstance(visibility, list) and "DECISION_VISIBILITY_OTHER" in visibility
    _required_if(statement, "decision_visibility_other", other, "decision_visibility has OTHER", out)
    monetary_other = statement.get("decision_monetary") == "DECISION_MONETARY_OTHER"
    _required_if(statement, "decision_monetary_other", monetary_other, "decision_monetary is OTHER", out)


def _ground(statement: dict[str, Any], out: list[Violation]) -> None:
    if _required(statement, "decision_ground", out):
        _one_of(statement, "decision_ground", DECISION_GROUND, out)
    ground = statement.get("decision_ground")
    for name in ("illegal_content_legal_ground", "illegal_content_explanation"):
        _required_if(statement, name, ground == ILLEGAL, f"decision_ground is {ILLEGAL}", out)
    for name in ("incompatible_content_ground", "incompatible_content_explanation"):
        _required_if(statement, name, ground == INCOMPATIBLE, f"decision_ground is {INCOMPATIBLE}", out)
    if ground == INCOMPATIBLE:
        _one_of(statement, "incompatible_content_illegal", INCOMPATIBLE_CONTENT_ILLEGAL, out)


def _content(statement: dict[str, Any], out: list[Violation]) -> None:
    if _required(statement, "content_type", out):
        _list_of(statement, "content_type", CONTENT_TYPE, out)
    content_type = statement.get("content_type")
    other = isinstance(content_type, list) and "CONTENT_TYPE_OTHER" in content_type
    _required_if(statement, "content_type_other", other, "content_type has OTHER", out)
    if _required(statement, "category", out):
        _one_of(statement, "category", CATEGORY, out)
    _list_of(statement, "category_addition", CATEGORY, out)
    _list_of(statement, "territorial_scope", TERRITORIES, out)
    _date(statement, "content_date", date(2000, 1, 1), out, required=True)
    _date(statement, "application_date", date(2020, 1, 1), out, required=True)
    for name in END_DATES:
        _date(statement, name, date.min, out, required=False)


def _source(statement: dict[str, Any], out: list[Violation]) -> None:
    _required(statement, "decision_facts", out)
    checks = (
        ("source_type", SOURCE_TYPE),
        ("automated_detection", AUTOMATED_DETECTION),
        ("automated_decision", AUTOMATED_DECISION),
    )
    for name, allowed in checks:
        if _required(statement, name, out):
            _one_of(statement, name, allowed, out)
    puid = statement.get("puid")
    if _required(statement, "puid", out) and (not isinstance(puid, str) or not PUID.fullmatch(puid)):
        out.append(Violation("puid", "regex", "puid may hold only letters, digits, '-' and '_'"))


def validate_statement(statement: dict[str, Any]) -> list[Violation]:
    """Every way ``statement`` breaks the Transparency Database's submission rules (empty: valid)."""
    out: list[Violation] = []
    _decisions(statement, out)
    _ground(statement, out)
    _content(statement, out)
    _source(statement, out)
    for name, limit in MAX_LENGTHS.items():
        value = statement.get(name)
        if isinstance(value, str) and len(value) > limit:
            out.append(Violation(name, "max", f"{name} is {len(value)} characters; at most {limit}"))
    return out
