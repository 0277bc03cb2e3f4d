"""Exim list syntax: `a : b`, `::` for a literal colon, `<X` to change the separator; interface ports."""

from __future__ import annotations

import ipaddress
import re


def exim_list(value: str) -> list[str]:
    """Items of an Exim list: `:`-separated (`::` is a literal colon) or `<X`-prefixed with separator X."""
    text = value.strip()
    separator = ":"
    if text.startswith("<") and len(text) > 1 and not text[1].isalnum() and not text[1].isspace():
        separator, text = text[1], text[2:]
    placeholder = "\x00"
    text = text.replace(separator * 2, placeholder)
    return [item.strip().replace(placeholder, separator) for item in text.split(separator) if item.strip()]


def interface_port(item: str) -> tuple[str, int | None]:
    """An interface of local_interfaces and its own port: `1.2.3.4.465`, `::1.465`, `[::1]:465` or none."""
    bracketed = re.fullmatch(r"\[([^\]]+)\]:(\d+)", item)
    if bracketed:
        return bracketed.group(1), int(bracketed.group(2))
    address, dot, port = item.rpartition(".")
    if dot and port.isdigit():
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return item, None
        return address, int(port)
    return item, None
