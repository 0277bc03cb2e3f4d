"""The concrete fix texts of the renewal checks: which setting to change, which hook to install, exactly."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailcert.quoting import shell_command
from mailcert.services.certbot.model import CertbotState, Hook, Lineage

if TYPE_CHECKING:
    from mailcert.checks.renewal_uses import CertUse

HOOK_NAME = "mailcert-reload"
RECONFIGURE_SINCE = (2, 3)  # `certbot reconfigure` first shipped in certbot 2.3.0
# Postfix SNI tables embed the PEM files (postmap -F): rebuild every table tls_server_sni_maps names.
POSTMAP_SNI = "postmap -F $(postconf -xh tls_server_sni_maps | tr ',' ' ')"


PRINTF_LINES = "%s\\n"  # printf's format that prints each argument on a line of its own


def unit_name(service: str, config_file: str | None = None) -> str:
    """The systemd unit that runs `service`: Debian's exim package calls it exim4; the exim of RHEL (EPEL,
    /etc/exim/exim.conf) and of cPanel (/etc/exim.conf) is exim."""
    if service == "exim" and not (config_file or "").startswith(("/etc/exim/", "/etc/exim.conf")):
        return "exim4"
    return service


def use_unit(use: CertUse) -> str:
    """The systemd unit of the service that uses the certificate, by the file that configures it."""
    return unit_name(use.service, use.location.file if use.location else None)


def reload_command(units: Sequence[str], postmap: bool) -> str:
    """The shell command that makes the services (their systemd units, see unit_name) load renewed
    certificates."""
    parts = [POSTMAP_SNI] if postmap else []
    if units:
        parts.append(shell_command("systemctl", "reload", *units))
    return " && ".join(parts)


def repoint_fix(use: CertUse, target: str, is_key: bool, key_target: str | None = None) -> str:
    """Point the setting at certbot's live/ path (and the key setting at privkey.pem) and reload."""
    where = (
        f" ({use.location.file}" + (f" line {use.location.line})" if use.location.line else ")")
        if use.location
        else ""
    )
    what = "key" if is_key else "certificate"
    text = f"set {use.setting}{where} to {target} (the {what} certbot keeps current)"
    if key_target and use.key_path and use.key_path != key_target:
        text += f" and the key setting to {key_target}"
    return f"{text}, then reload {use.service} (`{reload_command([use_unit(use)], False)}`)"


def hook_fix(
    state: CertbotState, lineage: Lineage, services: Sequence[str], postmap: bool, skipped: Sequence[Hook]
) -> str:
    """Make renewals reload the services: enable a skipped hook, or add a deploy hook."""
    enable = [h for h in skipped if not h.source.endswith("~")]
    if enable:
        return f"make the hook executable: `chmod 0755 {shlex.quote(enable[0].source)}`"
    command = reload_command([unit_name(s) for s in services], postmap)
    version = _version(lineage.version) or _version(state.certbot_version)
    if lineage.renew_hook is None and version is not None and version >= RECONFIGURE_SINCE:
        return f"`certbot reconfigure --cert-name {shlex.quote(lineage.name)} --deploy-hook {shlex.quote(command)}`"
    path = f"{state.config_dir}/renewal-hooks/deploy/{HOOK_NAME}"
    script = (
        f"{shell_command('printf', PRINTF_LINES, '#!/bin/sh', command)} > {shlex.quote(path)} && "
        f"{shell_command('chmod', '0755', path)}"
    )
    reason = "certbot runs every executable file in renewal-hooks/deploy/ after each renewal"
    if lineage.renew_hook is not None:
        reason += f"; the lineage's own renew_hook ({lineage.renew_hook}) stays as it is"
    elif version is None or version < RECONFIGURE_SINCE:
        reason += "; `certbot reconfigure --deploy-hook` needs certbot >= 2.3"
    return f"create {path} (mode 0755) with the lines `#!/bin/sh` and `{command}`: `{script}` ({reason})"


def _version(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    match = re.match(r"^(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None
