"""The lab's web server: nginx serving Thunderbird autoconfig, Outlook autodiscover (POX) and MTA-STS
policies over HTTPS for the lab mail domains, with certificates from the lab CA.

Web faults change a document or a certificate: `autoconfig-ssl-587` (socketType SSL on the STARTTLS port),
`mta-sts-mx-mismatch` (the policy's mx: names another domain), `autodiscover-wrong-cert` (the autodiscover
site serves a certificate for another name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from mailcert.lab.dns import LabMailDomain
from mailcert.lab.pki import LabCA, cert_pem, issue_leaf, key_pem, new_key

WEB_FAULTS = ("autoconfig-ssl-587", "mta-sts-mx-mismatch", "autodiscover-wrong-cert")

AUTOCONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <incomingServer type="imap">
      <hostname>imap.{domain}</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.%EMAILDOMAIN%</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.{domain}</hostname><port>587</port><socketType>{submission_socket}</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""

AUTODISCOVER = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>IMAP</Type><Server>imap.{domain}</Server><Port>993</Port>
        <SSL>on</SSL><SPA>off</SPA><AuthRequired>on</AuthRequired>
      </Protocol>
      <Protocol>
        <Type>SMTP</Type><Server>smtp.{domain}</Server><Port>587</Port>
        <SSL>on</SSL><Encryption>TLS</Encryption><SPA>off</SPA><AuthRequired>on</AuthRequired>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>
"""


def documents_for(domain: LabMailDomain) -> dict[tuple[str, str], str]:
    """(site, path) → document text for one domain, faults applied."""
    d = domain.domain
    socket_type = "SSL" if "autoconfig-ssl-587" in domain.faults else "STARTTLS"
    mx = f"*.elsewhere.{d}" if "mta-sts-mx-mismatch" in domain.faults else domain.mx_host
    policy = f"version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 86400\r\n"
    autoconfig = AUTOCONFIG.format(domain=d, submission_socket=socket_type)
    return {
        (f"autoconfig.{d}", "/mail/config-v1.1.xml"): autoconfig,
        (d, "/.well-known/autoconfig/mail/config-v1.1.xml"): autoconfig,
        (f"autodiscover.{d}", "/autodiscover/autodiscover.xml"): AUTODISCOVER.format(domain=d),
        (f"mta-sts.{d}", "/.well-known/mta-sts.txt"): policy,
    }


def _site_names(domain: LabMailDomain) -> dict[str, str]:
    """Site → the name its certificate is issued for (another name for autodiscover-wrong-cert)."""
    d = domain.domain
    sites = {d: d, f"autoconfig.{d}": f"autoconfig.{d}", f"mta-sts.{d}": f"mta-sts.{d}"}
    wrong = "autodiscover-wrong-cert" in domain.faults
    sites[f"autodiscover.{d}"] = f"www.elsewhere.{d}" if wrong else f"autodiscover.{d}"
    return sites


def write_site(
    domains: Sequence[LabMailDomain], ca: LabCA, workdir: Path, listen: str, now: dt.datetime
) -> Path:
    """Documents, certificates and nginx.conf under workdir; returns the config file."""
    servers = []
    for domain in domains:
        documents = documents_for(domain)
        for site, cert_name in _site_names(domain).items():
            folder = workdir / "sites" / site
            folder.mkdir(parents=True, exist_ok=True)
            key = new_key()
            leaf = issue_leaf(ca.intermediate, [cert_name], key, not_before=now - dt.timedelta(hours=1),
                              not_after=now + dt.timedelta(days=90))  # fmt: skip
            (folder / "fullchain.pem").write_bytes(cert_pem(leaf) + cert_pem(ca.intermediate.cert))
            key_file = folder / "privkey.pem"
            key_file.touch(mode=0o600)
            key_file.write_bytes(key_pem(key))
            locations = []
            for (doc_site, path), text in documents.items():
                if doc_site != site:
                    continue
                local = folder / "docs" / path.lstrip("/")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(text)
                mime = "text/plain" if path.endswith(".txt") else "text/xml"
                locations.append(f"        location = {path} {{ default_type {mime}; alias {local}; }}")
            servers.append(
                "\n".join([
                    "    server {",
                    f"        listen {listen}:443 ssl;",
                    f"        server_name {site};",
                    f"        ssl_certificate {folder / 'fullchain.pem'};",
                    f"        ssl_certificate_key {key_file};",
                    "        error_page 405 =200 $uri;  # autodiscover is POSTed; static files answer GET only",
                    *locations,
                    "    }",
                ])
            )  # fmt: skip
    conf = workdir / "nginx.conf"
    conf.write_text(
        "\n".join([
            "user root;", "worker_processes 1;", "daemon off;", f"pid {workdir / 'nginx.pid'};",
            f"error_log {workdir / 'error.log'};", "events { worker_connections 64; }", "http {",
            f"    access_log {workdir / 'access.log'};", f"    client_body_temp_path {workdir / 'tmp'};",
            f"    proxy_temp_path {workdir / 'tmp'};", f"    fastcgi_temp_path {workdir / 'tmp'};",
            f"    uwsgi_temp_path {workdir / 'tmp'};", f"    scgi_temp_path {workdir / 'tmp'};",
            "    server_names_hash_bucket_size 128;",
            *servers, "}", "",
        ])
    )  # fmt: skip
    (workdir / "tmp").mkdir(exist_ok=True)
    return conf
