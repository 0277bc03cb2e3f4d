"""The local lab: real mail hosts in network + mount namespaces, a lab CA, Pebble and mock DNS.

Layout of the package, by stage of `lab up`:
- `network`   the lab's fixed address range, bridge, veth pairs and network namespaces
- `pki`, `certs` the lab CA (root, intermediate) and host certificates, made with `cryptography`
- `layout`    a host's files under DIR/hosts/NAME/root, laid out like the real filesystem
- `kinds`     what each kind of host runs (postfix-dovecot, exim-dovecot; room for cpanel)
- `services`, `procs` daemons inside a host's namespaces; processes by recorded pid + start time
- `pebble`    Pebble (ACME) and pebble-challtestsrv (mock DNS) on the lab bridge
- `faults`    realistic misconfigurations, one small function each
- `inventory` the Ansible-style inventory, host_vars, SSH key and known_hosts for mailcert itself
- `state`     the state file that lets `lab down` undo a crashed or half-finished `lab up`
- `hostsetup` building one host; `operate` status, exec, plant/reset on a running lab
- `lifecycle` up / down, tying the stages together; `client` a plain mail client for the demo
"""

from __future__ import annotations

from mailcert.errors import MailcertError


class LabError(MailcertError):
    """The lab cannot be built, entered or removed."""


__all__ = ["LabError"]
