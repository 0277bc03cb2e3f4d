"""Facts from a mail host in one SSH round trip: one POSIX sh program prints one framed document.

command = gather_command(root="/")                 # quoted `sh -c SCRIPT mailcert-gather /`
host = GatheredHost.from_output(stdout, name="mx1") # HostFiles: lint's parsers run on it unchanged
"""

from __future__ import annotations

from mailcert.gather.document import GatherDocument, Record, parse_document
from mailcert.gather.host import NOT_GATHERED, CommandOutput, GatheredHost, pem_blocks
from mailcert.gather.program import gather_argv, gather_command, gather_script

__all__ = [
    "NOT_GATHERED",
    "CommandOutput",
    "GatherDocument",
    "GatheredHost",
    "Record",
    "gather_argv",
    "gather_command",
    "gather_script",
    "parse_document",
    "pem_blocks",
]
