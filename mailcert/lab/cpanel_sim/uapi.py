"""SIMULATOR of cPanel's `uapi` command line, only the SSL module's mail SNI functions.

Usage: uapi [--output=yaml|json|jsonpretty] [--user=USER] SSL FUNCTION [key=value ...]

Simulated: SSL::mail_sni_status, SSL::rebuild_mail_sni_config, and for --user=USER
SSL::is_autossl_check_in_progress (data 1 or 0) and SSL::get_autossl_problems (data: [{domain, problem,
time}] of the user's last AutoSSL check), in the UAPI envelope
`{"apiversion": 3, "func", "module", "result": {"data", "errors", "messages", "metadata", "status",
"warnings"}}` (reference §4.2 marks the exact shape UNVERIFIED). Other calls fail with status 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mailcert.lab.cpanel_sim import store
from mailcert.lab.cpanel_sim.whmapi1 import render


def call(root: Path, module: str, function: str, user: str | None = None) -> dict[str, object]:
    from mailcert.lab.cpanel_sim import autossl

    data: object = None
    errors: list[str] | None = None
    if function in ("is_autossl_check_in_progress", "get_autossl_problems") and module == "SSL" and not user:
        errors = ["This function needs a cPanel user (--user=USER)."]
    elif (module, function) == ("SSL", "is_autossl_check_in_progress"):
        data = 1 if autossl.in_progress(root, str(user)) else 0
    elif (module, function) == ("SSL", "get_autossl_problems"):
        data = autossl.problems(root, str(user))
    elif (module, function) == ("SSL", "mail_sni_status"):
        data = {"enabled": 1}
    elif (module, function) == ("SSL", "rebuild_mail_sni_config"):
        from mailcert.lab.cpanel_sim.whmapi1 import _main_cert_domains

        store.rebuild_sni_conf(root, _main_cert_domains(root))
        data = 1
    else:
        errors = [f"Failed to load module “{module}”: function {function} is not simulated (SIMULATOR)."]
    result = {
        "data": data, "errors": errors, "messages": None, "metadata": {}, "status": 0 if errors else 1,
        "warnings": ["Mail SNI is always enabled now."] if function == "mail_sni_status" else None,
    }  # fmt: skip
    return {"apiversion": 3, "func": function, "module": module, "result": result}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    output, user = "yaml", None
    while args and args[0].startswith("--"):
        option = args.pop(0)
        if option.startswith("--output="):
            output = option.split("=", 1)[1]
        elif option.startswith("--user="):
            user = option.split("=", 1)[1]
        elif option in ("-h", "--help"):
            print(__doc__)
            return 0
    if len(args) < 2:
        print(
            "usage: uapi [--output=json] [--user=USER] MODULE FUNCTION [key=value ...] (SIMULATOR)",
            file=sys.stderr,
        )
        return 1
    root = Path(os.environ.get("MAILCERT_CPANEL_SIM_ROOT", "/"))
    sys.stdout.write(render(call(root, args[0], args[1], user), output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
