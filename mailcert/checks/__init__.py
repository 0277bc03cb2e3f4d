"""Checks: pure functions from facts and parsed configuration to findings."""
