"""Every string of the source is in each catalog, and translated in Japanese; nothing stale is kept."""

from __future__ import annotations

import io

import pytest
from babel.messages.pofile import read_po

from staydown.i18n import catalogs


@pytest.mark.parametrize("domain", catalogs.domains())
def test_catalogs_match_the_source(domain: str) -> None:
    findings = [str(finding) for finding in catalogs.check(domain)]
    assert not findings, (
        "catalogs out of step with the source; run `python -m staydown.i18n.catalogs update` and "
        "translate (docs/i18n.md):\n" + "\n".join(findings[:50])
    )


def test_desk_domain_has_strings() -> None:
    assert len(catalogs.extract("desk")) > 100


def test_check_finds_what_is_missing_untranslated_fuzzy_and_obsolete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = catalogs.extract("desk")
    present = [m.id for m in source if m.id]
    po = (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        f'msgid "{present[0]}"\nmsgstr ""\n\n'
        f'#, fuzzy\nmsgid "{present[1]}"\nmsgstr "何か"\n\n'
        'msgid "No longer in the source"\nmsgstr "古い"\n'
    )

    def load(locale: str, domain: str):  # type: ignore[no-untyped-def]
        return read_po(io.BytesIO(po.encode()), locale=locale, domain=domain)

    monkeypatch.setattr(catalogs, "load", load)
    kinds = {(f.kind, f.msgid) for f in catalogs.check("desk", locales=("ja",))}
    assert ("untranslated", present[0]) in kinds
    assert ("fuzzy", present[1]) in kinds
    assert ("obsolete", "No longer in the source") in kinds
    assert ("missing", present[2]) in kinds
