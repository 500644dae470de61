"""Every code a desk page shows has a label in each language (no raw ``us_512h_subpoena``)."""

from __future__ import annotations

import enum

import pytest

from staydown import types
from staydown.accounts import flows as account_flows
from staydown.accounts import models as accounts
from staydown.certificates import flows as certificate_flows
from staydown.certificates import models as certificates
from staydown.desk import labels
from staydown.disclosure import flows as disclosure
from staydown.due_process import awards, statements
from staydown.due_process import flows as due_process
from staydown.enforcement import models as enforcement
from staydown.enforcement import registry
from staydown.fingerprints import flows as fingerprint_flows
from staydown.fingerprints import models as fingerprints
from staydown.hosts import models as hosts
from staydown.inbound import models as inbound
from staydown.inbound.parsers import base as parsers
from staydown.notices import flows as notices
from staydown.policy import models as policy
from staydown.serial import flows as serial_flows
from staydown.serial import models as serial

MODULES = (
    types, accounts, account_flows, certificates, certificate_flows, disclosure, awards, statements,
    due_process, enforcement, registry, fingerprints, fingerprint_flows, hosts, inbound, parsers,
    notices, policy, serial, serial_flows,
)  # fmt: skip


def _codes() -> set[str]:
    found = set()
    for module in MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, enum.StrEnum)
                and value.__module__ == module.__name__
            ):
                found |= {member.value for member in value}
    return found


def test_every_code_has_a_label() -> None:
    # A regime is named by its own class (notices/regimes), every other code by the desk's table.
    assert _codes() - labels.LABELS.keys() - {regime.value for regime in types.Regime} == set()


@pytest.mark.parametrize(
    ("code", "english", "japanese"),
    [
        ("us_512h_subpoena", "us 512h subpoena", "米国著作権法512条(h)の召喚状"),
        ("pending_review", "pending review", "審査待ち"),
        ("counter_noticed", "counter noticed", "反対通知あり"),
        ("agent", "agent", "担当者"),
        ("dmca", "DMCA", "DMCA"),
    ],
)
def test_labels_read_in_each_language(code: str, english: str, japanese: str) -> None:
    assert labels.label(code, "en") == english
    assert labels.label(code, "ja") == japanese
    assert labels.label(types.Role.agent, "ja") == "担当者"


def test_an_unlabelled_code_reads_as_words() -> None:
    assert labels.label("some_new_code", "ja") == "some new code"
