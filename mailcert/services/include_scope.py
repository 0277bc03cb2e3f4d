"""Where a service's includes may lead, and how many files they may add: the same limits as gather.sh's
include pass (tests/unit/test_include_scope.py runs both), so `lint ROOT` and `audit` read the same files.

A Dovecot `!include` or Exim `.include` pointing elsewhere (`/etc/shadow`, `/root/...`) is a finding and is
not read: a configuration that includes files from outside its own folders is either a mistake or a way to
get those files read by a root tool and shown in a report.
"""

from __future__ import annotations

import posixpath

MAX_INCLUDED_FILES = 200  # per service: a finding names the cap, the rest is not read

# The configuration folders of each service, as path prefixes (a prefix without a trailing / also allows
# cPanel's /etc/exim.conf.* files next to /etc/exim.conf). gather.sh's include_pass lists the same.
FOLDERS: dict[str, tuple[str, ...]] = {
    "dovecot": ("/etc/dovecot/", "/usr/local/etc/dovecot/", "/usr/share/dovecot/"),
    "exim": ("/etc/exim4/", "/etc/exim/", "/etc/exim.", "/usr/local/etc/exim/", "/usr/exim/"),
}


def outside_folders(service: str, path: str) -> bool:
    """True when an include target, "." and ".." resolved in the text, lies outside the service's folders."""
    return not path.startswith("/") or not posixpath.normpath(path).startswith(FOLDERS[service])


def outside_message(service: str, directive: str, path: str) -> tuple[str, str]:
    """(message, fix) of the finding for an include that leads outside the configuration folders."""
    folders = ", ".join(FOLDERS[service])
    return (
        f"{directive} {path} points outside {service}'s configuration folders ({folders}); mailcert does not "
        "read it",
        f"move the included file into {FOLDERS[service][0]} or remove the {directive}",
    )
