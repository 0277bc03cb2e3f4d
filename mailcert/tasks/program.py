"""Fabric's Program with mailcert's task collection and SPEC's exit codes: every command that
mailcert.tasks.direct does not run by itself."""

from __future__ import annotations

import importlib
import sys

import yaml
from fabric import Config, Executor
from fabric.main import Fab
from invoke.exceptions import Exit, ParseError, UnexpectedExit
from invoke.parser.argument import Argument

from mailcert import __version__
from mailcert.tasks import namespace, run_state, variadic_argv
from mailcert.tasks.direct import failure_code

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
        except _YAML_ERRORS as exc:  # ~/.mailcert.yaml, /etc/mailcert.yaml, -f FILE
            mark = getattr(exc, "problem_mark", None)
            where = f"{mark.name}:{mark.line + 1}: " if mark is not None else ""
            print(
                f"mailcert: {where}configuration file is not valid YAML — fix or remove it", file=sys.stderr
            )
            code = 3
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 — as mailcert.tasks.direct says it
            code = failure_code(exc)
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
