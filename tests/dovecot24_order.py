"""Which certificate Dovecot 2.4 serves when several filter blocks match: cases and what Dovecot 2.4.1 served.

Every case is global `ssl_server_cert_file = /certs/g.pem` plus the blocks, asked on a pop3 STARTTLS port
bound to 127.0.0.1 with the SNI name given (None: no SNI). `served` was read from Dovecot 2.4.1 (Debian 13)
with `openssl s_client -starttls pop3 -servername NAME`; tests/oracle/test_dovecot24_served.py asks it again
each run, tests/unit/test_dovecot24.py checks mailcert's answer against `served`. The rule they show: the
matching blocks apply in the order of the file, the later winning, whatever their kind or nesting.
"""

from __future__ import annotations

from typing import NamedTuple


class OrderCase(NamedTuple):
    id: str
    blocks: str
    local_name: str | None
    served: str


CERTS = "/certs/"
GLOBAL = "ssl_server_cert_file = /certs/g.pem\n"

ORDER_CASES = [
    OrderCase(
        "local_name-then-protocol",
        "local_name mail.example.org {\n  ssl_server_cert_file = /certs/lname.pem\n}\n"
        "protocol pop3 {\n  ssl_server_cert_file = /certs/proto.pem\n}\n",
        "mail.example.org",
        "/certs/proto.pem",
    ),
    OrderCase(
        "protocol-then-local_name",
        "protocol pop3 {\n  ssl_server_cert_file = /certs/proto.pem\n}\n"
        "local_name mail.example.org {\n  ssl_server_cert_file = /certs/lname.pem\n}\n",
        "mail.example.org",
        "/certs/lname.pem",
    ),
    OrderCase(
        "flat-then-nested",
        "protocol pop3 {\n  ssl_server_cert_file = /certs/proto.pem\n}\n"
        "local_name pop.example.com {\n  protocol pop3 {\n    ssl_server_cert_file = /certs/both.pem\n  }\n}\n",
        "pop.example.com",
        "/certs/both.pem",
    ),
    OrderCase(
        "nested-then-flat",
        "local_name pop.example.com {\n  protocol pop3 {\n    ssl_server_cert_file = /certs/both.pem\n  }\n}\n"
        "protocol pop3 {\n  ssl_server_cert_file = /certs/proto.pem\n}\n",
        "pop.example.com",
        "/certs/proto.pem",
    ),
    OrderCase(
        "narrow-then-wide-local",
        "local 127.0.0.1/32 {\n  ssl_server_cert_file = /certs/l32.pem\n}\n"
        "local 127.0.0.0/8 {\n  ssl_server_cert_file = /certs/l8.pem\n}\n",
        None,
        "/certs/l8.pem",
    ),
    OrderCase(  # two blocks with the same conditions are one, standing where the first stands
        "same-conditions-twice",
        "local_name mail.example.org {\n  ssl_server_cert_file = /certs/lname.pem\n}\n"
        "protocol pop3 {\n  ssl_server_cert_file = /certs/proto.pem\n}\n"
        "local_name mail.example.org {\n  ssl_server_cert_file = /certs/both.pem\n}\n",
        "mail.example.org",
        "/certs/proto.pem",
    ),
    OrderCase(  # accepted by doveconf (-n shows it inside the listener) but not what Dovecot 2.4.1 serves there
        "inside-the-listener",
        "service pop3-login {\n  inet_listener pop3 {\n    ssl_server_cert_file = /certs/proto.pem\n  }\n}\n",
        None,
        "/certs/g.pem",
    ),
    OrderCase(
        "wildcard-then-name",
        "local_name *.example.org {\n  ssl_server_cert_file = /certs/wild.pem\n}\n"
        "local_name mail.example.org {\n  ssl_server_cert_file = /certs/lname.pem\n}\n",
        "mail.example.org",
        "/certs/lname.pem",
    ),
]
