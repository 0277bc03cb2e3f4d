"""Each fault is really there, seen from outside by a real client (Python ssl, openssl s_client),
before mailcert is involved. Host mx1 is used for planting; the `lab` fixture resets it after each test."""

from __future__ import annotations

import ssl

import pytest

from tests.lab.clients import (
    StartTLSRefusedError,
    greeting,
    s_client_chain_length,
    served_leaf,
    tls_connect,
    unverified,
    verify,
)
from tests.lab.fixture import Lab

pytestmark = pytest.mark.lab

HOST = "mx1"
ALL_PORTS = (25, 587, 465, 143, 993, 110, 995)


def _addr(lab: Lab) -> str:
    return lab.addresses[HOST]


def _name(lab: Lab, prefix: str) -> str:
    return f"{prefix}.{HOST}.mailcert.test"


def test_healthy_host_verifies_on_every_port_for_every_name(lab: Lab) -> None:
    bundle = str(lab.ca_bundle)
    for port in ALL_PORTS:
        for name in lab.host(HOST).hostnames:
            verdict = verify(_addr(lab), port, name, bundle)
            assert verdict.ok, (port, name, verdict.reason)
        assert s_client_chain_length(_addr(lab), port, _name(lab, "mail")) == 2, port


def test_leaf_only_postfix_sends_one_certificate_and_strict_clients_fail(lab: Lab) -> None:
    lab.plant(HOST, "leaf-only")
    for port in (25, 587, 465):
        assert s_client_chain_length(_addr(lab), port, _name(lab, "smtp")) == 1, port
        verdict = verify(_addr(lab), port, _name(lab, "smtp"), str(lab.ca_bundle))
        assert not verdict.ok and "local issuer" in verdict.reason, (port, verdict)
    # Dovecot still serves the full chain.
    assert s_client_chain_length(_addr(lab), 993, _name(lab, "imap")) == 2


def test_expired_certificate_is_served_on_every_port(lab: Lab) -> None:
    lab.plant(HOST, "expired")
    for port in ALL_PORTS:
        verdict = verify(_addr(lab), port, _name(lab, "mail"), str(lab.ca_bundle))
        assert not verdict.ok and "expired" in verdict.reason, (port, verdict)


def test_name_mismatch_covers_mail_but_not_imap_pop_smtp(lab: Lab) -> None:
    lab.plant(HOST, "name-mismatch")
    bundle = str(lab.ca_bundle)
    assert verify(_addr(lab), 993, _name(lab, "mail"), bundle).ok
    for port, prefix in ((993, "imap"), (995, "pop"), (465, "smtp"), (587, "smtp")):
        verdict = verify(_addr(lab), port, _name(lab, prefix), bundle)
        assert not verdict.ok and "mismatch" in verdict.reason.lower(), (port, verdict)


def test_key_mismatch_breaks_tls_on_postfix_and_dovecot(lab: Lab) -> None:
    lab.plant(HOST, "key-mismatch")
    with pytest.raises(StartTLSRefusedError, match=r"^454 4\.7\.0 TLS not available"):
        tls_connect(_addr(lab), 25, _name(lab, "smtp"), unverified())
    for port in (465, 993, 995):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            tls_connect(_addr(lab), port, _name(lab, "mail"), unverified()).close()


def test_self_signed_dovecot_certificate(lab: Lab) -> None:
    lab.plant(HOST, "self-signed")
    for port in (143, 993, 110, 995):
        verdict = verify(_addr(lab), port, _name(lab, "mail"), str(lab.ca_bundle))
        assert not verdict.ok and "self-signed" in verdict.reason, (port, verdict)
        leaf = served_leaf(_addr(lab), port, _name(lab, "mail"))
        assert leaf.issuer == leaf.subject
    assert verify(_addr(lab), 25, _name(lab, "mail"), str(lab.ca_bundle)).ok


def test_stale_dovecot_serves_the_certificate_replaced_on_disk(lab: Lab) -> None:
    before = served_leaf(_addr(lab), 993, _name(lab, "imap"))
    lab.plant(HOST, "stale")
    on_disk = lab.disk_leaf(HOST)
    assert on_disk.serial_number != before.serial_number
    # Dovecot's config process holds the certificate it read at start: stale until reloaded.
    for port in (143, 993, 110, 995):
        served = served_leaf(_addr(lab), port, _name(lab, "imap"))
        assert served.serial_number == before.serial_number, port
    # Postfix reads the files again in every new smtpd process, but an idle smtpd from an earlier
    # connection (max_idle 100 s) still holds the old one: port 25 serves one or the other, nothing else.
    served_25 = served_leaf(_addr(lab), 25, _name(lab, "mail")).serial_number
    assert served_25 in (before.serial_number, on_disk.serial_number)


def test_dovecot_ssl_cert_without_lt_fails_every_dovecot_handshake(lab: Lab) -> None:
    lab.plant(HOST, "dovecot-missing-lt")
    for port in (143, 993, 110, 995):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError, StartTLSRefusedError)):
            tls_connect(_addr(lab), port, _name(lab, "imap"), unverified()).close()
    log = lab.root(HOST).joinpath("var/log/dovecot.log").read_text()
    assert "There is no valid PEM certificate" in log
    assert verify(_addr(lab), 25, _name(lab, "smtp"), str(lab.ca_bundle)).ok


def test_wrong_mode_587_speaks_implicit_tls(lab: Lab) -> None:
    assert greeting(_addr(lab), 587).startswith(b"220 ")
    lab.plant(HOST, "wrong-mode-587")
    assert greeting(_addr(lab), 587) == b""  # waits for a ClientHello: no SMTP banner
    with tls_connect(_addr(lab), 587, _name(lab, "smtp"), unverified(), implicit=True) as tls:
        assert tls.version() is not None
    assert greeting(_addr(lab), 25).startswith(b"220 ")


def test_wrong_mode_465_speaks_plain_smtp(lab: Lab) -> None:
    assert greeting(_addr(lab), 465) == b""
    lab.plant(HOST, "wrong-mode-465")
    assert greeting(_addr(lab), 465).startswith(b"220 ")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_connect(_addr(lab), 465, _name(lab, "smtp"), unverified()).close()
    with tls_connect(_addr(lab), 465, _name(lab, "smtp"), unverified(), implicit=False) as tls:
        assert tls.version() is not None


def _certbot_renew(lab: Lab) -> None:
    done = lab.exec(
        HOST,
        "env", f"REQUESTS_CA_BUNDLE={lab.ca_bundle}",
        "certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew", "--non-interactive",
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_with_deploy_hook_a_real_renewal_reaches_the_daemons(lab: Lab) -> None:
    lab.changed(HOST)  # the renewal changes the host: reset it afterwards
    _certbot_renew(lab)  # real ACME: Pebble validates http-01 on the host's port 80
    on_disk = lab.disk_leaf(HOST)
    assert "Pebble" in on_disk.issuer.rfc4514_string()
    for port in (25, 993):
        assert served_leaf(_addr(lab), port, _name(lab, "mail")).serial_number == on_disk.serial_number


def test_no_deploy_hook_a_real_renewal_never_reaches_the_daemons(lab: Lab) -> None:
    lab.plant(HOST, "no-deploy-hook")  # (and a reload: Dovecot loads the certificate of the day)
    before = served_leaf(_addr(lab), 993, _name(lab, "imap"))
    _certbot_renew(lab)
    on_disk = lab.disk_leaf(HOST)
    assert on_disk.serial_number != before.serial_number
    # Dovecot keeps serving what it loaded at start (Postfix would reread the files per smtpd process).
    for port in (993, 995):
        assert served_leaf(_addr(lab), port, _name(lab, "mail")).serial_number == before.serial_number
