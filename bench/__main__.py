"""`python -m bench [--quick] [lint|startup|probe|audit|gather ...]` (`make bench`: all of them).

Prints one Markdown document (a table per section) and, for a full run, saves it as bench/RESULTS.md and
the same data as bench/RESULTS.json, each section as soon as it is measured (sections not run this time are
kept from the saved files, with their own date). `--quick` is a short run (fewer rounds and endpoints) that
is printed only, never saved.
"""

from __future__ import annotations

import argparse
import compileall
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import gather_bench, lint_bench, probe_bench, results, startup_bench

Section = Callable[[bool], tuple[str, dict[str, Any]]]
ORDER = ["lint", "startup", "probe", "audit", "gather"]


def _audit(quick: bool) -> tuple[str, dict[str, Any]]:
    # Imported here: bench/audit_bench.py is reworked separately; a broken or unfinished one must not stop
    # the other sections.
    try:
        from bench import audit_bench
    except Exception as exc:  # noqa: BLE001 - any import failure means "audit not measurable now"
        raise probe_bench.BenchError(f"bench/audit_bench.py does not import: {exc}") from None
    run = getattr(audit_bench, "section", None)
    if run is None:
        raise probe_bench.BenchError("bench/audit_bench.py has no section() yet: audit scale not measured")
    text, data = run(quick=quick)
    return str(text), dict(data)


SECTIONS: dict[str, Section] = {
    "lint": lint_bench.section,
    "startup": startup_bench.section,
    "probe": probe_bench.section,
    "audit": _audit,
    "gather": gather_bench.section,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n")[0] if __doc__ else ""
    )
    parser.add_argument(
        "sections", nargs="*", metavar="SECTION", help=f"any of {', '.join(ORDER)} (default: all)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run, printed only (RESULTS.* untouched)"
    )
    args = parser.parse_args(argv)
    names = args.sections or ORDER
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(ORDER)}", file=sys.stderr)
        return 3
    # Byte-compiled first: with PYTHONDONTWRITEBYTECODE set (or a read-only checkout) every fresh `mailcert`
    # process would compile its modules again, about 70 ms of each lint run, which an installed package never
    # pays (pip compiles at install time).
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "mailcert", quiet=1)
    desc = results.machine()
    measured: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name in names:
        print(f"bench: running {name}{' (quick)' if args.quick else ''} …", file=sys.stderr, flush=True)
        try:
            text, data = SECTIONS[name](args.quick)
        except probe_bench.BenchError as exc:
            failed[name] = str(exc)
            print(f"bench {name}: {exc}", file=sys.stderr)
            continue
        measured[name] = {"markdown": text, "data": data, "machine": desc}
        if not args.quick:  # saved at once: a later section that fails or hangs cannot lose this one
            results.save({name: measured[name]}, desc, ORDER)
    if args.quick or not measured:
        shown = dict(measured)
        for name, why in failed.items():
            shown[name] = {
                "markdown": f"## {name}\n\nnot measured: {why}\n",
                "data": {"error": why},
                "machine": desc,
            }
        print(results.document(shown, desc, [n for n in ORDER if n in shown]))
    else:
        for name, why in failed.items():
            if name not in results.load().get("sections", {}):
                measured[name] = {
                    "markdown": f"## {name}\n\nnot measured: {why}\n",
                    "data": {"error": why},
                    "machine": desc,
                }
        print(results.save(measured, desc, ORDER))
        print(f"bench: wrote {results.RESULTS_MD} and {results.RESULTS_JSON}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
