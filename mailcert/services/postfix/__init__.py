"""Postfix: main.cf and master.cf, as postconf reads them."""
