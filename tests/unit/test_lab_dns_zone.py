"""The lab DNS publishes every name a lab host's mail clients use, so the CA's validation and fix's ACME
pre-flight (which looks names up through the lab resolver) agree about them."""

from __future__ import annotations

from mailcert.lab.dns import LabMailDomain, zone_for


def test_a_cpanel_hosts_account_names_point_at_its_mail_server() -> None:
    domain = LabMailDomain(
        "mx1.mailcert.test",
        "10.213.0.11",
        "10.213.0.1",
        b"spki",
        more_names=("beta.mx1.mailcert.test", "mail.beta.mx1.mailcert.test"),
    )
    hosts = dict(zone_for(domain).hosts)
    assert hosts["mail.beta.mx1.mailcert.test"] == "10.213.0.11"
    assert hosts["beta.mx1.mailcert.test"] == "10.213.0.11"
    assert hosts["imap.mx1.mailcert.test"] == "10.213.0.11"
    assert hosts["autoconfig.mx1.mailcert.test"] == "10.213.0.1"  # the web server, as before


def test_a_host_without_more_names_publishes_what_it_did() -> None:
    domain = LabMailDomain("mx2.mailcert.test", "10.213.0.12", "10.213.0.1", b"spki")
    names = [name for name, _ in zone_for(domain).hosts]
    assert names == [
        "mail.mx2.mailcert.test",
        "smtp.mx2.mailcert.test",
        "imap.mx2.mailcert.test",
        "pop.mx2.mailcert.test",
        "autoconfig.mx2.mailcert.test",
        "autodiscover.mx2.mailcert.test",
        "mta-sts.mx2.mailcert.test",
        "mx2.mailcert.test",
    ]
