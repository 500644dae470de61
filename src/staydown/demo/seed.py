"""Seed the demo: origins with a manga site and a photo gallery, two verified customers with live
zones (domain control proven over real HTTP against the demo origin) served with certificates of
the data directory's demo CA, and a key for every role.

Running it again on the same data directory reuses the customers, the zones and the keys (kept,
mode 0600, in ``demo-keys.json`` beside ``demo.json``, so they can be printed again); a key that was
revoked meanwhile is replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.models import Zone, ZoneStatus
from staydown.accounts.schemas import CustomerCreate, EvidenceCreate, ZoneCreate
from staydown.certificates import service as certificates
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.demo.origin import RunningOrigin, run_origin_in_thread
from staydown.demo.site import generate_photo_site, generate_site
from staydown.netguard import OriginAccess, OriginGuard
from staydown.types import Role, VerificationLevel, system_clock

ACTOR = "demo"
FIRST_CUSTOMER_ZONE = "manga.demo.test"  # its customer's key is demo.json's "customer" key

DEMO_ZONES: dict[str, dict[str, Any]] = {
    "manga.demo.test": {
        "customer": CustomerCreate(
            name="Manga Demo KK",
            email="owner@manga-demo.example",
            address="1-2-3 Chiyoda, Tokyo 100-0001, Japan",
            phone="+81 3 0000 0000",
            organization="Manga Demo KK",
            payment_reference="demo-card-4242",
        ),
        "host_contact": "abuse@origin-host.example",
    },
    "photos.demo.test": {
        "customer": CustomerCreate(
            name="Photo Demo LLC",
            email="owner@photos-demo.example",
            address="100 Market St, San Francisco, CA 94105, USA",
            phone="+1 415 555 0100",
            organization="Photo Demo LLC",
            payment_reference="demo-card-1881",
        ),
        "host_contact": None,
    },
}


def _origin_sites(root: Path) -> dict[str, tuple[Path, list[str]]]:
    manga_root, photos_root = root / "manga", root / "photos"
    return {
        "manga.demo.test": (manga_root, generate_site(manga_root, seed=7, title="Demo Manga")),
        "photos.demo.test": (photos_root, generate_photo_site(photos_root, seed=11, count=8)),
    }


def _ensure_zone(
    database: Database,
    settings: Settings,
    guard: OriginGuard,
    hostname: str,
    origin_url: str,
    root: Path,
    spec: dict[str, Any],
) -> tuple[int, int]:
    now = system_clock()
    with database.transaction() as session:
        zone = session.scalar(
            select(Zone).where(Zone.hostname == hostname, Zone.status != ZoneStatus.terminated)
        )
        if zone is None:
            customer = accounts.create_customer(
                session, spec["customer"], now=now, signup_ip="127.0.0.1", actor=ACTOR
            )
            accounts.submit_evidence(
                session,
                customer,
                EvidenceCreate(
                    kind="company_registry", reference="demo registry entry", details={"demo": True}
                ),
                now=now,
                key_id=None,
                actor=ACTOR,
            )
            accounts.decide_verification(
                session,
                customer,
                level=VerificationLevel.business,
                reason="demo customer: registry entry checked",
                now=now,
                key_id=None,
                actor=ACTOR,
                min_level=settings.min_verification_level,
            )
            zone = accounts.create_zone(
                session,
                ZoneCreate(
                    customer_id=customer.id,
                    hostname=hostname,
                    origin=origin_url,
                    host_contact=spec["host_contact"],
                ),
                now=now,
                actor=ACTOR,
                guard=guard,
            )
        elif zone.origin != origin_url:
            accounts.update_origin(session, zone, origin_url, now=now, actor=ACTOR, guard=guard)
        zone_id, token = zone.id, zone.challenge_token
    challenge = root / ".well-known" / "staydown-challenge" / token
    challenge.parent.mkdir(parents=True, exist_ok=True)
    challenge.write_text(token, encoding="utf-8")
    with database.reader() as session:
        zone = accounts.get_zone(session, zone_id)
        assert zone is not None
        result = accounts.check_domain_control(
            zone, method="http", timeout=settings.dcv_timeout_seconds, nameservers=(), guard=guard
        )
    with database.transaction() as session:
        zone = accounts.get_zone(session, zone_id)
        assert zone is not None
        accounts.record_validation(
            session, zone, result, now=system_clock(), actor=ACTOR, min_level=settings.min_verification_level
        )
        if zone.status is not ZoneStatus.active:
            raise RuntimeError(f"demo zone {hostname} did not go live: {result.detail}")
        return zone.customer_id, zone.id


def seed_demo(
    database: Database,
    settings: Settings,
    *,
    api_url: str,
    edge_url: str | None,
    desk_url: str | None,
    guard: OriginGuard | None = None,
) -> tuple[dict[str, Any], list[RunningOrigin]]:
    """Start the demo origins and seed the demo; return the ``demo.json`` document and the origins.

    The demo origins listen on loopback: ``settings.origin_allow`` must hold them (``staydown up
    --demo`` allows 127.0.0.0/8), as an operator's private origins would need to be allowed."""
    guard = guard or OriginGuard(OriginAccess.from_settings(settings))
    sites = _origin_sites(settings.data_dir / "demo-origin")
    origins: list[RunningOrigin] = []
    zones: dict[str, Any] = {}
    try:
        for hostname, (root, assets) in sites.items():
            origin = run_origin_in_thread(root)
            origins.append(origin)
            customer_id, zone_id = _ensure_zone(
                database, settings, guard, hostname, origin.url, root, DEMO_ZONES[hostname]
            )
            zones[hostname] = {
                "customer_id": customer_id,
                "zone_id": zone_id,
                "assets": assets,
                "origin": origin.url,
            }
        owners = {hostname: zone["customer_id"] for hostname, zone in zones.items()}
        keys, customer_keys = _demo_keys(database, settings.data_dir / KEYS_FILE, owners=owners)
        for hostname, zone in zones.items():
            zone["customer_key"] = customer_keys[hostname]
        ca_cert = certificates.issue_demo(
            database, [zone["zone_id"] for zone in zones.values()], settings=settings, now=system_clock()
        )
    except BaseException:
        for origin in origins:
            origin.stop()
        raise
    document = {
        "api": api_url,
        "edge": edge_url,
        "desk": desk_url,
        "zones": zones,
        "keys": keys,
        "ca_cert": ca_cert,
    }
    return document, origins


KEYS_FILE = "demo-keys.json"


def _key_roles(owners: dict[str, int]) -> dict[str, tuple[Role, bool, int | None]]:
    """Every demo key by label: one per role, and one per demo customer (``customer:<hostname>``)."""
    roles: dict[str, tuple[Role, bool, int | None]] = {
        "admin": (Role.admin, False, None),
        "agent": (Role.agent, False, None),
        "legal": (Role.legal, False, None),
        "submitter": (Role.submitter, False, None),
        "trusted_flagger": (Role.submitter, True, None),
        "edge": (Role.edge, False, None),
    }
    for hostname, customer_id in owners.items():
        roles[f"customer:{hostname}"] = (Role.customer, False, customer_id)
    return roles


def _kept(session: Session, secret: object, role: Role, owner: int | None) -> str | None:
    """``secret`` if it is still a valid key of ``role`` (for ``owner``), else None."""
    if not isinstance(secret, str):
        return None
    key = accounts.authenticate(session, secret)
    return secret if key is not None and key.role is role and key.customer_id == owner else None


def _demo_keys(
    database: Database, path: Path, *, owners: dict[str, int]
) -> tuple[dict[str, str], dict[str, str]]:
    """The demo's keys by label, and each demo customer's key by zone hostname; the keys of an
    earlier run are reused while they still authenticate as what they were made for."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        stored = {}
    keys: dict[str, str] = {}
    now = system_clock()
    with database.transaction() as session:
        for label, (role, trusted, owner) in _key_roles(owners).items():
            kept = _kept(session, stored.get(label) if isinstance(stored, dict) else None, role, owner)
            if kept is not None:
                keys[label] = kept
                continue
            _key, keys[label] = accounts.create_key(
                session,
                role=role,
                now=now,
                name=f"demo {label}",
                trusted=trusted,
                customer_id=owner,
                actor=ACTOR,
            )
    path.touch(mode=0o600)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(keys, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    customer_keys = {hostname: keys[f"customer:{hostname}"] for hostname in owners}
    by_role = {label: secret for label, secret in keys.items() if not label.startswith("customer:")}
    by_role["customer"] = customer_keys[FIRST_CUSTOMER_ZONE]
    return by_role, customer_keys
