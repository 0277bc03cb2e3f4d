"""`mailcert report merge REPORT.json...`: one report, one Prometheus file and one exit code from the JSON
reports of several runs (the shards of a fleet run as N jobs: `audit|verify --shard K/N --format json`).

The reading is report/json_read.py, the merging rules report/merge.py; this task only wires the options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailcert.tasks.declare import task
from mailcert.tasks.options import FORMAT_HELP, emit, wants_color
from mailcert.tasks.state import run_state

# The stages are imported inside the functions that use them: `mailcert TASK --help` and the start of a
# command import only these declarations (issue 23).
if TYPE_CHECKING:
    from invoke.context import Context

SUBCOMMANDS = ("merge",)


def report_argv(argv: list[str]) -> list[str]:
    """SPEC's `report merge` in Invoke's terms: `report.merge` (as `lab up` is `lab.up`)."""
    out = list(argv)
    for index, word in enumerate(out):
        following = out[index + 1] if index + 1 < len(out) else None
        if word == "report" and following in SUBCOMMANDS:
            out[index : index + 2] = [f"report.{following}"]
            break
        if word == "report" and following in (None, "-h", "--help"):
            out[index:] = ["--list"]  # `mailcert report` alone: show its commands with the others
            break
    return out


@task(
    iterable=("report",),
    help={
        "report": "a JSON report (`audit|verify|fix --format json`); give several, as plain arguments",
        "format": FORMAT_HELP,
        "output": "write the merged report to this file instead of standard output",
        "prometheus": "also write the merged node_exporter textfile (FILE.prom), atomically",
    },
)
def merge(
    c: Context,
    report: list[str] | None = None,
    format: str = "text",
    output: str | None = None,
    prometheus: str | None = None,
) -> None:
    """Merge the JSON reports of several runs (e.g. shards) into one report and one exit code; hosts sorted by
    name, a host in two reports refused, times the earliest of the inputs'."""
    from mailcert.report import check_format, render
    from mailcert.report.json_read import load_report
    from mailcert.report.merge import merge_reports
    from mailcert.report.prometheus import write_prometheus

    fmt = check_format(format)
    merged = merge_reports([(path, load_report(path)) for path in report or ()])
    if prometheus is not None:
        write_prometheus(prometheus, merged)
    emit(render(merged, fmt, color=wants_color(output)), output)
    run_state().record("report merge", merged)


__all__ = ["merge", "report_argv"]
