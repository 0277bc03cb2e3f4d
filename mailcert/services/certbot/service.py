"""certbot's descriptor (services/registry lists it). Not a mail service of its own: never detected as a
role and without a ServiceConfig parser (services/certbot/parser.read_certbot reads its lineages for every
host); listed so that its role file (the deploy hook template) and its planner have a registry entry."""

from __future__ import annotations

from mailcert.services.descriptor import Service

SERVICE = Service(
    name="certbot",
    summary="certbot: ACME lineages, renewal configuration and deploy hooks under /etc/letsencrypt",
    config_folders=("/etc/letsencrypt/",),
    daemons=("certbot",),
)
