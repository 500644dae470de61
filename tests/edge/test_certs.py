"""The certificate store's choices, without sockets: which name gets which zone's certificate, and
what becomes of records that cannot be served. Also the state's certificate and challenge records,
through snapshots and the local store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from staydown import certseal
from staydown.edge import core
from staydown.edge.certs import CertStore, name_covered, normalise_name
from staydown.edge.core import Outcome
from staydown.edge.state import EnforcementState, LocalStore, SnapshotLoader, snapshot_lines
from tests.edge.pki import LocalCA

SECRET = certseal.new_secret()


def records(ca: LocalCA) -> list[dict[str, Any]]:
    chain, key = ca.issue("a.test", "*.a.test")
    other_chain, other_key = ca.issue("b.test")
    return [
        {"kind": "zone", "zone_id": 1, "customer_id": 1, "hostnames": ["a.test", "www.a.test", "x.y.a.test"],
         "origin": "http://192.0.2.1", "status": "active", "https_redirect": True, "hsts_max_age": 60},
        {"kind": "zone", "zone_id": 2, "customer_id": 2, "hostnames": ["b.test"], "origin": "http://192.0.2.2",
         "status": "active"},
        {"kind": "cert_set", "cert_id": 10, "zone_id": 1, "hostnames": ["a.test", "*.a.test"],
         "chain_pem": chain, "key_sealed": certseal.seal(key, secret=SECRET, zone_id=1, cert_id=10),
         "not_after": "2099-01-01"},
        # Sealed for another record: it must not open here.
        {"kind": "cert_set", "cert_id": 20, "zone_id": 2, "hostnames": ["b.test"], "chain_pem": other_chain,
         "key_sealed": certseal.seal(other_key, secret=SECRET, zone_id=1, cert_id=20),
         "not_after": "2099-01-01"},
        {"kind": "challenge_set", "challenge_type": "http-01", "hostname": "New.test", "token": "t1",
         "key_authorization": "t1.k"},
    ]  # fmt: skip


def built(ca: LocalCA) -> EnforcementState:
    state = EnforcementState()
    for seq, record in enumerate(records(ca), start=1):
        state.apply({"seq": seq, **record})
    return state


def test_names_and_wildcards() -> None:
    assert name_covered(["a.test", "*.a.test"], "www.a.test")
    assert not name_covered(["*.a.test"], "x.y.a.test")  # one label only
    assert not name_covered(["*.a.test"], "a.test")
    assert normalise_name("WWW.A.Test.") == "www.a.test"
    for bad in (None, "", ".", "a b.test", "ä.test", "x" * 300):
        assert normalise_name(bad) is None


def test_each_name_gets_its_own_zones_certificate_or_none(tmp_path: Path) -> None:
    state = built(LocalCA(tmp_path))
    counted: list[str] = []
    store = CertStore(lambda: state, secret=SECRET, count=counted.append)
    context = store.context_for("www.a.test")
    assert context is not None and store.context_for("A.TEST.") is context  # built once
    assert store.context_for("x.y.a.test") is None  # the zone's name, but the certificate's? no
    assert store.context_for("b.test") is None and counted == ["tls_certificate_unusable"]
    assert store.context_for("unknown.test") is None and store.context_for(None) is None
    state.zones[1].status = "suspended"
    assert store.context_for("a.test") is None
    assert CertStore(lambda: state, secret=None).context_for("b.test") is None


def test_redirects_and_challenges_are_decided_in_order(tmp_path: Path) -> None:
    state = built(LocalCA(tmp_path))
    decide = core.decide
    assert decide(state, method="GET", host="a.test", target="/x").outcome is Outcome.redirect
    assert decide(state, method="GET", host="a.test", target="/x", scheme="https").outcome is Outcome.proxy
    assert decide(state, method="GET", host="b.test", target="/x").outcome is Outcome.proxy
    state.apply({"seq": 6, "kind": "block", "zone_id": 1, "target": "/x"})
    for scheme in ("http", "https"):  # the block first, whatever the scheme
        assert (
            decide(state, method="GET", host="a.test", target="/x", scheme=scheme).outcome is Outcome.blocked
        )
    challenge = decide(state, method="GET", host="new.test", target="/.well-known/acme-challenge/t1")
    assert challenge.outcome is Outcome.acme_challenge and challenge.detail == "t1.k"
    assert decide(state, method="POST", host="new.test", target="/.well-known/acme-challenge/t1").outcome is (
        Outcome.unknown_host
    )


def test_certificates_and_challenges_survive_snapshots_and_the_local_store(tmp_path: Path) -> None:
    state = built(LocalCA(tmp_path))
    loader = SnapshotLoader()
    for line in snapshot_lines(state):
        loader.feed(line)
    for copy in (
        loader.finish(),
        EnforcementState.from_document(json.loads(json.dumps(state.to_document()))),
    ):
        assert copy.certs == {zone: replace(cert, seq=0) for zone, cert in state.certs.items()}
        assert set(copy.http_challenges) == {("new.test", "t1")}
        assert copy.zones[1].https_redirect and copy.zones[1].hsts_max_age == 60
    store = LocalStore(tmp_path / "store")
    store.compact(state)
    store.append([{"seq": 6, "kind": "cert_remove", "cert_id": 10, "zone_id": 1},
                  {"seq": 7, "kind": "challenge_remove", "hostname": "new.test", "token": "t1"}])  # fmt: skip
    reloaded = store.load()
    assert set(reloaded.certs) == {2} and not reloaded.http_challenges


def test_a_snapshot_without_certificate_sections_still_loads(tmp_path: Path) -> None:
    lines = [
        b'{"snapshot":1,"seq":3,"bank_fields":[]}\n',
        b'{"end":3,"zones":0,"blocks":0,"bank":0,"exempt":0}\n',
    ]
    loader = SnapshotLoader()
    for line in lines:
        loader.feed(line)
    assert loader.finish().seq == 3
