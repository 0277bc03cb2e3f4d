"""Probe mail ports from outside, as a client connects: dialogue, TLS mode, served chain (never verified here).

Public API: `probe_endpoint`, `probe_all`, `ProbeTarget`, `ProbeResult`, `Observed`, `Timeouts`, `STANDARD_PORTS`,
`role_for`, `targets_for`.
"""

from __future__ import annotations

from mailcert.model import Mode
from mailcert.ports import DEFAULT_EHLO, DEFAULT_PER_HOST
from mailcert.probe.pool import probe_all
from mailcert.probe.registry import PROTOCOL_LABELS, PROTOCOLS, STANDARD_PORTS, PortRole, role_for
from mailcert.probe.result import Observed, ProbeResult, ProbeTarget, Timeouts
from mailcert.probe.session import probe_endpoint

__all__ = [
    "DEFAULT_EHLO",
    "DEFAULT_PER_HOST",
    "PROTOCOLS",
    "PROTOCOL_LABELS",
    "STANDARD_PORTS",
    "Observed",
    "PortRole",
    "ProbeResult",
    "ProbeTarget",
    "Timeouts",
    "probe_all",
    "probe_endpoint",
    "role_for",
    "target_for",
    "targets_for",
]


def target_for(
    hostname: str,
    port: int,
    *,
    address: str | None = None,
    protocol: str | None = None,
    mode: Mode | None = None,
    required: bool = True,
) -> ProbeTarget:
    """A ProbeTarget with protocol, mode and service from the port registry (overridden by protocol/mode)."""
    role = role_for(port, protocol, mode)
    return ProbeTarget(
        hostname=hostname,
        port=port,
        protocol=role.protocol if role else protocol,
        expected_mode=role.mode if role else mode,
        address=address,
        service=role.service if role else None,
        required=required,
    )


def targets_for(hostname: str, *, address: str | None = None) -> list[ProbeTarget]:
    """Every standard mail port of a host; closed ones count as "not offered" (required=False)."""
    return [target_for(hostname, port, address=address, required=False) for port in STANDARD_PORTS]
