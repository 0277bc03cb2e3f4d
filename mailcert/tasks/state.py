"""What chained tasks share within one run (`mailcert audit fix`): the reports so far and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailcert.model import Report, Status


@dataclass
class RunState:
    reports: dict[str, Report] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    forced_code: int | None = None

    def reset(self) -> None:
        self.reports.clear()
        self.statuses.clear()
        self.forced_code = None

    def record(self, task: str, report: Report) -> None:
        self.reports[task] = report
        self.statuses.append(report.status)

    def record_status(self, task: str, report: Report, status: Status) -> None:
        """A report whose exit code is judged by something else than its findings (review: what it introduces)."""
        self.reports[task] = report
        self.statuses.append(status)

    @property
    def exit_code(self) -> int:
        if self.forced_code is not None:
            return self.forced_code
        codes = [s.exit_code for s in self.statuses]
        if 2 in codes:
            return 2
        return max(codes, default=0)


_STATE = RunState()


def run_state() -> RunState:
    return _STATE
