"""Plan `fix` for a cPanel host: only through cPanel's own interfaces, never by editing files cPanel manages.

* service certificates (cpanel.service-cert-names, cpanel.cabundle-missing, any cert/key finding on them):
  a certbot lineage on the host for the hostname and mail.<domain> of each domain without a Domain TLS
  certificate (issued or expanded first, as every certbot step), installed with
  `whmapi1 install_service_ssl_certificate service=exim|dovecot crt=... key=... cabundle=...`;
* Domain TLS certificates (expired, wrong names): `whmapi1 start_autossl_check_for_one_user username=...`;
* sni.conf (cpanel.sni-stale, Dovecot serving an older certificate): `whmapi1 rebuild_mail_sni_config
  reload_dovecot=1`; Exim serving an older one: `/scripts/restartsrv_exim`.

All API calls run as one host-side step: each call's metadata.result is checked; on the first failure the
service certificates installed so far are put back through the same API call (from copies of cPanel's files
taken before, kept in the run's root-only record on the host), the step fails with cPanel's reason, and the
fix engine reports the host restored. When the step succeeded but the re-probe after it finds the host worse
(or `fix --rollback RUN-ID` later), the switch runs the step's undo, which installs those copies again.
Keys reach whmapi1 on standard input (`--input=json`), never as arguments: a command line is readable by
every local user through /proc, and shared cPanel hosts have them.
"""

from __future__ import annotations

import re
import shlex

from mailcert.fix import values
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from mailcert.fix.plan.acme import _certonly, _renew, lineage_covers, lineage_healthy
from mailcert.fix.plan.base import PlanState, label
from mailcert.model import Finding
from mailcert.ports import PORT_NUMBERS, STANDARD_PORTS
from mailcert.services.cpanel.parser import DOMAIN_TLS, SERVICE_CERTS, CpanelHost, load_cpanel

WHMAPI1 = "/usr/local/cpanel/bin/whmapi1"
# Where the daemons read the service certificates: cPanel's symlinks to /var/cpanel/ssl/SERVICE/.
READ_AS = {"exim": "/etc/myexim.crt", "dovecot": "/etc/dovecot/ssl/dovecot.crt"}
CPANEL_HOOK = (
    "mailcert-cpanel"  # certbot renewal-hooks/deploy/ file: renewed lineage → cPanel's service certs
)
# Host-side sh shared by the fix step and the deploy hook: install_service_ssl_certificate with its arguments
# as one JSON object on standard input (`whmapi1 --input=json`), never on the command line, where any local
# user could read the private key in /proc/PID/cmdline while the call runs. `jstr FILE` prints the file as a
# JSON string (PEM is printable ASCII; anything else is refused); `put SERVICE CRT KEY CABUNDLE` makes the call.
API_SH = r"""W=/usr/local/cpanel/bin/whmapi1
jstr() {
    awk 'BEGIN { printf "\"" }
        { sub(/\r$/, ""); if ($0 ~ /[^ -~]/) { bad = 1; exit 3 }; gsub(/["\\]/, "\\\\&"); printf "%s\\n", $0 }
        END { if (bad) exit 3; printf "\"" }' "$1"
}
put() {
    for f in "$2" "$3" "$4"; do
        jstr "$f" >/dev/null || { echo "$f is not a readable PEM text file" >&2; return 1; }
    done
    { printf '{"service":"%s","crt":' "$1"; jstr "$2"; printf ',"key":'; jstr "$3"; printf ',"cabundle":'
      jstr "$4"; printf '}'; } | "$W" --input=json --output=json install_service_ssl_certificate
}
ok() { grep -q '"result"[[:space:]]*:[[:space:]]*1[,}[:space:]]' "$@"; }  # FILE, or stdin"""
# What the step and its undo share: scratch space, PREV (the copies of cPanel's service certificates taken
# before the run: in the run's root-only record on the host when the switch runs it, MAILCERT_RUN_DIR, so a
# later undo — a bad re-probe, `fix --rollback` — can install them again), and put_back SERVICE.
HEAD = (
    r"""set -u
umask 077
SAVE=$(mktemp -d) || exit 1
trap 'rm -rf "$SAVE"' EXIT
PREV=${MAILCERT_RUN_DIR:-$SAVE}/cpanel-previous
"""
    + API_SH
    + r"""
reason() { sed -n 's/.*"reason"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1; }
put_back() {
    [ -f "$PREV/$1.crt" ] || return 0
    awk '/-----BEGIN CERTIFICATE-----/{n++} n==1' "$PREV/$1.crt" >"$SAVE/$1.leaf"
    awk '/-----BEGIN CERTIFICATE-----/{n++} n>1' "$PREV/$1.crt" >"$SAVE/$1.cab"
    if put "$1" "$SAVE/$1.leaf" "$PREV/$1.key" "$SAVE/$1.cab" >"$SAVE/rb" 2>&1 && ok "$SAVE/rb"; then
        echo "put the previous $1 certificate back through whmapi1" >&2
    else
        echo "could not put the previous $1 certificate back: $(reason "$SAVE/rb")" >&2
        return 1
    fi
}
"""
)
# The undo of a step that succeeded (the switch runs it instead of re-running the step after a restore).
UNDO = (
    HEAD
    + r"""status=0
for svc in exim dovecot; do put_back "$svc" || status=1; done
[ -d "$PREV" ] || echo "nothing to put back: this run kept no earlier service certificate (it installed none, \
or cPanel had none before); Domain TLS certificates AutoSSL got stay" >&2
exit $status
"""
)
# The host-side step: POSIX sh, the calls appended as lines (`install SERVICE LIVE_DIR CUR_CRT CUR_KEY`,
# `autossl USER`, `rebuild`, `restart exim`, then `finish`), every value quoted with shlex.
STEP = (
    HEAD
    + r"""INSTALLED=
AUTOSSL_WAIT=900
AUTOSSL_POLL=2
U=/usr/local/cpanel/bin/uapi
AUTOSSL_USERS=
rollback() { for svc in $INSTALLED; do put_back "$svc"; done; }
fail() {
    echo "$1" >&2
    rollback
    [ -z "$AUTOSSL_USERS" ] || echo "kept: the Domain TLS certificates AutoSSL got for$AUTOSSL_USERS" >&2
    exit 1
}
checked() {
    ok "$SAVE/out" || fail "whmapi1 $1 failed: $(reason "$SAVE/out")"
}
call() {
    "$W" --output=json "$@" >"$SAVE/out" 2>"$SAVE/err" || fail "whmapi1 $1 did not run: $(tail -n 1 "$SAVE/err")"
    checked "$1"
}
install() {
    if [ -f "$3" ] && [ -f "$4" ]; then
        { mkdir -p "$PREV" && cp "$3" "$PREV/$1.crt" && cp "$4" "$PREV/$1.key"; } ||
            fail "cannot keep a copy of the $1 certificate in $PREV"
    fi
    INSTALLED="$INSTALLED $1"
    put "$1" "$2/cert.pem" "$2/privkey.pem" "$2/chain.pem" >"$SAVE/out" 2>"$SAVE/err" ||
        fail "whmapi1 install_service_ssl_certificate did not run: $(tail -n 1 "$SAVE/err")"
    checked install_service_ssl_certificate
}
# AutoSSL runs in the background (the call returns a pid): wait for it as cPanel's own UI does, through
# UAPI SSL::is_autossl_check_in_progress, then read SSL::get_autossl_problems for the user's result.
uapi() {
    "$U" --user="$1" --output=json SSL "$2" >"$SAVE/out" 2>"$SAVE/err" ||
        fail "uapi SSL $2 did not run: $(tail -n 1 "$SAVE/err")"
    grep -q '"status"[[:space:]]*:[[:space:]]*1[,}[:space:]]' "$SAVE/out" || fail "uapi SSL $2 failed for $1"
}
autossl() {
    call start_autossl_check_for_one_user "username=$1"
    waited=0
    while uapi "$1" is_autossl_check_in_progress; ! grep -q '"data"[[:space:]]*:[[:space:]]*0[,}]' "$SAVE/out"; do
        [ "$waited" -lt "$AUTOSSL_WAIT" ] ||
            fail "cPanel's AutoSSL check for $1 still runs after $AUTOSSL_WAIT s (WHM: Manage AutoSSL, Logs)"
        sleep "$AUTOSSL_POLL"
        waited=$((waited + AUTOSSL_POLL))
    done
    uapi "$1" get_autossl_problems
    grep -q '"data"[[:space:]]*:[[:space:]]*\[[[:space:]]*\]' "$SAVE/out" ||
        fail "cPanel's AutoSSL could not get a certificate for $1: $(sed -n 's/.*"problem"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$SAVE/out" | head -n 1)"
    AUTOSSL_USERS="$AUTOSSL_USERS $1"
}
rebuild() { call rebuild_mail_sni_config reload_dovecot=1; }
restart() { "/scripts/restartsrv_$1" >"$SAVE/rs" 2>&1 || fail "/scripts/restartsrv_$1 failed: $(tail -n 1 "$SAVE/rs")"; }
finish() { exit 0; }
"""
)
_USER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_NOT_ON_HOST = ("dns.", "host.", "tls.unreachable")
# Probe findings name the protocol (imaps, submission, ...): the daemon serving it on a cPanel host (Exim
# speaks SMTP, Dovecot IMAP and POP3); lint findings name the daemon itself.
_DAEMON = {
    name: "exim" if STANDARD_PORTS[port].protocol == "smtp" else "dovecot"
    for name, port in PORT_NUMBERS.items()
} | {"exim": "exim", "dovecot": "dovecot"}


def is_cpanel(state: PlanState) -> bool:
    return any(service.service == "cpanel" for service in state.model.services)


def _domain_entry(finding: Finding) -> str | None:
    if finding.file and finding.file.startswith(DOMAIN_TLS + "/"):
        return finding.file[len(DOMAIN_TLS) + 1 :].split("/", 1)[0]
    return None


def _owner(host: CpanelHost, name: str) -> str | None:
    for candidate in (name, name.removeprefix("mail."), name.removeprefix("www."), name.removeprefix("*.")):
        if candidate in host.domains:
            return host.domains[candidate]
    return None


def plan_cpanel(state: PlanState) -> HostPlan:
    """The whole plan of a cPanel host (the generic planners would edit files cPanel manages)."""
    host = load_cpanel(state.files)
    sni_names = {d.name for d in host.domain_tls}
    service_paths = {svc.path: svc.service for svc in host.service_certs}
    install: dict[str, list[Finding]] = {}
    autossl: dict[str, list[Finding]] = {}
    rebuild: list[Finding] = []
    restart_exim: list[Finding] = []
    for finding in state.problems():
        if finding.check.startswith(_NOT_ON_HOST):
            continue
        entry = _domain_entry(finding)
        daemon = _DAEMON.get(finding.service or "", finding.service)
        if finding.check == "cpanel.sni-stale" or (finding.check == "tls.stale" and daemon == "dovecot"):
            rebuild.append(finding)
        elif finding.check == "tls.stale" and daemon == "exim":
            restart_exim.append(finding)
        elif entry is not None or finding.check == "cpanel.domain-cert-names":
            name = entry or finding.hostname or ""
            user = _owner(host, name)
            if user is None or not _USER.match(user):
                state.cannot(f"no cPanel account owns {name} (/etc/userdomains)", [finding])
            else:
                autossl.setdefault(user, []).append(finding)
        elif finding.service == "cpanel" and finding.file in service_paths:
            install.setdefault(service_paths[finding.file], []).append(finding)
        elif daemon in SERVICE_CERTS and (finding.hostname is None or finding.hostname not in sni_names):
            install.setdefault(str(daemon), []).append(finding)
        elif daemon in SERVICE_CERTS and finding.hostname is not None:
            user = _owner(host, finding.hostname)
            if user is not None and _USER.match(user):
                autossl.setdefault(user, []).append(finding)
    changes: list[Change] = []
    calls: list[str] = []
    if install:
        issue, live_dir = _certificate(state, host)
        if live_dir is None:
            for findings in install.values():
                state.cannot(issue.description if issue else "no certificate can be made", findings)
        else:
            if issue is not None:
                changes.append(issue)
            current = {svc.service: svc.path for svc in host.service_certs}
            # both services get the lineage, not only the one with a finding: Exim and Dovecot serve the same
            # names, and two certificates for one name are tls.inconsistent
            for service in sorted(SERVICE_CERTS):
                crt = current.get(service, SERVICE_CERTS[service][0])
                words = (service, live_dir, crt, _key_path(crt))
                calls.append("install " + " ".join(shlex.quote(w) for w in words))
            hook = _deploy_hook(
                state, live_dir, {s: current.get(s, SERVICE_CERTS[s][0]) for s in SERVICE_CERTS}
            )
            if hook is not None:
                changes.append(hook)
    # AutoSSL last: a failed check changes nothing (cPanel keeps the old Domain TLS certificate), so a
    # failure there rolls the whole host back. Only the mail SNI rebuild follows a good check; if it fails,
    # the service certificates are put back but the new Domain TLS certificates stay (cPanel's API has no
    # call that puts an older Domain TLS certificate back), and the step's error says so.
    if rebuild:
        calls.append("rebuild")
    if restart_exim:
        calls.append("restart exim")
    for user in sorted(autossl):
        calls.append(f"autossl {shlex.quote(user)}")
    if autossl:
        calls.append("rebuild")
    if calls:
        removes = [*(f for fs in install.values() for f in fs), *(f for fs in autossl.values() for f in fs),
                   *rebuild, *restart_exim]  # fmt: skip
        script = STEP + "\n" + "\n".join(calls) + "\nfinish\n"
        changes.append(
            Change(
                ChangeKind.COMMAND,
                "through cPanel's API: "
                + "; ".join(_said(call) for call in calls)
                + " (rolled back through the "
                "API on any failure)",
                tuple(dict.fromkeys(label(f) for f in removes)),
                command=Command(("sh", "-c", script, "mailcert-cpanel")),
                service="cpanel",
                # never run again after a restore (it would install the new certificates again)
                undo=Command(("sh", "-c", UNDO, "mailcert-cpanel-undo")),
            )
        )
        state.covered.update(removes)
    for finding in state.problems():
        if finding not in state.covered:
            state.unfixable.append(f"{label(finding)}: not changed automatically — {finding.fix}")
    return HostPlan(host=state.host.name, changes=tuple(changes), unfixable=tuple(state.unfixable))


def _deploy_hook(state: PlanState, live_dir: str, services: dict[str, str]) -> Change | None:
    """certbot's deploy hook installing a renewed lineage into cPanel again (cPanel keeps copies): without it
    the next renewal never reaches Exim and Dovecot (renewal.unmanaged-path)."""
    context = {
        "api_sh": API_SH,
        "live_dir": values.path(live_dir, "a certbot live/ folder"),
        "services": [{"service": s, "crt": values.path(crt, "a cPanel service certificate"), "read_as": READ_AS[s]}
                     for s, crt in sorted(services.items())],
    }  # fmt: skip
    text = state.roles.render("cpanel", "deploy_hook", context)
    path = f"{state.certbot.config_dir}/renewal-hooks/deploy/{CPANEL_HOOK}"
    existing = state.files.read_config(path).text if state.files.exists(path) else None
    if existing == text:
        return None
    description = (
        f"install certbot deploy hook {path}: after a renewal, install it into cPanel again "
        f"(whmapi1 install_service_ssl_certificate service={','.join(sorted(services))})"
    )
    kind = ChangeKind.CREATE if existing is None else ChangeKind.EDIT
    return Change(kind, description, file=FileChange(path, existing, text, mode=0o755), service="certbot")


def _key_path(crt: str) -> str:
    return crt.removesuffix(".crt") + ".key"


def _said(call: str) -> str:
    words = shlex.split(call)
    if words[0] == "install":
        return f"whmapi1 install_service_ssl_certificate service={words[1]} (certificate from {words[2]})"
    if words[0] == "autossl":
        return f"whmapi1 start_autossl_check_for_one_user username={words[1]}"
    if words[0] == "rebuild":
        return "whmapi1 rebuild_mail_sni_config reload_dovecot=1"
    return "/scripts/restartsrv_exim"


def _certificate(state: PlanState, host: CpanelHost) -> tuple[Change | None, str | None]:
    """(certbot step or None, the lineage folder to install from) for the service certificate's names."""
    sni_names = {d.name for d in host.domain_tls}
    names = [n for n in host.client_names if n not in sni_names]
    if not names:
        return Change(ChangeKind.ISSUE, "the server's hostname is unknown (/etc/hostname)"), None
    name = names[0]
    lineage = state.certbot.lineage(name)
    if lineage is not None and lineage_covers(lineage, names) and lineage_healthy(state, lineage):
        return None, lineage.live_dir
    if lineage is not None and lineage_covers(lineage, names):
        target = _renew(state, lineage)
    else:
        wanted = list(dict.fromkeys([*(lineage.names if lineage else ()), *names]))
        live_dir = lineage.live_dir if lineage else f"{state.certbot.config_dir}/live/{name}"
        target = _certonly(state, name, live_dir, wanted, expand=lineage is not None, lineage=lineage)
    if target.command is None:
        return Change(ChangeKind.ISSUE, target.why_not or "certbot cannot run"), None
    description = (
        f"certbot: a certificate for {', '.join(target.names)} (lineage {target.name}) for cPanel's services"
    )
    return Change(ChangeKind.ISSUE, description, command=target.command, service="certbot"), target.live_dir
