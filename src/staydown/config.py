"""One typed settings object, read once at start-up from ``STAYDOWN_*`` environment variables.

A bad value fails loudly at start-up with the variable's name, never later in a request.
"""

from __future__ import annotations

import base64
import os
import re
import tomllib
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from staydown import certseal
from staydown.netpolicy import IPNetwork, parse_networks
from staydown.types import VerificationLevel

# The official languages of the Union in the order of the Commission's templates ("bg" to "sv").
EU_LANGUAGES = (
    "bg", "es", "cs", "da", "de", "et", "el", "en", "fr", "ga", "hr", "it",
    "lv", "lt", "hu", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "fi", "sv",
)  # fmt: skip


class SuspensionRule(BaseModel):
    """Suspend every zone of a customer at ``strikes`` active strikes within ``window_days``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strikes: int = Field(3, ge=1)
    window_days: int = Field(90, ge=1)


class TerminationRule(BaseModel):
    """Terminate a customer at ``strikes`` within ``window_days``; ``automatic=False`` waits for an agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strikes: int = Field(5, ge=1)
    window_days: int = Field(180, ge=1)
    automatic: bool = True


class RepeatInfringerPolicy(BaseModel):
    """Thresholds of the repeat-infringer policy (17 U.S.C. 512(i)); the published text is made from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    warning_strikes: int = Field(1, ge=1)
    suspension: SuspensionRule = SuspensionRule()
    termination: TerminationRule = TerminationRule()
    strike_lifetime_days: int = Field(365, ge=1)
    # A notice weighs one strike per ``urls_per_strike`` URLs actioned on the customer's zones
    # (rounded up), and at most ``max_strikes_per_notice``: a notice of 3,000 URLs counts more than
    # one of a single URL, and far less than 3,000 notices. The default cap stays below the default
    # suspension threshold, so no single notice suspends a customer on its own: §512(i) speaks of
    # *repeat* infringers, and a notice is one occasion on which the customer learned of the claim.
    urls_per_strike: int = Field(50, ge=1)
    max_strikes_per_notice: int = Field(2, ge=1)

    @classmethod
    def from_file(cls, path: Path) -> RepeatInfringerPolicy:
        """Load the ``[repeat_infringer]`` table of a TOML policy file."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read policy file {path}: {exc}") from exc
        table: dict[str, Any] = document.get("repeat_infringer", {})
        return cls.model_validate(table)


class Settings(BaseSettings):
    """Every setting of a staydown process. Environment: ``STAYDOWN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STAYDOWN_", extra="ignore", frozen=True)

    data_dir: Path = Path("staydown-data")
    database_url: str | None = None

    # Connections each process may open: ``pool_size`` kept open plus ``max_overflow`` for bursts.
    # Size every process's sum against PostgreSQL's max_connections (docs/deployment.md).
    database_pool_size: int = Field(10, ge=1)
    database_max_overflow: int = Field(10, ge=0)

    # Workers claim outbox messages, timers and captures for this long; a crashed worker's claims
    # come back to the others once it passes. Longer than a batch takes to send.
    worker_lease_seconds: float = Field(60.0, ge=1)
    worker_batch: int = Field(50, ge=1, le=10_000)

    provider_name: str = "staydown"
    # The DSA transparency report's human resources (reports/dsa_2835.py, Part 9), as the operator
    # states them: people moderating content employed, contracted, with sufficient knowledge of an
    # official language of the Union, and that count by language code ({"de": 2, "en": 3}). Unset
    # figures are left empty in the report, never guessed.
    dsa_moderators_internal: int | None = Field(None, ge=0)
    dsa_moderators_external: int | None = Field(None, ge=0)
    dsa_moderators_with_languages: int | None = Field(None, ge=0)
    dsa_moderator_languages: dict[str, int] = {}

    @field_validator("dsa_moderator_languages")
    @classmethod
    def _moderator_languages(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(EU_LANGUAGES))
        if unknown:
            raise ValueError(f"not official languages of the Union (ISO 639-1, lower case): {unknown}")
        if any(n < 0 for n in value.values()):
            raise ValueError("moderator counts by language cannot be negative")
        return value

    # The language of a reader who has no setting of their own and whose browser names none that
    # staydown speaks (see staydown.i18n.negotiate).
    default_locale: Literal["en", "ja"] = "en"
    legal_url: str | None = None
    # The agent designated to receive DMCA notices (17 U.S.C. 512(c)(2)), published at /legal as the
    # statute asks ("on its website in a location accessible to the public"), with the number of
    # its entry in the Copyright Office's directory of designated agents.
    dmca_agent_name: str | None = None
    dmca_agent_address: str | None = None
    dmca_agent_phone: str | None = None
    dmca_agent_email: str | None = None
    dmca_agent_registration: str | None = None
    min_verification_level: VerificationLevel = VerificationLevel.identity
    action_deadline_hours: float = Field(24.0, gt=0)
    # DSA Art. 22: notices of trusted flaggers are decided with priority, within this many hours.
    trusted_flagger_deadline_hours: float = Field(6.0, gt=0)

    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_notice_items: int = Field(100_000, ge=1)
    max_url_length: int = Field(8192, ge=256)

    feed_page_limit: int = Field(5000, ge=1)
    feed_max_wait_seconds: float = Field(30.0, ge=0)
    feed_poll_interval_seconds: float = Field(0.2, gt=0)
    # Fleet (enforcement/feed.py, relay.py, edge/nats.py): where the feed is re-read without a
    # cross-process wake-up (PostgreSQL LISTEN makes this a safety net), the NATS JetStream names, and
    # how far behind an edge may fall before the desk and the metrics raise an alert.
    feed_safety_poll_seconds: float = Field(10.0, gt=0)
    nats_stream: str = Field("STAYDOWN_FEED", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    nats_subject: str = Field("staydown.feed", pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    nats_heartbeat_subject: str = Field("staydown.edges", pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    edge_lag_alert_seconds: float = Field(60.0, gt=0)
    edge_heartbeat_seconds: float = Field(5.0, gt=0)
    edge_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")  # default: the host's name
    nats_retain_records: int = Field(1_000_000, ge=1)
    # A snapshot this many records past the stored checkpoint replaces it (enforcement/snapshot.py).
    feed_checkpoint_records: int = Field(10_000, ge=1)

    # TLS at the edge: the secret certificates' private keys are sealed with in the feed (base64 of
    # 32 bytes; the control plane and every edge hold the same one; without it a single box keeps one
    # in its data directory), and the ACME directory certificates are ordered from.
    cert_seal_key: str | None = Field(None, pattern=r"^[A-Za-z0-9+/]{43}=$")
    acme_directory: str | None = None
    # Ordering (certificates/acme.py): a CA bundle to trust the directory with (a test CA; else the
    # system's), the contact address of the account, which challenges to answer in order of
    # preference, how long to wait for the edges to apply a challenge, the lease of an order, and the
    # back-off of a failed order (doubling from ``base`` up to ``cap``). Certificates expiring within
    # ``cert_expiry_alert_days`` are alerts on the desk and in the metrics.
    acme_ca_bundle: Path | None = None
    acme_email: str | None = None
    acme_challenges: Annotated[list[str], NoDecode] = ["http-01", "tls-alpn-01"]
    acme_edge_wait_seconds: float = Field(60.0, gt=0)
    acme_order_lease_seconds: float = Field(600.0, ge=10)
    acme_retry_base_seconds: float = Field(60.0, gt=0)
    acme_retry_cap_seconds: float = Field(6 * 3600.0, gt=0)
    cert_expiry_alert_days: float = Field(14.0, gt=0)
    # OCSP stapling (certificates/ocsp.py): how long a responder may take, the back-off of a failed
    # fetch (doubling from ``base`` up to ``cap``), and how close to its nextUpdate a staple is an alert.
    ocsp_timeout_seconds: float = Field(10.0, gt=0)
    ocsp_retry_base_seconds: float = Field(60.0, gt=0)
    ocsp_retry_cap_seconds: float = Field(3600.0, gt=0)
    ocsp_alert_seconds: float = Field(86400.0, gt=0)

    @field_validator("acme_challenges", mode="before")
    @classmethod
    def _challenge_types(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            unknown = [v for v in value if v not in ("http-01", "tls-alpn-01")]
            if unknown or not value:
                raise ValueError(f"ACME challenges must be http-01 and/or tls-alpn-01, not {value!r}")
        return value

    policy_file: Path | None = None

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "abuse@staydown.invalid"
    abuse_desk_email: str = "abuse-desk@staydown.invalid"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    webhook_timeout_seconds: float = 5.0

    # Mail intake (inbound/): a message larger than this is refused (SMTP 552) and never stored;
    # nesting and parts are bounded; the name the SMTP receiver greets with. A sender's address bound
    # to a trusted key gets trusted treatment only when an Authentication-Results field added by the
    # server named here (your MTA's authserv-id) says DMARC or DKIM passed for the From domain.
    mail_max_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    mail_max_depth: int = Field(4, ge=1, le=20)
    mail_max_parts: int = Field(200, ge=1, le=10_000)
    # Archives attached (ZIP, gzip, bzip2, xz, tar) are opened within these bounds, over all the
    # archives of one message; beyond any, the message is refused with the bound named.
    mail_archive_max_members: int = Field(1000, ge=1, le=100_000)
    mail_archive_max_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    mail_archive_max_ratio: int = Field(100, ge=2)
    mail_hostname: str = "localhost"
    mail_trust_authserv_id: str | None = None
    mail_processing_attempts: int = Field(5, ge=1)
    webhook_secret: str | None = None

    edge_cache_bytes: int = Field(512 * 1024 * 1024, ge=1024 * 1024)
    edge_max_object_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    edge_rate_per_second: float = Field(0.0, ge=0)
    edge_rate_burst: float = Field(0.0, ge=0)
    edge_max_connections: int = Field(10_000, ge=1)
    edge_max_body_bytes: int = Field(100 * 1024 * 1024, ge=0)  # a request body's bound (413 beyond)
    # Requests served per zone and resource (edge/served.py): resources counted per zone and worker
    # (memory: twice this many targets per zone), and how often the counts are reported.
    edge_served_capacity: int = Field(4096, ge=16, le=1_000_000)
    edge_served_report_seconds: float = Field(60.0, gt=0, le=3600)
    # A worker whose event loop has not turned for this long is killed and replaced (edge.workers).
    # In service a worker's longest step on its loop (a feed page, a cyclic collection) is well
    # under a second; a stuck request burns at most this much CPU before it is dropped.
    edge_worker_stall_seconds: float = Field(5.0, gt=0)

    # Metrics listeners (the API's, the edge's admin one) bind here, never on a public port;
    # the API's port 0 picks a free one, printed at start-up.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(0, ge=0, le=65535)

    # Stay-down (fingerprints/): PDQ distances out of 256 bits, where the bank's entries reach, strikes.
    staydown_auto_block_distance: int = Field(31, ge=0, le=256)
    staydown_review_distance: int = Field(48, ge=0, le=256)
    staydown_notice_scope: Literal["zone", "customer", "network"] = "customer"
    staydown_match_strikes: Literal["never", "on_confirm", "automatic"] = "on_confirm"
    staydown_max_image_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    staydown_max_image_pixels: int = Field(40_000_000, ge=10_000)
    staydown_fetch_timeout_seconds: float = Field(10.0, gt=0)
    staydown_capture_attempts: int = Field(5, ge=1)
    # A bank entry matching more distinct URLs than this within the window is quarantined: no real
    # work's copies spread that fast, a logo or a blank page registered by mistake does.
    staydown_flood_urls: int = Field(50, ge=1)
    staydown_flood_window_seconds: int = Field(3600, ge=60)

    @field_validator("staydown_review_distance")
    @classmethod
    def _review_band(cls, value: int, info: ValidationInfo) -> int:
        auto = int(info.data.get("staydown_auto_block_distance", 0))
        if value < auto:
            raise ValueError(f"the review distance {value} is below the automatic-block distance {auto}")
        return value

    # Abuse desk (desk/): a desk left unattended signs itself out; a working day fits in one session.
    desk_session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    desk_session_max_hours: int = Field(12, ge=1, le=24 * 31)

    dcv_timeout_seconds: float = 5.0
    # Zone origins (see netpolicy.py): public addresses, plus these networks (an operator's private
    # origins). ``staydown up --demo`` adds 127.0.0.0/8 for its demo origins, and nothing else.
    origin_allow: Annotated[list[IPNetwork], NoDecode] = []
    # How long a resolved origin host name is trusted (at most its DNS TTL when the nameservers
    # are set); every new origin connection checks the addresses it is about to use.
    origin_resolve_cache_seconds: float = Field(30.0, ge=0, le=3600)

    @field_validator("origin_allow", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return list(parse_networks(value))
        return value

    dns_nameservers: Annotated[list[str], NoDecode] = []
    disposable_email_domains: Annotated[list[str], NoDecode] = []
    # Mail domains anyone can sign up at: a shared one links no two customers (serial/). Amends the
    # built-in list: ``name`` adds, ``-name`` removes, ``-*`` empties it first (docs/serial.md).
    public_mail_domains: Annotated[list[str], NoDecode] = []

    # Finding the host behind a zone's origin (hosts/): RDAP (RFC 9083) found by the RFC 9224
    # bootstrap files, or one RDAP service for every lookup (a registry mirror, a test server).
    rdap_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    rdap_timeout_seconds: float = Field(5.0, gt=0, le=60)
    rdap_max_bytes: int = Field(1_000_000, ge=1024, le=50_000_000)
    rdap_max_redirects: int = Field(3, ge=0, le=10)
    rdap_cache_seconds: float = Field(86_400.0, ge=60)  # when the registry names no max-age
    rdap_error_cache_seconds: float = Field(3_600.0, ge=0)
    # A host told of a notice that has not answered in this many days is reminded, this many times.
    host_reply_days: float = Field(5.0, gt=0)
    host_reminders: int = Field(2, ge=0, le=10)

    # Serial-infringer review (serial/): opened when a customer crosses either threshold within the
    # window; an agent decides it by the deadline. See docs/serial.md for why these defaults.
    serial_review_works: int = Field(10, ge=1)
    serial_review_rightsholders: int = Field(3, ge=1)
    serial_review_matches: int = Field(20, ge=1)
    serial_review_window_days: int = Field(30, ge=1)
    serial_review_deadline_days: float = Field(7.0, gt=0)

    @field_validator("dns_nameservers", "disposable_email_domains", "public_mail_domains", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_mail_domains")
    @classmethod
    def _mail_domains(cls, value: list[str]) -> list[str]:
        checked = []
        for entry in value:
            name = entry.strip().lower().rstrip(".")
            bare = name.removeprefix("-")
            if name != "-*" and not re.fullmatch(
                r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+", bare
            ):
                raise ValueError(
                    f"not a mail domain: {entry!r} (a domain name, -name to remove one, -* to empty the list)"
                )
            checked.append(name)
        return checked

    # Due process (see due_process/calendar.py): restoration after a counter-notice, complaints, misuse.
    restore_business_days: int = 10
    business_timezone_us: str = "America/New_York"
    federal_holidays: bool = True
    holidays_us: Annotated[list[date], NoDecode] = []
    complaint_window_months: int = Field(6, ge=6)
    misuse_threshold: int = Field(3, ge=1)
    misuse_window_days: int = Field(180, ge=1)
    misuse_min_share: float = Field(0.5, ge=0, le=1)
    misuse_suspension_days: float = Field(30.0, gt=0)
    # Retention of personal data, per data class (days; the worker erases what is older, except what
    # a legal hold keeps): complainants' contact details on decided notices, counter-notices'
    # contact details after they are resolved, letters in the outbox, and the identity record of a
    # terminated customer. Three years is the US limitation period for copyright claims.
    retention_notice_contact_days: int = Field(1095, ge=1)
    retention_counter_notice_days: int = Field(1095, ge=1)
    retention_outbox_days: int = Field(365, ge=1)
    retention_terminated_customer_days: int = Field(1095, ge=1)
    # A notifier's own erasure request (GDPR Art. 17) leaves its name and signed statements on a
    # notice for this long after the notice was decided, for legal claims (Art. 17(3)(e)): a claim of
    # misrepresentation under 17 U.S.C. 512(f) may be brought for three years (17 U.S.C. 507(b)).
    retention_notice_claims_days: int = Field(1095, ge=1)
    # An incomplete notice not completed within this many days is closed, and its notifier told.
    incomplete_notice_days: float = Field(14.0, gt=0)
    # Japan: days the sender has to object to removal after an inquiry (Information Distribution
    # Platform Act Art. 3(2)(ii): 7; election content: 2). The statute's figures are the minimum.
    jp_inquiry_days: int = Field(7, ge=7)
    jp_inquiry_election_days: int = Field(2, ge=2)

    @field_validator("restore_business_days")
    @classmethod
    def _restore_window(cls, value: int) -> int:
        if not 10 <= value <= 14:
            raise ValueError(
                "17 U.S.C. 512(g)(2)(C) restores material 10 to 14 business days after a counter-notice; "
                f"{value} is outside that window"
            )
        return value

    @field_validator("business_timezone_us")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @field_validator("holidays_us", mode="before")
    @classmethod
    def _split_dates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'staydown.db').resolve()}"

    def cert_seal_secret(self) -> bytes:
        """The certificate sealing secret: the setting, else the data directory's (made once)."""
        if self.cert_seal_key:
            return base64.b64decode(self.cert_seal_key)
        path = self.data_dir / "cert-seal.key"
        try:
            return base64.b64decode(path.read_text().strip(), validate=True)
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = certseal.new_secret()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secret).decode("ascii") + "\n")
        return secret

    @property
    def action_deadline(self) -> timedelta:
        return timedelta(hours=self.action_deadline_hours)

    @cached_property
    def policy(self) -> RepeatInfringerPolicy:
        if self.policy_file is None:
            return RepeatInfringerPolicy()
        return RepeatInfringerPolicy.from_file(self.policy_file)
