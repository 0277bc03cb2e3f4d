"""The `mailcert` console script: Fabric's Program with mailcert's task collection and SPEC's exit codes."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import yaml
from fabric import Config, Executor
from fabric.main import Fab
from invoke.exceptions import Exit, ParseError, UnexpectedExit
from invoke.parser.argument import Argument

from mailcert import __version__
from mailcert.errors import MailcertError
from mailcert.tasks import namespace, run_state, variadic_argv

# Invoke reads config files with its vendored PyYAML when it has one: catch that one's errors too.
_YAML_ERRORS: tuple[type[Exception], ...] = (
    yaml.YAMLError,
    importlib.import_module("invoke.util").yaml.YAMLError,
)


class MailcertConfig(Config):  # type: ignore[misc]
    """Config files /etc/mailcert.yaml, ~/.mailcert.yaml and MAILCERT_* environment variables."""

    prefix = "mailcert"


class MailcertProgram(Fab):  # type: ignore[misc]
    """Fab with SPEC's exit codes: usage errors are 3, a run ends with the worst status of what it checked."""

    def run(self, argv: list[str] | str | None = None, exit: bool = True) -> None:
        run_state().reset()
        code = 0
        try:
            self.create_config()
            self.parse_core(variadic_argv(self.normalize_argv_list(argv)))
            self.parse_collection()
            self.parse_tasks()
            self.parse_cleanup()
            self.update_config()
            self.execute()
            code = run_state().exit_code
        except ParseError as exc:
            print(f"mailcert: {exc} — see `mailcert --help` or `mailcert TASK --help`", file=sys.stderr)
            code = 3
        except Exit as exc:
            if exc.message:
                print(exc.message, file=sys.stderr)
            code = exc.code
        except UnexpectedExit as exc:
            print(
                f"mailcert: command failed: {exc.result.command!r} exited {exc.result.exited}",
                file=sys.stderr,
            )
            code = 3
        except MailcertError as exc:
            print(f"mailcert: {exc.line()}", file=sys.stderr)
            code = 3
        except KeyboardInterrupt:
            print("mailcert: interrupted", file=sys.stderr)
            code = 130
        except OSError as exc:  # e.g. an unreadable ~/.mailcert.yaml or output folder
            where = f" {exc.filename}" if exc.filename else ""
            print(f"mailcert: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
            code = 3
        except _YAML_ERRORS as exc:  # ~/.mailcert.yaml, /etc/mailcert.yaml, -f FILE
            mark = getattr(exc, "problem_mark", None)
            where = f"{mark.name}:{mark.line + 1}: " if mark is not None else ""
            print(
                f"mailcert: {where}configuration file is not valid YAML — fix or remove it", file=sys.stderr
            )
            code = 3
        except Exception as exc:
            if os.environ.get("MAILCERT_DEBUG"):
                raise
            print(
                f"mailcert: internal error ({type(exc).__name__}: {exc}) — a bug in mailcert; "
                "run again with MAILCERT_DEBUG=1 to see where, and report it",
                file=sys.stderr,
            )
            code = 3
        if exit:
            sys.exit(code)

    def core_args(self) -> list[Argument]:
        inventory = Argument(
            names=("inventory", "I"),
            help="inventory file or folder for audit/fix/verify (default ./inventory); also `TASK -I PATH`",
        )
        return [*super().core_args(), inventory]

    def update_config(self) -> None:
        super().update_config()
        if self.args.inventory.value:
            self.config._overrides["inventory"] = self.args.inventory.value
            self.config.merge()

    def normalize_argv_list(self, argv: list[str] | str | None) -> list[str]:
        if argv is None:
            return list(sys.argv)
        if isinstance(argv, str):
            return argv.split()
        return list(argv)

    def execute(self) -> None:
        # Invoke builds a Config per call; tasks share state through run_state(), not config attributes.
        super().execute()


def build_program() -> MailcertProgram:
    return MailcertProgram(
        name="mailcert",
        binary="mailcert",
        binary_names=["mailcert"],
        version=__version__,
        namespace=namespace(),
        executor_class=Executor,
        config_class=MailcertConfig,
    )


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    return build_program().run(argv)
