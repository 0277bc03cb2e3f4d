"""The tool's one root exception: every failure a user can cause or meet says what, where and what to do."""

from __future__ import annotations


class MailcertError(Exception):
    """A failure to report as one clear line (what, where, what to do), never as a traceback."""

    def __init__(self, what: str, *, where: str | None = None, todo: str | None = None) -> None:
        self.what = what
        self.where = where
        self.todo = todo
        super().__init__(self.line())

    def line(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.todo:
            parts.append(self.todo)
        return " — ".join(parts)


class UsageError(MailcertError):
    """Bad command-line usage (exit 3 per SPEC)."""


class InventoryError(MailcertError):
    """The inventory cannot be read or is inconsistent."""


class HostError(MailcertError):
    """One host could not be checked (unreachable, auth, host key, sudo ...): that host is `unknown`."""
