"""mailcert: find and fix the server-side causes of mail-client certificate errors."""

__version__ = "0.1.0"
