"""SIMULATOR of cPanel's `uapi` command line, only the SSL module's mail SNI functions.

Usage: uapi [--output=yaml|json|jsonpretty] [--user=USER] SSL FUNCTION [key=value ...]

Simulated: SSL::mail_sni_status and SSL::rebuild_mail_sni_config, in the UAPI envelope
`{"apiversion": 3, "func", "module", "result": {"data", "errors", "messages", "metadata", "status",
"warnings"}}` (reference §4.2 marks the exact shape UNVERIFIED). Other calls fail with status 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mailcert.lab.cpanel_sim import store
from mailcert.lab.cpanel_sim.whmapi1 import render


def call(root: Path, module: str, function: str) -> dict[str, object]:
    data: object = None
    errors: list[str] | None = None
    if (module, function) == ("SSL", "mail_sni_status"):
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
    output = "yaml"
    while args and args[0].startswith("--"):
        option = args.pop(0)
        if option.startswith("--output="):
            output = option.split("=", 1)[1]
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
    sys.stdout.write(render(call(root, args[0], args[1]), output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
