"""The message catalogs against the source: what is extracted, what is missing, keeping them in step.

Each domain has a Babel mapping file, ``staydown/locale/<domain>.cfg``, naming the source files
whose strings it holds (Python ``_()``/``gettext()`` calls, Jinja2 ``{% trans %}`` blocks and
``_()`` calls). ``python -m staydown.i18n.catalogs update`` brings every ``.po`` file in step with
the source: new strings are added untranslated, strings no longer in the source are dropped,
translations kept. ``check`` lists what a test fails on. See docs/i18n.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from staydown.i18n import CATALOGS, LOCALES, catalog_path

# The repository's root: mapping files name source paths relative to it.
ROOT = CATALOGS.parent.parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def domains() -> list[str]:
    """The domains that have a mapping file."""
    return sorted(path.stem for path in CATALOGS.glob("*.cfg"))


def extract(domain: str) -> Catalog:
    """The strings of ``domain``'s source files, as a template catalog (with their places)."""
    mapping = CATALOGS / f"{domain}.cfg"
    with mapping.open(encoding="utf-8") as source:
        method_map, options_map = parse_mapping_cfg(source, filename=str(mapping))  # type: ignore[no-untyped-call]
    template = Catalog(domain=domain, project="staydown", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def load(locale: str, domain: str) -> Catalog:
    path = catalog_path(locale, domain)
    if not path.exists():
        return Catalog(
            locale=locale,
            domain=domain,
            project="staydown",
            version="0.1",
            copyright_holder="the staydown authors",
            charset="utf-8",
            fuzzy=False,
        )
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=domain)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a catalog: ``kind`` is missing, untranslated, fuzzy or obsolete."""

    locale: str
    domain: str
    kind: str
    msgid: str

    def __str__(self) -> str:
        return f"{self.locale}/{self.domain}.po: {self.kind}: {self.msgid!r}"


def _key(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def check(domain: str, locales: tuple[str, ...] = LOCALES) -> Iterator[Finding]:
    """What is wrong with ``domain``'s catalogs: source strings not in a catalog, Japanese strings
    untranslated or fuzzy, and catalog entries no longer in the source. English may leave a
    ``msgstr`` empty (the ``msgid`` is the English text)."""
    template = extract(domain)
    wanted = {(_key(m.id), m.context) for m in template if m.id}
    for locale in locales:
        catalog = load(locale, domain)
        have = {(_key(m.id), m.context): m for m in catalog if m.id}
        for key in sorted(wanted - have.keys(), key=str):
            yield Finding(locale, domain, "missing", key[0])
        for key in sorted(have.keys() - wanted, key=str):
            yield Finding(locale, domain, "obsolete", key[0])
        for stale in catalog.obsolete.values():
            yield Finding(locale, domain, "obsolete", _key(stale.id))
        if locale == "en":
            continue
        for key, message in sorted(have.items(), key=lambda item: str(item[0])):
            if key not in wanted:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if not all(strings):
                yield Finding(locale, domain, "untranslated", key[0])
            elif message.fuzzy:
                yield Finding(locale, domain, "fuzzy", key[0])


def update(domain: str) -> list[Path]:
    """Bring every locale's ``.po`` of ``domain`` in step with the source; the files written."""
    template = extract(domain)
    written = []
    for locale in LOCALES:
        catalog = load(locale, domain)
        created = catalog.creation_date  # kept, so an update changes only the messages
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.creation_date = created
        catalog.obsolete.clear()
        path = catalog_path(locale, domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as target:
            write_po(target, catalog, width=100, omit_header=False, sort_output=False, ignore_obsolete=True)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    command, *chosen = argv or ["check"]
    chosen = chosen or domains()
    if command == "update":
        for domain in chosen:
            for path in update(domain):
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if command == "check":
        findings = [finding for domain in chosen for finding in check(domain)]
        for finding in findings:
            print(finding)
        return 1 if findings else 0
    print("usage: python -m staydown.i18n.catalogs [update|check] [DOMAIN...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
