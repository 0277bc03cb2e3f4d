"""How Dovecot 2.3 merges filter blocks. Every expectation was printed by the real doveconf 2.3.19:
`doveconf -c FILE -f lname=… -f local=… -f remote=… -f protocol=… -h ssl_cert` ("CONFLICT" = doveconf
failed with "Conflict in setting ssl_cert found from filter at FILE:LINE", LINE given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.hostfs import LocalRoot
from mailcert.services.dovecot.config import DovecotConfig, load_dovecot_config
from mailcert.services.dovecot.filters import FilterConflictError, wildcard_match


def config_of(tmp_path: Path, text: str) -> DovecotConfig:
    path = tmp_path / "etc/dovecot/dovecot.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_dovecot_config(LocalRoot(tmp_path))


B = (
    "ssl = required\n"
    'local_name "mail.example.org *.example.net" {\n'
    "  ssl_cert = </etc/ssl/sni.pem  # trailing\n"
    "  ssl_key = </etc/ssl/sni.key\n"
    "}\n"
    "ssl_cert = </etc/ssl/global.pem\n"
    "ssl_key = </etc/ssl/global.key\n"
    "protocol imap {\n"
    "  ssl_cert = </etc/ssl/imap.pem\n"
    "}\n"
    "local 192.0.2.10 {\n"
    "  ssl_cert = </etc/ssl/local.pem\n"
    "}\n"
    "ssl_cert = </etc/ssl/global2.pem\n"
)
C = (
    "ssl_cert = </etc/ssl/g.pem\n"
    "ssl_cert = </etc/ssl/g2.pem\n"
    "protocol imap {\n"
    "  ssl_cert = </etc/ssl/imap.pem\n"
    "}\n"
    "local_name imap.example.org {\n"
    "  ssl_cert = </etc/ssl/sni.pem\n"
    "  protocol imap {\n"
    "    ssl_cert = </etc/ssl/imap-sni.pem\n"
    "  }\n"
    "}\n"
    "local_name *.example.org {\n"
    "  ssl_cert = </etc/ssl/wild.pem\n"
    "}\n"
    "local_name pop.example.org {\n"
    "  ssl_key = </etc/ssl/wild.key\n"
    "}\n"
)

CASES: list[tuple[str, dict[str, str], str | int]] = [
    (B, {}, "</etc/ssl/global2.pem"),
    (B, {"local_name": "mail.example.org"}, "</etc/ssl/sni.pem"),
    (B, {"local_name": "imap.example.net"}, "</etc/ssl/sni.pem"),
    (B, {"local_name": "example.net"}, "</etc/ssl/global2.pem"),
    (B, {"protocol": "imap"}, "</etc/ssl/imap.pem"),
    (B, {"protocol": "imap", "local_name": "mail.example.org"}, 8),
    (B, {"local": "192.0.2.10"}, "</etc/ssl/local.pem"),
    (B, {"local": "192.0.2.10", "protocol": "imap"}, 8),
    (C, {}, "</etc/ssl/g2.pem"),
    (C, {"local_name": "imap.example.org"}, "</etc/ssl/sni.pem"),
    (C, {"local_name": "IMAP.example.org"}, "</etc/ssl/sni.pem"),
    (C, {"local_name": "x.example.org"}, "</etc/ssl/wild.pem"),
    (C, {"local_name": "a.b.example.org"}, "</etc/ssl/g2.pem"),
    (C, {"local_name": "pop.example.org"}, "</etc/ssl/wild.pem"),
    (C, {"protocol": "imap"}, "</etc/ssl/imap.pem"),
    (C, {"protocol": "imap", "local_name": "imap.example.org"}, 3),
    (C, {"protocol": "pop3", "local_name": "imap.example.org"}, "</etc/ssl/sni.pem"),
    (C, {"protocol": "imap", "local_name": "x.example.org"}, 3),
    (
        "local_name a {\n protocol imap {\n  ssl_cert = N\n }\n}\nprotocol imap {\n ssl_cert = P\n}\n",
        {"local_name": "a", "protocol": "imap"},
        6,
    ),
    (
        "local 1.2.3.4 {\n protocol imap {\n  ssl_cert = N\n }\n}\nprotocol imap {\n ssl_cert = P\n}\n",
        {"local": "1.2.3.4", "protocol": "imap"},
        6,
    ),
    (
        "local 1.2.3.4 {\n protocol imap {\n  ssl_cert = N\n }\n}\nlocal 1.2.3.4 {\n ssl_cert = L\n}\n",
        {"local": "1.2.3.4", "protocol": "imap"},
        "N",
    ),
    (
        "local 1.2.3.4 {\n local_name a {\n  ssl_cert = N\n }\n}\nlocal_name a {\n ssl_cert = A\n}\n",
        {"local": "1.2.3.4", "local_name": "a"},
        "N",
    ),
    (
        "local 1.2.3.4 {\n local_name a {\n  ssl_cert = N\n }\n}\nlocal 1.2.3.4 {\n ssl_cert = L\n}\n",
        {"local": "1.2.3.4"},
        "L",
    ),
    ("local_name *.b {\n ssl_cert = W\n}\nlocal_name a.b {\n ssl_cert = S\n}\n", {"local_name": "a.b"}, "W"),
    ("local_name a.b {\n ssl_cert = S\n}\nlocal_name *.b {\n ssl_cert = W\n}\n", {"local_name": "a.b"}, "S"),
    (
        'local_name "a.b c.b" {\n ssl_cert = S\n}\nlocal_name c.b {\n ssl_cert = W\n}\n',
        {"local_name": "c.b"},
        "S",
    ),
    ("protocol imap {\n ssl_cert = P\n}\nprotocol imap {\n ssl_cert = Q\n}\n", {"protocol": "imap"}, "Q"),
    (
        'protocol imap {\n ssl_cert = P\n}\nprotocol "imap pop3" {\n ssl_cert = Q\n}\n',
        {"protocol": "pop3"},
        "",
    ),
    ("protocol !imap {\n ssl_cert = P\n}\n", {"protocol": "imap"}, ""),
    ("protocol !imap {\n ssl_cert = P\n}\n", {"protocol": "pop3"}, "P"),
    ("protocol !imap {\n ssl_cert = P\n}\n", {}, ""),
    ("local 1.2.3.0/24 {\n ssl_cert = C\n}\nlocal 1.2.3.4 {\n ssl_cert = L\n}\n", {"local": "1.2.3.4"}, "L"),
    ("local 1.2.3.0/24 {\n ssl_cert = C\n}\nlocal 1.2.3.4 {\n ssl_cert = L\n}\n", {"local": "1.2.3.5"}, "C"),
    ("local 1.2.3.5/24 {\n ssl_cert = N\n}\n", {"local": "1.2.3.4"}, "N"),
    (
        "remote 1.2.3.0/24 {\n ssl_cert = R\n}\nlocal 1.2.3.4 {\n ssl_cert = L\n}\n",
        {"local": "1.2.3.4", "remote": "1.2.3.9"},
        1,
    ),
    (
        "local 1.2.3.4 {\n ssl_cert = L\n}\nlocal_name a {\n ssl_cert = A\n}\n",
        {"local": "1.2.3.4", "local_name": "a"},
        1,
    ),
    (
        "local_name a {\n ssl_cert = A\n}\nlocal 1.2.3.4 {\n ssl_cert = L\n}\n",
        {"local": "1.2.3.4", "local_name": "a"},
        4,
    ),
    (
        "protocol imap {\n ssl_cert = P\n}\nremote 1.2.3.0/24 {\n ssl_cert = R\n}\n",
        {"remote": "1.2.3.4", "protocol": "imap"},
        1,
    ),
    (
        "remote 1.2.3.4 {\n ssl_cert = R\n}\nlocal_name a {\n ssl_cert = A\n}\n",
        {"remote": "1.2.3.4", "local_name": "a"},
        1,
    ),
    (
        "local_name a {\n protocol imap {\n   ssl_dh = x\n }\n}\nprotocol imap {\n ssl_cert = P\n}\n",
        {"local_name": "a", "protocol": "imap"},
        "P",
    ),
    (
        "protocol imap {\n ssl_cert = A\n}\nlocal_name a {\n ssl_cert = A\n}\n",
        {"local_name": "a", "protocol": "imap"},
        1,
    ),
    (
        "local_name a {\n remote 1.2.3.4 {\n  ssl_cert = N\n }\n}\n",
        {"remote": "1.2.3.4", "local_name": "a"},
        "N",
    ),
    (
        'ssl_cert = G\nlocal_name "a c" {\n ssl_cert = N\n}\nlocal_name c {\n ssl_key = K\n}\n',
        {"local_name": "c"},
        "N",
    ),
]


@pytest.mark.parametrize(("text", "query", "expected"), CASES)
def test_lookup_like_doveconf(tmp_path: Path, text: str, query: dict[str, str], expected: str | int) -> None:
    config = config_of(tmp_path, text)
    if isinstance(expected, int):
        with pytest.raises(FilterConflictError) as caught:
            config.value("ssl_cert", **query)
        later = caught.value.later.location
        assert later is not None and later.line == expected
    else:
        assert config.value("ssl_cert", **query) == expected


def test_global_after_filter_is_reported_like_doveconf_warns(tmp_path: Path) -> None:
    config = config_of(tmp_path, B)
    # doveconf: "line 6: Global setting ssl_cert won't change the setting inside an earlier filter at line 3",
    # line 7 for ssl_key (line 4), line 14 for ssl_cert (line 3)
    warned = sorted(
        (o.later.location.line, o.earlier.location.line) for o in config.overrides if o.global_after_filter
    )
    assert warned == [(6, 3), (7, 4), (14, 3)]


def test_dash_n_conflict_of_nested_block(tmp_path: Path) -> None:
    # doveconf -n: "Conflict in setting ssl_cert found from filter at c.conf:3"
    config = config_of(tmp_path, C)
    assert [(c.key, c.later.location.line if c.later.location else 0) for c in config.conflicts()] == [
        ("ssl_cert", 3)
    ]
    assert config_of(tmp_path, B).conflicts() == []  # doveconf -n accepted it


def test_dash_n_output_of_filters(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        "ssl = yes\nssl_min_protocol = TLSv1.2\nprotocol imap {\n  ssl = yes\n  ssl_min_protocol = TLSv1.2\n"
        "  ssl_cert = </a\n}\nlocal 10.0.0.0/8 {\n  protocol imap {\n    ssl_key = </k\n  }\n}\n"
        'local_name "x.y *.z" {\n  ssl_cert = "</a b"\n}\n',
    )
    # doveconf -nP: globals equal to the default are left out; inside filters everything set is shown
    assert config.non_default() == {
        ("protocol imap",): {"ssl": "yes", "ssl_min_protocol": "TLSv1.2", "ssl_cert": "</a"},
        ("local 10.0.0.0/8", "protocol imap"): {"ssl_key": "</k"},
        ("local_name x.y *.z",): {"ssl_cert": "</a b"},
    }


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.example.net", "imap.example.net", True),
        ("*.example.net", "example.net", False),
        ("*.example.net", "a.b.example.net", False),
        ("mail.example.org", "MAIL.example.org", True),
        ("mail.example.org.", "mail.example.org", True),
    ],
)
def test_local_name_wildcards(pattern: str, name: str, matches: bool) -> None:
    assert wildcard_match(pattern, name) is matches
