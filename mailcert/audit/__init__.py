"""One host's audit and the domains' DNS endpoints: the stage `fix` and `verify` build on."""

DEFAULT_FORKS = 10
"""Hosts audited at once unless --forks says otherwise (here, not in fleet.py: the tasks' help shows it
without importing the audit)."""
