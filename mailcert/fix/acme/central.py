"""Central issuance, applying side: key and CSR on the host, certbot on the control machine, the
certificate and chain back to the host through the ordinary switch (backups, validation, reload, restore).

1. On the host (one SSH exec, as root): make the key in mailcert's state folder (or take the one kept:
   the central privkey.pem, else the certbot lineage's of the same name), create the certificate folder
   when missing, and print the CSR. Only the CSR comes back; it is checked to be a CSR and nothing else.
2. On the control machine: certbot certonly --csr (from this Python environment) with DNS-01 through
   certbot-dns-rfc2136; credentials from the inventory's file or environment variable, never shown.
3. The certificate, chain and full chain become file changes of the plan; a new key is put in place by
   the switch itself (a placeholder file, backed up like any file, then filled from the staged key on
   the host), so a failed switch restores the old key byte-identical.
Any failure before the switch removes what step 1 made: the host is as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailcert.fix.acme.host import CertbotError, certbot_reason
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from mailcert.fix.plan.central import CREDENTIALS_ENV_VAR, CREDENTIALS_VAR, cert_dir
from mailcert.fix.remote import run_as_root
from mailcert.inventory.model import InventoryHost
from mailcert.ssh import StrictConnection

CERTBOT_TIMEOUT = 600
REUSE_KEY = "--reuse-key"

# The host side: `sh -c HOST_SCRIPT mailcert-central ACTION ARGS...` (every value a positional argument).
HOST_SCRIPT = r"""
set -eu
umask 077
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
action=$1
shift
case $action in
csr)
    stage=$1 staged=$2 live=$3 keep=$4 from=$5 cn=$6
    shift 6
    mkdir -p "$stage"
    chmod 700 "$stage"
    created=-
    if [ ! -d "$live" ]; then
        created=$live
        while [ ! -e "$(dirname "$created")" ]; do created=$(dirname "$created"); done
        (umask 022 && mkdir -p "$live")
    fi
    # a failure from here on removes what this step made
    trap 'rm -f "$staged"; if [ "$created" != - ]; then find "$created" -depth -type d -empty -delete; fi' EXIT
    if [ "$keep" = yes ] && [ -s "$live/privkey.pem" ]; then
        key=$live/privkey.pem how=kept
    elif [ "$keep" = yes ] && [ "$from" != - ] && [ -s "$from" ]; then
        cat "$from" >"$staged"
        key=$staged how=copied
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$staged" 2>/dev/null || {
            echo "mailcert-central: openssl could not make a key" >&2
            rm -f "$staged"
            exit 3
        }
        key=$staged how=new
    fi
    san=
    for name in "$@"; do san="${san:+$san,}DNS:$name"; done
    csr=$(openssl req -new -key "$key" -subj "/CN=$cn" -addext "subjectAltName=$san" -outform PEM)
    trap - EXIT
    printf 'created %s\nkey %s\n%s\n' "$created" "$how" "$csr"
    ;;
clean)
    rm -f "$1"
    if [ "$2" != - ] && [ -d "$2" ]; then find "$2" -depth -type d -empty -delete; fi
    ;;
*) exit 2 ;;
esac
"""
# Run by the switch after the files are written: fill the placeholder with the staged key. After a
# restore the placeholder is gone, so running it again (the switch re-runs commands) changes nothing.
KEY_SCRIPT = 'if grep -qxF "$3" "$1"; then cat "$2" >"$1"; fi; rm -f "$2"'


class CentralError(CertbotError):
    """Central issuance failed; what it made on the host was removed."""


def _host(conn: StrictConnection, action: str, *args: str, timeout: int = 120) -> str:
    output = run_as_root(conn, ["sh", "-c", HOST_SCRIPT, "mailcert-central", action, *args], timeout=timeout)
    if output.exit_status != 0:
        said = next((ln for ln in output.stderr.splitlines() if ln.strip()), "no output")
        raise CentralError(
            f"making the key and CSR on the host failed (exit {output.exit_status}): {said[:300]}",
            where=conn.name,
        )
    return output.stdout


def _common_name(names: tuple[str, ...]) -> str:
    """The CSR's CN: the first name that fits in 64 characters (the names themselves are in the SAN)."""
    return next((n for n in names if len(n) <= 64), "mailcert")


def _names(argv: list[str]) -> tuple[str, ...]:
    return tuple(argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "-d")


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def issue(
    host: InventoryHost,
    plan: HostPlan,
    change: Change,
    conn: StrictConnection,
    state_dir: str,
    *,
    timeout: int = CERTBOT_TIMEOUT,
) -> HostPlan:
    """Carry out one central ISSUE change; the plan with the certificate files (and key step) added.
    Raises CentralError (a one-line reason) after removing what it made on the host."""
    assert change.command is not None
    argv = list(change.command.argv)
    keep = REUSE_KEY in argv or host.reuse_key is True
    argv = [word for word in argv if word != REUSE_KEY]
    name, names = _value(argv, "--cert-name"), _names(argv)
    live = cert_dir(host, name)
    run_id = plan.run_id or "run"
    staged = f"{state_dir}/central/{run_id}@{host.name}.key"
    said = _host(
        conn, "csr", f"{state_dir}/central", staged, live, "yes" if keep else "no",
        f"/etc/letsencrypt/live/{name}/privkey.pem", _common_name(names), *names,
    )  # fmt: skip
    lines = said.split("\n", 2)
    created = lines[0].removeprefix("created ").strip() if lines else "-"
    try:
        how = lines[1].removeprefix("key ").strip()
        csr = _csr(lines[2] if len(lines) > 2 else "", names, conn.name)
        files = _run_certbot(host, argv, csr, timeout=timeout, where=conn.name)
    except CentralError:
        _host(conn, "clean", staged, created)
        raise
    return _with_files(
        plan, change, live, files, staged if how in ("new", "copied") else None, run_id, created=created
    )


def _csr(text: str, names: tuple[str, ...], where: str) -> x509.CertificateSigningRequest:
    if "PRIVATE KEY" in text or not text.lstrip().startswith("-----BEGIN CERTIFICATE REQUEST-----"):
        raise CentralError("the host did not send back a CSR", where=where)
    csr = x509.load_pem_x509_csr(text.encode())
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if sorted(sans.get_values_for_type(x509.DNSName)) != sorted(names) or not csr.is_signature_valid:
        raise CentralError("the CSR the host made does not name exactly the planned names", where=where)
    return csr


def _credentials(host: InventoryHost, shown: str, work: Path) -> tuple[str, Path | None]:
    """The credentials file certbot reads, and a temporary one to delete afterwards (from the environment)."""
    if not shown.startswith("<environment "):
        path = Path(shown)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise CentralError(
                f"the DNS credentials file {path} ({CREDENTIALS_VAR}) is missing or unreadable",
                where=host.name,
            )
        return str(path), None
    env = shown.removeprefix("<environment ").rstrip(">")
    text = os.environ.get(env)
    if not text:
        raise CentralError(
            f"the environment variable {env} ({CREDENTIALS_ENV_VAR}) is not set or empty", where=host.name
        )
    temp = work / f"credentials-{os.getpid()}.ini"
    temp.touch(mode=0o600)
    temp.chmod(0o600)
    temp.write_text(text if text.endswith("\n") else text + "\n")
    return str(temp), temp


def certbot_program() -> list[str]:
    """certbot from this Python environment (the `central` extra), not whatever is on PATH."""
    beside = Path(sys.executable).with_name("certbot")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "certbot"]


def _run_certbot(
    host: InventoryHost, argv: list[str], csr: x509.CertificateSigningRequest, *, timeout: int, where: str
) -> dict[str, bytes]:
    csr_path = Path(_value(argv, "--csr"))
    out = Path(_value(argv, "--cert-path")).parent
    csr_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(mode=0o700)
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    index = argv.index("--dns-rfc2136-credentials") + 1
    credentials, temp = _credentials(host, argv[index], csr_path.parent)
    run = [*certbot_program(), *argv[1:]]
    run[len(certbot_program()) - 1 + index] = credentials
    env = dict(os.environ)
    if host.acme_ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = host.acme_ca_bundle
    try:
        done = subprocess.run(
            run,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CentralError(
            f"certbot on the control machine did not finish within {timeout} s", where=where
        ) from None
    except OSError as exc:
        raise CentralError(
            f"cannot run certbot on the control machine: {exc}",
            where=where,
            todo="install mailcert with the `central` extra (pip install 'mailcert[central]')",
        ) from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    if done.returncode != 0:
        raise CentralError(
            f"certbot on the control machine failed (exit {done.returncode}): {reason(done.stdout + done.stderr)}",
            where=where,
            todo="nothing was changed on this host; fix the cause and run fix again",
        )
    files = {part: (out / f"{part}.pem").read_bytes() for part in ("cert", "chain", "fullchain")}
    leaf = x509.load_pem_x509_certificate(files["cert"])
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise CentralError("the certificate certbot got is not for the host's key", where=where)
    return files


def reason(text: str) -> str:
    """certbot's reason in one line, with the DNS update's own failures said plainly."""
    lowered = text.lower()
    if (
        "didn't like the signature" in lowered
        or "badsig" in lowered
        or "badkey" in lowered
        or "notauth" in lowered
    ):
        return "the DNS server rejected the TSIG key (wrong key name, algorithm or secret in the DNS credentials)"
    if "refused" in lowered and (
        "rfc2136" in lowered or "txt record" in lowered or "response from server" in lowered
    ):
        return "the DNS server refused the update (the TSIG key may not change this _acme-challenge record)"
    if "unable to determine base domain" in lowered:
        return "the DNS server is not authoritative for any zone holding the _acme-challenge names"
    return certbot_reason(text)


# The undo of the folders `csr` made for the certificate: a restore removes the files the run created, and
# this then removes those folders again, deepest first, when nothing else was put in them.
CLEAN_SCRIPT = 'if [ -d "$1" ]; then find "$1" -depth -type d -empty -delete; fi'


def _with_files(
    plan: HostPlan,
    change: Change,
    live: str,
    files: dict[str, bytes],
    staged: str | None,
    run_id: str,
    *,
    created: str = "-",
) -> HostPlan:
    added: list[Change] = []
    if created != "-":
        added.append(
            Change(
                ChangeKind.COMMAND,
                f"{created}: made for this certificate; a rollback removes it again when it is left empty",
                command=Command(("test", "-d", live)),
                undo=Command(("sh", "-c", CLEAN_SCRIPT, "mailcert-central-clean", created)),
            )
        )
    for part in ("cert", "chain", "fullchain"):
        added.append(
            Change(
                ChangeKind.CREATE,
                f"{live}/{part}.pem: the certificate issued through the control machine",
                file=FileChange(f"{live}/{part}.pem", None, files[part].decode(), 0o644, "root", "root"),
            )
        )
    if staged is not None:
        marker = f"# mailcert run {run_id}: the key made on this host replaces this line"
        key = f"{live}/privkey.pem"
        added.append(
            Change(
                ChangeKind.CREATE,
                f"{key}: the key made on this host (put in place from {staged})",
                file=FileChange(key, None, marker + "\n", 0o600, "root", "root"),
            )
        )
        added.append(
            Change(
                ChangeKind.COMMAND,
                f"fill {key} with the key made on this host",
                command=Command(("sh", "-c", KEY_SCRIPT, "mailcert-central-key", key, staged, marker)),
            )
        )
    changes = list(plan.changes)
    at = changes.index(change) + 1
    changes[at:at] = added
    return replace(plan, changes=tuple(changes))
