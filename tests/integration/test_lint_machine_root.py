"""`mailcert lint /` on this machine, with the Dovecot packages `make test` installs: a real host's tree,
read where it lives (Debian's Dovecot ships ssl_cert pointing at a file that exists only with ssl-cert)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_lint_of_this_machines_root_reads_its_dovecot() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailcert", "lint", "/", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 1, 2), done.stderr
    (host,) = json.loads(done.stdout)["hosts"]
    dovecot_ports = {e["port"] for e in host["endpoints"] if e["service"] == "dovecot"}
    assert dovecot_ports >= {143, 993}  # Debian's defaults: IMAP with STARTTLS and with implicit TLS
    if not Path("/etc/dovecot/private/dovecot.pem").exists():
        # Without the ssl-cert package 10-ssl.conf names a missing file: Dovecot will not start.
        assert any(f["check"] == "cert.missing" for f in host["findings"])
