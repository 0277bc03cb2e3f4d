"""Run every benchmark: `python -m bench [NAME...]`."""

from __future__ import annotations

import sys

from bench import audit_bench, lint_bench, probe_bench

BENCHES = {"lint": lint_bench.main, "probe": probe_bench.main, "audit": audit_bench.main}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 3
        BENCHES[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
