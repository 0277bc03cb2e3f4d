"""Four real TLS client stacks looking at one lab port, each as a mail client built on it would:
OpenSSL (`openssl s_client`), GnuTLS (`gnutls-cli`), NSS (Thunderbird's library: `tstclnt`, and `vfychain`
on the chain a STARTTLS port served) and Python's ssl. Each gives a verdict and its own exact message.

NSS's command-line client has no STARTTLS: on STARTTLS ports the dialogue is done here (as Thunderbird does it
in its own code before handing the socket to NSS) and `tstclnt` gets the socket through a one-connection relay
on 127.0.0.1, so it still checks the chain *and* the name. `vfychain` checks the chain alone (no name).
Connects only to addresses the lab assigned to its own namespaces (and to the relay on loopback).
"""

from __future__ import annotations

import re
import selectors
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.client import IMPLICIT_PORTS, PORT_PROTOCOL, client_view, starttls_refusal
from mailcert.lab.network import is_lab_address

STACKS = ("openssl", "gnutls", "nss", "nss-chain", "python")
STACK_TOOLS = {
    "openssl": "openssl s_client -verify_return_error -verify_hostname NAME [-starttls P]",
    "gnutls": "gnutls-cli --verify-hostname NAME [--starttls-proto P]",
    "nss": "tstclnt -a NAME (STARTTLS ports: through a relay that did the STARTTLS dialogue)",
    "nss-chain": "vfychain -u 1 on the chain a STARTTLS port served (chain only, no name check)",
    "python": "Python ssl.create_default_context()",
}
TIMEOUT = 8.0  # a STARTTLS client on an implicit-TLS port waits for a greeting that never comes
_CONNECT_WAIT = 4.0


@dataclass(frozen=True)
class StackVerdict:
    stack: str
    ok: bool
    message: (
        str  # the stack's own words, one line; the lab host's address and names replaced by <address>, <name>
    )


def _guard(address: str) -> None:
    if not is_lab_address(address):
        raise LabError(f"{address} is not a lab address; the lab's clients talk only to the lab")


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            list(argv), input="", capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return None


_NO_ANSWER = f"no answer within {TIMEOUT:.0f} s"


# -- OpenSSL ------------------------------------------------------------------------------------------------
_OPENSSL_ERROR = re.compile(r"^[0-9A-F]+:error:([0-9A-F]+):([^:]*):([^:]*):([^:]*):")


def openssl_view(address: str, port: int, name: str, cafile: str) -> StackVerdict:
    _guard(address)
    argv = [
        "openssl", "s_client", "-connect", f"{address}:{port}", "-servername", name,
        "-verify_hostname", name, "-verify_return_error", "-CAfile", cafile,
    ]  # fmt: skip
    if port not in IMPLICIT_PORTS:
        argv += ["-starttls", PORT_PROTOCOL[port]]
    done = _run(argv)
    if done is None:
        return StackVerdict("openssl", False, _NO_ANSWER)
    if done.returncode == 0 and "Verify return code: 0 (ok)" in done.stdout:
        return StackVerdict("openssl", True, "ok")
    lines = done.stderr.splitlines() + done.stdout.splitlines()
    for line in lines:
        if line.startswith("verify error:"):
            return StackVerdict("openssl", False, line.strip())
    for line in lines:
        found = _OPENSSL_ERROR.match(line)
        if found:
            code, library, function, reason = found.groups()
            return StackVerdict("openssl", False, f"error:{code}:{library}:{function}:{reason}")
    said = [line.strip() for line in lines if line.strip() and not line.startswith(("CONNECTED", "---"))]
    return StackVerdict("openssl", False, (said or [f"exit {done.returncode}"])[0])


# -- GnuTLS -------------------------------------------------------------------------------------------------
def gnutls_view(address: str, port: int, name: str, cafile: str) -> StackVerdict:
    _guard(address)
    argv = [
        "gnutls-cli", f"--x509cafile={cafile}", f"--verify-hostname={name}", f"--sni-hostname={name}",
        f"--port={port}",
    ]  # fmt: skip
    if port not in IMPLICIT_PORTS:
        argv.append(f"--starttls-proto={PORT_PROTOCOL[port]}")
    done = _run([*argv, address])
    if done is None:
        return StackVerdict("gnutls", False, _NO_ANSWER)
    lines = [line.strip() for line in (done.stdout + "\n" + done.stderr).splitlines()]
    if done.returncode == 0 and "- Handshake was completed" in lines:
        return StackVerdict("gnutls", True, "ok")
    status = [line.removeprefix("- Status: ") for line in lines if line.startswith("- Status:")]
    fatal = [line for line in lines if line.startswith("*** ") and "Received" not in line]
    message = " ".join(status[:1] + fatal[:1]) or (lines[-1] if lines else f"exit {done.returncode}")
    return StackVerdict("gnutls", False, message)


# -- NSS ----------------------------------------------------------------------------------------------------
def nss_database(cafile: str, folder: Path) -> Path:
    """An NSS certificate database in `folder` trusting every root in `cafile` for TLS servers (as Thunderbird's
    own store would once the user's CA is imported), nothing else."""
    db = folder / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{db}"], check=True, capture_output=True)
    blocks = re.findall(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", Path(cafile).read_text(), re.S
    )
    for index, block in enumerate(blocks):
        pem = folder / f"root{index}.pem"
        pem.write_text(block + "\n")
        subprocess.run(
            ["certutil", "-A", "-n", f"lab-root-{index}", "-t", "C,,", "-i", str(pem), "-d", f"sql:{db}"],
            check=True,
            capture_output=True,
        )
    return db


def _pump(a: socket.socket, b: socket.socket) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        while True:
            events = selector.select(timeout=TIMEOUT)
            if not events:
                return
            for key, _ in events:
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = source.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    key.data.sendall(data)
                except OSError:
                    return


@contextmanager
def _relay(server: socket.socket) -> Iterator[int]:
    """A one-connection listener on 127.0.0.1 whose client is joined to `server` (already past STARTTLS)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        with client:
            _pump(client, server)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        worker.join(timeout=TIMEOUT)
        server.close()


def _tstclnt(host: str, port: int, name: str, db: Path) -> StackVerdict:
    done = _run(["tstclnt", "-h", host, "-p", str(port), "-a", name, "-d", f"sql:{db}", "-Q"])
    if done is None:
        return StackVerdict("nss", False, _NO_ANSWER)
    if done.returncode == 0:
        return StackVerdict("nss", True, "ok")
    said = [line.strip() for line in done.stderr.splitlines() if line.startswith("tstclnt:")]
    return StackVerdict("nss", False, (said or [f"tstclnt exit {done.returncode}"])[0])


def nss_view(address: str, port: int, name: str, db: Path) -> StackVerdict:
    _guard(address)
    if port in IMPLICIT_PORTS:
        return _tstclnt(address, port, name, db)
    try:
        server = socket.create_connection((address, port), timeout=_CONNECT_WAIT)
    except OSError as exc:
        return StackVerdict("nss", False, f"connection failed: {exc.strerror or exc}")
    try:
        refused = starttls_refusal(server, PORT_PROTOCOL[port])
    except OSError as exc:
        server.close()
        return StackVerdict("nss", False, f"before TLS: {exc}")
    if refused:
        server.close()
        return StackVerdict("nss", False, f"before TLS: {refused}")
    server.settimeout(None)
    with _relay(server) as relay_port:
        return _tstclnt("127.0.0.1", relay_port, name, db)


_NSS_ERROR = re.compile(r"ERROR (-\d+): (.*)")
# NSS error numbers vfychain prints, with the names Thunderbird shows (NSS lib/util/secerr.h).
NSS_ERROR_NAMES = {
    -8181: "SEC_ERROR_EXPIRED_CERTIFICATE",
    -8179: "SEC_ERROR_UNKNOWN_ISSUER",
    -8172: "SEC_ERROR_UNTRUSTED_ISSUER",
    -8162: "SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE",
    -8156: "SEC_ERROR_CA_CERT_INVALID",
    -8102: "SEC_ERROR_INADEQUATE_KEY_USAGE",
    -8101: "SEC_ERROR_INADEQUATE_CERT_TYPE",
    -8016: "MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT",  # not in vfychain's older table; kept for completeness
}


def _served_chain_pem(address: str, port: int, name: str) -> list[str]:
    argv = ["openssl", "s_client", "-connect", f"{address}:{port}", "-servername", name, "-showcerts"]
    argv += ["-starttls", PORT_PROTOCOL[port]]
    done = _run(argv)
    if done is None:
        return []
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", done.stdout, re.S)


def nss_chain_view(address: str, port: int, name: str, db: Path) -> StackVerdict | None:
    """vfychain on the chain a STARTTLS port served; None on implicit-TLS ports (tstclnt covers those)."""
    _guard(address)
    if port in IMPLICIT_PORTS:
        return None
    chain = _served_chain_pem(address, port, name)
    if not chain:
        return StackVerdict("nss-chain", False, "no chain served (no TLS handshake after STARTTLS)")
    with tempfile.TemporaryDirectory(prefix="mailcert-vfychain-") as folder:
        files = []
        for index, pem in enumerate(chain):
            path = Path(folder) / f"c{index}.der"  # vfychain reads DER only
            path.write_bytes(ssl.PEM_cert_to_DER_cert(pem))
            files.append(str(path))
        done = _run(["vfychain", "-d", f"sql:{db}", "-pp", "-u", "1", *files])
    if done is None:
        return StackVerdict("nss-chain", False, _NO_ANSWER)
    text = done.stdout + done.stderr
    if "Chain is good!" in text:
        return StackVerdict("nss-chain", True, "ok")
    found = _NSS_ERROR.search(text)
    if found:
        number = int(found.group(1))
        symbol = NSS_ERROR_NAMES.get(number, "")
        return StackVerdict("nss-chain", False, f"{symbol} ({number}): {found.group(2).strip()}".strip())
    return StackVerdict("nss-chain", False, text.strip().splitlines()[-1] if text.strip() else "chain is bad")


# -- Python ssl ---------------------------------------------------------------------------------------------
def python_view(address: str, port: int, name: str, cafile: str) -> StackVerdict:
    seen = client_view(address, port, name, cafile, timeout=_CONNECT_WAIT)
    if seen.startswith("OK"):
        return StackVerdict("python", True, "ok")
    return StackVerdict("python", False, seen)


# -- all of them --------------------------------------------------------------------------------------------
def port_views(
    address: str, port: int, name: str, cafile: str, db: Path, *, names: Sequence[str] = ()
) -> list[StackVerdict]:
    """Every stack's verdict on one (port, name), messages with the host's address and names masked."""
    views = [
        openssl_view(address, port, name, cafile),
        gnutls_view(address, port, name, cafile),
        nss_view(address, port, name, db),
        nss_chain_view(address, port, name, db),
        python_view(address, port, name, cafile),
    ]
    return [
        StackVerdict(v.stack, v.ok, mask(v.message, address, [name, *names])) for v in views if v is not None
    ]


def mask(message: str, address: str, names: Sequence[str]) -> str:
    """The message without what differs from host to host: its address and names, and pointers in errors."""
    for name in sorted(set(names), key=len, reverse=True):
        message = message.replace(name, "<name>")
    message = message.replace(address, "<address>")
    return " ".join(message.split())
