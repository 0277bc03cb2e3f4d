"""What the `mailcert` console script decides before importing anything else (issue 23): `mailcert --version`
as Fabric's Program prints it, and whether a config file may change the command (then the Invoke program
runs, so that a broken file is reported as before; mailcert.tasks.direct asks the same).

Only `os` and `sys` are imported here (both loaded with the interpreter): pathlib, re or importlib.metadata
would cost more than the whole answer.
"""

from __future__ import annotations

import os
import sys

# Invoke's config files (prefix "mailcert"), and MAILCERT_CONFIG naming one.
CONFIG_FILES = tuple(f"/etc/mailcert.{ext}" for ext in ("yaml", "yml", "json", "py"))
USER_CONFIG_FILES = tuple(f"~/.mailcert.{ext}" for ext in ("yaml", "yml", "json", "py"))

_VERSION_FLAGS = (["--version"], ["-V"])


def config_file_present() -> bool:
    if os.environ.get("MAILCERT_CONFIG"):
        return True
    paths = [*CONFIG_FILES, *(os.path.expanduser(p) for p in USER_CONFIG_FILES)]  # noqa: PTH111
    return any(os.path.exists(path) for path in paths)  # noqa: PTH110


def run_version(argv: list[str]) -> int | None:
    """Print the version and return 0 for `mailcert --version` / `mailcert -V` alone; None for any other
    command line, with a config file present, or when a version is not where expected."""
    if argv[1:] not in _VERSION_FLAGS or config_file_present():
        return None
    text = version_text()
    if text is None:
        return None
    sys.stdout.write(text)
    return 0


def version_text() -> str | None:
    """Fabric's Program.print_version: mailcert's, Paramiko's and Invoke's version, one a line; read from
    the installed files instead of imported (importing paramiko takes a tenth of a second)."""
    from mailcert import __version__

    paramiko, invoke = distribution_version("paramiko"), invoke_version()
    if paramiko is None or invoke is None:
        return None
    return f"mailcert {__version__}\nParamiko {paramiko}\nInvoke {invoke}\n"


def distribution_version(name: str) -> str | None:
    """importlib.metadata.version(name), which paramiko.__version__ is, without importing importlib.metadata
    (tens of milliseconds): the Version of the first NAME-*.dist-info on sys.path. None for anything else
    (an egg, a zip on sys.path, two of them in one folder): the caller then leaves it to the real thing."""
    wanted = _normalized(name)
    for entry in sys.path:
        folder = entry or "."  # "" is the current folder
        try:
            children = os.listdir(folder)  # noqa: PTH208
        except NotADirectoryError:
            return None  # a zip archive: importlib.metadata looks inside, this does not
        except OSError:
            continue
        found = [child for child in children if _distribution_name(child) == wanted]
        if not found:
            continue
        if len(found) > 1 or not found[0].lower().endswith(".dist-info"):
            return None
        try:
            with open(os.path.join(folder, found[0], "METADATA"), encoding="utf-8") as metadata:  # noqa: PTH118, PTH123
                for line in metadata:
                    if not line.strip():
                        break  # the end of the headers
                    key, _, value = line.partition(":")
                    if key == "Version":
                        return value.strip()
        except OSError:
            return None
        return None
    return None


def _distribution_name(child: str) -> str | None:
    """The normalised project name of a NAME-VERSION.dist-info or .egg-info entry (importlib.metadata's
    Lookup and Prepared.normalize), None for other entries."""
    low = child.lower()
    if not low.endswith((".dist-info", ".egg-info")):
        return None
    return _normalized(low.rpartition(".")[0].partition("-")[0])


def _normalized(name: str) -> str:
    """PEP 503's normalisation, `re.sub(r"[-_.]+", "-", name).lower()`, with "_" for "-" (importlib.metadata's)."""
    spelled = name.lower().replace(".", "-").replace("_", "-")
    while "--" in spelled:
        spelled = spelled.replace("--", "-")
    return spelled.replace("-", "_")


def invoke_version() -> str | None:
    """invoke.__version__ from invoke/_version.py, found as the import system finds it, not imported."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("invoke")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not folders:
        return None
    try:
        with open(os.path.join(folders[0], "_version.py"), encoding="utf-8") as source:  # noqa: PTH118, PTH123
            lines = source.read().splitlines()
    except OSError:
        return None
    # Invoke 2's file, exactly: the version is the tuple, joined with dots.
    if '__version__ = ".".join(map(str, __version_info__))' not in lines:
        return None
    prefix = "__version_info__ = ("
    info = [line[len(prefix) : -1] for line in lines if line.startswith(prefix) and line.endswith(")")]
    parts = [part.strip() for part in info[0].split(",")] if len(info) == 1 else []
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return ".".join(str(int(part)) for part in parts)
