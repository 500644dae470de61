"""Connect the domains to one another and to the database's session events: the one place that
says what is wired to what. The API (``create_app``) and the command line call :func:`install`
before they touch the database; nothing registers itself on import.
"""

from __future__ import annotations

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.certificates import service as certificates
from staydown.config import Settings
from staydown.db import journal
from staydown.desk import names
from staydown.disclosure import service as disclosure
from staydown.due_process import service as due_process
from staydown.enforcement import service as enforcement
from staydown.fingerprints import service as fingerprints
from staydown.notices import commands as notice_commands
from staydown.notices import service as notices
from staydown.serial import service as serial


def install(settings: Settings | None = None) -> None:
    """Register the append-only logs and the cross-domain hooks; calling it again changes nothing.
    With ``settings``, the domains that read process settings in their hooks take them (the serial
    domain's public mail providers); the last settings given are those in force.

    - ``enforcement``: the enforcement log (numbered first), waking long-polling feed readers when
      it grows, and dropping withheld lifts when a unit of work rolls back;
    - ``audit``: the audit hash chain (numbered after the enforcement log);
    - ``due_process``: statements of reasons issued at commit, before the logs are numbered, and
      the notifier-misuse gate at notice intake;
    - ``notices``: notice items as holders that keep a dismissed stay-down match's copy blocked;
    - the one command runner (``enforcement.runner``): how each workflow's commands are carried out;
    - ``certificates``: a zone's certificate follows the zone (ordered when it goes live, taken
      back from the edges when it is suspended or terminated, served again on reinstatement);
    - ``accounts``: the serial domain's comparison of a customer with suspended and terminated
      ones (at sign-up, verification and zone creation), and the open link that keeps a zone pending;
    - ``disclosure``: packages name who decided an order as the desk names people;
    - ``db.journal``: the session listeners that run all of the above at commit.
    """
    enforcement.install()
    for handlers in (
        notice_commands.command_handlers(),
        fingerprints.command_handlers(),
        disclosure.command_handlers(),
    ):
        enforcement.register_commands(handlers)
    audit.install()
    due_process.install()
    notices.install()
    accounts.on_zone_change(certificates.zone_changed)
    accounts.add_account_check(serial.check_links)
    accounts.add_activation_gate(serial.link_blockers)
    disclosure.name_actors_with(names.describe)
    if settings is not None:
        serial.configure(settings)
    journal.install()
