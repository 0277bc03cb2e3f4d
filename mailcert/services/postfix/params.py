"""What Postfix knows about its parameters: built-in defaults and the names of TLS parameters.

Defaults are `postconf -d` of Postfix 3.7.11 (Debian 12) for the parameters TLS decisions and their `$refs`
need, and where Postfix 3.10.13 (Debian 13) differs, its values (`defaults(version)`). myhostname and mydomain
are not here: they depend on the host (see PostfixConfig).
"""

from __future__ import annotations

import difflib
import re

DEFAULTS: dict[str, str] = {
    "command_directory": "/usr/sbin",
    "compatibility_level": "0",
    "config_directory": "/etc/postfix",
    "daemon_directory": "/usr/lib/postfix/sbin",
    "data_directory": "/var/lib/postfix",
    "default_database_type": "hash",
    "html_directory": "/usr/share/doc/postfix/html",
    "inet_interfaces": "all",
    "inet_protocols": "all",
    "mail_name": "Postfix",
    "mail_owner": "postfix",
    "maillog_file": "",
    "manpage_directory": "/usr/share/man",
    "meta_directory": "/etc/postfix",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "mynetworks_style": "${{$compatibility_level} <level {2} ? {subnet} : {host}}",
    "myorigin": "$myhostname",
    "openssl_path": "openssl",
    "postscreen_enforce_tls": "$smtpd_enforce_tls",
    "postscreen_tls_security_level": "$smtpd_tls_security_level",
    "postscreen_use_tls": "$smtpd_use_tls",
    "queue_directory": "/var/spool/postfix",
    "readme_directory": "/usr/share/doc/postfix",
    "sample_directory": "/etc/postfix",
    "setgid_group": "postdrop",
    "shlib_directory": "/usr/lib/postfix",
    "smtpd_banner": "$myhostname ESMTP $mail_name",
    "smtpd_enforce_tls": "no",
    "smtpd_sasl_auth_enable": "no",
    "smtpd_sasl_authenticated_header": "no",
    "smtpd_sasl_exceptions_networks": "",
    "smtpd_sasl_local_domain": "",
    "smtpd_sasl_mechanism_filter": "!external, static:rest",
    "smtpd_sasl_path": "smtpd",
    "smtpd_sasl_response_limit": "12288",
    "smtpd_sasl_security_options": "noanonymous",
    "smtpd_sasl_service": "smtp",
    "smtpd_sasl_tls_security_options": "$smtpd_sasl_security_options",
    "smtpd_sasl_type": "cyrus",
    "smtpd_starttls_timeout": "${stress?{10}:{300}}s",
    "smtpd_tls_CAfile": "",
    "smtpd_tls_CApath": "",
    "smtpd_tls_always_issue_session_ids": "yes",
    "smtpd_tls_ask_ccert": "no",
    "smtpd_tls_auth_only": "no",
    "smtpd_tls_ccert_verifydepth": "9",
    "smtpd_tls_cert_file": "",
    "smtpd_tls_chain_files": "",
    "smtpd_tls_ciphers": "medium",
    "smtpd_tls_dcert_file": "",
    "smtpd_tls_dh1024_param_file": "",
    "smtpd_tls_dh512_param_file": "",
    "smtpd_tls_dkey_file": "$smtpd_tls_dcert_file",
    "smtpd_tls_eccert_file": "",
    "smtpd_tls_eckey_file": "$smtpd_tls_eccert_file",
    "smtpd_tls_eecdh_grade": "auto",
    "smtpd_tls_exclude_ciphers": "",
    "smtpd_tls_fingerprint_digest": "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}",
    "smtpd_tls_key_file": "$smtpd_tls_cert_file",
    "smtpd_tls_loglevel": "0",
    "smtpd_tls_mandatory_ciphers": "medium",
    "smtpd_tls_mandatory_exclude_ciphers": "",
    "smtpd_tls_mandatory_protocols": ">=TLSv1",
    "smtpd_tls_protocols": ">=TLSv1",
    "smtpd_tls_received_header": "no",
    "smtpd_tls_req_ccert": "no",
    "smtpd_tls_security_level": "",
    "smtpd_tls_session_cache_database": "",
    "smtpd_tls_session_cache_timeout": "3600s",
    "smtpd_tls_wrappermode": "no",
    "smtpd_use_tls": "no",
    "stress": "",
    "syslog_facility": "mail",
    "syslog_name": "${multi_instance_name?{$multi_instance_name}:{postfix}}",
    "tls_append_default_CA": "no",
    "tls_config_file": "default",
    "tls_config_name": "",
    "tls_daemon_random_bytes": "32",
    "tls_dane_digests": "sha512 sha256",
    "tls_disable_workarounds": "",
    "tls_eecdh_auto_curves": "X25519 X448 prime256v1 secp521r1 secp384r1",
    "tls_eecdh_strong_curve": "prime256v1",
    "tls_eecdh_ultra_curve": "secp384r1",
    "tls_export_cipherlist": "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH",
    "tls_fast_shutdown_enable": "yes",
    "tls_high_cipherlist": "aNULL:-aNULL:HIGH:@STRENGTH",
    "tls_legacy_public_key_fingerprints": "no",
    "tls_low_cipherlist": "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH",
    "tls_medium_cipherlist": "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH",
    "tls_null_cipherlist": "eNULL:!aNULL",
    "tls_preempt_cipherlist": "no",
    "tls_random_bytes": "32",
    "tls_random_exchange_name": "${data_directory}/prng_exch",
    "tls_random_prng_update_period": "3600s",
    "tls_random_reseed_period": "3600s",
    "tls_random_source": "dev:/dev/urandom",
    "tls_server_sni_maps": "",
    "tls_session_ticket_cipher": "aes-256-cbc",
    "tls_ssl_options": "",
    "tls_wildcard_matches_multiple_labels": "yes",
    "tlsproxy_enforce_tls": "$smtpd_enforce_tls",
    "tlsproxy_tls_CAfile": "$smtpd_tls_CAfile",
    "tlsproxy_tls_CApath": "$smtpd_tls_CApath",
    "tlsproxy_tls_always_issue_session_ids": "$smtpd_tls_always_issue_session_ids",
    "tlsproxy_tls_ask_ccert": "$smtpd_tls_ask_ccert",
    "tlsproxy_tls_ccert_verifydepth": "$smtpd_tls_ccert_verifydepth",
    "tlsproxy_tls_cert_file": "$smtpd_tls_cert_file",
    "tlsproxy_tls_chain_files": "$smtpd_tls_chain_files",
    "tlsproxy_tls_ciphers": "$smtpd_tls_ciphers",
    "tlsproxy_tls_dcert_file": "$smtpd_tls_dcert_file",
    "tlsproxy_tls_dh1024_param_file": "$smtpd_tls_dh1024_param_file",
    "tlsproxy_tls_dh512_param_file": "$smtpd_tls_dh512_param_file",
    "tlsproxy_tls_dkey_file": "$smtpd_tls_dkey_file",
    "tlsproxy_tls_eccert_file": "$smtpd_tls_eccert_file",
    "tlsproxy_tls_eckey_file": "$smtpd_tls_eckey_file",
    "tlsproxy_tls_eecdh_grade": "$smtpd_tls_eecdh_grade",
    "tlsproxy_tls_exclude_ciphers": "$smtpd_tls_exclude_ciphers",
    "tlsproxy_tls_fingerprint_digest": "$smtpd_tls_fingerprint_digest",
    "tlsproxy_tls_key_file": "$smtpd_tls_key_file",
    "tlsproxy_tls_loglevel": "$smtpd_tls_loglevel",
    "tlsproxy_tls_mandatory_ciphers": "$smtpd_tls_mandatory_ciphers",
    "tlsproxy_tls_mandatory_exclude_ciphers": "$smtpd_tls_mandatory_exclude_ciphers",
    "tlsproxy_tls_mandatory_protocols": "$smtpd_tls_mandatory_protocols",
    "tlsproxy_tls_protocols": "$smtpd_tls_protocols",
    "tlsproxy_tls_req_ccert": "$smtpd_tls_req_ccert",
    "tlsproxy_tls_security_level": "$smtpd_tls_security_level",
    "tlsproxy_use_tls": "$smtpd_use_tls",
}

# `postconf -d` of Postfix 3.10.13 (Debian 13) where it differs from 3.7.11 for the names above: OpenSSL's
# weak ciphers and the EXPORT/LOW grades dropped, curves reordered. 3.8 and 3.9 were not run here; they
# are read with the 3.7 values.
_CHANGED_3_10: dict[str, str] = {
    "tls_eecdh_auto_curves": "X25519 X448 prime256v1 secp384r1 secp521r1",
    "tls_export_cipherlist": "",
    "tls_high_cipherlist": "aNULL:-aNULL:HIGH:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:@STRENGTH",
    "tls_low_cipherlist": "",
    "tls_medium_cipherlist": (
        "aNULL:-aNULL:HIGH:MEDIUM:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:+RC4:@STRENGTH"
    ),
    "tls_null_cipherlist": "eNULL:!kDH:!kECDH:!aDSS:!MD5:!aNULL",
}
DEFAULTS_3_10: dict[str, str] = DEFAULTS | _CHANGED_3_10


def defaults(version: str | None) -> dict[str, str]:
    """The built-in defaults of the installed Postfix (`mail_version`, e.g. "3.10.13"); None: unknown, 3.7."""
    return DEFAULTS_3_10 if version is not None and _release(version) >= (3, 10) else DEFAULTS


def _release(version: str) -> tuple[int, int]:
    found = re.match(r"(\d+)\.(\d+)", version.strip())
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


# Every parameter name containing "tls" that `postconf -d` of Postfix 3.7.11 knows, then later additions.
_TLS_NAMES_3_7 = """
    lmtp_enforce_tls lmtp_sasl_tls_security_options lmtp_sasl_tls_verified_security_options
    lmtp_starttls_timeout lmtp_tls_CAfile lmtp_tls_CApath lmtp_tls_block_early_mail_reply
    lmtp_tls_cert_file lmtp_tls_chain_files lmtp_tls_ciphers lmtp_tls_connection_reuse
    lmtp_tls_dcert_file lmtp_tls_dkey_file lmtp_tls_eccert_file lmtp_tls_eckey_file
    lmtp_tls_enforce_peername lmtp_tls_exclude_ciphers lmtp_tls_fingerprint_cert_match
    lmtp_tls_fingerprint_digest lmtp_tls_force_insecure_host_tlsa_lookup lmtp_tls_key_file
    lmtp_tls_loglevel lmtp_tls_mandatory_ciphers lmtp_tls_mandatory_exclude_ciphers
    lmtp_tls_mandatory_protocols lmtp_tls_note_starttls_offer lmtp_tls_per_site lmtp_tls_policy_maps
    lmtp_tls_protocols lmtp_tls_scert_verifydepth lmtp_tls_secure_cert_match lmtp_tls_security_level
    lmtp_tls_servername lmtp_tls_session_cache_database lmtp_tls_session_cache_timeout
    lmtp_tls_trust_anchor_file lmtp_tls_verify_cert_match lmtp_tls_wrappermode lmtp_use_tls
    postscreen_enforce_tls postscreen_tls_security_level postscreen_use_tls smtp_enforce_tls
    smtp_sasl_tls_security_options smtp_sasl_tls_verified_security_options smtp_starttls_timeout
    smtp_tls_CAfile smtp_tls_CApath smtp_tls_block_early_mail_reply smtp_tls_cert_file
    smtp_tls_chain_files smtp_tls_ciphers smtp_tls_connection_reuse smtp_tls_dane_insecure_mx_policy
    smtp_tls_dcert_file smtp_tls_dkey_file smtp_tls_eccert_file smtp_tls_eckey_file
    smtp_tls_enforce_peername smtp_tls_exclude_ciphers smtp_tls_fingerprint_cert_match
    smtp_tls_fingerprint_digest smtp_tls_force_insecure_host_tlsa_lookup smtp_tls_key_file
    smtp_tls_loglevel smtp_tls_mandatory_ciphers smtp_tls_mandatory_exclude_ciphers
    smtp_tls_mandatory_protocols smtp_tls_note_starttls_offer smtp_tls_per_site smtp_tls_policy_maps
    smtp_tls_protocols smtp_tls_scert_verifydepth smtp_tls_secure_cert_match smtp_tls_security_level
    smtp_tls_servername smtp_tls_session_cache_database smtp_tls_session_cache_timeout
    smtp_tls_trust_anchor_file smtp_tls_verify_cert_match smtp_tls_wrappermode smtp_use_tls
    smtpd_client_new_tls_session_rate_limit smtpd_enforce_tls smtpd_sasl_tls_security_options
    smtpd_starttls_timeout smtpd_tls_CAfile smtpd_tls_CApath smtpd_tls_always_issue_session_ids
    smtpd_tls_ask_ccert smtpd_tls_auth_only smtpd_tls_ccert_verifydepth smtpd_tls_cert_file
    smtpd_tls_chain_files smtpd_tls_ciphers smtpd_tls_dcert_file smtpd_tls_dh1024_param_file
    smtpd_tls_dh512_param_file smtpd_tls_dkey_file smtpd_tls_eccert_file smtpd_tls_eckey_file
    smtpd_tls_eecdh_grade smtpd_tls_exclude_ciphers smtpd_tls_fingerprint_digest smtpd_tls_key_file
    smtpd_tls_loglevel smtpd_tls_mandatory_ciphers smtpd_tls_mandatory_exclude_ciphers
    smtpd_tls_mandatory_protocols smtpd_tls_protocols smtpd_tls_received_header smtpd_tls_req_ccert
    smtpd_tls_security_level smtpd_tls_session_cache_database smtpd_tls_session_cache_timeout
    smtpd_tls_wrappermode smtpd_use_tls tls_append_default_CA tls_config_file tls_config_name
    tls_daemon_random_bytes tls_dane_digests tls_disable_workarounds tls_eecdh_auto_curves
    tls_eecdh_strong_curve tls_eecdh_ultra_curve tls_export_cipherlist tls_fast_shutdown_enable
    tls_high_cipherlist tls_legacy_public_key_fingerprints tls_low_cipherlist tls_medium_cipherlist
    tls_null_cipherlist tls_preempt_cipherlist tls_random_bytes tls_random_exchange_name
    tls_random_prng_update_period tls_random_reseed_period tls_random_source tls_server_sni_maps
    tls_session_ticket_cipher tls_ssl_options tls_wildcard_matches_multiple_labels tlsmgr_service_name
    tlsproxy_client_CAfile tlsproxy_client_CApath tlsproxy_client_cert_file tlsproxy_client_chain_files
    tlsproxy_client_dcert_file tlsproxy_client_dkey_file tlsproxy_client_eccert_file
    tlsproxy_client_eckey_file tlsproxy_client_enforce_tls tlsproxy_client_fingerprint_digest
    tlsproxy_client_key_file tlsproxy_client_loglevel tlsproxy_client_loglevel_parameter
    tlsproxy_client_per_site tlsproxy_client_policy_maps tlsproxy_client_scert_verifydepth
    tlsproxy_client_security_level tlsproxy_client_use_tls tlsproxy_enforce_tls tlsproxy_service_name
    tlsproxy_tls_CAfile tlsproxy_tls_CApath tlsproxy_tls_always_issue_session_ids tlsproxy_tls_ask_ccert
    tlsproxy_tls_ccert_verifydepth tlsproxy_tls_cert_file tlsproxy_tls_chain_files tlsproxy_tls_ciphers
    tlsproxy_tls_dcert_file tlsproxy_tls_dh1024_param_file tlsproxy_tls_dh512_param_file
    tlsproxy_tls_dkey_file tlsproxy_tls_eccert_file tlsproxy_tls_eckey_file tlsproxy_tls_eecdh_grade
    tlsproxy_tls_exclude_ciphers tlsproxy_tls_fingerprint_digest tlsproxy_tls_key_file
    tlsproxy_tls_loglevel tlsproxy_tls_mandatory_ciphers tlsproxy_tls_mandatory_exclude_ciphers
    tlsproxy_tls_mandatory_protocols tlsproxy_tls_protocols tlsproxy_tls_req_ccert
    tlsproxy_tls_security_level tlsproxy_use_tls tlsproxy_watchdog_timeout
"""
_TLS_NAMES_LATER = """
    tls_ffdhe_auto_groups smtpd_tls_enable_rpk smtp_tls_enable_rpk lmtp_tls_enable_rpk tlsproxy_tls_enable_rpk
    tlsproxy_client_enable_rpk
    tls_required_enable smtp_tls_enforce_sts_mx_patterns lmtp_tls_enforce_sts_mx_patterns smtp_tlsrpt_enable
    smtp_tlsrpt_skip_reused_handshakes smtp_tlsrpt_socket_name lmtp_tlsrpt_enable lmtp_tlsrpt_skip_reused_handshakes
    lmtp_tlsrpt_socket_name
"""  # the second group: `postconf -d` of Postfix 3.10.13 (Debian 13), TLSRPT and REQUIRETLS among them

# Non-TLS names whose values decide TLS behaviour or the names clients use.
_RELATED = (
    "smtpd_sasl_auth_enable smtpd_sasl_type smtpd_sasl_path smtpd_sasl_security_options "
    "smtpd_sasl_tls_security_options smtpd_starttls_timeout myhostname mydomain myorigin smtpd_banner"
)

TLS_NAMES: frozenset[str] = frozenset((_TLS_NAMES_3_7 + " " + _TLS_NAMES_LATER).split())
RELEVANT_NAMES: frozenset[str] = TLS_NAMES | frozenset(_RELATED.split())
KNOWN_NAMES: frozenset[str] = RELEVANT_NAMES | frozenset(DEFAULTS)

_SERVER_NAMES = sorted(n for n in RELEVANT_NAMES if n.startswith(("smtpd_", "tls_", "my")))


def is_relevant(name: str) -> bool:
    """A parameter that decides how smtpd speaks TLS or which names it answers to."""
    return name in RELEVANT_NAMES


def looks_like_tls_parameter(name: str) -> bool:
    """An unknown name that was probably meant as a TLS parameter (contains "tls", or is one letter off)."""
    lowered = name.lower()
    if "tls" in lowered:
        return True
    # A cheap filter first: difflib is slow, and long main.cf files hold hundreds of other names.
    if not lowered.startswith(("smtpd_", "tls_", "my")):
        return False
    return bool(difflib.get_close_matches(lowered, _SERVER_NAMES, n=1, cutoff=0.85))


def suggest(name: str) -> str | None:
    """The known TLS-related parameter an unknown name most likely stands for."""
    pool = _SERVER_NAMES if name.startswith(("smtpd_", "tls_", "my")) else sorted(RELEVANT_NAMES)
    matches = difflib.get_close_matches(name.lower(), pool, n=1, cutoff=0.75)
    return matches[0] if matches else None
