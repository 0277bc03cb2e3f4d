"""The gather document, parsed: a recorded real run of gather.sh on a planted tree (tests/data/gather/).

Recorded with `sh mailcert/gather/gather.sh /tmp/rec/host` on Debian 12 (OpenSSL 3.0) over a tree made with
`openssl req -x509 -newkey ec ...`: combined.pem = key + cert; enc.key = `openssl pkcs8 -topk8 -passout`;
key.der = `openssl pkey -outform DER`; certbot live/ symlinks into archive/; planted-host-pubkey.pem is
`openssl pkey -pubout` of the key, made by hand at recording time.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailcert.errors import HostError
from mailcert.facts import BlockKind
from mailcert.gather import NOT_GATHERED, GatheredHost, parse_document, pem_blocks
from mailcert.gather.system import daemon_process, listening_ports, systemctl_units

DATA = Path(__file__).resolve().parent.parent / "data" / "gather"
RECORDED = (DATA / "planted-host.txt").read_text()
CERT = x509.load_pem_x509_certificate((DATA / "planted-host-cert.pem").read_bytes())
PUBKEY_PEM = (DATA / "planted-host-pubkey.pem").read_text()
PUBKEY_DER = base64.b64decode("".join(line for line in PUBKEY_PEM.splitlines() if "-----" not in line))
LIVE = "/etc/letsencrypt/live/mail.example.test"


@pytest.fixture(scope="module")
def host() -> GatheredHost:
    return GatheredHost.from_output(RECORDED, name="mx1")


def test_keys_arrive_as_their_public_half_only(host: GatheredHost) -> None:
    assert "PRIVATE KEY-----" not in RECORDED  # only "%KEY" markers, never key blocks
    combined = host.pem_file("/etc/ssl/private/combined.pem")
    assert [b.kind for b in combined.blocks] == [BlockKind.PRIVATE_KEY, BlockKind.CERTIFICATE]
    assert combined.keys[0].public_key_der == PUBKEY_DER
    # the derived key matches the certificate: what key.mismatch checks
    assert (
        CERT.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == PUBKEY_DER
    )
    assert combined.certificates == (CERT.public_bytes(serialization.Encoding.DER),)
    assert (combined.mode, combined.owner, combined.group) == (0o640, "root", "root")


def test_encrypted_der_broken_and_missing_files(host: GatheredHost) -> None:
    encrypted = host.pem_file("/etc/ssl/private/enc.key")
    assert encrypted.keys[0].encrypted and encrypted.keys[0].label == "ENCRYPTED PRIVATE KEY"
    assert encrypted.keys[0].public_key_der is None
    der = host.pem_file("/etc/ssl/private/key.der")
    assert der.blocks == () and "DER" in (der.pem_error or "")
    broken = host.pem_file("/etc/ssl/broken.pem")
    assert broken.blocks == () and "broken PEM block" in (broken.pem_error or "")
    missing = host.pem_file("/etc/ssl/missing.pem")
    assert not missing.exists and missing.error == "no such file"
    never = host.pem_file("/srv/unknown.pem")
    assert not never.exists and never.error == NOT_GATHERED


def test_certbot_symlinks_resolve_into_archive(host: GatheredHost) -> None:
    facts = host.pem_file(f"{LIVE}/privkey.pem")
    assert facts.resolved == "/etc/letsencrypt/archive/mail.example.test/privkey1.pem"
    assert facts.mode == 0o600
    assert facts.keys[0].public_key_der == PUBKEY_DER
    assert host.stat(f"{LIVE}/fullchain.pem").mtime == 1767323045.0  # 2026-01-02T03:04:05Z, set by touch
    assert host.glob("/etc/letsencrypt/live/*/*.pem") == [f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem"]
    assert host.listdir("/etc/letsencrypt") == ["archive", "live"]
    assert host.is_dir("/etc/letsencrypt/live") and host.is_dir("/etc")
    assert host.exists("/etc/postfix/main.cf") and not host.exists("/etc/exim4")


def test_config_text_is_sent_with_secrets_blanked_and_cron_reduced_to_certbot_lines(
    host: GatheredHost,
) -> None:
    main_cf = host.read_config("/etc/postfix/main.cf").text
    assert main_cf is not None and main_cf.startswith("myhostname = mail.example.test\n")
    dovecot = host.read_config("/etc/dovecot/dovecot.conf").text or ""
    assert "verysecret" not in dovecot
    assert "ssl_key_password = (hidden-by-mailcert)" in dovecot.splitlines()  # still set, line kept
    cron = (host.read_config("/etc/cron.d/certbot").text or "").splitlines()
    assert cron == ["", "0 */12 * * * root test -x /usr/bin/certbot && certbot -q renew", ""]
    assert "dbsecret" not in RECORDED
    assert host.read_config(f"{LIVE}/privkey.pem").text is None  # PEM files are never text


def test_host_facts(host: GatheredHost) -> None:
    assert host.clock is not None and host.clock > 1_700_000_000
    assert host.root == "/tmp/rec/host"
    assert host.versions.get("postfix", "").startswith("3.")
    postconf = host.command("postconf-n")
    assert postconf is not None and postconf.ok and "smtpd_tls_chain_files" in postconf.stdout
    assert host.command("doveconf-n") is not None


def test_listening_ports_from_proc_net_tcp() -> None:
    # /proc/net/tcp rows: local address is hex ADDR:PORT, state 0A is LISTEN (25 = 0x0019, 993 = 0x03E1)
    tcp = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        "   1: 0100007F:03E1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n"
        "   2: 0100007F:D431 0100007F:0019 01 00000000:00000000 00:00000000 00000000     0        0 3\n"
    )
    tcp6 = (
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:024B 00000000000000000000000000000000:0000 0A\n"
    )
    assert listening_ports([tcp, tcp6]) == {25, 993, 587}


def test_daemon_start_time_from_proc_stat() -> None:
    # field 22 (starttime) = 1234 ticks after boot; a command name with spaces and ")" must not shift fields
    stat = "77 (weird) name) S 1 77 77 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 1234 1000 10 0"
    process = daemon_process("dovecot", 77, f"{stat}\n/usr/sbin/dovecot -F\n", 1_700_000_000, 100)
    assert process is not None and process.started_at == 1_700_000_012.34
    assert daemon_process("master", 5, f"{stat}\n/usr/bin/some-other-master\n", 0, 100) is None


def test_systemctl_show_blocks() -> None:
    text = (
        "Id=postfix.service\nLoadState=loaded\nActiveState=active\nSubState=exited\n"
        "ActiveEnterTimestamp=Mon 2026-11-23 10:00:00 UTC\nMainPID=0\n\n"
        "Id=certbot.timer\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n"
        "ActiveEnterTimestamp=\nMainPID=0\n"
    )
    units = systemctl_units(text)
    assert units["postfix.service"].active and units["postfix.service"].main_pid is None
    assert units["certbot.timer"].load_state == "not-found" and not units["certbot.timer"].active


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("bash: sh: command not found\n", "printed no facts document"),
        (RECORDED.replace("%END\n", ""), "ended early"),
        (RECORDED.replace("%R meta", "%R meta\n%P x\n!!!notbase64\n%E\n%R meta", 1), "damaged"),
        ("%MAILCERT-GATHER 1\ngarbage\n%END\n", "damaged at line 2"),
    ],
)
def test_truncated_or_foreign_output_is_a_host_error(text: str, words: str) -> None:
    with pytest.raises(HostError, match=words) as caught:
        parse_document(text, host="mx1")
    assert caught.value.where == "mx1"


def test_pem_stream_keeps_block_order_and_reports_key_errors() -> None:
    cert_pem = (DATA / "planted-host-cert.pem").read_text()
    stream = f"%KEY RSA_PRIVATE_KEY 0\n%KEYERR\n{cert_pem}%OTHER DH PARAMETERS\n%KEY EC_PRIVATE_KEY 1\n"
    blocks = pem_blocks(stream.encode())
    assert [(b.kind, b.label) for b in blocks] == [
        (BlockKind.PRIVATE_KEY, "RSA PRIVATE KEY"),
        (BlockKind.CERTIFICATE, "CERTIFICATE"),
        (BlockKind.OTHER, "DH PARAMETERS"),
        (BlockKind.PRIVATE_KEY, "EC PRIVATE KEY"),
    ]
    assert blocks[0].error is not None and blocks[0].public_key_der is None
    assert blocks[3].encrypted
