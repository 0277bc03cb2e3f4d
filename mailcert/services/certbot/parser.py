"""Read certbot's state from a host's files: lineages, hooks, renewal scheduling (never runs certbot).

Layout (certbot 2.x, reference §5.1): renewal/NAME.conf describes lineage NAME; live/NAME/*.pem are
relative symlinks into archive/NAME/*N.pem; renewal-hooks/{pre,deploy,post}/ hold hook scripts.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from cryptography import x509

from mailcert.facts import HostFiles
from mailcert.pki.certinfo import san_dns_names, san_ip_addresses
from mailcert.services.certbot.conf import (
    ConfSyntaxError,
    RenewalConf,
    as_bool,
    parse_cli_ini,
    parse_renewal_conf,
)
from mailcert.services.certbot.hooks import called_programs, reload_actions
from mailcert.services.certbot.model import (
    ArchiveVersion,
    CertbotState,
    Hook,
    HookStage,
    Lineage,
    RenewalFailure,
)
from mailcert.services.certbot.schedule import find_certbot, read_schedules

DEFAULT_CONFIG_DIR = "/etc/letsencrypt"
LOG_FILE = "/var/log/letsencrypt/letsencrypt.log"
LIVE_FILES = ("cert", "chain", "fullchain", "privkey")
_LIVE_ROLE = re.compile(r"/live/(?P<name>[^/]+)/(?P<role>cert|chain|fullchain|privkey)\.pem$")
_ARCHIVE_ROLE = re.compile(
    r"/archive/(?P<name>[^/]+)/(?P<role>cert|chain|fullchain|privkey)(?P<number>\d+)\.pem$"
)
_CERT_VERSION = re.compile(r"^cert(\d+)\.pem$")
_FAILURE = re.compile(
    r"^(?P<when>\S+ \S+?)(?:,\d+)?:ERROR:\S+:Failed to renew certificate (?P<name>\S+) with error: (?P<error>.*)$"
)
_MAX_FAILURE_LINES = 200
MAX_HOOK_CHARS = 64 * 1024  # hooks are short scripts; longer text is read only this far


def lineage_file_role(path: str) -> str | None:
    """The role of a certbot live/NAME/X.pem or archive/NAME/XN.pem path: cert, chain, fullchain, privkey.

    None for any other path. Works for any --config-dir: only the live/ and archive/ layout is matched.
    """
    match = _LIVE_ROLE.search(path) or _ARCHIVE_ROLE.search(path)
    return match.group("role") if match else None


def read_certbot(files: HostFiles, config_dir: str = DEFAULT_CONFIG_DIR) -> CertbotState:
    """certbot's lineages, hooks and renewal scheduling as the host's files show them."""
    config_dir = config_dir.rstrip("/") or "/"
    lineages = [_read_lineage(files, config_dir, path) for path in files.glob(f"{config_dir}/renewal/*.conf")]
    known = {lineage.name for lineage in lineages}
    for name in files.listdir(f"{config_dir}/live"):
        if name not in known and files.is_dir(f"{config_dir}/live/{name}"):
            lineages.append(_orphan_lineage(files, config_dir, name))
    schedules, schedule_known = read_schedules(files)
    installed, certbot_paths, certbot_version = find_certbot(files)
    return CertbotState(
        config_dir=config_dir,
        lineages=tuple(sorted(lineages, key=lambda lineage: lineage.name)),
        hooks=(*_hook_files(files, config_dir), *_cli_ini_hooks(files, config_dir)),
        schedules=schedules,
        schedule_known=schedule_known,
        installed=installed,
        certbot_paths=certbot_paths,
        certbot_version=certbot_version,
        failures=_renewal_failures(files),
    )


def _read_lineage(files: HostFiles, config_dir: str, conf_path: str) -> Lineage:
    name = conf_path.rsplit("/", 1)[1].removesuffix(".conf")
    text = files.read_config(conf_path)
    if text.text is None:
        return _with_live_facts(
            files, _default_lineage(config_dir, name, conf_path, error=f"{conf_path}: {text.error}")
        )
    try:
        conf = parse_renewal_conf(text.text)
    except ConfSyntaxError as exc:
        error = f"{conf_path} is broken ({exc}); certbot skips it, so this certificate is never renewed"
        return _with_live_facts(files, _default_lineage(config_dir, name, conf_path, error=error))
    return _with_live_facts(files, _lineage_from_conf(files, config_dir, name, conf_path, conf))


def _default_lineage(
    config_dir: str, name: str, conf_path: str | None, *, error: str | None = None
) -> Lineage:
    live = f"{config_dir}/live/{name}"
    return Lineage(
        name=name,
        config_dir=config_dir,
        renewal_conf=conf_path,
        cert=f"{live}/cert.pem",
        chain=f"{live}/chain.pem",
        fullchain=f"{live}/fullchain.pem",
        privkey=f"{live}/privkey.pem",
        archive_dir=f"{config_dir}/archive/{name}",
        conf_error=error,
    )


def _lineage_from_conf(
    files: HostFiles, config_dir: str, name: str, conf_path: str, conf: RenewalConf
) -> Lineage:
    default = _default_lineage(config_dir, name, conf_path)
    missing = [key for key in LIVE_FILES if not conf.top.get(key)]
    params = conf.renewalparams
    error = None
    if missing:
        # certbot: "renewal config file ... is missing a required file reference" and skips the lineage
        error = f"{conf_path} names no {', '.join(missing)} file; certbot skips it, so it is never renewed"
    hooks = tuple(
        _saved_hook(files, stage, conf_path, key, params[key])
        for stage, key in (
            (HookStage.PRE, "pre_hook"),
            (HookStage.DEPLOY, "renew_hook"),
            (HookStage.POST, "post_hook"),
        )
        if params.get(key)
    )
    return Lineage(
        name=name,
        config_dir=config_dir,
        renewal_conf=conf_path,
        cert=conf.top.get("cert") or default.cert,
        chain=conf.top.get("chain") or default.chain,
        fullchain=conf.top.get("fullchain") or default.fullchain,
        privkey=conf.top.get("privkey") or default.privkey,
        archive_dir=conf.top.get("archive_dir") or default.archive_dir,
        hooks=hooks,
        authenticator=params.get("authenticator"),
        server=params.get("server"),
        key_type=params.get("key_type"),
        reuse_key=as_bool(params.get("reuse_key")) is True,
        autorenew=as_bool(params.get("autorenew")) is not False,
        renew_before_expiry=conf.renew_before_expiry,
        version=conf.top.get("version"),
        webroot_map=tuple(sorted(conf.webroot_map.items())),
        manual_auth_hook=params.get("manual_auth_hook"),
        conf_error=error,
    )


def _orphan_lineage(files: HostFiles, config_dir: str, name: str) -> Lineage:
    error = f"{config_dir}/live/{name}/ has no renewal conf ({config_dir}/renewal/{name}.conf): certbot never renews it"
    return _with_live_facts(files, _default_lineage(config_dir, name, None, error=error))


def _with_live_facts(files: HostFiles, lineage: Lineage) -> Lineage:
    """Add the live certificate's names and dates and the archive versions."""
    versions = _archive_versions(files, lineage.archive_dir)
    facts = files.pem_file(lineage.cert)
    leaf = _load(facts.certificates[0]) if facts.certificates else None
    if leaf is None:
        error = f"{lineage.cert}: {facts.error or facts.pem_error or 'no certificate in it'}"
        return replace(lineage, versions=versions, cert_error=error)
    return replace(
        lineage,
        names=(*san_dns_names(leaf), *san_ip_addresses(leaf)),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        leaf_der=facts.certificates[0],
        versions=versions,
    )


def _archive_versions(files: HostFiles, archive_dir: str) -> tuple[ArchiveVersion, ...]:
    versions: list[ArchiveVersion] = []
    for name in files.listdir(archive_dir):
        match = _CERT_VERSION.match(name)
        if match is None:
            continue
        path = f"{archive_dir}/{name}"
        certificates = files.pem_file(path).certificates
        leaf = _load(certificates[0]) if certificates else None
        not_after = leaf.not_valid_after_utc if leaf is not None else None
        versions.append(
            ArchiveVersion(int(match.group(1)), path, certificates[0] if leaf else None, not_after)
        )
    return tuple(sorted(versions, key=lambda version: version.number))


def _load(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _saved_hook(files: HostFiles, stage: HookStage, source: str, setting: str, command: str) -> Hook:
    return Hook(stage, source, command, runs=True, reloads=_reloads(files, command), setting=setting)


def _reloads(files: HostFiles, script: str, depth: int = 0) -> frozenset[str]:
    """What the shell text reloads, including scripts it calls by absolute path (one level deep)."""
    actions = set(reload_actions(script[:MAX_HOOK_CHARS]))
    if depth == 0:
        for program in called_programs(script[:MAX_HOOK_CHARS]):
            # only small scripts ("#!"), never binaries such as /usr/sbin/postfix
            size = files.stat(program).size
            called = files.read_config(program) if size is not None and size <= MAX_HOOK_CHARS else None
            if called is not None and called.text is not None and called.text.startswith("#!"):
                actions |= _reloads(files, called.text, depth + 1)
    return frozenset(actions)


def _hook_files(files: HostFiles, config_dir: str) -> list[Hook]:
    hooks: list[Hook] = []
    for stage in HookStage:
        for path in files.glob(f"{config_dir}/renewal-hooks/{stage.value}/*"):
            if files.is_dir(path):
                continue
            facts = files.stat(path)
            executable = facts.mode is not None and bool(facts.mode & 0o111) and facts.error is None
            text = files.read_config(path) if (facts.size or 0) <= MAX_HOOK_CHARS else None
            reloads = (
                _reloads(files, text.text) if text is not None and text.text is not None else frozenset()
            )
            runs = executable and not path.endswith("~")
            error = text.error if text is not None else f"larger than {MAX_HOOK_CHARS // 1024} KiB; not read"
            body = text.text if text is not None else None
            hooks.append(Hook(stage, path, body, runs, reloads, mode=facts.mode, error=error))
    return hooks


def _cli_ini_hooks(files: HostFiles, config_dir: str) -> list[Hook]:
    path = f"{config_dir}/cli.ini"
    text = files.read_config(path).text
    if text is None:
        return []
    values = parse_cli_ini(text)
    stages = {
        "pre-hook": HookStage.PRE,
        "deploy-hook": HookStage.DEPLOY,
        "renew-hook": HookStage.DEPLOY,
        "post-hook": HookStage.POST,
    }
    return [
        _saved_hook(files, stage, path, key, values[key]) for key, stage in stages.items() if values.get(key)
    ]


def _renewal_failures(files: HostFiles) -> tuple[RenewalFailure, ...]:
    text = files.read_config(LOG_FILE).text
    if text is None:
        return ()
    failures: list[RenewalFailure] = []
    for line in text.splitlines():
        match = _FAILURE.match(line)
        if match:
            failures.append(
                RenewalFailure(match.group("name"), match.group("when"), match.group("error")[:300], LOG_FILE)
            )
    return tuple(failures[-_MAX_FAILURE_LINES:])


def when(value: datetime | None) -> str:
    """A date as messages show it (UTC day), or "unknown"."""
    return value.strftime("%Y-%m-%d") if value is not None else "unknown"
