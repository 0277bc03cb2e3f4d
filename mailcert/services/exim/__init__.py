"""Exim: the runtime configuration (and Debian's split config), as exim -bP reads it."""
