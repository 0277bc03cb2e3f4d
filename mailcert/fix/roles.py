"""Roles: per host service, how to validate and reload it, and the templates of files `fix` may write.

Loaded from the installed package (roles/ ships as mailcert/roles; in a checkout, the repository's roles/)
and then from a roles folder named explicitly (`--roles DIR` or the inventory's `mailcert_roles_dir`),
which overrides or adds, like Ansible's roles path: a role.yml there replaces the keys it sets, a template
there replaces the packaged one. Its validate and reload commands run as root on every host, so the folder
and everything in it must be owned by the invoking user or root and not writable by group or others; a
`roles/` folder that merely sits in the working directory is not read (issue 19).
Templates render in Jinja2's immutable sandbox with StrictUndefined and no autoescaping (they are shell
and config files, not HTML); the `shell_quote` filter quotes a value for sh.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailcert.errors import MailcertError
from mailcert.facts import HostFiles

_PACKAGE = Path(__file__).resolve().parent.parent


def default_paths() -> list[Path]:
    """The packaged roles (installed: mailcert/roles; checkout: ./roles beside the package)."""
    return [p for p in (_PACKAGE / "roles", _PACKAGE.parent / "roles") if p.is_dir()][:1]


def role_paths(override: str | None) -> list[Path]:
    """The packaged roles, then `override` (a roles folder named by --roles or mailcert_roles_dir) once it
    passes trusted_roles_dir."""
    paths = default_paths()
    if override:
        folder = trusted_roles_dir(Path(override))
        if all(folder != p.resolve() for p in paths):
            paths.append(folder)
    return paths


def trusted_roles_dir(folder: Path) -> Path:
    """`folder` resolved, after checking that it, everything in it (symlinks followed) and every folder above
    it belong to the invoking user or root and are not writable by group or others (a folder above may be
    world-writable with the sticky bit, as /tmp is): its commands run as root on every host. Otherwise one
    MailcertError line naming the first path that fails, as OpenSSH's StrictModes does for its files."""
    resolved = folder.expanduser().resolve()
    if not resolved.is_dir():
        raise MailcertError(
            f"roles folder {folder} does not exist or is not a folder",
            todo="fix --roles or mailcert_roles_dir",
        )
    for parent in reversed(resolved.parents):
        _refuse(folder, parent, _untrusted(parent, sticky_ok=True))
    for path in _everything_in(resolved):
        _refuse(folder, path, _untrusted(path))
    return resolved


MAX_ROLE_ENTRIES = 10000  # a roles folder holds a few dozen files; more is a mistake, not a roles folder


def _everything_in(folder: Path) -> list[Path]:
    """`folder` and every path below it, following symlinks (each real folder visited once)."""
    found, stack, seen = [folder], [folder], {folder}
    while stack:
        for entry in sorted(stack.pop().iterdir()):
            found.append(entry)
            real = entry.resolve()
            if entry.is_dir() and real not in seen:
                seen.add(real)
                stack.append(entry)
            if len(found) > MAX_ROLE_ENTRIES:
                raise MailcertError(f"roles folder {folder} holds more than {MAX_ROLE_ENTRIES} files")
    return found


def _refuse(folder: Path, path: Path, why: str | None) -> None:
    if why is None:
        return
    raise MailcertError(
        f"roles folder {folder} is not safe to use: {path} {why}; its validate and reload commands would run "
        "as root on every host",
        todo=f"chown it to yourself or root and `chmod go-w {shlex.quote(str(path))}`, "
        "or drop --roles / mailcert_roles_dir",
    )


def _untrusted(path: Path, *, sticky_ok: bool = False) -> str | None:
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if info.st_uid not in (0, os.geteuid()):
        return f"is owned by uid {info.st_uid}, neither you (uid {os.geteuid()}) nor root"
    if sticky_ok and info.st_mode & stat.S_ISVTX:
        return None
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def warn_unnamed_roles_folder(named: str | None, stream: TextIO | None = None) -> bool:
    """One warning when ./roles exists but is not the folder named: it used to be read implicitly."""
    local = Path.cwd() / "roles"
    packaged = {p.resolve() for p in default_paths()}
    if not local.is_dir() or local.resolve() in packaged:
        return False
    if named and Path(named).expanduser().resolve() == local.resolve():
        return False
    print(
        f"mailcert: warning: {local} is not read (a roles folder is used only when named): pass "
        "`--roles roles` or set mailcert_roles_dir to use it",
        file=stream or sys.stderr,
    )
    return True


_role_sets: dict[str | None, RoleSet] = {}


def roles_for(override: str | None) -> RoleSet:
    """The packaged roles plus `override` (None: packaged only), read and checked once per folder per run."""
    key = str(Path(override).expanduser().resolve()) if override else None
    if key not in _role_sets:
        _role_sets[key] = load_roles(role_paths(override))
    return _role_sets[key]


@dataclass(frozen=True)
class RoleCommands:
    """What roles/<service>/role.yml says about one service (services/registry describes the service itself):
    how to validate and reload it after a change, and the templates (name → file) of files it may get."""

    name: str
    systemd_units: tuple[str, ...] = ()
    validate: tuple[tuple[str, ...], ...] = ()
    reload_systemd: tuple[str, ...] = ()
    reload_command: tuple[str, ...] = ()
    # `reload: {unit: {UNIT: argv}}`: the reload through systemd when the host runs the service as UNIT, one of
    # systemd_units other than the one `reload.systemd` names (RHEL's exim.service, Debian's exim4.service)
    reload_unit: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    postmap_sni: tuple[str, ...] = ("postmap", "-F")
    templates: Mapping[str, Path] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def reload_argv(self, systemd: bool, unit: str | None = None) -> tuple[str, ...]:
        """The reload: through systemd (for `unit` when the role names one for it), else the daemon's own."""
        if systemd and unit is not None and unit in self.reload_unit:
            return self.reload_unit[unit]
        return self.reload_systemd if systemd and self.reload_systemd else self.reload_command

    def host_unit(self, files: HostFiles, units: Mapping[str, object]) -> str | None:
        """Which of systemd_units runs the service on this host: the one systemd has loaded (gathered units),
        else the one whose unit file the host's files hold; None when neither tells."""
        for unit in self.systemd_units:
            if getattr(units.get(unit), "load_state", None) == "loaded":
                return unit
        for unit in self.systemd_units:
            if any(files.exists(f"{folder}/{unit}") for folder in UNIT_FOLDERS):
                return unit
        return None


UNIT_FOLDERS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")


@dataclass(frozen=True)
class RoleSet:
    roles: Mapping[str, RoleCommands]
    sources: tuple[Path, ...] = ()

    def role(self, name: str) -> RoleCommands:
        found = self.roles.get(name)
        if found is None:
            searched = ", ".join(str(p) for p in self.sources) or "no roles folder"
            raise MailcertError(f"no role {name!r} (looked in {searched})", todo=f"add roles/{name}/role.yml")
        return found

    def render(self, role: str, template: str, context: Mapping[str, Any]) -> str:
        """Render a role's template (by its key in role.yml `templates:`) in the sandbox."""
        found = self.role(role)
        path = found.templates.get(template)
        if path is None:
            raise MailcertError(
                f"role {role} has no template {template!r}", todo=f"add it to roles/{role}/role.yml"
            )
        env = ImmutableSandboxedEnvironment(
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["shell_quote"] = lambda value: shlex.quote(str(value))
        try:
            return env.from_string(path.read_text(encoding="utf-8")).render(**context)
        except (OSError, UnicodeDecodeError, TemplateError) as exc:
            raise MailcertError(f"{path}: cannot render template: {exc}", todo="fix the template") from exc


def load_roles(paths: Sequence[Path] | None = None) -> RoleSet:
    """Every role found in `paths` (default: the packaged roles); later folders override earlier ones."""
    folders = list(paths) if paths is not None else default_paths()
    raw: dict[str, dict[str, Any]] = {}
    templates: dict[str, dict[str, Path]] = {}
    template_files: dict[str, dict[str, Path]] = {}
    for folder in folders:
        for role_dir in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            name = role_dir.name
            role_file = role_dir / "role.yml"
            if role_file.is_file():
                raw.setdefault(name, {}).update(_read_yaml(role_file))
            for template in (
                sorted((role_dir / "templates").glob("*")) if (role_dir / "templates").is_dir() else []
            ):
                template_files.setdefault(name, {})[template.name] = template
    for name, values in raw.items():
        declared = values.get("templates") or {}
        if not isinstance(declared, dict):
            raise MailcertError(f"roles/{name}/role.yml: `templates` must be a mapping of name → file")
        files = template_files.get(name, {})
        templates[name] = {key: files[str(file)] for key, file in declared.items() if str(file) in files}
    roles = {name: _role(name, values, templates.get(name, {})) for name, values in raw.items()}
    return RoleSet(roles, tuple(folders))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MailcertError(f"{path}: cannot read role: {exc}", todo="fix the YAML") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MailcertError(f"{path}: a role file must be a mapping", todo="see roles/postfix/role.yml")
    return data


def _argv(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise MailcertError(f"{where} must be a command as a list of words, e.g. [postfix, reload]")
    return tuple(str(v) for v in value)


def _role(name: str, values: Mapping[str, Any], templates: Mapping[str, Path]) -> RoleCommands:
    where = f"roles/{name}/role.yml"
    reload = values.get("reload") or {}
    if not isinstance(reload, dict):
        raise MailcertError(f"{where}: `reload` must be a mapping with `systemd` and `command`")
    validate = values.get("validate") or []
    if not isinstance(validate, list):
        raise MailcertError(f"{where}: `validate` must be a list of commands")
    per_unit = reload.get("unit") or {}
    if not isinstance(per_unit, dict):
        raise MailcertError(f"{where}: `reload.unit` must be a mapping of systemd unit → command")
    return RoleCommands(
        name=name,
        systemd_units=_argv(values.get("systemd_units") or [], f"{where} systemd_units"),
        validate=tuple(_argv(v, f"{where} validate") for v in validate),
        reload_systemd=_argv(reload.get("systemd"), f"{where} reload.systemd"),
        reload_command=_argv(reload.get("command"), f"{where} reload.command"),
        reload_unit={
            str(unit): _argv(argv, f"{where} reload.unit.{unit}") for unit, argv in per_unit.items()
        },
        postmap_sni=_argv(values.get("postmap_sni"), f"{where} postmap_sni") or ("postmap", "-F"),
        templates=dict(templates),
        settings=dict(values),
    )
