"""Benchmarks (`make bench`): measured, never asserted; each prints its numbers and ratios."""
