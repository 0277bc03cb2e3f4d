"""Whatever a name server or web server answers (junk records, binary documents, huge or hostile XML),
discovery and the dns checks give findings, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcert.checks.certs import CheckOptions
from mailcert.checks.dns import check_discovery
from mailcert.dns.discover import discover_domain
from mailcert.dns.resolver import DnsAnswer, Outcome
from mailcert.dns.web import WebFetch
from mailcert.pki.trust import TrustStore

OPTS = CheckOptions(now=datetime(2026, 6, 1, tzinfo=UTC), trust=TrustStore.of([]))
record_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["10 .", "0 0 0 .", "3 1 1 00", "65535 65535 65535 x.", '"v=STSv1; id="', "1.2.3.4", "::1"]
    ),
)
document = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"<clientConfig><emailProvider><incomingServer type='imap'><hostname>a</hostname><port>99999999"
            b"</port></incomingServer></emailProvider></clientConfig>",
            b"<Autodiscover><Response><Account><Protocol><Type>SMTP</Type><Server>.</Server><Port>0</Port>"
            b"</Protocol></Account></Response></Autodiscover>",
            b"version: STSv1\nmode: enforce\nmx:\nmax_age: -1\n",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><clientConfig>&a;</clientConfig>",
        ]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(record_text, max_size=4),
    outcome=st.sampled_from(list(Outcome)),
    body=document,
    status=st.sampled_from([200, 301, 404, 500]),
)
def test_any_answer_gives_findings_never_a_traceback(
    records: list[str], outcome: Outcome, body: bytes, status: int
) -> None:
    class JunkDns:
        label = "junk"

        def lookup(self, name: str, rdtype: str) -> DnsAnswer:
            return DnsAnswer(name, rdtype, outcome, tuple(records))

    def fetcher(host: str, path: str, address: str, **_: object) -> WebFetch:
        return WebFetch(host, path, address, (b"\x30\x03junk",), status, body, connected=True)

    discovery = discover_domain("example.test", JunkDns(), fetcher=fetcher)
    check_discovery(discovery, {}, OPTS)
