"""A resolver that asks one given server (`--resolver ADDR[:PORT]`, `mailcert_resolver`) or the system's.

Answers are presentation-format text (zone-file syntax) plus how the lookup ended, so the parsers in the
other modules work the same on live answers and on records recorded in tests. Nothing here raises for
what DNS does: SERVFAIL, NXDOMAIN, refusals and timeouts are outcomes.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from typing import Protocol

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from mailcert.errors import UsageError

DEFAULT_TIMEOUT = 3.0


class Outcome(enum.StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, but has no record of this type
    SERVFAIL = "servfail"  # the server could not answer (often a DNSSEC validation failure)
    TIMEOUT = "timeout"
    ERROR = "error"  # refused, malformed, no server reachable

    @property
    def failed(self) -> bool:
        """True when we do not know the answer (as opposed to knowing there is none)."""
        return self in (Outcome.SERVFAIL, Outcome.TIMEOUT, Outcome.ERROR)


@dataclass(frozen=True)
class DnsAnswer:
    """One lookup: records in zone-file text (`10 mx1.example.com.`), how it ended, and the AD flag."""

    name: str
    rdtype: str
    outcome: Outcome
    records: tuple[str, ...] = ()
    authenticated: bool = False  # the resolver set AD: it validated the answer with DNSSEC
    error: str | None = None

    def describe_failure(self) -> str:
        """'SERVFAIL for _25._tcp.mx.example.com TLSA (...)' for findings."""
        why = f" ({self.error})" if self.error else ""
        return f"{self.outcome.value.upper()} for {self.name} {self.rdtype}{why}"


class DnsLookup(Protocol):
    """What discovery needs from DNS; tests pass recorded answers through the same interface."""

    @property
    def label(self) -> str: ...

    def lookup(self, name: str, rdtype: str) -> DnsAnswer: ...


@dataclass(frozen=True)
class ResolverAddress:
    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def parse_resolver(text: str) -> ResolverAddress:
    """`127.0.0.53`, `10.0.0.1:5353`, `[::1]:53`, `::1` → ResolverAddress; anything else is a UsageError."""
    word = text.strip()
    port = "53"
    if word.startswith("["):
        host, closed, rest = word[1:].partition("]")
        if not closed:
            raise _bad_resolver(text)
        if rest:
            if not rest.startswith(":"):
                raise _bad_resolver(text)
            port = rest[1:]
    elif word.count(":") == 1:
        host, _, port = word.partition(":")
    else:
        host = word
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise _bad_resolver(text) from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad_resolver(text)
    return ResolverAddress(address, int(port))


def _bad_resolver(text: str) -> UsageError:
    return UsageError(
        f"resolver {text!r} is not ADDRESS[:PORT]",
        todo="give an IP address, e.g. --resolver 127.0.0.1:53 or mailcert_resolver: '[::1]:5353'",
    )


class Resolver:
    """dnspython, asking `server` (or the system's resolvers), DNSSEC OK bit set so AD can be reported."""

    def __init__(self, server: ResolverAddress | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server = server
        self._resolver = dns.resolver.Resolver(configure=server is None)
        if server is not None:
            self._resolver.nameservers = [server.address]
            self._resolver.port = server.port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._resolver.use_edns(0, dns.flags.DO, 1232)
        self._resolver.flags = dns.flags.RD | dns.flags.AD

    @property
    def label(self) -> str:
        return f"resolver {self.server}" if self.server else "the system resolver"

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            answer = self._resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(name, rdtype, Outcome.NXDOMAIN)
        except dns.resolver.LifetimeTimeout:
            return DnsAnswer(name, rdtype, Outcome.TIMEOUT, error=f"no answer from {self.label}")
        except dns.resolver.NoNameservers as exc:
            return DnsAnswer(
                name, rdtype, _no_servers_outcome(exc), error=f"{self.label}: {_first_line(exc)}"
            )
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return DnsAnswer(name, rdtype, Outcome.ERROR, error=f"{self.label}: {_first_line(exc)}")
        response = answer.response
        authenticated = bool(response.flags & dns.flags.AD)
        if answer.rrset is None:
            return DnsAnswer(name, rdtype, Outcome.NODATA, authenticated=authenticated)
        records = tuple(sorted(rdata.to_text() for rdata in answer.rrset))
        return DnsAnswer(name, rdtype, Outcome.OK, records, authenticated)


def _no_servers_outcome(exc: dns.resolver.NoNameservers) -> Outcome:
    errors = exc.kwargs.get("errors") or []
    for error in errors:
        reply = error[-1] if isinstance(error, tuple) else None
        if isinstance(reply, dns.message.Message) and reply.rcode() == dns.rcode.SERVFAIL:
            return Outcome.SERVFAIL
    return Outcome.SERVFAIL if "SERVFAIL" in str(exc) else Outcome.ERROR


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def absolute(name: str) -> str:
    """A lower-case name without the trailing dot, as the rest of mailcert writes hostnames."""
    return dns.name.from_text(name).to_text(omit_final_dot=True).lower() if name.strip(".") else ""
