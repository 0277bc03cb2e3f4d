"""`--state FILE`: what earlier verify runs saw, per endpoint, so a later run can say how long something
has been so (a renewal still not served, a certificate sitting in its renewal window).

One JSON document, replaced atomically. Per endpoint (`host service:port`): the configured and the served
certificate (SHA-256 fingerprint, notAfter, when verify first saw it), since when the certificate has been
inside its renewal window, and when either certificate last changed. Hosts that could not be checked keep
what was known about them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mailcert.errors import MailcertError, UsageError
from mailcert.model import Endpoint, Report
from mailcert.wording import iso_utc

SCHEMA = "mailcert-verify-state/1"
RENEWAL_WINDOW = timedelta(days=30)  # certbot's default renew_before_expiry


@dataclass(frozen=True)
class CertSighting:
    """One certificate as verify saw it, and the first run that saw it there."""

    sha256: str
    not_after: datetime | None
    first_seen: datetime


@dataclass(frozen=True)
class EndpointMemory:
    host: str
    service: str
    port: int
    configured: CertSighting | None = None
    served: CertSighting | None = None
    inside_window_since: datetime | None = (
        None  # the tracked certificate has been in its renewal window since
    )
    last_change: datetime | None = None

    @property
    def key(self) -> str:
        return endpoint_key(self.host, self.service, self.port)


@dataclass(frozen=True)
class VerifyState:
    updated_at: datetime | None = None
    endpoints: dict[str, EndpointMemory] = field(default_factory=dict)


def endpoint_key(host: str, service: str, port: int) -> str:
    return f"{host} {service}:{port}"


def _sighting(
    previous: CertSighting | None, sha256: str | None, not_after: datetime | None, now: datetime
) -> CertSighting | None:
    if sha256 is None:
        return None
    if previous is not None and previous.sha256 == sha256:
        return previous
    return CertSighting(sha256, not_after, now)


def _remember(
    previous: EndpointMemory | None, host: str, endpoint: Endpoint, now: datetime
) -> EndpointMemory:
    configured = _sighting(
        previous.configured if previous else None,
        endpoint.configured.sha256,
        endpoint.configured.not_after,
        now,
    )
    served = (
        _sighting(
            previous.served if previous else None, endpoint.served.sha256, endpoint.served.not_after, now
        )
        if endpoint.served is not None
        else (previous.served if previous else None)  # not served this time (port down): keep the last one
    )
    changed = previous is None or configured != previous.configured or served != previous.served
    tracked = configured or served
    inside = None
    if tracked is not None and tracked.not_after is not None:
        window_start = tracked.not_after - RENEWAL_WINDOW
        if now >= window_start:
            # Unchanged since first seen: it has been in the window since the window opened, or since we
            # first saw it if that was later.
            inside = max(window_start, tracked.first_seen)
    return EndpointMemory(
        host=host,
        service=endpoint.service,
        port=endpoint.port,
        configured=configured,
        served=served,
        inside_window_since=inside,
        last_change=now if changed else (previous.last_change if previous else now),
    )


def observe(previous: VerifyState, report: Report) -> VerifyState:
    """The state after this run: checked hosts' endpoints as now seen, unchecked hosts as remembered."""
    now = report.evaluated_at
    checked = {host.name for host in report.hosts if host.error is None}
    endpoints = {key: memory for key, memory in previous.endpoints.items() if memory.host not in checked}
    for host in report.hosts:
        if host.error is not None:
            continue
        for endpoint in host.endpoints:
            key = endpoint_key(host.name, endpoint.service, endpoint.port)
            endpoints[key] = _remember(previous.endpoints.get(key), host.name, endpoint, now)
    return replace(previous, updated_at=now, endpoints=dict(sorted(endpoints.items())))


# -- the file ---------------------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def _sighting_json(s: CertSighting | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"sha256": s.sha256, "not_after": _time(s.not_after), "first_seen": _time(s.first_seen)}


def state_to_json(state: VerifyState) -> str:
    document = {
        "schema": SCHEMA,
        "updated_at": _time(state.updated_at),
        "endpoints": {
            key: {
                "host": m.host,
                "service": m.service,
                "port": m.port,
                "configured": _sighting_json(m.configured),
                "served": _sighting_json(m.served),
                "inside_renewal_window_since": _time(m.inside_window_since),
                "last_change": _time(m.last_change),
            }
            for key, m in state.endpoints.items()
        },
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _parse_sighting(value: Any) -> CertSighting | None:
    if value is None:
        return None
    first_seen = _parse_time(value["first_seen"])
    if not isinstance(value["sha256"], str) or first_seen is None:
        raise ValueError("bad certificate entry")
    return CertSighting(value["sha256"], _parse_time(value.get("not_after")), first_seen)


def state_from_json(text: str, *, source: str = "state file") -> VerifyState:
    """Parse a state document; anything else is one MailcertError line saying what to do."""
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise ValueError(f"schema is not {SCHEMA}")
        endpoints: dict[str, EndpointMemory] = {}
        for value in document["endpoints"].values():
            port = value["port"]
            if not isinstance(port, int) or not isinstance(value["host"], str):
                raise ValueError("bad endpoint entry")
            memory = EndpointMemory(
                host=value["host"],
                service=str(value["service"]),
                port=port,
                configured=_parse_sighting(value.get("configured")),
                served=_parse_sighting(value.get("served")),
                inside_window_since=_parse_time(value.get("inside_renewal_window_since")),
                last_change=_parse_time(value.get("last_change")),
            )
            endpoints[memory.key] = memory
        return VerifyState(updated_at=_parse_time(document.get("updated_at")), endpoints=endpoints)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MailcertError(
            f"not a mailcert verify state file ({exc})",
            where=source,
            todo="delete it (the next run starts a new one) or give another --state path",
        ) from None


def load_state(path: str) -> VerifyState:
    """The state in `path`; an empty state when the file does not exist yet (the first run)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return VerifyState()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read --state {path}: {exc}", todo="give a readable state file path"
        ) from None
    return state_from_json(text, source=path)


def save_state(path: str, state: VerifyState) -> None:
    """Write the state atomically: a crash mid-write leaves the previous file, never half a document."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(state_to_json(state))
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(
            f"cannot write --state {path}: {exc.strerror or exc}", todo="give a writable state file path"
        ) from None
