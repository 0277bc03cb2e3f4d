"""The expansion evaluator that picks Exim's default (no-SNI) certificate, and Debian's SMTPLISTENEROPTIONS.

Expected values follow the Exim spec's expansion rules (lexical gt/lt, only the taken branch is expanded).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.hostfs import LocalRoot
from mailcert.services.exim.debian import listener_options
from mailcert.services.exim.expand import CannotEvaluateError, expand, mentions_sni

CPANEL = (
    "${if and {{gt{$tls_in_sni}{}} {!match{$tls_in_sni}{/}}}"
    "{${if exists{/var/cpanel/ssl/domain_tls/$tls_in_sni/combined}"
    "{/var/cpanel/ssl/domain_tls/$tls_in_sni/combined}"
    "{${if exists{/var/cpanel/ssl/domain_tls/${sg{$tls_in_sni}{^[^.]+}{*}}/combined}"
    "{/var/cpanel/ssl/domain_tls/${sg{$tls_in_sni}{^[^.]+}{*}}/combined}{/etc/exim.crt}}}}}"
    "{/etc/exim.crt}}"
)


def nothing_exists(path: str) -> bool:
    return False


def test_cpanel_expression_without_sni_is_the_service_certificate() -> None:
    assert mentions_sni(CPANEL)
    assert expand(CPANEL, {"tls_in_sni": ""}, nothing_exists) == "/etc/exim.crt"


def test_cpanel_expression_with_sni_finds_the_domain_file() -> None:
    present = {"/var/cpanel/ssl/domain_tls/mail.example.com/combined"}
    value = expand(CPANEL, {"tls_in_sni": "mail.example.com"}, present.__contains__)
    assert value == "/var/cpanel/ssl/domain_tls/mail.example.com/combined"


def test_a_slash_in_the_sni_falls_back_to_the_default() -> None:
    assert expand(CPANEL, {"tls_in_sni": "../../etc"}, lambda _: True) == "/etc/exim.crt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/etc/exim/certs/${tls_in_sni}.pem", "/etc/exim/certs/.pem"),
        ("${if def:tls_in_sni {/c/$tls_in_sni.pem}{/c/default.pem}}", "/c/default.pem"),
        ("${if eq{$tls_in_sni}{}{/c/default.pem}{/c/$tls_in_sni.pem}}", "/c/default.pem"),
        ("${if !def:tls_in_sni {/d.pem}}", "/d.pem"),
        ("${if def:tls_in_sni {/c/$tls_in_sni.pem}}", ""),
        ("${if or{{eq{$tls_in_sni}{a}}{eq{$tls_in_sni}{}}}{/yes}{/no}}", "/yes"),
        ("/plain/path.pem : /ec.pem", "/plain/path.pem : /ec.pem"),
        ("\\$literal", "$literal"),
    ],
)
def test_expansions_with_empty_sni(text: str, expected: str) -> None:
    assert expand(text, {"tls_in_sni": ""}, nothing_exists) == expected


@pytest.mark.parametrize(
    "text",
    [
        "${lookup{$tls_in_sni}lsearch{/etc/exim/sni}}",
        "/c/$sender_host_address.pem",
        "${if foo{x}{y}}",
        "${if def:x",
    ],
)
def test_what_cannot_be_evaluated_says_so(text: str) -> None:
    with pytest.raises(CannotEvaluateError):
        expand(text, {"tls_in_sni": ""}, nothing_exists)


@pytest.mark.parametrize(
    ("line", "ports", "interfaces", "on_connect"),
    [
        ("SMTPLISTENEROPTIONS='-oX 465:25 -oP /run/exim4/exim.pid'", "465:25", None, False),
        ('SMTPLISTENEROPTIONS="-oX <;[127.0.0.1]:587;[::1]:587"', None, "<;[127.0.0.1]:587;[::1]:587", False),
        ("SMTPLISTENEROPTIONS='-tls-on-connect -oX 465'", "465", None, True),
        ("SMTPLISTENEROPTIONS=''", None, None, False),
        ("# SMTPLISTENEROPTIONS='-oX 465:25'", None, None, False),
    ],
)
def test_debian_listener_options(
    tmp_path: Path, line: str, ports: str | None, interfaces: str | None, on_connect: bool
) -> None:
    (tmp_path / "etc" / "default").mkdir(parents=True)
    (tmp_path / "etc" / "default" / "exim4").write_text(f"QUEUERUNNER='combined'\n{line}\n")
    options, path = listener_options(LocalRoot(tmp_path))
    assert path == "/etc/default/exim4"
    assert (options.ports, options.interfaces, options.tls_on_connect) == (ports, interfaces, on_connect)
