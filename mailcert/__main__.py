"""`python -m mailcert ...` = the `mailcert` console script (for benchmarks and tests)."""

from mailcert.cli import main

if __name__ == "__main__":
    main()
