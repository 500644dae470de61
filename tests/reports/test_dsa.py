"""The DSA Transparency Database submission rules: valid statements pass, each broken rule is named."""

from __future__ import annotations

from typing import Any

import pytest

from staydown.reports.dsa import validate_statement


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "puid": "staydown-item-1234_a",
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "Copyright infringement (Directive 2001/29/EC, Art. 3)",
        "illegal_content_explanation": "The image reproduces a page of the notifier's manga without licence.",
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "content_date": "2026-10-30",
        "application_date": "2026-11-02",
        "decision_facts": "Access disabled after a notice under Art. 16 naming the URL.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "territorial_scope": ["DE", "FR", "NO"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def rules(broken: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in validate_statement(broken)}


def test_valid_statements_pass() -> None:
    assert validate_statement(statement()) == []
    account = statement(
        decision_visibility=...,
        decision_account="DECISION_ACCOUNT_SUSPENDED",
        decision_provision="DECISION_PROVISION_TOTAL_SUSPENSION",
        account_type="ACCOUNT_TYPE_BUSINESS",
        source_type="SOURCE_VOLUNTARY",
        automated_detection="Yes",
        automated_decision="AUTOMATED_DECISION_FULLY",
        end_date_service_restriction="2027-01-01",
    )
    assert validate_statement(account) == []
    terms = statement(
        decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT",
        illegal_content_legal_ground=...,
        illegal_content_explanation=...,
        incompatible_content_ground="Terms of service, section 4",
        incompatible_content_explanation="Repeated infringement",
        incompatible_content_illegal="Yes",
        content_type=["CONTENT_TYPE_OTHER"],
        content_type_other="A whole website",
    )
    assert validate_statement(terms) == []


@pytest.mark.parametrize(
    ("overrides", "violation"),
    [
        ({"puid": ...}, ("puid", "required")),
        ({"puid": "item/12"}, ("puid", "regex")),
        ({"puid": "a" * 501}, ("puid", "max")),
        ({"decision_visibility": ...}, ("decision_visibility", "required_without_all")),
        ({"decision_visibility": ["CONTENT_REMOVED"]}, ("decision_visibility", "in")),
        ({"decision_visibility": "DECISION_VISIBILITY_CONTENT_DISABLED"}, ("decision_visibility", "array")),
        (
            {"decision_visibility": ["DECISION_VISIBILITY_OTHER"]},
            ("decision_visibility_other", "required_if"),
        ),
        ({"decision_account": "DECISION_ACCOUNT_BANNED"}, ("decision_account", "in")),
        ({"decision_ground": ...}, ("decision_ground", "required")),
        ({"decision_ground": "ILLEGAL"}, ("decision_ground", "in")),
        ({"illegal_content_legal_ground": ...}, ("illegal_content_legal_ground", "required_if")),
        ({"illegal_content_explanation": "x" * 2001}, ("illegal_content_explanation", "max")),
        (
            {"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT"},
            ("incompatible_content_ground", "required_if"),
        ),
        ({"category": ...}, ("category", "required")),
        ({"category": "STATEMENT_CATEGORY_COPYRIGHT"}, ("category", "in")),
        ({"content_type": ...}, ("content_type", "required")),
        ({"content_type": ["CONTENT_TYPE_OTHER"]}, ("content_type_other", "required_if")),
        ({"content_type": ["CONTENT_TYPE_HTML"]}, ("content_type", "in")),
        ({"content_date": ...}, ("content_date", "required")),
        ({"content_date": "30/10/2026"}, ("content_date", "date_format")),
        ({"application_date": "2026-02-30"}, ("application_date", "date_format")),
        ({"application_date": "2019-12-31"}, ("application_date", "date_range")),
        (
            {"end_date_visibility_restriction": "2040-01-01"},
            ("end_date_visibility_restriction", "date_range"),
        ),
        ({"decision_facts": ""}, ("decision_facts", "required")),
        ({"decision_facts": "x" * 5001}, ("decision_facts", "max")),
        ({"source_type": "SOURCE_NOTICE"}, ("source_type", "in")),
        ({"automated_detection": "yes"}, ("automated_detection", "in")),
        ({"automated_decision": "No"}, ("automated_decision", "in")),
        ({"automated_decision": ...}, ("automated_decision", "required")),
        ({"territorial_scope": ["DE", "US"]}, ("territorial_scope", "in")),
        ({"source_identity": "n" * 501}, ("source_identity", "max")),
    ],
)
def test_each_broken_rule_is_named(overrides: dict[str, Any], violation: tuple[str, str]) -> None:
    assert violation in rules(statement(**overrides))


def test_every_violation_is_reported_at_once() -> None:
    found = rules({"puid": "bad id", "category": "nope"})
    assert {
        ("puid", "regex"),
        ("category", "in"),
        ("decision_ground", "required"),
        ("content_type", "required"),
        ("application_date", "required"),
        ("source_type", "required"),
    } <= found
