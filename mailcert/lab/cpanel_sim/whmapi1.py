"""SIMULATOR of cPanel's `whmapi1` command line (WHM API 1) for the lab's `cpanel` hosts.

Usage: whmapi1 [--output=yaml|json|jsonpretty] [--input=json] FUNCTION [key=value ...]

Simulated as published (reference §4.2, cPanel's WHM API 1 docs): the envelope
`{"data": ..., "metadata": {"command", "reason", "result", "version": 1}}`, YAML unless --output says
otherwise, values URI-decoded, `result` 0 with the error in `reason` on failure. Functions:
fetch_service_ssl_components, install_service_ssl_certificate (exim, dovecot), rebuild_mail_sni_config
(reload_dovecot), mail_sni_status, start_autossl_check_for_one_user (returns the pid of a check that
runs in the background, as cPanel's; mailcert.lab.cpanel_sim.autossl). Not as published: the AutoSSL
provider is certbot against the lab's ACME server. A function cPanel does not have fails with
cPanel's "Unknown app" reason; a real one this SIMULATOR does not model fails saying so. Function
names listed in /var/cpanel/mailcert-sim/fail-calls fail (changing nothing): the lab's failure switch.
The process exits 0 whenever it printed an envelope; callers read metadata.result.

`--input=json` reads the arguments as one JSON object on standard input (values as they are, not
URI-encoded), so a private key need not appear on a command line; cPanel's command line takes it this way
(seen in use; cPanel's CLI pages document --output only). Every call's command line is appended to
/var/cpanel/mailcert-sim/calls.log (root-only): the lab's record of what local users could have read in
/proc/PID/cmdline while the call ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from mailcert.lab.cpanel_sim import certinfo, restartsrv, store

Result = tuple[dict[str, object] | None, str | None]  # (data, error reason)
# Real WHM API 1 functions near this area that the SIMULATOR does not model.
NOT_SIMULATED = {
    "reset_service_ssl_certificate", "start_autossl_check_for_all_users", "get_autossl_problems_for_user",
    "get_autossl_log", "get_autossl_providers", "set_autossl_provider", "installssl", "fetch_ssl_vhosts",
    "fetchsslinfo", "disable_mail_sni", "enable_mail_sni",
}  # fmt: skip
SERVICES = ("exim", "dovecot", "cpanel", "ftp")
DESCRIPTIONS = {"exim": "Mail Server (Exim)", "dovecot": "Mail Server (Dovecot)"}


def _service_entry(root: Path, service: str) -> dict[str, object] | None:
    installed = store.read_service(root, service)
    if installed is None:
        return None
    crt, key, cab = installed
    return {
        "service": service,
        "certificate": crt,
        "key": key,
        "cabundle": cab,
        "certificate_info": certinfo.certificate_info(crt),
    }


def fetch_service_ssl_components(root: Path, args: Mapping[str, str]) -> Result:
    services = [e for s in store.SERVICE_FILES if (e := _service_entry(root, s)) is not None]
    return {"services": services}, None


def _main_cert_domains(root: Path) -> list[str]:
    installed = store.read_service(root, "dovecot")
    info = certinfo.certificate_info(installed[0]) if installed else None
    domains = info["domains"] if info else []
    return [str(d) for d in domains] if isinstance(domains, list) else []


def _reload_dovecot() -> str | None:
    done = subprocess.run(["doveadm", "reload"], capture_output=True, text=True, check=False)
    return None if done.returncode == 0 else f"dovecot reload failed: {done.stderr.strip()}"


def install_service_ssl_certificate(root: Path, args: Mapping[str, str]) -> Result:
    service = args.get("service", "")
    for required in ("service", "crt", "key"):
        if not args.get(required):
            return None, f"Missing parameter: {required}"
    if service not in SERVICES:
        return None, f"Invalid service: “{service}”"
    if service not in store.SERVICE_FILES:
        return None, f"SIMULATOR: service {service} is not simulated (only exim and dovecot)"
    crt, key, cab = args["crt"], args["key"], args.get("cabundle", "")
    info = certinfo.certificate_info(crt)
    if info is None:
        return None, "The certificate could not be parsed."
    if not certinfo.key_matches(crt, key):
        return None, "The certificate does not match the private key."
    config = store.SimConfig.load(root)
    # cPanel fetches a missing CA bundle from the issuer (AIA); the lab has no AIA: installed without one.
    store.install_service(root, service, crt, key, cab, config.key_group)
    if service == "dovecot":
        store.rebuild_sni_conf(root, _main_cert_domains(root))
    ok, said = restartsrv.restart(service)
    if not ok:  # as cPanel: the new certificate stays installed; the caller sees the restart fail
        return None, f"The certificate was installed, but “{service}” did not restart: {said}"
    return {
        "service": service,
        "certificate": crt,
        "certificate_info": info | {"validation_type": None},
        "service_description": DESCRIPTIONS[service],
    }, None


def rebuild_mail_sni_config(root: Path, args: Mapping[str, str]) -> Result:
    built = store.rebuild_sni_conf(root, _main_cert_domains(root))
    if args.get("reload_dovecot") == "1":
        problem = _reload_dovecot()
        if problem:
            return None, problem
    return {"configs_built": [built], "success": 1}, None


def mail_sni_status(root: Path, args: Mapping[str, str]) -> Result:
    return {"enabled": 1}, None


def start_autossl_check_for_one_user(root: Path, args: Mapping[str, str]) -> Result:
    from mailcert.lab.cpanel_sim import autossl

    user = args.get("username", "")
    if not user:
        return None, "Missing parameter: username"
    return autossl.start(root, user)


FUNCTIONS: dict[str, Callable[[Path, Mapping[str, str]], Result]] = {
    f.__name__: f
    for f in (
        fetch_service_ssl_components,
        install_service_ssl_certificate,
        rebuild_mail_sni_config,
        mail_sni_status,
        start_autossl_check_for_one_user,
    )
}


def call(root: Path, function: str, args: Mapping[str, str]) -> dict[str, object]:
    """One API call → the WHM API 1 envelope."""
    data: dict[str, object] | None
    reason: str | None
    if function in store.failing_calls(root):
        data, reason = None, f"SIMULATOR: {function} failed on purpose ({store.FAIL_CALLS})"
    elif function in FUNCTIONS:
        data, reason = FUNCTIONS[function](root, args)
    elif function in NOT_SIMULATED:
        data, reason = None, f"SIMULATOR: {function} is a WHM API 1 function this simulator does not model"
    else:
        data, reason = None, f"Unknown app (“{function}”) requested for this version (1) of the API."
    envelope: dict[str, object] = {
        "metadata": {
            "command": function,
            "reason": reason or "OK",
            "result": 0 if reason else 1,
            "version": 1,
        }
    }
    if data is not None:
        envelope["data"] = data
    return envelope


def render(envelope: Mapping[str, object], output: str) -> str:
    if output == "json":
        return json.dumps(envelope, ensure_ascii=False) + "\n"
    if output == "jsonpretty":
        return json.dumps(envelope, ensure_ascii=False, indent=3) + "\n"
    return "---\n" + yaml.safe_dump(dict(envelope), allow_unicode=True, default_flow_style=False)


def _stdin_arguments() -> dict[str, str] | str:
    """--input=json: the arguments as one JSON object on standard input, or the reason it is not one."""
    try:
        data = json.loads(sys.stdin.read() or "{}")
    except ValueError as error:
        return f"The input could not be parsed as JSON: {error}"
    if not isinstance(data, dict):
        return "The input must be a JSON object of argument names and values."
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(os.environ.get("MAILCERT_CPANEL_SIM_ROOT", "/"))
    store.log_call(root, ["whmapi1", *args])
    output, stdin_input = "yaml", False
    while args and args[0].startswith("--"):
        option = args.pop(0)
        if option.startswith("--output="):
            output = option.split("=", 1)[1]
        elif option == "--input=json":
            stdin_input = True
        elif option in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            print(f"whmapi1 (SIMULATOR): unknown option {option}", file=sys.stderr)
            return 1
    if output not in ("yaml", "json", "jsonpretty"):
        print(f"whmapi1 (SIMULATOR): unsupported --output={output}", file=sys.stderr)
        return 1
    if not args:
        print(
            "usage: whmapi1 [--output=yaml|json|jsonpretty] FUNCTION [key=value ...] (SIMULATOR)",
            file=sys.stderr,
        )
        return 1
    function, params = args[0], {}
    for pair in args[1:]:
        key, _, value = pair.partition("=")
        params[urllib.parse.unquote(key)] = urllib.parse.unquote(value)
    if stdin_input:
        given = _stdin_arguments()
        if isinstance(given, str):
            envelope = {"metadata": {"command": function, "reason": given, "result": 0, "version": 1}}
            sys.stdout.write(render(envelope, output))
            return 0
        params.update(given)
    sys.stdout.write(render(call(root, function, params), output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
