"""`mailcert verify`'s pure core: what cron reads (one line per problem), the Nagios status line, the state
file that remembers what earlier runs saw, and the findings only that memory can give.

The shell (mailcert.tasks.verify) gathers and probes through the audit, then hands the report here.
"""

from __future__ import annotations

from mailcert.verify.lines import problem_line, problem_lines, render_problems
from mailcert.verify.memory import GRACE, RENEWAL_WINDOW, memory_findings, with_findings
from mailcert.verify.nagios import Thresholds, days_left, render_nagios
from mailcert.verify.state import (
    CertSighting,
    EndpointMemory,
    VerifyState,
    load_state,
    observe,
    save_state,
    state_from_json,
    state_to_json,
)

__all__ = [
    "GRACE",
    "RENEWAL_WINDOW",
    "CertSighting",
    "EndpointMemory",
    "Thresholds",
    "VerifyState",
    "days_left",
    "load_state",
    "memory_findings",
    "observe",
    "problem_line",
    "problem_lines",
    "render_nagios",
    "render_problems",
    "save_state",
    "state_from_json",
    "state_to_json",
    "with_findings",
]
