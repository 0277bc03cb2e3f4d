"""Hostname coverage per RFC 6125/7817 as mail clients apply it (expected values from the RFC text)."""

import pytest

from mailcert.pki.names import covers, name_matches


@pytest.mark.parametrize(
    ("pattern", "hostname", "expected"),
    [
        ("mail.example.com", "mail.example.com", True),
        ("MAIL.Example.COM", "mail.example.com.", True),  # case and the root dot do not matter
        ("*.example.com", "mail.example.com", True),
        ("*.example.com", "example.com", False),  # the wildcard needs a label
        ("*.example.com", "a.mail.example.com", False),  # one label only (Dovecot ssl.md, RFC 6125)
        ("*.com", "example.com", False),  # no wildcard on a public suffix-like single label
        ("mail.*.com", "mail.example.com", False),  # only the left-most label may be a wildcard
        ("m*.example.com", "mail.example.com", False),  # partial-label wildcards are not honoured
        ("mail.example.com", "imap.example.com", False),
        ("bücher.example", "xn--bcher-kva.example", True),  # IDN: U-label and A-label are the same name
    ],
)
def test_name_matches(pattern: str, hostname: str, expected: bool) -> None:
    assert name_matches(pattern, hostname) is expected


def test_ip_hostnames_need_an_ip_san_not_a_dns_one() -> None:
    assert covers(["192.0.2.10"], ["192.0.2.10"], "192.0.2.10") is True
    assert covers(["192.0.2.10"], [], "192.0.2.10") is False


def test_cname_target_does_not_count() -> None:
    # Users configured mail.customer.com (a CNAME to server7.host.net): only the dialled name counts.
    assert covers(["server7.host.net"], [], "mail.customer.com") is False
