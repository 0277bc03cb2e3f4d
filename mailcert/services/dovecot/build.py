"""Logical lines → filters, service sections and the problems Dovecot would have with them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from mailcert.services.dovecot import settings as known
from mailcert.services.dovecot.filters import FILTER_KINDS, Filter, Setting, parse_network
from mailcert.services.dovecot.syntax import ConfLine, LineKind, Problem, quote_line
from mailcert.services.model import Location

_SET_VARIABLE = re.compile(r"\$SET:([A-Za-z0-9_]+)")
# Dovecot 2.4 boolean-list settings written as a section of `name = yes|no` items.
_BOOLEAN_LISTS = frozenset({("protocols",)})
# Dovecot 2.4 named filters that only prefix the names inside them: `ssl_server { cert_file = X }` is
# `ssl_server_cert_file = X` in the enclosing filter (the same slot: the later of the two wins), which is how
# 2.4's `doveconf -n` prints every ssl_server_* setting (checked with doveconf 2.4.1).
_PREFIX_SECTIONS = ("ssl_server", "ssl_client")


# The 2.4 certificate and key settings a listener section accepts without using (see _section_setting).
_CERT_FILE_SETTINGS = frozenset(
    {"ssl_server_cert_file", "ssl_server_key_file", "ssl_server_alt_cert_file", "ssl_server_alt_key_file"}
)


@dataclass
class Built:
    filters: list[Filter]
    sections: dict[tuple[str, ...], dict[str, Setting]] = field(default_factory=dict)
    section_locations: dict[tuple[str, ...], Location] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    overrides: list[tuple[Setting, Setting, str, bool]] = field(default_factory=list)


@dataclass
class _Frame:
    filter: Filter
    section: tuple[str, ...]
    begin: ConfLine
    prefix: str = ""  # inside `ssl_server { }`: "ssl_server_"


class _Builder:
    def __init__(self, version: str) -> None:
        self.version = version
        self.root = Filter()
        self.invalid = Filter(labels=("(invalid block)",))  # settings of a refused block go nowhere
        self.out = Built(filters=[self.root])
        self.by_identity: dict[tuple[str | None, ...], Filter] = {}
        self.stack: list[_Frame] = []
        self.seen_in_filter: dict[str, Setting] = {}
        self.first_setting = True
        self.config_version: ConfLine | None = (
            None  # 2.4: the dovecot_config_version line, when it came first
        )
        self.modelled = known.modelled(version)
        self.defaults = known.defaults(version)

    def problem(self, line: ConfLine, message: str, fix: str, *, warning: bool = False) -> None:
        self.out.problems.append(
            Problem(line.file, line.line, message, fix, warning=warning, refused=not warning)
        )

    # -- sections ---------------------------------------------------------------------------------
    def begin(self, line: ConfLine) -> None:
        self.first_directive(line)
        frame = self.stack[-1] if self.stack else None
        flt = frame.filter if frame else self.root
        section = frame.section if frame else ()
        if line.key in FILTER_KINDS and not section:
            self.stack.append(_Frame(self._nested(flt, line), (), line))
            return
        if self.version == "2.4" and line.key in _PREFIX_SECTIONS and not line.value and not section:
            self.stack.append(_Frame(flt, (), line, prefix=f"{line.key}_"))
            return
        path = (*section, f"{line.key} {line.value}".strip())
        if flt.is_root:
            self.out.section_locations.setdefault(path, Location(line.file, line.line))
        self.stack.append(_Frame(flt, path, line))

    def _nested(self, parent: Filter, line: ConfLine) -> Filter:
        kind, argument = line.key, line.value
        if parent is self.invalid:
            return self.invalid
        kinds = [label.split(" ", 1)[0] for label in parent.labels]
        if kind == "protocol" and "protocol" in kinds:
            self.problem(
                line, "Nested protocol { protocol { .. } } block not allowed", "use one protocol block"
            )
            return self.invalid
        for outer in kinds:
            if FILTER_KINDS.index(outer) > FILTER_KINDS.index(kind):
                self.problem(
                    line,
                    f"{outer} {{ {kind} {{ .. }} }} not allowed (use {kind} {{ {outer} {{ .. }} }} instead)",
                    f"nest the blocks in the order local → local_name → remote → protocol: {kind} outside, {outer} inside",
                )
                return self.invalid
        if self.version == "2.4" and kind == "local_name" and len(argument.split()) > 1:
            self.problem(
                line,
                f"Expecting '{{': Dovecot 2.4 takes one name per local_name block, not {quote_line(line.text)}; "
                "Dovecot refuses to start",
                "write one local_name block per name (the same settings in each)",
            )
            return self.invalid
        flt = Filter(
            local=parent.local,
            remote=parent.remote,
            local_name=parent.local_name,
            protocol=parent.protocol,
            unresolved=parent.unresolved,
            location=Location(line.file, line.line),
            labels=(*parent.labels, f"{kind} {argument}".strip()),
        )
        if kind in ("local", "remote"):
            try:
                network = parse_network(argument)
            except ValueError:
                self.problem(
                    line,
                    f"Invalid network mask in {quote_line(line.text)}",
                    "write an address or address/bits",
                )
                return self.invalid
            flt.unresolved = flt.unresolved or network is None
            if kind == "local":
                flt.local = network
            else:
                flt.remote = network
        elif kind == "local_name":
            flt.local_name = argument
        else:
            flt.protocol = argument
        identity = (
            str(flt.local) if flt.local else None,
            str(flt.remote) if flt.remote else None,
            flt.local_name,
            flt.protocol,
            "|".join(flt.labels) if flt.unresolved else None,
        )
        existing = self.by_identity.get(identity)
        if existing is not None:
            return existing
        flt.order = len(self.out.filters)
        self.out.filters.append(flt)
        self.by_identity[identity] = flt
        return flt

    def end(self, line: ConfLine) -> None:
        if not self.stack:
            self.problem(line, "Unexpected '}': no section is open here", "remove the extra '}'")
        else:
            self.stack.pop()

    # -- settings ---------------------------------------------------------------------------------
    def setting(self, line: ConfLine) -> None:
        frame = self.stack[-1] if self.stack else None
        flt = frame.filter if frame else self.root
        if frame is not None and frame.prefix:
            line = replace(line, key=_prefixed(frame.prefix, line.key))
        location = Location(line.file, line.line)
        setting = Setting(line.key, line.value, location, line.file_ref, line.quoted, line.heredoc, line.text)
        if frame is not None and frame.section:
            self._section_setting(flt, frame.section, setting, line)
            return
        if not self._version_rules(line) or flt is self.invalid:
            return
        renamed = self._renamed(line, setting)
        if renamed is None:
            return
        setting = renamed
        if not self._valid(line, setting):
            return
        self_reference = f"${setting.key}" in setting.value.split()
        if "$" in setting.value and not setting.quoted and not setting.file_ref:
            setting.value = self._expand(flt, setting)
            if setting.value.startswith("<"):  # `ssl_cert = $ssl_cert` copies a "<file" value
                setting.value, setting.file_ref = setting.value[1:], True
        key = setting.key
        if key in self.modelled:
            earlier = flt.settings.get(key)
            if earlier is not None and not self_reference:
                self.out.overrides.append((earlier, setting, flt.describe(), False))
            if self.version == "2.3" and flt.is_root and key in self.seen_in_filter:
                self.out.overrides.append((self.seen_in_filter[key], setting, "global", True))
        if not flt.is_root:
            self.seen_in_filter.setdefault(key, setting)
        flt.settings[key] = setting

    def _section_setting(
        self, flt: Filter, section: tuple[str, ...], setting: Setting, line: ConfLine
    ) -> None:
        if self.version == "2.4" and section in _BOOLEAN_LISTS:
            self._boolean_list_item(flt, section[0], setting, line)
            return
        inner = [part.split(" ", 1)[0] for part in section[1:] if part.split(" ", 1)[0] in FILTER_KINDS]
        if inner:
            outer = section[0].split(" ", 1)[0]
            self.problem(
                line,
                f"Unknown setting: {outer} {{ {setting.key} — a {inner[0]} filter cannot stand inside a {outer} section",
                f"move the {inner[0]} block out of the {outer} section",
            )
            return
        if not flt.is_root:
            return
        listener = (
            len(section) == 2
            and section[0].startswith("service ")
            and section[1].startswith("inet_listener ")
        )
        if listener and self.version == "2.4" and setting.key in _CERT_FILE_SETTINGS:
            # Dovecot 2.4.1 starts with it (doveconf -n shows it in the listener) and serves the certificate
            # of the global or filter settings there all the same (tests/dovecot24_order.py, served oracle)
            self.out.problems.append(
                Problem(
                    line.file,
                    line.line,
                    f"{setting.key} inside {' { '.join(section)} }} is accepted but not used: Dovecot serves "
                    "this listener the certificate of the global settings or of a matching local_name, local or "
                    "protocol block",
                    f"move {setting.key} into a `protocol` or `local` block (or `local_name` for SNI), or make "
                    "it global",
                    check="config.overridden",
                    warning=True,
                    refused=False,
                )
            )
        if listener and self.version == "2.4" and setting.key == "address":
            self.problem(
                line,
                "Unknown setting: address — Dovecot 2.4 names an inet_listener's address `listen`; Dovecot does "
                "not start",
                f"replace the address line with `listen = {setting.value}`",
            )
            setting.key = "listen"  # followed as meant, so `local` blocks still apply to the listener
        if listener and setting.key in ("port", "ssl"):
            if setting.key == "port":
                if not (setting.value.isascii() and setting.value.isdigit()) or int(setting.value) > 65535:
                    self.problem(
                        line, f"Invalid port number {setting.value}", "give a port between 0 and 65535"
                    )
                    return
                setting.value = str(int(setting.value))
            else:
                flag = known.parse_bool(setting.value)
                if flag is None:
                    self.problem(
                        line,
                        f"Invalid boolean value: {setting.value} (use yes or no)",
                        "write ssl = yes or ssl = no",
                    )
                    return
                setting.value = "yes" if flag else "no"
            store = self.out.sections.setdefault(section, {})
            if setting.key in store:
                self.out.overrides.append((store[setting.key], setting, " { ".join(section) + " }", False))
        self.out.sections.setdefault(section, {})[setting.key] = setting

    def _boolean_list_item(self, flt: Filter, key: str, item: Setting, line: ConfLine) -> None:
        """2.4's `protocols { imap = yes }`: adds (or with `no` removes) one word of the list setting, which is
        what 2.4's `doveconf -n` prints for `protocols`."""
        flag = known.parse_bool(item.value)
        if flag is None:
            self.problem(
                line,
                f"Invalid boolean value: {item.value} (use yes or no)",
                f"write {item.key} = yes or {item.key} = no inside {key} {{ }}",
            )
            return
        current = flt.settings.get(key)
        words = (current.value if current is not None else self.defaults.get(key, "")).split()
        words = [w for w in words if w != item.key] + ([item.key] if flag else [])
        flt.settings[key] = Setting(key, " ".join(words), item.location, text=item.text)

    def first_directive(self, line: ConfLine) -> None:
        """Dovecot 2.4 wants dovecot_config_version before anything else: a setting, a section or an
        `!include` (doveconf 2.4.1 stops at an include that comes first, even one that matches nothing)."""
        first, self.first_setting = self.first_setting, False
        if self.version == "2.4" and first and line.key != "dovecot_config_version":
            self.problem(
                line,
                "Dovecot 2.4 requires dovecot_config_version as the first setting; without it the 2.3-style "
                "configuration is refused and Dovecot does not start",
                "convert the configuration to 2.4 (see the 2.3-to-2.4 upgrade notes) and start dovecot.conf with "
                "`dovecot_config_version = 2.4.0` and `dovecot_storage_version = 2.4.0`",
            )
        elif self.version == "2.4" and first:
            self.config_version = line

    def _version_rules(self, line: ConfLine) -> bool:
        self.first_directive(line)
        if self.version == "2.3" and line.key == "dovecot_config_version":
            self.problem(
                line,
                "Unknown setting: dovecot_config_version — this is a Dovecot 2.4 configuration but Dovecot 2.3 reads it",
                "install Dovecot 2.4, or use a 2.3 configuration",
            )
            return False
        return True

    def _renamed(self, line: ConfLine, setting: Setting) -> Setting | None:
        key = setting.key
        if self.version == "2.3":
            if key in known.OBSOLETE_23:
                converted = known.min_protocol_from_ssl_protocols(setting.value)
                reads = (
                    f" (Dovecot reads it as ssl_min_protocol = {converted})"
                    if converted
                    else f" (Dovecot cannot convert {setting.value!r}, logs 'Unrecognized protocol' and keeps "
                    "ssl_min_protocol as it is, TLSv1.2 by default)"
                )
                self.problem(
                    line,
                    f"Obsolete setting {key} {known.OBSOLETE_23[key]}{reads if key == 'ssl_protocols' else ''}",
                    f"replace {quote_line(line.text)} with `ssl_min_protocol = TLSv1.2`"
                    if key == "ssl_protocols"
                    else f"remove {key}",
                    warning=True,
                )
                if key != "ssl_protocols" or converted is None:
                    return None
                return Setting("ssl_min_protocol", converted, setting.location, text=setting.text)
            if known.is_tls_name(key) and key not in known.DEFAULTS_23:
                self._unknown(line, key)
                return None
            return setting
        if key in known.RENAMED_24:
            new = known.RENAMED_24[key]
            self.problem(
                line,
                f"Unknown setting: {key} — Dovecot 2.4 renamed it to {new.split()[0]}; Dovecot does not start",
                f"replace the {key} line with `{_fix_24(new, setting)}`",
            )
            if " " in new or new not in known.DEFAULTS_24:
                return None
            # the fix above already gives the plain path a 2.4 *_file setting takes
            plain = setting.file_ref and new.endswith("_file")
            setting = Setting(
                new,
                setting.value,
                setting.location,
                setting.file_ref and not plain,
                setting.quoted,
                setting.heredoc,
                setting.text,
            )
            key = new
        elif known.is_tls_name(key) and key not in known.DEFAULTS_24 and known.suggest(key, "2.4"):
            self._unknown(line, key)
            return None
        if key.endswith("_file") and setting.file_ref and not setting.heredoc:
            self.problem(
                line,
                f"{key} takes a file path in Dovecot 2.4: with '<' the file's contents would be taken as the path",
                f"remove the '<': {key} = {setting.value}",
            )
            setting.file_ref = False
        return setting

    def _unknown(self, line: ConfLine, key: str) -> None:
        close = known.suggest(key, self.version)
        hint = f" (did you mean {close}?)" if close else ""
        self.problem(
            line,
            f"Unknown setting: {key}{hint} — Dovecot refuses to start",
            f"rename it to {close}" if close else f"remove {key} or correct its name",
        )

    def _valid(self, line: ConfLine, setting: Setting) -> bool:
        if setting.key == "ssl" and setting.value not in known.SSL_VALUES:
            self.problem(
                line, f"Invalid value for ssl: {setting.value}", "use ssl = yes, ssl = required or ssl = no"
            )
            return False
        if setting.key in known.BOOLEAN_SETTINGS:
            flag = known.parse_bool(setting.value)
            if flag is None:
                self.problem(
                    line,
                    f"Invalid boolean value: {setting.value} (use yes or no)",
                    f"write {setting.key} = yes or no",
                )
                return False
            setting.value = "yes" if flag else "no"
        return True

    def _expand(self, flt: Filter, setting: Setting) -> str:
        if self.version == "2.4":
            return _SET_VARIABLE.sub(lambda m: self._current(flt, m.group(1)), setting.value)
        parent = self.stack[-2].filter if len(self.stack) >= 2 else self.root
        if flt.is_root:
            parent = self.root
        words = setting.value.split()
        own = f"${setting.key}"
        return " ".join(self._current(parent, setting.key) if w == own else w for w in words)

    def _current(self, flt: Filter, key: str) -> str:
        for scope in (flt, self.root):
            if key in scope.settings:
                return scope.settings[key].shown
        return self.defaults.get(key, "")


def _prefixed(prefix: str, key: str) -> str:
    """A name inside `ssl_server { }` as Dovecot 2.4 resolves it: the prefixed name first, then the bare one."""
    if key.startswith(prefix) or (key in known.DEFAULTS_24 and prefix + key not in known.DEFAULTS_24):
        return key
    return prefix + key


def _fix_24(new: str, setting: Setting) -> str:
    if " " in new:
        return new
    if "password" in new or setting.heredoc:
        return f"{new} = …"
    if new.endswith("_file"):
        return f"{new} = {setting.value}"
    return f"{new} = {setting.shown}"


def build(lines: list[ConfLine], version: str) -> Built:
    builder = _Builder(version)
    for line in lines:
        if line.kind is LineKind.BEGIN:
            builder.begin(line)
        elif line.kind is LineKind.END:
            builder.end(line)
        elif line.kind is LineKind.INCLUDE:
            builder.first_directive(line)
        else:
            builder.setting(line)
    if builder.config_version is not None and "dovecot_storage_version" not in builder.root.settings:
        builder.problem(
            builder.config_version,
            "dovecot_storage_version setting must be set: Dovecot 2.4 does not start without it",
            "add `dovecot_storage_version = 2.4.0` after dovecot_config_version (the oldest Dovecot version "
            "whose storage format this host's mail may be written in)",
        )
    for frame in builder.stack:
        builder.problem(
            frame.begin,
            f"Missing '}}' (section {quote_line(frame.begin.text)} is never closed) — Dovecot refuses to start",
            "add the closing '}'",
        )
    return builder.out
