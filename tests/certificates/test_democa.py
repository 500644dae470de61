"""The demo CA: made once in the data directory (its key readable by its owner only), issuing the
demo zones' certificates, and not issuing again while they still serve."""

from __future__ import annotations

import stat
from datetime import timedelta

from cryptography import x509
from sqlalchemy import select

from staydown.certificates import democa
from staydown.certificates import service as certificates
from staydown.certificates.models import Certificate, CertificateStatus
from staydown.certificates.validation import check
from tests.conftest import Api
from tests.support import active_zone


def test_the_ca_is_made_once_and_its_certificates_check(api: Api) -> None:
    directory = api.settings.data_dir / "demo-ca"
    ca = democa.ensure(directory, now=api.clock())
    assert stat.S_IMODE((directory / "ca-key.pem").stat().st_mode) == 0o600
    assert democa.ensure(directory, now=api.clock()).cert == ca.cert
    chain_pem, key_pem = democa.issue(ca, ["manga.demo.test"], now=api.clock())
    checked = check(chain_pem, key_pem, hostnames=["manga.demo.test"], now=api.clock())
    x509.load_pem_x509_certificate(chain_pem).verify_directly_issued_by(ca.cert)
    assert checked.not_after - api.clock() > timedelta(days=300)


def test_demo_zones_are_served_demo_certificates_once(api: Api) -> None:
    zone = active_zone(api, "manga.demo.test")
    path = certificates.issue_demo(api.database, [zone["zone_id"]], settings=api.settings, now=api.clock())
    assert path == str(api.settings.data_dir / "demo-ca" / "ca.pem")
    again = certificates.issue_demo(api.database, [zone["zone_id"]], settings=api.settings, now=api.clock())
    assert again == path
    with api.database.reader() as session:
        (cert,) = session.scalars(select(Certificate)).all()
    assert (cert.source.value, cert.status) == ("demo", CertificateStatus.active)
    state = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert state["order"] is None  # the demo CA serves it: nothing is ordered from ACME
    # A new CA (its files removed) means new certificates: the old ones would not verify.
    (api.settings.data_dir / "demo-ca" / "ca.pem").unlink()
    certificates.issue_demo(api.database, [zone["zone_id"]], settings=api.settings, now=api.clock())
    with api.database.reader() as session:
        statuses = sorted(c.status.value for c in session.scalars(select(Certificate)))
    assert statuses == ["active", "replaced"]
