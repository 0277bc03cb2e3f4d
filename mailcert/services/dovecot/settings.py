"""What Dovecot knows about its TLS settings: names per version, defaults, value types, 2.3 → 2.4 renames.

Defaults and names of 2.3 are from `doveconf -a` of Dovecot 2.3.19 (Debian 12); the 2.4 names are from
the 2.3-to-2.4 upgrade notes (docs/installation/upgrade/include/2.4-converted-settings.inc).
"""

from __future__ import annotations

import difflib

# doveconf -a, Dovecot 2.3.19: every global setting whose name mentions ssl/tls, with its default.
DEFAULTS_23: dict[str, str] = {
    "auth_ssl_require_client_cert": "no",
    "auth_ssl_username_from_cert": "no",
    "doveadm_ssl": "no",
    "imapc_ssl": "no",
    "imapc_ssl_verify": "yes",
    "pop3c_ssl": "no",
    "pop3c_ssl_verify": "yes",
    "ssl": "yes",
    "ssl_alt_cert": "",
    "ssl_alt_key": "",
    "ssl_ca": "",
    "ssl_cert": "",
    "ssl_cert_username_field": "commonName",
    "ssl_cipher_list": "ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:!ADH:!LOW@STRENGTH",
    "ssl_cipher_suites": "",
    "ssl_client_ca_dir": "",
    "ssl_client_ca_file": "",
    "ssl_client_cert": "",
    "ssl_client_key": "",
    "ssl_client_require_valid_cert": "yes",
    "ssl_crypto_device": "",
    "ssl_curve_list": "",
    "ssl_dh": "",
    "ssl_key": "",
    "ssl_key_password": "",
    "ssl_min_protocol": "TLSv1.2",
    "ssl_options": "",
    "ssl_prefer_server_ciphers": "no",
    "ssl_require_crl": "yes",
    "ssl_verify_client_cert": "no",
    "submission_relay_ssl": "no",
    "submission_relay_ssl_verify": "yes",
    "submission_ssl": "no",
    "verbose_ssl": "no",
    # not TLS by name, but what the listeners depend on
    "disable_plaintext_auth": "yes",
    "protocols": "",
}

# Accepted by 2.3 with "Obsolete setting" warnings; ssl_protocols is converted to ssl_min_protocol.
OBSOLETE_23 = {
    "ssl_protocols": "has been replaced by ssl_min_protocol",
    "ssl_parameters_regenerate": "is no longer needed",
    "ssl_dh_parameters_length": "is no longer needed",
}

# 2.3 name → 2.4 name (2.4-converted-settings.inc). ssl_ca is split in 2.4; the server side is shown.
RENAMED_24: dict[str, str] = {
    "ssl_cert": "ssl_server_cert_file",
    "ssl_key": "ssl_server_key_file",
    "ssl_key_password": "ssl_server_key_password",
    "ssl_alt_cert": "ssl_server_alt_cert_file",
    "ssl_alt_key": "ssl_server_alt_key_file",
    "ssl_ca": "ssl_server_ca_file",
    "ssl_ca_file": "ssl_client_ca_file",
    "ssl_ca_dir": "ssl_client_ca_dir",
    "ssl_client_cert": "ssl_client_cert_file",
    "ssl_client_key": "ssl_client_key_file",
    "ssl_dh": "ssl_server_dh_file",
    "ssl_cert_username_field": "ssl_server_cert_username_field",
    "ssl_prefer_server_ciphers": "ssl_server_prefer_ciphers",
    "ssl_require_crl": "ssl_server_require_crl",
    "ssl_verify_client_cert": "ssl_server_request_client_cert",
    "verbose_ssl": "log_debug = category=ssl",
    "disable_plaintext_auth": "auth_allow_cleartext",
    "ssl_protocols": "ssl_min_protocol",
}

# 2.4 defaults of the settings modelled here (ssl, ssl_min_protocol as in 2.3; auth_allow_cleartext = no).
DEFAULTS_24: dict[str, str] = {
    "dovecot_config_version": "",
    "dovecot_storage_version": "",
    "ssl": "yes",
    "ssl_min_protocol": "TLSv1.2",
    "ssl_cipher_list": "",
    "ssl_cipher_suites": "",
    "ssl_curve_list": "",
    "ssl_options": "",
    "ssl_crypto_device": "",
    "ssl_server_cert_file": "",
    "ssl_server_key_file": "",
    "ssl_server_key_password": "",
    "ssl_server_alt_cert_file": "",
    "ssl_server_alt_key_file": "",
    "ssl_server_ca_file": "",
    "ssl_server_dh_file": "",
    "ssl_server_cert_username_field": "commonName",
    "ssl_server_prefer_ciphers": "client",
    "ssl_server_require_crl": "yes",
    "ssl_server_request_client_cert": "no",
    "ssl_client_ca_file": "",
    "ssl_client_ca_dir": "",
    "ssl_client_cert_file": "",
    "ssl_client_key_file": "",
    "ssl_client_key_password": "",
    "ssl_client_require_valid_cert": "yes",
    "auth_allow_cleartext": "no",
    "auth_ssl_require_client_cert": "no",
    "auth_ssl_username_from_cert": "no",
    "protocols": "",
}

BOOLEAN_SETTINGS = frozenset(
    {
        "auth_ssl_require_client_cert",
        "auth_ssl_username_from_cert",
        "disable_plaintext_auth",
        "auth_allow_cleartext",
        "ssl_client_require_valid_cert",
        "ssl_prefer_server_ciphers",
        "ssl_require_crl",
        "ssl_server_require_crl",
        "ssl_server_request_client_cert",
        "ssl_verify_client_cert",
        "verbose_ssl",
        "doveadm_ssl",
        "imapc_ssl_verify",
        "pop3c_ssl_verify",
        "submission_relay_ssl_verify",
    }
)

SSL_VALUES = ("yes", "no", "required")
MIN_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "ANY", "LATEST")
LEGACY_MIN_PROTOCOLS = frozenset({"SSLv3", "TLSv1", "TLSv1.1", "ANY"})

# Settings this model reads; duplicates and filter shadowing are reported only for these.
MODELLED_23 = frozenset(
    {
        "ssl",
        "ssl_cert",
        "ssl_key",
        "ssl_alt_cert",
        "ssl_alt_key",
        "ssl_ca",
        "ssl_key_password",
        "ssl_min_protocol",
        "ssl_verify_client_cert",
        "ssl_dh",
        "ssl_cipher_list",
        "ssl_prefer_server_ciphers",
        "disable_plaintext_auth",
        "protocols",
    }
)
MODELLED_24 = frozenset(
    {
        "ssl",
        "ssl_server_cert_file",
        "ssl_server_key_file",
        "ssl_server_alt_cert_file",
        "ssl_server_alt_key_file",
        "ssl_server_ca_file",
        "ssl_server_key_password",
        "ssl_min_protocol",
        "ssl_server_request_client_cert",
        "ssl_server_dh_file",
        "ssl_cipher_list",
        "auth_allow_cleartext",
        "protocols",
    }
)

# 2.3 certificate settings whose value must be "<path".
FILE_VALUE_23 = ("ssl_cert", "ssl_key", "ssl_alt_cert", "ssl_alt_key", "ssl_ca", "ssl_dh")


def defaults(version: str) -> dict[str, str]:
    return DEFAULTS_24 if version == "2.4" else DEFAULTS_23


def modelled(version: str) -> frozenset[str]:
    return MODELLED_24 if version == "2.4" else MODELLED_23


def is_tls_name(key: str) -> bool:
    """Names this linter checks for typos: ssl_* and the other settings with ssl in their name."""
    lowered = key.lower()
    return lowered.startswith("ssl") or "_ssl" in lowered


def is_tls_setting(key: str) -> bool:
    """Settings `config.overridden` reports when set twice (SPEC: TLS settings only): the ssl ones and those
    that decide whether passwords need TLS. Layouts set others twice on purpose (`port = 0` re-opened in a later
    file, `protocols` after an include)."""
    return is_tls_name(key) or key in ("disable_plaintext_auth", "auth_allow_cleartext")


def suggest(key: str, version: str) -> str | None:
    """The known setting closest to a misspelt one, if any is close."""
    names = list(defaults(version))
    if version == "2.3":
        names += list(OBSOLETE_23)
    close = difflib.get_close_matches(key.lower(), names, n=1, cutoff=0.75)
    return close[0] if close else None


def parse_bool(value: str) -> bool | None:
    """Dovecot 2.3's boolean parser: yes/y/1 and no, any case; anything else is an error (None)."""
    lowered = value.lower()
    if lowered in ("yes", "y", "1"):
        return True
    if lowered == "no":
        return False
    return None


def min_protocol_from_ssl_protocols(value: str) -> str | None:
    """What 2.3 converts an obsolete `ssl_protocols` list to; None when it cannot (doveconf logs an error).

    Dovecot 2.3.19 knows SSLv3 to TLSv1.2 only: any other name, `!SSLv2` of the old defaults and TLSv1.3
    included, makes doveconf log "Unrecognized protocol" and keep the default ssl_min_protocol (checked with
    `doveconf -c FILE -h ssl_min_protocol`)."""
    order = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"]
    allowed: list[str] = []
    excluded: set[str] = set()
    for word in value.replace(",", " ").split():
        name = word[1:] if word.startswith("!") else word
        if name not in order:
            return None
        if word.startswith("!"):
            excluded.add(name)
        else:
            allowed.append(name)
    candidates = [p for p in order if p not in excluded and (not allowed or p in allowed)]
    return candidates[0] if candidates else None
