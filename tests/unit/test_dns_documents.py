"""Parsers of what mail domains publish: Thunderbird autoconfig, Outlook autodiscover (POX), MTA-STS, and
the --resolver setting. Documents are written in the published formats (Mozilla ISPDB config-v1.1,
MS-OXDSCLI POX responses, RFC 8461 §3.2 policies); junk and hostile XML give a reason, never a traceback."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from mailcert.dns.autoconfig import parse_autoconfig
from mailcert.dns.autodiscover import autodiscover_request, parse_autodiscover
from mailcert.dns.mtasts import mx_allowed, parse_policy, parse_sts_record
from mailcert.dns.resolver import parse_resolver
from mailcert.errors import UsageError
from mailcert.model import Mode

ISPDB_STYLE = b"""<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>POP.example.com.</hostname>
      <port>110</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="exchange">
      <hostname>outlook.office365.com</hostname>
      <port>443</port>
      <socketType>SSL</socketType>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname>
      <port>587</port>
      <socketType>SSL</socketType>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>legacy.example.com</hostname>
      <port>25</port>
      <socketType>plain</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


def test_autoconfig_servers_with_placeholders_and_socket_types() -> None:
    servers, error = parse_autoconfig(ISPDB_STYLE, "example.com", "jo@example.com")
    assert error is None
    found = [(s.protocol, s.hostname, s.port, s.mode) for s in servers]
    assert found == [
        ("imap", "imap.example.com", 993, Mode.IMPLICIT),
        ("pop3", "pop.example.com", 110, Mode.STARTTLS),
        ("smtp", "smtp.example.com", 587, Mode.IMPLICIT),  # the classic mistake, kept as written
        ("smtp", "legacy.example.com", 25, None),  # plain: no TLS at all
    ]
    assert servers[2].wording == "socketType SSL"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<clientConfig><emailProvider><domain>&lol2;</domain></emailProvider></clientConfig>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><clientConfig>&x;</clientConfig>"""


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (BILLION_LAUGHS, "forbidden XML"),
        (EXTERNAL_ENTITY, "forbidden XML"),
        (b"<html><body>404 Not Found</body></html>", "not <clientConfig>"),
        (b"\x00\xff\xfe garbage", "not XML"),
        (b"", "not XML"),
    ],
)
def test_autoconfig_junk_and_hostile_xml_give_a_reason(document: bytes, reason: str) -> None:
    servers, error = parse_autoconfig(document, "example.com", "jo@example.com")
    assert servers == [] and error is not None and reason in error


POX_RESPONSE = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User><DisplayName>Jo</DisplayName></User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>IMAP</Type><Server>mail.example.com</Server><Port>993</Port>
        <DomainRequired>off</DomainRequired><SPA>off</SPA><SSL>on</SSL><AuthRequired>on</AuthRequired>
      </Protocol>
      <Protocol>
        <Type>POP3</Type><Server>mail.example.com</Server><Port>110</Port>
        <SSL>on</SSL><Encryption>TLS</Encryption>
      </Protocol>
      <Protocol>
        <Type>SMTP</Type><Server>mail.example.com</Server><Port>587</Port><SSL>on</SSL>
      </Protocol>
      <Protocol>
        <Type>SMTP</Type><Server>relay.example.com</Server><Port>25</Port><SSL>off</SSL>
      </Protocol>
      <Protocol>
        <Type>EXCH</Type><Server>ex.example.com</Server>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>
"""


def test_autodiscover_encryption_wins_over_ssl_and_ssl_on_alone_is_implicit() -> None:
    servers, error = parse_autodiscover(POX_RESPONSE)
    assert error is None
    assert [(s.protocol, s.hostname, s.port, s.mode, s.wording) for s in servers] == [
        ("imap", "mail.example.com", 993, Mode.IMPLICIT, "SSL on"),
        ("pop3", "mail.example.com", 110, Mode.STARTTLS, "Encryption TLS"),
        ("smtp", "mail.example.com", 587, Mode.IMPLICIT, "SSL on"),  # the onlime-style mismatch
        ("smtp", "relay.example.com", 25, None, "SSL off"),
    ]


def test_autodiscover_error_answer_is_reported() -> None:
    error_answer = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response><Error Time="10:00:00" Id="2477272013"><ErrorCode>600</ErrorCode>
  <Message>Invalid Request</Message><DebugData /></Error></Response></Autodiscover>"""
    servers, error = parse_autodiscover(error_answer)
    assert servers == [] and error is not None and "600" in error and "Invalid Request" in error


def test_autodiscover_request_is_the_pox_request_with_the_address_escaped() -> None:
    body = autodiscover_request("jo&co@example.com")
    root = ElementTree.fromstring(body)
    ns = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006}"
    assert root.tag == f"{ns}Autodiscover"
    assert root.findtext(f"{ns}Request/{ns}EMailAddress") == "jo&co@example.com"
    assert root.findtext(f"{ns}Request/{ns}AcceptableResponseSchema") == (
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
    )


RFC8461_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"


def test_mta_sts_policy_of_rfc_8461_and_its_wildcards() -> None:
    policy = parse_policy(RFC8461_POLICY)
    assert (policy.mode, policy.max_age, policy.problems) == ("enforce", 604800, ())
    assert mx_allowed(policy, "mail.example.com")
    assert mx_allowed(policy, "MX1.example.net.")
    assert not mx_allowed(policy, "example.net")  # a wildcard stands for exactly one label
    assert not mx_allowed(policy, "a.b.example.net")
    assert not mx_allowed(policy, "mail.example.org")


def test_mta_sts_policy_problems_are_listed() -> None:
    policy = parse_policy("version: STSv2\nmode: strict\nmax_age: 99999999999\n")
    joined = "; ".join(policy.problems)
    assert "STSv2" in joined and "strict" in joined and "max_age" in joined


@pytest.mark.parametrize(
    ("txts", "ident", "problem"),
    [
        (["v=STSv1; id=20160831085700Z;"], "20160831085700Z", None),
        (["v=spf1 -all", "v=STSv1;id=abc"], "abc", None),
        (["v=spf1 -all"], None, None),
        (["v=STSv1; id=20160831085700Z", "v=STSv1; id=2"], None, "2 v=STSv1"),
        (["v=STSv1; id=not-alnum!"], None, "not 1-32"),
    ],
)
def test_mta_sts_txt_record(txts: list[str], ident: str | None, problem: str | None) -> None:
    record, why = parse_sts_record(txts)
    assert (record.id if record else None) == ident
    assert (why is None) if problem is None else (why is not None and problem in why)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("127.0.0.53", "127.0.0.53:53"),
        ("10.213.0.1:5353", "10.213.0.1:5353"),
        ("[::1]:53", "[::1]:53"),
        ("::1", "[::1]:53"),
    ],
)
def test_resolver_setting(text: str, shown: str) -> None:
    assert str(parse_resolver(text)) == shown


@pytest.mark.parametrize("text", ["dns.example.com", "1.2.3.4:0", "1.2.3.4:x", "[::1", ""])
def test_bad_resolver_setting_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="ADDRESS"):
        parse_resolver(text)
