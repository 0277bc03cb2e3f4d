"""Dovecot 2.3 and 2.4 configuration, as doveconf reads it."""
